/*
 * edge_main.c -- cascade-edge: the caching node viewers (and, as a shield,
 * other edges) talk to. Start-up, reload and drain are node_app's; this
 * file says where its keys are and routes requests.
 */
#include <stddef.h>

#include "edge_conf.h"
#include "httpd.h"
#include "node_app.h"
#include "compat.h"

static void
edge_main_handle(struct httpd_req *r, void *arg)
{
    (void)arg;
    httpd_resp_error(r, 404, "not_found", "no such resource on this edge");
}

static const struct node_app_spec edge_main_spec = {
    .name = "cascade-edge",
    .server = "cascade-edge/" CASCADE_VERSION,
    .cli = &edge_cli_spec,
    .conf_size = sizeof(struct edge_conf),
    .off_listen = offsetof(struct edge_conf, listen),
    .off_workers = offsetof(struct edge_conf, workers),
    .off_log_level = offsetof(struct edge_conf, log_level),
    .off_drain = offsetof(struct edge_conf, drain_timeout),
    .off_http = offsetof(struct edge_conf, http),
    .handler = edge_main_handle,
};

int
main(int argc, char **argv)
{
    return node_app_main(&edge_main_spec, argc, argv);
}
