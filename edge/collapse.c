/*
 * collapse.c -- one upstream fetch per object, however many clients ask
 * (collapse.h says what and why).
 *
 * Ownership and refs:
 *   table      holds a ref on each listed entry (until collapse_unlist);
 *   fetch      holds a ref from creation to collapse_fetch_done();
 *   sub        one per (entry, worker) with waiters there; holds a ref,
 *              owns its wake event and its head-wait timer, lives on
 *              that worker's thread, and is freed there when its last
 *              waiter leaves (deferred to the end of its own callback);
 *   waiter     borrowed pointers to its entry and sub, only on its thread;
 *   block      refcounted atomically: the entry's array holds one ref,
 *              every evbuffer reference (client output, store body) one.
 * The entry's mutex guards head, state, the block array, body_len, the
 * counters and subs[]. The owner writes block bytes before it publishes
 * body_len under the mutex; waiters read only below body_len, so a block
 * being filled is never read where it is written.
 *
 * Wake-ups: the owner activates each sub's event at most once until the
 * sub has run (sub->notified), so a fast upstream costs one callback per
 * worker per read, not one per waiter. Waiters wake the owner through
 * owner_ev (resume a paused fetch, abandon a fetch nobody wants).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "collapse.h"
#include "err.h"
#include "httpd.h"
#include "log.h"
#include "mem.h"
#include "compat.h"

#define COLLAPSE_BUCKETS 4096u
/* Pieces gathered under the lock per round of a feed. */
#define COLLAPSE_PIECES 16

enum collapse_estate {
    COLLAPSE_E_HEAD = 0, /* waiting for the response head */
    COLLAPSE_E_BODY,     /* head published, body growing */
    COLLAPSE_E_DONE,     /* body complete */
    COLLAPSE_E_FAILED,   /* the fetch failed (before or after the head) */
};

struct collapse_block {
    atomic_uint refs;
    uint32_t cap;
    uint8_t data[];
};

TAILQ_HEAD(collapse_wlist, collapse_waiter);

struct collapse_sub {
    unsigned magic;
#define COLLAPSE_SUB_MAGIC 0x636f7362U
    struct collapse_entry *e; /* ref */
    struct collapse_loop *cl; /* borrowed */
    struct event *ev;         /* owned: wake-up, on cl->base */
    struct event *timer;      /* owned: the first head-wait deadline */
    struct collapse_wlist waiting;
    struct collapse_wlist streaming;
    bool notified; /* (e->mu) ev was activated and has not run yet */
    bool in_cb;    /* inside ev's or timer's callback: free at its end */
};

struct collapse_entry {
    unsigned magic;
#define COLLAPSE_ENTRY_MAGIC 0x636f656eU
    atomic_uint refs;
    pthread_mutex_t mu;
    struct collapse_table *t; /* borrowed */
    char *key;                /* owned */
    size_t key_len;
    uint64_t hash;
    struct collapse_entry *hnext; /* (t->mu) chain */
    bool listed;                  /* (t->mu) */
    bool private_;                /* never listed */
    struct collapse_loop *owner;  /* borrowed: the fetch's worker */
    /* (mu) */
    struct event *owner_ev; /* owned; NULL once the fetch is done */
    bool owner_poked;
    const struct collapse_fetch_ops *fops; /* borrowed */
    void *farg;
    struct collapse_head *head; /* owned */
    enum collapse_estate state;
    int err;
    bool keep;
    bool paused;
    struct collapse_block **blocks; /* owned array; one ref per non-NULL slot */
    size_t nblocks, capblocks;
    uint64_t body_len;     /* published bytes */
    uint64_t window_start; /* bytes below it were dropped (WINDOW mode) */
    unsigned nwaiters, nheadwait, nstream, nslow;
    struct collapse_sub *subs[COLLAPSE_MAX_LOOPS];
    /* owner only */
    uint64_t appended;
};

struct collapse_table {
    unsigned magic;
#define COLLAPSE_TABLE_MAGIC 0x636f7462U
    pthread_mutex_t mu;
    unsigned count;
    struct collapse_entry *buckets[COLLAPSE_BUCKETS];
};

static uint64_t
collapse_now_ms(void)
{
    struct timespec ts;

    AZ(clock_gettime(CLOCK_MONOTONIC_COARSE, &ts));
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* FNV-1a, 64 bits. */
static uint64_t
collapse_hash(const void *key, size_t len)
{
    const uint8_t *p = key;
    uint64_t h = 1469598103934665603ull;
    size_t i;

    for (i = 0; i < len; i++) {
        h ^= p[i];
        h *= 1099511628211ull;
    }
    return h;
}

/* ---- blocks ---- */

static struct collapse_block *
collapse_block_new(uint32_t cap)
{
    struct collapse_block *b = xmalloc(sizeof(*b) + cap);

    atomic_init(&b->refs, 1);
    b->cap = cap;
    return b;
}

static void
collapse_block_unref(struct collapse_block *b)
{
    if (atomic_fetch_sub(&b->refs, 1) == 1)
        xfree(b);
}

/* libevent is done with a reference (any thread: the store's writer too). */
static void
collapse_block_release_cb(const void *data, size_t len, void *arg)
{
    (void)data;
    (void)len;
    collapse_block_unref(arg);
}

/* ---- tables ---- */

struct collapse_table *
collapse_table_new(void)
{
    struct collapse_table *t = xcalloc(1, sizeof(*t));

    t->magic = COLLAPSE_TABLE_MAGIC;
    AZ(pthread_mutex_init(&t->mu, NULL));
    return t;
}

void
collapse_table_free(struct collapse_table **pt)
{
    struct collapse_table *t = *pt;

    if (t == NULL)
        return;
    CHECK_OBJ(t, COLLAPSE_TABLE_MAGIC);
    assert(t->count == 0);
    AZ(pthread_mutex_destroy(&t->mu));
    FREE_OBJ(t);
    *pt = NULL;
}

unsigned
collapse_table_count(struct collapse_table *t)
{
    unsigned n;

    CHECK_OBJ_NOTNULL(t, COLLAPSE_TABLE_MAGIC);
    AZ(pthread_mutex_lock(&t->mu));
    n = t->count;
    AZ(pthread_mutex_unlock(&t->mu));
    return n;
}

/* (t->mu) */
static struct collapse_entry *
collapse_find(struct collapse_table *t, const void *key, size_t len, uint64_t h)
{
    struct collapse_entry *e;

    for (e = t->buckets[h % COLLAPSE_BUCKETS]; e != NULL; e = e->hnext)
        if (e->hash == h && e->key_len == len && memcmp(e->key, key, len) == 0)
            return e;
    return NULL;
}

void
collapse_loop_init(struct collapse_loop *cl, struct collapse_table *t, struct event_base *base,
                   unsigned id)
{
    assert(id < COLLAPSE_MAX_LOOPS);
    memset(cl, 0, sizeof(*cl));
    cl->magic = COLLAPSE_LOOP_MAGIC;
    cl->t = t;
    cl->base = base;
    cl->id = id;
    cl->wait_timeout_ms = 15000;
    cl->max_lag = 16u << 20;
}

/* ---- entries ---- */

static void collapse_owner_cb(evutil_socket_t fd, short what, void *arg);

static struct collapse_entry *
collapse_entry_new(struct collapse_loop *cl, const void *key, size_t len, uint64_t h)
{
    struct collapse_entry *e = xcalloc(1, sizeof(*e));

    e->magic = COLLAPSE_ENTRY_MAGIC;
    atomic_init(&e->refs, 1);
    AZ(pthread_mutex_init(&e->mu, NULL));
    e->t = cl->t;
    e->key = xmalloc(len + 1);
    memcpy(e->key, key, len);
    e->key[len] = '\0';
    e->key_len = len;
    e->hash = h;
    e->owner = cl;
    e->owner_ev = event_new(cl->base, -1, 0, collapse_owner_cb, e);
    AN(e->owner_ev);
    e->state = COLLAPSE_E_HEAD;
    e->keep = true;
    return e;
}

void
collapse_head_free(struct collapse_head **ph)
{
    struct collapse_head *hd = *ph;

    if (hd == NULL)
        return;
    xfree(hd->block);
    xfree(hd);
    *ph = NULL;
}

static void
collapse_entry_unref(struct collapse_entry *e)
{
    size_t i;

    if (atomic_fetch_sub(&e->refs, 1) != 1)
        return;
    assert(e->owner_ev == NULL);
    for (i = 0; i < COLLAPSE_MAX_LOOPS; i++)
        assert(e->subs[i] == NULL);
    for (i = 0; i < e->nblocks; i++)
        if (e->blocks[i] != NULL)
            collapse_block_unref(e->blocks[i]);
    xfree(e->blocks);
    collapse_head_free(&e->head);
    xfree(e->key);
    AZ(pthread_mutex_destroy(&e->mu));
    FREE_OBJ(e);
}

/* (e->mu) Wakes every sub that is not already woken. */
static void
collapse_notify_locked(struct collapse_entry *e)
{
    struct collapse_sub *sub;
    size_t i;

    for (i = 0; i < COLLAPSE_MAX_LOOPS; i++) {
        sub = e->subs[i];
        if (sub != NULL && !sub->notified) {
            sub->notified = true;
            event_active(sub->ev, EV_READ, 0);
        }
    }
}

/* (e->mu) Wakes the owner (any thread). */
static void
collapse_poke_owner_locked(struct collapse_entry *e)
{
    if (e->owner_ev != NULL && !e->owner_poked) {
        e->owner_poked = true;
        event_active(e->owner_ev, EV_READ, 0);
    }
}

/* (e->mu) Every streaming waiter is slow and nobody waits for the head. */
static bool
collapse_all_slow_locked(const struct collapse_entry *e)
{
    return e->nstream > 0 && e->nslow == e->nstream && e->nheadwait == 0;
}

static void
collapse_owner_cb(evutil_socket_t fd, short what, void *arg)
{
    struct collapse_entry *e;
    const struct collapse_fetch_ops *fops;
    bool resume = false, abandon = false;
    void *farg;

    (void)fd;
    (void)what;
    CAST_OBJ_NOTNULL(e, arg, COLLAPSE_ENTRY_MAGIC);
    AZ(pthread_mutex_lock(&e->mu));
    e->owner_poked = false;
    fops = e->fops;
    farg = e->farg;
    if (e->state == COLLAPSE_E_HEAD || e->state == COLLAPSE_E_BODY) {
        if (e->nwaiters == 0 && (e->private_ || (e->state == COLLAPSE_E_BODY && !e->keep)))
            abandon = true;
        else if (e->paused && !collapse_all_slow_locked(e)) {
            e->paused = false;
            resume = true;
        }
    }
    AZ(pthread_mutex_unlock(&e->mu));
    if (fops == NULL)
        return;
    if (abandon && fops->abandon != NULL)
        fops->abandon(farg); /* may free owner_ev: return right after */
    else if (resume && fops->pause != NULL)
        fops->pause(farg, false);
}

/* ---- subs (the waiter's worker) ---- */

static void collapse_sub_cb(evutil_socket_t fd, short what, void *arg);
static void collapse_timer_cb(evutil_socket_t fd, short what, void *arg);

/* (e->mu) */
static struct collapse_sub *
collapse_sub_get_locked(struct collapse_entry *e, struct collapse_loop *cl)
{
    struct collapse_sub *sub = e->subs[cl->id];

    if (sub != NULL)
        return sub;
    sub = xcalloc(1, sizeof(*sub));
    sub->magic = COLLAPSE_SUB_MAGIC;
    sub->e = e;
    atomic_fetch_add(&e->refs, 1);
    sub->cl = cl;
    sub->ev = event_new(cl->base, -1, 0, collapse_sub_cb, sub);
    sub->timer = evtimer_new(cl->base, collapse_timer_cb, sub);
    AN(sub->ev);
    AN(sub->timer);
    TAILQ_INIT(&sub->waiting);
    TAILQ_INIT(&sub->streaming);
    e->subs[cl->id] = sub;
    return sub;
}

/* Frees sub when it has no waiter left and is not inside its own callback. */
static void
collapse_sub_maybe_free(struct collapse_sub *sub)
{
    struct collapse_entry *e = sub->e;

    if (sub->in_cb || !TAILQ_EMPTY(&sub->waiting) || !TAILQ_EMPTY(&sub->streaming))
        return;
    AZ(pthread_mutex_lock(&e->mu));
    assert(e->subs[sub->cl->id] == sub);
    e->subs[sub->cl->id] = NULL;
    AZ(pthread_mutex_unlock(&e->mu));
    event_free(sub->ev);
    event_free(sub->timer);
    FREE_OBJ(sub);
    collapse_entry_unref(e);
}

static void
collapse_sub_arm(struct collapse_sub *sub)
{
    struct collapse_waiter *wt = TAILQ_FIRST(&sub->waiting);
    struct timeval tv;
    uint64_t now, ms;

    if (wt == NULL) {
        (void)evtimer_del(sub->timer);
        return;
    }
    now = collapse_now_ms();
    ms = wt->deadline_ms > now ? wt->deadline_ms - now : 0;
    tv.tv_sec = (time_t)(ms / 1000);
    tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
    AZ(evtimer_add(sub->timer, &tv));
}

/* (e->mu) Adds wt to e on cl's thread. */
static void
collapse_attach_locked(struct collapse_entry *e, struct collapse_loop *cl,
                       struct collapse_waiter *wt, bool leader)
{
    struct collapse_sub *sub = collapse_sub_get_locked(e, cl);

    CHECK_OBJ_NOTNULL(wt, COLLAPSE_WAITER_MAGIC);
    assert(wt->state == COLLAPSE_W_IDLE);
    AN(wt->ops);
    wt->e = e;
    wt->sub = sub;
    wt->state = COLLAPSE_W_HEAD;
    wt->leader = leader;
    wt->joined_done = e->state == COLLAPSE_E_DONE;
    wt->slow = false;
    wt->off = 0;
    wt->end = UINT64_MAX;
    wt->deadline_ms = collapse_now_ms() + cl->wait_timeout_ms;
    TAILQ_INSERT_TAIL(&sub->waiting, wt, link);
    e->nwaiters++;
    e->nheadwait++;
    if ((e->head != NULL || e->state == COLLAPSE_E_FAILED) && !sub->notified) {
        sub->notified = true;
        event_active(sub->ev, EV_READ, 0);
    }
}

int
collapse_join(struct collapse_loop *cl, const void *key, size_t key_len, struct collapse_waiter *wt,
              uint32_t max_waiters, struct collapse_entry **pe)
{
    struct collapse_table *t;
    struct collapse_entry *e;
    uint64_t h = collapse_hash(key, key_len);
    int rc;

    CHECK_OBJ_NOTNULL(cl, COLLAPSE_LOOP_MAGIC);
    t = cl->t;
    *pe = NULL;
    AZ(pthread_mutex_lock(&t->mu));
    e = collapse_find(t, key, key_len, h);
    if (e != NULL) {
        AZ(pthread_mutex_lock(&e->mu));
        if (e->state == COLLAPSE_E_FAILED ||
            (e->head != NULL && (!e->head->shared || e->window_start > 0 || !e->keep)))
            rc = COLLAPSE_BUSY;
        else if (e->nwaiters >= max_waiters)
            rc = ERR_LIMIT;
        else {
            collapse_attach_locked(e, cl, wt, false);
            rc = COLLAPSE_JOINED;
        }
        AZ(pthread_mutex_unlock(&e->mu));
        AZ(pthread_mutex_unlock(&t->mu));
        if (rc == COLLAPSE_JOINED)
            collapse_sub_arm(wt->sub);
        return rc;
    }
    e = collapse_entry_new(cl, key, key_len, h);
    atomic_fetch_add(&e->refs, 1); /* the table's */
    e->listed = true;
    e->hnext = t->buckets[h % COLLAPSE_BUCKETS];
    t->buckets[h % COLLAPSE_BUCKETS] = e;
    t->count++;
    AZ(pthread_mutex_lock(&e->mu));
    collapse_attach_locked(e, cl, wt, true);
    AZ(pthread_mutex_unlock(&e->mu));
    AZ(pthread_mutex_unlock(&t->mu));
    collapse_sub_arm(wt->sub);
    *pe = e;
    return COLLAPSE_LEADER;
}

struct collapse_entry *
collapse_private(struct collapse_loop *cl, struct collapse_waiter *wt)
{
    struct collapse_entry *e;

    CHECK_OBJ_NOTNULL(cl, COLLAPSE_LOOP_MAGIC);
    e = collapse_entry_new(cl, "", 0, 0);
    e->private_ = true;
    e->keep = false;
    if (wt != NULL) {
        AZ(pthread_mutex_lock(&e->mu));
        collapse_attach_locked(e, cl, wt, true);
        AZ(pthread_mutex_unlock(&e->mu));
        collapse_sub_arm(wt->sub);
    }
    return e;
}

struct collapse_entry *
collapse_background(struct collapse_loop *cl, const void *key, size_t key_len)
{
    struct collapse_table *t;
    struct collapse_entry *e;
    uint64_t h = collapse_hash(key, key_len);

    CHECK_OBJ_NOTNULL(cl, COLLAPSE_LOOP_MAGIC);
    t = cl->t;
    AZ(pthread_mutex_lock(&t->mu));
    if (collapse_find(t, key, key_len, h) != NULL) {
        AZ(pthread_mutex_unlock(&t->mu));
        return NULL;
    }
    e = collapse_entry_new(cl, key, key_len, h);
    atomic_fetch_add(&e->refs, 1);
    e->listed = true;
    e->hnext = t->buckets[h % COLLAPSE_BUCKETS];
    t->buckets[h % COLLAPSE_BUCKETS] = e;
    t->count++;
    AZ(pthread_mutex_unlock(&t->mu));
    return e;
}

bool
collapse_busy(struct collapse_table *t, const void *key, size_t key_len)
{
    bool busy;

    CHECK_OBJ_NOTNULL(t, COLLAPSE_TABLE_MAGIC);
    AZ(pthread_mutex_lock(&t->mu));
    busy = collapse_find(t, key, key_len, collapse_hash(key, key_len)) != NULL;
    AZ(pthread_mutex_unlock(&t->mu));
    return busy;
}

void
collapse_unlist(struct collapse_entry *e)
{
    struct collapse_table *t = e->t;
    struct collapse_entry **pp;
    bool was;

    CHECK_OBJ_NOTNULL(e, COLLAPSE_ENTRY_MAGIC);
    AZ(pthread_mutex_lock(&t->mu));
    was = e->listed;
    if (was) {
        for (pp = &t->buckets[e->hash % COLLAPSE_BUCKETS]; *pp != e; pp = &(*pp)->hnext)
            AN(*pp);
        *pp = e->hnext;
        e->hnext = NULL;
        e->listed = false;
        t->count--;
    }
    AZ(pthread_mutex_unlock(&t->mu));
    if (was)
        collapse_entry_unref(e);
}

/* ---- waiters ---- */

static void collapse_writable_cb(struct httpd_req *r, void *arg);

/* Takes wt out of its entry; it is IDLE afterwards. */
static void
collapse_detach(struct collapse_waiter *wt)
{
    struct collapse_entry *e = wt->e;
    struct collapse_sub *sub = wt->sub;

    AZ(pthread_mutex_lock(&e->mu));
    switch (wt->state) {
    case COLLAPSE_W_HEAD:
        TAILQ_REMOVE(&sub->waiting, wt, link);
        e->nheadwait--;
        break;
    case COLLAPSE_W_STREAM:
        TAILQ_REMOVE(&sub->streaming, wt, link);
        e->nstream--;
        if (wt->slow)
            e->nslow--;
        break;
    case COLLAPSE_W_CALL:
        break;
    default:
        assert(0);
    }
    e->nwaiters--;
    collapse_poke_owner_locked(e);
    AZ(pthread_mutex_unlock(&e->mu));
    if (wt->state == COLLAPSE_W_STREAM && wt->slow)
        httpd_req_on_writable(wt->r, NULL, NULL);
    wt->state = COLLAPSE_W_IDLE;
    wt->slow = false;
    wt->e = NULL;
    wt->sub = NULL;
    collapse_sub_maybe_free(sub);
}

void
collapse_leave(struct collapse_waiter *wt)
{
    CHECK_OBJ_NOTNULL(wt, COLLAPSE_WAITER_MAGIC);
    if (wt->state == COLLAPSE_W_IDLE)
        return;
    collapse_detach(wt);
}

void
collapse_stream(struct collapse_waiter *wt, uint64_t off, uint64_t end)
{
    struct collapse_entry *e = wt->e;

    CHECK_OBJ_NOTNULL(wt, COLLAPSE_WAITER_MAGIC);
    assert(wt->state == COLLAPSE_W_CALL);
    assert(off <= end);
    wt->off = off;
    wt->end = end;
    wt->state = COLLAPSE_W_STREAM;
    TAILQ_INSERT_TAIL(&wt->sub->streaming, wt, link);
    AZ(pthread_mutex_lock(&e->mu));
    e->nstream++;
    AZ(pthread_mutex_unlock(&e->mu));
}

struct collapse_piece {
    struct collapse_block *b;
    uint32_t off, len;
};

/*
 * Queues what wt may have now. Returns true when wt is still streaming,
 * false when it finished (on_done ran: wt may be gone).
 */
static bool
collapse_feed(struct collapse_waiter *wt)
{
    struct collapse_piece pc[COLLAPSE_PIECES];
    struct collapse_entry *e = wt->e;
    uint64_t avail, pos, lim, total;
    enum collapse_estate state;
    size_t n, i, idx;
    bool cut;
    int rc = 0, err;

    for (;;) {
        n = 0;
        AZ(pthread_mutex_lock(&e->mu));
        state = e->state;
        err = e->err;
        avail = e->body_len < wt->end ? e->body_len : wt->end;
        cut = wt->off < e->window_start && wt->off < avail;
        pos = wt->off;
        while (!cut && n < COLLAPSE_PIECES && pos < avail) {
            idx = (size_t)(pos / COLLAPSE_BLOCK);
            assert(idx < e->nblocks && e->blocks[idx] != NULL);
            pc[n].b = e->blocks[idx];
            pc[n].off = (uint32_t)(pos % COLLAPSE_BLOCK);
            lim = (uint64_t)(idx + 1) * COLLAPSE_BLOCK;
            pc[n].len = (uint32_t)((avail < lim ? avail : lim) - pos);
            atomic_fetch_add(&pc[n].b->refs, 1);
            pos += pc[n].len;
            n++;
        }
        AZ(pthread_mutex_unlock(&e->mu));
        total = 0;
        for (i = 0; i < n; i++) {
            if (rc == 0)
                rc = httpd_resp_add_reference(wt->r, pc[i].b->data + pc[i].off, pc[i].len,
                                              collapse_block_release_cb, pc[i].b);
            if (rc != 0)
                collapse_block_unref(pc[i].b); /* refused: the cleanup never runs */
            else
                total += pc[i].len;
        }
        wt->off += total;
        if (rc != 0)
            return true; /* the client is gone: its on_close detaches wt */
        if (cut) {
            collapse_detach(wt);
            wt->ops->on_done(wt, ERR_LIMIT);
            return false;
        }
        if (wt->off >= wt->end || (state == COLLAPSE_E_DONE && wt->off >= avail)) {
            collapse_detach(wt);
            wt->ops->on_done(wt, 0);
            return false;
        }
        if (state == COLLAPSE_E_FAILED && wt->off >= avail) {
            collapse_detach(wt);
            wt->ops->on_done(wt, err != 0 ? err : ERR_UPSTREAM);
            return false;
        }
        if (n == 0)
            return true; /* wait for more bytes */
        if (!httpd_resp_writable(wt->r)) {
            wt->slow = true;
            AZ(pthread_mutex_lock(&e->mu));
            e->nslow++;
            AZ(pthread_mutex_unlock(&e->mu));
            httpd_req_on_writable(wt->r, collapse_writable_cb, wt);
            return true;
        }
    }
}

static void
collapse_writable_cb(struct httpd_req *r, void *arg)
{
    struct collapse_waiter *wt;
    struct collapse_entry *e;

    (void)r;
    CAST_OBJ_NOTNULL(wt, arg, COLLAPSE_WAITER_MAGIC);
    if (wt->state != COLLAPSE_W_STREAM || !wt->slow)
        return;
    e = wt->e;
    wt->slow = false;
    AZ(pthread_mutex_lock(&e->mu));
    e->nslow--;
    if (e->paused)
        collapse_poke_owner_locked(e);
    AZ(pthread_mutex_unlock(&e->mu));
    (void)collapse_feed(wt);
}

/* Calls on_head for every waiter of sub waiting for it (head or failure known). */
static void
collapse_sub_heads(struct collapse_sub *sub, const struct collapse_head *head, int err,
                   bool expired_only)
{
    struct collapse_entry *e = sub->e;
    struct collapse_waiter *wt;
    struct collapse_wlist ready;
    uint64_t now = collapse_now_ms();
    bool mine;

    TAILQ_INIT(&ready);
    while ((wt = TAILQ_FIRST(&sub->waiting)) != NULL) {
        if (expired_only && wt->deadline_ms > now)
            break;
        TAILQ_REMOVE(&sub->waiting, wt, link);
        TAILQ_INSERT_TAIL(&ready, wt, link);
        wt->state = COLLAPSE_W_CALL;
    }
    AZ(pthread_mutex_lock(&e->mu));
    TAILQ_FOREACH(wt, &ready, link)
    e->nheadwait--;
    AZ(pthread_mutex_unlock(&e->mu));
    while ((wt = TAILQ_FIRST(&ready)) != NULL) {
        TAILQ_REMOVE(&ready, wt, link);
        mine = head != NULL && (head->shared || wt->leader);
        /* The callee streams or leaves, and may free wt: not touched after. */
        wt->ops->on_head(wt, expired_only ? NULL : head, expired_only ? false : mine,
                         expired_only ? ERR_TIMEOUT : err);
    }
}

/* A slow waiter whose next byte the window has dropped. */
static bool
collapse_behind(struct collapse_waiter *wt)
{
    struct collapse_entry *e = wt->e;
    bool behind;

    AZ(pthread_mutex_lock(&e->mu));
    behind = wt->off < e->window_start;
    AZ(pthread_mutex_unlock(&e->mu));
    return behind;
}

static void
collapse_sub_cb(evutil_socket_t fd, short what, void *arg)
{
    struct collapse_sub *sub;
    struct collapse_entry *e;
    struct collapse_waiter *wt, *next;
    const struct collapse_head *head;
    enum collapse_estate state;
    int err;

    (void)fd;
    (void)what;
    CAST_OBJ_NOTNULL(sub, arg, COLLAPSE_SUB_MAGIC);
    e = sub->e;
    AZ(pthread_mutex_lock(&e->mu));
    sub->notified = false;
    head = e->head;
    state = e->state;
    err = e->err;
    AZ(pthread_mutex_unlock(&e->mu));
    sub->in_cb = true;
    if (head != NULL || state == COLLAPSE_E_FAILED)
        collapse_sub_heads(sub, head, head != NULL ? 0 : (err != 0 ? err : ERR_UPSTREAM), false);
    for (wt = TAILQ_FIRST(&sub->streaming); wt != NULL; wt = next) {
        next = TAILQ_NEXT(wt, link);
        if (!wt->slow)
            (void)collapse_feed(wt);
        else if (collapse_behind(wt)) {
            /* fell out of the window: cut off now, not when it drains */
            collapse_detach(wt);
            wt->ops->on_done(wt, ERR_LIMIT);
        }
    }
    sub->in_cb = false;
    collapse_sub_arm(sub);
    collapse_sub_maybe_free(sub);
}

static void
collapse_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    struct collapse_sub *sub;

    (void)fd;
    (void)what;
    CAST_OBJ_NOTNULL(sub, arg, COLLAPSE_SUB_MAGIC);
    sub->in_cb = true;
    collapse_sub_heads(sub, NULL, ERR_TIMEOUT, true);
    sub->in_cb = false;
    collapse_sub_arm(sub);
    collapse_sub_maybe_free(sub);
}

/* ---- the owner's side ---- */

void
collapse_set_fetch(struct collapse_entry *e, const struct collapse_fetch_ops *ops, void *arg)
{
    CHECK_OBJ_NOTNULL(e, COLLAPSE_ENTRY_MAGIC);
    AZ(pthread_mutex_lock(&e->mu));
    e->fops = ops;
    e->farg = arg;
    AZ(pthread_mutex_unlock(&e->mu));
}

const char *
collapse_key(const struct collapse_entry *e, size_t *len)
{
    CHECK_OBJ_NOTNULL(e, COLLAPSE_ENTRY_MAGIC);
    *len = e->key_len;
    return e->key;
}

unsigned
collapse_waiters(struct collapse_entry *e)
{
    unsigned n;

    CHECK_OBJ_NOTNULL(e, COLLAPSE_ENTRY_MAGIC);
    AZ(pthread_mutex_lock(&e->mu));
    n = e->nwaiters;
    AZ(pthread_mutex_unlock(&e->mu));
    return n;
}

void
collapse_publish(struct collapse_entry *e, struct collapse_head *head, bool keep)
{
    CHECK_OBJ_NOTNULL(e, COLLAPSE_ENTRY_MAGIC);
    AN(head);
    AZ(pthread_mutex_lock(&e->mu));
    assert(e->head == NULL && e->state == COLLAPSE_E_HEAD);
    e->head = head;
    e->keep = keep && !e->private_;
    e->state = COLLAPSE_E_BODY;
    collapse_notify_locked(e);
    AZ(pthread_mutex_unlock(&e->mu));
}

void
collapse_unkeep(struct collapse_entry *e)
{
    CHECK_OBJ_NOTNULL(e, COLLAPSE_ENTRY_MAGIC);
    AZ(pthread_mutex_lock(&e->mu));
    e->keep = false;
    AZ(pthread_mutex_unlock(&e->mu));
}

uint64_t
collapse_body_len(struct collapse_entry *e)
{
    CHECK_OBJ_NOTNULL(e, COLLAPSE_ENTRY_MAGIC);
    return e->appended;
}

/* The capacity of block idx: a whole block, or what is left of a known length. */
static uint32_t
collapse_block_cap(const struct collapse_entry *e, size_t idx)
{
    uint64_t start = (uint64_t)idx * COLLAPSE_BLOCK;

    if (e->head != NULL && e->head->length > 0 && (uint64_t)e->head->length > start &&
        (uint64_t)e->head->length - start < COLLAPSE_BLOCK)
        return (uint32_t)((uint64_t)e->head->length - start);
    return COLLAPSE_BLOCK;
}

void
collapse_append(struct collapse_entry *e, const void *data, size_t len)
{
    const uint8_t *p = data;
    struct collapse_block *b, *drop[8];
    const struct collapse_fetch_ops *fops = NULL;
    size_t idx, off, n, ndrop = 0, i;
    uint64_t keep_from;
    void *farg = NULL;

    CHECK_OBJ_NOTNULL(e, COLLAPSE_ENTRY_MAGIC);
    while (len > 0) {
        idx = (size_t)(e->appended / COLLAPSE_BLOCK);
        off = (size_t)(e->appended % COLLAPSE_BLOCK);
        if (idx >= e->nblocks) {
            b = collapse_block_new(collapse_block_cap(e, idx));
            AZ(pthread_mutex_lock(&e->mu));
            if (idx >= e->capblocks) {
                e->capblocks = e->capblocks == 0 ? 4 : e->capblocks * 2;
                e->blocks = xrealloc(e->blocks, e->capblocks * sizeof(*e->blocks));
            }
            e->blocks[idx] = b;
            e->nblocks = idx + 1;
            AZ(pthread_mutex_unlock(&e->mu));
        }
        b = e->blocks[idx];
        /* More bytes than the declared length: httpc never delivers them
         * (debug builds check); were it to, they would be dropped here. */
        DASSERT(off < b->cap);
        if (off >= b->cap)
            break;
        n = b->cap - off < len ? b->cap - off : len;
        memcpy(b->data + off, p, n);
        p += n;
        len -= n;
        e->appended += n;
        if (off + n == b->cap && b->cap < COLLAPSE_BLOCK)
            break;
    }
    AZ(pthread_mutex_lock(&e->mu));
    e->body_len = e->appended;
    if (!e->keep) {
        /* WINDOW: keep the blocks that hold the last max_lag bytes. */
        keep_from = e->appended > e->owner->max_lag ? e->appended - e->owner->max_lag : 0;
        keep_from -= keep_from % COLLAPSE_BLOCK;
        while (e->window_start < keep_from && ndrop < ARRAY_SIZE(drop)) {
            idx = (size_t)(e->window_start / COLLAPSE_BLOCK);
            drop[ndrop++] = e->blocks[idx];
            e->blocks[idx] = NULL;
            e->window_start += COLLAPSE_BLOCK;
        }
    }
    collapse_notify_locked(e);
    if (!e->paused && collapse_all_slow_locked(e)) {
        e->paused = true;
        fops = e->fops;
        farg = e->farg;
    }
    AZ(pthread_mutex_unlock(&e->mu));
    for (i = 0; i < ndrop; i++)
        collapse_block_unref(drop[i]);
    if (fops != NULL && fops->pause != NULL)
        fops->pause(farg, true);
}

struct evbuffer *
collapse_body_buffer(struct collapse_entry *e)
{
    struct evbuffer *buf = evbuffer_new();
    struct collapse_block *b;
    uint64_t left = e->appended;
    size_t i, n;

    CHECK_OBJ_NOTNULL(e, COLLAPSE_ENTRY_MAGIC);
    AN(buf);
    assert(e->window_start == 0);
    for (i = 0; left > 0; i++) {
        b = e->blocks[i];
        AN(b);
        n = left < b->cap ? (size_t)left : b->cap;
        atomic_fetch_add(&b->refs, 1);
        if (evbuffer_add_reference(buf, b->data, n, collapse_block_release_cb, b) != 0) {
            collapse_block_unref(b);
            evbuffer_free(buf);
            return NULL;
        }
        left -= n;
    }
    return buf;
}

void
collapse_finish(struct collapse_entry *e, int err)
{
    CHECK_OBJ_NOTNULL(e, COLLAPSE_ENTRY_MAGIC);
    AZ(pthread_mutex_lock(&e->mu));
    assert(e->state == COLLAPSE_E_HEAD || e->state == COLLAPSE_E_BODY);
    e->state = err == 0 ? COLLAPSE_E_DONE : COLLAPSE_E_FAILED;
    e->err = err;
    assert(err != 0 || e->head != NULL);
    collapse_notify_locked(e);
    AZ(pthread_mutex_unlock(&e->mu));
    if (err != 0)
        collapse_unlist(e);
}

void
collapse_fetch_done(struct collapse_entry **pe)
{
    struct collapse_entry *e = *pe;
    struct event *ev;

    if (e == NULL)
        return;
    CHECK_OBJ(e, COLLAPSE_ENTRY_MAGIC);
    *pe = NULL;
    AZ(pthread_mutex_lock(&e->mu));
    ev = e->owner_ev;
    e->owner_ev = NULL;
    e->fops = NULL;
    e->farg = NULL;
    AZ(pthread_mutex_unlock(&e->mu));
    if (ev != NULL)
        event_free(ev);
    collapse_entry_unref(e);
}
