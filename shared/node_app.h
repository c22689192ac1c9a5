/*
 * node_app.h -- the main() both binaries share: command line, first config
 * snapshot, node start-up, reload and exit, driven by a small spec.
 *
 * A binary describes how to read the few keys the runtime needs from its
 * own conf struct (listen address, workers, log level, drain time, HTTP
 * limits) and gives its request handler; node_app_main() does the rest, so
 * cascade-edge and cascade-origin start, reload and stop the same way.
 */
#ifndef CASCADE_NODE_APP_H
#define CASCADE_NODE_APP_H

#include <stddef.h>
#include <stdint.h>

#include "cli.h"
#include "conf_common.h"
#include "httpd.h"
#include "node.h"

struct node_app_spec {
    const char *name;           /* "cascade-edge" */
    const char *server;         /* Server header: "cascade-edge/0.1.0" */
    const struct cli_spec *cli; /* the binary's options and key table */
    size_t conf_size;           /* sizeof its conf struct */
    /* Where the runtime's keys sit in that struct (offsetof). */
    size_t off_listen;         /* char *: "host:port" */
    size_t off_workers;        /* int64_t: 0 = one per core */
    size_t off_log_level;      /* int: enum log_level */
    size_t off_drain;          /* uint64_t: ms */
    size_t off_http;           /* struct conf_http */
    httpd_handler_fn *handler; /* arg is the struct node_worker */
    /* Optional: per-worker state, and hooks run before and after node_run(). */
    int (*worker_init)(struct node_worker *w);
    void (*worker_fini)(struct node_worker *w);
    void (*worker_reload)(struct node_worker *w, const void *conf);
    int (*start)(struct node *n, const void *conf);
    void (*stop)(void);
};

/* Returns the process exit status. */
int node_app_main(const struct node_app_spec *spec, int argc, char **argv) WARN_UNUSED;

#endif
