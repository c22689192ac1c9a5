/*
 * edge_conf.h -- the configuration of cascade-edge (and of the shield, an
 * edge whose `role` is shield): its struct, its key table, its command-line
 * overrides, and the struct httpd_conf it implies.
 *
 * A loaded struct edge_conf is a frozen snapshot (conf.h): read it, never
 * write it; reload builds a new one with cli_load() and checks it with
 * conf_reload_check(&edge_conf_table, ...). conf/edge.conf is exactly
 * `cascade-edge --dump-config`; conf/shield.conf is the dump with the
 * shield's overrides (tests/unit/test_conf_files.c keeps both honest).
 *
 * Not here: applying the snapshot (edge_main.c), the syntax (conf.c).
 */
#ifndef CASCADE_EDGE_CONF_H
#define CASCADE_EDGE_CONF_H

#include <stdbool.h>
#include <stdint.h>

#include "cli.h"
#include "conf.h"
#include "conf_common.h"

struct httpd_conf;

/* Index into the role key's values. */
enum edge_role {
    EDGE_ROLE_EDGE = 0,
    EDGE_ROLE_SHIELD = 1,
};

struct edge_conf {
    char *listen;                      /* owned: "host:port" or "[v6]:port" */
    int role;                          /* enum edge_role */
    int64_t workers;                   /* 0 = one per CPU core */
    char *upstream;                    /* owned: "host:port,host:port", at least one */
    uint64_t upstream_connect_timeout; /* ms */
    uint64_t upstream_header_timeout;  /* ms */
    uint64_t upstream_body_timeout;    /* ms */
    uint64_t upstream_idle_timeout;    /* ms */
    int64_t upstream_max_idle;         /* per upstream address, per worker */
    char *cache_dir;                   /* owned; relative to the working directory */
    uint64_t cache_size;               /* bytes */
    uint64_t cache_max_object;         /* bytes: larger bodies are streamed, not stored */
    int cache_sync;                    /* enum store_sync (store.h) */
    int64_t cache_max_inflight_hits;   /* zero-copy hits at once (LMDB reader slots) */
    uint64_t cache_max_reader_age;     /* ms */
    uint64_t cache_grace;              /* ms: stale served while the upstream fails */
    uint64_t cache_negative_ttl;       /* ms: 404 / 410 without explicit freshness */
    uint64_t cache_hit_for_miss_ttl;   /* ms */
    uint64_t cache_heuristic_max;      /* ms */
    int64_t cache_heuristic_percent;   /* % of Date - Last-Modified; 0 = off */
    uint64_t cache_default_ttl;        /* ms; 0 = off */
    uint64_t cache_swr;                /* ms: stale-while-revalidate by default */
    int cache_set_cookie;              /* enum cache_cookie_policy (cache_policy.h) */
    int cache_preconditions;           /* enum cache_precond_mode */
    bool cache_request_directives;
    bool cache_targeted;
    bool cache_apparent_age;
    int64_t collapse_max_waiters;   /* per object in flight */
    uint64_t collapse_wait_timeout; /* ms: a waiter's wait for the response head */
    uint64_t collapse_max_lag;      /* bytes a waiter may fall behind an unstored fetch */
    char *admin_token;              /* owned; "" = admin endpoints disabled */
    int log_level;                  /* enum log_level (log.h) */
    char *player_root;              /* owned: web/ */
    char *player_vendor;            /* owned: dash.js dist directory */
    char *log_access;               /* owned; path, "" = no access log */
    uint64_t drain_timeout;         /* ms */
    /* ---- upstreams, health, names, loops (issue 8; docs/upstreams.md) ---- */
    int upstream_select;               /* enum upstream_select (upstream.h) */
    int64_t upstream_max_conns;        /* per upstream address, per worker */
    uint64_t upstream_health_interval; /* ms; 0 = no active probes */
    uint64_t upstream_health_timeout;  /* ms */
    char *upstream_health_path;        /* owned */
    int64_t upstream_health_rise;
    int64_t upstream_health_fall;
    int64_t upstream_max_fails;
    uint64_t upstream_fail_window; /* ms */
    int64_t shield_vnodes;
    int64_t shield_balance; /* percent; 0 = no load bound */
    char *dns_servers;      /* owned; "" = /etc/resolv.conf */
    uint64_t dns_timeout;   /* ms */
    uint64_t dns_ttl_min;   /* ms */
    uint64_t dns_ttl_max;   /* ms */
    char *node_id;          /* owned; "" = the listen address (hostname:port on a wildcard) */
    int64_t loop_max_hops;
    /* ---- interactions (api_proxy.c, ratelimit.c, reactions.c, sse.c) ---- */
    char *api_upstream;          /* owned: "host:port,..."; "" = upstream */
    uint64_t api_max_body;       /* bytes of one request body */
    uint64_t api_max_memory;     /* bytes of bodies held at once, whole process */
    int64_t rl_addr_rate;        /* requests per second per client address; 0 = off */
    int64_t rl_addr_burst;
    int64_t rl_token_rate;       /* requests per second per bearer token; 0 = off */
    int64_t rl_token_burst;
    int64_t rl_max_clients;      /* buckets kept per table */
    char *social_edge_key;       /* owned: origin's social.edge_key; "" = no aggregation */
    char *social_edge_name;      /* owned: name in batches; "" = "edge-" + listen */
    char *social_reactions;      /* owned: kinds, comma-separated */
    uint64_t social_window;      /* ms: aggregation window of media time and flush period */
    int64_t social_max_pending;  /* (stream, kind, window) counts held at once */
    int64_t sse_ring;            /* events kept per stream for Last-Event-ID */
    int64_t sse_max_viewers;     /* SSE viewers per process */
    int64_t sse_max_streams;     /* streams with a ring */
    uint64_t sse_keepalive;      /* ms between comment lines to idle viewers */
    uint64_t sse_poll_wait;      /* ms: the origin's long-poll wait */
    /* ---- end of interactions ---- */
    struct conf_http http;
};

/* Shortest admin.token accepted (when it is not empty). */
#define EDGE_ADMIN_TOKEN_MIN 16

extern const struct conf_table edge_conf_table;
/* The command line: -c, --listen, --upstream, --role, --cache-dir, ... */
extern const struct cli_spec edge_cli_spec;

/* The HTTP server's settings for this snapshot (Server: cascade-edge/VERSION). */
void edge_conf_httpd(const struct edge_conf *c, struct httpd_conf *h);

#endif
