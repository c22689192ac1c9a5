/*
 * sse.c -- following the origin's event log and fanning it out to viewers
 * as Server-Sent Events (sse.h).
 *
 * The hub is process-wide under one mutex: the follower's position, the
 * rings (at most sse.max_streams; a ring with no viewer is the first to
 * be reused), and each worker's wake-up event. The follower (worker 0)
 * decodes an answer outside the lock, builds the messages, appends them
 * under it, then activates every worker's wake-up; each worker then
 * writes to its own viewers under the lock (rings are only read there).
 *
 * Ownership: the hub owns rings and their message texts; a ring with
 * viewers is never reused, so a viewer's ring pointer stays valid while
 * the viewer holds one of ring->viewers. struct sse_viewer is owned by
 * its request: freed from on_close, or by the worker when it drops the
 * viewer (httpd_resp_abort(), whose on_close is cleared first).
 * SPEC: WHATWG HTML 9.2 "Server-sent events" -- id:, event:, data:,
 * retry: fields; a comment line starts with ':'; Last-Event-ID on
 * reconnection.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include <event2/event.h>
#include <jansson.h>

#include "sse.h"
#include "edge_conf.h"
#include "err.h"
#include "httpc.h"
#include "httpd.h"
#include "log.h"
#include "mem.h"
#include "metrics.h"
#include "node.h"
#include "social_int.h"
#include "compat.h"

#define SSE_LOOPS_MAX 64
#define SSE_RETRY_MS 1000
#define SSE_DRAIN_CHECK_MS 200
#define SSE_LINGER_MS 60000 /* keep following this long after the last viewer left */

/* ---- the hub ---- */

struct sse_msg {
    uint64_t id;
    char *text; /* owned: "id: N\nevent: T\ndata: ...\n\n" */
    size_t len;
};

struct sse_ring {
    char tkind;
    char tid[SSE_ID_MAX + 1];
    bool used;
    unsigned viewers;     /* viewers attached (any worker) */
    uint64_t floor;       /* messages with ids up to floor may be missing */
    uint64_t last_used;   /* hub tick of the last message or viewer */
    size_t head, n;       /* ring of hub.ring_cap messages */
    struct sse_msg *msgs; /* owned */
};

struct sse_loop;

static struct {
    pthread_mutex_t mu;
    struct sse_ring *rings; /* owned: max_streams of them */
    size_t nrings, ring_cap;
    uint64_t pos;          /* the origin event id followed up to */
    bool following;        /* pos is known */
    uint64_t idle_since;   /* when the last viewer left (monotonic ms) */
    uint64_t published_ms; /* when the last answer reached the rings (monotonic ms) */
    uint64_t tick;
    struct sse_loop *loops[SSE_LOOPS_MAX]; /* borrowed: each worker's */
    atomic_long viewers;
    long max_viewers;
    uint64_t keepalive_ms, poll_wait_ms;
    bool started;
    struct metric *m_viewers, *m_events, *m_messages, *m_dropped, *m_polls, *m_poll_errors,
        *m_resets, *m_refused, *m_fanout;
} hub;

struct sse_viewer {
    unsigned magic;
#define SSE_VIEWER_MAGIC 0x73737677U
    struct sse_loop *sl;   /* borrowed */
    struct httpd_req *r;   /* borrowed until on_close */
    struct sse_ring *ring; /* ref: one of ring->viewers */
    uint64_t last;         /* the newest id written */
    bool blocked;          /* waiting for on_writable */
    bool waiting;          /* the hub is not following yet: "ready" not sent */
    bool resume;           /* came with Last-Event-ID */
    TAILQ_ENTRY(sse_viewer) link;
};

struct sse_loop {
    unsigned magic;
#define SSE_LOOP_MAGIC 0x73736c70U
    struct api_loop *l;  /* borrowed */
    struct event *wake;  /* owned: new messages */
    struct event *ping;  /* owned: keep-alive comments */
    struct event *drain; /* owned: ends the streams when the worker drains */
    TAILQ_HEAD(, sse_viewer) viewers;
    /* the follower (worker 0 only) */
    bool follow;
    struct event *retry;  /* owned */
    struct httpc_req *up; /* owned */
    char *body;           /* owned: the answer so far */
    size_t len, cap;
    bool too_big;
};

static struct sse_ring *
sse_ring_find(char tkind, const char *tid)
{
    size_t i;

    for (i = 0; i < hub.nrings; i++)
        if (hub.rings[i].used && hub.rings[i].tkind == tkind && strcmp(hub.rings[i].tid, tid) == 0)
            return &hub.rings[i];
    return NULL;
}

static void
sse_ring_empty(struct sse_ring *g)
{
    size_t i;

    for (i = 0; i < g->n; i++)
        xfree(g->msgs[(g->head + i) % hub.ring_cap].text);
    g->head = 0;
    g->n = 0;
}

/* The ring of a target, made (or a viewerless one reused) when missing. NULL: all busy. */
static struct sse_ring *
sse_ring_get(char tkind, const char *tid)
{
    struct sse_ring *g = sse_ring_find(tkind, tid), *victim = NULL;
    size_t i;

    if (g != NULL)
        return g;
    for (i = 0; i < hub.nrings; i++) {
        g = &hub.rings[i];
        if (!g->used) {
            victim = g;
            break;
        }
        if (g->viewers == 0 && (victim == NULL || g->last_used < victim->last_used))
            victim = g;
    }
    if (victim == NULL)
        return NULL;
    sse_ring_empty(victim);
    victim->used = true;
    victim->tkind = tkind;
    (void)snprintf(victim->tid, sizeof(victim->tid), "%s", tid);
    victim->viewers = 0;
    /* everything before now is unknown to this ring */
    victim->floor = hub.pos;
    victim->last_used = ++hub.tick;
    return victim;
}

static void
sse_ring_push(struct sse_ring *g, uint64_t id, const char *event, const char *data, size_t dlen)
{
    struct sse_msg *m;
    size_t cap = dlen + 96;
    int n;

    if (g->n == hub.ring_cap) {
        m = &g->msgs[g->head];
        g->floor = m->id;
        xfree(m->text);
        g->head = (g->head + 1) % hub.ring_cap;
        g->n--;
    }
    m = &g->msgs[(g->head + g->n) % hub.ring_cap];
    m->id = id;
    m->text = xmalloc(cap);
    n = snprintf(m->text, cap, "id: %" PRIu64 "\nevent: %s\ndata: %.*s\n\n", id, event, (int)dlen,
                 data);
    AN(n > 0 && (size_t)n < cap);
    m->len = (size_t)n;
    g->n++;
    g->last_used = ++hub.tick;
    metric_inc(hub.m_messages);
}

/* ---- viewers (on their worker) ---- */

static void
sse_viewer_detach(struct sse_viewer *v)
{
    TAILQ_REMOVE(&v->sl->viewers, v, link);
    AZ(pthread_mutex_lock(&hub.mu));
    AN(v->ring->viewers);
    v->ring->viewers--;
    v->ring->last_used = ++hub.tick;
    if (atomic_fetch_sub(&hub.viewers, 1) == 1)
        hub.idle_since = api_mono_ms();
    AZ(pthread_mutex_unlock(&hub.mu));
    metric_gauge_add(hub.m_viewers, -1);
}

static void
sse_viewer_on_close(struct httpd_req *r, void *arg)
{
    struct sse_viewer *v;

    (void)r;
    CAST_OBJ_NOTNULL(v, arg, SSE_VIEWER_MAGIC);
    sse_viewer_detach(v);
    FREE_OBJ(v);
}

static void sse_viewer_writable(struct httpd_req *r, void *arg);

/*
 * Writes what v has not had yet; under hub.mu. Returns false when v must
 * be dropped (it fell behind the ring while its output was full).
 */
static bool
sse_viewer_flush(struct sse_viewer *v)
{
    static const char reset[] = "event: reset\ndata: {}\n\n";
    struct sse_ring *g = v->ring;
    struct sse_msg *m;
    size_t i;

    if (v->blocked)
        return true; /* on_writable comes back here */
    if (v->last < g->floor) {
        /* it missed messages the ring no longer has */
        if (httpd_resp_write(v->r, reset, sizeof(reset) - 1) != 0)
            return true; /* closing: on_close follows */
        v->last = g->floor;
    }
    for (i = 0; i < g->n; i++) {
        m = &g->msgs[(g->head + i) % hub.ring_cap];
        if (m->id <= v->last)
            continue;
        if (!httpd_resp_writable(v->r)) {
            v->blocked = true;
            httpd_req_on_writable(v->r, sse_viewer_writable, v);
            return true;
        }
        if (httpd_resp_write(v->r, m->text, m->len) != 0)
            return true;
        v->last = m->id;
    }
    return true;
}

static void
sse_viewer_drop(struct sse_viewer *v)
{
    struct httpd_req *r = v->r;

    metric_inc(hub.m_dropped);
    LOG(LOG_INFO, "sse", "viewer_dropped", "conn=%llu stream=%s last=%" PRIu64,
        (unsigned long long)httpd_req_conn_id(r), v->ring->tid, v->last);
    httpd_req_on_close(r, NULL, NULL);
    sse_viewer_detach(v);
    FREE_OBJ(v);
    httpd_resp_abort(r);
}

static void
sse_viewer_writable(struct httpd_req *r, void *arg)
{
    struct sse_viewer *v;
    bool keep;

    (void)r;
    CAST_OBJ_NOTNULL(v, arg, SSE_VIEWER_MAGIC);
    v->blocked = false;
    AZ(pthread_mutex_lock(&hub.mu));
    keep = v->last >= v->ring->floor && sse_viewer_flush(v);
    AZ(pthread_mutex_unlock(&hub.mu));
    if (!keep)
        sse_viewer_drop(v);
}

/*
 * Sends "ready" (no id: the browser's Last-Event-ID stays the last real
 * one), then what v may already have. Under hub.mu, with the hub
 * following: before that, where "now" is in the log is not known yet.
 */
static void
sse_viewer_ready(struct sse_viewer *v)
{
    struct sse_ring *g = v->ring;
    char ready[64];
    int n;

    v->waiting = false;
    if (!v->resume)
        v->last = g->n > 0 ? g->msgs[(g->head + g->n - 1) % hub.ring_cap].id : g->floor;
    else if (v->last > hub.pos)
        v->last = hub.pos; /* from the future (another log?): from now on */
    n = snprintf(ready, sizeof(ready), "event: ready\ndata: {\"last\":%" PRIu64 "}\n\n", v->last);
    AN(n > 0 && (size_t)n < sizeof(ready));
    if (httpd_resp_write(v->r, ready, (size_t)n) != 0)
        return; /* closing: on_close follows */
    (void)sse_viewer_flush(v);
}

static void
sse_loop_wake_cb(evutil_socket_t fd, short what, void *arg)
{
    struct sse_viewer *v, *next, *drop[64];
    struct sse_loop *sl;
    uint64_t published;
    size_t nd = 0, i;

    (void)fd;
    (void)what;
    CAST_OBJ_NOTNULL(sl, arg, SSE_LOOP_MAGIC);
    AZ(pthread_mutex_lock(&hub.mu));
    for (v = TAILQ_FIRST(&sl->viewers); v != NULL; v = next) {
        next = TAILQ_NEXT(v, link);
        /* blocked and the ring moved past it: it cannot catch up */
        if (v->blocked && v->last < v->ring->floor) {
            if (nd < ARRAY_SIZE(drop))
                drop[nd++] = v;
            continue;
        }
        if (v->waiting) {
            if (hub.following)
                sse_viewer_ready(v);
        } else if (!v->blocked) {
            (void)sse_viewer_flush(v);
        }
    }
    published = hub.published_ms;
    AZ(pthread_mutex_unlock(&hub.mu));
    if (published != 0 && !TAILQ_EMPTY(&sl->viewers))
        metric_observe(hub.m_fanout, (double)(api_mono_ms() - published) / 1000.0);
    for (i = 0; i < nd; i++)
        sse_viewer_drop(drop[i]);
    if (nd == ARRAY_SIZE(drop))
        event_active(sl->wake, EV_READ, 0); /* more to drop */
}

/* Ends v's stream cleanly (the last chunk goes out) and forgets v. */
static void
sse_viewer_end(struct sse_viewer *v)
{
    struct httpd_req *r = v->r;

    httpd_req_on_close(r, NULL, NULL);
    sse_viewer_detach(v);
    FREE_OBJ(v);
    httpd_resp_end(r);
}

/* A draining worker waits for in-flight requests: streams never end by themselves. */
static void
sse_loop_drain_cb(evutil_socket_t fd, short what, void *arg)
{
    struct sse_viewer *v;
    struct sse_loop *sl;

    (void)fd;
    (void)what;
    CAST_OBJ_NOTNULL(sl, arg, SSE_LOOP_MAGIC);
    if (!node_worker_draining(sl->l->nw))
        return;
    while ((v = TAILQ_FIRST(&sl->viewers)) != NULL)
        sse_viewer_end(v);
    if (sl->up != NULL)
        httpc_req_cancel(&sl->up);
    sl->follow = false;
    (void)event_del(sl->retry);
}

static void
sse_loop_ping_cb(evutil_socket_t fd, short what, void *arg)
{
    static const char ping[] = ": ping\n\n";
    struct sse_viewer *v;
    struct sse_loop *sl;

    (void)fd;
    (void)what;
    CAST_OBJ_NOTNULL(sl, arg, SSE_LOOP_MAGIC);
    TAILQ_FOREACH(v, &sl->viewers, link)
    if (!v->blocked && httpd_resp_write(v->r, ping, sizeof(ping) - 1) != 0)
        XXX_HANDLE(0); /* closing: on_close follows */
}

/* /events/{id} -> 's', /events/videos/{id} -> 'v'. */
static bool
sse_route(const char *path, char *tkind, const char **id)
{
    if (strncmp(path, "/events/videos/", 15) == 0) {
        *tkind = 'v';
        *id = path + 15;
    } else {
        *tkind = 's';
        *id = path + 8;
    }
    return sse_target_id_ok(*id);
}

void
sse_handle(struct api_loop *l, struct httpd_req *r)
{
    static const char hello[] = "retry: 2000\n: cascade edge events\n\n";
    const char *id, *lei;
    struct sse_viewer *v;
    struct sse_loop *sl;
    struct sse_ring *g;
    uint64_t last = 0;
    char tkind;

    CHECK_OBJ_NOTNULL(l, API_LOOP_MAGIC);
    CAST_OBJ_NOTNULL(sl, l->sse, SSE_LOOP_MAGIC);
    if (httpd_req_method(r) != HTTP1_M_GET) {
        if (httpd_resp_header(r, "Allow", "GET") != 0)
            XXX_HANDLE(0);
        api_reply_error(r, 405, "method_not_allowed", "events are read with GET", 0);
        return;
    }
    if (!sse_route(httpd_req_path(r), &tkind, &id)) {
        api_reply_error(r, 400, "bad_id", "a stream or video name is 1-64 of A-Z a-z 0-9 . _ -", 0);
        return;
    }
    lei = httpd_req_header(r, "Last-Event-ID");
    if (lei != NULL && sse_last_id_parse(lei, &last) != 0) {
        api_reply_error(r, 400, "bad_last_event_id", "Last-Event-ID is an event id we sent", 0);
        return;
    }
    if (atomic_fetch_add(&hub.viewers, 1) >= hub.max_viewers) {
        atomic_fetch_sub(&hub.viewers, 1);
        metric_inc(hub.m_refused);
        api_reply_error(r, 503, "busy", "this edge has as many viewers as it takes", 5);
        return;
    }
    AZ(pthread_mutex_lock(&hub.mu));
    g = sse_ring_get(tkind, id);
    if (g != NULL)
        g->viewers++;
    AZ(pthread_mutex_unlock(&hub.mu));
    if (g == NULL) {
        atomic_fetch_sub(&hub.viewers, 1);
        metric_inc(hub.m_refused);
        api_reply_error(r, 503, "busy", "this edge follows as many streams as it takes", 5);
        return;
    }
    metric_gauge_add(hub.m_viewers, 1);
    v = xcalloc(1, sizeof(*v));
    v->magic = SSE_VIEWER_MAGIC;
    v->sl = sl;
    v->r = r;
    v->ring = g;
    v->last = last;
    v->resume = lei != NULL;
    v->waiting = true;
    TAILQ_INSERT_TAIL(&sl->viewers, v, link);
    httpd_req_on_close(r, sse_viewer_on_close, v);
    if (httpd_resp_header(r, "Cache-Control", "no-store") != 0 ||
        httpd_resp_header(r, "X-Accel-Buffering", "no") != 0 ||
        httpd_resp_header(r, "Content-Type", "text/event-stream; charset=utf-8") != 0)
        XXX_HANDLE(0);
    httpd_resp_start(r, 200, -1);
    if (httpd_resp_write(r, hello, sizeof(hello) - 1) != 0)
        return; /* closed: on_close freed v */
    AZ(pthread_mutex_lock(&hub.mu));
    if (hub.following)
        sse_viewer_ready(v);
    else if (hub.loops[0] != NULL && hub.loops[0]->follow)
        event_active(hub.loops[0]->retry, EV_TIMEOUT, 0); /* the first viewer: follow */
    AZ(pthread_mutex_unlock(&hub.mu));
}

/* ---- the follower (worker 0) ---- */

static void sse_follow_next(struct sse_loop *sl);

/* A run of reaction updates for one target, being coalesced. */
struct sse_run {
    struct sse_ring *ring;
    uint64_t id;
    json_t *buckets; /* owned */
    json_t *target;  /* owned */
};

static void
sse_run_flush(struct sse_run *run)
{
    json_t *o;
    char *text;

    if (run->ring == NULL)
        return;
    o = json_pack("{s:I, s:s, s:o, s:o}", "id", (json_int_t)run->id, "type", "reactions", "target",
                  run->target, "buckets", run->buckets);
    AN(o);
    text = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII);
    AN(text);
    sse_ring_push(run->ring, run->id, "reactions", text, strlen(text));
    free(text); /* jansson's malloc */
    json_decref(o);
    memset(run, 0, sizeof(*run));
}

/* Appends b's events to the rings; under hub.mu. */
static void
sse_publish(struct sse_batch *b)
{
    static const char *const names[] = {"", "comment", "comment_deleted", "likes", "reactions"};
    struct sse_run runs[16];
    struct sse_ring *g;
    struct sse_ev *e;
    size_t i, k, nruns = 0;

    memset(runs, 0, sizeof(runs));
    if (b->reset) {
        metric_inc(hub.m_resets);
        /* the origin trimmed past us: every viewer refetches */
        for (k = 0; k < hub.nrings; k++)
            if (hub.rings[k].used) {
                sse_ring_empty(&hub.rings[k]);
                hub.rings[k].floor = b->n > 0 ? b->ev[0].id - 1 : b->last;
            }
    }
    for (i = 0; i < b->n; i++) {
        e = &b->ev[i];
        metric_inc(hub.m_events);
        g = sse_ring_get(e->tkind, e->tid);
        if (g == NULL)
            continue; /* every ring has viewers: nobody here watches this one */
        for (k = 0; k < nruns; k++)
            if (runs[k].ring == g)
                break;
        if (e->type != SSE_EV_REACTIONS) {
            if (k < nruns)
                sse_run_flush(&runs[k]); /* keep ids growing within the ring */
            sse_ring_push(g, e->id, names[e->type], e->json, e->json_len);
            continue;
        }
        if (k == nruns) {
            if (nruns == ARRAY_SIZE(runs)) {
                sse_run_flush(&runs[0]);
                memmove(&runs[0], &runs[1], (nruns - 1) * sizeof(runs[0]));
                nruns--;
                memset(&runs[nruns], 0, sizeof(runs[0]));
                k = nruns;
            }
            runs[k].ring = g;
            runs[k].buckets = json_array();
            runs[k].target =
                json_pack("{s:s, s:s}", "kind", e->tkind == 's' ? "stream" : "video", "id", e->tid);
            nruns++;
        }
        runs[k].id = e->id;
        AZ(json_array_append_new(runs[k].buckets,
                                 json_pack("{s:I, s:s, s:I}", "bucket_ms", (json_int_t)e->bucket_ms,
                                           "kind", e->kind, "count", (json_int_t)e->count)));
    }
    for (k = 0; k < nruns; k++)
        sse_run_flush(&runs[k]);
    if (!hub.following) {
        /* (re)starting from the newest: what came before is unknown here */
        for (k = 0; k < hub.nrings; k++)
            if (hub.rings[k].used) {
                sse_ring_empty(&hub.rings[k]);
                hub.rings[k].floor = b->last;
            }
        hub.pos = b->last;
    } else if (b->reset)
        hub.pos = b->upto > 0 ? b->upto : b->last;
    else if (b->upto > hub.pos)
        hub.pos = b->upto;
    hub.following = true;
}

static void
sse_wake_all(void)
{
    size_t i;

    AZ(pthread_mutex_lock(&hub.mu));
    for (i = 0; i < SSE_LOOPS_MAX; i++)
        if (hub.loops[i] != NULL)
            event_active(hub.loops[i]->wake, EV_READ, 0);
    AZ(pthread_mutex_unlock(&hub.mu));
}

static void
sse_up_head(struct httpc_req *u, void *arg)
{
    (void)u;
    (void)arg;
}

static void
sse_up_body(struct httpc_req *u, const void *data, size_t len, void *arg)
{
    struct sse_loop *sl;

    (void)u;
    CAST_OBJ_NOTNULL(sl, arg, SSE_LOOP_MAGIC);
    if (sl->too_big || len > SSE_BODY_MAX - sl->len) {
        sl->too_big = true;
        return;
    }
    if (sl->len + len > sl->cap) {
        while (sl->len + len > sl->cap)
            sl->cap = sl->cap == 0 ? 16384 : sl->cap * 2;
        sl->body = xrealloc(sl->body, sl->cap);
    }
    memcpy(sl->body + sl->len, data, len);
    sl->len += len;
}

static void
sse_follow_retry(struct sse_loop *sl)
{
    struct timeval tv = {SSE_RETRY_MS / 1000, (SSE_RETRY_MS % 1000) * 1000};

    if (!sl->follow)
        return;
    metric_inc(hub.m_poll_errors);
    if (sl->l->nups > 0)
        sl->l->up_next = (sl->l->up_next + 1) % sl->l->nups;
    AZ(event_add(sl->retry, &tv));
}

static void
sse_up_done(struct httpc_req *u, int err, void *arg)
{
    struct sse_loop *sl;
    struct sse_batch *b;
    int status, rc;
    bool idle;

    CAST_OBJ_NOTNULL(sl, arg, SSE_LOOP_MAGIC);
    sl->up = NULL;
    status = err == 0 ? httpc_resp_status(u) : 0;
    if (err != 0 || status != 200 || sl->too_big) {
        LOG(LOG_INFO, "sse", "poll_failed", "conn=0 status=%d err=%s too_big=%d", status,
            err_name(err), sl->too_big);
        sse_follow_retry(sl);
        return;
    }
    b = xmalloc(sizeof(*b));
    rc = sse_batch_decode(sl->body, sl->len, b);
    if (rc != 0) {
        LOG(LOG_WARN, "sse", "poll_bad_answer", "conn=0 err=%s len=%zu", err_name(rc), sl->len);
        xfree(b);
        sse_follow_retry(sl);
        return;
    }
    DASSERT((sse_batch_check(b), 1));
    AZ(pthread_mutex_lock(&hub.mu));
    sse_publish(b);
    hub.published_ms = api_mono_ms();
    AZ(pthread_mutex_unlock(&hub.mu));
    sse_batch_clear(b);
    xfree(b);
    sse_wake_all();
    /* Nobody has watched for SSE_LINGER_MS: stop asking; the next viewer
     * starts again from the newest (a viewer back within the linger
     * resumes from its ring). Under the lock: a viewer counts itself
     * before it looks. */
    AZ(pthread_mutex_lock(&hub.mu));
    idle = atomic_load(&hub.viewers) == 0 && api_mono_ms() - hub.idle_since > SSE_LINGER_MS;
    if (idle)
        hub.following = false;
    AZ(pthread_mutex_unlock(&hub.mu));
    if (idle)
        return;
    if (sl->follow)
        sse_follow_next(sl);
}

static const struct httpc_cbs sse_up_cbs = {
    .on_head = sse_up_head,
    .on_body = sse_up_body,
    .on_done = sse_up_done,
};

static void
sse_follow_next(struct sse_loop *sl)
{
    static const char *const hdrs[] = {"Accept", "application/json", NULL};
    const struct sockaddr *sa;
    socklen_t salen;
    char target[96];
    bool following;
    uint64_t pos;

    if (!api_upstream_get(sl->l, 0, &sa, &salen))
        return;
    AZ(pthread_mutex_lock(&hub.mu));
    following = hub.following;
    pos = hub.pos;
    AZ(pthread_mutex_unlock(&hub.mu));
    if (following)
        (void)snprintf(target, sizeof(target), "/api/events?after=%" PRIu64 "&wait=%" PRIu64, pos,
                       hub.poll_wait_ms);
    else
        (void)snprintf(target, sizeof(target), "/api/events"); /* where the log is now */
    sl->len = 0;
    sl->too_big = false;
    metric_inc(hub.m_polls);
    sl->up = httpc_request(sl->l->httpc, sa, salen, "GET", target, hdrs, NULL, 0, &sse_up_cbs, sl);
    AN(sl->up);
}

static void
sse_retry_cb(evutil_socket_t fd, short what, void *arg)
{
    struct sse_loop *sl;

    (void)fd;
    (void)what;
    CAST_OBJ_NOTNULL(sl, arg, SSE_LOOP_MAGIC);
    if (sl->up == NULL && sl->follow)
        sse_follow_next(sl);
}

/* ---- life ---- */

static const double sse_fanout_bounds[] = {0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1};

int
sse_start(const struct edge_conf *c)
{
    memset(&hub, 0, sizeof(hub));
    AZ(pthread_mutex_init(&hub.mu, NULL));
    hub.nrings = (size_t)c->sse_max_streams;
    hub.ring_cap = (size_t)c->sse_ring;
    hub.rings = xcalloc(hub.nrings, sizeof(*hub.rings));
    for (size_t i = 0; i < hub.nrings; i++)
        hub.rings[i].msgs = xcalloc(hub.ring_cap, sizeof(struct sse_msg));
    hub.max_viewers = (long)c->sse_max_viewers;
    hub.keepalive_ms = c->sse_keepalive;
    hub.poll_wait_ms = c->sse_poll_wait;
    hub.m_viewers = metrics_gauge("edge.sse.viewers", "Viewers on /events/.");
    hub.m_events = metrics_counter("edge.sse.events", "Origin events received.");
    hub.m_messages = metrics_counter("edge.sse.messages", "SSE messages added to the rings.");
    hub.m_dropped = metrics_counter("edge.sse.dropped", "Viewers dropped: too slow to keep up.");
    hub.m_refused = metrics_counter("edge.sse.refused", "Viewers refused: sse.max_viewers or "
                                                        "sse.max_streams.");
    hub.m_polls = metrics_counter("edge.sse.polls", "Requests for the origin's event log.");
    hub.m_poll_errors = metrics_counter("edge.sse.poll_errors", "Failed event-log requests.");
    hub.m_resets = metrics_counter("edge.sse.resets", "Origin answers that reset the log.");
    hub.m_fanout = metrics_histogram("edge.sse.fanout_seconds",
                                     "From an origin answer to a worker's viewers written.",
                                     sse_fanout_bounds, ARRAY_SIZE(sse_fanout_bounds));
    hub.started = true;
    return 0;
}

void
sse_stop(void)
{
    size_t i;

    if (!hub.started)
        return;
    for (i = 0; i < hub.nrings; i++) {
        sse_ring_empty(&hub.rings[i]);
        xfree(hub.rings[i].msgs);
    }
    xfree(hub.rings);
    AZ(pthread_mutex_destroy(&hub.mu));
    hub.started = false;
}

void
sse_loop_start(struct api_loop *l, bool follow)
{
    struct timeval tv;
    struct sse_loop *sl;

    CHECK_OBJ_NOTNULL(l, API_LOOP_MAGIC);
    AN(l->id < SSE_LOOPS_MAX);
    sl = xcalloc(1, sizeof(*sl));
    sl->magic = SSE_LOOP_MAGIC;
    sl->l = l;
    TAILQ_INIT(&sl->viewers);
    sl->wake = event_new(l->base, -1, 0, sse_loop_wake_cb, sl);
    AN(sl->wake);
    sl->ping = event_new(l->base, -1, EV_PERSIST, sse_loop_ping_cb, sl);
    AN(sl->ping);
    tv.tv_sec = (time_t)(hub.keepalive_ms / 1000);
    tv.tv_usec = (suseconds_t)((hub.keepalive_ms % 1000) * 1000);
    AZ(event_add(sl->ping, &tv));
    sl->retry = event_new(l->base, -1, 0, sse_retry_cb, sl);
    AN(sl->retry);
    sl->drain = event_new(l->base, -1, EV_PERSIST, sse_loop_drain_cb, sl);
    AN(sl->drain);
    tv.tv_sec = 0;
    tv.tv_usec = SSE_DRAIN_CHECK_MS * 1000;
    AZ(event_add(sl->drain, &tv));
    l->sse = sl;
    AZ(pthread_mutex_lock(&hub.mu));
    hub.loops[l->id] = sl;
    AZ(pthread_mutex_unlock(&hub.mu));
    sl->follow = follow && l->id == 0; /* started by the first viewer */
}

void
sse_loop_stop(struct api_loop *l)
{
    struct sse_viewer *v;
    struct sse_loop *sl;

    CHECK_OBJ_NOTNULL(l, API_LOOP_MAGIC);
    if (l->sse == NULL)
        return;
    CAST_OBJ_NOTNULL(sl, l->sse, SSE_LOOP_MAGIC);
    AZ(pthread_mutex_lock(&hub.mu));
    hub.loops[l->id] = NULL;
    AZ(pthread_mutex_unlock(&hub.mu));
    while ((v = TAILQ_FIRST(&sl->viewers)) != NULL)
        sse_viewer_drop(v);
    if (sl->up != NULL)
        httpc_req_cancel(&sl->up);
    event_free(sl->wake);
    event_free(sl->ping);
    event_free(sl->retry);
    event_free(sl->drain);
    xfree(sl->body);
    l->sse = NULL;
    FREE_OBJ(sl);
}
