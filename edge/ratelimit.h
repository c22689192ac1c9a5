/*
 * ratelimit.h -- token buckets keyed by client: one table, bounded size.
 *
 * A bucket holds up to `burst` tokens and refills at `rate` tokens per
 * second; a request takes one. Keys are any bytes (a client address, a
 * bearer token) hashed with a per-table random seed, so a client cannot
 * aim collisions at someone else's bucket. The table has a fixed number
 * of slots: a new key takes a free slot in its probe window or the one
 * there that was used longest ago (a bucket unused for burst/rate seconds
 * is full again, so evicting it loses nothing). Memory is fixed at
 * creation; nothing allocates afterwards.
 *
 * Pure: no clock (callers pass now_ms), no locks (api_proxy.c holds one
 * around every call), no I/O.
 */
#ifndef CASCADE_EDGE_RATELIMIT_H
#define CASCADE_EDGE_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "miniobj.h"

struct ratelimit;

/*
 * slots: buckets kept (rounded up to a power of two, at least 16); rate:
 * tokens per second (0: the table allows everything); burst: bucket size
 * (at least 1).
 */
struct ratelimit *ratelimit_new(size_t slots, uint32_t rate, uint32_t burst, uint64_t seed);
void ratelimit_free(struct ratelimit **prl);
/* New rate and burst for every bucket from now on (reload). */
void ratelimit_set(struct ratelimit *rl, uint32_t rate, uint32_t burst);

/*
 * Takes a token from key's bucket. true: allowed. false: refused, and
 * *retry_after_s (when not NULL) is the whole seconds until a token is
 * back (at least 1), for Retry-After.
 */
bool ratelimit_take(struct ratelimit *rl, const void *key, size_t len, uint64_t now_ms,
                    uint32_t *retry_after_s);
/* Buckets in use (for tests and /metrics). */
size_t ratelimit_count(const struct ratelimit *rl);
/* Asserts the table's invariants. */
void ratelimit_check(const struct ratelimit *rl);

#endif
