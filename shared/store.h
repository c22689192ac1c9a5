/*
 * store.h -- the LMDB store: the edge's object cache and the origin's
 * metadata, behind the only module that includes <lmdb.h>.
 *
 * One struct store is one LMDB environment in one directory. It holds
 *   - cache objects: a header block and a body under a key (the
 *     normalized URL), written whole by a writer thread, read in place by
 *     loop threads (zero-copy hits), evicted by approximate LRU (CLOCK);
 *   - named key-value databases for metadata (streams, keys, ...), read
 *     and written through small explicit transactions.
 * docs/cache-store.md describes the record layout, the sync mode and what
 * survives a crash, the eviction algorithm and the checksum policy.
 *
 * Threads. store_open() and store_close() run on one thread with no loop
 * using the store. The writer thread owns every cache write. A struct
 * store_loop belongs to one event loop: its hits are opened, read and
 * released on that loop's thread only, and callbacks for work submitted
 * through it run there. The key-value API may be used from any thread;
 * its write transactions wait for the writer thread's current commit.
 *
 * Not here: cache policy (what is cacheable, freshness, key
 * normalization) -- that is the edge's; this module stores bytes.
 */
#ifndef CASCADE_STORE_H
#define CASCADE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "miniobj.h"

struct event_base;
struct evbuffer;

struct store;      /* one environment */
struct store_loop; /* per event loop: hit bookkeeping, completions, reaper */
struct store_hit;  /* one open hit: a read transaction and borrowed bytes */
struct store_txn;  /* a key-value transaction */

/* Longest key (LMDB's compiled-in key limit). */
#define STORE_KEY_MAX 511
/* Largest header block of a cache object. */
#define STORE_HDR_MAX ((size_t)64 * 1024)
/* Reader slots kept beyond max_inflight_hits, for copy-mode hits and
 * key-value readers: zero-copy hits may hold at most maxreaders - 16. */
#define STORE_READERS_SPARE 16

enum store_sync {
    /*
     * Default. Each commit fdatasync()s the data pages; the meta page
     * reaches disk with the next commit or within sync_interval_ms.
     * kill -9 loses nothing committed; power loss may undo the last
     * commit; nothing is ever corrupted.
     */
    STORE_SYNC_SAFE = 0,
    /* Every commit durable before the put completes (metadata stores). */
    STORE_SYNC_FULL = 1,
    /* No fsync at commit, only every sync_interval_ms. kill -9 safe; a
     * power loss can corrupt the environment. Benchmarks and tmpfs only. */
    STORE_SYNC_NONE = 2,
};

struct store_conf {
    const char *dir;            /* borrowed during store_open(); created if missing */
    uint64_t size;              /* bytes: the map size, so the file never grows past it */
    uint32_t max_inflight_hits; /* zero-copy hits at once; maxreaders = this + 16 */
    uint32_t max_reader_age_ms; /* a hit older than this is reported to its owner */
    uint32_t sync_interval_ms;  /* bound on the meta page's time off disk */
    enum store_sync sync;
    uint32_t queue_max;       /* writer queue: operations */
    uint64_t queue_max_bytes; /* writer queue: header + body bytes of puts */
    uint32_t batch_max;       /* puts per write transaction */
    uint64_t batch_max_bytes; /* bytes per write transaction */
    uint32_t chunk_pages;     /* body chunk = chunk_pages * page size - 16 bytes */
    uint32_t zero_copy_min;   /* bodies below this are copied, never referenced */
    uint8_t evict_high_pct;   /* evict when map use passes this % of size (0: never) */
    uint8_t evict_low_pct;    /* ... down to this % */
    uint32_t pool_max;        /* reset read transactions kept for reuse */
    uint32_t max_kv_dbs;      /* named key-value databases */
};

/* The defaults (docs/cache-store.md); dir stays NULL. */
void store_conf_defaults(struct store_conf *c);

/*
 * Opens (creating if needed) the environment in c->dir and starts the
 * writer thread. Cost does not depend on how much the store holds: no
 * scan. 0 and *ps set; ERR_INVAL for a bad conf; ERR_STORE (logged) when
 * LMDB refuses; -errno when the directory cannot be made.
 */
int store_open(const struct store_conf *c, struct store **ps) WARN_UNUSED;
/*
 * Commits everything queued, syncs, stops the writer and closes. Every
 * store_loop must be freed and every store_txn ended first (asserted).
 */
void store_close(struct store **ps);

/* Largest body store_put_take() accepts (an eighth of the size, at most 256 MiB). */
uint64_t store_body_max(const struct store *s);

struct store_stats {
    uint64_t size_bytes;       /* map size */
    uint64_t used_bytes;       /* pages in use by the B-trees, freelist included */
    uint64_t high_water_bytes; /* the file's extent: pages ever used */
    uint64_t objects;          /* cache objects */
    uint64_t evictions;        /* objects evicted by this store since open */
    uint64_t requeued;         /* second chances given */
    uint64_t purged;           /* objects purged */
    uint64_t corrupt;          /* objects rejected by validation */
    uint64_t puts_ok, puts_dropped, puts_failed, puts_rejected;
    uint64_t map_full;       /* MDB_MAP_FULL seen by the writer (then retried) */
    uint32_t readers_active; /* hits holding a read transaction */
    uint32_t txn_pool;       /* reset transactions pooled */
    uint32_t queue;          /* operations waiting for the writer */
};
/* A snapshot; used_bytes and objects as of the writer's last commit. */
void store_stats(struct store *s, struct store_stats *out);

/* ---- writes (any thread; the work runs on the writer thread) ---- */

/*
 * Completion of a queued operation, on the submitting loop's thread: rc 0
 * or ERR_STORE / ERR_LIMIT (map still full after eviction); n is 1 for a
 * put, the number of objects removed for a purge.
 */
typedef void store_done_fn(void *arg, int rc, uint64_t n);

struct store_obj {
    const void *key; /* copied */
    size_t key_len;
    const void *hdr; /* copied: the header block served with the body */
    size_t hdr_len;
    uint16_t status;       /* opaque to the store (the edge keeps the HTTP status) */
    int64_t expires_at_ms; /* opaque to the store (Unix ms; 0 none) */
};

/*
 * Queues a complete object for the writer; a put replaces any object
 * under the same key, atomically: readers see the old object or the new
 * one, never a part. The body is taken: *pbody is NULL on return whatever
 * the result, and the store frees it (on the writer thread, so it must
 * hold no references into a hit). Never blocks.
 *
 * 0: queued; cb (if not NULL) runs later on sl's thread.
 * ERR_LIMIT: the queue is full -- dropped and counted; cb is not called.
 * ERR_INVAL: key, header or body over its limit -- counted; cb not called.
 * sl may be NULL only when cb is NULL (fire and forget).
 */
int store_put_take(struct store *s, const struct store_obj *o, struct evbuffer **pbody,
                   struct store_loop *sl, store_done_fn *cb, void *arg) WARN_UNUSED;
/* Removes the object under key (n = 0 or 1). Same results and rules as a put. */
int store_purge(struct store *s, const void *key, size_t key_len, struct store_loop *sl,
                store_done_fn *cb, void *arg) WARN_UNUSED;
/*
 * Removes every object whose key starts with prefix (an empty prefix:
 * all). Runs in transactions of a bounded size, so a reader may see a
 * purge half done; each object goes whole.
 */
int store_purge_prefix(struct store *s, const void *prefix, size_t len, struct store_loop *sl,
                       store_done_fn *cb, void *arg) WARN_UNUSED;
/*
 * Blocks until everything queued before the call is committed (or
 * failed). For tests and shutdown: not on a loop thread that serves.
 */
void store_flush(struct store *s);

/* ---- hits (one loop's thread) ---- */

/*
 * Per-loop state: the live hits (for the reaper), and the completions of
 * work submitted with this loop. Adds no event to base until there is
 * something to wait for, so an idle store_loop keeps no loop alive.
 * 0, or -errno when no eventfd could be made.
 */
int store_loop_new(struct store *s, struct event_base *base, struct store_loop **psl) WARN_UNUSED;
/*
 * Runs the callbacks still owed to this loop (waiting for the writer to
 * finish their operations), then frees. Every hit must be released first.
 * Not from one of this loop's completion callbacks.
 */
void store_loop_free(struct store_loop **psl);

/* Called by the reaper when a hit is older than max_reader_age_ms: close
 * the connection whose output buffer holds the hit's references. */
typedef void store_hit_expire_fn(struct store_hit *hit, void *arg);

struct store_hit_info {
    uint16_t status;
    int64_t expires_at_ms;
    int64_t stored_at_ms; /* Unix ms of the put's commit */
    uint64_t body_len;
    bool zero_copy; /* body bytes are referenced from the map, not copied */
};

/*
 * Looks key up in a read transaction of its own and validates the object
 * (record checksum and every length on each hit; the body checksum on the
 * first hit of the object since start). The caller holds one ref.
 * 0: *phit set. ERR_NOTFOUND: absent, or rejected by validation (counted
 * as store.corrupt and queued for removal: treat it as a miss).
 * ERR_LIMIT: no reader slot free. ERR_STORE: LMDB failed (logged).
 */
int store_hit_open(struct store_loop *sl, const void *key, size_t key_len,
                   struct store_hit **phit) WARN_UNUSED;
const struct store_hit_info *store_hit_info(const struct store_hit *h);
/* The header block, borrowed until the hit's last ref goes. */
const void *store_hit_peek_headers(const struct store_hit *h, size_t *len);

struct store_iov {
    const void *base; /* borrowed until the hit's last ref goes */
    size_t len;
};
/*
 * The body pieces covering [off, off + len) (clipped to the body), one
 * per chunk touched. Fills at most niov entries and returns how many are
 * needed, so a caller may ask again with more room.
 */
size_t store_hit_peek_body(const struct store_hit *h, uint64_t off, uint64_t len,
                           struct store_iov *iov, size_t niov);
/*
 * Appends body bytes [off, off + len) (clipped) to out: references into
 * the map that each hold a ref on the hit (zero-copy), or copies when the
 * hit is not zero-copy. 0, or -ENOMEM when libevent refused (what was
 * already appended stays, with its refs).
 */
int store_hit_add_body(struct store_hit *h, struct evbuffer *out, uint64_t off,
                       uint64_t len) WARN_UNUSED;
/*
 * Who to tell when the hit grows too old (see store_hit_expire_fn), and an
 * id of the owner's own (a connection id) that store_hit_owner_id() gives
 * back to fn.
 */
void store_hit_set_owner(struct store_hit *h, store_hit_expire_fn *fn, void *arg);
void store_hit_set_owner_id(struct store_hit *h, uint64_t id);
uint64_t store_hit_owner_id(const struct store_hit *h);
/*
 * Drops the caller's ref; *ph becomes NULL. The last ref (this one or an
 * evbuffer's) resets the transaction and returns it to the pool.
 */
void store_hit_unref(struct store_hit **ph);

/*
 * Runs the reaper now (the loop's timer also runs it): calls the owner of
 * each hit older than max_reader_age_ms, once per hit. Returns how many
 * hits are over age.
 */
unsigned store_loop_reap(struct store_loop *sl);

/* ---- key-value databases (any thread) ---- */

/*
 * The named database (created if missing), as a handle valid until
 * store_close(). Names are 1..63 bytes of [a-z0-9_.-]. Call it at start-up,
 * never inside a write transaction: it makes one. ERR_LIMIT past max_kv_dbs.
 */
int store_kv_db(struct store *s, const char *name, unsigned *pdb) WARN_UNUSED;

/* A transaction: read-only or the one writer. ERR_LIMIT when no reader slot is free. */
int store_txn_begin(struct store *s, bool write, struct store_txn **pt) WARN_UNUSED;
/* Commits (a read transaction just ends); *pt is NULL after, whatever the result. */
int store_txn_commit(struct store_txn **pt) WARN_UNUSED;
void store_txn_abort(struct store_txn **pt);

/* The value is borrowed until the transaction ends. ERR_NOTFOUND. */
int store_kv_get(struct store_txn *t, unsigned db, const void *key, size_t key_len,
                 const void **val, size_t *val_len) WARN_UNUSED;
#define STORE_KV_NOOVERWRITE 0x1u /* ERR_EXISTS when the key is there */
/* ERR_LIMIT when the map is full; ERR_INVAL for a bad key or a read transaction. */
int store_kv_put(struct store_txn *t, unsigned db, const void *key, size_t key_len, const void *val,
                 size_t val_len, unsigned flags) WARN_UNUSED;
/* ERR_NOTFOUND when absent. */
int store_kv_del(struct store_txn *t, unsigned db, const void *key, size_t key_len) WARN_UNUSED;

/*
 * Visits, in key order, each key that starts with prefix and sorts after
 * `after` (NULL: from the first). fn returns 0 to go on; any other value
 * stops the walk and is returned. Values are borrowed until fn returns.
 */
typedef int store_kv_iter_fn(void *arg, const void *key, size_t key_len, const void *val,
                             size_t val_len);
int store_kv_iter(struct store_txn *t, unsigned db, const void *prefix, size_t prefix_len,
                  const void *after, size_t after_len, store_kv_iter_fn *fn, void *arg) WARN_UNUSED;
/*
 * The same walk backwards: each key that starts with prefix and sorts
 * before `before` (NULL: from the last), in descending key order.
 */
int store_kv_iter_rev(struct store_txn *t, unsigned db, const void *prefix, size_t prefix_len,
                      const void *before, size_t before_len, store_kv_iter_fn *fn,
                      void *arg) WARN_UNUSED;

#endif
