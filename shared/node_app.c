/*
 * node_app.c -- the shared main(): parse the command line, load the first
 * snapshot, run the node, rebuild snapshots on SIGHUP with the same
 * overrides, clean up on exit. Owns the struct cli for the process's life.
 */
#include <stdio.h>
#include <string.h>

#include "node_app.h"
#include "conf.h"
#include "err.h"
#include "log.h"
#include "mem.h"
#include "compat.h"

struct node_app {
    unsigned magic;
#define NODE_APP_MAGIC 0x6e617070U
    const struct node_app_spec *spec; /* borrowed; static */
    struct cli cli;                   /* owned */
    struct node_ops ops;
};

static int
node_app_load(void *arg, void **pconf, struct conf_err *err)
{
    struct node_app *app;
    void *conf;
    int rc;

    CAST_OBJ_NOTNULL(app, arg, NODE_APP_MAGIC);
    conf = xcalloc(1, app->spec->conf_size);
    rc = cli_load(&app->cli, conf, err);
    if (rc != 0) {
        xfree(conf);
        return rc;
    }
    *pconf = conf;
    return 0;
}

static const struct node_app *node_app_current; /* one per process */

static void
node_app_conf_free(void *conf)
{
    conf_free(node_app_current->spec->cli->table, conf);
    xfree(conf);
}

static int
node_app_reload_check(const void *old_conf, const void *new_conf, struct conf_err *err)
{
    return conf_reload_check(node_app_current->spec->cli->table, old_conf, new_conf, err);
}

#define NODE_APP_FIELD(conf, off, type)                                                            \
    (*(const type *)(const void *)((const char *)(conf) + (off)))

static int
node_app_log_level(const void *conf)
{
    return NODE_APP_FIELD(conf, node_app_current->spec->off_log_level, int);
}

static uint32_t
node_app_drain_ms(const void *conf)
{
    uint64_t ms = NODE_APP_FIELD(conf, node_app_current->spec->off_drain, uint64_t);

    return ms > UINT32_MAX ? UINT32_MAX : (uint32_t)ms;
}

static void
node_app_http_conf(const void *conf, struct httpd_conf *out)
{
    const struct node_app_spec *spec = node_app_current->spec;

    conf_http_fill(&NODE_APP_FIELD(conf, spec->off_http, struct conf_http), spec->server, out);
}

static void
node_app_worker_reload(struct node_worker *w, const void *conf)
{
    const struct node_app_spec *spec = node_app_current->spec;

    if (node_worker_id(w) == 0)
        log_set_level((enum log_level)node_app_log_level(conf));
    if (spec->worker_reload != NULL)
        spec->worker_reload(w, conf);
}

int
node_app_main(const struct node_app_spec *spec, int argc, char **argv)
{
    struct node_app app;
    struct node *n;
    void *conf;
    int rc;

    memset(&app, 0, sizeof(app));
    app.magic = NODE_APP_MAGIC;
    app.spec = spec;
    node_app_current = &app;
    conf = xcalloc(1, spec->conf_size);
    rc = cli_start(&app.cli, spec->cli, argc, argv, conf, stdout, stderr);
    if (rc != CLI_CONTINUE) {
        xfree(conf);
        return rc;
    }
    log_set_level((enum log_level)node_app_log_level(conf));

    app.ops.name = spec->name;
    app.ops.load = node_app_load;
    app.ops.conf_free = node_app_conf_free;
    app.ops.http_conf = node_app_http_conf;
    app.ops.reload_check = node_app_reload_check;
    app.ops.worker_init = spec->worker_init;
    app.ops.worker_fini = spec->worker_fini;
    app.ops.worker_reload = node_app_worker_reload;
    app.ops.drain_ms = node_app_drain_ms;

    n = node_new(&app.ops, &app, conf, (unsigned)NODE_APP_FIELD(conf, spec->off_workers, int64_t));
    rc = node_add_http(n, NODE_APP_FIELD(conf, spec->off_listen, char *), spec->handler);
    if (rc == 0 && spec->start != NULL)
        rc = spec->start(n, conf);
    if (rc != 0) {
        LOG(LOG_ERR, "node", "start_failed", "conn=0 name=%s err=%s", spec->name, err_name(rc));
        node_free(&n);
        cli_free(&app.cli);
        return 1;
    }
    LOG(LOG_INFO, "node", "starting", "conn=0 name=%s version=%s", spec->name, CASCADE_VERSION);
    rc = node_run(n);
    if (spec->stop != NULL)
        spec->stop();
    node_free(&n);
    cli_free(&app.cli);
    return rc;
}
