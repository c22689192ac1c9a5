/*
 * store.c -- the LMDB environment: open and close, error translation,
 * the pool of read transactions, the CLOCK and "verified" tables, stats,
 * and the key-value API for metadata.
 *
 * The store is the only module that includes <lmdb.h>. LMDB codes are
 * translated here (store_mdb_err) and logged once with LMDB's own text;
 * callers see ERR_NOTFOUND, ERR_EXISTS, ERR_LIMIT (a map, reader or
 * transaction limit) or ERR_STORE.
 *
 * Owns: the environment, the pooled read transactions (each holds a
 * reader slot while pooled: the pool is counted in `slots`), the tables.
 * Not here: the writer thread, eviction and purges (store_writer.c);
 * hits and the per-loop state (store_hit.c); the record codec
 * (store_meta.c).
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <lmdb.h>

#include "err.h"
#include "fault.h"
#include "log.h"
#include "mem.h"
#include "metrics.h"
#include "store.h"
#include "store_int.h"
#include "compat.h"

#define STORE_SIZE_MIN (8ull * 1024 * 1024)
#define STORE_BODY_ABS_MAX (256ull * 1024 * 1024)
#define STORE_KV_NAME_MAX 63

void (*store_test_chunk_hook)(uint64_t oid, uint32_t idx);

/* ---- small helpers ---- */

static const struct store_mdb_name {
    int rc;
    const char *name;
} store_mdb_names[] = {
    {MDB_KEYEXIST, "MDB_KEYEXIST"},
    {MDB_NOTFOUND, "MDB_NOTFOUND"},
    {MDB_PAGE_NOTFOUND, "MDB_PAGE_NOTFOUND"},
    {MDB_CORRUPTED, "MDB_CORRUPTED"},
    {MDB_PANIC, "MDB_PANIC"},
    {MDB_VERSION_MISMATCH, "MDB_VERSION_MISMATCH"},
    {MDB_INVALID, "MDB_INVALID"},
    {MDB_MAP_FULL, "MDB_MAP_FULL"},
    {MDB_DBS_FULL, "MDB_DBS_FULL"},
    {MDB_READERS_FULL, "MDB_READERS_FULL"},
    {MDB_TLS_FULL, "MDB_TLS_FULL"},
    {MDB_TXN_FULL, "MDB_TXN_FULL"},
    {MDB_CURSOR_FULL, "MDB_CURSOR_FULL"},
    {MDB_PAGE_FULL, "MDB_PAGE_FULL"},
    {MDB_MAP_RESIZED, "MDB_MAP_RESIZED"},
    {MDB_INCOMPATIBLE, "MDB_INCOMPATIBLE"},
    {MDB_BAD_RSLOT, "MDB_BAD_RSLOT"},
    {MDB_BAD_TXN, "MDB_BAD_TXN"},
    {MDB_BAD_VALSIZE, "MDB_BAD_VALSIZE"},
    {MDB_BAD_DBI, "MDB_BAD_DBI"},
};

static const char *
store_mdb_name(int rc)
{
    size_t i;

    for (i = 0; i < ARRAY_SIZE(store_mdb_names); i++)
        if (store_mdb_names[i].rc == rc)
            return store_mdb_names[i].name;
    return rc > 0 ? err_name(-rc) : "MDB_UNKNOWN";
}

/*
 * Translates an LMDB result. MDB_NOTFOUND and MDB_KEYEXIST are ordinary
 * answers and are not logged; anything else is logged here, once, with
 * LMDB's text (rate-limited: a failing disk fails every call).
 */
int
store_mdb_err(int rc, const char *ev, const char *detail)
{
    int err;

    switch (rc) {
    case MDB_SUCCESS:
        return 0;
    case MDB_NOTFOUND:
        return ERR_NOTFOUND;
    case MDB_KEYEXIST:
        return ERR_EXISTS;
    case MDB_MAP_FULL:
    case MDB_TXN_FULL:
    case MDB_READERS_FULL:
    case MDB_DBS_FULL:
        err = ERR_LIMIT;
        break;
    default:
        err = ERR_STORE;
        break;
    }
    LOG_RL(LOG_ERR, "store", ev, 20, "conn=0 err=%s mdb=%s text=\"%s\"%s%s", err_name(err),
           store_mdb_name(rc), mdb_strerror(rc), detail[0] != '\0' ? " " : "", detail);
    return err;
}

/* Commits txn (which is gone afterwards, whatever the result). */
int
store_mdb_commit(MDB_txn *txn)
{
    if (FAULT("store.commit")) {
        mdb_txn_abort(txn);
        return EIO;
    }
    return mdb_txn_commit(txn);
}

int64_t
store_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
store_mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
store_be64(uint8_t out[8], uint64_t v)
{
    int i;

    for (i = 7; i >= 0; i--) {
        out[i] = (uint8_t)v;
        v >>= 8;
    }
}

uint64_t
store_ld_be64(const uint8_t *p)
{
    uint64_t v = 0;
    int i;

    for (i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

/* Big-endian, so LMDB's byte order is (oid, index) order. */
void
store_chunk_key(uint8_t out[STORE_CHUNK_KEY_LEN], uint64_t oid, uint32_t idx)
{
    store_be64(out, oid);
    out[8] = (uint8_t)(idx >> 24);
    out[9] = (uint8_t)(idx >> 16);
    out[10] = (uint8_t)(idx >> 8);
    out[11] = (uint8_t)idx;
}

/* ---- configuration ---- */

void
store_conf_defaults(struct store_conf *c)
{
    memset(c, 0, sizeof(*c));
    c->size = 1ull << 30;
    c->max_inflight_hits = 1024;
    c->max_reader_age_ms = 30000;
    c->sync_interval_ms = 1000;
    c->sync = STORE_SYNC_SAFE;
    c->queue_max = 1024;
    c->queue_max_bytes = 0; /* derived: size / 4, at most 256 MiB */
    c->batch_max = 64;
    c->batch_max_bytes = 0; /* derived: size / 16, at most 32 MiB */
    c->chunk_pages = 64;
    c->zero_copy_min = 16 * 1024;
    c->evict_high_pct = 85;
    c->evict_low_pct = 75;
    c->pool_max = 256;
    c->max_kv_dbs = 16;
}

static int
store_conf_check(const struct store_conf *c)
{
    if (c->dir == NULL || c->dir[0] == '\0' || c->size < STORE_SIZE_MIN)
        return ERR_INVAL;
    if (c->max_inflight_hits == 0 || c->max_inflight_hits > 65536)
        return ERR_INVAL;
    if (c->sync != STORE_SYNC_SAFE && c->sync != STORE_SYNC_FULL && c->sync != STORE_SYNC_NONE)
        return ERR_INVAL;
    if (c->queue_max == 0 || c->batch_max == 0 || c->max_reader_age_ms == 0)
        return ERR_INVAL;
    if (c->chunk_pages == 0 || c->chunk_pages > 4096)
        return ERR_INVAL;
    if (c->evict_high_pct > 95 || c->evict_low_pct >= c->evict_high_pct) {
        if (!(c->evict_high_pct == 0 && c->evict_low_pct == 0))
            return ERR_INVAL;
    }
    if (c->max_kv_dbs > 64)
        return ERR_INVAL;
    return 0;
}

static void
store_metrics_init(struct store_metrics *m)
{
    static const char *puts_help = "Cache puts by result.";

    m->hits_opened = metrics_counter("store.hits.opened", "Cache hits opened and validated.");
    m->hits_missed = metrics_counter("store.hits.missed", "Cache lookups that found nothing.");
    m->hits_copied =
        metrics_counter("store.hits.copied", "Hits served by copy rather than by reference.");
    m->corrupt = metrics_counter("store.corrupt", "Objects rejected by validation.");
    m->puts_ok = metrics_counter_l("store.puts", puts_help, "result", "ok");
    m->puts_dropped = metrics_counter_l("store.puts", puts_help, "result", "dropped");
    m->puts_failed = metrics_counter_l("store.puts", puts_help, "result", "failed");
    m->puts_rejected = metrics_counter_l("store.puts", puts_help, "result", "rejected");
    m->evictions = metrics_counter("store.evictions", "Objects evicted to make room.");
    m->requeued = metrics_counter("store.evict.requeued", "Second chances given by eviction.");
    m->purges = metrics_counter("store.purges", "Objects removed by purge.");
    m->map_full = metrics_counter("store.map.full", "MDB_MAP_FULL met by the writer.");
    m->map_used = metrics_gauge("store.map.used_bytes", "Pages in use in the LMDB map.");
    m->map_size = metrics_gauge("store.map.size_bytes", "Size of the LMDB map.");
    m->map_hwm = metrics_gauge("store.map.high_water_bytes", "Extent of the LMDB file.");
    m->objects = metrics_gauge("store.objects", "Objects in the cache.");
    m->readers_active = metrics_gauge("store.readers.active", "Hits holding a read transaction.");
    m->readers_expired =
        metrics_counter("store.readers.expired", "Hits reported older than max_reader_age.");
    m->readers_refused =
        metrics_counter("store.readers.refused", "Hits refused for want of a reader slot.");
    m->readers_capped = metrics_counter("store.readers.capped",
                                        "Hits copied because zero-copy readers were at the cap.");
    m->queue = metrics_gauge("store.writer.queue", "Operations waiting for the writer.");
    m->batches = metrics_counter("store.writer.batches", "Write transactions committed.");
}

/* ---- read transactions ---- */

/* A read transaction, from the pool (renewed) or new (taking a slot). */
int
store_rtxn_get(struct store *s, MDB_txn **ptxn)
{
    MDB_txn *txn = NULL;
    int rc;

    pthread_mutex_lock(&s->pool_mu);
    if (s->npool > 0)
        txn = s->pool[--s->npool];
    pthread_mutex_unlock(&s->pool_mu);
    if (txn != NULL) {
        rc = FAULT("store.renew") ? EIO : mdb_txn_renew(txn);
        if (rc == 0) {
            *ptxn = txn;
            return 0;
        }
        mdb_txn_abort(txn);
        atomic_fetch_sub(&s->slots, 1);
        return store_mdb_err(rc, "txn_renew_failed", "");
    }
    if (atomic_fetch_add(&s->slots, 1) >= s->maxreaders) {
        atomic_fetch_sub(&s->slots, 1);
        metric_inc(s->m.readers_refused);
        return ERR_LIMIT;
    }
    rc = FAULT("store.renew") ? EIO : mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
    if (rc != 0) {
        atomic_fetch_sub(&s->slots, 1);
        if (rc == MDB_READERS_FULL)
            metric_inc(s->m.readers_refused);
        return store_mdb_err(rc, "txn_begin_failed", "");
    }
    *ptxn = txn;
    return 0;
}

/* Resets txn and pools it, or frees it (and its slot) when the pool is full. */
void
store_rtxn_put(struct store *s, MDB_txn *txn)
{
    mdb_txn_reset(txn);
    pthread_mutex_lock(&s->pool_mu);
    if (s->npool < s->conf.pool_max) {
        s->pool[s->npool++] = txn;
        txn = NULL;
    }
    pthread_mutex_unlock(&s->pool_mu);
    if (txn != NULL) {
        mdb_txn_abort(txn);
        atomic_fetch_sub(&s->slots, 1);
    }
}

/* ---- CLOCK bits and the verified table ---- */

/* Oids are sequential, so the most recent nslots objects never share a slot. */
void
store_hitbit_set(struct store *s, uint64_t oid)
{
    uint64_t i = oid & s->slot_mask, bit = 1ull << (i & 63);
    _Atomic uint64_t *w = &s->hitbits[i >> 6];

    /* Read first: a hot object's bit is already set, and a plain load
     * keeps the cache line shared between loops. */
    if ((atomic_load_explicit(w, memory_order_relaxed) & bit) == 0)
        atomic_fetch_or_explicit(w, bit, memory_order_relaxed);
}

bool
store_hitbit_test_clear(struct store *s, uint64_t oid)
{
    uint64_t i = oid & s->slot_mask, bit = 1ull << (i & 63);
    _Atomic uint64_t *w = &s->hitbits[i >> 6];

    if ((atomic_load_explicit(w, memory_order_relaxed) & bit) == 0)
        return false;
    atomic_fetch_and_explicit(w, ~bit, memory_order_relaxed);
    return true;
}

/* A slot holds the last oid verified there: a collision only costs a re-check. */
bool
store_verified(struct store *s, uint64_t oid)
{
    return atomic_load_explicit(&s->verified[oid & s->slot_mask], memory_order_relaxed) == oid;
}

void
store_verified_set(struct store *s, uint64_t oid)
{
    atomic_store_explicit(&s->verified[oid & s->slot_mask], oid, memory_order_relaxed);
}

void
store_test_forget_verified(struct store *s)
{
    uint64_t i;

    for (i = 0; i <= s->slot_mask; i++)
        atomic_store_explicit(&s->verified[i], 0, memory_order_relaxed);
}

/* ---- open and close ---- */

static int
store_mkdir(const char *dir)
{
    if (mkdir(dir, 0700) == 0 || errno == EEXIST)
        return 0;
    LOG(LOG_ERR, "store", "mkdir_failed", "conn=0 err=%s", err_name(-errno));
    return -errno;
}

static int
store_env_create(struct store *s)
{
    const struct store_conf *c = &s->conf;
    unsigned flags = MDB_NOTLS;
    int rc;

    rc = mdb_env_create(&s->env);
    if (rc != 0)
        return store_mdb_err(rc, "env_create_failed", "");
    s->maxreaders = c->max_inflight_hits + STORE_READERS_SPARE;
    s->zc_cap = c->max_inflight_hits;
    rc = mdb_env_set_mapsize(s->env, (size_t)c->size);
    if (rc == 0)
        rc = mdb_env_set_maxreaders(s->env, s->maxreaders);
    if (rc == 0)
        rc = mdb_env_set_maxdbs(s->env, 3 + c->max_kv_dbs);
    if (rc != 0)
        return store_mdb_err(rc, "env_setup_failed", "");
    if (c->sync == STORE_SYNC_SAFE)
        flags |= MDB_NOMETASYNC;
    else if (c->sync == STORE_SYNC_NONE)
        flags |= MDB_NOSYNC;
    rc = FAULT("store.env_open") ? EIO : mdb_env_open(s->env, c->dir, flags, 0600);
    if (rc != 0)
        return store_mdb_err(rc, "env_open_failed", "");
    return 0;
}

/* Opens the object databases and finds next_id from the last keys: no scan. */
static int
store_dbs_open(struct store *s)
{
    MDB_txn *txn;
    MDB_cursor *cur;
    MDB_val k, v;
    struct store_usage u;
    uint64_t last = 0;
    int rc;

    rc = FAULT("store.begin") ? EIO : mdb_txn_begin(s->env, NULL, 0, &txn);
    if (rc != 0)
        return store_mdb_err(rc, "txn_begin_failed", "");
    rc = mdb_dbi_open(txn, "obj.meta", MDB_CREATE, &s->dbi_meta);
    if (rc == 0)
        rc = mdb_dbi_open(txn, "obj.chunk", MDB_CREATE, &s->dbi_chunk);
    if (rc == 0)
        rc = mdb_dbi_open(txn, "obj.seq", MDB_CREATE, &s->dbi_seq);
    if (rc == 0)
        rc = mdb_cursor_open(txn, s->dbi_chunk, &cur);
    if (rc == 0) {
        rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
        if (rc == 0 && k.mv_size == STORE_CHUNK_KEY_LEN)
            last = store_ld_be64(k.mv_data);
        mdb_cursor_close(cur);
        rc = rc == MDB_NOTFOUND ? 0 : rc;
    }
    if (rc == 0)
        rc = mdb_cursor_open(txn, s->dbi_seq, &cur);
    if (rc == 0) {
        rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
        if (rc == 0 && k.mv_size == 8 && store_ld_be64(k.mv_data) > last)
            last = store_ld_be64(k.mv_data);
        mdb_cursor_close(cur);
        rc = rc == MDB_NOTFOUND ? 0 : rc;
    }
    if (rc == 0)
        store_usage_get(s, txn, &u);
    if (rc == 0)
        rc = store_mdb_commit(txn);
    else
        mdb_txn_abort(txn);
    if (rc != 0)
        return store_mdb_err(rc, "dbs_open_failed", "");
    store_usage_publish(s, &u);
    s->next_id = last + 1;
    return 0;
}

static void
store_tables_init(struct store *s)
{
    uint64_t nslots = 1u << 12;

    /* One slot per ~32 KiB of cache, at least 4096, at most 16M. */
    while (nslots < s->conf.size / ((uint64_t)32 * 1024) && nslots < (1u << 24))
        nslots <<= 1;
    s->slot_mask = nslots - 1;
    s->hitbits = xcalloc(nslots / 64, sizeof(*s->hitbits));
    s->verified = xcalloc(nslots, sizeof(*s->verified));
}

static void
store_free_all(struct store *s)
{
    unsigned i;

    if (s->env != NULL)
        mdb_env_close(s->env);
    for (i = 0; i < atomic_load(&s->nkv); i++)
        xfree(s->kv_names[i]);
    xfree(s->kv_names);
    xfree(s->kv_dbi);
    xfree(s->pool);
    xfree(s->hitbits);
    xfree(s->verified);
    xfree((char *)s->conf.dir);
    pthread_mutex_destroy(&s->pool_mu);
    pthread_mutex_destroy(&s->kv_mu);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cond);
    pthread_cond_destroy(&s->done_cond);
    FREE_OBJ(s);
}

static void
store_derive(struct store *s)
{
    struct store_conf *c = &s->conf;
    MDB_stat st;
    MDB_envinfo info;

    mdb_env_stat(s->env, &st);
    mdb_env_info(s->env, &info);
    s->psize = st.ms_psize;
    s->map_size = info.me_mapsize; /* an existing, larger file keeps its size */
    s->key_max = (unsigned)mdb_env_get_maxkeysize(s->env);
    if (s->key_max > STORE_KEY_MAX)
        s->key_max = STORE_KEY_MAX;
    /* A chunk fills its overflow pages exactly: pages minus the page header. */
    s->chunk_size = c->chunk_pages * s->psize - 16;
    if (s->chunk_size < STORE_CHUNK_MIN)
        s->chunk_size = STORE_CHUNK_MIN;
    s->body_max = c->size / 8 < STORE_BODY_ABS_MAX ? c->size / 8 : STORE_BODY_ABS_MAX;
    if (c->queue_max_bytes == 0)
        c->queue_max_bytes = c->size / 4 < (256u << 20) ? c->size / 4 : (256u << 20);
    if (c->batch_max_bytes == 0)
        c->batch_max_bytes = c->size / 16 < (32u << 20) ? c->size / 16 : (32u << 20);
    metric_set(s->m.map_size, (int64_t)s->map_size);
}

int
store_open(const struct store_conf *c, struct store **ps)
{
    pthread_condattr_t cattr;
    char dirbuf[256];
    struct store *s;
    int rc;

    *ps = NULL;
    rc = store_conf_check(c);
    if (rc != 0)
        return rc;
    rc = store_mkdir(c->dir);
    if (rc != 0)
        return rc;
    s = xcalloc(1, sizeof(*s));
    s->magic = STORE_MAGIC;
    s->conf = *c;
    s->conf.dir = xstrdup(c->dir);
    pthread_mutex_init(&s->pool_mu, NULL);
    pthread_mutex_init(&s->kv_mu, NULL);
    pthread_mutex_init(&s->mu, NULL);
    pthread_condattr_init(&cattr);
    pthread_condattr_setclock(&cattr, CLOCK_MONOTONIC); /* the writer's sync deadline */
    pthread_cond_init(&s->cond, &cattr);
    pthread_condattr_destroy(&cattr);
    pthread_cond_init(&s->done_cond, NULL);
    s->q_tail = &s->q_head;
    store_metrics_init(&s->m);
    s->pool = xcalloc(c->max_inflight_hits + STORE_READERS_SPARE, sizeof(MDB_txn *));
    if (s->conf.pool_max > c->max_inflight_hits + STORE_READERS_SPARE)
        s->conf.pool_max = c->max_inflight_hits + STORE_READERS_SPARE;
    s->kv_dbi = xcalloc(c->max_kv_dbs + 1, sizeof(*s->kv_dbi));
    s->kv_names = xcalloc(c->max_kv_dbs + 1, sizeof(*s->kv_names));
    store_tables_init(s);

    rc = store_env_create(s);
    if (rc != 0)
        goto out_free;
    (void)mdb_reader_check(s->env, NULL); /* slots of dead processes */
    store_derive(s);
    rc = store_dbs_open(s);
    if (rc != 0)
        goto out_free;
    rc = store_writer_start(s);
    if (rc != 0)
        goto out_free;
    LOG(LOG_INFO, "store", "opened", "conn=0 dir=%s map_bytes=%llu used_bytes=%llu objects=%llu",
        log_sanitize(dirbuf, sizeof(dirbuf), s->conf.dir, strlen(s->conf.dir)),
        (unsigned long long)s->map_size, (unsigned long long)atomic_load(&s->used_bytes),
        (unsigned long long)atomic_load(&s->objects));
    *ps = s;
    return 0;

out_free:
    store_free_all(s);
    return rc;
}

void
store_close(struct store **ps)
{
    struct store *s = *ps;
    uint32_t i;

    if (s == NULL)
        return;
    CHECK_OBJ(s, STORE_MAGIC);
    assert(atomic_load(&s->nloops) == 0);
    assert(atomic_load(&s->ntxns) == 0);
    assert(atomic_load(&s->readers) == 0);
    store_writer_stop(s);
    for (i = 0; i < s->npool; i++)
        mdb_txn_abort(s->pool[i]);
    atomic_fetch_sub(&s->slots, s->npool);
    s->npool = 0;
    assert(atomic_load(&s->slots) == 0);
    metric_set(s->m.readers_active, 0);
    store_free_all(s);
    *ps = NULL;
}

uint64_t
store_body_max(const struct store *s)
{
    return s->body_max;
}

void
store_stats(struct store *s, struct store_stats *o)
{
    CHECK_OBJ_NOTNULL(s, STORE_MAGIC);
    memset(o, 0, sizeof(*o));
    o->size_bytes = s->map_size;
    o->used_bytes = atomic_load(&s->used_bytes);
    o->high_water_bytes = atomic_load(&s->hwm_bytes);
    o->objects = atomic_load(&s->objects);
    o->evictions = atomic_load(&s->n_evict);
    o->requeued = atomic_load(&s->n_requeue);
    o->purged = atomic_load(&s->n_purge);
    o->corrupt = atomic_load(&s->n_corrupt);
    o->puts_ok = atomic_load(&s->n_ok);
    o->puts_dropped = atomic_load(&s->n_dropped);
    o->puts_failed = atomic_load(&s->n_failed);
    o->puts_rejected = atomic_load(&s->n_rejected);
    o->map_full = atomic_load(&s->n_map_full);
    o->readers_active = atomic_load(&s->readers);
    pthread_mutex_lock(&s->pool_mu);
    o->txn_pool = s->npool + atomic_load(&s->loop_rtxns);
    pthread_mutex_unlock(&s->pool_mu);
    pthread_mutex_lock(&s->mu);
    o->queue = s->q_len;
    pthread_mutex_unlock(&s->mu);
}

/* ---- key-value databases ---- */

static bool
store_kv_name_ok(const char *name)
{
    size_t i, n = strlen(name);

    if (n == 0 || n > STORE_KV_NAME_MAX)
        return false;
    for (i = 0; i < n; i++) {
        char ch = name[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_' || ch == '.' ||
              ch == '-'))
            return false;
    }
    return true;
}

int
store_kv_db(struct store *s, const char *name, unsigned *pdb)
{
    char full[STORE_KV_NAME_MAX + 4];
    MDB_txn *txn;
    MDB_dbi dbi;
    unsigned i;
    int rc;

    CHECK_OBJ_NOTNULL(s, STORE_MAGIC);
    if (!store_kv_name_ok(name))
        return ERR_INVAL;
    pthread_mutex_lock(&s->kv_mu);
    for (i = 0; i < s->nkv; i++) {
        if (strcmp(s->kv_names[i], name) == 0) {
            *pdb = i;
            pthread_mutex_unlock(&s->kv_mu);
            return 0;
        }
    }
    if (s->nkv >= s->conf.max_kv_dbs) {
        pthread_mutex_unlock(&s->kv_mu);
        return ERR_LIMIT;
    }
    (void)snprintf(full, sizeof(full), "kv.%s", name);
    rc = FAULT("store.begin") ? EIO : mdb_txn_begin(s->env, NULL, 0, &txn);
    if (rc == 0) {
        rc = mdb_dbi_open(txn, full, MDB_CREATE, &dbi);
        if (rc == 0)
            rc = store_mdb_commit(txn);
        else
            mdb_txn_abort(txn);
    }
    if (rc != 0) {
        pthread_mutex_unlock(&s->kv_mu);
        return store_mdb_err(rc, "kv_db_failed", "");
    }
    i = atomic_load(&s->nkv);
    s->kv_dbi[i] = dbi;
    s->kv_names[i] = xstrdup(name);
    atomic_store_explicit(&s->nkv, i + 1, memory_order_release);
    *pdb = i;
    pthread_mutex_unlock(&s->kv_mu);
    return 0;
}

int
store_txn_begin(struct store *s, bool write, struct store_txn **pt)
{
    struct store_txn *t;
    MDB_txn *txn = NULL;
    int rc;

    CHECK_OBJ_NOTNULL(s, STORE_MAGIC);
    *pt = NULL;
    if (write) {
        rc = FAULT("store.begin") ? EIO : mdb_txn_begin(s->env, NULL, 0, &txn);
        if (rc != 0)
            return store_mdb_err(rc, "txn_begin_failed", "");
    } else {
        rc = store_rtxn_get(s, &txn);
        if (rc != 0)
            return rc;
    }
    t = xcalloc(1, sizeof(*t));
    t->magic = STORE_TXN_MAGIC;
    t->s = s;
    t->txn = txn;
    t->write = write;
    atomic_fetch_add(&s->ntxns, 1);
    *pt = t;
    return 0;
}

static void
store_txn_free(struct store_txn **pt)
{
    struct store_txn *t = *pt;

    atomic_fetch_sub(&t->s->ntxns, 1);
    FREE_OBJ(t);
    *pt = NULL;
}

int
store_txn_commit(struct store_txn **pt)
{
    struct store_txn *t = *pt;
    int rc = 0;

    CHECK_OBJ_NOTNULL(t, STORE_TXN_MAGIC);
    if (t->write) {
        rc = store_mdb_commit(t->txn);
        rc = store_mdb_err(rc, "kv_commit_failed", "");
    } else {
        store_rtxn_put(t->s, t->txn);
    }
    store_txn_free(pt);
    return rc;
}

void
store_txn_abort(struct store_txn **pt)
{
    struct store_txn *t = *pt;

    if (t == NULL)
        return;
    CHECK_OBJ(t, STORE_TXN_MAGIC);
    if (t->write)
        mdb_txn_abort(t->txn);
    else
        store_rtxn_put(t->s, t->txn);
    store_txn_free(pt);
}

static int
store_kv_dbi(struct store_txn *t, unsigned db, MDB_dbi *dbi)
{
    CHECK_OBJ_NOTNULL(t, STORE_TXN_MAGIC);
    if (db >= atomic_load_explicit(&t->s->nkv, memory_order_acquire))
        return ERR_INVAL;
    *dbi = t->s->kv_dbi[db];
    return 0;
}

int
store_kv_get(struct store_txn *t, unsigned db, const void *key, size_t key_len, const void **val,
             size_t *val_len)
{
    MDB_val k = {key_len, (void *)key}, v;
    MDB_dbi dbi;
    int rc;

    rc = store_kv_dbi(t, db, &dbi);
    if (rc != 0)
        return rc;
    if (key_len == 0 || key_len > t->s->key_max)
        return ERR_NOTFOUND;
    rc = FAULT("store.get") ? EIO : mdb_get(t->txn, dbi, &k, &v);
    if (rc != 0)
        return store_mdb_err(rc, "kv_get_failed", "");
    *val = v.mv_data;
    *val_len = v.mv_size;
    return 0;
}

int
store_kv_put(struct store_txn *t, unsigned db, const void *key, size_t key_len, const void *val,
             size_t val_len, unsigned flags)
{
    MDB_val k = {key_len, (void *)key}, v = {val_len, (void *)val};
    MDB_dbi dbi;
    int rc;

    rc = store_kv_dbi(t, db, &dbi);
    if (rc != 0)
        return rc;
    if (!t->write || key_len == 0 || key_len > t->s->key_max || (flags & ~STORE_KV_NOOVERWRITE))
        return ERR_INVAL;
    rc = FAULT("store.put")
             ? EIO
             : mdb_put(t->txn, dbi, &k, &v, (flags & STORE_KV_NOOVERWRITE) ? MDB_NOOVERWRITE : 0);
    return store_mdb_err(rc, "kv_put_failed", "");
}

int
store_kv_del(struct store_txn *t, unsigned db, const void *key, size_t key_len)
{
    MDB_val k = {key_len, (void *)key};
    MDB_dbi dbi;
    int rc;

    rc = store_kv_dbi(t, db, &dbi);
    if (rc != 0)
        return rc;
    if (!t->write)
        return ERR_INVAL;
    if (key_len == 0 || key_len > t->s->key_max)
        return ERR_NOTFOUND;
    rc = FAULT("store.del") ? EIO : mdb_del(t->txn, dbi, &k, NULL);
    return store_mdb_err(rc, "kv_del_failed", "");
}

int
store_kv_iter(struct store_txn *t, unsigned db, const void *prefix, size_t prefix_len,
              const void *after, size_t after_len, store_kv_iter_fn *fn, void *arg)
{
    MDB_cursor *cur;
    MDB_val k, v;
    MDB_dbi dbi;
    int rc, ret = 0;

    rc = store_kv_dbi(t, db, &dbi);
    if (rc != 0)
        return rc;
    rc = mdb_cursor_open(t->txn, dbi, &cur);
    if (rc != 0)
        return store_mdb_err(rc, "kv_cursor_failed", "");
    if (after != NULL && after_len > 0) {
        k.mv_size = after_len;
        k.mv_data = (void *)after;
        rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
        if (rc == 0 && k.mv_size == after_len && memcmp(k.mv_data, after, after_len) == 0)
            rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    } else if (prefix_len > 0) {
        k.mv_size = prefix_len;
        k.mv_data = (void *)prefix;
        rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    } else {
        rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    }
    while (rc == 0) {
        if (prefix_len > 0 &&
            (k.mv_size < prefix_len || memcmp(k.mv_data, prefix, prefix_len) != 0)) {
            /* Past the prefix -- unless `after` sorted before it. */
            if (after != NULL && after_len > 0 &&
                memcmp(k.mv_data, prefix, k.mv_size < prefix_len ? k.mv_size : prefix_len) < 0) {
                k.mv_size = prefix_len;
                k.mv_data = (void *)prefix;
                rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
                after = NULL;
                continue;
            }
            break;
        }
        ret = fn(arg, k.mv_data, k.mv_size, v.mv_data, v.mv_size);
        if (ret != 0)
            break;
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    if (ret != 0)
        return ret;
    if (rc != 0 && rc != MDB_NOTFOUND)
        return store_mdb_err(rc, "kv_iter_failed", "");
    return 0;
}

/* LMDB's default key order: bytes, then length. */
static int
store_kv_cmp(const void *a, size_t alen, const void *b, size_t blen)
{
    int c = memcmp(a, b, alen < blen ? alen : blen);

    if (c != 0)
        return c;
    return alen < blen ? -1 : alen > blen;
}

int
store_kv_iter_rev(struct store_txn *t, unsigned db, const void *prefix, size_t prefix_len,
                  const void *before, size_t before_len, store_kv_iter_fn *fn, void *arg)
{
    uint8_t succ[STORE_KEY_MAX];
    size_t succ_len = 0;
    const void *bound = NULL;
    size_t bound_len = 0;
    MDB_cursor *cur;
    MDB_val k, v;
    MDB_dbi dbi;
    int rc, ret = 0;

    rc = store_kv_dbi(t, db, &dbi);
    if (rc != 0)
        return rc;
    if (prefix_len > sizeof(succ))
        return 0; /* no key can start with it */
    if (before != NULL && before_len > 0) {
        bound = before;
        bound_len = before_len;
    }
    if (prefix_len > 0) {
        /* The prefix's successor bounds its range from above; an all-0xff
         * prefix has none and runs to the last key. */
        memcpy(succ, prefix, prefix_len);
        succ_len = prefix_len;
        while (succ_len > 0 && succ[succ_len - 1] == 0xff)
            succ_len--;
        if (succ_len > 0) {
            succ[succ_len - 1]++;
            if (bound == NULL || store_kv_cmp(succ, succ_len, bound, bound_len) < 0) {
                bound = succ;
                bound_len = succ_len;
            }
        }
    }
    rc = mdb_cursor_open(t->txn, dbi, &cur);
    if (rc != 0)
        return store_mdb_err(rc, "kv_cursor_failed", "");
    if (bound != NULL) {
        k.mv_size = bound_len;
        k.mv_data = (void *)bound;
        rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
        if (rc == 0)
            rc = mdb_cursor_get(cur, &k, &v, MDB_PREV);
        else if (rc == MDB_NOTFOUND)
            rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
    } else {
        rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
    }
    while (rc == 0) {
        /* Every key visited sorts below the prefix's end: leaving the
         * prefix means passing its start. */
        if (prefix_len > 0 &&
            (k.mv_size < prefix_len || memcmp(k.mv_data, prefix, prefix_len) != 0))
            break;
        ret = fn(arg, k.mv_data, k.mv_size, v.mv_data, v.mv_size);
        if (ret != 0)
            break;
        rc = mdb_cursor_get(cur, &k, &v, MDB_PREV);
    }
    mdb_cursor_close(cur);
    if (ret != 0)
        return ret;
    if (rc != 0 && rc != MDB_NOTFOUND)
        return store_mdb_err(rc, "kv_iter_failed", "");
    return 0;
}

/* ---- tests ---- */

int
store_test_corrupt(struct store *s, const void *key, size_t key_len, uint32_t chunk, size_t off)
{
    uint8_t ck[STORE_CHUNK_KEY_LEN], *copy = NULL;
    MDB_val k = {key_len, (void *)key}, v, *pk = &k;
    MDB_dbi dbi = s->dbi_meta;
    uint64_t oid, seq;
    MDB_txn *txn;
    int rc;

    rc = mdb_txn_begin(s->env, NULL, 0, &txn);
    if (rc != 0)
        return store_mdb_err(rc, "test_corrupt_failed", "");
    rc = mdb_get(txn, s->dbi_meta, &k, &v);
    if (rc == 0 && chunk != UINT32_MAX) {
        rc = store_meta_peek_ids(v.mv_data, v.mv_size, &oid, &seq) == 0 ? 0 : MDB_NOTFOUND;
        if (rc == 0) {
            store_chunk_key(ck, oid, chunk);
            k.mv_size = sizeof(ck);
            k.mv_data = ck;
            dbi = s->dbi_chunk;
            rc = mdb_get(txn, dbi, pk, &v);
        }
    }
    if (rc == 0 && off >= v.mv_size)
        rc = MDB_NOTFOUND;
    if (rc == 0) {
        copy = xmalloc(v.mv_size);
        memcpy(copy, v.mv_data, v.mv_size);
        copy[off] ^= 0x5a;
        v.mv_data = copy;
        rc = mdb_put(txn, dbi, pk, &v, 0);
    }
    if (rc == 0)
        rc = mdb_txn_commit(txn);
    else
        mdb_txn_abort(txn);
    xfree(copy);
    return store_mdb_err(rc, "test_corrupt_failed", "");
}
