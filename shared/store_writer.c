/*
 * store_writer.c -- the writer thread: puts in group commits, purges,
 * eviction, periodic sync.
 *
 * Loops hand complete objects to a bounded queue (store_put_take) and go
 * on; they never wait for LMDB. The writer takes up to batch_max
 * operations (batch_max_bytes) and applies them in one write transaction,
 * so a put is all-or-nothing and the sync cost is shared by the batch.
 * When a batch fails, its operations are retried one per transaction, so
 * one bad put does not fail its neighbours.
 *
 * Eviction is CLOCK (second chance) over the insertion order in obj.seq:
 * before a batch that would take the map past evict_high_pct, the writer
 * walks from the oldest seq; an object hit since it was last looked at
 * (its bit in s->hitbits, set by hits without any write) gets a new seq
 * at the end of the order and its bit cleared; any other is deleted. It
 * stops below evict_low_pct. Eviction runs in its own transactions,
 * committed before the batch, so the batch can reuse the freed pages.
 *
 * Owns: the queue and every operation in it; next_id. Completions go
 * back to the submitting loop (store_loop_post). Not here: hits.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <lmdb.h>

#include "err.h"
#include "fault.h"
#include "log.h"
#include "mem.h"
#include "metrics.h"
#include "store.h"
#include "store_int.h"
#include "compat.h"

/* ---- usage ---- */

/* Pages held by the B-trees (the freelist's own tree excluded: LMDB does
 * not expose it) plus the two meta pages. O(1): read from the txn. */
void
store_usage_get(struct store *s, MDB_txn *txn, struct store_usage *u)
{
    MDB_dbi dbis[3] = {s->dbi_meta, s->dbi_chunk, s->dbi_seq};
    MDB_stat st;
    unsigned i, nkv;

    u->used_pages = 2;
    u->objects = 0;
    for (i = 0; i < 3; i++) {
        if (mdb_stat(txn, dbis[i], &st) != 0)
            continue;
        u->used_pages += st.ms_branch_pages + st.ms_leaf_pages + st.ms_overflow_pages;
        if (i == 0)
            u->objects = st.ms_entries;
    }
    if (mdb_stat(txn, 1 /* MAIN_DBI: the names of the databases */, &st) == 0)
        u->used_pages += st.ms_branch_pages + st.ms_leaf_pages + st.ms_overflow_pages;
    nkv = atomic_load_explicit(&s->nkv, memory_order_acquire);
    for (i = 0; i < nkv; i++)
        if (mdb_stat(txn, s->kv_dbi[i], &st) == 0)
            u->used_pages += st.ms_branch_pages + st.ms_leaf_pages + st.ms_overflow_pages;
}

void
store_usage_publish(struct store *s, const struct store_usage *u)
{
    MDB_envinfo info;
    uint64_t used = u->used_pages * s->psize, hwm;

    mdb_env_info(s->env, &info);
    hwm = ((uint64_t)info.me_last_pgno + 1) * s->psize;
    atomic_store(&s->used_bytes, used);
    atomic_store(&s->hwm_bytes, hwm);
    atomic_store(&s->objects, u->objects);
    metric_set(s->m.map_used, (int64_t)used);
    metric_set(s->m.map_hwm, (int64_t)hwm);
    metric_set(s->m.objects, (int64_t)u->objects);
}

/* ---- operations ---- */

void
store_op_free(struct store_op **pop)
{
    struct store_op *op = *pop;

    if (op == NULL)
        return;
    CHECK_OBJ(op, STORE_OP_MAGIC);
    if (op->body != NULL)
        evbuffer_free(op->body);
    xfree(op->key);
    xfree(op->hdr);
    FREE_OBJ(op);
    *pop = NULL;
}

/* Pages a put may need: its chunks, its record, and some tree growth. */
static uint64_t
store_op_need(const struct store *s, const struct store_op *op)
{
    uint64_t nchunks;

    if (op->kind != STORE_OP_PUT)
        return 0;
    nchunks = store_meta_nchunks(op->body_len, s->chunk_size);
    return op->body_len + op->hdr_len + op->key_len + (nchunks + 3) * s->psize;
}

int
store_submit(struct store *s, struct store_op *op)
{
    pthread_mutex_lock(&s->mu);
    if (s->stop || s->q_len >= s->conf.queue_max ||
        s->q_bytes + op->cost > s->conf.queue_max_bytes) {
        pthread_mutex_unlock(&s->mu);
        return ERR_LIMIT;
    }
    op->next = NULL;
    *s->q_tail = op;
    s->q_tail = &op->next;
    s->q_len++;
    s->q_bytes += op->cost;
    s->ops_queued++;
    metric_set(s->m.queue, s->q_len);
    pthread_cond_signal(&s->cond);
    pthread_mutex_unlock(&s->mu);
    return 0;
}

static struct store_op *
store_op_new(enum store_op_kind kind, const void *key, size_t key_len)
{
    struct store_op *op;

    op = xcalloc(1, sizeof(*op));
    op->magic = STORE_OP_MAGIC;
    op->kind = kind;
    op->key = xmalloc(key_len > 0 ? key_len : 1);
    if (key_len > 0)
        memcpy(op->key, key, key_len);
    op->key_len = key_len;
    op->cost = key_len;
    return op;
}

static int
store_op_queue(struct store *s, struct store_op *op, struct store_loop *sl, store_done_fn *cb,
               void *arg)
{
    int rc;

    assert(cb == NULL || sl != NULL);
    if (cb != NULL) {
        CHECK_OBJ_NOTNULL(sl, STORE_LOOP_MAGIC);
        assert(sl->s == s);
        op->sl = sl;
        op->cb = cb;
        op->arg = arg;
    }
    rc = store_submit(s, op);
    if (rc != 0) {
        store_op_free(&op);
        return rc;
    }
    if (cb != NULL)
        store_loop_expect(sl);
    return 0;
}

int
store_put_take(struct store *s, const struct store_obj *o, struct evbuffer **pbody,
               struct store_loop *sl, store_done_fn *cb, void *arg)
{
    struct evbuffer *body = *pbody;
    struct store_op *op;
    size_t blen;
    int rc;

    CHECK_OBJ_NOTNULL(s, STORE_MAGIC);
    AN(body);
    *pbody = NULL;
    blen = evbuffer_get_length(body);
    if (o->key_len == 0 || o->key_len > s->key_max || o->hdr_len > STORE_HDR_MAX ||
        (o->hdr_len > 0 && o->hdr == NULL) || blen > s->body_max) {
        evbuffer_free(body);
        atomic_fetch_add(&s->n_rejected, 1);
        metric_inc(s->m.puts_rejected);
        return ERR_INVAL;
    }
    op = store_op_new(STORE_OP_PUT, o->key, o->key_len);
    if (o->hdr_len > 0) {
        op->hdr = xmalloc(o->hdr_len);
        memcpy(op->hdr, o->hdr, o->hdr_len);
    }
    op->hdr_len = o->hdr_len;
    op->body = body;
    op->body_len = blen;
    op->status = o->status;
    op->expires_at_ms = o->expires_at_ms;
    op->cost += o->hdr_len + blen;
    rc = store_op_queue(s, op, sl, cb, arg);
    if (rc != 0) {
        atomic_fetch_add(&s->n_dropped, 1);
        metric_inc(s->m.puts_dropped);
        LOG_RL(LOG_WARN, "store", "put_dropped", 5, "conn=0 err=%s queue_max=%u", err_name(rc),
               s->conf.queue_max);
    }
    return rc;
}

int
store_purge(struct store *s, const void *key, size_t key_len, struct store_loop *sl,
            store_done_fn *cb, void *arg)
{
    CHECK_OBJ_NOTNULL(s, STORE_MAGIC);
    if (key_len == 0 || key_len > s->key_max)
        return ERR_INVAL;
    return store_op_queue(s, store_op_new(STORE_OP_PURGE, key, key_len), sl, cb, arg);
}

int
store_purge_prefix(struct store *s, const void *prefix, size_t len, struct store_loop *sl,
                   store_done_fn *cb, void *arg)
{
    CHECK_OBJ_NOTNULL(s, STORE_MAGIC);
    if (len > s->key_max)
        return ERR_INVAL;
    return store_op_queue(s, store_op_new(STORE_OP_PURGE_PREFIX, prefix, len), sl, cb, arg);
}

/* Internal: queue removal of a corrupt object, if still the same one. */
int store_drop_corrupt(struct store *s, const void *key, size_t key_len, uint64_t oid);
int
store_drop_corrupt(struct store *s, const void *key, size_t key_len, uint64_t oid)
{
    struct store_op *op = store_op_new(STORE_OP_DROP, key, key_len);

    op->oid = oid;
    return store_op_queue(s, op, NULL, NULL, NULL);
}

void
store_flush(struct store *s)
{
    uint64_t ticket;

    CHECK_OBJ_NOTNULL(s, STORE_MAGIC);
    pthread_mutex_lock(&s->mu);
    ticket = s->ops_queued;
    while (s->ops_done < ticket)
        pthread_cond_wait(&s->done_cond, &s->mu);
    pthread_mutex_unlock(&s->mu);
}

/* ---- removing objects ---- */

static int
store_w_chunks_del(struct store *s, MDB_txn *txn, uint64_t oid)
{
    uint8_t ck[STORE_CHUNK_KEY_LEN];
    MDB_cursor *cur;
    MDB_val k, v;
    int rc;

    rc = mdb_cursor_open(txn, s->dbi_chunk, &cur);
    if (rc != 0)
        return rc;
    for (;;) {
        store_chunk_key(ck, oid, 0);
        k.mv_size = sizeof(ck);
        k.mv_data = ck;
        rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
        if (rc != 0)
            break;
        if (k.mv_size != STORE_CHUNK_KEY_LEN || store_ld_be64(k.mv_data) != oid)
            break;
        rc = FAULT("store.del") ? EIO : mdb_cursor_del(cur, 0);
        if (rc != 0)
            break;
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

/*
 * Removes the object whose record rec sits under key: chunks, order entry,
 * record. A record too damaged to name its oid loses only its record.
 */
static int
store_w_obj_del(struct store *s, MDB_txn *txn, MDB_val *key, const MDB_val *rec)
{
    uint8_t sk[8];
    MDB_val k = {sizeof(sk), sk};
    uint64_t oid, seq;
    int rc;

    if (store_meta_peek_ids(rec->mv_data, rec->mv_size, &oid, &seq) == 0) {
        rc = store_w_chunks_del(s, txn, oid);
        if (rc != 0)
            return rc;
        store_be64(sk, seq);
        rc = FAULT("store.del") ? EIO : mdb_del(txn, s->dbi_seq, &k, NULL);
        if (rc != 0 && rc != MDB_NOTFOUND)
            return rc;
    }
    return FAULT("store.del") ? EIO : mdb_del(txn, s->dbi_meta, key, NULL);
}

/* Removes the object under key if any (*found 0 or 1); with oid != 0 only if it is that one. */
static int
store_w_key_del(struct store *s, MDB_txn *txn, const void *key, size_t key_len, uint64_t oid,
                uint64_t *found)
{
    MDB_val k = {key_len, (void *)key}, v;
    uint64_t cur_oid, seq;
    int rc;

    *found = 0;
    rc = FAULT("store.get") ? EIO : mdb_get(txn, s->dbi_meta, &k, &v);
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc != 0)
        return rc;
    if (oid != 0 &&
        (store_meta_peek_ids(v.mv_data, v.mv_size, &cur_oid, &seq) != 0 || cur_oid != oid))
        return 0;
    rc = store_w_obj_del(s, txn, &k, &v);
    if (rc == 0)
        *found = 1;
    return rc;
}

/* ---- puts ---- */

/* Copies len body bytes from the iovec cursor (*vi, *voff) into dst. */
static void
store_w_copy(uint8_t *dst, size_t len, const struct evbuffer_iovec *vec, int nvec, int *vi,
             size_t *voff)
{
    size_t n;

    while (len > 0) {
        assert(*vi < nvec);
        n = vec[*vi].iov_len - *voff;
        if (n > len)
            n = len;
        memcpy(dst, (const uint8_t *)vec[*vi].iov_base + *voff, n);
        dst += n;
        len -= n;
        *voff += n;
        if (*voff == vec[*vi].iov_len) {
            (*vi)++;
            *voff = 0;
        }
    }
}

/* Writes the chunks of op's body under oid, straight into LMDB's pages
 * (MDB_RESERVE), and their CRCs into crcs. The body is read, not drained,
 * so a failed batch can be retried. */
static int
store_w_chunks_put(struct store *s, MDB_txn *txn, struct store_op *op, uint64_t oid,
                   uint32_t nchunks, uint32_t *crcs)
{
    uint8_t ck[STORE_CHUNK_KEY_LEN];
    struct evbuffer_iovec *vec = NULL;
    MDB_val k = {sizeof(ck), ck}, v;
    uint64_t left = op->body_len;
    size_t voff = 0;
    int nvec = 0, vi = 0, rc = 0;
    uint32_t i;

    if (nchunks > 0) {
        nvec = evbuffer_peek(op->body, -1, NULL, NULL, 0);
        vec = xmalloc((size_t)nvec * sizeof(*vec));
        AZ(evbuffer_peek(op->body, -1, NULL, vec, nvec) != nvec);
    }
    for (i = 0; i < nchunks; i++) {
        store_chunk_key(ck, oid, i);
        v.mv_size = left < s->chunk_size ? left : s->chunk_size;
        v.mv_data = NULL;
        rc =
            FAULT("store.put") ? EIO : mdb_put(txn, s->dbi_chunk, &k, &v, MDB_APPEND | MDB_RESERVE);
        if (rc != 0)
            break;
        store_w_copy(v.mv_data, v.mv_size, vec, nvec, &vi, &voff);
        crcs[i] = store_crc32c(0, v.mv_data, v.mv_size);
        left -= v.mv_size;
        if (store_test_chunk_hook != NULL)
            store_test_chunk_hook(oid, i);
    }
    xfree(vec);
    return rc;
}

static int
store_w_put(struct store *s, MDB_txn *txn, struct store_op *op)
{
    uint32_t crc_inline[16], *crcs = crc_inline, nchunks;
    uint8_t sk[8];
    MDB_val k, v;
    struct store_meta m;
    uint64_t oid, found;
    int rc;

    rc = store_w_key_del(s, txn, op->key, op->key_len, 0, &found);
    if (rc != 0)
        return rc;
    oid = s->next_id++;
    nchunks = store_meta_nchunks(op->body_len, s->chunk_size);
    if (nchunks > ARRAY_SIZE(crc_inline))
        crcs = xmalloc((size_t)nchunks * sizeof(*crcs));
    rc = store_w_chunks_put(s, txn, op, oid, nchunks, crcs);
    if (rc != 0)
        goto out;

    memset(&m, 0, sizeof(m));
    m.status = op->status;
    m.hdr_len = (uint32_t)op->hdr_len;
    m.body_len = op->body_len;
    m.nchunks = nchunks;
    m.chunk_size = s->chunk_size;
    m.oid = oid;
    m.seq = oid;
    m.stored_at_ms = store_now_ms();
    m.expires_at_ms = op->expires_at_ms;
    k.mv_size = op->key_len;
    k.mv_data = op->key;
    v.mv_size = store_meta_len(nchunks, m.hdr_len);
    v.mv_data = NULL;
    rc = FAULT("store.put") ? EIO : mdb_put(txn, s->dbi_meta, &k, &v, MDB_RESERVE);
    if (rc != 0)
        goto out;
    store_meta_encode(v.mv_data, &m, crcs, op->hdr);

    store_be64(sk, m.seq);
    k.mv_size = sizeof(sk);
    k.mv_data = sk;
    v.mv_size = op->key_len;
    v.mv_data = op->key;
    rc = FAULT("store.put") ? EIO : mdb_put(txn, s->dbi_seq, &k, &v, MDB_APPEND);
    op->n = 1;
out:
    if (crcs != crc_inline)
        xfree(crcs);
    return rc;
}

static int
store_w_apply(struct store *s, MDB_txn *txn, struct store_op *op)
{
    switch (op->kind) {
    case STORE_OP_PUT:
        return store_w_put(s, txn, op);
    case STORE_OP_PURGE:
        return store_w_key_del(s, txn, op->key, op->key_len, 0, &op->n);
    case STORE_OP_DROP:
        return store_w_key_del(s, txn, op->key, op->key_len, op->oid, &op->n);
    case STORE_OP_PURGE_PREFIX:
        break;
    }
    assert(!"unreachable");
    return EINVAL;
}

/* Applies n operations from ops in one transaction and commits. Raw LMDB rc. */
static int
store_w_txn(struct store *s, struct store_op *ops, unsigned n)
{
    struct store_usage u;
    struct store_op *op;
    MDB_txn *txn;
    unsigned i;
    int rc;

    rc = FAULT("store.begin") ? EIO : mdb_txn_begin(s->env, NULL, 0, &txn);
    if (rc != 0)
        return rc;
    for (i = 0, op = ops; i < n && rc == 0; i++, op = op->next) {
        op->n = 0;
        rc = store_w_apply(s, txn, op);
    }
    if (rc != 0) {
        mdb_txn_abort(txn);
        return rc;
    }
    store_usage_get(s, txn, &u);
    rc = store_mdb_commit(txn);
    if (rc != 0)
        return rc;
    store_usage_publish(s, &u);
    metric_inc(s->m.batches);
    return 0;
}

/* ---- eviction ---- */

/* Gives the object at the head of the order a new seq at the tail. */
static int
store_w_requeue(struct store *s, MDB_txn *txn, MDB_cursor *cur, MDB_val *key, const MDB_val *rec)
{
    uint8_t sk[8], *copy;
    MDB_val k = {sizeof(sk), sk}, v;
    uint64_t seq = s->next_id++;
    int rc;

    copy = xmalloc(rec->mv_size);
    memcpy(copy, rec->mv_data, rec->mv_size);
    store_meta_set_seq(copy, rec->mv_size, seq);
    v.mv_size = rec->mv_size;
    v.mv_data = copy;
    rc = FAULT("store.put") ? EIO : mdb_put(txn, s->dbi_meta, key, &v, 0);
    xfree(copy);
    if (rc == 0)
        rc = FAULT("store.del") ? EIO : mdb_cursor_del(cur, 0);
    if (rc == 0) {
        store_be64(sk, seq);
        v = *key;
        rc = FAULT("store.put") ? EIO : mdb_put(txn, s->dbi_seq, &k, &v, MDB_APPEND);
    }
    return rc;
}

/*
 * One step of CLOCK at the head of obj.seq (cur is on it). Objects first
 * queued before this pass (seq < pass_start) that were hit get a second
 * chance; all others go.
 */
static int
store_w_evict_one(struct store *s, MDB_txn *txn, MDB_cursor *cur, uint64_t seq, const uint8_t *key,
                  size_t key_len, uint64_t pass_start)
{
    MDB_val k = {key_len, (void *)key}, v;
    struct store_meta m;
    const char *why;
    uint64_t oid, rseq;
    int rc;

    rc = mdb_get(txn, s->dbi_meta, &k, &v);
    if (rc != 0 && rc != MDB_NOTFOUND)
        return rc;
    if (rc == MDB_NOTFOUND || store_meta_peek_ids(v.mv_data, v.mv_size, &oid, &rseq) != 0 ||
        rseq != seq) /* an order entry left by a damaged record */
        return FAULT("store.del") ? EIO : mdb_cursor_del(cur, 0);
    if (seq < pass_start && store_hitbit_test_clear(s, oid) &&
        store_meta_decode(v.mv_data, v.mv_size, &m, &why) == 0) {
        rc = store_w_requeue(s, txn, cur, &k, &v);
        if (rc == 0)
            atomic_fetch_add(&s->n_requeue, 1);
        return rc;
    }
    rc = store_w_obj_del(s, txn, &k, &v);
    if (rc == 0)
        atomic_fetch_add(&s->n_evict, 1);
    return rc;
}

/* One eviction transaction: up to STORE_DEL_TXN_MAX objects, until used <= target. */
static int
store_w_evict_txn(struct store *s, uint64_t target, uint64_t pass_start, bool *done,
                  uint64_t *nevicted)
{
    uint8_t kb[STORE_KEY_MAX];
    uint64_t before = atomic_load(&s->n_evict), before_rq = atomic_load(&s->n_requeue);
    struct store_usage u;
    MDB_cursor *cur;
    MDB_txn *txn;
    MDB_val k, v;
    unsigned n;
    size_t klen;
    int rc;

    *done = false;
    rc = FAULT("store.begin") ? EIO : mdb_txn_begin(s->env, NULL, 0, &txn);
    if (rc != 0)
        return rc;
    rc = mdb_cursor_open(txn, s->dbi_seq, &cur);
    if (rc != 0) {
        mdb_txn_abort(txn);
        return rc;
    }
    for (n = 0; n < STORE_DEL_TXN_MAX && rc == 0; n++) {
        store_usage_get(s, txn, &u);
        if (u.used_pages * s->psize <= target) {
            *done = true;
            break;
        }
        rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
        if (rc == MDB_NOTFOUND) {
            *done = true;
            rc = 0;
            break;
        }
        if (rc != 0)
            break;
        klen = v.mv_size <= sizeof(kb) ? v.mv_size : sizeof(kb);
        memcpy(kb, v.mv_data, klen);
        rc = store_w_evict_one(s, txn, cur, k.mv_size == 8 ? store_ld_be64(k.mv_data) : 0, kb, klen,
                               pass_start);
    }
    mdb_cursor_close(cur);
    if (rc == 0) {
        store_usage_get(s, txn, &u);
        rc = store_mdb_commit(txn);
    } else {
        mdb_txn_abort(txn);
    }
    if (rc != 0) {
        /* Nothing was evicted after all: take the counts back. */
        atomic_store(&s->n_evict, before);
        atomic_store(&s->n_requeue, before_rq);
        return rc;
    }
    store_usage_publish(s, &u);
    *nevicted = atomic_load(&s->n_evict) - before;
    metric_add(s->m.evictions, *nevicted);
    metric_add(s->m.requeued, atomic_load(&s->n_requeue) - before_rq);
    return 0;
}

/*
 * Makes room for need more bytes: when use would pass the high watermark,
 * evicts down to the low one (minus need). `harder` (after MDB_MAP_FULL)
 * evicts whatever the use, a further tenth of the size lower.
 */
static void
store_w_evict(struct store *s, uint64_t need, bool harder)
{
    uint64_t size = s->conf.size, high, low, target, pass_start = s->next_id, n, total = 0;
    bool done = false;
    int rc = 0;

    if (s->conf.evict_high_pct == 0)
        return;
    high = size / 100 * s->conf.evict_high_pct;
    low = size / 100 * s->conf.evict_low_pct;
    if (harder)
        low = low > size / 10 ? low - size / 10 : 0;
    if (!harder && atomic_load(&s->used_bytes) + need <= high)
        return;
    target = low > need ? low - need : 0;
    while (!done && rc == 0) {
        n = 0;
        rc = store_w_evict_txn(s, target, pass_start, &done, &n);
        total += n;
    }
    if (rc != 0)
        (void)store_mdb_err(rc, "evict_failed", "");
    LOG(LOG_DEBUG, "store", "evicted", "conn=0 objects=%llu used_bytes=%llu target=%llu",
        (unsigned long long)total, (unsigned long long)atomic_load(&s->used_bytes),
        (unsigned long long)target);
}

/* ---- batches ---- */

static void
store_w_count_put(struct store *s, struct store_op *op)
{
    if (op->kind != STORE_OP_PUT)
        return;
    if (op->rc == 0) {
        atomic_fetch_add(&s->n_ok, 1);
        metric_inc(s->m.puts_ok);
    } else {
        atomic_fetch_add(&s->n_failed, 1);
        metric_inc(s->m.puts_failed);
    }
}

/* One operation alone, with one more try after a full map. */
static void
store_w_single(struct store *s, struct store_op *op)
{
    char detail[96];
    int rc;

    store_w_evict(s, store_op_need(s, op), false);
    rc = store_w_txn(s, op, 1);
    if (rc == MDB_MAP_FULL || rc == MDB_TXN_FULL) {
        atomic_fetch_add(&s->n_map_full, 1);
        metric_inc(s->m.map_full);
        store_w_evict(s, store_op_need(s, op), true);
        rc = store_w_txn(s, op, 1);
    }
    (void)snprintf(detail, sizeof(detail), "op=%d body_len=%llu", (int)op->kind,
                   (unsigned long long)op->body_len);
    op->rc = store_mdb_err(rc, "write_failed", detail);
    if (op->rc != 0)
        op->n = 0;
}

static void
store_w_purge_prefix(struct store *s, struct store_op *op)
{
    struct store_usage u;
    MDB_cursor *cur;
    MDB_txn *txn;
    MDB_val k, v;
    uint8_t kb[STORE_KEY_MAX];
    bool done = false;
    unsigned n;
    int rc = 0;

    op->n = 0;
    while (!done && rc == 0) {
        rc = FAULT("store.begin") ? EIO : mdb_txn_begin(s->env, NULL, 0, &txn);
        if (rc != 0)
            break;
        rc = mdb_cursor_open(txn, s->dbi_meta, &cur);
        for (n = 0; rc == 0 && n < STORE_DEL_TXN_MAX; n++) {
            k.mv_size = op->key_len;
            k.mv_data = op->key;
            rc = mdb_cursor_get(cur, &k, &v, op->key_len > 0 ? MDB_SET_RANGE : MDB_FIRST);
            if (rc == 0 &&
                (k.mv_size < op->key_len || memcmp(k.mv_data, op->key, op->key_len) != 0))
                rc = MDB_NOTFOUND;
            if (rc != 0)
                break;
            memcpy(kb, k.mv_data, k.mv_size);
            k.mv_data = kb;
            rc = store_w_obj_del(s, txn, &k, &v);
        }
        if (rc == MDB_NOTFOUND) {
            done = true;
            rc = 0;
        }
        if (rc == 0) {
            mdb_cursor_close(cur);
            store_usage_get(s, txn, &u);
            rc = store_mdb_commit(txn);
        } else {
            mdb_txn_abort(txn); /* closes the cursor too, if opened */
        }
        if (rc == 0) {
            store_usage_publish(s, &u);
            op->n += n;
        }
    }
    op->rc = store_mdb_err(rc, "purge_failed", "");
}

/* Runs n operations from ops (linked) and sets each op's rc and n. */
static void
store_w_batch(struct store *s, struct store_op *ops, unsigned n)
{
    struct store_op *op;
    uint64_t need = 0;
    unsigned i;
    int rc;

    if (ops->kind == STORE_OP_PURGE_PREFIX) {
        assert(n == 1);
        store_w_purge_prefix(s, ops);
    } else {
        for (i = 0, op = ops; i < n; i++, op = op->next)
            need += store_op_need(s, op);
        store_w_evict(s, need, false);
        rc = store_w_txn(s, ops, n);
        if (rc == 0) {
            for (i = 0, op = ops; i < n; i++, op = op->next)
                op->rc = 0;
        } else {
            if (rc == MDB_MAP_FULL || rc == MDB_TXN_FULL) {
                atomic_fetch_add(&s->n_map_full, 1);
                metric_inc(s->m.map_full);
            }
            for (i = 0, op = ops; i < n; i++, op = op->next)
                store_w_single(s, op);
        }
    }
    for (i = 0, op = ops; i < n; i++, op = op->next) {
        store_w_count_put(s, op);
        if (op->rc == 0 && (op->kind == STORE_OP_PURGE || op->kind == STORE_OP_PURGE_PREFIX)) {
            atomic_fetch_add(&s->n_purge, op->n);
            metric_add(s->m.purges, op->n);
        }
    }
}

/* ---- the thread ---- */

/* Takes the next batch off the queue (s->mu held). */
static struct store_op *
store_w_take(struct store *s, unsigned *pn)
{
    struct store_op *head = s->q_head, *op = head, *last = NULL;
    uint64_t bytes = 0;
    unsigned n = 0;

    while (op != NULL && n < s->conf.batch_max) {
        if (op->kind == STORE_OP_PURGE_PREFIX && n > 0)
            break;
        if (n > 0 && bytes + op->cost > s->conf.batch_max_bytes)
            break;
        bytes += op->cost;
        n++;
        last = op;
        op = op->next;
        if (last->kind == STORE_OP_PURGE_PREFIX)
            break;
    }
    AN(last); /* called with work queued and batch_max >= 1 */
    s->q_head = op;
    if (op == NULL)
        s->q_tail = &s->q_head;
    last->next = NULL;
    s->q_len -= n;
    s->q_bytes -= bytes;
    metric_set(s->m.queue, s->q_len);
    *pn = n;
    return head;
}

static void
store_w_deliver(struct store *s, struct store_op *ops)
{
    struct store_op *op, *next;

    (void)s;
    for (op = ops; op != NULL; op = next) {
        next = op->next;
        if (op->body != NULL) {
            evbuffer_free(op->body);
            op->body = NULL;
        }
        if (op->cb != NULL)
            store_loop_post(op->sl, op);
        else
            store_op_free(&op);
    }
}

static void
store_w_sync(struct store *s)
{
    int rc = mdb_env_sync(s->env, 1);

    if (rc != 0)
        (void)store_mdb_err(rc, "sync_failed", "");
}

static void
store_w_deadline(struct timespec *ts, uint32_t ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (long)(ms % 1000) * 1000000;
    if (ts->tv_nsec >= 1000000000) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000;
    }
}

static void *
store_writer_main(void *arg)
{
    struct store *s = arg;
    struct store_op *ops;
    struct timespec deadline;
    bool dirty = false;
    int64_t last_sync = store_mono_ms();
    unsigned n;

    CHECK_OBJ_NOTNULL(s, STORE_MAGIC);
    pthread_mutex_lock(&s->mu);
    for (;;) {
        while (s->q_head == NULL && !s->stop) {
            if (!dirty) {
                pthread_cond_wait(&s->cond, &s->mu);
                continue;
            }
            store_w_deadline(&deadline, s->conf.sync_interval_ms);
            if (pthread_cond_timedwait(&s->cond, &s->mu, &deadline) == ETIMEDOUT &&
                s->q_head == NULL) {
                pthread_mutex_unlock(&s->mu);
                store_w_sync(s);
                pthread_mutex_lock(&s->mu);
                dirty = false;
                last_sync = store_mono_ms();
            }
        }
        if (s->q_head == NULL)
            break; /* stopping, and nothing left */
        ops = store_w_take(s, &n);
        pthread_mutex_unlock(&s->mu);

        store_w_batch(s, ops, n);
        dirty = true;
        if (store_mono_ms() - last_sync >= s->conf.sync_interval_ms) {
            store_w_sync(s);
            dirty = false;
            last_sync = store_mono_ms();
        }
        store_w_deliver(s, ops);

        pthread_mutex_lock(&s->mu);
        s->ops_done += n;
        pthread_cond_broadcast(&s->done_cond);
    }
    pthread_mutex_unlock(&s->mu);
    store_w_sync(s);
    return NULL;
}

int
store_writer_start(struct store *s)
{
    int rc;

    rc = pthread_create(&s->writer, NULL, store_writer_main, s);
    if (rc != 0) {
        LOG(LOG_ERR, "store", "writer_start_failed", "conn=0 err=%s", err_name(-rc));
        return -rc;
    }
    return 0;
}

void
store_writer_stop(struct store *s)
{
    pthread_mutex_lock(&s->mu);
    s->stop = true;
    pthread_cond_signal(&s->cond);
    pthread_mutex_unlock(&s->mu);
    AZ(pthread_join(s->writer, NULL));
}
