/*
 * node.h -- the process runtime both binaries share: worker threads, one
 * event loop each, SO_REUSEPORT listeners, signals, reload and drain.
 *
 * A node runs N workers. Each worker owns an event base and, for every
 * HTTP address the binary listens on, its own SO_REUSEPORT socket and
 * struct httpd, so the kernel spreads connections over the workers and no
 * lock sits on the request path. The main thread owns no connections: it
 * waits for signals.
 *
 *   SIGHUP   the binary's load callback builds a new config snapshot; if it
 *            is valid and only reloadable keys changed, every worker swaps
 *            it in on its own thread (connections stay open); the old
 *            snapshot is freed once every worker has let go of it.
 *   SIGTERM  every worker drains (stops accepting, finishes in-flight
 *   SIGINT   requests), then the process exits 0.
 *
 * Every node answers /healthz, /metrics and /time itself; other requests
 * go to the binary's handler with the worker as context.
 */
#ifndef CASCADE_NODE_H
#define CASCADE_NODE_H

#include <stdbool.h>
#include <stdint.h>

#include <event2/event.h>

#include "conf.h"
#include "httpd.h"
#include "miniobj.h"

struct node;
struct node_worker;

struct node_ops {
    const char *name; /* "cascade-edge": logs and the Server header */
    /*
     * Builds a fresh config snapshot from the file and overrides (for
     * SIGHUP). Returns 0 and sets *conf, or an error with err filled.
     */
    int (*load)(void *app, void **conf, struct conf_err *err);
    /* Releases a snapshot made by load (or the first one handed to node_new). */
    void (*conf_free)(void *conf);
    /* The HTTP limits of a snapshot. */
    void (*http_conf)(const void *conf, struct httpd_conf *out);
    /* Non-reloadable keys changed? ERR_CONF with err filled when so. */
    int (*reload_check)(const void *old_conf, const void *new_conf, struct conf_err *err);
    /* Per-worker set-up and tear-down on the worker's thread (may be NULL). */
    int (*worker_init)(struct node_worker *w);
    void (*worker_fini)(struct node_worker *w);
    /* A new snapshot is now current on this worker (may be NULL). */
    void (*worker_reload)(struct node_worker *w, const void *conf);
    /* How long a drain may take before connections are closed (NULL: 30 s). */
    uint32_t (*drain_ms)(const void *conf);
};

/*
 * conf is the first snapshot (ownership taken). nworkers 0 means one per
 * online CPU. app is the binary's process-wide state, passed back to ops.
 */
struct node *node_new(const struct node_ops *ops, void *app, void *conf, unsigned nworkers);
/* Listen on addr ("host:port") with handler on every worker; before node_run(). */
int node_add_http(struct node *n, const char *addr, httpd_handler_fn *handler) WARN_UNUSED;
/* Runs until drained after SIGTERM/SIGINT; returns the process exit code. */
int node_run(struct node *n) WARN_UNUSED;
void node_free(struct node **pn);

/* Ask the node to drain and stop, from any thread (tests, fatal errors). */
void node_stop(struct node *n);

/* ---- from a worker's thread ---- */

/* The worker serving this request (the handler's arg). */
unsigned node_worker_id(const struct node_worker *w);
struct event_base *node_worker_base(const struct node_worker *w);
/* The current snapshot on this worker; stable until this callback returns. */
const void *node_worker_conf(const struct node_worker *w);
void *node_worker_app(const struct node_worker *w);
/* Per-worker state slot for the binary (set in worker_init). */
void node_worker_set_data(struct node_worker *w, void *data);
void *node_worker_data(const struct node_worker *w);
bool node_worker_draining(const struct node_worker *w);
/* httpd_conn_reset() on whichever of w's servers has conn_id. */
int node_worker_conn_reset(struct node_worker *w, uint64_t conn_id) WARN_UNUSED;

/* Built-in answers; the handler may call these for its own routes too. */
void node_serve_healthz(struct httpd_req *r);
void node_serve_metrics(struct httpd_req *r);
void node_serve_time(struct httpd_req *r);

/*
 * Makes a non-blocking, close-on-exec TCP listening socket on addr with
 * SO_REUSEADDR and SO_REUSEPORT. Returns the fd or a negative error.
 */
int node_listen_socket(const char *addr, int backlog) WARN_UNUSED;

#endif
