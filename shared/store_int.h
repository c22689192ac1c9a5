/*
 * store_int.h -- what store.c, store_hit.c and store_writer.c share.
 * Nobody else includes this (tests may, for the hooks at the end).
 *
 * Databases of one environment:
 *   obj.meta   key -> meta record (store_meta.h)
 *   obj.chunk  be64 oid | be32 index -> chunk bytes (chunk_size, the last short)
 *   obj.seq    be64 seq -> key: the eviction order, oldest first
 *   kv.NAME    the key-value databases
 * oid and seq come from one counter that only grows (next_id, recovered
 * at open from the last keys of obj.chunk and obj.seq: O(log n)).
 */
#ifndef CASCADE_STORE_INT_H
#define CASCADE_STORE_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <lmdb.h>

#include "store.h"
#include "store_meta.h"

struct metric;

#define STORE_MAGIC 0x73746f72U /* "stor" */
#define STORE_LOOP_MAGIC 0x73746c70U
#define STORE_HIT_MAGIC 0x73746869U
#define STORE_TXN_MAGIC 0x73747478U
#define STORE_OP_MAGIC 0x73746f70U

#define STORE_CHUNK_KEY_LEN 12
/* Objects handled per write transaction by eviction and prefix purge:
 * bounds the dirty pages of one transaction. */
#define STORE_DEL_TXN_MAX 1024u
/* Chunk pointers a hit keeps inline before allocating. */
#define STORE_HIT_INLINE 8
/* Reset read transactions a loop keeps for its next hits (no pool lock). */
#define STORE_LOOP_RTXNS 8
/* Freed hits a loop keeps for reuse (no malloc per hit). */
#define STORE_LOOP_SPARE_HITS 16

enum store_op_kind {
    STORE_OP_PUT = 1,
    STORE_OP_PURGE,        /* one key */
    STORE_OP_PURGE_PREFIX, /* runs alone, in several transactions */
    STORE_OP_DROP,         /* a corrupt object: remove it if its oid still matches */
};

/* One writer job: in the queue, then on its loop's completion list. */
struct store_op {
    unsigned magic;
    enum store_op_kind kind;
    struct store_op *next;
    struct store_loop *sl; /* borrowed; NULL when cb is NULL */
    store_done_fn *cb;
    void *arg;
    int rc;
    uint64_t n;
    uint8_t *key; /* owned */
    size_t key_len;
    uint8_t *hdr; /* owned */
    size_t hdr_len;
    struct evbuffer *body; /* owned */
    uint64_t body_len;
    uint16_t status;
    int64_t expires_at_ms;
    uint64_t oid;  /* STORE_OP_DROP */
    uint64_t cost; /* queue bytes charged */
};

struct store_metrics {
    struct metric *hits_opened, *hits_missed, *hits_copied, *corrupt;
    struct metric *puts_ok, *puts_dropped, *puts_failed, *puts_rejected;
    struct metric *evictions, *requeued, *purges, *map_full;
    struct metric *map_used, *map_size, *map_hwm, *objects;
    struct metric *readers_active, *readers_expired, *readers_refused, *readers_capped;
    struct metric *queue, *batches;
};

struct store {
    unsigned magic;
    struct store_conf conf; /* conf.dir: owned copy */
    MDB_env *env;           /* owned */
    MDB_dbi dbi_meta, dbi_chunk, dbi_seq;
    unsigned psize;
    uint32_t chunk_size;
    uint32_t maxreaders;
    uint32_t zc_cap;
    uint64_t body_max;
    uint64_t map_size;
    unsigned key_max;

    /* read side: pooled reset transactions, reader slots */
    pthread_mutex_t pool_mu;
    MDB_txn **pool; /* owned array of maxreaders; each txn owned */
    uint32_t npool;
    _Atomic uint32_t slots;     /* read txn handles alive, pooled included */
    _Atomic uint32_t zc_active; /* zero-copy hits alive */
    _Atomic uint32_t readers;   /* hits alive */
    _Atomic uint32_t nloops;
    _Atomic uint32_t loop_rtxns; /* reset transactions the loops keep (store_hit.c) */
    _Atomic uint32_t ntxns;      /* store_txn alive */

    /* CLOCK: one "hit since last looked at" bit per oid slot; and the
     * oids whose body checksum was verified since start (direct-mapped) */
    _Atomic uint64_t *hitbits;  /* owned; nslots bits */
    _Atomic uint64_t *verified; /* owned; nslots */
    uint64_t slot_mask;

    /* writer */
    pthread_t writer;
    pthread_mutex_t mu;
    pthread_cond_t cond;      /* writer waits for work */
    pthread_cond_t done_cond; /* store_flush waits */
    struct store_op *q_head, **q_tail;
    uint32_t q_len;
    uint64_t q_bytes;
    uint64_t ops_queued, ops_done;
    bool stop;
    uint64_t next_id; /* writer thread only (and open/close) */

    /* key-value databases: kv_mu serializes store_kv_db() (taken before
     * LMDB's write lock, never after); readers take nkv (acquire), and
     * the first nkv entries never change */
    pthread_mutex_t kv_mu;
    MDB_dbi *kv_dbi; /* owned; max_kv_dbs */
    char **kv_names; /* owned */
    _Atomic unsigned nkv;

    /* state published by the writer after each commit */
    _Atomic uint64_t used_bytes, hwm_bytes, objects;
    _Atomic uint64_t n_evict, n_requeue, n_purge, n_corrupt, n_map_full;
    _Atomic uint64_t n_ok, n_dropped, n_failed, n_rejected;

    struct store_metrics m;
};

struct store_loop {
    unsigned magic;
    struct store *s;         /* borrowed */
    struct event_base *base; /* borrowed */
    int efd;                 /* owned: eventfd the writer pokes */
    struct event *wake_ev;   /* owned; added while pending > 0 */
    struct event *reap_ev;   /* owned; added while hits are alive */
    pthread_mutex_t mu;      /* guards done list (writer appends) */
    struct store_op *done_head, **done_tail;
    unsigned pending;                        /* ops with a callback not yet run (loop thread) */
    struct store_hit *hits_head, *hits_tail; /* open order: oldest first */
    unsigned nhits;
    MDB_txn *rtxn[STORE_LOOP_RTXNS]; /* owned: reset, each holding its reader slot */
    unsigned nrtxn;
    struct store_hit *spare; /* owned: freed hits, linked through next */
    unsigned nspare;
};

struct store_hit {
    unsigned magic;
    unsigned refs;
    struct store_loop *sl; /* borrowed */
    MDB_txn *txn;          /* owned: active until the last ref goes */
    struct store_hit *prev, *next;
    int64_t opened_ms; /* CLOCK_MONOTONIC */
    bool zc;
    bool expired;
    store_hit_expire_fn *owner_fn;
    void *owner_arg;
    uint64_t owner_id;
    struct store_hit_info info;
    const uint8_t *hdr; /* borrowed from txn */
    size_t hdr_len;
    uint32_t chunk_size;
    uint32_t nchunks;
    struct store_iov *chunks; /* inline_chunks or owned */
    struct store_iov inline_chunks[STORE_HIT_INLINE];
};

struct store_txn {
    unsigned magic;
    struct store *s; /* borrowed */
    MDB_txn *txn;    /* owned */
    bool write;
};

/* store.c */
int store_mdb_err(int rc, const char *ev, const char *detail);
int store_mdb_commit(MDB_txn *txn);
int64_t store_now_ms(void);
int64_t store_mono_ms(void);
void store_chunk_key(uint8_t out[STORE_CHUNK_KEY_LEN], uint64_t oid, uint32_t idx);
void store_be64(uint8_t out[8], uint64_t v);
uint64_t store_ld_be64(const uint8_t *p);
int store_rtxn_get(struct store *s, MDB_txn **ptxn) WARN_UNUSED;
void store_rtxn_put(struct store *s, MDB_txn *txn);
void store_hitbit_set(struct store *s, uint64_t oid);
bool store_hitbit_test_clear(struct store *s, uint64_t oid);
bool store_verified(struct store *s, uint64_t oid);
void store_verified_set(struct store *s, uint64_t oid);

/* store_writer.c */
int store_writer_start(struct store *s) WARN_UNUSED;
void store_writer_stop(struct store *s);
int store_submit(struct store *s, struct store_op *op) WARN_UNUSED;
void store_op_free(struct store_op **pop);
void store_loop_post(struct store_loop *sl, struct store_op *op);
struct store_usage {
    uint64_t used_pages;
    uint64_t objects;
};
void store_usage_get(struct store *s, MDB_txn *txn, struct store_usage *u);
/* After the commit of the transaction u was taken in. */
void store_usage_publish(struct store *s, const struct store_usage *u);

/* store_hit.c */
void store_loop_expect(struct store_loop *sl);

/* ---- tests only ---- */

/* Called by the writer after each chunk is written (NULL: nothing). */
extern void (*store_test_chunk_hook)(uint64_t oid, uint32_t idx);
/*
 * Flips one byte of chunk `chunk` of the object under key (chunk
 * UINT32_MAX: of its meta record) at offset off, in a write transaction
 * of the caller's thread. 0, ERR_NOTFOUND.
 */
int store_test_corrupt(struct store *s, const void *key, size_t key_len, uint32_t chunk,
                       size_t off) WARN_UNUSED;
/* Forgets which bodies were verified, as a restart would. */
void store_test_forget_verified(struct store *s);

#endif
