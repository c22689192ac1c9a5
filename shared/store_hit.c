/*
 * store_hit.c -- hits: a read transaction per hit, validation, body bytes
 * handed to libevent by reference; and the per-loop state (live hits,
 * the reaper timer, completions from the writer).
 *
 * A hit holds one pooled read transaction from open to its last unref.
 * Its header and body pointers point into the LMDB map and are borrowed
 * from that transaction: a zero-copy hit gives libevent references that
 * each hold a ref on the hit, so the transaction is reset only when the
 * last byte has left the output buffer (STYLE 6). Zero-copy hits are
 * capped at maxreaders - 16; past the cap, and for bodies under
 * zero_copy_min, bytes are copied and the transaction goes back with the
 * caller's unref. A reaper reports hits older than max_reader_age_ms to
 * their owner, who closes the connection: an old reader pins pages that
 * the writer could otherwise reuse.
 *
 * Validation on every open: the meta record's CRC and every length (the
 * record's own, each chunk's against the record). The body's per-chunk
 * CRCs are checked on the first open of an object since start, then the
 * object is remembered in s->verified. A failing object is a miss: it is
 * counted (store.corrupt), logged, and queued for removal.
 *
 * Threads: everything here runs on the loop's thread, except
 * store_loop_post (the writer thread), which only appends under sl->mu
 * and pokes an eventfd.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <lmdb.h>

#include "err.h"
#include "fault.h"
#include "log.h"
#include "mem.h"
#include "metrics.h"
#include "store.h"
#include "store_int.h"
#include "compat.h"

/* store_writer.c */
int store_drop_corrupt(struct store *s, const void *key, size_t key_len, uint64_t oid);

/* How many expired hits one reaper run calls back. */
#define STORE_REAP_BATCH 64

/* ---- completions from the writer ---- */

/* Writer thread: hands a finished operation to its loop. */
void
store_loop_post(struct store_loop *sl, struct store_op *op)
{
    uint64_t one = 1;

    CHECK_OBJ_NOTNULL(sl, STORE_LOOP_MAGIC);
    op->next = NULL;
    pthread_mutex_lock(&sl->mu);
    *sl->done_tail = op;
    sl->done_tail = &op->next;
    pthread_mutex_unlock(&sl->mu);
    /* An eventfd counter cannot overflow here (the loop reads it to 0), and
     * a write to a valid eventfd of 8 bytes cannot fail otherwise. */
    AZ(write(sl->efd, &one, sizeof(one)) != (ssize_t)sizeof(one));
}

/* One more callback owed to this loop: keep the wake event added. */
void
store_loop_expect(struct store_loop *sl)
{
    if (sl->pending++ == 0)
        AZ(event_add(sl->wake_ev, NULL));
}

static void
store_loop_drain(struct store_loop *sl)
{
    struct store_op *list, *op;

    pthread_mutex_lock(&sl->mu);
    list = sl->done_head;
    sl->done_head = NULL;
    sl->done_tail = &sl->done_head;
    pthread_mutex_unlock(&sl->mu);
    while ((op = list) != NULL) {
        list = op->next;
        assert(sl->pending > 0);
        sl->pending--;
        op->cb(op->arg, op->rc, op->n);
        store_op_free(&op);
    }
    if (sl->pending == 0)
        AZ(event_del(sl->wake_ev));
}

static void
store_loop_wake_cb(evutil_socket_t fd, short what, void *arg)
{
    struct store_loop *sl;
    uint64_t v;

    (void)what;
    CAST_OBJ_NOTNULL(sl, arg, STORE_LOOP_MAGIC);
    /* EAGAIN: another wake-up already took the count; nothing else can fail. */
    AZ(read(fd, &v, sizeof(v)) < 0 && errno != EAGAIN);
    store_loop_drain(sl);
}

static void store_loop_reap_cb(evutil_socket_t fd, short what, void *arg);

int
store_loop_new(struct store *s, struct event_base *base, struct store_loop **psl)
{
    struct store_loop *sl;
    int efd;

    CHECK_OBJ_NOTNULL(s, STORE_MAGIC);
    *psl = NULL;
    efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (efd < 0) {
        LOG(LOG_ERR, "store", "eventfd_failed", "conn=0 err=%s", err_name(-errno));
        return -errno;
    }
    sl = xcalloc(1, sizeof(*sl));
    sl->magic = STORE_LOOP_MAGIC;
    sl->s = s;
    sl->base = base;
    sl->efd = efd;
    pthread_mutex_init(&sl->mu, NULL);
    sl->done_tail = &sl->done_head;
    sl->wake_ev = event_new(base, efd, EV_READ | EV_PERSIST, store_loop_wake_cb, sl);
    sl->reap_ev = evtimer_new(base, store_loop_reap_cb, sl);
    AN(sl->wake_ev);
    AN(sl->reap_ev);
    atomic_fetch_add(&s->nloops, 1);
    *psl = sl;
    return 0;
}

void
store_loop_free(struct store_loop **psl)
{
    struct store_loop *sl = *psl;
    struct store_hit *h;

    if (sl == NULL)
        return;
    CHECK_OBJ(sl, STORE_LOOP_MAGIC);
    assert(sl->nhits == 0);
    while (sl->nrtxn > 0) {
        mdb_txn_abort(sl->rtxn[--sl->nrtxn]);
        atomic_fetch_sub(&sl->s->loop_rtxns, 1);
        atomic_fetch_sub(&sl->s->slots, 1);
    }
    while ((h = sl->spare) != NULL) {
        sl->spare = h->next;
        xfree(h);
    }
    /* Callbacks may queue more work on this loop: go until none is owed. */
    while (sl->pending > 0) {
        store_flush(sl->s);
        store_loop_drain(sl);
    }
    event_free(sl->wake_ev);
    event_free(sl->reap_ev);
    close(sl->efd);
    pthread_mutex_destroy(&sl->mu);
    atomic_fetch_sub(&sl->s->nloops, 1);
    FREE_OBJ(sl);
    *psl = NULL;
}

/* ---- hits ---- */

/*
 * A read transaction for a hit: from the loop's own few (renewed, no lock),
 * else from the store's pool. Same results as store_rtxn_get().
 */
static int
store_loop_rtxn_get(struct store_loop *sl, MDB_txn **ptxn)
{
    MDB_txn *txn;
    int rc;

    if (sl->nrtxn == 0)
        return store_rtxn_get(sl->s, ptxn);
    txn = sl->rtxn[--sl->nrtxn];
    atomic_fetch_sub_explicit(&sl->s->loop_rtxns, 1, memory_order_relaxed);
    rc = FAULT("store.renew") ? EIO : mdb_txn_renew(txn);
    if (rc != 0) {
        mdb_txn_abort(txn);
        atomic_fetch_sub(&sl->s->slots, 1);
        return store_mdb_err(rc, "txn_renew_failed", "");
    }
    *ptxn = txn;
    return 0;
}

/* Resets txn and keeps it for this loop's next hit, or gives it to the store's pool. */
static void
store_loop_rtxn_put(struct store_loop *sl, MDB_txn *txn)
{
    if (sl->nrtxn == STORE_LOOP_RTXNS) {
        store_rtxn_put(sl->s, txn);
        return;
    }
    mdb_txn_reset(txn);
    sl->rtxn[sl->nrtxn++] = txn;
    atomic_fetch_add_explicit(&sl->s->loop_rtxns, 1, memory_order_relaxed);
}

static void
store_hit_corrupt(struct store *s, const void *key, size_t key_len, uint64_t oid, const char *why)
{
    char k[128];

    atomic_fetch_add(&s->n_corrupt, 1);
    metric_inc(s->m.corrupt);
    LOG_RL(LOG_WARN, "store", "corrupt", 10, "conn=0 why=%s oid=%llu key=%s", why,
           (unsigned long long)oid, log_sanitize(k, sizeof(k), key, key_len));
    if (store_drop_corrupt(s, key, key_len, oid) != 0) {
        /* the writer's queue is full: the object stays, the next hit finds it again */
    }
}

/*
 * Looks up every chunk of m and checks its length; checks the CRCs too
 * when the object was not verified since start. 0, ERR_PROTO (*why set),
 * or another LMDB failure as ERR_STORE.
 */
static int
store_hit_load(struct store *s, MDB_txn *txn, struct store_hit *h, const struct store_meta *m,
               const char **why)
{
    uint8_t ck[STORE_CHUNK_KEY_LEN];
    MDB_val k = {sizeof(ck), ck}, v;
    bool verify = m->nchunks > 0 && !store_verified(s, m->oid);
    uint32_t i;
    int rc;

    for (i = 0; i < m->nchunks; i++) {
        store_chunk_key(ck, m->oid, i);
        rc = FAULT("store.get") ? EIO : mdb_get(txn, s->dbi_chunk, &k, &v);
        if (rc == MDB_NOTFOUND) {
            *why = "chunk_missing";
            return ERR_PROTO;
        }
        if (rc != 0)
            return store_mdb_err(rc, "hit_chunk_failed", "");
        if (v.mv_size != store_meta_chunk_len(m, i)) {
            *why = "chunk_len";
            return ERR_PROTO;
        }
        if (verify && store_crc32c(0, v.mv_data, v.mv_size) != store_meta_chunk_crc(m, i)) {
            *why = "chunk_crc";
            return ERR_PROTO;
        }
        h->chunks[i].base = v.mv_data;
        h->chunks[i].len = v.mv_size;
    }
    if (verify)
        store_verified_set(s, m->oid);
    return 0;
}

static struct store_hit *
store_hit_new(struct store_loop *sl, MDB_txn *txn, const struct store_meta *m)
{
    struct store_hit *h;

    if (sl->spare != NULL) {
        h = sl->spare;
        sl->spare = h->next;
        sl->nspare--;
    } else {
        h = xmalloc(sizeof(*h));
    }
    memset(h, 0, offsetof(struct store_hit, inline_chunks));
    h->magic = STORE_HIT_MAGIC;
    h->refs = 1;
    h->sl = sl;
    h->txn = txn;
    h->info.status = m->status;
    h->info.expires_at_ms = m->expires_at_ms;
    h->info.stored_at_ms = m->stored_at_ms;
    h->info.body_len = m->body_len;
    h->hdr = m->hdr;
    h->hdr_len = m->hdr_len;
    h->chunk_size = m->chunk_size;
    h->nchunks = m->nchunks;
    h->chunks = m->nchunks <= STORE_HIT_INLINE ? h->inline_chunks
                                               : xmalloc(m->nchunks * sizeof(*h->chunks));
    return h;
}

static void
store_hit_free(struct store_hit *h)
{
    struct store_loop *sl = h->sl;

    if (h->chunks != h->inline_chunks)
        xfree(h->chunks);
    if (sl->nspare == STORE_LOOP_SPARE_HITS) {
        FREE_OBJ(h);
        return;
    }
    h->magic = 0;
    h->next = sl->spare;
    sl->spare = h;
    sl->nspare++;
}

static uint32_t
store_reap_period_ms(const struct store *s)
{
    uint32_t p = s->conf.max_reader_age_ms / 4;

    return p < 10 ? 10 : p > 1000 ? 1000 : p;
}

/* Picks zero-copy or copy, and links the hit into its loop. */
static void
store_hit_start(struct store_loop *sl, struct store_hit *h)
{
    struct store *s = sl->s;
    struct timeval tv;
    uint32_t p;

    if (h->info.body_len >= s->conf.zero_copy_min) {
        if (atomic_fetch_add(&s->zc_active, 1) < s->zc_cap) {
            h->zc = true;
        } else {
            atomic_fetch_sub(&s->zc_active, 1);
            metric_inc(s->m.readers_capped);
        }
    }
    if (!h->zc)
        metric_inc(s->m.hits_copied);
    h->info.zero_copy = h->zc;
    h->opened_ms = store_mono_ms();
    h->prev = sl->hits_tail;
    h->next = NULL;
    if (sl->hits_tail != NULL)
        sl->hits_tail->next = h;
    else
        sl->hits_head = h;
    sl->hits_tail = h;
    if (sl->nhits++ == 0) {
        p = store_reap_period_ms(s);
        tv.tv_sec = p / 1000;
        tv.tv_usec = (long)(p % 1000) * 1000;
        AZ(evtimer_add(sl->reap_ev, &tv));
    }
    atomic_fetch_add(&s->readers, 1);
    metric_gauge_add(s->m.readers_active, 1);
    metric_inc(s->m.hits_opened);
}

int
store_hit_open(struct store_loop *sl, const void *key, size_t key_len, struct store_hit **phit)
{
    struct store *s;
    struct store_meta m;
    struct store_hit *h;
    MDB_val k = {key_len, (void *)key}, v;
    const char *why = NULL;
    uint64_t oid = 0, seq;
    MDB_txn *txn;
    int rc;

    CHECK_OBJ_NOTNULL(sl, STORE_LOOP_MAGIC);
    s = sl->s;
    *phit = NULL;
    if (key_len == 0 || key_len > s->key_max) {
        metric_inc(s->m.hits_missed);
        return ERR_NOTFOUND;
    }
    rc = store_loop_rtxn_get(sl, &txn);
    if (rc != 0)
        return rc;
    rc = FAULT("store.get") ? EIO : mdb_get(txn, s->dbi_meta, &k, &v);
    if (rc != 0) {
        store_loop_rtxn_put(sl, txn);
        if (rc == MDB_NOTFOUND)
            metric_inc(s->m.hits_missed);
        return store_mdb_err(rc, "hit_get_failed", "");
    }
    if (store_meta_decode(v.mv_data, v.mv_size, &m, &why) != 0) {
        if (store_meta_peek_ids(v.mv_data, v.mv_size, &oid, &seq) != 0)
            oid = 0;
        store_loop_rtxn_put(sl, txn);
        store_hit_corrupt(s, key, key_len, oid, why);
        return ERR_NOTFOUND;
    }
    DASSERT((store_meta_check(&m, v.mv_size), 1));
    h = store_hit_new(sl, txn, &m);
    rc = store_hit_load(s, txn, h, &m, &why);
    if (rc != 0) {
        store_hit_free(h);
        store_loop_rtxn_put(sl, txn);
        if (rc != ERR_PROTO)
            return rc;
        store_hit_corrupt(s, key, key_len, m.oid, why);
        return ERR_NOTFOUND;
    }
    store_hitbit_set(s, m.oid);
    store_hit_start(sl, h);
    *phit = h;
    return 0;
}

const struct store_hit_info *
store_hit_info(const struct store_hit *h)
{
    CHECK_OBJ_NOTNULL(h, STORE_HIT_MAGIC);
    return &h->info;
}

const void *
store_hit_peek_headers(const struct store_hit *h, size_t *len)
{
    CHECK_OBJ_NOTNULL(h, STORE_HIT_MAGIC);
    *len = h->hdr_len;
    return h->hdr;
}

/* Calls fn for each piece of [off, off + len) clipped to the body; stops on non-zero. */
typedef int store_hit_piece_fn(void *arg, const uint8_t *p, size_t n);

static int
store_hit_pieces(const struct store_hit *h, uint64_t off, uint64_t len, store_hit_piece_fn *fn,
                 void *arg)
{
    uint64_t end, pos, coff, piece;
    uint32_t i;
    int rc;

    if (off >= h->info.body_len || len == 0)
        return 0;
    end = len > h->info.body_len - off ? h->info.body_len : off + len;
    i = (uint32_t)(off / h->chunk_size);
    coff = off % h->chunk_size;
    for (pos = off; pos < end; i++, coff = 0) {
        assert(i < h->nchunks);
        piece = h->chunks[i].len - coff;
        if (piece > end - pos)
            piece = end - pos;
        rc = fn(arg, (const uint8_t *)h->chunks[i].base + coff, (size_t)piece);
        if (rc != 0)
            return rc;
        pos += piece;
    }
    return 0;
}

struct store_iov_acc {
    struct store_iov *iov;
    size_t niov, n;
};

static int
store_hit_iov_cb(void *arg, const uint8_t *p, size_t n)
{
    struct store_iov_acc *a = arg;

    if (a->n < a->niov) {
        a->iov[a->n].base = p;
        a->iov[a->n].len = n;
    }
    a->n++;
    return 0;
}

size_t
store_hit_peek_body(const struct store_hit *h, uint64_t off, uint64_t len, struct store_iov *iov,
                    size_t niov)
{
    struct store_iov_acc a = {iov, niov, 0};

    CHECK_OBJ_NOTNULL(h, STORE_HIT_MAGIC);
    AZ(store_hit_pieces(h, off, len, store_hit_iov_cb, &a));
    return a.n;
}

static void store_hit_drop(struct store_hit *h);

/* libevent is done with one referenced piece. */
static void
store_hit_release_cb(const void *data, size_t len, void *extra)
{
    struct store_hit *h;

    (void)data;
    (void)len;
    CAST_OBJ_NOTNULL(h, extra, STORE_HIT_MAGIC);
    store_hit_drop(h);
}

struct store_add_acc {
    struct store_hit *h;
    struct evbuffer *out;
};

static int
store_hit_add_cb(void *arg, const uint8_t *p, size_t n)
{
    struct store_add_acc *a = arg;
    struct store_hit *h = a->h;

    if (!h->zc)
        return evbuffer_add(a->out, p, n) == 0 ? 0 : -ENOMEM;
    h->refs++; /* the evbuffer's ref */
    if (evbuffer_add_reference(a->out, p, n, store_hit_release_cb, h) != 0) {
        h->refs--; /* libevent skips the cb when the add fails */
        return -ENOMEM;
    }
    return 0;
}

int
store_hit_add_body(struct store_hit *h, struct evbuffer *out, uint64_t off, uint64_t len)
{
    struct store_add_acc a = {h, out};

    CHECK_OBJ_NOTNULL(h, STORE_HIT_MAGIC);
    assert(h->refs > 0);
    return store_hit_pieces(h, off, len, store_hit_add_cb, &a);
}

void
store_hit_set_owner(struct store_hit *h, store_hit_expire_fn *fn, void *arg)
{
    CHECK_OBJ_NOTNULL(h, STORE_HIT_MAGIC);
    h->owner_fn = fn;
    h->owner_arg = arg;
}

void
store_hit_set_owner_id(struct store_hit *h, uint64_t id)
{
    CHECK_OBJ_NOTNULL(h, STORE_HIT_MAGIC);
    h->owner_id = id;
}

uint64_t
store_hit_owner_id(const struct store_hit *h)
{
    CHECK_OBJ_NOTNULL(h, STORE_HIT_MAGIC);
    return h->owner_id;
}

/* The last ref: unlink, give the transaction back, free. */
static void
store_hit_end(struct store_hit *h)
{
    struct store_loop *sl = h->sl;
    struct store *s = sl->s;

    if (h->prev != NULL)
        h->prev->next = h->next;
    else
        sl->hits_head = h->next;
    if (h->next != NULL)
        h->next->prev = h->prev;
    else
        sl->hits_tail = h->prev;
    if (--sl->nhits == 0)
        AZ(event_del(sl->reap_ev));
    store_loop_rtxn_put(sl, h->txn);
    if (h->zc)
        atomic_fetch_sub(&s->zc_active, 1);
    atomic_fetch_sub(&s->readers, 1);
    metric_gauge_add(s->m.readers_active, -1);
    store_hit_free(h);
}

static void
store_hit_drop(struct store_hit *h)
{
    assert(h->refs > 0);
    if (--h->refs == 0)
        store_hit_end(h);
}

void
store_hit_unref(struct store_hit **ph)
{
    struct store_hit *h = *ph;

    if (h == NULL)
        return;
    CHECK_OBJ(h, STORE_HIT_MAGIC);
    *ph = NULL;
    store_hit_drop(h);
}

/* ---- the reaper ---- */

/* Invariants of a loop's hit list: linked both ways, in open order, counted. */
static void
store_loop_check(const struct store_loop *sl)
{
    const struct store_hit *h, *prev = NULL;
    unsigned n = 0;

    CHECK_OBJ_NOTNULL(sl, STORE_LOOP_MAGIC);
    for (h = sl->hits_head; h != NULL; prev = h, h = h->next) {
        CHECK_OBJ(h, STORE_HIT_MAGIC);
        assert(h->prev == prev && h->sl == sl && h->refs > 0);
        assert(prev == NULL || prev->opened_ms <= h->opened_ms);
        n++;
    }
    assert(sl->hits_tail == prev && sl->nhits == n);
}

unsigned
store_loop_reap(struct store_loop *sl)
{
    struct store_hit *batch[STORE_REAP_BATCH], *h;
    struct store *s;
    int64_t now = store_mono_ms();
    unsigned over = 0, n = 0, i;

    CHECK_OBJ_NOTNULL(sl, STORE_LOOP_MAGIC);
    DASSERT((store_loop_check(sl), 1));
    s = sl->s;
    /* Oldest first: stop at the first young hit. */
    for (h = sl->hits_head; h != NULL; h = h->next) {
        if (now - h->opened_ms < (int64_t)s->conf.max_reader_age_ms)
            break;
        over++;
        if (h->expired || (h->owner_fn != NULL && n == STORE_REAP_BATCH))
            continue;
        h->expired = true;
        metric_inc(s->m.readers_expired);
        LOG_RL(LOG_WARN, "store", "reader_expired", 10, "conn=0 age_ms=%lld owner=%s",
               (long long)(now - h->opened_ms), h->owner_fn != NULL ? "yes" : "none");
        if (h->owner_fn != NULL) {
            h->refs++; /* keeps h alive while owners close connections */
            batch[n++] = h;
        }
    }
    for (i = 0; i < n; i++) {
        batch[i]->owner_fn(batch[i], batch[i]->owner_arg);
        store_hit_drop(batch[i]);
    }
    return over;
}

static void
store_loop_reap_cb(evutil_socket_t fd, short what, void *arg)
{
    struct store_loop *sl;
    struct timeval tv;
    uint32_t p;

    (void)fd;
    (void)what;
    CAST_OBJ_NOTNULL(sl, arg, STORE_LOOP_MAGIC);
    (void)store_loop_reap(sl);
    if (sl->nhits > 0 && !evtimer_pending(sl->reap_ev, NULL)) {
        p = store_reap_period_ms(sl->s);
        tv.tv_sec = p / 1000;
        tv.tv_usec = (long)(p % 1000) * 1000;
        AZ(evtimer_add(sl->reap_ev, &tv));
    }
}
