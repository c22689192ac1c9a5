/*
 * edge_main.c -- cascade-edge: the caching node viewers (and, as a shield,
 * other edges) talk to. Start-up, reload and drain are node_app's; this
 * file opens the cache, builds each worker's state from the config
 * snapshot, and routes requests to the proxy.
 *
 * Owns: edge_g (the store and the collapse table, for the process's
 * life) and each worker's struct edge_worker (made and freed on that
 * worker's thread), with its resolver and upstream set. A request whose
 * CDN-Loop names this node is refused with 508 before anything else. Not here: answering requests
 * (edge_proxy.c), fetching (edge_fetch.c), purging (purge.c).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include <unistd.h>

#include "access_log.h"
#include "api_proxy.h"
#include "dns.h"
#include "edge_conf.h"
#include "edge_fetch.h"
#include "edge_int.h"
#include "edge_proxy.h"
#include "player.h"
#include "err.h"
#include "httpc.h"
#include "httpd.h"
#include "log.h"
#include "mem.h"
#include "metrics.h"
#include "node_app.h"
#include "store.h"
#include "upstream.h"
#include "upstream_loop.h"
#include "compat.h"

/* Loop turns a stopping worker runs so libevent frees its connections. */
#define EDGE_FINI_SPINS 64

struct edge edge_g;

const char *const edge_uperr_names[EDGE_UPERR__N] = {
    "connect", "timeout", "bad_response", "truncated", "5xx", "queue_full",
};

static void
edge_metrics_init(struct edge_metrics *m)
{
    static const char *const reval[3] = {"304", "200", "error"};
    size_t i;

    m->hits = metrics_counter("edge.cache.hits", "Requests answered from the cache.");
    m->misses = metrics_counter("edge.cache.misses", "Fetches started for the cache (misses).");
    m->pass = metrics_counter("edge.cache.pass", "Requests passed to the upstream uncached.");
    m->stale = metrics_counter("edge.cache.stale_served",
                               "Stale responses served (stale-while-revalidate, errors).");
    for (i = 0; i < 3; i++)
        m->reval[i] = metrics_counter_l("edge.cache.revalidations",
                                        "Revalidations by their outcome.", "result", reval[i]);
    m->hfm = metrics_counter("edge.cache.hit_for_miss", "Uncacheable answers remembered.");
    m->stored = metrics_counter("edge.cache.stored", "Objects committed to the cache.");
    m->store_failed =
        metrics_counter("edge.cache.store_failed", "Objects the cache failed to commit.");
    m->store_dropped = metrics_counter("edge.cache.store_dropped",
                                       "Objects not stored: the store's queue was full.");
    m->invalidations = metrics_counter("edge.cache.invalidations",
                                       "Keys invalidated after unsafe methods (RFC 9111 4.4).");
    m->collapsed = metrics_counter("edge.collapse.waiters",
                                   "Requests that waited on another request's fetch.");
    m->rejected = metrics_counter("edge.collapse.rejected", "Requests refused: waiting list full.");
    m->wait_timeouts =
        metrics_counter("edge.collapse.timeouts", "Waiters that gave up waiting for a head.");
    m->cut_off =
        metrics_counter("edge.collapse.cut_off", "Slow clients cut off from an unstored fetch.");
    m->inflight = metrics_gauge("edge.collapse.inflight", "Upstream fetches in flight.");
    m->up_requests = metrics_counter("edge.upstream.requests", "Requests sent upstream.");
    m->up_retries = metrics_counter("edge.upstream.retries", "Requests retried on an upstream.");
    for (i = 0; i < EDGE_UPERR__N; i++)
        m->up_errors[i] = metrics_counter_l("edge.upstream.errors", "Upstream failures.", "code",
                                            edge_uperr_names[i]);
    m->bytes_in = metrics_counter("edge.bytes.in", "Body bytes received from upstreams.");
    m->bytes_out = metrics_counter("edge.bytes.out", "Body bytes sent to clients.");
    m->purges = metrics_counter("edge.purge.requests", "Purge requests.");
    m->purged = metrics_counter("edge.purge.objects", "Objects removed by purges.");
    m->loops = metrics_counter("edge.loop.rejected",
                               "Requests refused with 508: CDN-Loop named this node.");
    m->up_exhausted = metrics_counter("edge.upstream.exhausted",
                                      "Fetches with no upstream left to try (all down).");
}

/* ---- upstreams (issue 8): names, health, ring; edge/upstream.c ---- */

void
edge_upstream_conf(const struct edge_conf *c, bool hash, struct upstream_conf *uc)
{
    upstream_conf_defaults(uc);
    uc->hash = hash;
    uc->ring.vnodes = (uint32_t)c->shield_vnodes;
    uc->ring.balance_pct = (uint32_t)c->shield_balance;
    uc->health_interval_ms = (uint32_t)c->upstream_health_interval;
    uc->health_timeout_ms = (uint32_t)c->upstream_health_timeout;
    uc->health_path = c->upstream_health_path;
    uc->rise = (uint32_t)c->upstream_health_rise;
    uc->fall = (uint32_t)c->upstream_health_fall;
    uc->max_fails = (uint32_t)c->upstream_max_fails;
    uc->fail_window_ms = (uint32_t)c->upstream_fail_window;
}

/* Whether the upstream set must be rebuilt for the snapshot c (first one, or a change). */
static bool
edge_upstream_changed(const struct edge_conf *o, const struct edge_conf *c)
{
    return o == NULL || strcmp(o->upstream, c->upstream) != 0 ||
           o->upstream_select != c->upstream_select ||
           o->upstream_health_interval != c->upstream_health_interval ||
           o->upstream_health_timeout != c->upstream_health_timeout ||
           strcmp(o->upstream_health_path, c->upstream_health_path) != 0 ||
           o->upstream_health_rise != c->upstream_health_rise ||
           o->upstream_health_fall != c->upstream_health_fall ||
           o->upstream_max_fails != c->upstream_max_fails ||
           o->upstream_fail_window != c->upstream_fail_window ||
           o->shield_vnodes != c->shield_vnodes || o->shield_balance != c->shield_balance;
}

/* (Re)builds w->upset; on failure the old set stays (the list was validated at load). */
static void
edge_upstream_apply(struct edge_worker *w, const struct edge_conf *old, const struct edge_conf *c)
{
    struct upstream_set *s = NULL;
    struct upstream_conf uc;
    bool hash;

    if (w->upset != NULL && !edge_upstream_changed(old, c))
        return;
    hash = c->upstream_select == UPSTREAM_SELECT_HASH ||
           (c->upstream_select == UPSTREAM_SELECT_AUTO && c->role == EDGE_ROLE_EDGE);
    edge_upstream_conf(c, hash, &uc);
    if (upstream_set_new(w->base, w->dns, &uc, c->upstream, node_worker_id(w->nw), &s) != 0) {
        LOG(LOG_ERR, "edge", "upstreams_unusable", "conn=0 upstream=%s", c->upstream);
        return;
    }
    if (w->upset != NULL)
        upstream_set_inherit(s, w->upset);
    upstream_set_free(&w->upset);
    w->upset = s;
}

static int
edge_dns_new(struct edge_worker *w, const struct edge_conf *c)
{
    struct dns_conf dc;

    dns_conf_defaults(&dc);
    dc.servers = c->dns_servers[0] != '\0' ? c->dns_servers : NULL;
    dc.timeout_ms = (uint32_t)c->dns_timeout;
    dc.ttl_min_ms = (uint32_t)c->dns_ttl_min;
    dc.ttl_max_ms = (uint32_t)c->dns_ttl_max;
    return dns_new(w->base, &dc, &w->dns);
}

/*
 * Our cdn-id for CDN-Loop: node.id, else the listen address, else (a
 * wildcard listener) hostname:port.
 */
static void
edge_loop_id(const struct edge_conf *c)
{
    char host[CONF_HOST_MAX + 1], name[64];
    uint16_t port = 0;

    edge_g.loop_max_hops = (uint32_t)c->loop_max_hops;
    if (c->node_id[0] != '\0') {
        (void)snprintf(edge_g.loop_id, sizeof(edge_g.loop_id), "%s", c->node_id);
        return;
    }
    if (conf_split_addr(c->listen, host, sizeof(host), &port) != 0)
        host[0] = '\0';
    if (host[0] == '\0' || strcmp(host, "0.0.0.0") == 0 || strcmp(host, "::") == 0) {
        if (gethostname(name, sizeof(name)) != 0)
            (void)snprintf(name, sizeof(name), "cascade");
        name[sizeof(name) - 1] = '\0';
        (void)snprintf(edge_g.loop_id, sizeof(edge_g.loop_id), "%s:%u", name, port);
        return;
    }
    (void)snprintf(edge_g.loop_id, sizeof(edge_g.loop_id), "%s", c->listen);
}

/*
 * SPEC: RFC 8586 2 -- a request whose CDN-Loop names us, or that has been
 * through more than loop.max_hops CDN nodes, came round a cycle: 508
 * (RFC 5842 7.2) before it can join a fetch that waits on itself.
 */
static bool
edge_loop_refuse(struct httpd_req *r)
{
    struct upstream_loop_scan st = {0};
    const char *name, *value;
    char body[160];
    size_t i, n = httpd_req_header_count(r);
    int len;

    for (i = 0; i < n; i++) {
        httpd_req_header_at(r, i, &name, &value);
        if (strcasecmp(name, "cdn-loop") == 0)
            upstream_loop_scan(&st, value, strlen(value), edge_g.loop_id, strlen(edge_g.loop_id));
    }
    if (!st.seen && st.entries <= edge_g.loop_max_hops)
        return false;
    metric_inc(edge_g.m.loops);
    LOG_RL(LOG_WARN, "edge", "loop_detected", 10, "conn=0 id=%s entries=%zu seen=%d",
           edge_g.loop_id, st.entries, st.seen);
    len = snprintf(body, sizeof(body),
                   "{\"error\":{\"code\":\"loop_detected\",\"message\":\"%s\"}}\n",
                   st.seen ? "this request already went through this node"
                           : "this request went through too many CDN nodes");
    httpd_resp_set(r, "Cache-Control", "no-store");
    httpd_resp_set(r, "Via", edge_g.via);
    httpd_resp_send(r, 508, "application/json", body, (size_t)len);
    return true;
}

/* ---- end of the upstream block ---- */

static void
edge_policy_from_conf(const struct edge_conf *c, struct cache_policy_conf *p)
{
    *p = cache_policy_conf_default;
    p->grace = (int64_t)(c->cache_grace / 1000);
    p->negative_ttl = (int64_t)(c->cache_negative_ttl / 1000);
    p->hit_for_miss_ttl = (int64_t)(c->cache_hit_for_miss_ttl / 1000);
    p->heuristic_max = (int64_t)(c->cache_heuristic_max / 1000);
    p->heuristic_percent = (uint32_t)c->cache_heuristic_percent;
    p->default_ttl = (int64_t)(c->cache_default_ttl / 1000);
    p->swr_default = (int64_t)(c->cache_swr / 1000);
    p->set_cookie = (enum cache_cookie_policy)c->cache_set_cookie;
    p->preconditions = (enum cache_precond_mode)c->cache_preconditions;
    p->request_directives = c->cache_request_directives;
    p->targeted = c->cache_targeted;
    p->apparent_age = c->cache_apparent_age;
}

static void
edge_httpc_from_conf(const struct edge_conf *c, struct httpc_conf *hc)
{
    httpc_conf_defaults(hc);
    hc->connect_timeout_ms = (uint32_t)c->upstream_connect_timeout;
    hc->header_timeout_ms = (uint32_t)c->upstream_header_timeout;
    hc->body_timeout_ms = (uint32_t)c->upstream_body_timeout;
    hc->idle_timeout_ms = (uint32_t)c->upstream_idle_timeout;
    hc->max_idle_per_host = (uint32_t)c->upstream_max_idle;
    hc->max_conns_per_host = (uint32_t)c->upstream_max_conns;
}

/* Everything of a worker that follows the snapshot (first one, and reloads). */
static void
edge_worker_apply(struct edge_worker *w, const struct edge_conf *c)
{
    edge_upstream_apply(w, w->conf, c);
    w->conf = c;
    edge_policy_from_conf(c, &w->policy);
    w->cl.wait_timeout_ms = c->collapse_wait_timeout;
    w->cl.max_lag = c->collapse_max_lag;
    w->max_object = c->cache_max_object < edge_g.body_max ? c->cache_max_object : edge_g.body_max;
}

static int
edge_worker_init(struct node_worker *nw)
{
    const struct edge_conf *c = node_worker_conf(nw);
    struct httpc_conf hc;
    struct edge_worker *w;
    int rc;

    w = xcalloc(1, sizeof(*w));
    w->magic = EDGE_WORKER_MAGIC;
    w->e = &edge_g;
    w->nw = nw;
    w->base = node_worker_base(nw);
    TAILQ_INIT(&w->fetches);
    rc = store_loop_new(edge_g.store, w->base, &w->sl);
    if (rc != 0) {
        FREE_OBJ(w);
        return rc;
    }
    rc = access_log_new(w->base, c->log_access, &w->alog);
    if (rc != 0) {
        store_loop_free(&w->sl);
        FREE_OBJ(w);
        return rc;
    }
    rc = edge_dns_new(w, c);
    if (rc != 0) {
        access_log_free(&w->alog);
        store_loop_free(&w->sl);
        FREE_OBJ(w);
        return rc;
    }
    edge_httpc_from_conf(c, &hc);
    w->httpc = httpc_new(w->base, &hc);
    collapse_loop_init(&w->cl, edge_g.collapse, w->base, node_worker_id(nw));
    w->scratch = evbuffer_new();
    AN(w->scratch);
    edge_worker_apply(w, c);
    if (w->upset == NULL) {
        /* logged by upstream.c: a member the set cannot use */
        evbuffer_free(w->scratch);
        dns_free(&w->dns);
        httpc_free(&w->httpc);
        (void)event_base_loop(w->base, EVLOOP_NONBLOCK);
        access_log_free(&w->alog);
        store_loop_free(&w->sl);
        FREE_OBJ(w);
        return ERR_CONF;
    }
    node_worker_set_data(nw, w);
    /* interactions: /api/ proxy, reactions, SSE (api_proxy.h). Without
     * them the worker still serves video; /api/ answers 503 there. */
    rc = edge_api_worker_init(w);
    if (rc != 0)
        LOG(LOG_ERR, "edge", "api_init_failed", "conn=0 worker=%u err=%s", node_worker_id(nw),
            err_name(rc));
    return 0;
}

static void
edge_worker_reload(struct node_worker *nw, const void *conf)
{
    struct edge_worker *w;
    const struct edge_conf *c = conf;
    struct httpc_conf hc;
    int rc;

    CAST_OBJ_NOTNULL(w, node_worker_data(nw), EDGE_WORKER_MAGIC);
    edge_worker_apply(w, c);
    edge_httpc_from_conf(c, &hc);
    httpc_set_conf(w->httpc, &hc);
    edge_api_worker_reload(w, c); /* interactions */
    /* reopened on every reload: log rotation is mv + SIGHUP. A path that
     * cannot be opened keeps the old file (access_log.c logged the open). */
    rc = access_log_reopen(w->alog, c->log_access);
    if (rc != 0)
        LOG(LOG_WARN, "edge", "access_log_kept", "conn=0 worker=%u path=%s err=%s",
            node_worker_id(nw), c->log_access, err_name(rc));
}

static void
edge_worker_fini(struct node_worker *nw)
{
    struct edge_worker *w;
    unsigned i;

    w = node_worker_data(nw);
    if (w == NULL)
        return;
    CHECK_OBJ(w, EDGE_WORKER_MAGIC);
    edge_api_worker_fini(w); /* interactions */
    edge_fetch_shutdown(w);
    /* libevent frees closed connections (and the hits they reference) from the loop */
    for (i = 0; i < EDGE_FINI_SPINS; i++)
        (void)event_base_loop(w->base, EVLOOP_NONBLOCK);
    store_loop_free(&w->sl);
    upstream_set_free(&w->upset);
    (void)event_base_loop(w->base, EVLOOP_NONBLOCK);
    dns_free(&w->dns);
    httpc_free(&w->httpc);
    (void)event_base_loop(w->base, EVLOOP_NONBLOCK);
    access_log_free(&w->alog);
    evbuffer_free(w->scratch);
    node_worker_set_data(nw, NULL);
    FREE_OBJ(w);
}

static int
edge_start(struct node *n, const void *conf)
{
    const struct edge_conf *c = conf;
    struct store_conf sc;
    int rc;

    (void)n;
    memset(&edge_g, 0, sizeof(edge_g));
    edge_g.magic = EDGE_MAGIC;
    (void)snprintf(edge_g.name, sizeof(edge_g.name), "cascade-%s",
                   c->role == EDGE_ROLE_SHIELD ? "shield" : "edge");
    (void)snprintf(edge_g.via, sizeof(edge_g.via), "1.1 %s", edge_g.name);
    edge_loop_id(c);
    edge_metrics_init(&edge_g.m);
    store_conf_defaults(&sc);
    sc.dir = c->cache_dir;
    sc.size = c->cache_size;
    sc.max_inflight_hits = (uint32_t)c->cache_max_inflight_hits;
    sc.max_reader_age_ms = (uint32_t)c->cache_max_reader_age;
    sc.sync = (enum store_sync)c->cache_sync;
    rc = store_open(&sc, &edge_g.store);
    if (rc != 0) {
        LOG(LOG_ERR, "edge", "cache_open_failed", "conn=0 dir=%s err=%s", c->cache_dir,
            err_name(rc));
        return rc;
    }
    edge_g.body_max = store_body_max(edge_g.store);
    edge_g.collapse = collapse_table_new();
    LOG(LOG_INFO, "edge", "cache_open", "conn=0 dir=%s size=%llu", c->cache_dir,
        (unsigned long long)c->cache_size);
    /* interactions: rate limits, the reaction table, the event hub */
    rc = edge_api_start(c);
    if (rc != 0) {
        collapse_table_free(&edge_g.collapse);
        store_close(&edge_g.store);
        return rc;
    }
    return 0;
}

static void
edge_stop(void)
{
    edge_api_stop(); /* interactions */
    collapse_table_free(&edge_g.collapse);
    store_close(&edge_g.store);
}

static void
edge_main_handle(struct httpd_req *r, void *arg)
{
    struct edge_worker *w;

    CAST_OBJ_NOTNULL(w, node_worker_data(arg), EDGE_WORKER_MAGIC);
    if (edge_loop_refuse(r))
        return;
    if (edge_api_handle(w, r)) /* /api/, /events/ (api_proxy.h) */
        return;
    if (edge_player_serve(r, w->conf->player_root, w->conf->player_vendor))
        return;
    edge_proxy_handle(w, r);
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
    .worker_init = edge_worker_init,
    .worker_fini = edge_worker_fini,
    .worker_reload = edge_worker_reload,
    .start = edge_start,
    .stop = edge_stop,
};

int
main(int argc, char **argv)
{
    return node_app_main(&edge_main_spec, argc, argv);
}
