/*
 * streams.c -- stream records and keys in LMDB, the /api/streams
 * handlers, and the in-memory set of streams being published.
 *
 * A create is one write transaction putting both records with
 * STORE_KV_NOOVERWRITE, so a name or a key is never half made. Keys are 16
 * bytes from getrandom() in hex. Records are JSON so later fields (title,
 * owner, ladder) extend them without a migration.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include <jansson.h>

#include "streams.h"
#include "err.h"
#include "httpd.h"
#include "log.h"
#include "mem.h"
#include "metrics.h"
#include "origin_http.h"
#include "store.h"
#include "compat.h"

#define STREAMS_BODY_MAX 4096
#define STREAMS_LIVE_MAX 4096
#define STREAMS_KEY_MAX 128 /* longest key a publisher may present */

struct streams {
    unsigned magic;
#define STREAMS_MAGIC 0x7374726dU
    struct store *store; /* owned */
    unsigned db_streams, db_keys;
    char *rtmp_host; /* owned: host[:port] for publish URLs */
    pthread_mutex_t mtx;
    char **live; /* owned, each; names with a publisher, under mtx */
    size_t nlive;
    struct metric *created;
};

static uint64_t
streams_now_ms(void)
{
    struct timespec ts;

    AZ(clock_gettime(CLOCK_REALTIME, &ts));
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int
streams_open(const char *meta_dir, const char *rtmp_listen, struct streams **out)
{
    struct store_conf sc;
    struct streams *s;
    int rc;

    s = xcalloc(1, sizeof(*s));
    s->magic = STREAMS_MAGIC;
    store_conf_defaults(&sc);
    sc.dir = meta_dir;
    sc.size = 256ull << 20;
    sc.sync = STORE_SYNC_FULL;
    sc.max_inflight_hits = 16;
    sc.evict_high_pct = 0;
    sc.evict_low_pct = 0;
    rc = store_open(&sc, &s->store);
    if (rc == 0)
        rc = store_kv_db(s->store, "streams", &s->db_streams);
    if (rc == 0)
        rc = store_kv_db(s->store, "stream_keys", &s->db_keys);
    if (rc != 0) {
        LOG(LOG_ERR, "streams", "open_failed", "conn=0 dir=%s err=%s", meta_dir, err_name(rc));
        if (s->store != NULL)
            store_close(&s->store);
        FREE_OBJ(s);
        return rc;
    }
    /* A wildcard listen address says nothing about how encoders reach us. */
    if (strncmp(rtmp_listen, "0.0.0.0:", 8) == 0 || strncmp(rtmp_listen, "[::]:", 5) == 0) {
        const char *port = strrchr(rtmp_listen, ':');
        size_t n = strlen("127.0.0.1") + strlen(port) + 1;

        s->rtmp_host = xmalloc(n);
        (void)snprintf(s->rtmp_host, n, "127.0.0.1%s", port);
    } else {
        s->rtmp_host = xstrdup(rtmp_listen);
    }
    AZ(pthread_mutex_init(&s->mtx, NULL));
    s->created = metrics_counter("origin.streams.created", "Streams created through the API.");
    *out = s;
    return 0;
}

void
streams_close(struct streams **ps)
{
    struct streams *s = *ps;
    size_t i;

    if (s == NULL)
        return;
    CHECK_OBJ(s, STREAMS_MAGIC);
    store_close(&s->store);
    for (i = 0; i < s->nlive; i++)
        xfree(s->live[i]);
    xfree(s->live);
    xfree(s->rtmp_host);
    AZ(pthread_mutex_destroy(&s->mtx));
    FREE_OBJ(s);
    *ps = NULL;
}

/* ---- records ---- */

static void
streams_random_hex(char *out, size_t nbytes)
{
    static const char hex[] = "0123456789abcdef";
    uint8_t raw[32];
    size_t i;

    assert(nbytes <= sizeof(raw));
    /* getrandom() on a few bytes does not fail once the pool is ready. */
    if (getrandom(raw, nbytes, 0) != (ssize_t)nbytes)
        abort();
    for (i = 0; i < nbytes; i++) {
        out[2 * i] = hex[raw[i] >> 4];
        out[2 * i + 1] = hex[raw[i] & 15];
    }
    out[2 * nbytes] = '\0';
}

int
streams_create(struct streams *s, const char *name, char *name_out, char *key_out)
{
    char nm[STREAMS_NAME_MAX + 1], key[STREAMS_KEY_LEN + 1], rec[256];
    struct store_txn *t = NULL;
    int rc, n;

    CHECK_OBJ_NOTNULL(s, STREAMS_MAGIC);
    if (name != NULL) {
        if (!origin_http_name_ok(name, strlen(name)))
            return ERR_INVAL;
        (void)snprintf(nm, sizeof(nm), "%s", name);
    } else {
        nm[0] = 's';
        streams_random_hex(nm + 1, 6);
    }
    streams_random_hex(key, STREAMS_KEY_LEN / 2);
    n = snprintf(rec, sizeof(rec), "{\"key\":\"%s\",\"created_ms\":%" PRIu64 "}", key,
                 streams_now_ms());
    rc = store_txn_begin(s->store, true, &t);
    if (rc != 0)
        return rc;
    rc = store_kv_put(t, s->db_streams, nm, strlen(nm), rec, (size_t)n, STORE_KV_NOOVERWRITE);
    if (rc == 0)
        rc = store_kv_put(t, s->db_keys, key, strlen(key), nm, strlen(nm), STORE_KV_NOOVERWRITE);
    if (rc != 0) {
        store_txn_abort(&t);
        return rc;
    }
    rc = store_txn_commit(&t);
    if (rc != 0)
        return rc;
    metric_inc(s->created);
    LOG(LOG_INFO, "streams", "created", "stream=%s", nm);
    memcpy(name_out, nm, strlen(nm) + 1);
    memcpy(key_out, key, sizeof(key));
    return 0;
}

int
streams_key_lookup(struct streams *s, const char *key, char *name, size_t namesz)
{
    struct store_txn *t = NULL;
    const void *val;
    size_t klen = strlen(key), vlen;
    int rc;

    CHECK_OBJ_NOTNULL(s, STREAMS_MAGIC);
    if (klen == 0 || klen > STREAMS_KEY_MAX)
        return ERR_NOTFOUND;
    rc = store_txn_begin(s->store, false, &t);
    if (rc != 0)
        return rc;
    rc = store_kv_get(t, s->db_keys, key, klen, &val, &vlen);
    if (rc == 0) {
        if (vlen == 0 || vlen >= namesz || vlen > STREAMS_NAME_MAX) {
            rc = ERR_STORE;
        } else {
            memcpy(name, val, vlen);
            name[vlen] = '\0';
        }
    }
    store_txn_abort(&t);
    return rc;
}

/* ---- the live set ---- */

static long
streams_live_find(const struct streams *s, const char *name)
{
    size_t i;

    for (i = 0; i < s->nlive; i++)
        if (strcmp(s->live[i], name) == 0)
            return (long)i;
    return -1;
}

int
streams_live_begin(struct streams *s, const char *name)
{
    int rc = 0;

    CHECK_OBJ_NOTNULL(s, STREAMS_MAGIC);
    AZ(pthread_mutex_lock(&s->mtx));
    if (streams_live_find(s, name) >= 0) {
        rc = ERR_EXISTS;
    } else if (s->nlive >= STREAMS_LIVE_MAX) {
        rc = ERR_LIMIT;
    } else {
        s->live = xrealloc(s->live, (s->nlive + 1) * sizeof(*s->live));
        s->live[s->nlive++] = xstrdup(name);
    }
    AZ(pthread_mutex_unlock(&s->mtx));
    return rc;
}

void
streams_live_end(struct streams *s, const char *name)
{
    long i;

    CHECK_OBJ_NOTNULL(s, STREAMS_MAGIC);
    AZ(pthread_mutex_lock(&s->mtx));
    i = streams_live_find(s, name);
    if (i >= 0) {
        xfree(s->live[i]);
        s->live[i] = s->live[--s->nlive];
    }
    AZ(pthread_mutex_unlock(&s->mtx));
}

bool
streams_is_live(struct streams *s, const char *name)
{
    bool live;

    CHECK_OBJ_NOTNULL(s, STREAMS_MAGIC);
    AZ(pthread_mutex_lock(&s->mtx));
    live = streams_live_find(s, name) >= 0;
    AZ(pthread_mutex_unlock(&s->mtx));
    return live;
}

/* ---- the API ---- */

static void
streams_send_json(struct httpd_req *r, int status, json_t *j)
{
    size_t n;
    char *buf;

    n = json_dumpb(j, NULL, 0, JSON_COMPACT);
    buf = xmalloc(n + 1);
    AZ(n != json_dumpb(j, buf, n, JSON_COMPACT));
    buf[n] = '\n';
    json_decref(j);
    origin_http_cors(r);
    httpd_resp_set(r, "Cache-Control", "no-store");
    httpd_resp_send(r, status, "application/json", buf, n + 1);
    xfree(buf);
}

/* {"name", "live", "created_ms"} from a stored record; NULL when the record is bad. */
static json_t *
streams_record_json(struct streams *s, const char *name, size_t nlen, const void *val, size_t vlen)
{
    json_error_t jerr;
    json_t *rec, *out;
    char nm[STREAMS_NAME_MAX + 1];

    if (nlen > STREAMS_NAME_MAX)
        return NULL;
    memcpy(nm, name, nlen);
    nm[nlen] = '\0';
    rec = json_loadb(val, vlen, 0, &jerr);
    if (rec == NULL)
        return NULL;
    out = json_pack("{s:s, s:b, s:I}", "name", nm, "live", streams_is_live(s, nm), "created_ms",
                    (json_int_t)json_integer_value(json_object_get(rec, "created_ms")));
    if (out != NULL && json_is_string(json_object_get(rec, "disclaimer")))
        AZ(json_object_set(out, "disclaimer", json_object_get(rec, "disclaimer")));
    json_decref(rec);
    return out;
}

bool
streams_disclaimer_ok(const char *text)
{
    size_t n = strlen(text), i;

    if (n == 0 || n > STREAMS_DISCLAIMER_MAX)
        return false;
    for (i = 0; i < n; i++) {
        char c = text[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              (c != '\0' && strchr(" .,!?()-+/#@&_", c) != NULL)))
            return false;
    }
    return true;
}

int
streams_disclaimer(struct streams *s, const char *name, char *out, size_t outsz)
{
    struct store_txn *t = NULL;
    json_error_t jerr;
    const void *val;
    json_t *rec, *d;
    size_t vlen;
    int rc;

    CHECK_OBJ_NOTNULL(s, STREAMS_MAGIC);
    rc = store_txn_begin(s->store, false, &t);
    if (rc != 0)
        return rc;
    rc = store_kv_get(t, s->db_streams, name, strlen(name), &val, &vlen);
    rec = rc == 0 ? json_loadb(val, vlen, 0, &jerr) : NULL;
    store_txn_abort(&t);
    if (rc != 0)
        return rc;
    d = rec != NULL ? json_object_get(rec, "disclaimer") : NULL;
    rc = ERR_NOTFOUND;
    if (json_is_string(d) && json_string_length(d) < outsz) {
        (void)snprintf(out, outsz, "%s", json_string_value(d));
        rc = 0;
    }
    if (rec != NULL)
        json_decref(rec);
    return rc;
}

/* Sets (text) or clears (NULL) the stream's disclaimer in its record. */
static int
streams_disclaimer_set(struct streams *s, const char *name, const char *text)
{
    struct store_txn *t = NULL;
    json_error_t jerr;
    const void *val;
    json_t *rec = NULL;
    size_t vlen;
    char *enc = NULL;
    int rc;

    rc = store_txn_begin(s->store, true, &t);
    if (rc != 0)
        return rc;
    rc = store_kv_get(t, s->db_streams, name, strlen(name), &val, &vlen);
    if (rc == 0) {
        rec = json_loadb(val, vlen, 0, &jerr);
        if (rec == NULL || !json_is_object(rec))
            rc = ERR_STORE;
    }
    if (rc == 0) {
        if (text != NULL)
            AZ(json_object_set_new(rec, "disclaimer", json_string(text)));
        else
            (void)json_object_del(rec, "disclaimer");
        enc = json_dumps(rec, JSON_COMPACT);
        rc = enc != NULL ? store_kv_put(t, s->db_streams, name, strlen(name), enc, strlen(enc), 0)
                         : ERR_STORE;
    }
    if (rc == 0)
        rc = store_txn_commit(&t);
    else
        store_txn_abort(&t);
    free(enc); /* jansson's allocation */
    if (rec != NULL)
        json_decref(rec);
    if (rc == 0)
        LOG(LOG_INFO, "streams", "disclaimer", "stream=%s set=%d", name, text != NULL);
    return rc;
}

struct streams_list {
    struct streams *s;
    json_t *arr;
};

static int
streams_list_one(void *arg, const void *key, size_t key_len, const void *val, size_t val_len)
{
    struct streams_list *l = arg;
    json_t *o = streams_record_json(l->s, key, key_len, val, val_len);

    if (o != NULL)
        AZ(json_array_append_new(l->arr, o));
    return json_array_size(l->arr) >= 10000 ? 1 : 0;
}

static void
streams_api_list(struct streams *s, struct httpd_req *r)
{
    struct streams_list l = {s, json_array()};
    struct store_txn *t = NULL;
    int rc;

    rc = store_txn_begin(s->store, false, &t);
    if (rc == 0) {
        rc = store_kv_iter(t, s->db_streams, "", 0, NULL, 0, streams_list_one, &l);
        store_txn_abort(&t);
    }
    if (rc < 0) {
        json_decref(l.arr);
        httpd_resp_error(r, 503, "store", "the metadata store failed");
        return;
    }
    streams_send_json(r, 200, json_pack("{s:o}", "streams", l.arr));
}

static void
streams_api_get(struct streams *s, struct httpd_req *r, const char *name)
{
    struct store_txn *t = NULL;
    const void *val;
    json_t *o = NULL;
    size_t vlen;
    int rc;

    if (!origin_http_name_ok(name, strlen(name))) {
        httpd_resp_error(r, 404, "not_found", "no such stream");
        return;
    }
    rc = store_txn_begin(s->store, false, &t);
    if (rc == 0) {
        rc = store_kv_get(t, s->db_streams, name, strlen(name), &val, &vlen);
        if (rc == 0)
            o = streams_record_json(s, name, strlen(name), val, vlen);
        store_txn_abort(&t);
    }
    if (rc == ERR_NOTFOUND) {
        httpd_resp_error(r, 404, "not_found", "no such stream");
        return;
    }
    if (rc != 0 || o == NULL) {
        httpd_resp_error(r, 503, "store", "the metadata store failed");
        return;
    }
    streams_send_json(r, 200, o);
}

struct streams_post {
    unsigned magic;
#define STREAMS_POST_MAGIC 0x73706f73U
    struct streams *s;
    char put_name[STREAMS_NAME_MAX + 1]; /* PUT /api/streams/{name}; "" for POST */
    char body[STREAMS_BODY_MAX];
    size_t len;
    bool too_big;
};

static void
streams_post_data(struct httpd_req *r, const void *data, size_t len, void *arg)
{
    struct streams_post *p;

    (void)r;
    CAST_OBJ_NOTNULL(p, arg, STREAMS_POST_MAGIC);
    if (len > sizeof(p->body) - p->len) {
        p->too_big = true;
        return;
    }
    memcpy(p->body + p->len, data, len);
    p->len += len;
}

static void
streams_post_end(struct httpd_req *r, int err, void *arg)
{
    char name[STREAMS_NAME_MAX + 1], key[STREAMS_KEY_LEN + 1], url[512];
    const char *want = NULL;
    struct streams_post *p;
    json_error_t jerr;
    const char *disclaimer = NULL;
    json_t *in = NULL, *jn, *jd;
    int rc;

    CAST_OBJ_NOTNULL(p, arg, STREAMS_POST_MAGIC);
    if (err != 0 || p->too_big) {
        httpd_resp_error(r, err == ERR_PROTO ? 400 : 413, "bad_body",
                         "the request body is malformed or too large");
        goto out;
    }
    if (p->len > 0) {
        in = json_loadb(p->body, p->len, JSON_REJECT_DUPLICATES, &jerr);
        if (in == NULL || !json_is_object(in)) {
            httpd_resp_error(r, 400, "bad_json", "the body must be a JSON object");
            goto out;
        }
        jn = json_object_get(in, "name");
        if (jn != NULL && !json_is_string(jn)) {
            httpd_resp_error(r, 400, "bad_name", "name must be a string");
            goto out;
        }
        want = jn != NULL ? json_string_value(jn) : NULL;
        jd = json_object_get(in, "disclaimer");
        if (jd != NULL && !json_is_null(jd) &&
            (!json_is_string(jd) || !streams_disclaimer_ok(json_string_value(jd)))) {
            httpd_resp_error(r, 400, "bad_disclaimer",
                             "disclaimer is null or 1 to 200 of A-Z a-z 0-9 space . , ! ? ( ) - + "
                             "/ # @ & _");
            goto out;
        }
        disclaimer = jd != NULL && json_is_string(jd) ? json_string_value(jd) : NULL;
    }
    if (p->put_name[0] != '\0') {
        if (in == NULL || json_object_get(in, "disclaimer") == NULL) {
            httpd_resp_error(r, 400, "bad_body", "PUT takes {\"disclaimer\": \"...\" | null}");
            goto out;
        }
        rc = streams_disclaimer_set(p->s, p->put_name, disclaimer);
        if (rc == ERR_NOTFOUND)
            httpd_resp_error(r, 404, "not_found", "no such stream");
        else if (rc != 0)
            httpd_resp_error(r, 503, "store", "the metadata store failed");
        else
            streams_api_get(p->s, r, p->put_name);
        goto out;
    }
    rc = streams_create(p->s, want, name, key);
    if (rc == 0 && disclaimer != NULL)
        rc = streams_disclaimer_set(p->s, name, disclaimer);
    if (rc == ERR_INVAL) {
        httpd_resp_error(r, 400, "bad_name", "a stream name is 1 to 64 of A-Z a-z 0-9 . _ -");
        goto out;
    }
    if (rc == ERR_EXISTS) {
        httpd_resp_error(r, 409, "exists", "a stream with this name exists");
        goto out;
    }
    if (rc != 0) {
        httpd_resp_error(r, 503, "store", "the metadata store failed");
        goto out;
    }
    (void)snprintf(url, sizeof(url), "rtmp://%s/live/%s", p->s->rtmp_host, key);
    {
        char mpd[128], m3u8[128], model[128];

        (void)snprintf(mpd, sizeof(mpd), "/live/%s/manifest.mpd", name);
        (void)snprintf(m3u8, sizeof(m3u8), "/live/%s/master.m3u8", name);
        (void)snprintf(model, sizeof(model), "/live/%s/model.json", name);
        streams_send_json(r, 201,
                          json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "name", name, "key", key,
                                    "publish_url", url, "manifest", mpd, "master", m3u8, "model",
                                    model));
    }
out:
    if (in != NULL)
        json_decref(in);
    FREE_OBJ(p);
}

void
streams_api(struct streams *s, struct httpd_req *r)
{
    const char *path = httpd_req_path(r);
    enum http1_method m = httpd_req_method(r);
    struct streams_post *p;

    CHECK_OBJ_NOTNULL(s, STREAMS_MAGIC);
    if (strcmp(path, "/api/streams") == 0 || strcmp(path, "/api/streams/") == 0) {
        if (m == HTTP1_M_GET || m == HTTP1_M_HEAD) {
            streams_api_list(s, r);
            return;
        }
        if (m == HTTP1_M_POST) {
            p = xcalloc(1, sizeof(*p));
            p->magic = STREAMS_POST_MAGIC;
            p->s = s;
            httpd_req_read_body(r, streams_post_data, streams_post_end, p);
            return;
        }
    } else if (strncmp(path, "/api/streams/", 13) == 0) {
        if (m == HTTP1_M_GET || m == HTTP1_M_HEAD) {
            streams_api_get(s, r, path + 13);
            return;
        }
        if (m == HTTP1_M_PUT) {
            if (!origin_http_name_ok(path + 13, strlen(path + 13))) {
                httpd_resp_error(r, 404, "not_found", "no such stream");
                return;
            }
            p = xcalloc(1, sizeof(*p));
            p->magic = STREAMS_POST_MAGIC;
            p->s = s;
            (void)snprintf(p->put_name, sizeof(p->put_name), "%s", path + 13);
            httpd_req_read_body(r, streams_post_data, streams_post_end, p);
            return;
        }
    } else {
        httpd_resp_error(r, 404, "not_found", "no such API resource");
        return;
    }
    httpd_resp_set(r, "Allow", "GET, HEAD, POST, PUT");
    httpd_resp_error(r, 405, "method_not_allowed", "this resource does not take that method");
}
