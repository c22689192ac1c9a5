/*
 * api_proxy.c -- /api/... to the origin, with rate limits and bounded
 * memory; the router of the edge's interactions (api_proxy.h).
 *
 * A request under /api/ or /events/ first takes a token from its client
 * address's bucket and, when it carries a bearer token, from that token's
 * bucket (ratelimit.c; one lock around both tables); a refusal is 429
 * with Retry-After and {"error":{"code":"rate_limited"}}. Then:
 *
 *   POST /api/{streams|videos}/{id}/reactions   reactions.c (summed here)
 *   GET /events/{stream}, /events/videos/{id}   sse.c
 *   anything else under /api/                   proxied (below)
 *
 * Proxying. A body with a Content-Length is streamed: the upstream
 * request (on this worker's own pool, struct api_loop's httpc) starts as
 * soon as the head is checked (api.max_body, 413 past it), and each run of
 * body bytes goes on as it arrives; when httpc holds more than its body
 * watermark the client read pauses until the upstream takes them, so a
 * request holds at most API_STREAM_CHARGE bytes however large its body.
 * That charge is counted against api.max_memory for the whole process
 * (503 when the budget is spent). A chunked body (no length: httpc sends
 * bodies with a length) is still read whole under api.max_body, charged
 * its cap, then sent in one piece. The answer's body streams back
 * as it arrives: when the client's output is above httpd's high
 * watermark the upstream read pauses until it drains, so a response
 * never piles up here. Nothing is cached: the origin marks every /api/
 * answer no-store, and this path has no cache at all. An upstream that
 * cannot be reached is 502 {"error":{"code":"upstream_unavailable"}};
 * one that does not answer in time, 504 upstream_timeout.
 *
 * Origins. The upstream comes from an upstream set (upstream.h): the
 * loop's own for api.upstream, in origin-group order with health and
 * names, or the worker's set when api.upstream is empty. A request whose
 * connection failed before any answer byte goes to the next member only
 * when it is idempotent (and, streamed, only before a body byte went).
 *
 * Ownership: struct api_req is owned by its client request; freed when
 * the answer ended, or from on_close (which cancels the upstream request).
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <event2/event.h>
#include <openssl/rand.h>

#include "api_proxy.h"
#include "edge_conf.h"
#include "edge_int.h"
#include "err.h"
#include "httpc.h"
#include "httpd.h"
#include "log.h"
#include "mem.h"
#include "metrics.h"
#include "node.h"
#include "ratelimit.h"
#include "reactions.h"
#include "social_int.h"
#include "sse.h"
#include "upstream.h"
#include "compat.h"

#define API_LOOPS_MAX 64
#define API_FWD_HEADERS_MAX 64 /* request fields forwarded at most */
#define API_EVENTS_HEADER_SLACK_MS 10000
/* What a streamed body may hold at once: httpc's body watermark plus the
 * one run httpd hands over past it. */
#define API_STREAM_WATERMARK (64u << 10)
#define API_STREAM_CHARGE (2 * API_STREAM_WATERMARK)

struct api_metrics api_m;

static struct {
    pthread_mutex_t mu;          /* the two tables */
    struct ratelimit *by_addr;   /* owned */
    struct ratelimit *by_token;  /* owned */
    atomic_uint_fast64_t memory; /* body bytes held */
    atomic_uint_fast64_t max_memory;
    struct api_loop *loops[API_LOOPS_MAX]; /* each owned by its worker */
    bool started;
} api_g;

struct api_req {
    unsigned magic;
#define API_REQ_MAGIC 0x61707271U
    struct api_loop *l;       /* borrowed */
    struct httpd_req *r;      /* borrowed until on_close or the end */
    struct httpc_req *up;     /* owned: the upstream request; NULL once done */
    char *body;               /* owned */
    size_t len, max, charged; /* charged: bytes counted in api_g.memory */
    uint64_t want;            /* stream: the declared body length */
    struct upstream_ticket t; /* the member in use (t.member >= 0 while held) */
    unsigned tries;
    bool too_big, started, paused;
    bool stream;      /* the body goes through httpc_req_body_write() */
    bool body_paused; /* the client read waits for httpc's on_writable */
};

/* ---- helpers ---- */

uint64_t
api_mono_ms(void)
{
    struct timespec ts;

    AZ(clock_gettime(CLOCK_MONOTONIC, &ts));
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int64_t
api_wall_ms(void)
{
    struct timespec ts;

    AZ(clock_gettime(CLOCK_REALTIME, &ts));
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct upstream_set *
api_upset(const struct api_loop *l)
{
    struct edge_worker *w;

    CHECK_OBJ_NOTNULL(l, API_LOOP_MAGIC);
    if (l->upset != NULL)
        return l->upset;
    CAST_OBJ_NOTNULL(w, node_worker_data(l->nw), EDGE_WORKER_MAGIC);
    AN(w->upset);
    return w->upset;
}

bool
api_upstream_get(const struct api_loop *l, unsigned i, const struct sockaddr **sa, socklen_t *len)
{
    struct upstream_set *s = api_upset(l);
    struct upstream_ticket t;
    unsigned n, k;
    bool found = false;

    n = upstream_count(s);
    if (n == 0)
        return false;
    /* Walk the set's order to the wanted member; each pick is handed
     * back at once (sse.c and reactions.c report failures by moving
     * up_next on, not through passive health). */
    memset(&t, 0, sizeof(t));
    k = (l->up_next + i) % n;
    do {
        if (upstream_next(s, "/api", 4, &t) != 0)
            break;
        memcpy(&l->pick->ss, &t.ss, t.len);
        l->pick->len = t.len;
        found = true;
        upstream_done(s, &t, UPSTREAM_NEUTRAL);
    } while (k-- > 0);
    if (!found)
        return false;
    *sa = (const struct sockaddr *)(const void *)&l->pick->ss;
    *len = l->pick->len;
    return true;
}

void
api_reply_error(struct httpd_req *r, int status, const char *code, const char *msg,
                unsigned retry_after_s)
{
    char body[512], ra[16];
    int n;

    n = snprintf(body, sizeof(body), "{\"error\":{\"code\":\"%s\",\"message\":\"%s\"}}", code, msg);
    AN(n > 0 && (size_t)n < sizeof(body));
    httpd_resp_set(r, "Cache-Control", "no-store");
    if (retry_after_s > 0) {
        (void)snprintf(ra, sizeof(ra), "%u", retry_after_s);
        httpd_resp_set(r, "Retry-After", ra);
    }
    httpd_resp_send(r, status, "application/json", body, (size_t)n);
}

/* (Re)builds l->upset for api.upstream; empty: the worker's set is used. A
 * list the set cannot use keeps the old set (logged by upstream.c). */
static void
api_loop_upstreams(struct api_loop *l, const struct edge_conf *c)
{
    struct upstream_set *s = NULL;
    struct upstream_conf uc;

    if (c->api_upstream[0] == '\0') {
        upstream_set_free(&l->upset);
        l->upset_list[0] = '\0';
        return;
    }
    if (l->upset != NULL && strcmp(l->upset_list, c->api_upstream) == 0)
        return;
    edge_upstream_conf(c, false, &uc); /* origin-group order */
    if (upstream_set_new(l->base, l->dns, &uc, c->api_upstream, l->id, &s) != 0) {
        LOG(LOG_ERR, "api", "upstreams_unusable", "conn=0 upstream=%s", c->api_upstream);
        return;
    }
    if (l->upset != NULL)
        upstream_set_inherit(s, l->upset);
    upstream_set_free(&l->upset);
    l->upset = s;
    (void)snprintf(l->upset_list, sizeof(l->upset_list), "%s", c->api_upstream);
}

static void
api_httpc_conf(const struct edge_conf *c, struct httpc_conf *hc)
{
    httpc_conf_defaults(hc);
    hc->connect_timeout_ms = (uint32_t)c->upstream_connect_timeout;
    hc->header_timeout_ms = (uint32_t)c->upstream_header_timeout;
    /* the event long poll is answered only after sse.poll_wait */
    if (hc->header_timeout_ms < c->sse_poll_wait + API_EVENTS_HEADER_SLACK_MS)
        hc->header_timeout_ms = (uint32_t)(c->sse_poll_wait + API_EVENTS_HEADER_SLACK_MS);
    hc->body_timeout_ms = (uint32_t)c->upstream_body_timeout;
    hc->idle_timeout_ms = (uint32_t)c->upstream_idle_timeout;
    hc->max_idle_per_host = (uint32_t)c->upstream_max_idle;
    hc->body_watermark = API_STREAM_WATERMARK;
}

static void
api_loop_apply(struct api_loop *l, const struct edge_conf *c)
{
    l->conf = c;
    api_loop_upstreams(l, c);
    l->nups = upstream_count(api_upset(l));
    if (l->up_next >= l->nups)
        l->up_next = 0;
}

/* ---- rate limits ---- */

/* The client address without its port ("127.0.0.1", "::1"). */
static size_t
api_client_addr(struct httpd_req *r, char *out, size_t cap)
{
    const char *peer = httpd_req_peer(r), *end;
    size_t n;

    if (peer[0] == '[') {
        peer++;
        end = strchr(peer, ']');
    } else {
        end = strrchr(peer, ':');
    }
    n = end != NULL ? (size_t)(end - peer) : strlen(peer);
    if (n >= cap)
        n = cap - 1;
    memcpy(out, peer, n);
    out[n] = '\0';
    return n;
}

/* The bearer token of r, or NULL; *len its length. */
static const char *
api_bearer(struct httpd_req *r, size_t *len)
{
    const char *h = httpd_req_header(r, "Authorization");

    if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0)
        return NULL;
    h += 7;
    while (*h == ' ')
        h++;
    *len = strlen(h);
    while (*len > 0 && h[*len - 1] == ' ')
        (*len)--;
    return *len > 0 ? h : NULL;
}

/* true: go on. false: r was answered 429. */
static bool
api_rate_ok(struct httpd_req *r)
{
    char addr[64];
    const char *tok;
    size_t alen, tlen = 0;
    uint32_t ra = 0;
    uint64_t now = api_mono_ms();
    int by = -1;

    alen = api_client_addr(r, addr, sizeof(addr));
    tok = api_bearer(r, &tlen);
    AZ(pthread_mutex_lock(&api_g.mu));
    if (!ratelimit_take(api_g.by_addr, addr, alen, now, &ra))
        by = 0;
    else if (tok != NULL && !ratelimit_take(api_g.by_token, tok, tlen, now, &ra))
        by = 1;
    AZ(pthread_mutex_unlock(&api_g.mu));
    if (by < 0)
        return true;
    metric_inc(api_m.limited[by]);
    api_reply_error(r, 429, "rate_limited",
                    by == 0 ? "too many requests from this address: retry later"
                            : "too many requests with this token: retry later",
                    ra);
    return false;
}

/* ---- memory budget ---- */

static bool
api_mem_charge(size_t n)
{
    uint_fast64_t cur = atomic_load(&api_g.memory);

    do {
        if (cur + n > atomic_load(&api_g.max_memory))
            return false;
    } while (!atomic_compare_exchange_weak(&api_g.memory, &cur, cur + n));
    metric_gauge_add(api_m.memory, (int64_t)n);
    return true;
}

static void
api_mem_release(size_t n)
{
    if (n == 0)
        return;
    atomic_fetch_sub(&api_g.memory, n);
    metric_gauge_add(api_m.memory, -(int64_t)n);
}

/* ---- the proxy ---- */

static void
api_req_free(struct api_req **pq)
{
    struct api_req *q = *pq;

    *pq = NULL;
    CHECK_OBJ_NOTNULL(q, API_REQ_MAGIC);
    if (q->up != NULL)
        httpc_req_cancel(&q->up);
    if (q->t.gen != 0 && q->t.member >= 0) /* still held: a cancel */
        upstream_done(api_upset(q->l), &q->t, UPSTREAM_NEUTRAL);
    api_mem_release(q->charged);
    xfree(q->body);
    FREE_OBJ(q);
}

static void
api_req_on_close(struct httpd_req *r, void *arg)
{
    struct api_req *q;

    (void)r;
    CAST_OBJ_NOTNULL(q, arg, API_REQ_MAGIC);
    q->r = NULL;
    api_req_free(&q);
}

static void api_req_send(struct api_req *q);

/* SPEC: RFC 9110 7.6.1 -- hop-by-hop fields are not forwarded. */
static bool
api_hop(const char *name)
{
    static const char *const hop[] = {"Connection",
                                      "Keep-Alive",
                                      "Proxy-Connection",
                                      "TE",
                                      "Trailer",
                                      "Transfer-Encoding",
                                      "Upgrade",
                                      "Proxy-Authorization",
                                      "Proxy-Authenticate",
                                      "Content-Length",
                                      "Host",
                                      "Date",
                                      "Server"};
    size_t i;

    for (i = 0; i < ARRAY_SIZE(hop); i++)
        if (strcasecmp(name, hop[i]) == 0)
            return true;
    return false;
}

static void
api_up_head(struct httpc_req *u, void *arg)
{
    struct api_req *q;
    const char *name, *value;
    char sample[64];
    size_t i, n;

    CAST_OBJ_NOTNULL(q, arg, API_REQ_MAGIC);
    n = httpc_resp_header_count(u);
    for (i = 0; i < n; i++) {
        httpc_resp_header_at(u, i, &name, &value);
        if (api_hop(name))
            continue;
        /* A field httpd refuses (a framing field, a value it cannot
         * carry) is the origin's fault: dropped, counted, the answer
         * goes on. ERR_CLOSED: the client left, on_close follows. */
        if (httpd_resp_header(q->r, name, value) == ERR_INVAL) {
            metric_inc(api_m.dropped_fields);
            LOG_RL(LOG_DEBUG, "api", "field_dropped", 10, "conn=%llu name=%s",
                   (unsigned long long)httpd_req_conn_id(q->r),
                   log_sanitize(sample, sizeof(sample), name, strlen(name)));
        }
    }
    httpd_resp_set(q->r, "Via", edge_g.via);
    q->started = true;
    httpd_resp_start(q->r, httpc_resp_status(u), httpc_resp_content_length(u));
}

static void
api_req_writable(struct httpd_req *r, void *arg)
{
    struct api_req *q;

    (void)r;
    CAST_OBJ_NOTNULL(q, arg, API_REQ_MAGIC);
    if (q->paused && q->up != NULL) {
        q->paused = false;
        httpc_req_pause(q->up, false);
    }
}

static void
api_up_body(struct httpc_req *u, const void *data, size_t len, void *arg)
{
    struct api_req *q;

    CAST_OBJ_NOTNULL(q, arg, API_REQ_MAGIC);
    if (httpd_resp_write(q->r, data, len) != 0)
        return; /* closed: on_close frees q */
    if (!httpd_resp_writable(q->r) && !q->paused) {
        q->paused = true;
        httpc_req_pause(u, true);
        httpd_req_on_writable(q->r, api_req_writable, q);
    }
}

/* SPEC: RFC 9110 9.2.2 -- only idempotent requests go to the next origin
 * (a connect failure sent nothing, but the rule is kept simple and safe). */
static bool
api_idempotent(enum http1_method m)
{
    return m == HTTP1_M_GET || m == HTTP1_M_HEAD || m == HTTP1_M_PUT || m == HTTP1_M_DELETE ||
           m == HTTP1_M_OPTIONS;
}

/* How the request on the member ended, for its health (upstream.h). */
static enum upstream_result
api_up_result(struct httpc_req *u, int err, bool started)
{
    if (err == 0)
        return httpc_resp_status(u) >= 500 ? UPSTREAM_5XX : UPSTREAM_OK;
    if (err == ERR_TIMEOUT)
        return UPSTREAM_TIMEOUT;
    if (err == ERR_LIMIT && !started)
        return UPSTREAM_NEUTRAL; /* our own queue was full */
    if (!started && httpc_req_retryable(u))
        return UPSTREAM_CONNECT;
    return started ? UPSTREAM_BROKEN : UPSTREAM_CONNECT;
}

static void
api_up_done(struct httpc_req *u, int err, void *arg)
{
    struct api_req *q;
    struct httpd_req *r;
    bool started;

    CAST_OBJ_NOTNULL(q, arg, API_REQ_MAGIC);
    q->up = NULL;
    r = q->r;
    started = q->started;
    upstream_done(api_upset(q->l), &q->t, api_up_result(u, err, started));
    if (err == 0) {
        httpd_req_on_close(r, NULL, NULL);
        api_req_free(&q);
        httpd_resp_end(r);
        return;
    }
    if (!started && httpc_req_retryable(u) && api_idempotent(httpd_req_method(r))) {
        api_req_send(q); /* the next origin in the group, if one is left */
        return;
    }
    metric_inc(api_m.up_errors);
    LOG(LOG_INFO, "api", "upstream_failed", "conn=%llu path=%s err=%s started=%d",
        (unsigned long long)httpd_req_conn_id(r), httpd_req_path(r), err_name(err), started);
    httpd_req_on_close(r, NULL, NULL);
    api_req_free(&q);
    if (started)
        httpd_resp_abort(r);
    else if (err == ERR_TIMEOUT)
        api_reply_error(r, 504, "upstream_timeout", "the origin did not answer in time", 0);
    else
        api_reply_error(r, 502, "upstream_unavailable", "the origin cannot be reached", 1);
}

/* httpc took the queued body bytes: read on from the client. */
static void
api_up_writable(struct httpc_req *u, void *arg)
{
    struct api_req *q;

    (void)u;
    CAST_OBJ_NOTNULL(q, arg, API_REQ_MAGIC);
    if (q->body_paused && q->r != NULL) {
        q->body_paused = false;
        httpd_req_body_pause(q->r, false);
    }
}

static const struct httpc_cbs api_up_cbs = {
    .on_head = api_up_head,
    .on_body = api_up_body,
    .on_done = api_up_done,
    .on_writable = api_up_writable,
};

static void
api_req_send(struct api_req *q)
{
    const char *hdrs[2 * API_FWD_HEADERS_MAX + 7];
    const char *name, *value;
    const struct sockaddr *sa;
    struct httpd_req *r = q->r;
    char addr[64];
    socklen_t salen;
    size_t i, n, k = 0;

    q->tries++;
    /* origin-group order: the first member up, then the next (the key
     * only matters to a worker set in hash mode: shields) */
    if (upstream_next(api_upset(q->l), httpd_req_path(r), strlen(httpd_req_path(r)), &q->t) != 0) {
        metric_inc(api_m.up_errors);
        httpd_req_on_close(r, NULL, NULL);
        api_req_free(&q);
        api_reply_error(r, 502, "upstream_unavailable", "no origin can be reached", 1);
        return;
    }
    sa = (const struct sockaddr *)(const void *)&q->t.ss;
    salen = q->t.len;
    n = httpd_req_header_count(r);
    for (i = 0; i < n && k < 2 * API_FWD_HEADERS_MAX; i++) {
        httpd_req_header_at(r, i, &name, &value);
        if (api_hop(name) || strcasecmp(name, "X-Forwarded-For") == 0 ||
            strcasecmp(name, "Expect") == 0)
            continue;
        hdrs[k++] = name;
        hdrs[k++] = value;
    }
    (void)api_client_addr(r, addr, sizeof(addr));
    hdrs[k++] = "X-Forwarded-For";
    hdrs[k++] = addr;
    hdrs[k++] = "Via";
    hdrs[k++] = edge_g.via;
    /* SPEC: RFC 8586 2 -- add our cdn-info; the client's entries were copied above */
    hdrs[k++] = "CDN-Loop";
    hdrs[k++] = edge_g.loop_id;
    hdrs[k] = NULL;
    if (q->stream)
        q->up = httpc_request_stream(q->l->httpc, sa, salen, httpd_req_method_str(r),
                                     httpd_req_target(r), hdrs, q->want, &api_up_cbs, q);
    else
        q->up = httpc_request(q->l->httpc, sa, salen, httpd_req_method_str(r), httpd_req_target(r),
                              hdrs, q->body, q->len, &api_up_cbs, q);
    AN(q->up);
}

/* A run of a streamed body: on to the upstream, pausing the client when
 * httpc holds its watermark. */
static void
api_stream_data(struct httpd_req *r, const void *data, size_t len, void *arg)
{
    struct api_req *q;

    CAST_OBJ_NOTNULL(q, arg, API_REQ_MAGIC);
    if (q->up == NULL)
        return;
    /* httpd delivers exactly Content-Length bytes: never past want */
    AZ(httpc_req_body_write(q->up, data, len));
    if (!q->body_paused && !httpc_req_body_writable(q->up)) {
        q->body_paused = true;
        httpd_req_body_pause(r, true);
    }
}

static void
api_stream_end(struct httpd_req *r, int err, void *arg)
{
    struct api_req *q;
    bool started;

    CAST_OBJ_NOTNULL(q, arg, API_REQ_MAGIC);
    if (err == ERR_CLOSED || err == ERR_TIMEOUT)
        return; /* on_close follows, frees q and cancels the upstream */
    if (err == 0 && q->up != NULL && httpc_req_body_end(q->up) == 0)
        return; /* the answer comes through api_up_done */
    /* A broken body: the upstream request is cancelled, its connection
     * closed (it carries part of a body). */
    started = q->started;
    httpd_req_on_close(r, NULL, NULL);
    api_req_free(&q);
    if (started)
        httpd_resp_abort(r);
    else if (err == ERR_LIMIT)
        api_reply_error(r, 413, "too_large", "the body is over the edge's limit", 0);
    else
        api_reply_error(r, 400, "bad_body", "the body could not be read", 0);
}

static void
api_body_data(struct httpd_req *r, const void *data, size_t len, void *arg)
{
    struct api_req *q;

    (void)r;
    CAST_OBJ_NOTNULL(q, arg, API_REQ_MAGIC);
    if (q->too_big || len > q->max - q->len) {
        q->too_big = true;
        return;
    }
    memcpy(q->body + q->len, data, len);
    q->len += len;
}

static void
api_body_end(struct httpd_req *r, int err, void *arg)
{
    struct api_req *q;

    CAST_OBJ_NOTNULL(q, arg, API_REQ_MAGIC);
    if (err == ERR_CLOSED || err == ERR_TIMEOUT)
        return; /* on_close follows and frees q */
    if (err == 0 && !q->too_big) {
        api_req_send(q);
        return;
    }
    httpd_req_on_close(r, NULL, NULL);
    api_req_free(&q);
    if (err == ERR_LIMIT || err == 0) {
        metric_inc(api_m.too_large);
        api_reply_error(r, 413, "too_large", "the body is over the edge's limit", 0);
    } else {
        api_reply_error(r, 400, "bad_body", "the body could not be read", 0);
    }
}

static void
api_proxy(struct api_loop *l, struct httpd_req *r)
{
    const char *cl = httpd_req_header(r, "Content-Length");
    const char *te = httpd_req_header(r, "Transfer-Encoding");
    enum http1_method m = httpd_req_method(r);
    uint64_t want = 0;
    struct api_req *q;

    if (cl != NULL) {
        errno = 0;
        want = strtoull(cl, NULL, 10);
        if (errno != 0 || strlen(cl) > 12)
            want = UINT64_MAX;
    }
    if (want > l->conf->api_max_body) {
        metric_inc(api_m.too_large);
        api_reply_error(r, 413, "too_large", "the body is over the edge's limit", 0);
        return;
    }
    q = xcalloc(1, sizeof(*q));
    q->magic = API_REQ_MAGIC;
    q->l = l;
    q->r = r;
    if (te == NULL && want > 0 && m != HTTP1_M_GET && m != HTTP1_M_HEAD) {
        q->stream = true;
        q->want = want;
        q->charged = want < API_STREAM_CHARGE ? (size_t)want : API_STREAM_CHARGE;
        if (!api_mem_charge(q->charged)) {
            metric_inc(api_m.busy);
            FREE_OBJ(q);
            api_reply_error(r, 503, "busy", "the edge is holding too many request bodies", 1);
            return;
        }
        httpd_req_on_close(r, api_req_on_close, q);
        httpd_req_read_body(r, api_stream_data, api_stream_end, q);
        api_req_send(q); /* may answer 502 and free q: nothing after */
        return;
    }
    if (te != NULL || want > 0) {
        /* chunked bodies are charged their cap: their size is unknown */
        q->max = te != NULL ? (size_t)l->conf->api_max_body : (size_t)want;
        if (!api_mem_charge(q->max)) {
            metric_inc(api_m.busy);
            FREE_OBJ(q);
            api_reply_error(r, 503, "busy", "the edge is holding too many request bodies", 1);
            return;
        }
        q->charged = q->max;
        q->body = xmalloc(q->max);
    }
    httpd_req_on_close(r, api_req_on_close, q);
    if (q->max > 0 && m != HTTP1_M_GET && m != HTTP1_M_HEAD) {
        httpd_req_read_body(r, api_body_data, api_body_end, q);
        return;
    }
    api_req_send(q);
}

/* ---- routing ---- */

/* /api/{streams|videos}/{id}/reactions: *kind 's' or 'v', id copied. */
static bool
api_reaction_route(const char *path, char *kind, char *id, size_t cap)
{
    const char *p, *slash;
    size_t n;

    if (strncmp(path, "/api/streams/", 13) == 0) {
        *kind = 's';
        p = path + 13;
    } else if (strncmp(path, "/api/videos/", 12) == 0) {
        *kind = 'v';
        p = path + 12;
    } else {
        return false;
    }
    slash = strchr(p, '/');
    if (slash == NULL || strcmp(slash, "/reactions") != 0)
        return false;
    n = (size_t)(slash - p);
    if (n == 0 || n >= cap)
        return false;
    memcpy(id, p, n);
    id[n] = '\0';
    return true;
}

bool
edge_api_handle(struct edge_worker *w, struct httpd_req *r)
{
    const char *path = httpd_req_path(r);
    struct api_loop *l;
    char kind, id[128];
    unsigned wid;

    CHECK_OBJ_NOTNULL(w, EDGE_WORKER_MAGIC);
    if (strncmp(path, "/api/", 5) != 0 && strcmp(path, "/api") != 0 &&
        strncmp(path, "/events/", 8) != 0)
        return false;
    wid = node_worker_id(w->nw);
    metric_inc(api_m.requests);
    if (wid >= API_LOOPS_MAX || api_g.loops[wid] == NULL) {
        /* edge_api_worker_init() failed on this worker (logged then):
         * it serves video, not interactions. */
        metric_inc(api_m.unavailable);
        LOG_RL(LOG_WARN, "api", "worker_unavailable", 10, "conn=%llu worker=%u",
               (unsigned long long)httpd_req_conn_id(r), wid);
        api_reply_error(r, 503, "api_unavailable", "this edge worker serves no interactions", 0);
        return true;
    }
    CAST_OBJ_NOTNULL(l, api_g.loops[wid], API_LOOP_MAGIC);
    /* A shield's clients are edges, which limited their viewers already:
     * one edge's address carries all of them. */
    if (w->conf->role == EDGE_ROLE_EDGE && !api_rate_ok(r))
        return true;
    if (path[1] == 'e') {
        if (w->conf->role == EDGE_ROLE_SHIELD) {
            api_reply_error(r, 404, "not_found", "a shield has no event stream", 0);
            return true;
        }
        sse_handle(l, r);
        return true;
    }
    if (w->conf->role == EDGE_ROLE_EDGE && httpd_req_method(r) == HTTP1_M_POST &&
        reactions_enabled() && api_reaction_route(path, &kind, id, sizeof(id))) {
        reactions_handle(l, r, kind, id);
        return true;
    }
    api_proxy(l, r);
    return true;
}

/* ---- life ---- */

int
edge_api_start(const struct edge_conf *c)
{
    uint64_t seed[2];
    int rc;

    AZ(api_g.started);
    if (RAND_bytes((unsigned char *)seed, sizeof(seed)) != 1) {
        LOG(LOG_ERR, "api", "rand_failed", "conn=0");
        return ERR_CONF;
    }
    AZ(pthread_mutex_init(&api_g.mu, NULL));
    api_g.by_addr = ratelimit_new((size_t)c->rl_max_clients, (uint32_t)c->rl_addr_rate,
                                  (uint32_t)c->rl_addr_burst, seed[0]);
    api_g.by_token = ratelimit_new((size_t)c->rl_max_clients, (uint32_t)c->rl_token_rate,
                                   (uint32_t)c->rl_token_burst, seed[1]);
    atomic_store(&api_g.memory, 0);
    atomic_store(&api_g.max_memory, c->api_max_memory);
    api_m.requests = metrics_counter("edge.api.requests", "Requests under /api/ and /events/.");
    api_m.limited[0] =
        metrics_counter_l("edge.api.limited", "Requests refused with 429.", "by", "addr");
    api_m.limited[1] =
        metrics_counter_l("edge.api.limited", "Requests refused with 429.", "by", "token");
    api_m.too_large = metrics_counter("edge.api.too_large", "/api/ bodies refused with 413.");
    api_m.busy = metrics_counter("edge.api.busy", "/api/ requests refused: memory budget spent.");
    api_m.up_errors = metrics_counter("edge.api.upstream_errors", "/api/ upstream failures.");
    api_m.memory = metrics_gauge("edge.api.memory", "Request body bytes held for /api/.");
    api_m.dropped_fields = metrics_counter(
        "edge.api.dropped_fields", "Origin response fields not relayed: httpd refused them.");
    api_m.unavailable = metrics_counter("edge.api.unavailable",
                                        "Requests refused with 503: the worker has no /api/ loop.");
    rc = reactions_start(c);
    if (rc != 0)
        goto out_rl;
    rc = sse_start(c);
    if (rc != 0)
        goto out_reactions;
    api_g.started = true;
    return 0;

out_reactions:
    reactions_stop();
out_rl:
    ratelimit_free(&api_g.by_addr);
    ratelimit_free(&api_g.by_token);
    AZ(pthread_mutex_destroy(&api_g.mu));
    return rc;
}

void
edge_api_stop(void)
{
    if (!api_g.started)
        return;
    sse_stop();
    reactions_stop();
    ratelimit_free(&api_g.by_addr);
    ratelimit_free(&api_g.by_token);
    AZ(pthread_mutex_destroy(&api_g.mu));
    api_g.started = false;
}

int
edge_api_worker_init(struct edge_worker *w)
{
    struct httpc_conf hc;
    struct api_loop *l;
    unsigned wid = node_worker_id(w->nw);

    if (wid >= API_LOOPS_MAX)
        return ERR_LIMIT;
    l = xcalloc(1, sizeof(*l));
    l->magic = API_LOOP_MAGIC;
    l->id = wid;
    l->base = w->base;
    l->nw = w->nw;
    l->dns = w->dns;
    l->pick = xcalloc(1, sizeof(*l->pick));
    api_loop_apply(l, w->conf);
    api_httpc_conf(w->conf, &hc);
    l->httpc = httpc_new(l->base, &hc);
    api_g.loops[wid] = l;
    sse_loop_start(l, w->conf->role == EDGE_ROLE_EDGE);
    if (wid == 0 && w->conf->role == EDGE_ROLE_EDGE)
        reactions_sender_start(l);
    return 0;
}

void
edge_api_worker_fini(struct edge_worker *w)
{
    unsigned wid = node_worker_id(w->nw);
    struct api_loop *l;

    if (wid >= API_LOOPS_MAX || api_g.loops[wid] == NULL)
        return;
    CAST_OBJ_NOTNULL(l, api_g.loops[wid], API_LOOP_MAGIC);
    reactions_sender_stop(l);
    sse_loop_stop(l);
    upstream_set_free(&l->upset);
    httpc_free(&l->httpc);
    (void)event_base_loop(l->base, EVLOOP_NONBLOCK);
    api_g.loops[wid] = NULL;
    xfree(l->pick);
    FREE_OBJ(l);
}

void
edge_api_worker_reload(struct edge_worker *w, const struct edge_conf *c)
{
    unsigned wid = node_worker_id(w->nw);
    struct httpc_conf hc;
    struct api_loop *l;

    if (wid >= API_LOOPS_MAX || api_g.loops[wid] == NULL)
        return;
    CAST_OBJ_NOTNULL(l, api_g.loops[wid], API_LOOP_MAGIC);
    api_loop_apply(l, c);
    api_httpc_conf(c, &hc);
    httpc_set_conf(l->httpc, &hc);
    if (wid == 0) {
        AZ(pthread_mutex_lock(&api_g.mu));
        ratelimit_set(api_g.by_addr, (uint32_t)c->rl_addr_rate, (uint32_t)c->rl_addr_burst);
        ratelimit_set(api_g.by_token, (uint32_t)c->rl_token_rate, (uint32_t)c->rl_token_burst);
        AZ(pthread_mutex_unlock(&api_g.mu));
        atomic_store(&api_g.max_memory, c->api_max_memory);
    }
}
