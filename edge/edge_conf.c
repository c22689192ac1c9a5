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
#include <strings.h>

#include "edge_conf.h"
#include "err.h"
#include "httpd.h"
#include "shield_pick.h"
#include "compat.h"

static const char *const edge_conf_roles[] = {"edge", "shield", NULL};
/* Indexes are enum upstream_select. */
static const char *const edge_conf_selects[] = {"auto", "hash", "order", NULL};
/* Indexes are enum store_sync, enum cache_cookie_policy, enum cache_precond_mode. */
static const char *const edge_conf_syncs[] = {"safe", "full", "none", NULL};
static const char *const edge_conf_cookies[] = {"hit-for-miss", "strip", "store", NULL};
static const char *const edge_conf_preconds[] = {"evaluate", "forward", NULL};

#define EDGE_CONF_DAY (24 * CONF_HOUR)

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
    {"cache.max_object", CONF_SIZE, offsetof(struct edge_conf, cache_max_object), "256M", 0, 0,
     NULL, true, "Largest body stored (also at most an eighth of cache.size); larger ones are "
     "streamed."},
    {"cache.sync", CONF_ENUM, offsetof(struct edge_conf, cache_sync), "safe", 0, 0,
     edge_conf_syncs, false, "Durability of commits: safe (kill -9 loses nothing), full, none."},
    {"cache.max_inflight_hits", CONF_INT, offsetof(struct edge_conf, cache_max_inflight_hits),
     "1024", 16, 65536, NULL, false, "Hits served from the map without a copy at once; past it "
     "they are copied."},
    {"cache.max_reader_age", CONF_DURATION, offsetof(struct edge_conf, cache_max_reader_age),
     "30s", 100, CONF_HOUR, NULL, false, "Age past which a hit's read transaction is reported."},
    {"cache.grace", CONF_DURATION, offsetof(struct edge_conf, cache_grace), "1h", 0,
     30 * EDGE_CONF_DAY, NULL, true, "Serve a stale object this long past its lifetime while the "
     "upstream fails."},
    {"cache.negative_ttl", CONF_DURATION, offsetof(struct edge_conf, cache_negative_ttl), "1s", 0,
     EDGE_CONF_DAY, NULL, true, "Lifetime of a 404 or 410 that carries no freshness of its own."},
    {"cache.hit_for_miss_ttl", CONF_DURATION, offsetof(struct edge_conf, cache_hit_for_miss_ttl),
     "10s", 0, CONF_HOUR, NULL, true, "How long an uncacheable answer is remembered (no "
     "collapsing for it); 0 = never."},
    {"cache.heuristic_max", CONF_DURATION, offsetof(struct edge_conf, cache_heuristic_max), "24h",
     0, 365 * EDGE_CONF_DAY, NULL, true, "Cap of the Last-Modified heuristic lifetime."},
    {"cache.heuristic_percent", CONF_INT, offsetof(struct edge_conf, cache_heuristic_percent),
     "10", 0, 100, NULL, true, "Heuristic lifetime as % of Date - Last-Modified; 0 = none."},
    {"cache.default_ttl", CONF_DURATION, offsetof(struct edge_conf, cache_default_ttl), "0s", 0,
     365 * EDGE_CONF_DAY, NULL, true, "Lifetime of heuristically cacheable answers with nothing "
     "to go by; 0 = none."},
    {"cache.stale_while_revalidate", CONF_DURATION, offsetof(struct edge_conf, cache_swr), "2s",
     0, EDGE_CONF_DAY, NULL, true, "Serve stale while revalidating, for objects that set no "
     "window of their own."},
    {"cache.set_cookie", CONF_ENUM, offsetof(struct edge_conf, cache_set_cookie), "hit-for-miss",
     0, 0, edge_conf_cookies, true, "Answers with Set-Cookie: hit-for-miss, strip, or store."},
    {"cache.preconditions", CONF_ENUM, offsetof(struct edge_conf, cache_preconditions),
     "evaluate", 0, 0, edge_conf_preconds, true, "If-Match / If-Unmodified-Since: evaluate "
     "here, or forward."},
    {"cache.request_directives", CONF_BOOL, offsetof(struct edge_conf, cache_request_directives),
     "on", 0, 0, NULL, true, "Honour the request's no-cache, max-age, min-fresh, max-stale."},
    {"cache.targeted", CONF_BOOL, offsetof(struct edge_conf, cache_targeted), "on", 0, 0, NULL,
     true, "Honour Cascade-Cache-Control and CDN-Cache-Control over Cache-Control."},
    {"cache.apparent_age", CONF_BOOL, offsetof(struct edge_conf, cache_apparent_age), "on", 0, 0,
     NULL, true, "Count response time - Date in an object's age."},
    {"collapse.max_waiters", CONF_INT, offsetof(struct edge_conf, collapse_max_waiters),
     "10000", 1, 1000000, NULL, true, "Clients waiting on one upstream fetch; past it: 503."},
    {"collapse.wait_timeout", CONF_DURATION, offsetof(struct edge_conf, collapse_wait_timeout),
     "15s", 100, CONF_HOUR, NULL, true, "Time a waiting client gets for the response head; "
     "then 504."},
    {"collapse.max_lag", CONF_SIZE, offsetof(struct edge_conf, collapse_max_lag), "16M",
     CONF_MIB, CONF_GIB, NULL, true, "Bytes a client may fall behind an unstored fetch before "
     "it is cut off."},
    {"admin.token", CONF_STRING, offsetof(struct edge_conf, admin_token), "", 0, 0, NULL,
     true, "Bearer token for purge and admin endpoints; empty = those endpoints are off."},
    {"log.level", CONF_ENUM, offsetof(struct edge_conf, log_level), "info", 0, 0,
     conf_log_levels, true, "Lowest level logged: debug, info, warn, error or crit."},
    {"player.root", CONF_STRING, offsetof(struct edge_conf, player_root), "web", 0, 0, NULL,
     true, "Directory of the viewer page served at /player/."},
    {"player.vendor", CONF_STRING, offsetof(struct edge_conf, player_vendor),
     "node_modules/dashjs/dist/modern/umd", 0, 0, NULL, true,
     "Directory served at /player/vendor/ (dash.js from npm)."},
    {"log.access", CONF_STRING, offsetof(struct edge_conf, log_access), "", 0, 0, NULL,
     true, "File for the JSON access log (reopened on reload); empty = no access log."},
    {"drain.timeout", CONF_DURATION, offsetof(struct edge_conf, drain_timeout), "30s", 0,
     CONF_HOUR, NULL, true, "On SIGTERM, time in-flight requests get before connections close."},
    /* ---- upstreams, health, names, loops (issue 8; docs/upstreams.md) ---- */
    {"upstream.select", CONF_ENUM, offsetof(struct edge_conf, upstream_select), "auto", 0, 0,
     edge_conf_selects, true, "hash (the ring), order (first up one) or auto (hash on an edge, "
     "order on a shield)."},
    {"upstream.max_conns", CONF_INT, offsetof(struct edge_conf, upstream_max_conns), "256", 1,
     100000, NULL, true, "Connections open per upstream address and worker; more requests "
     "queue."},
    {"upstream.health_interval", CONF_DURATION,
     offsetof(struct edge_conf, upstream_health_interval), "1s", 0, CONF_HOUR, NULL, true,
     "Time between active health probes of each upstream; 0 = passive checks only."},
    {"upstream.health_timeout", CONF_DURATION,
     offsetof(struct edge_conf, upstream_health_timeout), "1s", 50, CONF_HOUR, NULL, true,
     "Time a health probe has to connect and answer."},
    {"upstream.health_path", CONF_STRING, offsetof(struct edge_conf, upstream_health_path),
     "/healthz", 0, 0, NULL, true, "Path the health probes GET; an answer below 500 is good."},
    {"upstream.health_rise", CONF_INT, offsetof(struct edge_conf, upstream_health_rise), "2", 1,
     100, NULL, true, "Good probes in a row that bring a down upstream back."},
    {"upstream.health_fall", CONF_INT, offsetof(struct edge_conf, upstream_health_fall), "2", 1,
     100, NULL, true, "Failed probes in a row that mark an upstream down."},
    {"upstream.max_fails", CONF_INT, offsetof(struct edge_conf, upstream_max_fails), "3", 0, 1000,
     NULL, true, "Failures (connect, timeout, 5xx) in upstream.fail_window that mark it down; 0 "
     "= never."},
    {"upstream.fail_window", CONF_DURATION, offsetof(struct edge_conf, upstream_fail_window),
     "10s", 100, CONF_HOUR, NULL, true, "Window in which failed requests are counted."},
    {"shield.vnodes", CONF_INT, offsetof(struct edge_conf, shield_vnodes), "160", 1,
     SHIELD_PICK_VNODES_MAX, NULL, true, "Points per upstream on the consistent-hash ring."},
    {"shield.balance", CONF_INT, offsetof(struct edge_conf, shield_balance), "150", 0, 10000,
     NULL, true, "Load bound of the ring in percent of the mean (>= 100); 0 = none."},
    {"dns.servers", CONF_STRING, offsetof(struct edge_conf, dns_servers), "", 0, 0, NULL, false,
     "DNS servers for upstream names as host[:port],...; empty = /etc/resolv.conf."},
    {"dns.timeout", CONF_DURATION, offsetof(struct edge_conf, dns_timeout), "2s", 100, CONF_HOUR,
     NULL, false, "Time a DNS server has to answer before the next try."},
    {"dns.ttl_min", CONF_DURATION, offsetof(struct edge_conf, dns_ttl_min), "1s", 100, CONF_HOUR,
     NULL, false, "Shortest time an answer is used before the name is resolved again."},
    {"dns.ttl_max", CONF_DURATION, offsetof(struct edge_conf, dns_ttl_max), "1h", 1000,
     EDGE_CONF_DAY, NULL, false, "Longest time an answer is used, whatever its TTL."},
    {"node.id", CONF_STRING, offsetof(struct edge_conf, node_id), "", 0, 0, NULL, false,
     "This node's name in CDN-Loop; empty = its listen address (hostname:port on 0.0.0.0)."},
    {"loop.max_hops", CONF_INT, offsetof(struct edge_conf, loop_max_hops), "8", 1, 64, NULL, false,
     "CDN-Loop entries a request may carry before it is refused with 508."},
    /* ---- interactions (docs/social.md) ---- */
    {"api.upstream", CONF_STRING, offsetof(struct edge_conf, api_upstream), "", 0, 0, NULL,
     false, "Origin group (host:port,... names or IPs) for /api/ and events; empty = upstream."},
    {"api.max_body", CONF_SIZE, offsetof(struct edge_conf, api_max_body), "64K", 1024, CONF_GIB,
     NULL, true,
     "Largest /api/ request body; past it: 413. Streamed when it has a Content-Length."},
    {"api.max_memory", CONF_SIZE, offsetof(struct edge_conf, api_max_memory), "32M", 64 * 1024,
     CONF_GIB, NULL, true,
     "/api/ request body memory, whole edge (128K per streamed body); past it: 503."},
    {"ratelimit.addr_rate", CONF_INT, offsetof(struct edge_conf, rl_addr_rate), "50", 0,
     1000000, NULL, true, "/api/ and /events/ requests per second per client address; 0 = "
     "no limit."},
    {"ratelimit.addr_burst", CONF_INT, offsetof(struct edge_conf, rl_addr_burst), "100", 1,
     1000000, NULL, true, "Requests a client address may make at once above its rate."},
    {"ratelimit.token_rate", CONF_INT, offsetof(struct edge_conf, rl_token_rate), "20", 0,
     1000000, NULL, true, "/api/ requests per second per bearer token; 0 = no limit."},
    {"ratelimit.token_burst", CONF_INT, offsetof(struct edge_conf, rl_token_burst), "40", 1,
     1000000, NULL, true, "Requests a bearer token may make at once above its rate."},
    {"ratelimit.max_clients", CONF_INT, offsetof(struct edge_conf, rl_max_clients), "65536", 16,
     16777216, NULL, false, "Buckets kept per limit; the least recently used are reused."},
    {"social.edge_key", CONF_STRING, offsetof(struct edge_conf, social_edge_key), "", 0, 0,
     NULL, false, "The origin's social.edge_key; empty = reactions are passed on one by one."},
    {"social.edge_name", CONF_STRING, offsetof(struct edge_conf, social_edge_name), "", 0, 0,
     NULL, false, "This edge's name in reaction batches; empty = edge- and the listen address."},
    {"social.reactions", CONF_STRING, offsetof(struct edge_conf, social_reactions),
     "like,love,haha,wow,sad,fire", 0, 0, NULL, false, "Reaction kinds (the origin's "
     "social.reactions)."},
    {"social.window", CONF_DURATION, offsetof(struct edge_conf, social_window), "250ms", 50,
     10000, NULL, false, "Reactions are summed per window of media time and sent this often."},
    {"social.max_pending", CONF_INT, offsetof(struct edge_conf, social_max_pending), "65536", 16,
     1048576, NULL, false, "Reaction counts held for the next batch; past it: 503."},
    {"sse.ring", CONF_INT, offsetof(struct edge_conf, sse_ring), "128", 1, 65536, NULL, false,
     "Events kept per stream for viewers resuming with Last-Event-ID."},
    {"sse.max_viewers", CONF_INT, offsetof(struct edge_conf, sse_max_viewers), "50000", 1,
     10000000, NULL, false, "Viewers on /events/ at once, whole edge; past it: 503."},
    {"sse.max_streams", CONF_INT, offsetof(struct edge_conf, sse_max_streams), "256", 1,
     1000000, NULL, false, "Streams and videos with a ring of recent events."},
    {"sse.keepalive", CONF_DURATION, offsetof(struct edge_conf, sse_keepalive), "15s", 100,
     CONF_HOUR, NULL, false, "Time between comment lines to viewers with nothing new."},
    {"sse.poll_wait", CONF_DURATION, offsetof(struct edge_conf, sse_poll_wait), "20s", 1000,
     25000, NULL, false, "How long the origin holds the edge's request for new events."},
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

/* Whether the canonical list "a:1,b:2" names one item twice (ASCII case-insensitive). */
static bool
edge_conf_has_duplicate(const char *list)
{
    const char *p, *q, *pe, *qe;

    for (p = list; *p != '\0'; p = *pe == ',' ? pe + 1 : pe) {
        pe = p + strcspn(p, ",");
        for (q = *pe == ',' ? pe + 1 : pe; *q != '\0'; q = *qe == ',' ? qe + 1 : qe) {
            qe = q + strcspn(q, ",");
            if (pe - p == qe - q && strncasecmp(p, q, (size_t)(pe - p)) == 0)
                return true;
        }
    }
    return false;
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
    if (edge_conf_has_duplicate(c->upstream)) {
        (void)snprintf(err->msg, sizeof(err->msg), "upstream names the same host:port twice");
        return ERR_CONF;
    }
    if (c->shield_balance != 0 && c->shield_balance < 100) {
        (void)snprintf(err->msg, sizeof(err->msg), "shield.balance must be 0 (off) or >= 100");
        return ERR_CONF;
    }
    if (c->upstream_health_path[0] != '/' || strpbrk(c->upstream_health_path, " \t\r\n") != NULL) {
        (void)snprintf(err->msg, sizeof(err->msg),
                       "upstream.health_path must be a path starting with / and without blanks");
        return ERR_CONF;
    }
    if (strlen(c->node_id) >= 64 || strpbrk(c->node_id, " \t\r\n,;\"") != NULL) {
        (void)snprintf(err->msg, sizeof(err->msg),
                       "node.id must be under 64 bytes, without blanks , ; or \"");
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
