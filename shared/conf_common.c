/*
 * conf_common.c -- the configuration both binaries share: cross-key rules
 * of the http.* group and its translation into struct httpd_conf.
 *
 * Not here: the key declarations (the CONF_HTTP_KEYS macro in
 * conf_common.h), parsing (conf.c).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "conf_common.h"
#include "err.h"
#include "httpd.h"
#include "compat.h"

const char *const conf_log_levels[] = {"debug", "info", "warn", "error", "crit", NULL};

int
conf_http_validate(const struct conf_http *c, struct conf_err *err)
{
    if (c->out_low_watermark >= c->out_high_watermark) {
        (void)snprintf(err->msg, sizeof(err->msg),
                       "http.out_low_watermark (%" PRIu64
                       " bytes) must be below http.out_high_watermark (%" PRIu64 " bytes)",
                       c->out_low_watermark, c->out_high_watermark);
        return ERR_CONF;
    }
    if (c->max_line > c->max_head) {
        (void)snprintf(err->msg, sizeof(err->msg),
                       "http.max_line (%" PRIu64 " bytes) must not exceed http.max_head (%" PRIu64
                       " bytes)",
                       c->max_line, c->max_head);
        return ERR_CONF;
    }
    if (c->max_field > c->max_head) {
        (void)snprintf(err->msg, sizeof(err->msg),
                       "http.max_field (%" PRIu64 " bytes) must not exceed http.max_head (%" PRIu64
                       " bytes)",
                       c->max_field, c->max_head);
        return ERR_CONF;
    }
    return 0;
}

void
conf_http_fill(const struct conf_http *c, const char *server, struct httpd_conf *h)
{
    /* The table's ranges bound every value below its field's maximum. */
    memset(h, 0, sizeof(*h));
    h->limits.max_line = (uint32_t)c->max_line;
    h->limits.max_field = (uint32_t)c->max_field;
    h->limits.max_head = (uint32_t)c->max_head;
    h->limits.max_headers = (uint16_t)c->max_headers;
    h->max_body = c->max_body;
    h->header_timeout_ms = (uint32_t)c->header_timeout;
    h->idle_timeout_ms = (uint32_t)c->idle_timeout;
    h->body_timeout_ms = (uint32_t)c->body_timeout;
    h->send_timeout_ms = (uint32_t)c->send_timeout;
    h->max_connections = (uint32_t)c->max_connections;
    h->max_requests_per_conn = (uint32_t)c->max_requests_per_conn;
    h->out_high_watermark = (size_t)c->out_high_watermark;
    h->out_low_watermark = (size_t)c->out_low_watermark;
    h->server = server;
}
