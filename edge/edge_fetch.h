/*
 * edge_fetch.h -- the upstream side of a collapse entry: one request to a
 * shield or origin (httpc, keep-alive pool), its head turned into the
 * entry's shared head by the cache policy, its body fed to the entry, and
 * the result stored in LMDB when the policy allows it.
 *
 * A fetch runs on the worker that created its entry and holds the
 * entry's fetch ref until the body is complete and, when stored, until
 * the store has committed it (so that requests arriving meanwhile join the
 * entry instead of fetching again). The worker's upstream set
 * (upstream.h) gives the members to try, in order (the key's shield on the
 * ring, or the origin group's order), and hears how each request went.
 * Idempotent fetches move to the next member when one fails before its
 * head or answers 502/503/504; other methods only when httpc says the
 * upstream cannot have seen the request. Every fetch sends Via and
 * CDN-Loop (RFC 8586) so loops between tiers are seen (edge_main.c).
 *
 * Not here: answering clients (edge_proxy.c), the policy itself
 * (cache_policy.c), the byte fan-out (collapse.c).
 */
#ifndef CASCADE_EDGE_FETCH_H
#define CASCADE_EDGE_FETCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "edge_int.h"

enum edge_fetch_kind {
    EDGE_FETCH_CACHE = 0, /* GET for the cache: no client conditionals, policy decides */
    EDGE_FETCH_PASS,      /* the client's request as it is, for the client alone */
};

struct edge_fetch_spec {
    enum edge_fetch_kind kind;
    const char *method;            /* borrowed during the call: what to send */
    const char *target;            /* borrowed: the target as the client sent it */
    const struct cache_fields *rf; /* borrowed: the client's fields (copied) */
    const char *peer;              /* borrowed: "ip:port" of the client, or NULL */
    const void *body;              /* borrowed: request body (copied) */
    size_t body_len;
    /* EDGE_FETCH_CACHE */
    const char *key; /* borrowed: the key looked up (primary, or primary + vary) */
    size_t key_len;
    size_t primary_len; /* the primary key's length within key */
    bool store;         /* the request allows storing the answer */
    bool revalidate;    /* send the stored validators below */
    const char *etag;   /* borrowed; NULL for none */
    size_t etag_len;
    const char *last_modified; /* borrowed; NULL for none */
    size_t last_modified_len;
    /* EDGE_FETCH_PASS: invalidate after a 2xx/3xx to an unsafe method */
    const char *host; /* borrowed: the client's Host, or NULL */
    bool invalidate;
};

/*
 * Starts the fetch for the entry *pe (its fetch ref is taken: *pe is NULL
 * afterwards, whatever happens). Failures are reported through the entry
 * (collapse_finish() with an error, from the loop).
 */
void edge_fetch_start(struct edge_worker *w, struct collapse_entry **pe,
                      const struct edge_fetch_spec *s);

/* Fetches in flight in this process (tests). */
unsigned edge_fetch_count(void);
/*
 * Worker shutdown: cancels this worker's upstream requests (their entries
 * fail); fetches waiting for a store put finish when store_loop_free()
 * runs the store's callbacks.
 */
void edge_fetch_shutdown(struct edge_worker *w);

#endif
