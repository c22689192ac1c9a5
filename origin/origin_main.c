/*
 * origin_main.c -- cascade-origin: ingest, packaging, manifests and the
 * REST API. Start-up, reload and drain are node_app's; this file says where
 * its keys are and routes requests.
 */
#include <stddef.h>

#include "origin_conf.h"
#include "httpd.h"
#include "node_app.h"
#include "compat.h"

static void
origin_main_handle(struct httpd_req *r, void *arg)
{
    (void)arg;
    httpd_resp_error(r, 404, "not_found", "no such resource on this origin");
}

static const struct node_app_spec origin_main_spec = {
    .name = "cascade-origin",
    .server = "cascade-origin/" CASCADE_VERSION,
    .cli = &origin_cli_spec,
    .conf_size = sizeof(struct origin_conf),
    .off_listen = offsetof(struct origin_conf, http_listen),
    .off_workers = offsetof(struct origin_conf, workers),
    .off_log_level = offsetof(struct origin_conf, log_level),
    .off_drain = offsetof(struct origin_conf, drain_timeout),
    .off_http = offsetof(struct origin_conf, http),
    .handler = origin_main_handle,
};

int
main(int argc, char **argv)
{
    return node_app_main(&origin_main_spec, argc, argv);
}
