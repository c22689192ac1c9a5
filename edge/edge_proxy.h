/*
 * edge_proxy.h -- how the edge answers a client: from the cache (hits,
 * stale hits, conditional and range answers), from a collapsed upstream
 * fetch as its bytes arrive, or by passing the request through.
 *
 * Every decision is the cache policy's (cache_policy.h); this module turns
 * them into responses: it looks the key up in the store, asks
 * cache_policy_serve(), serves what it may straight from LMDB (the body by
 * reference, without a copy), and otherwise attaches the request to a
 * collapse entry whose fetch edge_fetch.c runs.
 *
 * A hit is answered inside the handler with no allocation of its own
 * beyond the store's hit; a request that waits for the upstream gets a
 * struct edge_req, freed when its response ends or its client leaves.
 */
#ifndef CASCADE_EDGE_PROXY_H
#define CASCADE_EDGE_PROXY_H

#include "edge_int.h"

struct httpd_req;

/* The handler for every request that is not /healthz, /metrics or /time. */
void edge_proxy_handle(struct edge_worker *w, struct httpd_req *r);

/* Requests of this process waiting on the upstream (tests). */
unsigned edge_proxy_waiting(void);

#endif
