/*
 * edge_conf.c -- every key of cascade-edge, with its default, range,
 * reload rule and help; the command-line overrides; the httpd settings.
 *
 * The defaults are those of a node that starts with no file on a
 * developer's machine (loopback, a cache under the working directory, no
 * root needed) and otherwise those a production edge would ship. Adding a
 * key: add the field, add the row here, regenerate conf/edge.conf and
 * conf/shield.conf with --dump-config and the table in docs/config.md
 * (tests/unit/test_conf_files.c fails until all three match).
 *
 * Not here: the http.* rows (shared/conf_common.h), parsing (conf.c).
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "edge_conf.h"
#include "err.h"
#include "httpd.h"
#include "compat.h"

static const char *const edge_conf_roles[] = {"edge", "shield", NULL};

/* clang-format off */
static const struct conf_key edge_conf_keys[] = {
    {"listen", CONF_ADDR, offsetof(struct edge_conf, listen), "127.0.0.1:8081", 0, 0, NULL,
     false, "Address and port that viewers (or edges, for a shield) connect to."},
    {"role", CONF_ENUM, offsetof(struct edge_conf, role), "edge", 0, 0, edge_conf_roles,
     false, "What this node is: edge (serves viewers) or shield (serves the edge tier)."},
    {"workers", CONF_INT, offsetof(struct edge_conf, workers), "0", 0, 64, NULL,
     false, "Event-loop threads; 0 = one per CPU core."},
    {"upstream", CONF_ADDR_LIST, offsetof(struct edge_conf, upstream), "127.0.0.1:8080", 0, 0,
     NULL, true, "Shields or origins to fetch misses from, as host:port,host:port."},
    {"upstream.connect_timeout", CONF_DURATION,
     offsetof(struct edge_conf, upstream_connect_timeout), "2s", 100, CONF_HOUR, NULL,
     true, "Time to open a connection to an upstream before trying the next."},
    {"upstream.header_timeout", CONF_DURATION,
     offsetof(struct edge_conf, upstream_header_timeout), "10s", 100, CONF_HOUR, NULL,
     true, "Time an upstream has to send a response head."},
    {"upstream.body_timeout", CONF_DURATION, offsetof(struct edge_conf, upstream_body_timeout),
     "10s", 100, CONF_HOUR, NULL,
     true, "Longest gap between two reads of an upstream response body."},
    {"upstream.idle_timeout", CONF_DURATION, offsetof(struct edge_conf, upstream_idle_timeout),
     "60s", 100, CONF_HOUR, NULL,
     true, "Time an idle keep-alive connection to an upstream stays in the pool."},
    {"upstream.max_idle", CONF_INT, offsetof(struct edge_conf, upstream_max_idle), "64", 0,
     10000, NULL, true, "Idle keep-alive connections kept per upstream address and worker."},
    {"cache.dir", CONF_STRING, offsetof(struct edge_conf, cache_dir), "./cascade-cache", 0, 0,
     NULL, false, "Directory of the LMDB cache; relative to the working directory."},
    {"cache.size", CONF_SIZE, offsetof(struct edge_conf, cache_size), "1G", 16 * CONF_MIB, 0,
     NULL, false, "Largest size of the cache on disk; the least recently used go first."},
    {"admin.token", CONF_STRING, offsetof(struct edge_conf, admin_token), "", 0, 0, NULL,
     true, "Bearer token for purge and admin endpoints; empty = those endpoints are off."},
    {"log.level", CONF_ENUM, offsetof(struct edge_conf, log_level), "info", 0, 0,
     conf_log_levels, true, "Lowest level logged: debug, info, warn, error or crit."},
    {"log.access", CONF_STRING, offsetof(struct edge_conf, log_access), "", 0, 0, NULL,
     true, "File for the JSON access log (reopened on reload); empty = no access log."},
    {"drain.timeout", CONF_DURATION, offsetof(struct edge_conf, drain_timeout), "30s", 0,
     CONF_HOUR, NULL, true, "On SIGTERM, time in-flight requests get before connections close."},
    CONF_HTTP_KEYS(struct edge_conf, http),
};
/* clang-format on */

/* SPEC: RFC 6750 2.1 -- b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=" */
static bool
edge_conf_token_ok(const char *s)
{
    size_t n = strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~+/");

    if (n == 0)
        return false;
    while (s[n] == '=')
        n++;
    return s[n] == '\0';
}

static int
edge_conf_validate(const void *conf, struct conf_err *err)
{
    const struct edge_conf *c = conf;

    if (c->admin_token[0] != '\0' &&
        (strlen(c->admin_token) < EDGE_ADMIN_TOKEN_MIN || !edge_conf_token_ok(c->admin_token))) {
        (void)snprintf(err->msg, sizeof(err->msg),
                       "admin.token must be empty (admin endpoints off) or at least %d characters "
                       "of A-Z a-z 0-9 - . _ ~ + / (then = padding)",
                       EDGE_ADMIN_TOKEN_MIN);
        return ERR_CONF;
    }
    if (c->cache_dir[0] == '\0') {
        (void)snprintf(err->msg, sizeof(err->msg), "cache.dir must not be empty");
        return ERR_CONF;
    }
    return conf_http_validate(&c->http, err);
}

const struct conf_table edge_conf_table = {
    .binary = "cascade-edge",
    .keys = edge_conf_keys,
    .nkeys = ARRAY_SIZE(edge_conf_keys),
    .size = sizeof(struct edge_conf),
    .validate = edge_conf_validate,
};

static const struct cli_opt edge_cli_opts[] = {
    {"--listen", "listen", "ADDR:PORT", "address to serve on"},
    {"--upstream", "upstream", "HOST:PORT[,...]", "shields or origins to fetch from"},
    {"--role", "role", "edge|shield", "serve viewers, or be the shield of an edge tier"},
    {"--cache-dir", "cache.dir", "DIR", "LMDB cache directory"},
    {"--cache-size", "cache.size", "SIZE", "cache size on disk: 512M, 64G"},
    {"--workers", "workers", "N", "event-loop threads, 0 = one per core"},
    {"--log-level", "log.level", "LEVEL", "debug, info, warn, error or crit"},
};

const struct cli_spec edge_cli_spec = {
    .summary = "Cascade edge cache; with --role shield, the origin shield of an edge tier.",
    .table = &edge_conf_table,
    .opts = edge_cli_opts,
    .nopts = ARRAY_SIZE(edge_cli_opts),
};

void
edge_conf_httpd(const struct edge_conf *c, struct httpd_conf *h)
{
    conf_http_fill(&c->http, "cascade-edge/" CASCADE_VERSION, h);
}
