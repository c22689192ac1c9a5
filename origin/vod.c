/*
 * vod.c -- uploads, the map and reduce steps, the workers' HTTP API and
 * seek/frames (vod.h, docs/vod.md).
 *
 * Uploads are written to work/source.part as the body arrives (never held)
 * and renamed to work/source when complete. The manager thread polls the
 * store: an "uploaded" video is mapped (ffprobe, pkg_index_file, the scene
 * pass, vod_plan_chunks, an ffmpeg stream-copy split into chunk files) and
 * its jobs queued; a "transcoding" one is checked; when every job is done
 * it is reduced into manifests. Results come in from workers over HTTP,
 * each file written to a temporary and renamed, so a retried job just
 * overwrites the same names with the same bytes.
 *
 * Owned: the store, the manager thread, the local worker processes.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <jansson.h>

#include "vod.h"
#include "err.h"
#include "httpd.h"
#include "log.h"
#include "mem.h"
#include "media/buf.h"
#include "media/ladder.h"
#include "media/model.h"
#include "origin_http.h"
#include "pkg.h"
#include "vod_int.h"
#include "vod_jobs.h"
#include "vod_multipart.h"
#include "vod_plan.h"
#include "vod_upload.h"
#include "compat.h"

#define VOD_WORKERS_MAX 32
#define VOD_SMALL_BODY (64u << 10)

struct vod {
    unsigned magic;
#define VOD_MAGIC 0x766f6420U
    struct vod_conf c; /* strings below are owned copies */
    char *data_dir;    /* owned */
    char *http_url;    /* owned */
    char *worker_key;  /* owned; "" = workers are not checked */
    struct ladder ladder;
    struct vod_db *db; /* owned */
    struct vod_queue_params qp;
    pthread_t thread;
    pthread_mutex_t mtx;
    pthread_cond_t cond;
    bool stop;
    bool running;
    pid_t pids[VOD_WORKERS_MAX]; /* local workers; 0 = not running */
};

/* The one instance, for vod_body_cap() (httpd's hook has no argument). */
static struct vod *vod_the;

int
vod_fmt(char *out, size_t outsz, const char *fmt, ...)
{
    va_list ap;
    int w;

    va_start(ap, fmt);
    w = vsnprintf(out, outsz, fmt, ap);
    va_end(ap);
    return w < 0 || (size_t)w >= outsz ? ERR_LIMIT : w;
}

uint64_t
vod_now_ms(void)
{
    struct timespec ts;

    AZ(clock_gettime(CLOCK_REALTIME, &ts));
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int
vod_mkdirs(const char *path)
{
    char tmp[VOD_PATH_MAX];
    size_t n = strlen(path);

    if (n >= sizeof(tmp))
        return ERR_LIMIT;
    memcpy(tmp, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (tmp[i] == '/' || tmp[i] == '\0') {
            char c = tmp[i];

            tmp[i] = '\0';
            if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
                return -errno;
            tmp[i] = c;
        }
    }
    return 0;
}

int
vod_write_file(const char *path, const void *p, size_t len)
{
    char tmp[VOD_PATH_MAX];
    const char *s = p;
    int fd, rc = 0;

    if (snprintf(tmp, sizeof(tmp), "%s.tmp%d", path, (int)getpid()) >= (int)sizeof(tmp))
        return ERR_LIMIT;
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return -errno;
    while (len > 0) {
        ssize_t w = write(fd, s, len);

        if (w < 0) {
            if (errno == EINTR)
                continue;
            rc = -errno;
            break;
        }
        s += w;
        len -= (size_t)w;
    }
    if (close(fd) != 0 && rc == 0)
        rc = -errno;
    if (rc == 0 && rename(tmp, path) != 0)
        rc = -errno;
    if (rc != 0)
        (void)unlink(tmp);
    return rc;
}

/* ---- small helpers ---- */

static bool
vod_id_ok(const char *s, size_t n)
{
    return n > 0 && n <= 40 && origin_http_name_ok(s, n);
}

static void
vod_send_json(struct httpd_req *r, int status, json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT);

    origin_http_cors(r);
    if (httpd_resp_header(r, "Cache-Control", "no-store") != 0)
        XXX_HANDLE(0);
    if (s == NULL) {
        httpd_resp_error(r, 500, "internal", "could not encode the answer");
        return;
    }
    httpd_resp_send(r, status, "application/json", s, strlen(s));
    free(s); /* jansson's allocator */
}

static void
vod_error(struct httpd_req *r, int status, const char *code, const char *msg)
{
    origin_http_cors(r);
    httpd_resp_error(r, status, code, msg);
}

static const char *
vod_jstr(json_t *j, const char *k)
{
    const char *s = json_string_value(json_object_get(j, k));

    return s != NULL ? s : "";
}

static int64_t
vod_jint(json_t *j, const char *k)
{
    return (int64_t)json_integer_value(json_object_get(j, k));
}

static void
vod_jset_str(json_t *j, const char *k, const char *v)
{
    AZ(json_object_set_new(j, k, json_string(v)));
}

static void
vod_jset_int(json_t *j, const char *k, int64_t v)
{
    AZ(json_object_set_new(j, k, json_integer((json_int_t)v)));
}

static int
vod_video_dir(const struct vod *v, const char *id, const char *sub, char *out, size_t outsz)
{
    int w = snprintf(out, outsz, "%s/vod/%s%s%s", v->data_dir, id, sub[0] ? "/" : "", sub);

    return w < 0 || (size_t)w >= outsz ? ERR_LIMIT : 0;
}

/* Sets a video's status (and reason); wakes nobody. */
static void
vod_set_status(struct vod *v, const char *id, const char *status, const char *reason)
{
    char key[80];
    json_t *rec;

    (void)vod_fmt(key, sizeof(key), "v:%s", id);
    if (vod_db_get(v->db, key, &rec) != 0)
        return;
    vod_jset_str(rec, "status", status);
    if (reason != NULL)
        vod_jset_str(rec, "reason", reason);
    vod_jset_int(rec, "updated_ms", (int64_t)vod_now_ms());
    if (vod_db_put(v->db, key, rec) != 0)
        LOG(LOG_ERR, "vod", "status_write_failed", "conn=0 video=%s", id);
    json_decref(rec);
    LOG(LOG_INFO, "vod", "status", "conn=0 video=%s status=%s reason=\"%s\"", id, status,
        reason != NULL ? reason : "");
}

static void
vod_wake(struct vod *v)
{
    AZ(pthread_mutex_lock(&v->mtx));
    AZ(pthread_cond_signal(&v->cond));
    AZ(pthread_mutex_unlock(&v->mtx));
}

/* ---- upload ---- */

struct vod_upload {
    unsigned magic;
#define VOD_UPLOAD_MAGIC 0x766f6475U
    struct vod *v;
    char id[VOD_ID_LEN + 1];
    char part[VOD_PATH_MAX]; /* work/source.part */
    int fd;
    bool multipart;
    struct vod_mp mp;
    uint64_t bytes;
    int err; /* first failure */
};

/* Writes all of p (len bytes) to fd; 0, or -errno. Adds what it wrote to *bytes (may be NULL). */
static int
vod_write_all(int fd, const void *data, size_t len, uint64_t *bytes)
{
    const char *p = data;

    while (len > 0) {
        ssize_t w = write(fd, p, len);

        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        p += w;
        len -= (size_t)w;
        if (bytes != NULL)
            *bytes += (uint64_t)w;
    }
    return 0;
}

static void
vod_upload_write(void *arg, const uint8_t *p, size_t len)
{
    struct vod_upload *u = arg;

    if (u->err == 0)
        u->err = vod_write_all(u->fd, p, len, &u->bytes);
}

static void
vod_upload_data(struct httpd_req *r, const void *data, size_t len, void *arg)
{
    struct vod_upload *u;
    long rc;

    (void)r;
    CAST_OBJ_NOTNULL(u, arg, VOD_UPLOAD_MAGIC);
    if (u->err != 0)
        return;
    if (!u->multipart) {
        vod_upload_write(u, data, len);
        return;
    }
    rc = vod_mp_feed(&u->mp, data, len, vod_upload_write, u);
    if (rc < 0 && u->err == 0)
        u->err = (int)rc;
}

static void
vod_upload_free(struct vod_upload *u, bool keep)
{
    if (u->fd >= 0)
        (void)close(u->fd);
    if (!keep)
        (void)unlink(u->part);
    FREE_OBJ(u);
}

static void
vod_upload_end(struct httpd_req *r, int err, void *arg)
{
    struct vod_upload *u;
    char src[VOD_PATH_MAX], key[80], url[96];
    json_t *rec;
    int rc;

    CAST_OBJ_NOTNULL(u, arg, VOD_UPLOAD_MAGIC);
    if (err == ERR_CLOSED || err == ERR_TIMEOUT) {
        LOG(LOG_INFO, "vod", "upload_aborted", "conn=%" PRIu64 " video=%s err=%s",
            httpd_req_conn_id(r), u->id, err_name(err));
        vod_upload_free(u, false);
        return; /* httpd answers 408 or nobody listens */
    }
    if (err == ERR_LIMIT) {
        vod_upload_free(u, false);
        vod_error(r, 413, "too_large", "the upload is larger than vod.max_upload");
        return;
    }
    if (err == 0 && u->err == 0 && u->multipart && !vod_mp_done(&u->mp))
        u->err = ERR_PROTO;
    if (err != 0 || u->err != 0) {
        rc = err != 0 ? err : u->err;
        vod_upload_free(u, false);
        vod_error(r, rc == ERR_PROTO ? 400 : 500, rc == ERR_PROTO ? "bad_body" : "write_failed",
                  rc == ERR_PROTO ? "the multipart body has no complete file part"
                                  : "the upload could not be stored");
        return;
    }
    (void)vod_fmt(src, sizeof(src), "%.*s/source", (int)(strlen(u->part) - 12), u->part);
    if (close(u->fd) != 0 || rename(u->part, src) != 0) {
        u->fd = -1;
        vod_upload_free(u, false);
        vod_error(r, 500, "write_failed", "the upload could not be stored");
        return;
    }
    u->fd = -1;
    rec = json_object();
    vod_jset_str(rec, "id", u->id);
    vod_jset_str(rec, "status", "uploaded");
    vod_jset_int(rec, "size", (int64_t)u->bytes);
    vod_jset_int(rec, "created_ms", (int64_t)vod_now_ms());
    (void)vod_fmt(key, sizeof(key), "v:%s", u->id);
    rc = vod_db_put(u->v->db, key, rec);
    if (rc != 0) {
        json_decref(rec);
        vod_upload_free(u, true);
        vod_error(r, 503, "store_failed", "the video could not be recorded");
        return;
    }
    LOG(LOG_INFO, "vod", "uploaded", "conn=%" PRIu64 " video=%s bytes=%" PRIu64,
        httpd_req_conn_id(r), u->id, u->bytes);
    (void)vod_fmt(url, sizeof(url), "/api/videos/%s", u->id);
    vod_jset_str(rec, "url", url);
    if (httpd_resp_header(r, "Location", url) != 0)
        XXX_HANDLE(0);
    vod_wake(u->v);
    vod_upload_free(u, true);
    vod_send_json(r, 201, rec);
    json_decref(rec);
}

/* A new video id: 12 random hex digits. */
static int
vod_new_id(char out[VOD_ID_LEN + 1])
{
    uint8_t rnd[VOD_ID_LEN / 2];

    if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
        return ERR_AGAIN;
    for (size_t i = 0; i < sizeof(rnd); i++)
        (void)vod_fmt(out + 2 * i, 3, "%02x", rnd[i]);
    return 0;
}

static void vod_resumable_create(struct vod *v, struct httpd_req *r, const char *length);

static void
vod_upload_start(struct vod *v, struct httpd_req *r)
{
    struct vod_upload *u;
    const char *ct = httpd_req_header(r, "Content-Type");
    const char *ulen = httpd_req_header(r, "Upload-Length");
    char dir[VOD_PATH_MAX];

    if (ulen != NULL) {
        vod_resumable_create(v, r, ulen);
        return;
    }
    u = xcalloc(1, sizeof(*u));
    u->magic = VOD_UPLOAD_MAGIC;
    u->v = v;
    u->fd = -1;
    if (ct != NULL && strncasecmp(ct, "multipart/", 10) == 0) {
        if (vod_mp_init(&u->mp, ct) != 0) {
            FREE_OBJ(u);
            vod_error(r, 400, "bad_content_type", "multipart/form-data needs a valid boundary");
            return;
        }
        u->multipart = true;
    }
    if (vod_new_id(u->id) != 0) {
        FREE_OBJ(u);
        vod_error(r, 503, "no_entropy", "could not make an id");
        return;
    }
    if (vod_video_dir(v, u->id, "work", dir, sizeof(dir)) != 0 || vod_mkdirs(dir) != 0 ||
        snprintf(u->part, sizeof(u->part), "%s/source.part", dir) >= (int)sizeof(u->part)) {
        FREE_OBJ(u);
        vod_error(r, 500, "write_failed", "the upload could not be stored");
        return;
    }
    u->fd = open(u->part, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (u->fd < 0) {
        FREE_OBJ(u);
        vod_error(r, 500, "write_failed", "the upload could not be stored");
        return;
    }
    httpd_req_read_body(r, vod_upload_data, vod_upload_end, u);
}

/* ---- resumable uploads (docs/vod.md "Resumable uploads") ---- */

#define VOD_TUS_VERSION "1.0.0"

/* The fields every answer about an upload resource carries. */
static void
vod_resumable_fields(struct httpd_req *r, uint64_t offset, uint64_t length)
{
    char n[24];

    httpd_resp_set(r, "Tus-Resumable", VOD_TUS_VERSION);
    (void)vod_fmt(n, sizeof(n), "%" PRIu64, offset);
    httpd_resp_set(r, "Upload-Offset", n);
    (void)vod_fmt(n, sizeof(n), "%" PRIu64, length);
    httpd_resp_set(r, "Upload-Length", n);
}

/* Those, with CORS and no-store, for answers not sent by vod_send_json(). */
static void
vod_resumable_headers(struct httpd_req *r, uint64_t offset, uint64_t length)
{
    origin_http_cors(r);
    httpd_resp_set(r, "Cache-Control", "no-store");
    vod_resumable_fields(r, offset, length);
}

/* An error about an upload resource, with where its bytes end. */
static void
vod_resumable_error(struct httpd_req *r, int status, const char *code, const char *msg,
                    uint64_t offset, uint64_t length)
{
    json_t *e = json_object(), *o = json_object();
    char *s;

    vod_jset_str(e, "code", code);
    vod_jset_str(e, "message", msg);
    vod_jset_int(e, "upload_offset", (int64_t)offset);
    vod_jset_int(e, "upload_length", (int64_t)length);
    AZ(json_object_set_new(o, "error", e));
    vod_resumable_headers(r, offset, length);
    s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (s == NULL) {
        httpd_resp_error(r, 500, "internal", "could not encode the answer");
        return;
    }
    httpd_resp_send(r, status, "application/json", s, strlen(s));
    free(s); /* jansson's allocator */
}

/* POST /api/videos with Upload-Length: an empty upload resource. */
static void
vod_resumable_create(struct vod *v, struct httpd_req *r, const char *length)
{
    char id[VOD_ID_LEN + 1], dir[VOD_PATH_MAX], part[VOD_PATH_MAX], key[80], url[96];
    uint64_t len;
    json_t *rec;
    int fd, rc;

    rc = vod_upload_num(length, &len);
    if (rc == ERR_LIMIT || (rc == 0 && len > v->c.max_upload)) {
        vod_error(r, 413, "too_large", "Upload-Length is larger than vod.max_upload");
        return;
    }
    if (rc != 0 || len == 0) {
        vod_error(r, 400, "bad_length", "Upload-Length must be a positive integer");
        return;
    }
    if (vod_new_id(id) != 0) {
        vod_error(r, 503, "no_entropy", "could not make an id");
        return;
    }
    if (vod_video_dir(v, id, "work", dir, sizeof(dir)) != 0 || vod_mkdirs(dir) != 0 ||
        vod_fmt(part, sizeof(part), "%s/source.part", dir) < 0) {
        vod_error(r, 500, "write_failed", "the upload could not be stored");
        return;
    }
    fd = open(part, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0 || fsync(fd) != 0) {
        if (fd >= 0)
            (void)close(fd);
        vod_error(r, 500, "write_failed", "the upload could not be stored");
        return;
    }
    (void)close(fd);
    rec = json_object();
    vod_jset_str(rec, "id", id);
    vod_jset_str(rec, "status", "uploading");
    vod_jset_int(rec, "upload_length", (int64_t)len);
    vod_jset_int(rec, "created_ms", (int64_t)vod_now_ms());
    (void)vod_fmt(key, sizeof(key), "v:%s", id);
    rc = vod_db_put(v->db, key, rec);
    if (rc != 0) {
        json_decref(rec);
        (void)unlink(part);
        vod_error(r, 503, "store_failed", "the video could not be recorded");
        return;
    }
    LOG(LOG_INFO, "vod", "upload_created", "conn=%" PRIu64 " video=%s length=%" PRIu64,
        httpd_req_conn_id(r), id, len);
    (void)vod_fmt(url, sizeof(url), "/api/videos/%s/upload", id);
    vod_jset_str(rec, "upload_url", url);
    vod_jset_int(rec, "upload_offset", 0);
    httpd_resp_set(r, "Location", url);
    (void)vod_fmt(url, sizeof(url), "/api/videos/%s", id);
    vod_jset_str(rec, "url", url);
    vod_resumable_headers(r, 0, len);
    {
        char *js = json_dumps(rec, JSON_COMPACT);

        json_decref(rec);
        if (js == NULL) {
            httpd_resp_error(r, 500, "internal", "could not encode the answer");
            return;
        }
        httpd_resp_send(r, 201, "application/json", js, strlen(js));
        free(js); /* jansson's allocator */
    }
}

/*
 * An upload's record and where its stored bytes end: 0, ERR_NOTFOUND (no
 * such video, or not a resumable one), ERR_EXISTS (no longer uploading:
 * *have is its length).
 */
static int
vod_resumable_state(struct vod *v, const char *id, uint64_t *have, uint64_t *length)
{
    char key[80], part[VOD_PATH_MAX];
    struct stat st;
    json_t *rec;
    int rc;

    (void)vod_fmt(key, sizeof(key), "v:%s", id);
    if (vod_db_get(v->db, key, &rec) != 0)
        return ERR_NOTFOUND;
    if (json_object_get(rec, "upload_length") == NULL) {
        json_decref(rec);
        return ERR_NOTFOUND;
    }
    *length = (uint64_t)vod_jint(rec, "upload_length");
    *have = *length;
    rc = strcmp(vod_jstr(rec, "status"), "uploading") == 0 ? 0 : ERR_EXISTS;
    json_decref(rec);
    if (rc != 0)
        return rc;
    if (vod_video_dir(v, id, "work/source.part", part, sizeof(part)) != 0 || stat(part, &st) != 0)
        return ERR_EXISTS; /* renamed: complete */
    *have = (uint64_t)st.st_size;
    return 0;
}

/* HEAD or GET /api/videos/{id}/upload: where to resume. */
static void
vod_resumable_head(struct vod *v, struct httpd_req *r, const char *id)
{
    uint64_t have = 0, length = 0;
    json_t *o;
    int rc;

    rc = vod_resumable_state(v, id, &have, &length);
    if (rc == ERR_NOTFOUND) {
        vod_error(r, 404, "not_found", "no such upload");
        return;
    }
    o = json_object();
    vod_jset_str(o, "id", id);
    vod_jset_str(o, "status", rc == 0 ? "uploading" : "uploaded");
    vod_jset_int(o, "upload_offset", (int64_t)have);
    vod_jset_int(o, "upload_length", (int64_t)length);
    vod_resumable_fields(r, have, length);
    vod_send_json(r, 200, o);
    json_decref(o);
}

/* One PATCH being appended to work/source.part, under an flock. */
struct vod_patch {
    unsigned magic;
#define VOD_PATCH_MAGIC 0x766f6452U
    struct vod *v;
    char id[VOD_NAME_MAX + 1];
    char part[VOD_PATH_MAX];
    int fd;
    uint64_t offset; /* where this PATCH started */
    uint64_t length; /* Upload-Length */
    uint64_t bytes;  /* appended by this PATCH */
    int err;
};

static void
vod_patch_data(struct httpd_req *r, const void *data, size_t len, void *arg)
{
    struct vod_patch *u;
    const char *p = data;

    (void)r;
    CAST_OBJ_NOTNULL(u, arg, VOD_PATCH_MAGIC);
    if (u->err != 0)
        return;
    if ((uint64_t)len > u->length - u->offset - u->bytes) {
        u->err = ERR_LIMIT; /* past Upload-Length: the whole PATCH is dropped */
        return;
    }
    if (u->err == 0)
        u->err = vod_write_all(u->fd, p, len, &u->bytes);
}

/* The upload is whole: source.part becomes source, the video "uploaded". */
static int
vod_patch_complete(struct vod_patch *u)
{
    char src[VOD_PATH_MAX], key[80];
    json_t *rec;
    int rc;

    if (vod_video_dir(u->v, u->id, "work/source", src, sizeof(src)) != 0 ||
        rename(u->part, src) != 0)
        return ERR_INVAL;
    (void)vod_fmt(key, sizeof(key), "v:%s", u->id);
    rc = vod_db_get(u->v->db, key, &rec);
    if (rc != 0)
        return rc;
    vod_jset_str(rec, "status", "uploaded");
    vod_jset_int(rec, "size", (int64_t)u->length);
    vod_jset_int(rec, "updated_ms", (int64_t)vod_now_ms());
    rc = vod_db_put(u->v->db, key, rec);
    json_decref(rec);
    return rc;
}

static void
vod_patch_end(struct httpd_req *r, int err, void *arg)
{
    struct vod_patch *u;
    uint64_t at;
    int rc = 0;

    CAST_OBJ_NOTNULL(u, arg, VOD_PATCH_MAGIC);
    if (err == 0)
        err = u->err;
    if (err == ERR_LIMIT) {
        /* Refused whole: the stored bytes end where they did before. */
        if (ftruncate(u->fd, (off_t)u->offset) != 0)
            err = -errno;
        u->bytes = 0;
    }
    /* What was received is kept, cut connection or not. */
    if (fsync(u->fd) != 0 && err == 0)
        err = -errno;
    at = u->offset + u->bytes;
    LOG(LOG_INFO, "vod", "upload_patch",
        "conn=%" PRIu64 " video=%s offset=%" PRIu64 " bytes=%" PRIu64 " err=%s",
        httpd_req_conn_id(r), u->id, u->offset, u->bytes, err_name(err));
    if (err == 0 && at == u->length) {
        rc = vod_patch_complete(u);
        if (rc == 0)
            vod_wake(u->v);
    }
    (void)close(u->fd); /* releases the lock, after the rename */
    if (err == ERR_CLOSED || err == ERR_TIMEOUT) {
        FREE_OBJ(u);
        return;
    }
    if (err == ERR_LIMIT)
        vod_resumable_error(r, 413, "too_large", "the body passes Upload-Length", at, u->length);
    else if (err != 0 || rc != 0)
        vod_resumable_error(r, 500, "write_failed", "the upload could not be stored", at,
                            u->length);
    else {
        vod_resumable_headers(r, at, u->length);
        httpd_resp_start(r, 204, 0);
        httpd_resp_end(r);
    }
    FREE_OBJ(u);
}

/* PATCH /api/videos/{id}/upload with Upload-Offset: appends the body. */
static void
vod_resumable_patch(struct vod *v, struct httpd_req *r, const char *id)
{
    struct vod_patch *u;
    struct stat st;
    uint64_t have = 0, length = 0, offset = 0;
    enum vod_upload_verdict verdict;
    int rc;

    u = xcalloc(1, sizeof(*u));
    u->magic = VOD_PATCH_MAGIC;
    u->v = v;
    (void)vod_fmt(u->id, sizeof(u->id), "%s", id);
    if (vod_video_dir(v, id, "work/source.part", u->part, sizeof(u->part)) != 0)
        u->fd = -1;
    else
        u->fd = open(u->part, O_WRONLY | O_CLOEXEC);
    if (u->fd >= 0 && flock(u->fd, LOCK_EX | LOCK_NB) != 0) {
        (void)close(u->fd);
        FREE_OBJ(u);
        (void)vod_resumable_state(v, id, &have, &length);
        vod_resumable_error(r, 409, "upload_busy",
                            "another PATCH is writing this upload; ask HEAD again later", have,
                            length);
        return;
    }
    /* Under the lock: the record and the file's size are settled. */
    rc = vod_resumable_state(v, id, &have, &length);
    if (rc == 0 && (u->fd < 0 || fstat(u->fd, &st) != 0))
        rc = ERR_EXISTS;
    if (rc != 0) {
        if (u->fd >= 0)
            (void)close(u->fd);
        FREE_OBJ(u);
        if (rc == ERR_NOTFOUND)
            vod_error(r, 404, "not_found", "no such upload");
        else
            vod_resumable_error(r, 409, "upload_complete", "this upload is complete", length,
                                length);
        return;
    }
    have = (uint64_t)st.st_size;
    verdict = vod_upload_patch(length, have, httpd_req_header(r, "Upload-Offset"),
                               httpd_req_header(r, "Content-Length"), &offset);
    if (verdict != VOD_UPLOAD_APPEND || lseek(u->fd, (off_t)have, SEEK_SET) < 0) {
        (void)close(u->fd);
        FREE_OBJ(u);
        if (verdict == VOD_UPLOAD_BAD_OFFSET)
            vod_resumable_error(r, 400, "bad_offset",
                                "Upload-Offset must be a non-negative integer", have, length);
        else if (verdict == VOD_UPLOAD_MISMATCH)
            vod_resumable_error(r, 409, "offset_mismatch",
                                "Upload-Offset is not where the stored bytes end", have, length);
        else if (verdict == VOD_UPLOAD_TOO_LARGE)
            vod_resumable_error(r, 413, "too_large", "the body passes Upload-Length", have, length);
        else
            vod_resumable_error(r, 500, "write_failed", "the upload could not be stored", have,
                                length);
        return;
    }
    u->offset = have;
    u->length = length;
    httpd_req_read_body(r, vod_patch_data, vod_patch_end, u);
}

/* ---- small JSON bodies ---- */

struct vod_small {
    unsigned magic;
#define VOD_SMALL_MAGIC 0x766f6473U
    struct vod *v;
    struct buf b;
    void (*done)(struct vod *v, struct httpd_req *r, json_t *body, void *arg);
    char arg[VOD_PATH_MAX];
};

static void
vod_small_data(struct httpd_req *r, const void *data, size_t len, void *arg)
{
    struct vod_small *s;

    (void)r;
    CAST_OBJ_NOTNULL(s, arg, VOD_SMALL_MAGIC);
    buf_add(&s->b, data, len);
}

static void
vod_small_end(struct httpd_req *r, int err, void *arg)
{
    struct vod_small *s;
    json_t *j = NULL;

    CAST_OBJ_NOTNULL(s, arg, VOD_SMALL_MAGIC);
    if (err == ERR_CLOSED || err == ERR_TIMEOUT) {
        buf_free(&s->b);
        FREE_OBJ(s);
        return;
    }
    if (err == 0 && buf_status(&s->b) == 0)
        j = json_loadb(s->b.p != NULL ? s->b.p : "", s->b.len, 0, NULL);
    if (j == NULL || !json_is_object(j))
        vod_error(r, err == ERR_LIMIT || buf_status(&s->b) != 0 ? 413 : 400, "bad_json",
                  "the body must be a JSON object");
    else
        s->done(s->v, r, j, s->arg);
    json_decref(j);
    buf_free(&s->b);
    FREE_OBJ(s);
}

static void
vod_small_read(struct vod *v, struct httpd_req *r, const char *arg,
               void (*done)(struct vod *, struct httpd_req *, json_t *, void *))
{
    struct vod_small *s = xcalloc(1, sizeof(*s));

    s->magic = VOD_SMALL_MAGIC;
    s->v = v;
    s->done = done;
    buf_init(&s->b, VOD_SMALL_BODY);
    (void)vod_fmt(s->arg, sizeof(s->arg), "%s", arg);
    httpd_req_read_body(r, vod_small_data, vod_small_end, s);
}

/* ---- status ---- */

struct vod_status_walk {
    json_t *chunks; /* array */
    int64_t done, total, failed;
};

static int
vod_status_job(void *arg, const char *key, json_t *j)
{
    struct vod_status_walk *w = arg;
    const char *st = vod_jstr(j, "state");
    json_t *spec = json_object_get(j, "spec");
    json_t *c;

    (void)key;
    w->total++;
    if (strcmp(st, "done") == 0)
        w->done++;
    if (strcmp(st, "failed") == 0)
        w->failed++;
    c = json_object();
    vod_jset_str(c, "job", vod_jstr(j, "id"));
    vod_jset_str(c, "kind", vod_jstr(spec, "kind"));
    vod_jset_str(c, "state", st);
    vod_jset_int(c, "attempts", vod_jint(j, "attempts"));
    vod_jset_str(c, "worker", vod_jstr(j, "worker"));
    vod_jset_int(c, "start_ms", vod_jint(spec, "start_ms"));
    vod_jset_int(c, "duration_ms", vod_jint(spec, "duration_ms"));
    if (json_object_get(j, "reason") != NULL)
        vod_jset_str(c, "reason", vod_jstr(j, "reason"));
    AZ(json_array_append_new(w->chunks, c));
    return 0;
}

/* GET /api/videos: every video, compactly (the viewer page's landing list). */
#define VOD_LIST_MAX 1000

static int
vod_list_one(void *arg, const char *key, json_t *rec)
{
    json_t *list = arg, *it = json_object();
    static const char *const keep[] = {"id", "status", "duration_ms", "width", "height", "reason"};

    (void)key;
    for (size_t i = 0; i < ARRAY_SIZE(keep); i++) {
        json_t *f = json_object_get(rec, keep[i]);

        if (f != NULL)
            AZ(json_object_set(it, keep[i], f));
    }
    AZ(json_array_append_new(list, it));
    return json_array_size(list) >= VOD_LIST_MAX ? VOD_DB_STOP : 0;
}

static void
vod_list(struct vod *v, struct httpd_req *r)
{
    json_t *out = json_object(), *list = json_array();

    if (vod_db_each(v->db, "v:", false, vod_list_one, list) != 0) {
        json_decref(list);
        json_decref(out);
        vod_error(r, 503, "store_failed", "the video list cannot be read now");
        return;
    }
    AZ(json_object_set_new(out, "videos", list));
    vod_send_json(r, 200, out);
    json_decref(out);
}

static void
vod_status(struct vod *v, struct httpd_req *r, const char *id)
{
    struct vod_status_walk w = {json_array(), 0, 0, 0};
    char key[80], pre[80];
    json_t *rec, *prog;

    (void)vod_fmt(key, sizeof(key), "v:%s", id);
    if (vod_db_get(v->db, key, &rec) != 0) {
        json_decref(w.chunks);
        vod_error(r, 404, "not_found", "no such video");
        return;
    }
    (void)vod_fmt(pre, sizeof(pre), "j:%s.", id);
    if (vod_db_each(v->db, pre, false, vod_status_job, &w) != 0)
        XXX_HANDLE(0);
    prog = json_object();
    vod_jset_int(prog, "done", w.done);
    vod_jset_int(prog, "total", w.total);
    vod_jset_int(prog, "failed", w.failed);
    AZ(json_object_set_new(rec, "progress", prog));
    AZ(json_object_set_new(rec, "jobs", w.chunks));
    if (strcmp(vod_jstr(rec, "status"), "uploading") == 0) {
        uint64_t have = 0, length = 0;

        if (vod_resumable_state(v, id, &have, &length) == 0)
            vod_jset_int(rec, "upload_offset", (int64_t)have);
    }
    if (strcmp(vod_jstr(rec, "status"), "ready") == 0) {
        char u[96];

        (void)vod_fmt(u, sizeof(u), "/vod/%s/manifest.mpd", id);
        vod_jset_str(rec, "mpd", u);
        (void)vod_fmt(u, sizeof(u), "/vod/%s/master.m3u8", id);
        vod_jset_str(rec, "hls", u);
    }
    vod_send_json(r, 200, rec);
    json_decref(rec);
}

/* ---- seek, position, frames ---- */

static void
vod_position_done(struct vod *v, struct httpd_req *r, json_t *body, void *arg)
{
    const char *id = arg;
    const char *user = json_string_value(json_object_get(body, "user"));
    json_t *pos = json_object_get(body, "position_ms");
    char key[200];
    json_t *rec;

    if (user == NULL || !vod_id_ok(user, strlen(user)) || !json_is_integer(pos) ||
        json_integer_value(pos) < 0) {
        vod_error(r, 400, "bad_position",
                  "want {\"user\": name of [A-Za-z0-9._-], \"position_ms\": integer >= 0}");
        return;
    }
    rec = json_object();
    vod_jset_str(rec, "user", user);
    vod_jset_int(rec, "position_ms", json_integer_value(pos));
    vod_jset_int(rec, "updated_ms", (int64_t)vod_now_ms());
    (void)vod_fmt(key, sizeof(key), "p:%s:%s", id, user);
    if (vod_db_put(v->db, key, rec) != 0)
        vod_error(r, 503, "store_failed", "the position could not be stored");
    else
        vod_send_json(r, 200, rec);
    json_decref(rec);
}

static void
vod_seek(struct vod *v, struct httpd_req *r, const char *id)
{
    char user[VOD_USER_MAX], key[200];
    json_t *rec;

    if (vod_query_get(httpd_req_query(r), "user", user, sizeof(user)) <= 0 ||
        !vod_id_ok(user, strlen(user))) {
        vod_error(r, 400, "bad_user", "user= is required ([A-Za-z0-9._-], 1..40)");
        return;
    }
    (void)vod_fmt(key, sizeof(key), "p:%s:%s", id, user);
    if (vod_db_get(v->db, key, &rec) != 0) {
        rec = json_object();
        vod_jset_str(rec, "user", user);
        vod_jset_int(rec, "position_ms", 0);
        vod_jset_int(rec, "updated_ms", 0);
    }
    vod_send_json(r, 200, rec);
    json_decref(rec);
}

static int
vod_model_load(struct vod *v, const char *id, struct model **out)
{
    char path[VOD_PATH_MAX], err[128];
    struct stat st;
    char *text;
    ssize_t got;
    int fd, rc;

    if (vod_video_dir(v, id, "model.json", path, sizeof(path)) != 0)
        return ERR_NOTFOUND;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return ERR_NOTFOUND;
    if (fstat(fd, &st) != 0 || st.st_size <= 0 || st.st_size > (off_t)MODEL_JSON_MAX) {
        (void)close(fd);
        return ERR_MEDIA;
    }
    text = xmalloc((size_t)st.st_size);
    got = read(fd, text, (size_t)st.st_size);
    (void)close(fd);
    rc = got == st.st_size ? model_json_read(text, (size_t)got, out, err, sizeof(err)) : ERR_MEDIA;
    xfree(text);
    return rc;
}

static void
vod_frames_urls(json_t *o, const char *id, const struct model_aset *s, const struct model_rep *rep,
                uint64_t t_media)
{
    struct model_seg seg, next[2];
    json_t *segs = json_array();
    char u[VOD_PATH_MAX];
    size_t n;

    (void)vod_fmt(u, sizeof(u), "/vod/%s/%s/init.mp4", id, rep->id);
    vod_jset_str(o, "init", u);
    vod_jset_str(o, "rendition", rep->id);
    vod_jset_int(o, "timescale", s->tl.timescale);
    if (model_timeline_find(&s->tl, t_media, &seg) == 0) {
        (void)vod_fmt(u, sizeof(u), "/vod/%s/%s/%" PRIu64 ".m4s", id, rep->id, seg.t);
        AZ(json_array_append_new(segs, json_string(u)));
        vod_jset_int(o, "segment_t", (int64_t)seg.t);
        vod_jset_int(o, "segment_d", (int64_t)seg.d);
        n = model_timeline_next(&s->tl, seg.t, next, 1);
        for (size_t i = 0; i < n; i++) {
            (void)vod_fmt(u, sizeof(u), "/vod/%s/%s/%" PRIu64 ".m4s", id, rep->id, next[i].t);
            AZ(json_array_append_new(segs, json_string(u)));
        }
    }
    AZ(json_object_set_new(o, "segments", segs));
}

static void
vod_frames(struct vod *v, struct httpd_req *r, const char *id)
{
    char user[VOD_USER_MAX], tq[32], agent[VOD_AGENT_MAX];
    const char *q = httpd_req_query(r);
    struct model *m = NULL;
    struct model_period *p;
    struct model_aset *vs = NULL, *as = NULL;
    const struct model_rep *rep;
    struct vod_device dev;
    double t;
    char *end;
    json_t *out, *o;
    uint64_t t_ms;

    if (vod_query_get(q, "user", user, sizeof(user)) <= 0 || !vod_id_ok(user, strlen(user)) ||
        vod_query_get(q, "t", tq, sizeof(tq)) <= 0) {
        vod_error(r, 400, "bad_query", "user= and t= (seconds) are required");
        return;
    }
    t = strtod(tq, &end);
    if (*end != '\0' || !(t >= 0) || t > 1e9) {
        vod_error(r, 400, "bad_time", "t= must be seconds >= 0");
        return;
    }
    if (vod_query_get(q, "agent", agent, sizeof(agent)) < 0)
        agent[0] = '\0';
    if (agent[0] == '\0') {
        const char *ua = httpd_req_header(r, "User-Agent");

        (void)vod_fmt(agent, sizeof(agent), "%s", ua != NULL ? ua : "");
    }
    if (vod_model_load(v, id, &m) != 0) {
        vod_error(r, 404, "not_ready", "no such video, or it is not ready");
        return;
    }
    p = m->nperiods > 0 ? m->periods[0] : NULL;
    for (uint32_t i = 0; p != NULL && i < p->nsets; i++) {
        if (p->sets[i]->content == MODEL_VIDEO && vs == NULL)
            vs = p->sets[i];
        if (p->sets[i]->content == MODEL_AUDIO && as == NULL)
            as = p->sets[i];
    }
    t_ms = (uint64_t)(t * 1000.0);
    if (vs == NULL || t_ms >= model_end_ms(m)) {
        model_free(&m);
        vod_error(r, 416, "out_of_range", "t is past the end of the video");
        return;
    }
    vod_device_classify(agent, &dev);
    rep = vod_device_pick(vs, &dev);
    out = json_object();
    vod_jset_str(out, "video_id", id);
    vod_jset_str(out, "user", user);
    vod_jset_int(out, "t_ms", (int64_t)t_ms);
    vod_jset_str(out, "device", dev.kind);
    vod_jset_int(out, "max_height", dev.max_height);
    o = json_object();
    vod_frames_urls(o, id, vs, rep, model_ts_convert(t_ms, 1000, vs->tl.timescale) + vs->tl.pto);
    AZ(json_object_set_new(out, "video", o));
    if (as != NULL && as->nreps > 0) {
        o = json_object();
        vod_frames_urls(o, id, as, as->reps[0],
                        model_ts_convert(t_ms, 1000, as->tl.timescale) + as->tl.pto);
        AZ(json_object_set_new(out, "audio", o));
    }
    vod_send_json(r, 200, out);
    json_decref(out);
    model_free(&m);
}

/* ---- the workers' API ---- */

static bool
vod_lease_of(struct httpd_req *r, char *lease, size_t n)
{
    return vod_query_get(httpd_req_query(r), "lease", lease, n) > 0;
}

static void
vod_jobs_answer(struct httpd_req *r, int rc)
{
    json_t *ok;

    if (rc == ERR_NOTFOUND) {
        vod_error(r, 404, "no_job", "no such job");
        return;
    }
    if (rc == ERR_EXISTS) {
        vod_error(r, 409, "lease_lost", "the job is not leased with this lease any more");
        return;
    }
    if (rc != 0) {
        vod_error(r, 503, "store_failed", err_name(rc));
        return;
    }
    ok = json_object();
    vod_jset_str(ok, "ok", "yes");
    vod_send_json(r, 200, ok);
    json_decref(ok);
}

static void
vod_claim(struct vod *v, struct httpd_req *r)
{
    char worker[64];
    json_t *job;
    int rc;

    if (vod_query_get(httpd_req_query(r), "worker", worker, sizeof(worker)) <= 0)
        (void)vod_fmt(worker, sizeof(worker), "%s", httpd_req_peer(r));
    rc = vod_jobs_claim(v->db, &v->qp, worker, vod_now_ms(), &job);
    if (rc == ERR_NOTFOUND) {
        origin_http_cors(r);
        httpd_resp_start(r, 204, 0);
        httpd_resp_end(r);
        return;
    }
    if (rc != 0) {
        vod_error(r, 503, "store_failed", err_name(rc));
        return;
    }
    LOG(LOG_INFO, "vod", "claimed", "conn=%" PRIu64 " job=%s worker=%s attempt=%" PRId64,
        httpd_req_conn_id(r), vod_jstr(job, "id"), worker, vod_jint(job, "attempts"));
    vod_jset_int(job, "lease_ms", (int64_t)v->qp.lease_ms);
    vod_send_json(r, 200, job);
    json_decref(job);
}

/* The job's record, if the lease is current: 0, ERR_NOTFOUND, ERR_EXISTS. */
static int
vod_job_leased(struct vod *v, const char *jid, const char *lease, json_t **out)
{
    char key[128];
    int rc;

    (void)vod_fmt(key, sizeof(key), "j:%s", jid);
    rc = vod_db_get(v->db, key, out);
    if (rc != 0)
        return rc;
    if (strcmp(vod_jstr(*out, "state"), "leased") != 0 ||
        strcmp(vod_jstr(*out, "lease"), lease) != 0) {
        json_decref(*out);
        *out = NULL;
        return ERR_EXISTS;
    }
    return 0;
}

static void
vod_input(struct vod *v, struct httpd_req *r, const char *jid)
{
    char lease[40], path[VOD_PATH_MAX], sub[VOD_PATH_MAX];
    struct evbuffer *body;
    struct stat st;
    json_t *job;
    int fd, rc;

    if (!vod_lease_of(r, lease, sizeof(lease))) {
        vod_error(r, 400, "no_lease", "lease= is required");
        return;
    }
    rc = vod_job_leased(v, jid, lease, &job);
    if (rc != 0) {
        vod_jobs_answer(r, rc);
        return;
    }
    (void)vod_fmt(sub, sizeof(sub), "work/%s", vod_jstr(json_object_get(job, "spec"), "input"));
    rc = vod_video_dir(v, vod_jstr(job, "video"), sub, path, sizeof(path));
    json_decref(job);
    fd = rc == 0 ? open(path, O_RDONLY | O_CLOEXEC) : -1;
    if (fd < 0 || fstat(fd, &st) != 0) {
        if (fd >= 0)
            (void)close(fd);
        vod_error(r, 404, "no_input", "the job's input is missing");
        return;
    }
    if (httpd_resp_header(r, "Content-Type", "application/octet-stream") != 0)
        XXX_HANDLE(0);
    httpd_resp_start(r, 200, (int64_t)st.st_size);
    body = evbuffer_new();
    AN(body);
    if (st.st_size == 0 || httpd_req_method(r) == HTTP1_M_HEAD) {
        (void)close(fd);
    } else if (evbuffer_add_file(body, fd, 0, (ev_off_t)st.st_size) != 0 ||
               httpd_resp_add_buffer(r, body) != 0) {
        LOG(LOG_WARN, "vod", "input_send_failed", "conn=%" PRIu64 " job=%s", httpd_req_conn_id(r),
            jid);
    }
    evbuffer_free(body);
    httpd_resp_end(r);
}

/* A result file being uploaded: work/.up-* then renamed to {rep}/{name}. */
struct vod_put {
    unsigned magic;
#define VOD_PUT_MAGIC 0x766f6470U
    char tmp[VOD_PATH_MAX];
    char dst[VOD_PATH_MAX];
    int fd;
    int err;
};

static void
vod_put_data(struct httpd_req *r, const void *data, size_t len, void *arg)
{
    struct vod_put *u;
    const char *p = data;

    (void)r;
    CAST_OBJ_NOTNULL(u, arg, VOD_PUT_MAGIC);
    if (u->err == 0)
        u->err = vod_write_all(u->fd, p, len, NULL);
}

static void
vod_put_end(struct httpd_req *r, int err, void *arg)
{
    struct vod_put *u;
    bool ok;

    CAST_OBJ_NOTNULL(u, arg, VOD_PUT_MAGIC);
    ok = err == 0 && u->err == 0;
    if (close(u->fd) != 0)
        ok = false;
    if (ok && rename(u->tmp, u->dst) != 0)
        ok = false;
    if (!ok)
        (void)unlink(u->tmp);
    FREE_OBJ(u);
    if (err == ERR_CLOSED || err == ERR_TIMEOUT)
        return;
    if (!ok) {
        vod_error(r, err == ERR_LIMIT ? 413 : 500, "write_failed", "the file was not stored");
        return;
    }
    vod_jobs_answer(r, 0);
}

static void
vod_put_file(struct vod *v, struct httpd_req *r, const char *jid, const char *rep, const char *name)
{
    char lease[40], dir[VOD_PATH_MAX];
    struct vod_put *u;
    json_t *job;
    int rc;

    if (!vod_lease_of(r, lease, sizeof(lease))) {
        vod_error(r, 400, "no_lease", "lease= is required");
        return;
    }
    rc = vod_job_leased(v, jid, lease, &job);
    if (rc != 0) {
        vod_jobs_answer(r, rc);
        return;
    }
    u = xcalloc(1, sizeof(*u));
    u->magic = VOD_PUT_MAGIC;
    rc = vod_video_dir(v, vod_jstr(job, "video"), rep, dir, sizeof(dir));
    json_decref(job);
    if (rc == 0)
        rc = vod_mkdirs(dir);
    if (rc != 0 || snprintf(u->dst, sizeof(u->dst), "%s/%s", dir, name) >= (int)sizeof(u->dst) ||
        snprintf(u->tmp, sizeof(u->tmp), "%s/.up-%s-%" PRIu64, dir, name, httpd_req_conn_id(r)) >=
            (int)sizeof(u->tmp)) {
        FREE_OBJ(u);
        vod_error(r, 500, "write_failed", "the file was not stored");
        return;
    }
    u->fd = open(u->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (u->fd < 0) {
        FREE_OBJ(u);
        vod_error(r, 500, "write_failed", "the file was not stored");
        return;
    }
    httpd_req_read_body(r, vod_put_data, vod_put_end, u);
}

static void
vod_done_body(struct vod *v, struct httpd_req *r, json_t *body, void *arg)
{
    char lease[40], key[128];
    const char *jid = arg;
    int rc;

    if (!vod_lease_of(r, lease, sizeof(lease))) {
        vod_error(r, 400, "no_lease", "lease= is required");
        return;
    }
    (void)vod_fmt(key, sizeof(key), "j:%s", jid);
    rc = vod_jobs_finish(v->db, key, lease, body);
    if (rc == 0) {
        LOG(LOG_INFO, "vod", "job_done", "conn=%" PRIu64 " job=%s", httpd_req_conn_id(r), jid);
        vod_wake(v);
    }
    vod_jobs_answer(r, rc);
}

static void
vod_job_op(struct vod *v, struct httpd_req *r, const char *jid, const char *op)
{
    char lease[40], key[128], reason[256];
    int rc;

    if (!vod_lease_of(r, lease, sizeof(lease))) {
        vod_error(r, 400, "no_lease", "lease= is required");
        return;
    }
    (void)vod_fmt(key, sizeof(key), "j:%s", jid);
    if (strcmp(op, "renew") == 0) {
        rc = vod_jobs_renew(v->db, &v->qp, key, lease, vod_now_ms());
    } else {
        if (vod_query_get(httpd_req_query(r), "reason", reason, sizeof(reason)) <= 0)
            (void)vod_fmt(reason, sizeof(reason), "worker failed");
        rc = vod_jobs_fail(v->db, &v->qp, key, lease, reason, vod_now_ms());
        LOG(LOG_INFO, "vod", "job_failed", "conn=%" PRIu64 " job=%s reason=\"%s\"",
            httpd_req_conn_id(r), jid, reason);
        vod_wake(v);
    }
    vod_jobs_answer(r, rc);
}

/* ---- routing ---- */

/* Splits path after prefix into up to 4 components; returns how many, -1 when bad. */
static int
vod_split(const char *path, char comp[4][VOD_NAME_MAX + 1])
{
    int n = 0;

    while (*path != '\0') {
        const char *slash = strchr(path, '/');
        size_t len = slash != NULL ? (size_t)(slash - path) : strlen(path);

        if (n == 4 || !origin_http_name_ok(path, len))
            return -1;
        memcpy(comp[n], path, len);
        comp[n][len] = '\0';
        n++;
        if (slash == NULL)
            break;
        path = slash + 1;
    }
    return n;
}

/* A shared secret in X-Cascade-Worker-Key, compared in constant time. */
static bool
vod_worker_key_ok(const struct vod *v, struct httpd_req *r)
{
    const char *got = httpd_req_header(r, VOD_WORKER_KEY_HEADER);
    size_t n = strlen(v->worker_key);
    unsigned char diff = 0;

    if (n == 0)
        return true;
    if (got == NULL || strlen(got) != n)
        return false;
    for (size_t i = 0; i < n; i++)
        diff |= (unsigned char)(got[i] ^ v->worker_key[i]);
    return diff == 0;
}

uint64_t
vod_body_cap(const struct httpd_req *r, uint64_t conf_max)
{
    const char *p = httpd_req_path(r);
    enum http1_method m = httpd_req_method(r);

    if (vod_the == NULL)
        return conf_max;
    if ((m == HTTP1_M_POST && strcmp(p, "/api/videos") == 0) ||
        (m == HTTP1_M_PATCH && strncmp(p, "/api/videos/", 12) == 0) ||
        (m == HTTP1_M_PUT && strncmp(p, "/api/vod/jobs/", 14) == 0))
        return vod_the->c.max_upload;
    return conf_max;
}

bool
vod_handle(struct vod *v, struct httpd_req *r)
{
    const char *path = httpd_req_path(r);
    enum http1_method m = httpd_req_method(r);
    char comp[4][VOD_NAME_MAX + 1];
    int n;

    CHECK_OBJ_NOTNULL(v, VOD_MAGIC);
    if (strcmp(path, "/api/videos") == 0) {
        if (m == HTTP1_M_POST)
            vod_upload_start(v, r);
        else if (m == HTTP1_M_GET || m == HTTP1_M_HEAD)
            vod_list(v, r);
        else
            vod_error(r, 405, "method_not_allowed", "GET the list or POST a video here");
        return true;
    }
    if (strncmp(path, "/api/videos/", 12) == 0) {
        n = vod_split(path + 12, comp);
        if (n == 1 && m == HTTP1_M_GET)
            vod_status(v, r, comp[0]);
        else if (n == 2 && m == HTTP1_M_GET && strcmp(comp[1], "seek") == 0)
            vod_seek(v, r, comp[0]);
        else if (n == 2 && m == HTTP1_M_GET && strcmp(comp[1], "frames") == 0)
            vod_frames(v, r, comp[0]);
        else if (n == 2 && m == HTTP1_M_POST && strcmp(comp[1], "position") == 0)
            vod_small_read(v, r, comp[0], vod_position_done);
        else if (n == 2 && (m == HTTP1_M_HEAD || m == HTTP1_M_GET) &&
                 strcmp(comp[1], "upload") == 0)
            vod_resumable_head(v, r, comp[0]);
        else if (n == 2 && m == HTTP1_M_PATCH && strcmp(comp[1], "upload") == 0)
            vod_resumable_patch(v, r, comp[0]);
        else
            return false; /* comments, likes, reactions: the social API's */
        return true;
    }
    if (strncmp(path, "/api/vod/jobs/", 14) != 0 && strcmp(path, "/api/vod/jobs") != 0)
        return false;
    if (!vod_worker_key_ok(v, r)) {
        vod_error(r, 403, "bad_worker_key", "the workers' API needs vod.worker_key");
        return true;
    }
    n = path[13] == '/' ? vod_split(path + 14, comp) : 0;
    if (n == 1 && m == HTTP1_M_POST && strcmp(comp[0], "claim") == 0)
        vod_claim(v, r);
    else if (n == 2 && (m == HTTP1_M_GET || m == HTTP1_M_HEAD) && strcmp(comp[1], "input") == 0)
        vod_input(v, r, comp[0]);
    else if (n == 2 && m == HTTP1_M_POST &&
             (strcmp(comp[1], "renew") == 0 || strcmp(comp[1], "fail") == 0))
        vod_job_op(v, r, comp[0], comp[1]);
    else if (n == 2 && m == HTTP1_M_POST && strcmp(comp[1], "done") == 0)
        vod_small_read(v, r, comp[0], vod_done_body);
    else if (n == 4 && m == HTTP1_M_PUT && strcmp(comp[1], "files") == 0)
        vod_put_file(v, r, comp[0], comp[2], comp[3]);
    else
        vod_error(r, 404, "not_found", "no such job resource");
    return true;
}

/* ---- lifetime ---- */

static void
vod_pool_spawn(struct vod *v, unsigned i)
{
    char name[32], dir[VOD_PATH_MAX];
    pid_t pid;

    (void)vod_fmt(name, sizeof(name), "local-%u", i);
    (void)vod_fmt(dir, sizeof(dir), "%s/vod/.workers/%u", v->data_dir, i);
    pid = fork();
    if (pid < 0) {
        LOG(LOG_ERR, "vod", "worker_spawn_failed", "conn=0 err=%s", err_name(-errno));
        return;
    }
    if (pid == 0) {
        char *argv[] = {(char *)"cascade-origin",
                        (char *)"worker",
                        (char *)"--origin",
                        v->http_url,
                        (char *)"--name",
                        name,
                        (char *)"--dir",
                        dir,
                        NULL};

        (void)prctl(PR_SET_PDEATHSIG, SIGKILL);
        /* The key goes by the environment: argv is public in ps. */
        if (v->worker_key[0] != '\0')
            (void)setenv(VOD_WORKER_KEY_ENV, v->worker_key, 1);
        execv("/proc/self/exe", argv);
        _exit(127);
    }
    v->pids[i] = pid;
    LOG(LOG_INFO, "vod", "worker_started", "conn=0 worker=%s pid=%d", name, (int)pid);
}

static void
vod_pool_check(struct vod *v)
{
    for (unsigned i = 0; i < v->c.workers && i < VOD_WORKERS_MAX; i++) {
        int st;

        if (v->pids[i] > 0 && waitpid(v->pids[i], &st, WNOHANG) == v->pids[i]) {
            LOG(LOG_WARN, "vod", "worker_exited", "conn=0 pid=%d status=%d", (int)v->pids[i], st);
            v->pids[i] = 0;
        }
        if (v->pids[i] == 0 && !v->stop)
            vod_pool_spawn(v, i);
    }
}

static void *
vod_manager(void *arg)
{
    struct vod *v = arg;
    struct timespec ts;

    AZ(pthread_mutex_lock(&v->mtx));
    while (!v->stop) {
        AZ(pthread_mutex_unlock(&v->mtx));
        vod_pool_check(v);
        vod_manage_once(v);
        AZ(pthread_mutex_lock(&v->mtx));
        if (v->stop)
            break;
        AZ(clock_gettime(CLOCK_REALTIME, &ts));
        ts.tv_nsec += 250 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        (void)pthread_cond_timedwait(&v->cond, &v->mtx, &ts);
    }
    AZ(pthread_mutex_unlock(&v->mtx));
    return NULL;
}

int
vod_new(const struct vod_conf *c, struct vod **out)
{
    char dir[VOD_PATH_MAX];
    struct vod *v;
    int rc;

    v = xcalloc(1, sizeof(*v));
    v->magic = VOD_MAGIC;
    v->c = *c;
    v->data_dir = xstrdup(c->data_dir);
    v->http_url = xstrdup(c->http_url);
    v->worker_key = xstrdup(c->worker_key != NULL ? c->worker_key : "");
    v->c.worker_key = v->worker_key;
    v->c.data_dir = v->data_dir;
    v->c.http_url = v->http_url;
    v->c.ladder = NULL;
    v->qp.lease_ms = c->lease_ms;
    v->qp.max_attempts = c->max_attempts;
    v->qp.backoff_ms = c->backoff_ms;
    rc = vod_ladder_load(c->ladder, &v->ladder);
    if (rc == 0 && snprintf(dir, sizeof(dir), "%s/vod/db", c->data_dir) >= (int)sizeof(dir))
        rc = ERR_CONF;
    if (rc == 0)
        rc = vod_mkdirs(dir);
    if (rc == 0)
        rc = vod_db_open(dir, 256ull << 20, &v->db);
    if (rc != 0) {
        LOG(LOG_ERR, "vod", "start_failed", "conn=0 err=%s", err_name(rc));
        xfree(v->data_dir);
        xfree(v->http_url);
        xfree(v->worker_key);
        FREE_OBJ(v);
        return rc;
    }
    AZ(pthread_mutex_init(&v->mtx, NULL));
    AZ(pthread_cond_init(&v->cond, NULL));
    rc = -pthread_create(&v->thread, NULL, vod_manager, v);
    if (rc != 0) {
        vod_db_close(&v->db);
        xfree(v->data_dir);
        xfree(v->http_url);
        xfree(v->worker_key);
        FREE_OBJ(v);
        return rc;
    }
    v->running = true;
    vod_the = v;
    *out = v;
    return 0;
}

void
vod_free(struct vod **pv)
{
    struct vod *v = *pv;

    if (v == NULL)
        return;
    CHECK_OBJ(v, VOD_MAGIC);
    AZ(pthread_mutex_lock(&v->mtx));
    v->stop = true;
    AZ(pthread_cond_signal(&v->cond));
    AZ(pthread_mutex_unlock(&v->mtx));
    if (v->running)
        AZ(pthread_join(v->thread, NULL));
    for (unsigned i = 0; i < VOD_WORKERS_MAX; i++)
        if (v->pids[i] > 0)
            (void)kill(v->pids[i], SIGTERM);
    for (unsigned i = 0; i < VOD_WORKERS_MAX; i++)
        if (v->pids[i] > 0)
            (void)waitpid(v->pids[i], NULL, 0);
    vod_the = NULL;
    vod_db_close(&v->db);
    AZ(pthread_mutex_destroy(&v->mtx));
    AZ(pthread_cond_destroy(&v->cond));
    xfree(v->data_dir);
    xfree(v->http_url);
    xfree(v->worker_key);
    FREE_OBJ(v);
    *pv = NULL;
}

/* For vod_map.c: the pieces of struct vod it reads. */
const struct vod_conf *
vod_conf_of(const struct vod *v)
{
    return &v->c;
}

struct vod_db *
vod_db_of(const struct vod *v)
{
    return v->db;
}

const struct ladder *
vod_ladder_of(const struct vod *v)
{
    return &v->ladder;
}

const struct vod_queue_params *
vod_qp_of(const struct vod *v)
{
    return &v->qp;
}

void
vod_status_set(struct vod *v, const char *id, const char *status, const char *reason)
{
    vod_set_status(v, id, status, reason);
}

int
vod_dir_of(const struct vod *v, const char *id, const char *sub, char *out, size_t outsz)
{
    return vod_video_dir(v, id, sub, out, outsz);
}
