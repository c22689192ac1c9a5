/*
 * social_api.c -- the interactions API: requests on the loop, store work
 * on a pool of threads, answers back on the loop.
 *
 * A struct social_job is one request. The loop makes it (route, query and
 * token already checked), reads the body into it under a cap, and queues
 * it; a store thread parses the body, calls meta.c and writes the answer
 * (status and JSON) into the job; event_active() on the job's event hands
 * it back to its loop, which sends the answer and frees the job. Who owns
 * a job: the loop while READING and after DONE, the queue or a thread
 * while QUEUED. If the client goes away meanwhile, on_close only forgets
 * the request; the job is freed where it is next owned by the loop.
 *
 * Long polls (GET /api/events?wait=) that find nothing re-queue
 * themselves from a loop timer every SOCIAL_POLL_MS until their deadline;
 * while they wait they are parked (s->parked), and a store thread that
 * has just written something wakes every parked poll at once, so an edge
 * following the log hears of a new event without the poll interval's
 * delay (the interval stays, for other origins' writes to a shared
 * PostgreSQL).
 *
 * Not here: parsing (social_parse.c), tokens (token.c), storage (meta.c).
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/event.h>
#include <jansson.h>
#include <openssl/crypto.h>

#include "social_api.h"
#include "err.h"
#include "httpd.h"
#include "log.h"
#include "mem.h"
#include "meta.h"
#include "metrics.h"
#include "social_parse.h"
#include "token.h"
#include "compat.h"

#define SOCIAL_THREADS_DEFAULT 4
#define SOCIAL_THREADS_MAX 64
#define SOCIAL_QUEUE_DEFAULT 1024
#define SOCIAL_TTL_DEFAULT (24ull * 3600 * 1000)
#define SOCIAL_BUCKET_DEFAULT 1000
#define SOCIAL_POLL_MS 250
#define SOCIAL_RANGE_ROWS_MAX 8192

struct origin_social {
    unsigned magic;
#define ORIGIN_SOCIAL_MAGIC 0x736f6369U
    struct meta *meta; /* borrowed */
    struct token_key key;
    uint64_t ttl_ms, bucket_ms;
    char *moderator_key, *edge_key; /* owned; NULL: none */
    struct social_kinds kinds;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct social_job *head, *tail; /* queue, under mu */
    unsigned queued, queue_max;
    struct social_job *all;    /* every live job (for free), under mu */
    struct social_job *parked; /* long polls waiting on their timer, under mu */
    bool stopping;             /* under mu */
    pthread_t *threads;        /* owned */
    unsigned nthreads;
    struct metric *m_comments, *m_reactions, *m_batches, *m_busy, *m_sessions, *m_inflight;
};

enum social_job_state {
    SOCIAL_JOB_READING = 0,
    SOCIAL_JOB_QUEUED,
    SOCIAL_JOB_DONE,
};

struct social_job {
    unsigned magic;
#define SOCIAL_JOB_MAGIC 0x736a6f62U
    enum social_job_state state;
    struct origin_social *s;                  /* borrowed */
    struct httpd_req *r;                      /* borrowed until on_close; then NULL */
    struct event *ev;                         /* owned: completion, on r's loop */
    struct event *timer;                      /* owned: long-poll retry; NULL until needed */
    struct social_job *next;                  /* queue, under s->mu */
    struct social_job *all_prev, *all_next;   /* s->all, under s->mu */
    struct social_job *park_prev, *park_next; /* s->parked, under s->mu */
    bool parked;                              /* under s->mu */
    char *body;                               /* owned */
    size_t len, max;
    uint64_t deadline_ms; /* long poll */
    struct social_route rt;
    struct social_query q;
    struct token_claims who;
    /* the answer, written by a store thread */
    char *out; /* owned: JSON text */
    size_t outlen;
    struct social_err err; /* when status is an error's */
    int status;
    bool authed, too_big, repoll;
};

static int64_t
social_now_ms(void)
{
    struct timespec ts;

    AZ(clock_gettime(CLOCK_REALTIME, &ts));
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint64_t
social_mono_ms(void)
{
    struct timespec ts;

    AZ(clock_gettime(CLOCK_MONOTONIC, &ts));
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---- jobs ---- */

/* Takes j off s->parked; under s->mu. */
static void
social_job_unpark(struct origin_social *s, struct social_job *j)
{
    if (!j->parked)
        return;
    if (j->park_prev != NULL)
        j->park_prev->park_next = j->park_next;
    else
        s->parked = j->park_next;
    if (j->park_next != NULL)
        j->park_next->park_prev = j->park_prev;
    j->park_prev = j->park_next = NULL;
    j->parked = false;
}

static void
social_job_free(struct social_job *j)
{
    struct origin_social *s = j->s;

    AZ(pthread_mutex_lock(&s->mu));
    social_job_unpark(s, j);
    if (j->all_prev != NULL)
        j->all_prev->all_next = j->all_next;
    else
        s->all = j->all_next;
    if (j->all_next != NULL)
        j->all_next->all_prev = j->all_prev;
    AZ(pthread_mutex_unlock(&s->mu));
    metric_gauge_add(s->m_inflight, -1);
    event_free(j->ev);
    if (j->timer != NULL)
        event_free(j->timer);
    xfree(j->body);
    xfree(j->out);
    FREE_OBJ(j);
}

static void
social_job_error(struct social_job *j, int status, const char *code, const char *msg)
{
    j->status = status;
    j->err.status = status;
    j->err.code = code;
    j->err.allow = NULL;
    (void)snprintf(j->err.message, sizeof(j->err.message), "%s", msg);
}

/* Sends the job's answer on its loop; the request is gone afterwards. */
static void
social_job_respond(struct social_job *j)
{
    struct httpd_req *r = j->r;
    int rc;

    j->r = NULL;
    rc = httpd_resp_header(r, "Cache-Control", "no-store");
    if (rc == 0 && j->out == NULL) {
        /* Fixed, valid values: only a closed request refuses them. */
        if (j->err.allow != NULL)
            rc = httpd_resp_header(r, "Allow", j->err.allow);
        if (rc == 0 && j->status == 401)
            rc = httpd_resp_header(r, "WWW-Authenticate", "Bearer realm=\"cascade\"");
        if (rc == 0 && j->status == 503)
            rc = httpd_resp_header(r, "Retry-After", "1");
    }
    if (rc != 0)
        return; /* closed: nothing more to say */
    if (j->out == NULL) {
        httpd_resp_error(r, j->status, j->err.code != NULL ? j->err.code : "error", j->err.message);
        return;
    }
    httpd_resp_send(r, j->status, "application/json", j->out, j->outlen);
}

static void
social_job_on_close(struct httpd_req *r, void *arg)
{
    struct social_job *j;

    CAST_OBJ_NOTNULL(j, arg, SOCIAL_JOB_MAGIC);
    (void)r;
    j->r = NULL;
    /* Reading, or waiting for a long-poll retry: the loop owns it and
     * nothing else will run for it. Queued: the answer's callback frees it. */
    if (j->state == SOCIAL_JOB_READING || (j->state == SOCIAL_JOB_DONE && j->timer != NULL))
        social_job_free(j);
}

static void
social_job_submit(struct social_job *j)
{
    struct origin_social *s = j->s;
    bool full;

    AZ(pthread_mutex_lock(&s->mu));
    full = s->queued >= s->queue_max || s->stopping;
    if (!full) {
        j->state = SOCIAL_JOB_QUEUED;
        j->next = NULL;
        if (s->tail != NULL)
            s->tail->next = j;
        else
            s->head = j;
        s->tail = j;
        s->queued++;
        AZ(pthread_cond_signal(&s->cv));
    }
    AZ(pthread_mutex_unlock(&s->mu));
    if (full) {
        metric_inc(s->m_busy);
        social_job_error(j, 503, "busy", "the store is busy; try again");
        social_job_respond(j);
        social_job_free(j);
    }
}

static void
social_job_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    struct social_job *j;

    (void)fd;
    (void)what;
    CAST_OBJ_NOTNULL(j, arg, SOCIAL_JOB_MAGIC);
    if (j->state != SOCIAL_JOB_DONE)
        return; /* a wake that raced with the timeout: already queued */
    AZ(pthread_mutex_lock(&j->s->mu));
    social_job_unpark(j->s, j);
    AZ(pthread_mutex_unlock(&j->s->mu));
    (void)evtimer_del(j->timer); /* woken early: the timeout is moot */
    if (j->r == NULL) {
        social_job_free(j);
        return;
    }
    social_job_submit(j);
}

/* A write just committed: every parked long poll looks again now. */
static void
social_wake_parked(struct origin_social *s)
{
    struct social_job *p;

    AZ(pthread_mutex_lock(&s->mu));
    while ((p = s->parked) != NULL) {
        event_active(p->timer, EV_TIMEOUT, 1);
        social_job_unpark(s, p);
    }
    AZ(pthread_mutex_unlock(&s->mu));
}

/* Back on the request's loop. */
static void
social_job_done_cb(evutil_socket_t fd, short what, void *arg)
{
    struct social_job *j;
    struct timeval tv = {0, (suseconds_t)SOCIAL_POLL_MS * 1000};

    (void)fd;
    (void)what;
    CAST_OBJ_NOTNULL(j, arg, SOCIAL_JOB_MAGIC);
    j->state = SOCIAL_JOB_DONE;
    if (j->r == NULL) {
        social_job_free(j);
        return;
    }
    if (j->repoll) {
        j->repoll = false;
        if (j->timer == NULL)
            j->timer = evtimer_new(event_get_base(j->ev), social_job_timer_cb, j);
        AN(j->timer);
        AZ(evtimer_add(j->timer, &tv));
        AZ(pthread_mutex_lock(&j->s->mu));
        j->parked = true;
        j->park_prev = NULL;
        j->park_next = j->s->parked;
        if (j->s->parked != NULL)
            j->s->parked->park_prev = j;
        j->s->parked = j;
        AZ(pthread_mutex_unlock(&j->s->mu));
        return;
    }
    social_job_respond(j);
    social_job_free(j);
}

/* ---- answers (store threads) ---- */

static void
social_answer(struct social_job *j, int status, json_t *body)
{
    size_t n;

    AN(body);
    n = json_dumpb(body, NULL, 0, JSON_COMPACT);
    j->out = xmalloc(n + 1);
    AZ(n != json_dumpb(body, j->out, n, JSON_COMPACT));
    j->out[n] = '\n';
    j->outlen = n + 1;
    j->status = status;
    json_decref(body);
}

/* Maps a store error that the operation did not expect. */
static void
social_store_error(struct social_job *j, int rc)
{
    if (rc == ERR_LIMIT)
        social_job_error(j, 507, "store_full", "the store is full");
    else
        social_job_error(j, 500, "store_error", "the store failed; see the origin's log");
}

static const char *
social_kind_name(char kind)
{
    return kind == 's' ? "stream" : "video";
}

static json_t *
social_target_json(const struct meta_target *t)
{
    return json_pack("{s:s, s:s}", "kind", social_kind_name(t->kind), "id", t->id);
}

static json_t *
social_comment_json(const struct meta_comment *c)
{
    char id[24], parent[24];

    (void)snprintf(id, sizeof(id), "%llu", (unsigned long long)c->id);
    (void)snprintf(parent, sizeof(parent), "%llu", (unsigned long long)c->parent);
    return json_pack("{s:s, s:s?, s:o, s:{s:s, s:s}, s:s, s:I, s:i, s:i, s:b}", "id", id, "parent",
                     c->parent != 0 ? parent : NULL, "target", social_target_json(&c->target),
                     "author", "id", c->author_id, "name", c->author_name, "text", c->text,
                     "created_ms", (json_int_t)c->created_ms, "depth", (int)c->depth, "replies",
                     (int)c->replies, "deleted", c->deleted);
}

static bool
social_same_target(const struct meta_target *a, const struct meta_target *b)
{
    return a->kind == b->kind && strcmp(a->id, b->id) == 0;
}

static void
social_run_session(struct social_job *j)
{
    struct origin_social *s = j->s;
    struct social_session_req req;
    enum meta_role role = META_ROLE_USER;
    struct token_claims c;
    struct meta_user u;
    char tok[TOKEN_MAX + 1];
    const char *want = NULL, *given = NULL;
    int rc;

    if (social_body_session(j->body, j->len, &req, &j->err) != 0) {
        j->status = j->err.status;
        return;
    }
    if (req.moderator_key[0] != '\0' && req.edge_key[0] != '\0') {
        social_job_error(j, 400, "bad_value", "ask for one role at a time");
        return;
    }
    if (req.moderator_key[0] != '\0') {
        role = META_ROLE_MODERATOR;
        want = s->moderator_key;
        given = req.moderator_key;
    } else if (req.edge_key[0] != '\0') {
        role = META_ROLE_EDGE;
        want = s->edge_key;
        given = req.edge_key;
    }
    if (given != NULL && (want == NULL || strlen(want) != strlen(given) ||
                          CRYPTO_memcmp(want, given, strlen(want)) != 0)) {
        social_job_error(j, 403, "bad_key", "that key gives no role here");
        return;
    }
    rc = meta_user_create(s->meta, req.name, role, social_now_ms(), &u);
    if (rc == ERR_INVAL) {
        social_job_error(j, 400, "bad_value", "name must be 1-64 bytes of text");
        return;
    }
    if (rc != 0) {
        social_store_error(j, rc);
        return;
    }
    memset(&c, 0, sizeof(c));
    memcpy(c.sub, u.id, sizeof(u.id));
    c.role = (unsigned)role;
    c.expires_ms = social_now_ms() + (int64_t)s->ttl_ms;
    AZ(token_issue(&s->key, &c, tok, sizeof(tok)));
    metric_inc(s->m_sessions);
    social_answer(j, 201,
                  json_pack("{s:s, s:I, s:{s:s, s:s, s:s}}", "token", tok, "expires_ms",
                            (json_int_t)c.expires_ms, "user", "id", u.id, "name", u.name, "role",
                            role == META_ROLE_USER        ? "user"
                            : role == META_ROLE_MODERATOR ? "moderator"
                                                          : "edge"));
}

/* The token's user, still known to the store? 0, or a 401 set. */
static int
social_run_user(struct social_job *j, struct meta_user *u)
{
    int rc = meta_user_get(j->s->meta, j->who.sub, u);

    if (rc == ERR_NOTFOUND) {
        social_job_error(j, 401, "unknown_user", "this token's user is not known here");
        return rc;
    }
    if (rc != 0)
        social_store_error(j, rc);
    return rc;
}

static void
social_run_comment_add(struct social_job *j)
{
    struct social_comment_req *req;
    struct meta_comment *c;
    struct meta_user u;
    int rc;

    req = xmalloc(sizeof(*req));
    c = xmalloc(sizeof(*c));
    if (social_body_comment(j->body, j->len, req, &j->err) != 0) {
        j->status = j->err.status;
        goto out;
    }
    if (social_run_user(j, &u) != 0)
        goto out;
    rc = meta_comment_add(j->s->meta, &j->rt.target, req->parent, u.id, req->text, social_now_ms(),
                          c);
    if (rc == 0) {
        metric_inc(j->s->m_comments);
        social_answer(j, 201, social_comment_json(c));
    } else if (rc == ERR_NOTFOUND) {
        social_job_error(j, 404, "parent_not_found", "no such parent comment here");
    } else if (rc == ERR_LIMIT) {
        social_job_error(j, 400, "too_deep", "replies nest at most 16 deep");
    } else if (rc == ERR_INVAL) {
        social_job_error(j, 400, "bad_value", "text must be 1-2000 bytes of text");
    } else {
        social_store_error(j, rc);
    }
out:
    xfree(req);
    xfree(c);
}

/* The comment of the route, on the route's target. 0, or a 404 set. */
static int
social_run_comment_of_route(struct social_job *j, struct meta_comment *c)
{
    int rc = meta_comment_get(j->s->meta, j->rt.cid, c);

    if (rc == 0 && !social_same_target(&c->target, &j->rt.target))
        rc = ERR_NOTFOUND;
    if (rc == ERR_NOTFOUND)
        social_job_error(j, 404, "comment_not_found", "no such comment here");
    else if (rc != 0)
        social_store_error(j, rc);
    return rc;
}

static void
social_run_comment_list(struct social_job *j)
{
    enum meta_order order = j->q.has_order ? j->q.order : META_ORDER_NEWEST;
    struct meta_comment *items;
    uint64_t parent = 0, next;
    char cur[24];
    json_t *arr;
    unsigned n, i;
    int rc;

    items = xcalloc(j->q.limit, sizeof(*items));
    if (j->rt.op == SOCIAL_OP_REPLY_LIST) {
        /* Replies read as a conversation: oldest first unless asked. */
        order = j->q.has_order ? j->q.order : META_ORDER_OLDEST;
        if (social_run_comment_of_route(j, &items[0]) != 0)
            goto out;
        parent = j->rt.cid;
    }
    rc = meta_comment_list(j->s->meta, &j->rt.target, parent, order, j->q.cursor, j->q.limit, items,
                           &n, &next);
    if (rc != 0) {
        social_store_error(j, rc);
        goto out;
    }
    arr = json_array();
    for (i = 0; i < n; i++)
        AZ(json_array_append_new(arr, social_comment_json(&items[i])));
    (void)snprintf(cur, sizeof(cur), "%llu", (unsigned long long)next);
    social_answer(j, 200,
                  json_pack("{s:o, s:s?, s:s}", "comments", arr, "next_cursor",
                            next != 0 ? cur : NULL, "order",
                            order == META_ORDER_NEWEST ? "newest" : "oldest"));
out:
    xfree(items);
}

static void
social_run_comment_one(struct social_job *j)
{
    struct meta_comment *c = xmalloc(sizeof(*c));
    struct meta_user u;
    int rc;

    if (social_run_comment_of_route(j, c) != 0)
        goto out;
    if (j->rt.op == SOCIAL_OP_COMMENT_GET) {
        social_answer(j, 200, social_comment_json(c));
        goto out;
    }
    if (social_run_user(j, &u) != 0)
        goto out;
    rc = meta_comment_delete(j->s->meta, j->rt.cid, u.id, j->who.role == META_ROLE_MODERATOR,
                             social_now_ms());
    if (rc == ERR_AUTH)
        social_job_error(j, 403, "forbidden", "only its author or a moderator deletes a comment");
    else if (rc == ERR_NOTFOUND)
        social_job_error(j, 404, "comment_not_found", "no such comment here");
    else if (rc != 0)
        social_store_error(j, rc);
    else if (meta_comment_get(j->s->meta, j->rt.cid, c) == 0)
        social_answer(j, 200, social_comment_json(c));
    else
        social_store_error(j, ERR_STORE);
out:
    xfree(c);
}

static void
social_run_likes(struct social_job *j)
{
    struct meta_user u;
    uint64_t count;
    bool liked = false;
    int rc;

    if (j->rt.op == SOCIAL_OP_LIKE_SET) {
        if (social_run_user(j, &u) != 0)
            return;
        rc = meta_like_set(j->s->meta, &j->rt.target, u.id, j->rt.like, social_now_ms(), &count);
        liked = j->rt.like;
    } else {
        rc =
            meta_like_get(j->s->meta, &j->rt.target, j->authed ? j->who.sub : NULL, &count, &liked);
    }
    if (rc != 0) {
        social_store_error(j, rc);
        return;
    }
    social_answer(j, 200, json_pack("{s:I, s:b}", "count", (json_int_t)count, "liked", liked));
}

static void
social_run_reaction_add(struct social_job *j)
{
    struct social_reaction_req req;
    struct meta_delta d;
    bool dup;
    int rc;

    if (social_body_reaction(j->body, j->len, &j->s->kinds, &req, &j->err) != 0) {
        j->status = j->err.status;
        return;
    }
    memset(&d, 0, sizeof(d));
    d.target = j->rt.target;
    memcpy(d.kind, req.kind, sizeof(d.kind));
    d.bucket_ms = req.t - (int64_t)((uint64_t)req.t % j->s->bucket_ms);
    d.count = 1;
    rc = meta_reaction_add(j->s->meta, &d, 1, NULL, 0, social_now_ms(), &dup);
    if (rc != 0) {
        social_store_error(j, rc);
        return;
    }
    metric_inc(j->s->m_reactions);
    social_answer(j, 202,
                  json_pack("{s:s, s:I, s:I}", "kind", req.kind, "t", (json_int_t)req.t,
                            "bucket_ms", (json_int_t)d.bucket_ms));
}

static void
social_run_batch(struct social_job *j)
{
    struct social_batch_req b;
    uint64_t total = 0;
    size_t i;
    bool dup;
    int rc;

    if (j->who.role != META_ROLE_EDGE) {
        social_job_error(j, 403, "forbidden", "batches come from edges (an edge session)");
        return;
    }
    if (social_body_batch(j->body, j->len, &j->s->kinds, j->s->bucket_ms, &b, &j->err) != 0) {
        j->status = j->err.status;
        return;
    }
    rc = meta_reaction_add(j->s->meta, b.d, b.n, b.edge[0] != '\0' ? b.edge : NULL, b.seq,
                           social_now_ms(), &dup);
    if (rc == 0) {
        for (i = 0; i < b.n && !dup; i++)
            total += b.d[i].count;
        metric_inc(j->s->m_batches);
        metric_add(j->s->m_reactions, total);
        social_answer(j, 200,
                      json_pack("{s:I, s:I, s:b}", "deltas", (json_int_t)b.n, "reactions",
                                (json_int_t)total, "duplicate", dup));
    } else {
        social_store_error(j, rc);
    }
    social_batch_clear(&b);
}

static void
social_run_reaction_range(struct social_job *j)
{
    int64_t b = (int64_t)j->s->bucket_ms, from, to, tb = -1;
    struct meta_bucket *rows;
    json_t *buckets, *totals, *cur = NULL;
    size_t n, i;
    int rc;

    from = j->q.from - j->q.from % b;
    to = j->q.has_to ? j->q.to : from + b * SOCIAL_RANGE_BUCKETS_MAX;
    if (to % b != 0)
        to += b - to % b;
    if ((to - from) / b > SOCIAL_RANGE_BUCKETS_MAX) {
        social_job_error(j, 400, "range_too_large", "ask for at most 3600 buckets at once");
        return;
    }
    rows = xcalloc(SOCIAL_RANGE_ROWS_MAX, sizeof(*rows));
    rc = meta_reaction_range(j->s->meta, &j->rt.target, from, to, rows, SOCIAL_RANGE_ROWS_MAX, &n);
    if (rc == ERR_LIMIT) {
        social_job_error(j, 400, "range_too_large", "too many counts: ask for a shorter range");
    } else if (rc != 0) {
        social_store_error(j, rc);
    } else {
        buckets = json_array();
        totals = json_object();
        for (i = 0; i < n; i++) {
            json_t *t = json_object_get(totals, rows[i].kind);

            if (rows[i].bucket_ms != tb) {
                cur = json_object();
                AZ(json_array_append_new(
                    buckets,
                    json_pack("{s:I, s:o}", "t", (json_int_t)rows[i].bucket_ms, "counts", cur)));
                tb = rows[i].bucket_ms;
            }
            AZ(json_object_set_new(cur, rows[i].kind, json_integer((json_int_t)rows[i].count)));
            AZ(json_object_set_new(
                totals, rows[i].kind,
                json_integer((t != NULL ? json_integer_value(t) : 0) + (json_int_t)rows[i].count)));
        }
        social_answer(j, 200,
                      json_pack("{s:I, s:I, s:I, s:o, s:o}", "bucket_ms", (json_int_t)b, "from",
                                (json_int_t)from, "to", (json_int_t)to, "buckets", buckets,
                                "totals", totals));
    }
    xfree(rows);
}

static json_t *
social_event_json(struct origin_social *s, const struct meta_event *e)
{
    static const char *const types[] = {"", "comment", "comment_deleted", "likes", "reactions"};
    struct meta_comment *c;
    char ref[24];
    json_t *o;

    o = json_pack("{s:I, s:s, s:o, s:I}", "id", (json_int_t)e->id, "type", types[e->type], "target",
                  social_target_json(&e->target), "ts", (json_int_t)e->created_ms);
    (void)snprintf(ref, sizeof(ref), "%llu", (unsigned long long)e->ref);
    switch (e->type) {
    case META_EVENT_COMMENT:
        c = xmalloc(sizeof(*c));
        if (meta_comment_get(s->meta, e->ref, c) == 0)
            AZ(json_object_set_new(o, "comment", social_comment_json(c)));
        else
            AZ(json_object_set_new(o, "comment_id", json_string(ref)));
        xfree(c);
        break;
    case META_EVENT_DELETED:
        AZ(json_object_set_new(o, "comment_id", json_string(ref)));
        break;
    case META_EVENT_LIKES:
        AZ(json_object_set_new(o, "count", json_integer((json_int_t)e->value)));
        break;
    case META_EVENT_REACTIONS:
        AZ(json_object_set_new(o, "bucket_ms", json_integer((json_int_t)e->ref)));
        AZ(json_object_set_new(o, "kind", json_string(e->kind)));
        AZ(json_object_set_new(o, "count", json_integer((json_int_t)e->value)));
        break;
    }
    return o;
}

static void
social_run_events(struct social_job *j)
{
    struct meta_event *ev;
    uint64_t after = j->q.has_after ? j->q.after : INT64_MAX, first, last;
    bool reset = false;
    json_t *arr;
    size_t n, i;
    int rc;

    ev = xcalloc(SOCIAL_EVENTS_MAX, sizeof(*ev));
    rc = meta_events_after(j->s->meta, after, ev, j->q.has_after ? SOCIAL_EVENTS_MAX : 0, &n,
                           &first, &last);
    /* Trimmed past the caller's position: start again from the oldest kept. */
    if (rc == 0 && j->q.has_after && first > 0 && after + 1 < first) {
        reset = true;
        rc = meta_events_after(j->s->meta, first - 1, ev, SOCIAL_EVENTS_MAX, &n, &first, &last);
    }
    if (rc != 0) {
        social_store_error(j, rc);
        goto out;
    }
    if (n == 0 && j->q.has_after && j->deadline_ms > social_mono_ms()) {
        j->repoll = true; /* nothing yet: the loop asks again later */
        goto out;
    }
    arr = json_array();
    for (i = 0; i < n; i++)
        AZ(json_array_append_new(arr, social_event_json(j->s, &ev[i])));
    social_answer(j, 200,
                  json_pack("{s:o, s:I, s:I, s:b}", "events", arr, "first", (json_int_t)first,
                            "last", (json_int_t)last, "reset", reset));
out:
    xfree(ev);
}

static void
social_job_run(struct social_job *j)
{
    switch (j->rt.op) {
    case SOCIAL_OP_SESSION_NEW:
        social_run_session(j);
        break;
    case SOCIAL_OP_COMMENT_ADD:
        social_run_comment_add(j);
        break;
    case SOCIAL_OP_COMMENT_LIST:
    case SOCIAL_OP_REPLY_LIST:
        social_run_comment_list(j);
        break;
    case SOCIAL_OP_COMMENT_GET:
    case SOCIAL_OP_COMMENT_DELETE:
        social_run_comment_one(j);
        break;
    case SOCIAL_OP_LIKE_SET:
    case SOCIAL_OP_LIKE_GET:
        social_run_likes(j);
        break;
    case SOCIAL_OP_REACTION_ADD:
        social_run_reaction_add(j);
        break;
    case SOCIAL_OP_REACTION_RANGE:
        social_run_reaction_range(j);
        break;
    case SOCIAL_OP_REACTION_BATCH:
        social_run_batch(j);
        break;
    case SOCIAL_OP_EVENTS:
        social_run_events(j);
        break;
    case SOCIAL_OP_NONE:
        social_job_error(j, 500, "internal", "no operation");
        break;
    }
}

static void *
social_thread_main(void *arg)
{
    struct origin_social *s;
    struct social_job *j;

    CAST_OBJ_NOTNULL(s, arg, ORIGIN_SOCIAL_MAGIC);
    for (;;) {
        AZ(pthread_mutex_lock(&s->mu));
        while (s->head == NULL && !s->stopping)
            AZ(pthread_cond_wait(&s->cv, &s->mu));
        if (s->head == NULL) {
            AZ(pthread_mutex_unlock(&s->mu));
            return NULL;
        }
        j = s->head;
        s->head = j->next;
        if (s->head == NULL)
            s->tail = NULL;
        s->queued--;
        AZ(pthread_mutex_unlock(&s->mu));
        CHECK_OBJ_NOTNULL(j, SOCIAL_JOB_MAGIC);
        xfree(j->out);
        j->out = NULL;
        memset(&j->err, 0, sizeof(j->err));
        social_job_run(j);
        AN(j->status != 0 || j->repoll);
        if (j->rt.write && j->status >= 200 && j->status < 300)
            social_wake_parked(s);
        /* Hand back: the loop owns the job once this is called. */
        event_active(j->ev, EV_TIMEOUT, 1);
    }
}

/* ---- the loop side ---- */

static void
social_body_data(struct httpd_req *r, const void *data, size_t len, void *arg)
{
    struct social_job *j;

    (void)r;
    CAST_OBJ_NOTNULL(j, arg, SOCIAL_JOB_MAGIC);
    if (j->too_big || len > j->max - j->len) {
        j->too_big = true;
        return;
    }
    memcpy(j->body + j->len, data, len);
    j->len += len;
}

static void
social_body_end(struct httpd_req *r, int err, void *arg)
{
    struct social_job *j;

    (void)r;
    CAST_OBJ_NOTNULL(j, arg, SOCIAL_JOB_MAGIC);
    if (err == ERR_CLOSED || err == ERR_TIMEOUT)
        return; /* on_close follows and frees the job */
    if (err == 0 && !j->too_big) {
        social_job_submit(j);
        return;
    }
    if (err == ERR_LIMIT || j->too_big)
        social_job_error(j, 413, "too_large", "the body is over this API's limit");
    else
        social_job_error(j, 400, "bad_body", "the body could not be read");
    social_job_respond(j);
    social_job_free(j);
}

/* The bearer token, if any: 0 (none, or valid: j->authed), or a 401 to send. */
static int
social_auth(struct social_job *j, struct httpd_req *r)
{
    const char *h = httpd_req_header(r, "Authorization");
    size_t len;

    if (h == NULL)
        return 0;
    if (strncasecmp(h, "Bearer ", 7) != 0) {
        social_job_error(j, 401, "unauthorized", "use Authorization: Bearer TOKEN");
        return ERR_AUTH;
    }
    h += 7;
    while (*h == ' ')
        h++;
    len = strlen(h);
    while (len > 0 && h[len - 1] == ' ')
        len--;
    if (token_verify(&j->s->key, h, len, social_now_ms(), &j->who) != 0) {
        social_job_error(j, 401, "unauthorized", "the token is not valid or has expired");
        return ERR_AUTH;
    }
    j->authed = true;
    return 0;
}

static bool
social_needs_body(enum social_op op)
{
    return op == SOCIAL_OP_SESSION_NEW || op == SOCIAL_OP_COMMENT_ADD ||
           op == SOCIAL_OP_REACTION_ADD || op == SOCIAL_OP_REACTION_BATCH;
}

/* Checks before the body is read; 0 or an error set on j. */
static int
social_precheck(struct social_job *j, struct httpd_req *r)
{
    const char *ct, *cl;

    if (social_auth(j, r) != 0)
        return ERR_AUTH;
    if (j->rt.write && !j->authed) {
        social_job_error(j, 401, "unauthorized", "writing needs a token: POST /api/sessions");
        return ERR_AUTH;
    }
    if (social_query_parse(httpd_req_query(r), &j->q, &j->err) != 0) {
        j->status = j->err.status;
        return ERR_INVAL;
    }
    if (!social_needs_body(j->rt.op))
        return 0;
    ct = httpd_req_header(r, "Content-Type");
    if (ct == NULL || strncasecmp(ct, "application/json", 16) != 0 ||
        (ct[16] != '\0' && ct[16] != ';' && ct[16] != ' ')) {
        social_job_error(j, 415, "unsupported_media_type", "send the body as application/json");
        return ERR_INVAL;
    }
    j->max = j->rt.op == SOCIAL_OP_REACTION_BATCH ? SOCIAL_BATCH_BODY_MAX : SOCIAL_BODY_MAX;
    cl = httpd_req_header(r, "Content-Length");
    if (cl != NULL && (strlen(cl) > 12 || strtoull(cl, NULL, 10) > j->max)) {
        social_job_error(j, 413, "too_large", "the body is over this API's limit");
        return ERR_LIMIT;
    }
    return 0;
}

int
origin_api_social_handle(struct httpd_req *r, struct origin_social *s, struct event_base *base)
{
    struct social_route rt;
    struct social_job *j;
    struct social_err e;

    CHECK_OBJ_NOTNULL(s, ORIGIN_SOCIAL_MAGIC);
    if (social_route_parse(httpd_req_method_str(r), httpd_req_path(r), &rt, &e) == 0)
        return 0;
    j = xcalloc(1, sizeof(*j));
    j->magic = SOCIAL_JOB_MAGIC;
    j->s = s;
    j->r = r;
    j->rt = rt;
    j->ev = event_new(base, -1, 0, social_job_done_cb, j);
    AN(j->ev);
    AZ(pthread_mutex_lock(&s->mu));
    j->all_next = s->all;
    if (s->all != NULL)
        s->all->all_prev = j;
    s->all = j;
    AZ(pthread_mutex_unlock(&s->mu));
    metric_gauge_add(s->m_inflight, 1);
    if (rt.op == SOCIAL_OP_NONE) {
        j->status = e.status;
        j->err = e;
        goto answer_now;
    }
    if (social_precheck(j, r) != 0)
        goto answer_now;
    httpd_req_on_close(r, social_job_on_close, j);
    if (rt.op == SOCIAL_OP_EVENTS)
        j->deadline_ms = social_mono_ms() + j->q.wait_ms;
    if (!social_needs_body(rt.op)) {
        social_job_submit(j);
        return 1;
    }
    j->body = xmalloc(j->max);
    httpd_req_read_body(r, social_body_data, social_body_end, j);
    return 1;

answer_now:
    social_job_respond(j);
    social_job_free(j);
    return 1;
}

/* ---- life ---- */

int
origin_social_new(const struct social_conf *c, struct origin_social **ps)
{
    struct origin_social *s;
    unsigned i;
    int rc;

    AN(c->meta);
    s = xcalloc(1, sizeof(*s));
    s->magic = ORIGIN_SOCIAL_MAGIC;
    s->meta = c->meta;
    s->ttl_ms = c->token_ttl_ms != 0 ? c->token_ttl_ms : SOCIAL_TTL_DEFAULT;
    s->bucket_ms = c->bucket_ms != 0 ? c->bucket_ms : SOCIAL_BUCKET_DEFAULT;
    s->queue_max = c->queue_max != 0 ? c->queue_max : SOCIAL_QUEUE_DEFAULT;
    s->nthreads = c->threads != 0 ? c->threads : SOCIAL_THREADS_DEFAULT;
    if (s->nthreads > SOCIAL_THREADS_MAX)
        s->nthreads = SOCIAL_THREADS_MAX;
    rc = token_key_init(&s->key, c->token_secret);
    if (rc != 0) {
        LOG(LOG_ERR, "social", "bad_conf", "conn=0 key=social.token_secret why=\"16-256 bytes\"");
        goto fail;
    }
    rc = social_kinds_parse(c->reactions != NULL ? c->reactions : SOCIAL_REACTIONS_DEFAULT,
                            &s->kinds);
    if (rc != 0) {
        LOG(LOG_ERR, "social", "bad_conf", "conn=0 key=social.reactions");
        goto fail;
    }
    if (c->moderator_key != NULL && c->moderator_key[0] != '\0')
        s->moderator_key = xstrdup(c->moderator_key);
    if (c->edge_key != NULL && c->edge_key[0] != '\0')
        s->edge_key = xstrdup(c->edge_key);
    if ((s->moderator_key != NULL && strlen(s->moderator_key) < TOKEN_KEY_MIN) ||
        (s->edge_key != NULL && strlen(s->edge_key) < TOKEN_KEY_MIN)) {
        LOG(LOG_ERR, "social", "bad_conf", "conn=0 why=\"role keys need 16 bytes or more\"");
        goto fail;
    }
    s->m_comments = metrics_counter("origin.social.comments", "Comments added.");
    s->m_reactions = metrics_counter("origin.social.reactions", "Reactions counted.");
    s->m_batches = metrics_counter("origin.social.batches", "Reaction batches merged from edges.");
    s->m_busy = metrics_counter("origin.social.busy", "Requests refused: store queue full.");
    s->m_sessions = metrics_counter("origin.social.sessions", "Sessions issued.");
    s->m_inflight = metrics_gauge("origin.social.inflight",
                                  "Interactions requests in progress, long polls included.");
    json_object_seed(0); /* before any thread builds objects */
    AZ(pthread_mutex_init(&s->mu, NULL));
    AZ(pthread_cond_init(&s->cv, NULL));
    s->threads = xcalloc(s->nthreads, sizeof(*s->threads));
    for (i = 0; i < s->nthreads; i++)
        AZ(pthread_create(&s->threads[i], NULL, social_thread_main, s));
    *ps = s;
    return 0;

fail:
    xfree(s->moderator_key);
    xfree(s->edge_key);
    OPENSSL_cleanse(&s->key, sizeof(s->key));
    FREE_OBJ(s);
    return ERR_CONF;
}

void
origin_social_free(struct origin_social **ps)
{
    struct origin_social *s = *ps;
    unsigned i;

    if (s == NULL)
        return;
    CHECK_OBJ(s, ORIGIN_SOCIAL_MAGIC);
    AZ(pthread_mutex_lock(&s->mu));
    s->stopping = true;
    AZ(pthread_cond_broadcast(&s->cv));
    AZ(pthread_mutex_unlock(&s->mu));
    /* Threads finish what is queued, then exit; no loop runs to take answers. */
    for (i = 0; i < s->nthreads; i++)
        AZ(pthread_join(s->threads[i], NULL));
    while (s->all != NULL)
        social_job_free(s->all);
    xfree(s->threads);
    xfree(s->moderator_key);
    xfree(s->edge_key);
    OPENSSL_cleanse(&s->key, sizeof(s->key));
    AZ(pthread_mutex_destroy(&s->mu));
    AZ(pthread_cond_destroy(&s->cv));
    FREE_OBJ(s);
    *ps = NULL;
}
