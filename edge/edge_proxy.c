/*
 * edge_proxy.c -- answering clients (edge_proxy.h).
 *
 * The request flow:
 *
 *   PURGE, POST /admin/purge     purge.c
 *   other methods                pass: the request as it is (body read
 *                                first), the answer relayed, then the
 *                                invalidations RFC 9111 4.4 asks for
 *   GET, HEAD                    key, lookup (following a Vary marker to
 *                                the variant), cache_policy_serve():
 *     FRESH, STALE               answered from the store, now
 *     STALE_REVALIDATE           answered from the store, and a background
 *                                revalidation starts (one per key)
 *     REVALIDATE, MISS           attached to the key's collapse entry (or
 *                                its leader); answered when the head comes
 *     PASS                       a fetch of its own (hit-for-miss marker,
 *                                forwarded preconditions)
 *     GATEWAY_TIMEOUT            504
 *
 * Answers from a stored or fetched object go through one function,
 * edge_answer_start(): cache_policy_conditional() decides 200, 206, 304,
 * 412 or 416; the stored fields are sent with our Age, Via and
 * Cache-Status (RFC 9211) added. Hit bodies leave LMDB by reference
 * (store_hit_add_body() into the worker's scratch evbuffer, whose chains
 * httpd takes over without a copy).
 *
 * Ownership: struct edge_req is owned by its request: freed when the
 * response ends (or is aborted) or from the request's on_close. Restarts
 * (a Vary mismatch, an answer not shared, an object gone before its 304)
 * run from the request's own timer event, never inside collapse's
 * callbacks.
 */
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "access_log.h"
#include "edge_fetch.h"
#include "edge_proxy.h"
#include "err.h"
#include "httpd.h"
#include "log.h"
#include "mem.h"
#include "metrics.h"
#include "node.h"
#include "purge.h"
#include "store.h"
#include "compat.h"

/* Restarts a request may make before it is answered 502. */
#define EDGE_RESTARTS_MAX 3

static atomic_uint edge_proxy_nwaiting;

unsigned
edge_proxy_waiting(void)
{
    return atomic_load(&edge_proxy_nwaiting);
}

/* ---- helpers ---- */

int64_t
edge_now(void)
{
    struct timespec ts;

    AZ(clock_gettime(CLOCK_REALTIME_COARSE, &ts));
    return (int64_t)ts.tv_sec;
}

uint64_t
edge_mono_ms(void)
{
    struct timespec ts;

    AZ(clock_gettime(CLOCK_MONOTONIC, &ts));
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static double
edge_ms_since(uint64_t start_ms)
{
    struct timespec ts;
    double now;

    AZ(clock_gettime(CLOCK_MONOTONIC, &ts));
    now = (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
    return now - (double)start_ms;
}

size_t
edge_req_fields(struct httpd_req *r, struct cache_field *f, size_t cap)
{
    const char *name, *value;
    size_t i, n = httpd_req_header_count(r);

    if (n > cap)
        n = cap;
    for (i = 0; i < n; i++) {
        httpd_req_header_at(r, i, &name, &value);
        f[i].name = name;
        f[i].name_len = (uint32_t)strlen(name);
        f[i].value = value;
        f[i].value_len = (uint32_t)strlen(value);
    }
    return n;
}

int
edge_req_key(struct httpd_req *r, char *out, size_t cap)
{
    const char *target = httpd_req_target(r), *path, *query;
    char buf[CACHE_KEY_MAX];
    size_t plen, qlen;
    int rc;

    if (target[0] == '/') {
        rc = cache_key_build(out, cap, "", 0, 0, target, strlen(target));
    } else {
        /* absolute-form: the key is the path and query, like everyone else's */
        path = httpd_req_path(r);
        query = httpd_req_query(r);
        plen = strlen(path);
        qlen = query != NULL ? strlen(query) : 0;
        if (plen == 0 || path[0] != '/' || plen + qlen + 1 > sizeof(buf))
            return ERR_PROTO;
        memcpy(buf, path, plen);
        if (query != NULL) {
            buf[plen] = '?';
            memcpy(buf + plen + 1, query, qlen);
            plen += qlen + 1;
        }
        rc = cache_key_build(out, cap, "", 0, 0, buf, plen);
    }
    return rc;
}

bool
edge_hop_by_hop(const char *name, size_t len, const struct cache_fields *all)
{
    /* SPEC: RFC 9110 7.6.1 -- and Proxy-* and the pre-standard Keep-Alive family */
    static const char *const hop[] = {"connection",
                                      "keep-alive",
                                      "proxy-connection",
                                      "te",
                                      "trailer",
                                      "transfer-encoding",
                                      "upgrade",
                                      "proxy-authenticate",
                                      "proxy-authorization"};
    const struct cache_field *line = NULL;
    struct cache_span el;
    uint32_t pos = 0;
    size_t i;

    for (i = 0; i < ARRAY_SIZE(hop); i++)
        if (cache_name_eq(name, len, hop[i]))
            return true;
    while (all != NULL && cache_fields_list_next(all, "connection", &line, &pos, &el))
        if (cache_name_eq_n(name, len, el.p, el.len))
            return true;
    return false;
}

/* Writes the access-log line for r (before its response ends) and counts its bytes. */
static void
edge_log(struct edge_worker *w, struct httpd_req *r, const char *cache, double upstream_ms,
         uint64_t start_ms)
{
    struct access_log_entry le;
    char sid[128];
    uint64_t bytes = httpd_resp_bytes(r);

    metric_add(edge_g.m.bytes_out, bytes);
    if (!access_log_on(w->alog))
        return;
    memset(&le, 0, sizeof(le));
    le.client = httpd_req_peer(r);
    le.method = httpd_req_method_str(r);
    le.path = httpd_req_target(r);
    le.status = httpd_resp_status(r);
    le.bytes = bytes;
    le.cache = cache;
    le.upstream_ms = upstream_ms;
    le.total_ms = edge_ms_since(start_ms);
    le.sid_len = access_log_cmcd_sid(httpd_req_query(r), httpd_req_header(r, "CMCD-Session"), sid,
                                     sizeof(sid));
    le.sid = le.sid_len > 0 ? sid : NULL;
    access_log_write(w->alog, &le);
}

/* An error answer in the JSON form httpd uses, logged. code and message are ours (no escaping). */
static void
edge_reply_error(struct edge_worker *w, struct httpd_req *r, int status, const char *code,
                 const char *message, const char *cache, double upstream_ms, uint64_t start_ms)
{
    char cs[96], body[256];
    int n;

    (void)snprintf(cs, sizeof(cs), "%s; fwd=%s", edge_g.name,
                   status == 504 || status == 502 ? "miss; detail=upstream-failed" : "bypass");
    n = snprintf(body, sizeof(body), "{\"error\":{\"code\":\"%s\",\"message\":\"%s\"}}\n", code,
                 message);
    assert(n > 0 && (size_t)n < sizeof(body));
    httpd_resp_set(r, "Cache-Status", cs);
    httpd_resp_set(r, "Cache-Control", "no-store");
    httpd_resp_set(r, "Content-Type", "application/json");
    if (status == 503)
        httpd_resp_set(r, "Retry-After", "1");
    httpd_resp_start(r, status, n);
    if (httpd_resp_write(r, body, (size_t)n) != 0) {
        /* the client is gone: the end below is all that is left to do */
    }
    edge_log(w, r, cache, upstream_ms, start_ms);
    httpd_resp_end(r);
}

/* ---- answering from an object ---- */

struct edge_answer {
    bool ended; /* the whole answer went out (412, 416, no body) */
    bool body;  /* body bytes [off, off + len) follow */
    uint64_t off;
    uint64_t len; /* UINT64_MAX: to the end (length unknown) */
};

/*
 * Sends the stored fields sfs (from edge_obj_fields(): NUL-terminated in
 * place, and checked by edge_obj_parse() or edge_obj_build(), so httpd
 * takes them as they are). Only framing fields would be refused, and a
 * block never holds one.
 */
static void
edge_emit_fields(struct httpd_req *r, const struct cache_fields *sfs, bool for_304, bool skip_age)
{
    const struct cache_field *f;
    bool has_etag = false;
    size_t i;

    if (for_304)
        for (i = 0; i < sfs->n; i++)
            if (cache_name_eq(sfs->v[i].name, sfs->v[i].name_len, "etag"))
                has_etag = true;
    for (i = 0; i < sfs->n; i++) {
        f = &sfs->v[i];
        if (skip_age && cache_name_eq(f->name, f->name_len, "age"))
            continue;
        if (for_304 && !cache_policy_field_in_304(f->name, f->name_len, has_etag))
            continue;
        httpd_resp_set_n(r, f->name, f->name_len, f->value, f->value_len);
    }
}

/* Decimal digits of v (may be negative) at p, NUL-terminated; returns the length. */
static size_t
edge_fmt_i64(char *p, int64_t v)
{
    char tmp[24];
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    size_t n = 0, i = 0;

    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u != 0);
    if (v < 0)
        p[i++] = '-';
    while (n > 0)
        p[i++] = tmp[--n];
    p[i] = '\0';
    return i;
}

static void
edge_emit_ours(struct httpd_req *r, int64_t age, const char *cs)
{
    char buf[256];
    size_t n, c;

    if (age >= 0) {
        n = edge_fmt_i64(buf, age);
        httpd_resp_set_n(r, "Age", 3, buf, n);
    }
    /* SPEC: RFC 9110 7.6.3 -- Via; RFC 9211 2 -- our member of Cache-Status, last */
    httpd_resp_set_n(r, "Via", 3, edge_g.via, strlen(edge_g.via));
    n = strlen(edge_g.name);
    c = strnlen(cs, sizeof(buf) - n - 3);
    memcpy(buf, edge_g.name, n);
    memcpy(buf + n, "; ", 2);
    memcpy(buf + n + 2, cs, c);
    buf[n + 2 + c] = '\0';
    httpd_resp_set_n(r, "Cache-Status", 12, buf, n + 2 + c);
}

/*
 * Starts the answer to r from obj (a stored response, or a fetched head)
 * of body length length (-1: unknown yet). age < 0: no Age field of ours.
 * With evaluate, the client's conditionals and Range are answered here
 * (SPEC: RFC 9110 13.2.2, 14); else the status is relayed as it is.
 */
static void
edge_answer_start(struct edge_worker *w, struct httpd_req *r, const struct cache_req *q,
                  const struct edge_obj *obj, int64_t length, int64_t age, const char *cs,
                  bool evaluate, struct edge_answer *a)
{
    struct cache_field sf[EDGE_FIELDS_MAX];
    struct cache_fields sfs;
    struct cache_cond_result res;
    struct cache_req qq = *q;
    bool head = httpd_req_method(r) == HTTP1_M_HEAD;
    int status = obj->status;

    memset(a, 0, sizeof(*a));
    memset(&res, 0, sizeof(res));
    res.what = CACHE_COND_200;
    sfs.v = sf;
    sfs.n = edge_obj_fields(obj, sf, ARRAY_SIZE(sf));
    if (evaluate) {
        if (length < 0)
            qq.flags &= ~(uint32_t)(CACHE_REQ_RANGE | CACHE_REQ_IF_RANGE);
        cache_policy_conditional(&w->policy, &qq, &sfs, &obj->meta,
                                 length < 0 ? 0 : (uint64_t)length, &res);
    }
    switch (res.what) {
    case CACHE_COND_412:
    case CACHE_COND_416:
        if (res.what == CACHE_COND_416)
            httpd_resp_set(r, "Content-Range", res.content_range);
        edge_emit_ours(r, age, cs);
        httpd_resp_start(r, res.what == CACHE_COND_412 ? 412 : 416, 0);
        a->ended = true;
        return;
    case CACHE_COND_304:
        edge_emit_fields(r, &sfs, true, age >= 0);
        edge_emit_ours(r, age, cs);
        httpd_resp_start(r, 304, -1);
        a->ended = true;
        return;
    case CACHE_COND_206:
        edge_emit_fields(r, &sfs, false, age >= 0);
        httpd_resp_set(r, "Content-Range", res.content_range);
        edge_emit_ours(r, age, cs);
        httpd_resp_start(r, 206, (int64_t)(res.last - res.first + 1));
        a->off = res.first;
        a->len = res.last - res.first + 1;
        break;
    default:
        edge_emit_fields(r, &sfs, false, age >= 0);
        edge_emit_ours(r, age, cs);
        httpd_resp_start(r, status, length);
        a->off = 0;
        a->len = length < 0 ? UINT64_MAX : (uint64_t)length;
        break;
    }
    /* SPEC: RFC 9110 9.3.2, 15.3.5, 15.4.5 -- no body for HEAD, 204, 304 */
    a->body = !head && status != 204 && status != 304 && a->len > 0;
    a->ended = !a->body;
}

/* ---- lookups ---- */

struct edge_lookup {
    struct store_hit *hit; /* ref, or NULL: nothing usable */
    struct edge_obj obj;   /* borrowed from hit */
    char key[EDGE_KEY_MAX + 1];
    size_t key_len; /* the key obj sits under (primary, or primary + Vary key) */
    size_t primary_len;
};

/* Opens key; 0 with lk->hit set, or ERR_NOTFOUND. A bad block is a miss. */
static int
edge_lookup_open(struct edge_worker *w, const char *key, size_t len, struct edge_lookup *lk)
{
    const void *hdr;
    size_t hlen;
    int rc;

    rc = store_hit_open(w->sl, key, len, &lk->hit);
    if (rc != 0)
        return ERR_NOTFOUND; /* absent, corrupt (the store drops it), or no reader slot */
    hdr = store_hit_peek_headers(lk->hit, &hlen);
    if (edge_obj_parse(hdr, hlen, &lk->obj) != 0) {
        LOG_RL(LOG_WARN, "edge", "bad_block", 10, "conn=0 len=%zu", hlen);
        store_hit_unref(&lk->hit);
        if (store_purge(edge_g.store, key, len, NULL, NULL, NULL) != 0) {
            /* the writer's queue is full: the next hit finds it and tries again */
        }
        return ERR_NOTFOUND;
    }
    return 0;
}

/*
 * Finds what is stored for the primary key (following a Vary marker).
 * 0: lk->hit set or NULL (nothing). ERR_LIMIT: the variant cannot be
 * keyed (pass the request uncached).
 */
static int
edge_lookup(struct edge_worker *w, const char *key, size_t klen, const struct cache_fields *qfs,
            struct edge_lookup *lk)
{
    struct cache_field vf[EDGE_OBJ_FIELDS_MAX];
    struct cache_fields vfs;
    char vkey[CACHE_VARY_MAX];
    int vlen;

    memset(lk, 0, sizeof(*lk));
    memcpy(lk->key, key, klen);
    lk->key_len = klen;
    lk->primary_len = klen;
    if (edge_lookup_open(w, key, klen, lk) != 0)
        return 0;
    if (lk->obj.kind != EDGE_OBJ_VARY)
        return 0;
    vfs.v = vf;
    vfs.n = edge_obj_fields(&lk->obj, vf, ARRAY_SIZE(vf));
    vlen = cache_key_vary(vkey, sizeof(vkey), &vfs, qfs);
    store_hit_unref(&lk->hit);
    if (vlen < 0 || klen + 1 + (size_t)vlen > EDGE_KEY_MAX)
        return ERR_LIMIT;
    lk->key[klen] = EDGE_OBJ_VARY_SEP;
    memcpy(lk->key + klen + 1, vkey, (size_t)vlen);
    lk->key_len = klen + 1 + (size_t)vlen;
    if (edge_lookup_open(w, lk->key, lk->key_len, lk) == 0 && lk->obj.kind == EDGE_OBJ_VARY)
        store_hit_unref(&lk->hit); /* a marker under a variant key: nonsense, a miss */
    return 0;
}

/*
 * The store's reaper found a zero-copy hit older than cache.max_reader_age:
 * its read transaction pins pages the writer could reuse, and the client
 * holding it reads too slowly to matter. Its connection goes (the
 * references in its output buffer go with it, and so does the hit).
 */
static void
edge_hit_expired(struct store_hit *hit, void *arg)
{
    struct edge_worker *w;

    CAST_OBJ_NOTNULL(w, arg, EDGE_WORKER_MAGIC);
    if (node_worker_conn_reset(w->nw, store_hit_owner_id(hit)) == 0)
        LOG_RL(LOG_INFO, "edge", "slow_reader_reset", 10, "conn=%" PRIu64, store_hit_owner_id(hit));
}

/*
 * Answers r from the hit in lk (its ref is consumed). cs: our
 * Cache-Status member; cache: the access log's word.
 */
static void
edge_serve_hit(struct edge_worker *w, struct httpd_req *r, const struct cache_req *q,
               struct edge_lookup *lk, int64_t age, const char *cs, const char *cache,
               double upstream_ms, uint64_t start_ms)
{
    const struct store_hit_info *info = store_hit_info(lk->hit);
    struct edge_answer a;
    uint64_t len;
    int rc;

    edge_answer_start(w, r, q, &lk->obj, (int64_t)info->body_len, age, cs, true, &a);
    if (a.body) {
        len = a.len > info->body_len - a.off ? info->body_len - a.off : a.len;
        if (info->zero_copy) {
            store_hit_set_owner(lk->hit, edge_hit_expired, w);
            store_hit_set_owner_id(lk->hit, httpd_req_conn_id(r));
        }
        rc = store_hit_add_body(lk->hit, w->scratch, a.off, len);
        if (rc == 0)
            rc = httpd_resp_add_buffer(r, w->scratch);
        if (rc != 0) {
            /* Refused references release their refs; what is queued goes. */
            (void)evbuffer_drain(w->scratch, evbuffer_get_length(w->scratch));
            edge_log(w, r, cache, upstream_ms, start_ms);
            store_hit_unref(&lk->hit);
            httpd_resp_abort(r);
            return;
        }
    }
    edge_log(w, r, cache, upstream_ms, start_ms);
    store_hit_unref(&lk->hit);
    httpd_resp_end(r);
}

/* ---- requests that wait ---- */

enum edge_req_kind {
    EDGE_RK_CACHE = 0, /* GET for the cache */
    EDGE_RK_PASS,      /* the request as it is */
};

enum edge_restart {
    EDGE_RESTART_NONE = 0,
    EDGE_RESTART_PRIVATE, /* the answer was not shared: fetch alone */
    EDGE_RESTART_JOIN,    /* join (or lead) the entry for er->key */
};

struct edge_req {
    unsigned magic;
#define EDGE_REQ_MAGIC 0x65647271U
    struct edge_worker *w; /* borrowed */
    struct httpd_req *r;   /* borrowed: it owns us */
    struct collapse_waiter wt;
    struct event *restart_ev; /* owned, made on first use */
    enum edge_restart restart;
    struct cache_field qf[EDGE_FIELDS_MAX]; /* borrowed from r's strings */
    struct cache_fields qfs;
    struct cache_req q;
    enum cache_method cm;
    enum edge_req_kind kind;
    char key[EDGE_KEY_MAX + 1];
    size_t key_len, primary_len;
    bool store_ok;
    bool revalidate; /* the answer came from a revalidation (304) */
    char etag[256];  /* validators of the stored response, "" for none */
    char last_modified[64];
    bool have_stale; /* stale_meta: a stored response to fall back on */
    struct cache_meta stale_meta;
    bool hfm;
    bool collapsed;
    bool from_memory; /* joined a complete fetch: answered like a hit */
    unsigned restarts;
    uint64_t start_ms;
    double upstream_ms;
    struct evbuffer *body; /* owned: a request body to pass on */
};

static void edge_req_on_head(struct collapse_waiter *wt, const struct collapse_head *hd, bool mine,
                             int err);
static void edge_req_on_done(struct collapse_waiter *wt, int err);

static const struct collapse_waiter_ops edge_req_ops = {
    .on_head = edge_req_on_head,
    .on_done = edge_req_on_done,
};

static struct edge_req *
edge_req_from(struct collapse_waiter *wt)
{
    struct edge_req *er = (struct edge_req *)(void *)((char *)wt - offsetof(struct edge_req, wt));

    CHECK_OBJ_NOTNULL(er, EDGE_REQ_MAGIC);
    return er;
}

static void edge_req_on_close(struct httpd_req *r, void *arg);

static struct edge_req *
edge_req_new(struct edge_worker *w, struct httpd_req *r, const struct cache_fields *qfs,
             const struct cache_req *q, enum edge_req_kind kind, uint64_t start_ms)
{
    struct edge_req *er = xcalloc(1, sizeof(*er));

    er->magic = EDGE_REQ_MAGIC;
    er->w = w;
    er->r = r;
    er->wt.magic = COLLAPSE_WAITER_MAGIC;
    er->wt.ops = &edge_req_ops;
    er->wt.r = r;
    memcpy(er->qf, qfs->v, qfs->n * sizeof(*qfs->v));
    er->qfs.v = er->qf;
    er->qfs.n = qfs->n;
    er->q = *q;
    er->q.fields = &er->qfs;
    er->cm = q->method;
    er->kind = kind;
    er->store_ok = true;
    er->start_ms = start_ms;
    er->upstream_ms = -1;
    atomic_fetch_add(&edge_proxy_nwaiting, 1);
    httpd_req_on_close(r, edge_req_on_close, er);
    return er;
}

static void
edge_req_free(struct edge_req *er)
{
    collapse_leave(&er->wt);
    httpd_req_on_close(er->r, NULL, NULL);
    if (er->restart_ev != NULL)
        event_free(er->restart_ev);
    if (er->body != NULL)
        evbuffer_free(er->body);
    atomic_fetch_sub(&edge_proxy_nwaiting, 1);
    FREE_OBJ(er);
}

/* The client went away: nothing more to answer. */
static void
edge_req_on_close(struct httpd_req *r, void *arg)
{
    struct edge_req *er;

    (void)r;
    CAST_OBJ_NOTNULL(er, arg, EDGE_REQ_MAGIC);
    edge_req_free(er);
}

/* Ends er's response (logged) and frees er. */
static void
edge_req_end(struct edge_req *er, const char *cache, bool abort)
{
    struct httpd_req *r = er->r;

    edge_log(er->w, r, cache, er->upstream_ms, er->start_ms);
    edge_req_free(er);
    if (abort)
        httpd_resp_abort(r);
    else
        httpd_resp_end(r);
}

static void
edge_req_error(struct edge_req *er, int status, const char *code, const char *message,
               const char *cache)
{
    struct httpd_req *r = er->r;
    struct edge_worker *w = er->w;
    double up = er->upstream_ms;
    uint64_t start = er->start_ms;

    edge_req_free(er);
    edge_reply_error(w, r, status, code, message, cache, up, start);
}

static const char *
edge_req_cache_word(const struct edge_req *er, const struct collapse_head *hd)
{
    if (er->kind == EDGE_RK_PASS || er->hfm)
        return "pass";
    if (er->from_memory)
        return "hit";
    if (er->collapsed)
        return "collapsed";
    if (hd != NULL && hd->fwd_status == 304)
        return "revalidated";
    return "miss";
}

static void edge_req_start_fetch(struct edge_req *er, struct collapse_entry **pe,
                                 const struct cache_validators *v);

/*
 * Attaches er to the entry for er->key (or a private one) and starts the
 * fetch when er leads. v: validators to revalidate with (NULL: none).
 */
static void
edge_req_fetch(struct edge_req *er, bool alone, const struct cache_validators *v)
{
    struct edge_worker *w = er->w;
    struct collapse_entry *e = NULL;
    int rc;

    if (!alone && er->kind == EDGE_RK_CACHE && er->store_ok &&
        !(er->q.flags & CACHE_REQ_AUTHORIZATION)) {
        rc = collapse_join(&w->cl, er->key, er->key_len, &er->wt,
                           (uint32_t)w->conf->collapse_max_waiters, &e);
        if (rc == ERR_LIMIT) {
            metric_inc(edge_g.m.rejected);
            edge_req_error(er, 503, "busy", "too many clients wait for this object", "error");
            return;
        }
        if (rc == COLLAPSE_JOINED && er->wt.joined_done) {
            er->from_memory = true; /* the body is whole, on its way to the store */
            metric_inc(edge_g.m.hits);
            return;
        }
        if (rc == COLLAPSE_JOINED) {
            er->collapsed = true;
            metric_inc(edge_g.m.collapsed);
            return;
        }
        if (rc == COLLAPSE_LEADER) {
            edge_req_start_fetch(er, &e, v);
            return;
        }
        /* COLLAPSE_BUSY: an answer not for sharing is in flight: fetch alone */
    }
    e = collapse_private(&w->cl, &er->wt);
    edge_req_start_fetch(er, &e, v);
}

static void
edge_req_start_fetch(struct edge_req *er, struct collapse_entry **pe,
                     const struct cache_validators *v)
{
    struct edge_fetch_spec s;

    memset(&s, 0, sizeof(s));
    s.kind = er->kind == EDGE_RK_PASS ? EDGE_FETCH_PASS : EDGE_FETCH_CACHE;
    s.method = er->kind == EDGE_RK_PASS ? httpd_req_method_str(er->r) : "GET";
    s.target = httpd_req_target(er->r);
    s.rf = &er->qfs;
    s.peer = httpd_req_peer(er->r);
    if (er->body != NULL) {
        s.body_len = evbuffer_get_length(er->body);
        s.body = evbuffer_pullup(er->body, -1);
    }
    s.key = er->key;
    s.key_len = er->key_len;
    s.primary_len = er->primary_len;
    s.store = er->store_ok;
    if (v != NULL && (v->etag.p != NULL || v->last_modified.p != NULL)) {
        s.revalidate = true;
        s.etag = v->etag.p;
        s.etag_len = v->etag.len;
        s.last_modified = v->last_modified.p;
        s.last_modified_len = v->last_modified.len;
    }
    s.host = httpd_req_header(er->r, "Host");
    s.invalidate = er->kind == EDGE_RK_PASS && !cache_method_is_safe(er->cm);
    if (er->kind == EDGE_RK_PASS)
        metric_inc(edge_g.m.pass);
    else if (!s.revalidate)
        metric_inc(edge_g.m.misses);
    edge_fetch_start(er->w, pe, &s);
}

/* The validators kept from the lookup, or NULL when there are none. */
static const struct cache_validators *
edge_req_validators(const struct edge_req *er, struct cache_validators *v)
{
    memset(v, 0, sizeof(*v));
    if (!er->have_stale || (er->etag[0] == '\0' && er->last_modified[0] == '\0'))
        return NULL;
    if (er->etag[0] != '\0') {
        v->etag.p = er->etag;
        v->etag.len = (uint32_t)strlen(er->etag);
    }
    if (er->last_modified[0] != '\0') {
        v->last_modified.p = er->last_modified;
        v->last_modified.len = (uint32_t)strlen(er->last_modified);
    }
    return v;
}

static void
edge_req_restart_cb(evutil_socket_t fd, short what, void *arg)
{
    struct cache_validators v;
    struct edge_req *er;
    enum edge_restart how;

    (void)fd;
    (void)what;
    CAST_OBJ_NOTNULL(er, arg, EDGE_REQ_MAGIC);
    how = er->restart;
    er->restart = EDGE_RESTART_NONE;
    er->collapsed = false;
    edge_req_fetch(er, how == EDGE_RESTART_PRIVATE, edge_req_validators(er, &v));
}

/* Starts er again from the loop (it has left its entry). */
static void
edge_req_restart(struct edge_req *er, enum edge_restart how)
{
    collapse_leave(&er->wt);
    if (++er->restarts > EDGE_RESTARTS_MAX) {
        edge_req_error(er, 502, "upstream_unstable", "the object kept changing", "error");
        return;
    }
    if (er->restart_ev == NULL) {
        er->restart_ev = event_new(er->w->base, -1, 0, edge_req_restart_cb, er);
        AN(er->restart_ev);
    }
    er->restart = how;
    event_active(er->restart_ev, EV_TIMEOUT, 0);
}

/* Answers er with its stored response, stale, because the upstream failed. */
static bool
edge_req_serve_stale(struct edge_req *er, uint16_t fwd_status)
{
    struct cache_field qf[EDGE_FIELDS_MAX];
    struct cache_fields qfs;
    struct cache_req q;
    struct edge_worker *w = er->w;
    struct edge_lookup lk;
    struct httpd_req *r = er->r;
    char cs[128];
    int64_t now = edge_now(), age;
    double up = er->upstream_ms;
    uint64_t start = er->start_ms;

    if (!er->have_stale || !cache_policy_stale_on_error(&w->policy, &er->q, &er->stale_meta, now))
        return false;
    memset(&lk, 0, sizeof(lk));
    if (edge_lookup_open(w, er->key, er->key_len, &lk) != 0)
        return false;
    if (lk.obj.kind != EDGE_OBJ_RESPONSE) {
        store_hit_unref(&lk.hit);
        return false;
    }
    memcpy(lk.key, er->key, er->key_len);
    lk.key_len = er->key_len;
    age = cache_age_current(&lk.obj.meta, now);
    if (fwd_status != 0)
        (void)snprintf(cs, sizeof(cs),
                       "fwd=stale; fwd-status=%u; ttl=%" PRId64 "; detail=stale-if-error",
                       fwd_status, lk.obj.meta.lifetime - age);
    else
        (void)snprintf(cs, sizeof(cs), "fwd=stale; ttl=%" PRId64 "; detail=stale-if-error",
                       lk.obj.meta.lifetime - age);
    metric_inc(edge_g.m.stale);
    metric_inc(edge_g.m.hits);
    /* er goes first (its fields are r's, which stay): keep a copy of the request view */
    memcpy(qf, er->qf, er->qfs.n * sizeof(*qf));
    qfs.v = qf;
    qfs.n = er->qfs.n;
    q = er->q;
    q.fields = &qfs;
    edge_req_free(er);
    edge_serve_hit(w, r, &q, &lk, age, cs, "stale", up, start);
    return true;
}

/*
 * A request that joined a complete fetch (its body on its way to the store)
 * is answered as if it were stored already: only when the policy would
 * serve the stored response (SPEC: RFC 9111 4).
 */
static bool
edge_req_memory_usable(const struct edge_req *er, const struct collapse_head *hd)
{
    struct cache_serve_decision d;

    if (!hd->stored)
        return false;
    cache_policy_serve(&er->w->policy, &er->q, &hd->obj.meta, edge_now(), &d);
    return d.what == CACHE_SERVE_FRESH || d.what == CACHE_SERVE_STALE;
}

static void
edge_req_on_head(struct collapse_waiter *wt, const struct collapse_head *hd, bool mine, int err)
{
    struct edge_req *er = edge_req_from(wt);
    struct edge_worker *w = er->w;
    struct cache_field hf[EDGE_FIELDS_MAX];
    struct cache_fields hfs;
    struct edge_answer a;
    char vkey[CACHE_VARY_MAX], cs[160];
    int64_t age = -1, now;
    int vlen;

    er->upstream_ms = er->from_memory ? -1 : edge_ms_since(er->start_ms);
    /* Every path below streams, or leaves (edge_req_free(), edge_req_restart()). */
    if (hd == NULL) {
        if (err == ERR_NOTFOUND) {
            er->have_stale = false;
            edge_req_restart(er, EDGE_RESTART_JOIN);
            return;
        }
        if (err == ERR_TIMEOUT)
            metric_inc(edge_g.m.wait_timeouts);
        if (edge_req_serve_stale(er, 0))
            return;
        /* SPEC: RFC 9111 4.2.4 -- a stored response we may not reuse: 504 */
        if (err == ERR_TIMEOUT || er->have_stale)
            edge_req_error(er, 504, "upstream_timeout", "the upstream did not answer in time",
                           "error");
        else
            edge_req_error(er, 502, "upstream_failed", "the upstream could not be reached",
                           "error");
        return;
    }
    if (!mine) {
        edge_req_restart(er, EDGE_RESTART_PRIVATE);
        return;
    }
    if (er->from_memory && !edge_req_memory_usable(er, hd)) {
        /* the complete body on its way to the store is not fresh enough for this request */
        er->from_memory = false;
        edge_req_restart(er, EDGE_RESTART_PRIVATE);
        return;
    }
    if (hd->fwd_status >= 500 && er->kind == EDGE_RK_CACHE && edge_req_serve_stale(er, hd->status))
        return;
    if (er->kind == EDGE_RK_CACHE && hd->shared && !wt->leader && hd->vary_key_len > 0) {
        /* SPEC: RFC 9111 4.1 -- this client's variant may be another one */
        hfs.v = hf;
        hfs.n = edge_obj_fields(&hd->obj, hf, ARRAY_SIZE(hf));
        vlen = cache_key_vary(vkey, sizeof(vkey), &hfs, &er->qfs);
        if (vlen < 0 || (size_t)vlen != hd->vary_key_len ||
            memcmp(vkey, hd->vary_key, (size_t)vlen) != 0) {
            if (vlen < 0 || er->primary_len + 1 + (size_t)vlen > EDGE_KEY_MAX) {
                edge_req_restart(er, EDGE_RESTART_PRIVATE);
                return;
            }
            er->key[er->primary_len] = EDGE_OBJ_VARY_SEP;
            memcpy(er->key + er->primary_len + 1, vkey, (size_t)vlen);
            er->key_len = er->primary_len + 1 + (size_t)vlen;
            edge_req_restart(er, EDGE_RESTART_JOIN);
            return;
        }
    }
    now = edge_now();
    if (hd->stored || (hd->shared && !(hd->obj.meta.flags & CACHE_META_HIT_FOR_MISS) &&
                       hd->obj.meta.lifetime > 0))
        age = cache_age_current(&hd->obj.meta, now);
    if (er->from_memory)
        (void)snprintf(cs, sizeof(cs), "hit; ttl=%" PRId64, hd->obj.meta.lifetime - age);
    else if (hd->fwd_status != hd->status)
        (void)snprintf(cs, sizeof(cs), "fwd=%s; fwd-status=%u%s%s", hd->fwd, hd->fwd_status,
                       hd->fwd_stored ? "; stored" : "", er->collapsed ? "; collapsed" : "");
    else
        (void)snprintf(cs, sizeof(cs), "fwd=%s%s%s%s", hd->fwd, hd->fwd_stored ? "; stored" : "",
                       er->collapsed ? "; collapsed" : "", er->hfm ? "; detail=hit-for-miss" : "");
    if (er->kind == EDGE_RK_PASS && age < 0) {
        /* relayed as it came, with the upstream's own Age */
        hfs.v = hf;
        hfs.n = edge_obj_fields(&hd->obj, hf, ARRAY_SIZE(hf));
        edge_emit_fields(er->r, &hfs, false, false);
        edge_emit_ours(er->r, -1, cs);
        httpd_resp_start(er->r, hd->status, hd->length);
        memset(&a, 0, sizeof(a));
        a.body = httpd_req_method(er->r) != HTTP1_M_HEAD && hd->status != 204 &&
                 hd->status != 304 && hd->length != 0;
        a.len = UINT64_MAX;
    } else {
        edge_answer_start(w, er->r, &er->q, &hd->obj, hd->length, age, cs,
                          er->kind == EDGE_RK_CACHE, &a);
    }
    if (!a.body) {
        edge_req_end(er, edge_req_cache_word(er, hd), false);
        return;
    }
    /* the cache word is decided now: the head is gone once streaming ends */
    er->revalidate = hd->fwd_status == 304;
    collapse_stream(wt, a.off, a.len == UINT64_MAX ? UINT64_MAX : a.off + a.len);
}

static void
edge_req_on_done(struct collapse_waiter *wt, int err)
{
    struct edge_req *er = edge_req_from(wt);
    const char *word;

    if (err == ERR_LIMIT)
        metric_inc(edge_g.m.cut_off);
    if (er->kind == EDGE_RK_PASS || er->hfm)
        word = "pass";
    else if (er->from_memory)
        word = "hit";
    else if (er->collapsed)
        word = "collapsed";
    else
        word = er->revalidate ? "revalidated" : "miss";
    edge_req_end(er, err == 0 ? word : "error", err != 0);
}

/* ---- passing requests through ---- */

static void
edge_req_body_data(struct httpd_req *r, const void *data, size_t len, void *arg)
{
    struct edge_req *er;

    (void)r;
    CAST_OBJ_NOTNULL(er, arg, EDGE_REQ_MAGIC);
    AZ(evbuffer_add(er->body, data, len));
}

static void
edge_req_body_end(struct httpd_req *r, int err, void *arg)
{
    struct edge_req *er;

    (void)r;
    CAST_OBJ_NOTNULL(er, arg, EDGE_REQ_MAGIC);
    if (err == ERR_LIMIT) {
        edge_req_error(er, 413, "body_too_large", "the request body is too large", "pass");
        return;
    }
    if (err == ERR_PROTO) {
        edge_req_error(er, 400, "bad_body", "the request body could not be read", "pass");
        return;
    }
    if (err != 0)
        return; /* closed or timed out: on_close frees er */
    edge_req_fetch(er, true, NULL);
}

static bool
edge_req_has_body(struct httpd_req *r)
{
    const char *cl = httpd_req_header(r, "Content-Length");

    if (httpd_req_header(r, "Transfer-Encoding") != NULL)
        return true;
    return cl != NULL && strcmp(cl, "0") != 0;
}

static void
edge_pass(struct edge_worker *w, struct httpd_req *r, const struct cache_fields *qfs,
          const struct cache_req *q, uint64_t start_ms)
{
    struct edge_req *er = edge_req_new(w, r, qfs, q, EDGE_RK_PASS, start_ms);

    er->store_ok = false;
    if (edge_req_has_body(r)) {
        er->body = evbuffer_new();
        AN(er->body);
        httpd_req_read_body(r, edge_req_body_data, edge_req_body_end, er);
        return;
    }
    edge_req_fetch(er, true, NULL);
}

/* ---- the handler ---- */

/* Starts a revalidation nobody waits for (stale-while-revalidate). */
static void
edge_background_revalidate(struct edge_worker *w, struct httpd_req *r,
                           const struct cache_fields *qfs, const struct edge_lookup *lk)
{
    struct cache_field sf[EDGE_FIELDS_MAX];
    struct cache_fields sfs;
    struct cache_validators v;
    struct edge_fetch_spec s;
    struct collapse_entry *e;

    e = collapse_background(&w->cl, lk->key, lk->key_len);
    if (e == NULL)
        return; /* one is in flight already */
    sfs.v = sf;
    sfs.n = edge_obj_fields(&lk->obj, sf, ARRAY_SIZE(sf));
    cache_policy_validators(&sfs, &v);
    memset(&s, 0, sizeof(s));
    s.kind = EDGE_FETCH_CACHE;
    s.method = "GET";
    s.target = httpd_req_target(r);
    s.rf = qfs;
    s.peer = httpd_req_peer(r);
    s.key = lk->key;
    s.key_len = lk->key_len;
    s.primary_len = lk->primary_len;
    s.store = true;
    if (v.etag.p != NULL || v.last_modified.p != NULL) {
        s.revalidate = true;
        s.etag = v.etag.p;
        s.etag_len = v.etag.len;
        s.last_modified = v.last_modified.p;
        s.last_modified_len = v.last_modified.len;
    }
    edge_fetch_start(w, &e, &s);
}

/* Hands a GET/HEAD that needs the upstream to a new edge_req. */
static void
edge_wait(struct edge_worker *w, struct httpd_req *r, const struct cache_fields *qfs,
          const struct cache_req *q, struct edge_lookup *lk, const struct cache_serve_decision *d,
          uint64_t start_ms)
{
    struct cache_field sf[EDGE_FIELDS_MAX];
    struct cache_fields sfs;
    struct cache_validators v;
    struct edge_req *er;
    bool alone = false, validators = false;

    er = edge_req_new(w, r, qfs, q, EDGE_RK_CACHE, start_ms);
    memcpy(er->key, lk->key, lk->key_len);
    er->key_len = lk->key_len;
    er->primary_len = lk->primary_len;
    er->store_ok = d->store_response;
    if (d->what == CACHE_SERVE_PASS) {
        if (d->why == CACHE_WHY_PRECONDITION) {
            er->kind = EDGE_RK_PASS;
            er->store_ok = false;
        } else {
            er->hfm = true; /* fetch alone; store what comes back if it may be */
        }
        alone = true;
    }
    if (lk->hit != NULL && lk->obj.kind == EDGE_OBJ_RESPONSE) {
        er->have_stale = true;
        er->stale_meta = lk->obj.meta;
        if (d->what == CACHE_SERVE_REVALIDATE) {
            sfs.v = sf;
            sfs.n = edge_obj_fields(&lk->obj, sf, ARRAY_SIZE(sf));
            cache_policy_validators(&sfs, &v);
            validators = true;
            /* kept for restarts (the read transaction does not stay) */
            if (v.etag.p != NULL && v.etag.len < sizeof(er->etag))
                memcpy(er->etag, v.etag.p, v.etag.len);
            if (v.last_modified.p != NULL && v.last_modified.len < sizeof(er->last_modified))
                memcpy(er->last_modified, v.last_modified.p, v.last_modified.len);
        }
    }
    /* the validators are copied by the fetch; the read transaction goes now */
    edge_req_fetch(er, alone, validators ? &v : NULL);
    store_hit_unref(&lk->hit);
}

void
edge_proxy_handle(struct edge_worker *w, struct httpd_req *r)
{
    struct cache_field qf[EDGE_FIELDS_MAX];
    struct cache_fields qfs;
    struct cache_serve_decision d;
    struct cache_req q;
    struct edge_lookup lk;
    char key[EDGE_KEY_MAX + 1];
    const char *method = httpd_req_method_str(r);
    uint64_t start_ms = httpd_req_start_ms(r);
    int64_t now;
    char cs[96];
    int klen;

    CHECK_OBJ_NOTNULL(w, EDGE_WORKER_MAGIC);
    if (strcmp(method, "PURGE") == 0) {
        purge_handle(w, r, false);
        return;
    }
    if (strcmp(httpd_req_path(r), "/admin/purge") == 0) {
        purge_handle(w, r, true);
        return;
    }
    qfs.v = qf;
    qfs.n = edge_req_fields(r, qf, ARRAY_SIZE(qf));
    now = edge_now();
    cache_req_parse(&q, method, strlen(method), &qfs, now);
    if (q.method != CACHE_M_GET && q.method != CACHE_M_HEAD) {
        edge_pass(w, r, &qfs, &q, start_ms);
        return;
    }
    klen = edge_req_key(r, key, EDGE_KEY_MAX);
    if (klen == ERR_PROTO) {
        edge_reply_error(w, r, 400, "bad_target", "the request target cannot be cached", "error",
                         -1, start_ms);
        return;
    }
    if (klen <= 0 || edge_lookup(w, key, (size_t)klen, &qfs, &lk) != 0) {
        edge_pass(w, r, &qfs, &q, start_ms); /* no key: not cacheable at all */
        return;
    }
    cache_policy_serve(&w->policy, &q, lk.hit != NULL ? &lk.obj.meta : NULL, now, &d);
    switch (d.what) {
    case CACHE_SERVE_FRESH:
    case CACHE_SERVE_STALE:
        metric_inc(edge_g.m.hits);
        if (d.what == CACHE_SERVE_STALE)
            metric_inc(edge_g.m.stale);
        memcpy(cs, "hit; ttl=", 9);
        (void)edge_fmt_i64(cs + 9, lk.obj.meta.lifetime - d.age);
        edge_serve_hit(w, r, &q, &lk, d.age, cs, d.what == CACHE_SERVE_FRESH ? "hit" : "stale", -1,
                       start_ms);
        return;
    case CACHE_SERVE_STALE_REVALIDATE:
        metric_inc(edge_g.m.hits);
        metric_inc(edge_g.m.stale);
        edge_background_revalidate(w, r, &qfs, &lk);
        (void)snprintf(cs, sizeof(cs), "hit; ttl=%" PRId64 "; detail=stale-while-revalidate",
                       lk.obj.meta.lifetime - d.age);
        edge_serve_hit(w, r, &q, &lk, d.age, cs, "stale", -1, start_ms);
        return;
    case CACHE_SERVE_GATEWAY_TIMEOUT:
        store_hit_unref(&lk.hit);
        edge_reply_error(w, r, 504, "only_if_cached", "not in the cache", "miss", -1, start_ms);
        return;
    case CACHE_SERVE_REVALIDATE:
    case CACHE_SERVE_MISS:
    case CACHE_SERVE_PASS:
    default:
        edge_wait(w, r, &qfs, &q, &lk, &d, start_ms);
        return;
    }
}
