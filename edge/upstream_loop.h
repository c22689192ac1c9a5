/*
 * upstream_loop.h -- loop detection between CDN tiers (RFC 8586 CDN-Loop).
 *
 * Every fetch adds this node's cdn-id to CDN-Loop (edge_fetch.c); a request
 * whose CDN-Loop already names this node, or carries more entries than
 * loop.max_hops, came round a cycle (an edge pointed at itself, two tiers
 * pointed at each other) and is answered 508 at once, before it can join
 * a collapsed fetch that waits on itself.
 *
 * Pure: no I/O, no allocation. Not here: answering (edge_main.c).
 */
#ifndef CASCADE_UPSTREAM_LOOP_H
#define CASCADE_UPSTREAM_LOOP_H

#include <stdbool.h>
#include <stddef.h>

#include "miniobj.h"

struct upstream_loop_scan {
    size_t entries; /* cdn-info elements seen, over every field line scanned */
    bool seen;      /* one of them had id as its cdn-id */
};

/*
 * Scans one CDN-Loop field value v[0..len) and adds to *st: each list
 * element's cdn-id (the bytes before any OWS or ";") is compared with id,
 * ASCII case-insensitively; parameters, quoted strings (with their
 * escapes and commas) and empty elements are skipped. Never fails: bytes
 * outside the grammar only end up in a cdn-id that matches nothing.
 */
void upstream_loop_scan(struct upstream_loop_scan *st, const char *v, size_t len, const char *id,
                        size_t id_len);

/* Asserts what a scan may leave (used by the fuzzer). */
void upstream_loop_check(const struct upstream_loop_scan *st, size_t len);

#endif
