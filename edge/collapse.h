/*
 * collapse.h -- one upstream fetch per object, however many clients ask,
 * on whichever worker thread they arrive; every waiter gets the bytes as
 * they arrive, at its own pace.
 *
 * A struct collapse_entry lives while a fetch is in flight (and, for an
 * object being stored, until the store has committed it). It holds the
 * response head once it arrives and the body as it grows, in immutable
 * 64 KiB blocks that waiters hand to their clients by reference (no copy
 * per waiter). The fetch runs on one worker (the owner); waiters on any
 * worker are woken through one event per (entry, worker), never called
 * across threads.
 *
 * Two body modes:
 *   KEEP    the whole body stays (it is going to the store): any waiter,
 *           early or late, reads from byte 0;
 *   WINDOW  only the last collapse.max_lag bytes stay (a body not stored:
 *           too large, or an error page shared by waiters); a waiter that
 *           falls further behind is cut off (its response aborted) so
 *           that one slow client never holds the fetch or unbounded memory.
 * The fetch is paused only when every streaming waiter is slow (its
 * output above the high watermark) and none is still waiting for the
 * head; it is abandoned when a WINDOW fetch has no waiter left.
 *
 * Threads: the table and each entry have a mutex; waiter state is its
 * worker's alone; block refcounts are atomic (the store's writer thread
 * releases the references it was given). Not here: what to fetch and
 * whether to store (edge_fetch.c), how to answer a client (edge_proxy.c).
 */
#ifndef CASCADE_COLLAPSE_H
#define CASCADE_COLLAPSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

#include "edge_obj.h"
#include "miniobj.h"

struct event;
struct event_base;
struct evbuffer;
struct httpd_req;
struct collapse_table;
struct collapse_entry;
struct collapse_sub;
struct collapse_waiter;

/* Body bytes per block. */
#define COLLAPSE_BLOCK (64u * 1024)
/* Most workers an entry can have waiters on (node.c's cap). */
#define COLLAPSE_MAX_LOOPS 64

/* The response head, immutable once published; owned by its entry. */
struct collapse_head {
    uint16_t status;
    bool shared;    /* every waiter may have it, not only the leader */
    bool stored;    /* it is being stored: meta gives the Age */
    int64_t length; /* body bytes, -1 while unknown (chunked) */
    uint8_t *block; /* owned: edge_obj block (fields + meta) */
    size_t block_len;
    struct edge_obj obj; /* view of block */
    char vary_key[512];  /* the leader's secondary key, when the head has Vary */
    size_t vary_key_len;
    const char *fwd;      /* Cache-Status fwd= ("uri-miss", "stale", ...) */
    uint16_t fwd_status;  /* the upstream's own status (304 for a revalidation) */
    bool fwd_stored;      /* Cache-Status "stored" */
    uint64_t upstream_ms; /* from the fetch's start to the head */
};

/*
 * What a waiter is told, on its own worker's thread, from the loop.
 */
struct collapse_waiter_ops {
    /*
     * The head arrived (head set, err 0) or the fetch failed before one
     * (head NULL, err ERR_UPSTREAM, ERR_TIMEOUT (this waiter's own
     * collapse.wait_timeout) or ERR_NOTFOUND (a revalidation found nothing
     * to revalidate: restart)). mine: the head is for this waiter (it is
     * shared, or this is the leader). The callee must either start its
     * response and call collapse_stream(), or call collapse_leave() (after
     * which it may free wt, and may not join another entry before
     * returning: restart from the loop).
     */
    void (*on_head)(struct collapse_waiter *wt, const struct collapse_head *head, bool mine,
                    int err);
    /*
     * Streaming ended: err 0 when every byte of [off, end) was queued;
     * else ERR_UPSTREAM (the fetch died midway) or ERR_LIMIT (cut off:
     * too far behind). The waiter is already detached; end or abort the
     * response (wt may be freed).
     */
    void (*on_done)(struct collapse_waiter *wt, int err);
};

enum collapse_wstate {
    COLLAPSE_W_IDLE = 0, /* not attached */
    COLLAPSE_W_HEAD,     /* waiting for the head */
    COLLAPSE_W_CALL,     /* inside on_head */
    COLLAPSE_W_STREAM,   /* streaming */
};

/* Embedded in its owner (the client request); zero it before use. */
struct collapse_waiter {
    unsigned magic;
#define COLLAPSE_WAITER_MAGIC 0x636f7774U
    const struct collapse_waiter_ops *ops; /* borrowed */
    struct httpd_req *r;                   /* borrowed: the client request */
    /* ---- private to collapse.c ---- */
    enum collapse_wstate state;
    struct collapse_entry *e; /* borrowed: the sub holds the ref */
    struct collapse_sub *sub; /* borrowed */
    TAILQ_ENTRY(collapse_waiter) link;
    uint64_t deadline_ms; /* monotonic: head wait */
    uint64_t off, end;    /* next byte to queue; end of the wanted range */
    bool slow;            /* output above the watermark; counted in nslow */
    bool leader;
    bool joined_done; /* joined a complete body (being stored): as good as a hit */
};

/* The fetch behind an entry, told things on the owner's thread. */
struct collapse_fetch_ops {
    void (*pause)(void *arg, bool pause);
    /* Nobody wants the bytes any more (WINDOW mode, no waiter): stop. */
    void (*abandon)(void *arg);
};

/* Per worker: its loop and its slot in every entry. */
struct collapse_loop {
    unsigned magic;
#define COLLAPSE_LOOP_MAGIC 0x636f6c70U
    struct collapse_table *t; /* borrowed */
    struct event_base *base;  /* borrowed */
    unsigned id;              /* < COLLAPSE_MAX_LOOPS */
    uint64_t wait_timeout_ms;
    uint64_t max_lag;
};

struct collapse_table *collapse_table_new(void);
/* Every entry must be gone (asserted). */
void collapse_table_free(struct collapse_table **pt);
/* Entries in the table now (for tests and metrics). */
unsigned collapse_table_count(struct collapse_table *t);

void collapse_loop_init(struct collapse_loop *cl, struct collapse_table *t, struct event_base *base,
                        unsigned id);

enum collapse_join {
    COLLAPSE_JOINED = 1, /* wt waits on a fetch already in flight */
    COLLAPSE_LEADER = 2, /* a new entry: *pe is the caller's ref; start its fetch */
    COLLAPSE_BUSY = 3,   /* an entry exists but cannot take waiters: fetch alone */
};

/*
 * Attaches wt (ops and r set) to the entry for key, creating it when
 * there is none. Returns a enum collapse_join, or ERR_LIMIT when the entry
 * already has max_waiters. For COLLAPSE_LEADER, *pe holds a ref for the
 * fetch (collapse_fetch_done() drops it). Callbacks come from the loop.
 */
int collapse_join(struct collapse_loop *cl, const void *key, size_t key_len,
                  struct collapse_waiter *wt, uint32_t max_waiters,
                  struct collapse_entry **pe) WARN_UNUSED;
/*
 * An entry outside the table, for a fetch nobody else may share (pass,
 * unsafe methods, hit-for-miss). wt (may be NULL) is its leader.
 */
struct collapse_entry *collapse_private(struct collapse_loop *cl, struct collapse_waiter *wt);
/*
 * A listed entry with no waiter (a background revalidation), or NULL when
 * one for key is already in flight.
 */
struct collapse_entry *collapse_background(struct collapse_loop *cl, const void *key,
                                           size_t key_len);
/* Is a fetch for key in flight? */
bool collapse_busy(struct collapse_table *t, const void *key, size_t key_len);

/* Streams body bytes [off, end) (end UINT64_MAX: to the end) to wt->r, from inside on_head. */
void collapse_stream(struct collapse_waiter *wt, uint64_t off, uint64_t end);
/* Detaches wt wherever it is (its client went away, or it answered itself). */
void collapse_leave(struct collapse_waiter *wt);

/* ---- the owner's side (the fetch), on the owner's thread ---- */

void collapse_set_fetch(struct collapse_entry *e, const struct collapse_fetch_ops *ops, void *arg);
const char *collapse_key(const struct collapse_entry *e, size_t *len);
/* Waiters attached now. */
unsigned collapse_waiters(struct collapse_entry *e);
/* Publishes the head (ownership taken); WINDOW mode unless keep. */
void collapse_publish(struct collapse_entry *e, struct collapse_head *head, bool keep);
/* Appends body bytes (copied into blocks). */
void collapse_append(struct collapse_entry *e, const void *data, size_t len);
/* Stop keeping the whole body (it will not be stored after all). */
void collapse_unkeep(struct collapse_entry *e);
/* Bytes appended so far. */
uint64_t collapse_body_len(struct collapse_entry *e);
/*
 * A new evbuffer referencing every body byte (KEEP mode, after the last
 * append), for store_put_take(); its references hold the blocks.
 */
struct evbuffer *collapse_body_buffer(struct collapse_entry *e);
/* The body is complete (err 0) or failed (err < 0; before the head too). */
void collapse_finish(struct collapse_entry *e, int err);
/* Takes the entry out of the table: new requests start a new fetch. */
void collapse_unlist(struct collapse_entry *e);
/* Drops the fetch's ref (after collapse_finish()); *pe becomes NULL. */
void collapse_fetch_done(struct collapse_entry **pe);

/* Frees a head that was never published. */
void collapse_head_free(struct collapse_head **ph);

#endif
