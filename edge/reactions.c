/*
 * reactions.c -- reactions counted per (target, kind, window) at the edge,
 * sent upstream as batches (reactions.h).
 *
 * The table is process-wide under one mutex: any worker adds, worker 0
 * takes. Its entries are chained in REACTIONS_HASH_SLOTS lists and
 * counted against max_entries, so it never grows past the configured cap.
 *
 * The sender (worker 0) runs one thing at a time: fetching the edge
 * session, or one batch in flight. Its timer fires every social.window;
 * a tick with a batch still unsent (a failure) resends that batch first,
 * unchanged, with its seq. Seqs start at the wall clock in ms, so they
 * keep growing across restarts (the origin drops a seq not above the
 * last one it applied for this edge name).
 *
 * Ownership: the sender owns its timer, the edge token, the batch text
 * and the upstream request; struct reactions_post (one viewer's POST)
 * is owned by its request until the answer.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/event.h>
#include <jansson.h>

#include "reactions.h"
#include "edge_conf.h"
#include "edge_int.h"
#include "err.h"
#include "httpc.h"
#include "httpd.h"
#include "log.h"
#include "mem.h"
#include "metrics.h"
#include "social_int.h"
#include "compat.h"

#define REACTIONS_HASH_SLOTS 4096
#define REACTIONS_POST_MAX 1024 /* a viewer's reaction body */
#define REACTIONS_KINDS_MAX 32
#define REACTIONS_T_MAX 9007199254740991LL /* 2^53 - 1 */
#define REACTIONS_TOKEN_MAX 512
#define REACTIONS_ANSWER_MAX 4096 /* the origin's answers we read */

/* ---- the table ---- */

struct reactions_entry {
    struct reactions_delta d;
    uint64_t hash;
    struct reactions_entry *next;
};

struct reactions_table {
    unsigned magic;
#define REACTIONS_TABLE_MAGIC 0x7274626cU
    size_t n, max;
    struct reactions_entry *slots[REACTIONS_HASH_SLOTS];
};

static uint64_t
reactions_hash(const struct reactions_delta *d)
{
    uint64_t h = 0xcbf29ce484222325ull;
    const char *p;

    h = (h ^ (unsigned char)d->tkind) * 0x100000001b3ull;
    for (p = d->id; *p != '\0'; p++)
        h = (h ^ (unsigned char)*p) * 0x100000001b3ull;
    h = (h ^ 0xffu) * 0x100000001b3ull;
    for (p = d->kind; *p != '\0'; p++)
        h = (h ^ (unsigned char)*p) * 0x100000001b3ull;
    h ^= (uint64_t)d->window_ms * 0x9e3779b97f4a7c15ull;
    return h ^ (h >> 29);
}

static bool
reactions_same(const struct reactions_delta *a, const struct reactions_delta *b)
{
    return a->tkind == b->tkind && a->window_ms == b->window_ms && strcmp(a->id, b->id) == 0 &&
           strcmp(a->kind, b->kind) == 0;
}

struct reactions_table *
reactions_table_new(size_t max_entries)
{
    struct reactions_table *t;

    t = xcalloc(1, sizeof(*t));
    t->magic = REACTIONS_TABLE_MAGIC;
    t->max = max_entries;
    return t;
}

void
reactions_table_free(struct reactions_table **pt)
{
    struct reactions_table *t = *pt;
    struct reactions_entry *e, *next;
    size_t i;

    *pt = NULL;
    if (t == NULL)
        return;
    CHECK_OBJ(t, REACTIONS_TABLE_MAGIC);
    for (i = 0; i < REACTIONS_HASH_SLOTS; i++)
        for (e = t->slots[i]; e != NULL; e = next) {
            next = e->next;
            xfree(e);
        }
    FREE_OBJ(t);
}

int
reactions_table_add(struct reactions_table *t, const struct reactions_delta *d)
{
    struct reactions_entry *e;
    uint64_t h;

    CHECK_OBJ_NOTNULL(t, REACTIONS_TABLE_MAGIC);
    h = reactions_hash(d);
    for (e = t->slots[h % REACTIONS_HASH_SLOTS]; e != NULL; e = e->next)
        if (e->hash == h && reactions_same(&e->d, d)) {
            if (e->d.count >= REACTIONS_COUNT_MAX)
                return ERR_LIMIT; /* the next batch takes it */
            e->d.count++;
            return 0;
        }
    if (t->n >= t->max)
        return ERR_LIMIT;
    e = xcalloc(1, sizeof(*e));
    e->d = *d;
    e->d.count = 1;
    e->hash = h;
    e->next = t->slots[h % REACTIONS_HASH_SLOTS];
    t->slots[h % REACTIONS_HASH_SLOTS] = e;
    t->n++;
    return 0;
}

size_t
reactions_table_take(struct reactions_table *t, struct reactions_delta *out, size_t max)
{
    struct reactions_entry *e;
    size_t i, n = 0;

    CHECK_OBJ_NOTNULL(t, REACTIONS_TABLE_MAGIC);
    for (i = 0; i < REACTIONS_HASH_SLOTS && n < max; i++)
        while (t->slots[i] != NULL && n < max) {
            e = t->slots[i];
            t->slots[i] = e->next;
            out[n++] = e->d;
            xfree(e);
            t->n--;
        }
    return n;
}

size_t
reactions_table_count(const struct reactions_table *t)
{
    CHECK_OBJ_NOTNULL(t, REACTIONS_TABLE_MAGIC);
    return t->n;
}

void
reactions_table_check(const struct reactions_table *t)
{
    const struct reactions_entry *e;
    size_t i, n = 0;

    CHECK_OBJ_NOTNULL(t, REACTIONS_TABLE_MAGIC);
    for (i = 0; i < REACTIONS_HASH_SLOTS; i++)
        for (e = t->slots[i]; e != NULL; e = e->next) {
            assert(e->hash % REACTIONS_HASH_SLOTS == i);
            assert(e->d.count >= 1 && e->d.count <= REACTIONS_COUNT_MAX);
            n++;
        }
    assert(n == t->n && n <= t->max);
}

/* ---- process-wide ---- */

static const double reactions_rtt_bounds[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5};

static struct {
    pthread_mutex_t mu;
    struct reactions_table *table; /* owned, under mu */
    char kinds[REACTIONS_KINDS_MAX][REACTIONS_KIND_MAX + 1];
    unsigned nkinds;
    uint64_t window_ms;
    char *edge_key, *edge_name; /* owned */
    bool enabled, started;
    struct metric *m_received, *m_batches, *m_failed, *m_busy, *m_deltas, *m_rejected;
    struct metric *m_batch_seconds;
} rx_g;

enum reactions_sender_state {
    RX_IDLE = 0,
    RX_SESSION, /* POST /api/sessions in flight */
    RX_BATCH,   /* POST /api/reactions/batch in flight */
};

struct reactions_sender {
    unsigned magic;
#define REACTIONS_SENDER_MAGIC 0x72736e64U
    struct api_loop *l;   /* borrowed */
    struct event *timer;  /* owned: every window */
    struct httpc_req *up; /* owned; NULL when idle */
    enum reactions_sender_state state;
    char token[REACTIONS_TOKEN_MAX + 1]; /* "" until a session */
    char auth[REACTIONS_TOKEN_MAX + 16];
    char *batch; /* owned: a batch not yet accepted, or NULL */
    size_t batch_len;
    uint64_t seq;
    uint64_t batch_reactions;
    char answer[REACTIONS_ANSWER_MAX + 1];
    size_t answer_len;
    unsigned session_failures; /* in a row; logged once */
    uint64_t sent_ms;          /* when the batch in flight left */
};

bool
reactions_enabled(void)
{
    return rx_g.enabled;
}

int
reactions_start(const struct edge_conf *c)
{
    const char *p = c->social_reactions, *comma;
    size_t n;
    char name[80];

    memset(&rx_g, 0, sizeof(rx_g));
    while (*p != '\0' && rx_g.nkinds < REACTIONS_KINDS_MAX) {
        comma = strchr(p, ',');
        n = comma != NULL ? (size_t)(comma - p) : strlen(p);
        if (n >= 1 && n <= REACTIONS_KIND_MAX) {
            memcpy(rx_g.kinds[rx_g.nkinds], p, n);
            rx_g.kinds[rx_g.nkinds][n] = '\0';
            rx_g.nkinds++;
        }
        p += n;
        if (*p == ',')
            p++;
    }
    AZ(pthread_mutex_init(&rx_g.mu, NULL));
    rx_g.table = reactions_table_new((size_t)c->social_max_pending);
    rx_g.window_ms = c->social_window;
    rx_g.edge_key = xstrdup(c->social_edge_key);
    if (c->social_edge_name[0] != '\0') {
        rx_g.edge_name = xstrdup(c->social_edge_name);
    } else {
        /* "edge-127.0.0.1-8081": only [A-Za-z0-9._-] in a batch's edge name */
        (void)snprintf(name, sizeof(name), "edge-%.60s", c->listen);
        for (n = 0; name[n] != '\0'; n++)
            if (strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-",
                       name[n]) == NULL)
                name[n] = '-';
        rx_g.edge_name = xstrdup(name);
    }
    rx_g.enabled = c->social_edge_key[0] != '\0' && c->role == EDGE_ROLE_EDGE;
    rx_g.m_received = metrics_counter("edge.reactions.received", "Reactions taken from viewers.");
    rx_g.m_batches = metrics_counter("edge.reactions.batches", "Batches the origin accepted.");
    rx_g.m_deltas = metrics_counter("edge.reactions.deltas", "Deltas in accepted batches.");
    rx_g.m_failed =
        metrics_counter("edge.reactions.batch_failures", "Batches that failed (resent).");
    rx_g.m_rejected =
        metrics_counter("edge.reactions.rejected", "Batches the origin refused (dropped).");
    rx_g.m_busy = metrics_counter("edge.reactions.busy", "Reactions refused: table full.");
    rx_g.m_batch_seconds =
        metrics_histogram("edge.reactions.batch_seconds", "Time the origin took to accept a batch.",
                          reactions_rtt_bounds, ARRAY_SIZE(reactions_rtt_bounds));
    rx_g.started = true;
    return 0;
}

void
reactions_stop(void)
{
    if (!rx_g.started)
        return;
    reactions_table_free(&rx_g.table);
    xfree(rx_g.edge_key);
    xfree(rx_g.edge_name);
    AZ(pthread_mutex_destroy(&rx_g.mu));
    rx_g.started = false;
}

/* ---- the sender ---- */

static void reactions_tick(evutil_socket_t fd, short what, void *arg);

static void
reactions_up_head(struct httpc_req *u, void *arg)
{
    (void)u;
    (void)arg;
}

static void
reactions_up_body(struct httpc_req *u, const void *data, size_t len, void *arg)
{
    struct reactions_sender *s;

    (void)u;
    CAST_OBJ_NOTNULL(s, arg, REACTIONS_SENDER_MAGIC);
    if (len > REACTIONS_ANSWER_MAX - s->answer_len)
        len = REACTIONS_ANSWER_MAX - s->answer_len; /* only the token matters */
    memcpy(s->answer + s->answer_len, data, len);
    s->answer_len += len;
}

static void
reactions_session_done(struct reactions_sender *s, int status)
{
    json_t *root;
    const char *tok;

    if (status != 201) {
        LOG(LOG_WARN, "reactions", "session_failed", "conn=0 status=%d", status);
        return;
    }
    s->answer[s->answer_len] = '\0';
    root = json_loadb(s->answer, s->answer_len, 0, NULL);
    tok = root != NULL ? json_string_value(json_object_get(root, "token")) : NULL;
    if (tok != NULL && strlen(tok) <= REACTIONS_TOKEN_MAX) {
        (void)snprintf(s->token, sizeof(s->token), "%s", tok);
        (void)snprintf(s->auth, sizeof(s->auth), "Bearer %s", tok);
        LOG(LOG_INFO, "reactions", "session", "conn=0 edge=%s", rx_g.edge_name);
    } else {
        LOG(LOG_WARN, "reactions", "session_bad_answer", "conn=0");
    }
    json_decref(root);
}

static void
reactions_batch_done(struct reactions_sender *s, int status, int err)
{
    if (err == 0 && status == 200) {
        metric_inc(rx_g.m_batches);
        metric_observe(rx_g.m_batch_seconds, (double)(api_mono_ms() - s->sent_ms) / 1000.0);
        xfree(s->batch);
        s->batch = NULL;
        s->seq++;
        return;
    }
    if (err == 0 && (status == 401 || status == 403)) {
        s->token[0] = '\0'; /* a new session, then the same batch */
        metric_inc(rx_g.m_failed);
        return;
    }
    if (err == 0 && status >= 400 && status < 500 && status != 429 && status != 408) {
        /* the origin will never take it: drop it, keep going */
        metric_inc(rx_g.m_rejected);
        LOG(LOG_WARN, "reactions", "batch_rejected", "conn=0 seq=%llu status=%d",
            (unsigned long long)s->seq, status);
        xfree(s->batch);
        s->batch = NULL;
        s->seq++;
        return;
    }
    metric_inc(rx_g.m_failed);
    LOG(LOG_INFO, "reactions", "batch_failed", "conn=0 seq=%llu status=%d err=%s",
        (unsigned long long)s->seq, status, err_name(err));
}

static void
reactions_up_done(struct httpc_req *u, int err, void *arg)
{
    struct reactions_sender *s;
    int status;

    CAST_OBJ_NOTNULL(s, arg, REACTIONS_SENDER_MAGIC);
    s->up = NULL;
    status = err == 0 ? httpc_resp_status(u) : 0;
    if (s->state == RX_SESSION) {
        if (err == 0)
            reactions_session_done(s, status);
        else if (s->session_failures++ == 0) /* once per outage: it is retried every window */
            LOG(LOG_INFO, "reactions", "session_failed", "conn=0 err=%s", err_name(err));
        if (s->token[0] != '\0')
            s->session_failures = 0;
    } else {
        reactions_batch_done(s, status, err);
    }
    s->state = RX_IDLE;
    if (err != 0 && s->l->nups > 0)
        s->l->up_next = (s->l->up_next + 1) % s->l->nups; /* try the next origin */
}

static const struct httpc_cbs reactions_up_cbs = {
    .on_head = reactions_up_head,
    .on_body = reactions_up_body,
    .on_done = reactions_up_done,
};

static void
reactions_post(struct reactions_sender *s, const char *target, const char *body, size_t len,
               bool auth)
{
    const char *hdrs[] = {"Content-Type",
                          "application/json",
                          "Via",
                          edge_g.via,
                          auth ? "Authorization" : NULL,
                          s->auth,
                          NULL};
    const struct sockaddr *sa;
    socklen_t salen;

    if (!api_upstream_get(s->l, 0, &sa, &salen))
        return;
    s->answer_len = 0;
    s->up = httpc_request(s->l->httpc, sa, salen, "POST", target, hdrs, body, len,
                          &reactions_up_cbs, s);
    AN(s->up);
}

/* Takes the table's counts into a new batch text (s->batch). */
static void
reactions_batch_build(struct reactions_sender *s)
{
    struct reactions_delta *d;
    json_t *root, *arr;
    char *text;
    uint64_t sum = 0;
    size_t n, i;

    d = xmalloc(REACTIONS_BATCH_MAX * sizeof(*d));
    AZ(pthread_mutex_lock(&rx_g.mu));
    n = reactions_table_take(rx_g.table, d, REACTIONS_BATCH_MAX);
    AZ(pthread_mutex_unlock(&rx_g.mu));
    if (n == 0) {
        xfree(d);
        return;
    }
    arr = json_array();
    for (i = 0; i < n; i++) {
        AZ(json_array_append_new(
            arr, json_pack("{s:s, s:s, s:I, s:I}", d[i].tkind == 's' ? "stream" : "video", d[i].id,
                           "kind", d[i].kind, "window_start", (json_int_t)d[i].window_ms, "count",
                           (json_int_t)d[i].count)));
        sum += d[i].count;
    }
    root = json_pack("{s:s, s:I, s:o}", "edge", rx_g.edge_name, "seq", (json_int_t)s->seq, "deltas",
                     arr);
    text = json_dumps(root, JSON_COMPACT);
    AN(text);
    s->batch = xstrdup(text);
    free(text); /* jansson's malloc */
    s->batch_len = strlen(s->batch);
    s->batch_reactions = sum;
    metric_add(rx_g.m_deltas, n);
    json_decref(root);
    xfree(d);
}

static void
reactions_tick(evutil_socket_t fd, short what, void *arg)
{
    struct reactions_sender *s;
    json_t *root;
    char *body;

    (void)fd;
    (void)what;
    CAST_OBJ_NOTNULL(s, arg, REACTIONS_SENDER_MAGIC);
    if (s->state != RX_IDLE)
        return;
    if (s->token[0] == '\0') {
        root = json_pack("{s:s, s:s}", "name", rx_g.edge_name, "edge_key", rx_g.edge_key);
        AN(root);
        body = json_dumps(root, JSON_COMPACT);
        AN(body);
        json_decref(root);
        s->state = RX_SESSION;
        reactions_post(s, "/api/sessions", body, strlen(body), false); /* httpc copies */
        free(body);                                                    /* jansson's malloc */
        if (s->up == NULL)
            s->state = RX_IDLE;
        return;
    }
    if (s->batch == NULL)
        reactions_batch_build(s);
    if (s->batch == NULL)
        return;
    s->state = RX_BATCH;
    s->sent_ms = api_mono_ms();
    reactions_post(s, "/api/reactions/batch", s->batch, s->batch_len, true);
    if (s->up == NULL)
        s->state = RX_IDLE;
}

void
reactions_sender_start(struct api_loop *l)
{
    struct reactions_sender *s;
    struct timeval tv;

    CHECK_OBJ_NOTNULL(l, API_LOOP_MAGIC);
    if (!rx_g.enabled)
        return;
    s = xcalloc(1, sizeof(*s));
    s->magic = REACTIONS_SENDER_MAGIC;
    s->l = l;
    s->seq = (uint64_t)api_wall_ms();
    s->timer = event_new(l->base, -1, EV_PERSIST, reactions_tick, s);
    AN(s->timer);
    tv.tv_sec = (time_t)(rx_g.window_ms / 1000);
    tv.tv_usec = (suseconds_t)((rx_g.window_ms % 1000) * 1000);
    AZ(event_add(s->timer, &tv));
    event_active(s->timer, EV_TIMEOUT, 0); /* the session at once */
    l->sender = s;
}

void
reactions_sender_stop(struct api_loop *l)
{
    struct reactions_sender *s;

    CHECK_OBJ_NOTNULL(l, API_LOOP_MAGIC);
    if (l->sender == NULL)
        return;
    CAST_OBJ_NOTNULL(s, l->sender, REACTIONS_SENDER_MAGIC);
    l->sender = NULL;
    if (s->up != NULL)
        httpc_req_cancel(&s->up);
    event_free(s->timer);
    xfree(s->batch);
    FREE_OBJ(s);
}

/* ---- a viewer's POST ---- */

struct reactions_post {
    unsigned magic;
#define REACTIONS_POST_MAGIC 0x72706f73U
    struct reactions_delta d;
    char body[REACTIONS_POST_MAX];
    size_t len;
    bool too_big;
};

static bool
reactions_id_ok(const char *id)
{
    size_t n = strlen(id);

    if (n == 0 || n > REACTIONS_ID_MAX || strcmp(id, ".") == 0 || strcmp(id, "..") == 0)
        return false;
    return strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == n;
}

static void
reactions_post_on_close(struct httpd_req *r, void *arg)
{
    struct reactions_post *p;

    (void)r;
    CAST_OBJ_NOTNULL(p, arg, REACTIONS_POST_MAGIC);
    FREE_OBJ(p);
}

static void
reactions_post_data(struct httpd_req *r, const void *data, size_t len, void *arg)
{
    struct reactions_post *p;

    (void)r;
    CAST_OBJ_NOTNULL(p, arg, REACTIONS_POST_MAGIC);
    if (p->too_big || len > sizeof(p->body) - p->len) {
        p->too_big = true;
        return;
    }
    memcpy(p->body + p->len, data, len);
    p->len += len;
}

/* 0, or an error answered on r. */
static int
reactions_post_parse(struct reactions_post *p, struct httpd_req *r)
{
    json_t *root, *k, *t;
    const char *ks;
    unsigned i;

    root = json_loadb(p->body, p->len, JSON_REJECT_DUPLICATES, NULL);
    if (root == NULL || !json_is_object(root)) {
        json_decref(root);
        api_reply_error(r, 400, "bad_json", "the body is not a JSON object", 0);
        return ERR_PROTO;
    }
    k = json_object_get(root, "kind");
    t = json_object_get(root, "t");
    if (k == NULL || t == NULL) {
        json_decref(root);
        api_reply_error(r, 400, "missing_field", "kind and t are required", 0);
        return ERR_PROTO;
    }
    if (!json_is_string(k) || !json_is_integer(t)) {
        json_decref(root);
        api_reply_error(r, 400, "wrong_type", "kind is a string, t an integer", 0);
        return ERR_PROTO;
    }
    if (json_integer_value(t) < 0 || json_integer_value(t) > REACTIONS_T_MAX) {
        json_decref(root);
        api_reply_error(r, 400, "bad_value", "t is media time in ms, 0 to 2^53-1", 0);
        return ERR_PROTO;
    }
    ks = json_string_value(k);
    for (i = 0; i < rx_g.nkinds; i++)
        if (strcmp(ks, rx_g.kinds[i]) == 0)
            break;
    if (i == rx_g.nkinds) {
        json_decref(root);
        api_reply_error(r, 400, "unknown_kind", "that reaction is not configured", 0);
        return ERR_PROTO;
    }
    (void)snprintf(p->d.kind, sizeof(p->d.kind), "%s", ks);
    p->d.window_ms = json_integer_value(t) - json_integer_value(t) % (int64_t)rx_g.window_ms;
    json_decref(root);
    return 0;
}

static void
reactions_post_end(struct httpd_req *r, int err, void *arg)
{
    struct reactions_post *p;
    char out[160];
    int rc, n;

    CAST_OBJ_NOTNULL(p, arg, REACTIONS_POST_MAGIC);
    if (err == ERR_CLOSED || err == ERR_TIMEOUT)
        return; /* on_close frees p */
    httpd_req_on_close(r, NULL, NULL);
    if (err == ERR_LIMIT || p->too_big) {
        metric_inc(api_m.too_large);
        api_reply_error(r, 413, "too_large", "a reaction's body is at most 1 KiB", 0);
        goto out;
    }
    if (err != 0) {
        api_reply_error(r, 400, "bad_body", "the body could not be read", 0);
        goto out;
    }
    if (reactions_post_parse(p, r) != 0)
        goto out;
    AZ(pthread_mutex_lock(&rx_g.mu));
    rc = reactions_table_add(rx_g.table, &p->d);
    AZ(pthread_mutex_unlock(&rx_g.mu));
    if (rc != 0) {
        metric_inc(rx_g.m_busy);
        api_reply_error(r, 503, "busy", "too many reactions waiting for the origin", 1);
        goto out;
    }
    metric_inc(rx_g.m_received);
    n = snprintf(out, sizeof(out), "{\"kind\":\"%s\",\"window_start\":%lld,\"window_ms\":%llu}",
                 p->d.kind, (long long)p->d.window_ms, (unsigned long long)rx_g.window_ms);
    AN(n > 0 && (size_t)n < sizeof(out));
    httpd_resp_set(r, "Cache-Control", "no-store");
    httpd_resp_send(r, 202, "application/json", out, (size_t)n);
out:
    FREE_OBJ(p);
}

void
reactions_handle(struct api_loop *l, struct httpd_req *r, char tkind, const char *id)
{
    const char *h = httpd_req_header(r, "Authorization");
    const char *ct = httpd_req_header(r, "Content-Type");
    struct reactions_post *p;

    CHECK_OBJ_NOTNULL(l, API_LOOP_MAGIC);
    /* The origin verifies tokens; the edge only asks for one (and limits
     * each token's rate): it holds no secret. */
    if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0 || h[7] == '\0') {
        httpd_resp_set(r, "WWW-Authenticate", "Bearer");
        api_reply_error(r, 401, "unauthorized", "writing needs a token: POST /api/sessions", 0);
        return;
    }
    if (!reactions_id_ok(id)) {
        api_reply_error(r, 400, "bad_id", "a stream or video name is 1-64 of A-Z a-z 0-9 . _ -", 0);
        return;
    }
    if (ct == NULL || strncasecmp(ct, "application/json", 16) != 0 ||
        (ct[16] != '\0' && ct[16] != ';' && ct[16] != ' ')) {
        api_reply_error(r, 415, "unsupported_media_type", "send the body as application/json", 0);
        return;
    }
    p = xcalloc(1, sizeof(*p));
    p->magic = REACTIONS_POST_MAGIC;
    p->d.tkind = tkind;
    (void)snprintf(p->d.id, sizeof(p->d.id), "%s", id);
    httpd_req_on_close(r, reactions_post_on_close, p);
    httpd_req_read_body(r, reactions_post_data, reactions_post_end, p);
}
