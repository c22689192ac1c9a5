/*
 * vod_worker.c -- `cascade-origin worker --origin URL`: a transcode worker
 * process. It claims a job over HTTP, downloads the job's input, runs one
 * ffmpeg for every rendition of it (decode once), repackages each output
 * into CMAF segments named by global media time (pkg_fmp4, offset by the
 * chunk's start), uploads the files and reports the segment list. While
 * ffmpeg runs it renews its lease; a lost lease kills ffmpeg and drops the
 * job. The local pool runs these same processes, so local and remote
 * workers take one code path.
 *
 * Synchronous: one httpc on a private event loop, one request at a time.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <jansson.h>

#include "vod_int.h"
#include "err.h"
#include "httpc.h"
#include "log.h"
#include "mem.h"
#include "media/buf.h"
#include "media/ladder.h"
#include "pkg.h"
#include "compat.h"

static volatile sig_atomic_t vod_worker_stop;

struct vod_worker {
    struct event_base *base;
    struct httpc *hc;
    struct sockaddr_storage addr;
    socklen_t addrlen;
    char name[64];
    char key[256]; /* X-Cascade-Worker-Key, from $CASCADE_WORKER_KEY */
    char dir[VOD_PATH_MAX];
    /* the job being run */
    char jid[128];
    char lease[40];
    uint64_t lease_ms;
    uint64_t renewed_ms;
    bool lost;
};

struct vod_worker_resp {
    int status;
    int err;
    bool done;
    int fd;       /* body to this file, or */
    struct buf b; /* to memory */
};

static void
vod_worker_on_head(struct httpc_req *r, void *arg)
{
    struct vod_worker_resp *x = arg;

    x->status = httpc_resp_status(r);
}

static void
vod_worker_on_body(struct httpc_req *r, const void *data, size_t len, void *arg)
{
    struct vod_worker_resp *x = arg;
    const char *p = data;

    (void)r;
    if (x->fd < 0) {
        buf_add(&x->b, data, len);
        return;
    }
    while (len > 0 && x->err == 0) {
        ssize_t w = write(x->fd, p, len);

        if (w < 0) {
            if (errno != EINTR)
                x->err = -errno;
            continue;
        }
        p += w;
        len -= (size_t)w;
    }
}

static void
vod_worker_on_done(struct httpc_req *r, int err, void *arg)
{
    struct vod_worker_resp *x = arg;

    (void)r;
    if (x->err == 0)
        x->err = err;
    x->done = true;
}

/* One request; the answer's body to fd (>= 0) or x->b. Returns the status or an error. */
static int
vod_worker_http(struct vod_worker *w, const char *method, const char *target, const void *body,
                size_t len, int fd, struct vod_worker_resp *x)
{
    static const struct httpc_cbs cbs = {vod_worker_on_head, vod_worker_on_body,
                                         vod_worker_on_done};
    const char *hdrs[] = {"Content-Type", "application/json", VOD_WORKER_KEY_HEADER, w->key, NULL};
    struct httpc_req *r;

    if (w->key[0] == '\0')
        hdrs[2] = NULL; /* no key configured: no field */
    memset(x, 0, sizeof(*x));
    x->fd = fd;
    buf_init(&x->b, 4u << 20);
    r = httpc_request(w->hc, (struct sockaddr *)&w->addr, w->addrlen, method, target, hdrs, body,
                      len, &cbs, x);
    if (r == NULL)
        return ERR_INVAL;
    while (!x->done)
        if (event_base_loop(w->base, EVLOOP_ONCE) < 0)
            return ERR_UPSTREAM;
    return x->err != 0 ? x->err : x->status;
}

static void
vod_worker_sleep(unsigned ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};

    (void)nanosleep(&ts, NULL);
}

/* Renews the lease when a third of it has passed; nonzero when it is lost. */
static int
vod_worker_tick(void *arg)
{
    struct vod_worker *w = arg;
    struct vod_worker_resp x;
    char t[256];
    uint64_t now = vod_now_ms();
    int st;

    if (vod_worker_stop)
        return 1;
    if (now - w->renewed_ms < w->lease_ms / 3)
        return 0;
    (void)vod_fmt(t, sizeof(t), "/api/vod/jobs/%s/renew?lease=%s", w->jid, w->lease);
    st = vod_worker_http(w, "POST", t, "", 0, -1, &x);
    buf_free(&x.b);
    if (st == 409 || st == 404) {
        LOG(LOG_WARN, "vod_worker", "lease_lost", "conn=0 job=%s", w->jid);
        w->lost = true;
        return 1;
    }
    if (st == 200)
        w->renewed_ms = now;
    return 0;
}

/* ---- packaging one rendition's ffmpeg output ---- */

struct vod_worker_pkg {
    const char *outdir; /* {dir}/out/{rep} */
    json_t *segs;       /* [[t, d], ...] */
    int err;
};

static int
vod_worker_pkg_out(void *arg, const struct pkg_out *o)
{
    struct vod_worker_pkg *p = arg;
    char path[VOD_PATH_MAX];
    int rc;

    if (o->kind == PKG_OUT_INIT)
        (void)vod_fmt(path, sizeof(path), "%s/init.mp4", p->outdir);
    else
        (void)vod_fmt(path, sizeof(path), "%s/%" PRId64 ".m4s", p->outdir, o->t);
    rc = vod_write_file(path, o->data, o->len);
    if (rc != 0)
        return rc;
    if (o->kind == PKG_OUT_SEGMENT) {
        json_t *sd = json_array();

        AZ(json_array_append_new(sd, json_integer(o->t)));
        AZ(json_array_append_new(sd, json_integer(o->d)));
        AZ(json_array_append_new(p->segs, sd));
    }
    return 0;
}

static int
vod_worker_package(const char *mp4, const char *outdir, enum pkg_track track, int64_t offset,
                   json_t *info)
{
    struct vod_worker_pkg p = {outdir, json_array(), 0};
    struct pkg_fmp4_params fp;
    struct pkg_fmp4 *f = NULL;
    struct pkg_rep_info ri;
    uint8_t buf[65536];
    ssize_t n;
    int fd, rc;

    memset(&fp, 0, sizeof(fp));
    fp.track = track;
    fp.offset = offset;
    fp.stream = "vod";
    rc = vod_mkdirs(outdir);
    if (rc == 0)
        rc = pkg_fmp4_new(&f, &fp, vod_worker_pkg_out, &p);
    fd = rc == 0 ? open(mp4, O_RDONLY | O_CLOEXEC) : -1;
    if (rc == 0 && fd < 0)
        rc = -errno;
    while (rc == 0 && (n = read(fd, buf, sizeof(buf))) > 0)
        rc = pkg_fmp4_feed(f, buf, (size_t)n);
    if (rc == 0)
        rc = pkg_fmp4_end(f);
    if (fd >= 0)
        (void)close(fd);
    if (rc == 0) {
        pkg_fmp4_info(f, &ri);
        AZ(json_object_set_new(info, "codecs", json_string(ri.codecs)));
        AZ(json_object_set_new(info, "timescale", json_integer(ri.timescale)));
        if (track == PKG_VIDEO) {
            AZ(json_object_set_new(info, "width", json_integer(ri.width)));
            AZ(json_object_set_new(info, "height", json_integer(ri.height)));
        } else {
            AZ(json_object_set_new(info, "sample_rate", json_integer(ri.sample_rate)));
            AZ(json_object_set_new(info, "channels", json_integer(ri.channels)));
        }
        AZ(json_object_set(info, "segs", p.segs));
    }
    json_decref(p.segs);
    pkg_fmp4_free(&f);
    return rc;
}

/* Uploads every file of outdir as rep's. */
static int
vod_worker_upload_dir(struct vod_worker *w, const char *outdir, const char *rep)
{
    char t[512], path[VOD_PATH_MAX];
    struct vod_worker_resp x;
    struct dirent *de;
    DIR *d;
    int rc = 0;

    d = opendir(outdir);
    if (d == NULL)
        return -errno;
    while (rc == 0 && (de = readdir(d)) != NULL) {
        char name[VOD_NAME_MAX + 1];
        struct stat st;
        char *data;
        int fd;

        if (de->d_name[0] == '.')
            continue;
        if (vod_fmt(name, sizeof(name), "%s", de->d_name) < 0 ||
            vod_fmt(path, sizeof(path), "%s/%s", outdir, name) < 0) {
            rc = ERR_LIMIT;
            break;
        }
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0 || fstat(fd, &st) != 0) {
            rc = ERR_NOTFOUND;
            if (fd >= 0)
                (void)close(fd);
            break;
        }
        data = xmalloc((size_t)st.st_size + 1);
        if (read(fd, data, (size_t)st.st_size) != st.st_size)
            rc = ERR_MEDIA;
        (void)close(fd);
        (void)vod_fmt(t, sizeof(t), "/api/vod/jobs/%s/files/%s/%s?lease=%s", w->jid, rep, name,
                      w->lease);
        if (rc == 0) {
            int st2 = vod_worker_http(w, "PUT", t, data, (size_t)st.st_size, -1, &x);

            buf_free(&x.b);
            if (st2 != 200)
                rc = st2 == 409 ? ERR_EXISTS : ERR_UPSTREAM;
        }
        xfree(data);
        (void)vod_worker_tick(w);
    }
    (void)closedir(d);
    return rc;
}

static int
vod_worker_rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    if (flag == FTW_DP)
        return rmdir(path) != 0 && errno != ENOENT ? -1 : 0;
    return unlink(path) != 0 && errno != ENOENT ? -1 : 0;
}

/* rm -rf without a shell: a job directory (absent is fine). */
static void
vod_worker_rm_rf(const char *dir)
{
    if (nftw(dir, vod_worker_rm_one, 16, FTW_DEPTH | FTW_PHYS) != 0 && errno != ENOENT)
        LOG(LOG_WARN, "vod_worker", "cleanup_failed", "conn=0 dir=%s err=%s", dir,
            err_name(-errno));
}

/* Runs one claimed job; 0, or an error with why filled in. */
static int
vod_worker_job(struct vod_worker *w, json_t *job, char *why, size_t whysz)
{
    json_t *spec = json_object_get(job, "spec"), *reps = json_object_get(spec, "reps");
    const char *kind = json_string_value(json_object_get(spec, "kind"));
    bool audio = kind != NULL && strcmp(kind, "audio") == 0;
    char in[VOD_PATH_MAX], t[512], err[VOD_PATH_MAX], jd[VOD_PATH_MAX];
    const char *argv[512];
    char argbuf[16384], outs[LADDER_MAX_VIDEO + LADDER_MAX_AUDIO][VOD_PATH_MAX];
    char segus[32], seg_s[32];
    struct vod_worker_resp x;
    size_t used = 0, i;
    unsigned argc = 0;
    json_t *result, *rres, *rep;
    int fd, rc, st;
    uint32_t seg_ms = (uint32_t)json_integer_value(json_object_get(spec, "seg_ms"));

    (void)vod_fmt(jd, sizeof(jd), "%s/%s", w->dir, w->jid);
    vod_worker_rm_rf(jd);
    rc = vod_mkdirs(jd);
    if (rc != 0) {
        (void)vod_fmt(why, whysz, "cannot make %s", jd);
        return rc;
    }
    /* The input. */
    (void)vod_fmt(in, sizeof(in), "%s/input", jd);
    fd = open(in, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return -errno;
    (void)vod_fmt(t, sizeof(t), "/api/vod/jobs/%s/input?lease=%s", w->jid, w->lease);
    st = vod_worker_http(w, "GET", t, NULL, 0, fd, &x);
    buf_free(&x.b);
    (void)close(fd);
    if (st != 200) {
        (void)vod_fmt(why, whysz, "input download failed: %d", st);
        return st == 409 ? ERR_EXISTS : ERR_UPSTREAM;
    }
    /* One ffmpeg, every rendition. */
    argv[argc++] = "ffmpeg";
    argv[argc++] = "-nostdin";
    argv[argc++] = "-v";
    argv[argc++] = "error";
    argv[argc++] = "-y";
    argv[argc++] = "-i";
    argv[argc++] = in;
    (void)vod_fmt(segus, sizeof(segus), "%" PRIu64, (uint64_t)seg_ms * 1000);
    (void)vod_fmt(seg_s, sizeof(seg_s), "%u", seg_ms);
    json_array_foreach(reps, i, rep)
    {
        const char *rid = json_string_value(json_object_get(rep, "id"));
        int n;

        if (rid == NULL || i >= ARRAY_SIZE(outs) || argc + 64 > ARRAY_SIZE(argv))
            return ERR_INVAL;
        (void)vod_fmt(outs[i], sizeof(outs[i]), "%s/%s.mp4", jd, rid);
        argv[argc++] = "-map";
        argv[argc++] = audio ? "0:a:0" : "0:v:0";
        if (audio) {
            struct ladder_audio la;

            memset(&la, 0, sizeof(la));
            (void)vod_fmt(la.id, sizeof(la.id), "%s", rid);
            la.kbps = (uint32_t)json_integer_value(json_object_get(rep, "kbps"));
            n = ladder_audio_args(&la, argbuf + used, sizeof(argbuf) - used, argv + argc, 32);
            if (n < 0)
                return n;
            argc += (unsigned)n;
            argv[argc++] = "-vn";
            argv[argc++] = "-frag_duration";
            argv[argc++] = segus;
            argv[argc++] = "-movflags";
            argv[argc++] = "+empty_moov+default_base_moof";
        } else {
            struct ladder l;
            struct ladder_pick pk;
            struct ladder_video lv;

            memset(&l, 0, sizeof(l));
            memset(&lv, 0, sizeof(lv));
            (void)vod_fmt(l.preset, sizeof(l.preset), "%s",
                          json_string_value(json_object_get(spec, "preset")));
            (void)vod_fmt(lv.id, sizeof(lv.id), "%s", rid);
            lv.height = (uint32_t)json_integer_value(json_object_get(rep, "height"));
            lv.kbps = (uint32_t)json_integer_value(json_object_get(rep, "kbps"));
            pk.rung = &lv;
            pk.width = (uint32_t)json_integer_value(json_object_get(rep, "width"));
            pk.height = lv.height;
            n = ladder_video_args(&l, &pk, seg_ms, argbuf + used, sizeof(argbuf) - used,
                                  argv + argc, 40);
            if (n < 0)
                return n;
            argc += (unsigned)n;
            argv[argc++] = "-an";
            argv[argc++] = "-video_track_timescale";
            argv[argc++] = "90000";
            argv[argc++] = "-movflags";
            argv[argc++] = "+frag_keyframe+empty_moov+default_base_moof";
        }
        /* ladder_*_args wrote NUL-separated strings: move past them. */
        for (unsigned k = 0; k < argc; k++)
            if (argv[k] >= argbuf && argv[k] < argbuf + sizeof(argbuf)) {
                size_t e = (size_t)(argv[k] - argbuf) + strlen(argv[k]) + 1;

                if (e > used)
                    used = e;
            }
        argv[argc++] = "-f";
        argv[argc++] = "mp4";
        argv[argc++] = outs[i];
    }
    argv[argc] = NULL;
    (void)vod_fmt(err, sizeof(err), "%s/ffmpeg.err", jd);
    w->renewed_ms = vod_now_ms();
    rc = vod_run(argv, -1, err, vod_worker_tick, w);
    if (rc != 0) {
        vod_first_line(err, why, whysz);
        if (why[0] == '\0')
            (void)vod_fmt(why, whysz, "ffmpeg exited with %d", rc);
        return rc == ERR_CLOSED ? ERR_CLOSED : ERR_MEDIA;
    }
    /* Package, upload, report. */
    result = json_object();
    rres = json_object();
    AZ(json_object_set_new(result, "reps", rres));
    json_array_foreach(reps, i, rep)
    {
        const char *rid = json_string_value(json_object_get(rep, "id"));
        json_t *info = json_object();
        char outdir[VOD_PATH_MAX];
        int64_t off = audio ? 0 : (int64_t)json_integer_value(json_object_get(spec, "start90k"));

        (void)vod_fmt(outdir, sizeof(outdir), "%s/out/%s", jd, rid);
        AZ(json_object_set_new(
            info, "bandwidth",
            json_integer(1000 * json_integer_value(json_object_get(rep, "kbps")))));
        rc = vod_worker_package(outs[i], outdir, audio ? PKG_AUDIO : PKG_VIDEO, off, info);
        if (rc == 0)
            rc = vod_worker_upload_dir(w, outdir, rid);
        AZ(json_object_set_new(rres, rid, info));
        if (rc != 0) {
            (void)vod_fmt(why, whysz, "packaging or upload of %s failed: %s", rid, err_str(rc));
            json_decref(result);
            return rc;
        }
    }
    {
        char *s = json_dumps(result, JSON_COMPACT);

        json_decref(result);
        (void)vod_fmt(t, sizeof(t), "/api/vod/jobs/%s/done?lease=%s", w->jid, w->lease);
        st = s != NULL ? vod_worker_http(w, "POST", t, s, strlen(s), -1, &x) : ERR_INVAL;
        free(s); /* jansson's allocator */
        buf_free(&x.b);
    }
    vod_worker_rm_rf(jd);
    if (st != 200) {
        (void)vod_fmt(why, whysz, "done report refused: %d", st);
        return ERR_UPSTREAM;
    }
    return 0;
}

static void
vod_worker_signal(int sig)
{
    (void)sig;
    vod_worker_stop = 1;
}

static int
vod_worker_addr(struct vod_worker *w, const char *url)
{
    char host[256], port[16];
    struct addrinfo hints, *res = NULL;
    const char *p, *colon, *end;

    if (strncmp(url, "http://", 7) != 0)
        return ERR_INVAL;
    p = url + 7;
    end = p + strcspn(p, "/");
    colon = memchr(p, ':', (size_t)(end - p));
    if (colon == NULL || (size_t)(colon - p) >= sizeof(host) ||
        (size_t)(end - colon - 1) >= sizeof(port))
        return ERR_INVAL;
    memcpy(host, p, (size_t)(colon - p));
    host[colon - p] = '\0';
    memcpy(port, colon + 1, (size_t)(end - colon - 1));
    port[end - colon - 1] = '\0';
    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(host, port, &hints, &res) != 0 || res == NULL)
        return ERR_INVAL;
    memcpy(&w->addr, res->ai_addr, res->ai_addrlen);
    w->addrlen = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

int
vod_worker_main(int argc, char **argv)
{
    struct vod_worker w;
    struct httpc_conf hc;
    const char *url = NULL;
    struct sigaction sa;
    unsigned idle = 0;

    memset(&w, 0, sizeof(w));
    (void)vod_fmt(w.name, sizeof(w.name), "worker-%d", (int)getpid());
    (void)vod_fmt(w.dir, sizeof(w.dir), "/tmp/cascade-worker-%d", (int)getpid());
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--origin") == 0 && i + 1 < argc)
            url = argv[++i];
        else if (strcmp(argv[i], "--name") == 0 && i + 1 < argc)
            (void)vod_fmt(w.name, sizeof(w.name), "%s", argv[++i]);
        else if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc)
            (void)vod_fmt(w.dir, sizeof(w.dir), "%s", argv[++i]);
        else {
            (void)fprintf(stderr,
                          "usage: cascade-origin worker --origin http://HOST:PORT [--name N] "
                          "[--dir DIR]\n");
            return 2;
        }
    }
    {
        const char *k = getenv(VOD_WORKER_KEY_ENV);

        (void)vod_fmt(w.key, sizeof(w.key), "%s", k != NULL ? k : "");
    }
    if (url == NULL || vod_worker_addr(&w, url) != 0) {
        (void)fprintf(stderr, "cascade-origin worker: --origin http://HOST:PORT is required\n");
        return 2;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = vod_worker_signal;
    AZ(sigaction(SIGTERM, &sa, NULL));
    AZ(sigaction(SIGINT, &sa, NULL));
    pkg_global_init();
    if (vod_mkdirs(w.dir) != 0) {
        (void)fprintf(stderr, "cascade-origin worker: cannot make %s\n", w.dir);
        return 1;
    }
    w.base = event_base_new();
    AN(w.base);
    httpc_conf_defaults(&hc);
    hc.max_body = 0;
    hc.header_timeout_ms = 60000;
    hc.body_timeout_ms = 60000;
    w.hc = httpc_new(w.base, &hc);
    AN(w.hc);
    LOG(LOG_INFO, "vod_worker", "started", "conn=0 worker=%s origin=%s pid=%d", w.name, url,
        (int)getpid());
    while (!vod_worker_stop) {
        struct vod_worker_resp x;
        char t[256], why[512];
        json_t *job;
        int st, rc;

        (void)vod_fmt(t, sizeof(t), "/api/vod/jobs/claim?worker=%s-%d", w.name, (int)getpid());
        st = vod_worker_http(&w, "POST", t, "", 0, -1, &x);
        if (st != 200) {
            buf_free(&x.b);
            vod_worker_sleep(st == 204 ? 300 : 1000);
            idle++;
            continue;
        }
        idle = 0;
        job = json_loadb(x.b.p != NULL ? x.b.p : "", x.b.len, 0, NULL);
        buf_free(&x.b);
        if (job == NULL)
            continue;
        (void)vod_fmt(w.jid, sizeof(w.jid), "%s", json_string_value(json_object_get(job, "id")));
        (void)vod_fmt(w.lease, sizeof(w.lease), "%s",
                      json_string_value(json_object_get(job, "lease")));
        w.lease_ms = (uint64_t)json_integer_value(json_object_get(job, "lease_ms"));
        w.lost = false;
        why[0] = '\0';
        LOG(LOG_INFO, "vod_worker", "job_start", "conn=0 worker=%s job=%s", w.name, w.jid);
        rc = vod_worker_job(&w, job, why, sizeof(why));
        json_decref(job);
        if (rc != 0 && !w.lost && rc != ERR_EXISTS) {
            char enc[600];
            size_t o = 0;

            for (size_t i = 0; why[i] != '\0' && o + 4 < sizeof(enc); i++) {
                unsigned char c = (unsigned char)why[i];

                if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
                    enc[o++] = (char)c;
                else
                    o += (size_t)snprintf(enc + o, sizeof(enc) - o, "%%%02X", c);
            }
            enc[o] = '\0';
            LOG(LOG_WARN, "vod_worker", "job_failed", "conn=0 job=%s why=\"%s\"", w.jid, why);
            (void)vod_fmt(t, sizeof(t), "/api/vod/jobs/%s/fail?lease=%s&reason=%.150s", w.jid,
                          w.lease, enc);
            st = vod_worker_http(&w, "POST", t, "", 0, -1, &x);
            buf_free(&x.b);
        } else if (rc == 0) {
            LOG(LOG_INFO, "vod_worker", "job_done", "conn=0 worker=%s job=%s", w.name, w.jid);
        }
    }
    (void)idle;
    httpc_free(&w.hc);
    (void)event_base_loop(w.base, EVLOOP_NONBLOCK);
    event_base_free(w.base);
    return 0;
}
