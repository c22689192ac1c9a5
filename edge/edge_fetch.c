/*
 * edge_fetch.c -- the upstream side of a collapse entry (edge_fetch.h).
 *
 * A struct edge_fetch owns a copy of everything it needs from the client
 * request that started it (method, target, fields, body), because that
 * client may leave while the fetch goes on for the others and for the
 * cache. It holds the entry's fetch ref and lives while either its httpc
 * request or one of its store puts is outstanding (f->holds); the last
 * release takes the entry out of the table and frees the fetch.
 *
 * Decisions are the policy's: cache_resp_parse() and cache_policy_store()
 * on the head; cache_policy_304() and cache_policy_merge_304() on a 304
 * to a revalidation; cache_policy_invalidations() after an unsafe method.
 * What a response may be shared with other waiters is decided here: a
 * response the policy stores, or an error status that carries nothing
 * personal (no Set-Cookie, no private or no-store); anything else goes
 * to the client that asked for it alone.
 */
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include <event2/buffer.h>

#include "edge_fetch.h"
#include "err.h"
#include "httpc.h"
#include "log.h"
#include "mem.h"
#include "metrics.h"
#include "store.h"
#include "upstream.h"
#include "compat.h"

/* Holds on a fetch: its httpc request, and each store put in flight. */
#define EDGE_FETCH_HOLD_HTTP 1u

struct edge_fetch {
    unsigned magic;
#define EDGE_FETCH_MAGIC 0x65646674U
    struct edge_worker *w;    /* borrowed: the owner */
    struct collapse_entry *e; /* ref: the fetch's */
    struct httpc_req *hr;     /* owned by httpc until on_done */
    enum edge_fetch_kind kind;
    enum cache_method cm;
    char *arena; /* owned: copies of the client's request */
    size_t arena_len, arena_used;
    const char *method, *target, *host;     /* in arena */
    const char *xff;                        /* in arena: X-Forwarded-For to send */
    const char *etag, *last_modified;       /* in arena, or NULL */
    const char *via;                        /* in arena: "1.1 cascade-edge" */
    struct cache_field qf[EDGE_FIELDS_MAX]; /* in arena */
    struct cache_fields qfs;
    struct cache_req q;
    const char **send; /* owned: name, value, ..., NULL */
    uint8_t *body;     /* owned */
    size_t body_len;
    char key[EDGE_KEY_MAX + 1];
    size_t key_len, primary_len;
    bool store_ok, revalidate, invalidate, idempotent;
    struct upstream_ticket t; /* the member this attempt goes to */
    int64_t request_time;
    uint64_t start_ms;
    unsigned holds;
    TAILQ_ENTRY(edge_fetch) link; /* in w->fetches */
    /* after the head */
    bool got_head, storing, finished, refetch;
    uint16_t status;
    struct collapse_head *head; /* borrowed once published */
    char store_key[EDGE_KEY_MAX + 1];
    size_t store_key_len;
    uint8_t *stub; /* owned: the Vary marker to store with the variant */
    size_t stub_len;
    int64_t expires_ms;
};

static atomic_uint edge_fetch_live;

unsigned
edge_fetch_count(void)
{
    return atomic_load(&edge_fetch_live);
}

static void edge_fetch_on_head(struct httpc_req *hr, void *arg);
static void edge_fetch_on_body(struct httpc_req *hr, const void *data, size_t len, void *arg);
static void edge_fetch_on_done(struct httpc_req *hr, int err, void *arg);
static void edge_fetch_report(struct edge_fetch *f, enum upstream_result res);

static const struct httpc_cbs edge_fetch_cbs = {
    .on_head = edge_fetch_on_head,
    .on_body = edge_fetch_on_body,
    .on_done = edge_fetch_on_done,
};

/* ---- the request copy ---- */

static char *
edge_fetch_dup(struct edge_fetch *f, const char *p, size_t len)
{
    char *s;

    assert(f->arena_used + len + 1 <= f->arena_len);
    s = f->arena + f->arena_used;
    memcpy(s, p, len);
    s[len] = '\0';
    f->arena_used += len + 1;
    return s;
}

/* The client's address without its port: "1.2.3.4:5" -> "1.2.3.4", "[::1]:5" -> "::1". */
static size_t
edge_fetch_peer_ip(const char *peer, const char **ip)
{
    const char *colon;

    if (peer == NULL)
        return 0;
    if (peer[0] == '[') {
        colon = strchr(peer, ']');
        *ip = peer + 1;
        return colon != NULL ? (size_t)(colon - peer - 1) : 0;
    }
    colon = strrchr(peer, ':');
    *ip = peer;
    return colon != NULL ? (size_t)(colon - peer) : strlen(peer);
}

static bool
edge_fetch_is(const struct cache_field *h, const char *lit)
{
    return cache_name_eq(h->name, h->name_len, lit);
}

/* Client fields the fetch never sends on (beyond the hop-by-hop ones). */
static bool
edge_fetch_skip(const struct edge_fetch *f, const struct cache_field *h)
{
    static const char *const always[] = {"host", "content-length", "expect", "x-forwarded-for"};
    static const char *const cache[] = {"if-none-match",       "if-modified-since", "if-match",
                                        "if-unmodified-since", "if-range",          "range"};
    size_t i;

    if (edge_hop_by_hop(h->name, h->name_len, &f->qfs))
        return true;
    for (i = 0; i < ARRAY_SIZE(always); i++)
        if (edge_fetch_is(h, always[i]))
            return true;
    if (f->kind == EDGE_FETCH_CACHE)
        for (i = 0; i < ARRAY_SIZE(cache); i++)
            if (edge_fetch_is(h, cache[i]))
                return true;
    return false;
}

/* Copies the client's request into the fetch. */
static void
edge_fetch_copy(struct edge_fetch *f, const struct edge_fetch_spec *s)
{
    const struct cache_field *h;
    const char *ip = NULL;
    size_t i, need, iplen, xlen = 0;
    char *xff;

    iplen = edge_fetch_peer_ip(s->peer, &ip);
    need = strlen(s->method) + strlen(s->target) + 64 + 2 * iplen + sizeof(edge_g.name) + 16;
    need += s->host != NULL ? strlen(s->host) + 1 : 0;
    need += s->etag_len + s->last_modified_len + 4;
    for (i = 0; i < s->rf->n && i < EDGE_FIELDS_MAX; i++) {
        h = &s->rf->v[i];
        need += (size_t)h->name_len + h->value_len + 2;
        if (cache_name_eq(h->name, h->name_len, "x-forwarded-for"))
            xlen += (size_t)h->value_len + 2;
    }
    need += xlen;
    f->arena = xmalloc(need);
    f->arena_len = need;
    f->method = edge_fetch_dup(f, s->method, strlen(s->method));
    f->target = edge_fetch_dup(f, s->target, strlen(s->target));
    f->host = s->host != NULL ? edge_fetch_dup(f, s->host, strlen(s->host)) : NULL;
    for (i = 0; i < s->rf->n && i < EDGE_FIELDS_MAX; i++) {
        h = &s->rf->v[i];
        f->qf[i].name = edge_fetch_dup(f, h->name, h->name_len);
        f->qf[i].name_len = h->name_len;
        f->qf[i].value = edge_fetch_dup(f, h->value, h->value_len);
        f->qf[i].value_len = h->value_len;
    }
    f->qfs.v = f->qf;
    f->qfs.n = i;
    /* SPEC: de facto X-Forwarded-For -- the earlier hops, then this client */
    xff = f->arena + f->arena_used;
    xff[0] = '\0';
    for (i = 0; i < f->qfs.n; i++) {
        h = &f->qf[i];
        if (!edge_fetch_is(h, "x-forwarded-for"))
            continue;
        if (xff[0] != '\0')
            strncat(xff, ", ", 3);
        strncat(xff, h->value, h->value_len);
    }
    if (iplen > 0) {
        if (xff[0] != '\0')
            strncat(xff, ", ", 3);
        strncat(xff, ip, iplen);
    }
    f->arena_used += strlen(xff) + 1;
    f->xff = xff[0] != '\0' ? xff : NULL;
    f->via = f->arena + f->arena_used;
    f->arena_used += (size_t)snprintf(f->arena + f->arena_used, f->arena_len - f->arena_used,
                                      "1.1 %s", edge_g.name) +
                     1;
    f->etag = s->etag != NULL ? edge_fetch_dup(f, s->etag, s->etag_len) : NULL;
    f->last_modified =
        s->last_modified != NULL ? edge_fetch_dup(f, s->last_modified, s->last_modified_len) : NULL;
    assert(f->arena_used <= f->arena_len);
    if (s->body_len > 0) {
        f->body = xmalloc(s->body_len);
        memcpy(f->body, s->body, s->body_len);
        f->body_len = s->body_len;
    }
    f->send = xmalloc((2 * f->qfs.n + 12) * sizeof(*f->send));
}

/* The field list sent upstream this attempt. */
static void
edge_fetch_build_send(struct edge_fetch *f)
{
    size_t i, n = 0;

    for (i = 0; i < f->qfs.n; i++) {
        if (edge_fetch_skip(f, &f->qf[i]))
            continue;
        f->send[n++] = f->qf[i].name;
        f->send[n++] = f->qf[i].value;
    }
    if (f->xff != NULL) {
        f->send[n++] = "X-Forwarded-For";
        f->send[n++] = f->xff;
    }
    /* SPEC: RFC 9110 7.6.3 -- a proxy adds itself to Via */
    f->send[n++] = "Via";
    f->send[n++] = f->via;
    /* SPEC: RFC 8586 2 -- add our cdn-info to CDN-Loop; the client's entries went above */
    f->send[n++] = "CDN-Loop";
    f->send[n++] = edge_g.loop_id;
    if (f->revalidate) {
        /* SPEC: RFC 9111 4.3.1 -- the entity tag MUST be sent, Last-Modified SHOULD */
        if (f->etag != NULL) {
            f->send[n++] = "If-None-Match";
            f->send[n++] = f->etag;
        }
        if (f->last_modified != NULL) {
            f->send[n++] = "If-Modified-Since";
            f->send[n++] = f->last_modified;
        }
    }
    f->send[n] = NULL;
    assert(n < 2 * f->qfs.n + 12);
}

/* ---- life ---- */

static void
edge_fetch_free(struct edge_fetch *f)
{
    AZ(f->hr);
    TAILQ_REMOVE(&f->w->fetches, f, link);
    collapse_fetch_done(&f->e);
    xfree(f->arena);
    xfree(f->send);
    xfree(f->body);
    xfree(f->stub);
    atomic_fetch_sub(&edge_fetch_live, 1);
    metric_gauge_add(edge_g.m.inflight, -1);
    FREE_OBJ(f);
}

/* Drops one hold; the last one unlists the entry and frees the fetch. */
static void
edge_fetch_release(struct edge_fetch *f)
{
    assert(f->holds > 0);
    if (--f->holds > 0)
        return;
    collapse_unlist(f->e);
    edge_fetch_free(f);
}

static void
edge_fetch_count_error(enum edge_upstream_err code)
{
    metric_inc(edge_g.m.up_errors[code]);
}

static void
edge_fetch_finish(struct edge_fetch *f, int err)
{
    if (f->finished)
        return;
    f->finished = true;
    collapse_finish(f->e, err);
}

static void
edge_fetch_pause(void *arg, bool pause)
{
    struct edge_fetch *f;

    CAST_OBJ_NOTNULL(f, arg, EDGE_FETCH_MAGIC);
    if (f->hr != NULL)
        httpc_req_pause(f->hr, pause);
}

static void
edge_fetch_abandon(void *arg)
{
    struct edge_fetch *f;

    CAST_OBJ_NOTNULL(f, arg, EDGE_FETCH_MAGIC);
    if (f->hr == NULL)
        return;
    LOG(LOG_DEBUG, "edge", "fetch_abandoned", "conn=0 key_len=%zu", f->key_len);
    httpc_req_cancel(&f->hr);
    edge_fetch_report(f, UPSTREAM_NEUTRAL);
    edge_fetch_finish(f, ERR_CLOSED);
    edge_fetch_release(f);
}

static const struct collapse_fetch_ops edge_fetch_ops = {
    .pause = edge_fetch_pause,
    .abandon = edge_fetch_abandon,
};

/*
 * The next member for this fetch (upstream.c orders them: the key's
 * shield on the ring, or the origin group's order). 0, or ERR_NOTFOUND
 * when none is left (every member down, unresolved or tried).
 */
static int
edge_fetch_pick(struct edge_fetch *f)
{
    const char *k = f->kind == EDGE_FETCH_CACHE ? f->key : f->target;
    size_t klen = f->kind == EDGE_FETCH_CACHE ? f->primary_len : strlen(f->target);

    if (f->w->upset == NULL)
        return ERR_NOTFOUND;
    return upstream_next(f->w->upset, k, klen, &f->t);
}

/* Hands the member's result to its health and metrics (once per pick). */
static void
edge_fetch_report(struct edge_fetch *f, enum upstream_result res)
{
    if (f->w->upset != NULL && f->t.member >= 0)
        upstream_done(f->w->upset, &f->t, res);
}

static void
edge_fetch_send(struct edge_fetch *f)
{
    struct edge_worker *w = f->w;

    edge_fetch_build_send(f);
    f->request_time = edge_now();
    metric_inc(edge_g.m.up_requests);
    f->hr = httpc_request(w->httpc, (const struct sockaddr *)&f->t.ss, f->t.len, f->method,
                          f->target, f->send, f->body, f->body_len, &edge_fetch_cbs, f);
    if (f->hr == NULL) {
        /* httpc refused the arguments: a target or field it cannot send */
        LOG_RL(LOG_INFO, "edge", "fetch_refused", 10, "conn=0 upstream=%s", f->t.name);
        edge_fetch_report(f, UPSTREAM_NEUTRAL);
        edge_fetch_count_error(EDGE_UPERR_BAD_RESPONSE);
        edge_fetch_finish(f, ERR_UPSTREAM);
        edge_fetch_release(f);
    }
}

void
edge_fetch_start(struct edge_worker *w, struct collapse_entry **pe, const struct edge_fetch_spec *s)
{
    struct edge_fetch *f;

    CHECK_OBJ_NOTNULL(w, EDGE_WORKER_MAGIC);
    AN(*pe);
    f = xcalloc(1, sizeof(*f));
    f->magic = EDGE_FETCH_MAGIC;
    f->w = w;
    f->e = *pe;
    *pe = NULL;
    f->kind = s->kind;
    f->cm = cache_method_parse(s->method, strlen(s->method));
    f->idempotent = f->cm == CACHE_M_GET || f->cm == CACHE_M_HEAD || f->cm == CACHE_M_OPTIONS ||
                    f->cm == CACHE_M_PUT || f->cm == CACHE_M_DELETE;
    edge_fetch_copy(f, s);
    cache_req_parse(&f->q, f->method, strlen(f->method), &f->qfs, edge_now());
    if (s->kind == EDGE_FETCH_CACHE) {
        assert(s->key_len <= EDGE_KEY_MAX && s->primary_len <= s->key_len);
        memcpy(f->key, s->key, s->key_len);
        f->key_len = s->key_len;
        f->primary_len = s->primary_len;
        f->store_ok = s->store;
        f->revalidate = s->revalidate;
    }
    f->invalidate = s->invalidate;
    f->start_ms = edge_mono_ms();
    f->t.member = -1;
    f->holds = EDGE_FETCH_HOLD_HTTP;
    TAILQ_INSERT_TAIL(&w->fetches, f, link);
    atomic_fetch_add(&edge_fetch_live, 1);
    metric_gauge_add(edge_g.m.inflight, 1);
    collapse_set_fetch(f->e, &edge_fetch_ops, f);
    if (edge_fetch_pick(f) != 0) {
        /* every upstream is down: the waiters fall back on stale-if-error at once */
        metric_inc(edge_g.m.up_exhausted);
        LOG_RL(LOG_INFO, "edge", "no_upstream", 10, "conn=0 key_len=%zu", f->key_len);
        edge_fetch_finish(f, ERR_UPSTREAM);
        edge_fetch_release(f);
        return;
    }
    edge_fetch_send(f);
}

/* ---- the head ---- */

static size_t
edge_fetch_resp_fields(struct httpc_req *hr, struct cache_field *out, size_t cap)
{
    const char *name, *value;
    size_t i, n = httpc_resp_header_count(hr);

    if (n > cap)
        n = cap;
    for (i = 0; i < n; i++) {
        httpc_resp_header_at(hr, i, &name, &value);
        out[i].name = name;
        out[i].name_len = (uint32_t)strlen(name);
        out[i].value = value;
        out[i].value_len = (uint32_t)strlen(value);
    }
    return n;
}

/* A meta for a response that is not stored: what conditionals read. */
static void
edge_fetch_meta_plain(const struct cache_resp *r, int64_t request_time, int64_t response_time,
                      struct cache_meta *m)
{
    memset(m, 0, sizeof(*m));
    m->version = CACHE_META_VERSION;
    m->status = r->status;
    m->request_time = request_time < response_time ? request_time : response_time;
    m->response_time = response_time;
    m->swr = CACHE_DELTA_ABSENT;
    m->sie = CACHE_DELTA_ABSENT;
    m->date = r->date != CACHE_TIME_NONE ? r->date : response_time;
    m->last_modified = r->last_modified;
    if (r->flags & CACHE_RESP_LAST_MODIFIED)
        m->flags |= CACHE_META_LAST_MODIFIED;
    if (r->flags & CACHE_RESP_ETAG)
        m->flags |= CACHE_META_ETAG;
    /* Outside what a stored response may be (a 1xx-less 6xx..9xx): mark it as
     * a marker so the block codec accepts it; it is never stored. */
    if (r->status < 200 || r->status > 599)
        m->flags = CACHE_META_HIT_FOR_MISS;
}

/*
 * Builds the head's block from the response fields: never the framing or
 * hop-by-hop fields; with strip, only what the policy lets us store.
 */
static uint8_t *
edge_fetch_block(const struct edge_fetch *f, enum edge_obj_kind kind, uint16_t status,
                 const struct cache_meta *meta, const struct cache_fields *rf,
                 const struct cache_resp *resp, bool strip, size_t *plen)
{
    struct cache_field keep[EDGE_FIELDS_MAX];
    const struct cache_field *h;
    size_t i, n = 0, need;
    uint8_t *block;
    int len;

    for (i = 0; i < rf->n && n < EDGE_OBJ_FIELDS_MAX; i++) {
        h = &rf->v[i];
        if (edge_hop_by_hop(h->name, h->name_len, rf) ||
            cache_name_eq(h->name, h->name_len, "content-length"))
            continue;
        if (strip && !cache_policy_field_storable(&f->w->policy, resp, h->name, h->name_len))
            continue;
        /* A field that cannot be stored as a C string is not sent on. */
        if (memchr(h->value, '\0', h->value_len) != NULL)
            continue;
        keep[n++] = *h;
    }
    need = edge_obj_size(keep, n);
    block = xmalloc(need);
    len = edge_obj_build(block, need, kind, status, meta, keep, n);
    if (len < 0) {
        /* A name that is not a token cannot come out of the parser: drop the fields. */
        XXX_HANDLE(len);
        len = edge_obj_build(block, need, kind, status, meta, NULL, 0);
        assert(len > 0);
    }
    *plen = (size_t)len;
    return block;
}

static struct collapse_head *
edge_fetch_head_new(struct edge_fetch *f, uint16_t status, uint8_t *block, size_t block_len,
                    int64_t length, bool shared, bool stored, const char *fwd)
{
    struct collapse_head *hd = xcalloc(1, sizeof(*hd));

    hd->status = status;
    hd->shared = shared;
    hd->stored = stored;
    hd->length = length;
    hd->block = block;
    hd->block_len = block_len;
    AZ(edge_obj_parse(block, block_len, &hd->obj));
    hd->fwd = fwd;
    hd->fwd_status = f->status;
    hd->fwd_stored = stored;
    hd->upstream_ms = edge_mono_ms() - f->start_ms;
    return hd;
}

static void edge_fetch_put_done(void *arg, int rc, uint64_t n);

/* Queues a put of block (and body) under key; a hold is taken until it completes. */
static void
edge_fetch_put(struct edge_fetch *f, const char *key, size_t key_len, const uint8_t *block,
               size_t block_len, struct evbuffer *body, uint16_t status, int64_t expires_ms)
{
    struct store_obj o;
    int rc;

    memset(&o, 0, sizeof(o));
    o.key = key;
    o.key_len = key_len;
    o.hdr = block;
    o.hdr_len = block_len;
    o.status = status;
    o.expires_at_ms = expires_ms;
    if (body == NULL) {
        body = evbuffer_new();
        AN(body);
    }
    f->holds++;
    rc = store_put_take(edge_g.store, &o, &body, f->w->sl, edge_fetch_put_done, f);
    if (rc != 0) {
        f->holds--;
        metric_inc(rc == ERR_LIMIT ? edge_g.m.store_dropped : edge_g.m.store_failed);
        LOG_RL(LOG_INFO, "edge", "put_refused", 10, "conn=0 err=%s key_len=%zu", err_name(rc),
               key_len);
    }
}

static void
edge_fetch_put_done(void *arg, int rc, uint64_t n)
{
    struct edge_fetch *f;

    (void)n;
    CAST_OBJ_NOTNULL(f, arg, EDGE_FETCH_MAGIC);
    metric_inc(rc == 0 ? edge_g.m.stored : edge_g.m.store_failed);
    edge_fetch_release(f);
}

/* The marker that keeps requests for key away from collapsing for a while. */
static void
edge_fetch_put_hfm(struct edge_fetch *f, const struct cache_meta *meta)
{
    uint8_t block[EDGE_OBJ_FIXED];
    int len;

    len = edge_obj_build(block, sizeof(block), EDGE_OBJ_HFM, meta->status, meta, NULL, 0);
    if (len < 0)
        return;
    metric_inc(edge_g.m.hfm);
    edge_fetch_put(f, f->key, f->primary_len, block, (size_t)len, NULL, meta->status,
                   (meta->response_time + meta->lifetime) * 1000);
}

/*
 * Where a stored response goes: the primary key, or with Vary, the
 * primary key + separator + the request's secondary key (and a Vary
 * marker under the primary key). false: it cannot be stored.
 */
static bool
edge_fetch_store_key(struct edge_fetch *f, const struct cache_resp *resp,
                     const struct cache_fields *rf, const struct cache_meta *meta,
                     struct collapse_head *hd)
{
    struct cache_field vf[8];
    const struct cache_field *h = NULL;
    size_t nv = 0, len;
    int vlen;

    memcpy(f->store_key, f->key, f->primary_len);
    f->store_key_len = f->primary_len;
    if (!(resp->flags & CACHE_RESP_VARY))
        return true;
    vlen = cache_key_vary(hd->vary_key, sizeof(hd->vary_key), rf, &f->qfs);
    if (vlen <= 0)
        return false;
    hd->vary_key_len = (size_t)vlen;
    if (f->primary_len + 1 + (size_t)vlen > EDGE_KEY_MAX)
        return false;
    f->store_key[f->primary_len] = EDGE_OBJ_VARY_SEP;
    memcpy(f->store_key + f->primary_len + 1, hd->vary_key, (size_t)vlen);
    f->store_key_len = f->primary_len + 1 + (size_t)vlen;
    while ((h = cache_fields_find(rf, "vary", h)) != NULL && nv < ARRAY_SIZE(vf))
        vf[nv++] = *h;
    len = edge_obj_size(vf, nv);
    f->stub = xmalloc(len);
    vlen = edge_obj_build(f->stub, len, EDGE_OBJ_VARY, meta->status, meta, vf, nv);
    if (vlen < 0) {
        xfree(f->stub);
        f->stub = NULL;
        return false;
    }
    f->stub_len = (size_t)vlen;
    return true;
}

/* Cache-Status fwd= for this fetch (SPEC: RFC 9211 2.2). */
static const char *
edge_fetch_fwd(const struct edge_fetch *f)
{
    if (f->kind == EDGE_FETCH_PASS)
        return cache_method_is_safe(f->cm) ? "bypass" : "method";
    if (f->revalidate)
        return "stale";
    if (f->q.cc.flags & CACHE_CC_NO_CACHE)
        return "request";
    return f->primary_len < f->key_len ? "vary-miss" : "uri-miss";
}

/* Whether a response nobody may store can still go to every waiter. */
static bool
edge_fetch_shareable(const struct cache_store_decision *d, const struct cache_resp *resp)
{
    if (d->what != CACHE_STORE_NO || d->why != CACHE_WHY_STATUS)
        return false;
    if (resp->flags & CACHE_RESP_SET_COOKIE)
        return false;
    return !(resp->cc.flags & (CACHE_CC_PRIVATE | CACHE_CC_NO_STORE));
}

/* SPEC: RFC 9111 4.4 -- after an unsafe method's 2xx/3xx, purge what it names. */
static void
edge_fetch_invalidate(struct edge_fetch *f, const struct cache_fields *rf)
{
    struct cache_invalidation inv;
    char buf[3 * CACHE_KEY_MAX];
    const char *k, *slash;
    size_t klen;
    int n, i;

    n = cache_policy_invalidations(f->cm, f->status, false, f->host != NULL ? f->host : "",
                                   f->host != NULL ? strlen(f->host) : 0, f->target,
                                   strlen(f->target), rf, buf, sizeof(buf), &inv);
    for (i = 0; i < n; i++) {
        k = buf + inv.key[i].off;
        klen = inv.key[i].len;
        /* Our keys carry no host: drop the authority the policy put first. */
        slash = memchr(k, '/', klen);
        if (slash == NULL)
            continue;
        klen -= (size_t)(slash - k);
        k = slash;
        if (klen > EDGE_KEY_MAX)
            continue;
        metric_inc(edge_g.m.invalidations);
        if (store_purge(edge_g.store, k, klen, NULL, NULL, NULL) != 0)
            XXX_HANDLE(0);
        /* and every variant of it */
        if (klen < EDGE_KEY_MAX) {
            char pfx[EDGE_KEY_MAX + 1];

            memcpy(pfx, k, klen);
            pfx[klen] = EDGE_OBJ_VARY_SEP;
            if (store_purge_prefix(edge_g.store, pfx, klen + 1, NULL, NULL, NULL) != 0)
                XXX_HANDLE(0);
        }
    }
}

static void
edge_fetch_head_pass(struct edge_fetch *f, const struct cache_fields *rf,
                     const struct cache_resp *resp, int64_t now)
{
    struct collapse_head *hd;
    struct cache_meta meta;
    uint8_t *block;
    size_t blen;

    if (f->invalidate)
        edge_fetch_invalidate(f, rf);
    edge_fetch_meta_plain(resp, f->request_time, now, &meta);
    block = edge_fetch_block(f, EDGE_OBJ_RESPONSE, f->status, &meta, rf, resp, false, &blen);
    hd = edge_fetch_head_new(f, f->status, block, blen, httpc_resp_content_length(f->hr), false,
                             false, edge_fetch_fwd(f));
    f->head = hd;
    collapse_publish(f->e, hd, false);
}

/*
 * A 304 to our revalidation (SPEC: RFC 9111 4.3.3, 4.3.4): the stored
 * response, updated with the 304's fields, becomes the head; its body is
 * copied out of the store (the read transaction is not kept).
 */
static void
edge_fetch_head_304(struct edge_fetch *f, const struct cache_fields *rf, int64_t now)
{
    struct cache_field sf[EDGE_FIELDS_MAX], mf[2 * EDGE_FIELDS_MAX];
    struct cache_fields sfs, mfs;
    struct cache_store_decision d;
    struct cache_resp resp;
    struct cache_meta meta;
    struct store_iov iov[64];
    const struct store_hit_info *info;
    struct collapse_head *hd;
    struct store_hit *hit = NULL;
    struct edge_obj obj;
    const void *hdr;
    size_t hlen, blen, n, i;
    uint64_t off;
    uint8_t *block;
    bool forget = false;
    int rc;

    rc = store_hit_open(f->w->sl, f->key, f->key_len, &hit);
    if (rc == 0) {
        hdr = store_hit_peek_headers(hit, &hlen);
        rc = edge_obj_parse(hdr, hlen, &obj);
        if (rc == 0 && obj.kind != EDGE_OBJ_RESPONSE)
            rc = ERR_NOTFOUND;
    }
    if (rc != 0) {
        /* Gone meanwhile (evicted, purged): the waiters start over as misses. */
        store_hit_unref(&hit);
        metric_inc(edge_g.m.reval[2]);
        edge_fetch_finish(f, ERR_NOTFOUND);
        return;
    }
    sfs.v = sf;
    sfs.n = edge_obj_fields(&obj, sf, ARRAY_SIZE(sf));
    switch (cache_policy_304(&sfs, rf)) {
    case CACHE_304_MISMATCH:
        /* Another representation: fetch it whole, on the same entry. */
        store_hit_unref(&hit);
        f->refetch = true;
        return;
    case CACHE_304_SERVE_ONLY:
        meta = obj.meta;
        block = xmalloc(hlen);
        memcpy(block, hdr, hlen);
        blen = hlen;
        d.what = CACHE_STORE_NO;
        break;
    case CACHE_304_UPDATE:
    default:
        rc = cache_policy_merge_304(&f->w->policy, &sfs, rf, false, mf, ARRAY_SIZE(mf));
        if (rc < 0) {
            store_hit_unref(&hit);
            metric_inc(edge_g.m.reval[2]);
            edge_fetch_finish(f, ERR_UPSTREAM);
            return;
        }
        mfs.v = mf;
        mfs.n = (size_t)rc;
        cache_resp_parse(&resp, &f->w->policy, obj.status, &mfs, now);
        cache_policy_store(&f->w->policy, &f->q, &resp, f->request_time, now, &d, &meta);
        if (d.what != CACHE_STORE_YES) {
            /* no longer storable (the 304 said no-store, say): forget the old one */
            forget = f->store_ok;
            edge_fetch_meta_plain(&resp, f->request_time, now, &meta);
        }
        block = edge_fetch_block(f, EDGE_OBJ_RESPONSE, obj.status, &meta, &mfs, &resp,
                                 d.strip_fields, &blen);
        break;
    }
    info = store_hit_info(hit);
    metric_inc(edge_g.m.reval[0]);
    hd = edge_fetch_head_new(f, obj.status, block, blen, (int64_t)info->body_len, true,
                             d.what == CACHE_STORE_YES && f->store_ok, "stale");
    f->head = hd;
    f->storing = hd->stored;
    memcpy(f->store_key, f->key, f->key_len);
    f->store_key_len = f->key_len;
    f->expires_ms = (meta.response_time - meta.corrected_initial_age + meta.lifetime) * 1000;
    collapse_publish(f->e, hd, f->storing);
    for (off = 0; off < info->body_len;) {
        n = store_hit_peek_body(hit, off, info->body_len - off, iov, ARRAY_SIZE(iov));
        if (n > ARRAY_SIZE(iov))
            n = ARRAY_SIZE(iov);
        for (i = 0; i < n; i++) {
            collapse_append(f->e, iov[i].base, iov[i].len);
            off += iov[i].len;
        }
    }
    store_hit_unref(&hit);
    if (forget && store_purge(edge_g.store, f->key, f->key_len, NULL, NULL, NULL) != 0)
        XXX_HANDLE(0);
}

/*
 * A 502, 503 or 504 to an idempotent request, before anything went to a
 * client: ask the next member instead, when there is one. true when the
 * request moved on (hr is cancelled and f->hr is the new request).
 */
static bool
edge_fetch_retry_5xx(struct edge_fetch *f, int status)
{
    if (!f->idempotent || f->revalidate || (status != 502 && status != 503 && status != 504))
        return false;
    if (edge_fetch_pick(f) != 0)
        return false;
    LOG_RL(LOG_INFO, "edge", "upstream_5xx_retry", 20, "conn=0 status=%d next=%s", status,
           f->t.name);
    httpc_req_cancel(&f->hr);
    f->got_head = false;
    metric_inc(edge_g.m.up_retries);
    edge_fetch_send(f);
    return true;
}

static void
edge_fetch_on_head(struct httpc_req *hr, void *arg)
{
    struct cache_field rfa[EDGE_FIELDS_MAX];
    struct cache_fields rf;
    struct cache_store_decision d;
    struct cache_resp resp;
    struct cache_meta meta;
    struct collapse_head *hd;
    struct edge_fetch *f;
    struct edge_worker *w;
    int64_t now, length;
    uint8_t *block;
    size_t blen;
    bool shared, storing;
    int status;

    CAST_OBJ_NOTNULL(f, arg, EDGE_FETCH_MAGIC);
    assert(f->hr == hr);
    w = f->w;
    f->got_head = true;
    now = edge_now();
    status = httpc_resp_status(hr);
    f->status = (uint16_t)status;
    rf.v = rfa;
    rf.n = edge_fetch_resp_fields(hr, rfa, ARRAY_SIZE(rfa));
    length = httpc_resp_content_length(hr);
    if (status >= 500)
        edge_fetch_count_error(EDGE_UPERR_5XX);
    edge_fetch_report(f, status >= 500 ? UPSTREAM_5XX : UPSTREAM_OK);
    if (edge_fetch_retry_5xx(f, status))
        return;
    cache_resp_parse(&resp, &w->policy, (uint16_t)status, &rf, now);
    if (f->kind == EDGE_FETCH_PASS) {
        edge_fetch_head_pass(f, &rf, &resp, now);
        return;
    }
    if (f->revalidate && status == 304) {
        edge_fetch_head_304(f, &rf, now);
        return;
    }
    if (f->revalidate)
        metric_inc(edge_g.m.reval[status >= 500 ? 2 : 1]);
    cache_policy_store(&w->policy, &f->q, &resp, f->request_time, now, &d, &meta);
    storing = d.what == CACHE_STORE_YES && f->store_ok;
    shared = d.what == CACHE_STORE_YES || edge_fetch_shareable(&d, &resp);
    if (d.what == CACHE_STORE_HIT_FOR_MISS && f->store_ok && w->policy.hit_for_miss_ttl > 0)
        edge_fetch_put_hfm(f, &meta);
    if (d.what != CACHE_STORE_YES)
        edge_fetch_meta_plain(&resp, f->request_time, now, &meta);
    if (storing && length >= 0 && (uint64_t)length > w->max_object)
        storing = false;
    block = edge_fetch_block(f, EDGE_OBJ_RESPONSE, (uint16_t)status, &meta, &rf, &resp,
                             d.strip_fields || shared, &blen);
    hd = edge_fetch_head_new(f, (uint16_t)status, block, blen, length, shared, false,
                             edge_fetch_fwd(f));
    if (d.what == CACHE_STORE_YES && !edge_fetch_store_key(f, &resp, &rf, &meta, hd))
        storing = false;
    if (!(resp.flags & CACHE_RESP_VARY) && d.what == CACHE_STORE_YES) {
        /* no Vary: the leader's secondary key is empty, like every waiter's */
        hd->vary_key_len = 0;
    }
    hd->stored = storing;
    hd->fwd_stored = storing;
    f->storing = storing;
    f->expires_ms = (meta.response_time - meta.corrected_initial_age + meta.lifetime) * 1000;
    f->head = hd;
    collapse_publish(f->e, hd, storing);
}

static void
edge_fetch_on_body(struct httpc_req *hr, const void *data, size_t len, void *arg)
{
    struct edge_fetch *f;

    CAST_OBJ_NOTNULL(f, arg, EDGE_FETCH_MAGIC);
    assert(f->hr == hr);
    if (f->finished || f->refetch)
        return; /* a 304's stray bytes, or a head already answered from the store */
    metric_add(edge_g.m.bytes_in, len);
    collapse_append(f->e, data, len);
    if (f->storing && collapse_body_len(f->e) > f->w->max_object) {
        f->storing = false;
        collapse_unkeep(f->e);
    }
}

/* The body is complete: store it (KEEP mode) and tell the waiters. */
static void
edge_fetch_complete(struct edge_fetch *f)
{
    struct evbuffer *body;
    struct collapse_head *hd = f->head;

    if (f->storing && hd->length >= 0 && (uint64_t)hd->length != collapse_body_len(f->e))
        f->storing = false; /* httpc checks framing; never store a short body anyway */
    if (f->storing) {
        body = collapse_body_buffer(f->e);
        if (body != NULL) {
            edge_fetch_put(f, f->store_key, f->store_key_len, hd->block, hd->block_len, body,
                           hd->status, f->expires_ms);
            if (f->stub != NULL)
                edge_fetch_put(f, f->key, f->primary_len, f->stub, f->stub_len, NULL, hd->status,
                               f->expires_ms);
        }
    }
    edge_fetch_finish(f, 0);
}

static enum edge_upstream_err
edge_fetch_classify(int err, bool retryable, bool after_head)
{
    if (err == ERR_TIMEOUT)
        return EDGE_UPERR_TIMEOUT;
    if (err == ERR_LIMIT && retryable)
        return EDGE_UPERR_QUEUE_FULL;
    if (after_head)
        return EDGE_UPERR_TRUNCATED;
    return retryable ? EDGE_UPERR_CONNECT : EDGE_UPERR_BAD_RESPONSE;
}

static enum upstream_result
edge_fetch_result(int err, bool retryable)
{
    if (err == ERR_TIMEOUT)
        return UPSTREAM_TIMEOUT;
    if (err == ERR_LIMIT && retryable)
        return UPSTREAM_NEUTRAL; /* our own queue was full */
    return retryable ? UPSTREAM_CONNECT : UPSTREAM_BROKEN;
}

static void
edge_fetch_on_done(struct httpc_req *hr, int err, void *arg)
{
    struct edge_fetch *f;
    bool retryable;

    CAST_OBJ_NOTNULL(f, arg, EDGE_FETCH_MAGIC);
    assert(f->hr == hr);
    retryable = err != 0 && httpc_req_retryable(hr);
    f->hr = NULL;
    if (err == 0 && f->refetch) {
        /* The 304 named another representation: ask again, unconditionally. */
        f->refetch = false;
        f->revalidate = false;
        f->got_head = false;
        edge_fetch_send(f);
        return;
    }
    if (err != 0 && !f->got_head) {
        edge_fetch_count_error(edge_fetch_classify(err, retryable, false));
        LOG_RL(LOG_INFO, "edge", "upstream_failed", 20, "conn=0 upstream=%s err=%s retryable=%d",
               f->t.name, err_name(err), retryable);
        edge_fetch_report(f, edge_fetch_result(err, retryable));
        /* SPEC: RFC 9110 9.2.2 -- an idempotent request may be retried; others only
         * when the upstream cannot have seen them */
        if ((retryable || f->idempotent) && edge_fetch_pick(f) == 0) {
            metric_inc(edge_g.m.up_retries);
            edge_fetch_send(f);
            return;
        }
        edge_fetch_finish(f, err == ERR_TIMEOUT ? ERR_TIMEOUT : ERR_UPSTREAM);
        edge_fetch_release(f);
        return;
    }
    if (err != 0) {
        edge_fetch_count_error(edge_fetch_classify(err, retryable, true));
        LOG_RL(LOG_INFO, "edge", "upstream_truncated", 20,
               "conn=0 upstream=%s err=%s status=%u bytes=%" PRIu64, f->t.name, err_name(err),
               f->status, collapse_body_len(f->e));
        edge_fetch_finish(f, ERR_UPSTREAM);
        edge_fetch_release(f);
        return;
    }
    if (!f->finished)
        edge_fetch_complete(f);
    edge_fetch_release(f);
}

void
edge_fetch_shutdown(struct edge_worker *w)
{
    struct edge_fetch *f, *next;

    for (f = TAILQ_FIRST(&w->fetches); f != NULL; f = next) {
        next = TAILQ_NEXT(f, link);
        if (f->hr == NULL)
            continue; /* waits for a store put: store_loop_free() completes it */
        httpc_req_cancel(&f->hr);
        edge_fetch_report(f, UPSTREAM_NEUTRAL);
        edge_fetch_finish(f, ERR_CLOSED);
        edge_fetch_release(f);
    }
}
