/*
 * api_proxy.h -- the edge's interactions front: /api/... proxied to the
 * origin, reactions summed into batches, /events/{stream} as Server-Sent
 * Events (docs/social.md).
 *
 * Process-wide state (rate-limit tables, the reaction table, the event
 * hub) is made by edge_api_start() before the workers and freed by
 * edge_api_stop() after them; each worker adds its own upstream pool, its
 * SSE viewers and (worker 0) the batch sender and the event follower.
 *
 * Wiring (edge_main.c): start/stop beside the store, worker init/fini/
 * reload beside the worker's own, and in the handler, before the player
 * and the cache:
 *     if (edge_api_handle(w, r))
 *         return;
 */
#ifndef CASCADE_EDGE_API_PROXY_H
#define CASCADE_EDGE_API_PROXY_H

#include <stdbool.h>

#include "miniobj.h"

struct edge_conf;
struct edge_worker;
struct httpd_req;

int edge_api_start(const struct edge_conf *c) WARN_UNUSED;
void edge_api_stop(void);
int edge_api_worker_init(struct edge_worker *w) WARN_UNUSED;
void edge_api_worker_fini(struct edge_worker *w);
void edge_api_worker_reload(struct edge_worker *w, const struct edge_conf *c);
/* true when r was taken (/api/..., /events/...); false leaves r untouched. */
bool edge_api_handle(struct edge_worker *w, struct httpd_req *r);

#endif
