/*
 * upstream.c -- one worker's upstream set (upstream.h): members by name or
 * address, their health, and the order a fetch tries them in.
 *
 * A member is usable when it is up and has at least one address. Its
 * addresses come from a dns_watch (a literal address answers at once from
 * the loop); a failed re-resolution keeps the last good ones (dns.c). With
 * hash ordering every member is also a shield_pick member under its
 * configured "host:port" text, so every edge builds the same ring whatever
 * the addresses are; the ring's up flag mirrors "usable".
 *
 * Health, per member, on this worker:
 *   passive  connect failures, timeouts, 5xx and broken answers counted in
 *            a window of fail_window_ms; max_fails of them mark it down.
 *   active   every health_interval_ms, GET health_path with a deadline of
 *            health_timeout_ms; an answer below 500 is good. fall bad
 *            probes in a row mark it down, rise good ones bring it back.
 * A down member gets no viewer traffic. Without active probes it is given
 * another chance after fail_window_ms. With one member, nothing is marked
 * down and nothing is probed.
 *
 * Metrics are process-wide series labelled upstream="host:port" (every
 * worker adds to the same series): edge.upstream.member_requests,
 * member_failures, member_latency_ms (sum of head latencies), member_active
 * (requests in flight: pool connections in use), member_up (workers that
 * see it up), member_down_events, member_probes, member_probe_failures.
 */
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "conf.h"
#include "dns.h"
#include "err.h"
#include "httpc.h"
#include "log.h"
#include "mem.h"
#include "metrics.h"
#include "upstream.h"
#include "compat.h"

/* libevent flags for a one-shot timer. */
#define UPSTREAM_EV_TIMER 0

struct upstream_member {
    unsigned magic;
#define UPSTREAM_MEMBER_MAGIC 0x75706d62U
    struct upstream_set *set; /* borrowed: the owner */
    unsigned idx;
    char name[64]; /* "host:port" as configured */
    char host[CONF_HOST_MAX + 1];
    uint16_t port;
    struct dns_watch *watch; /* owned */
    struct sockaddr_storage addrs[UPSTREAM_ADDRS_MAX];
    socklen_t lens[UPSTREAM_ADDRS_MAX];
    unsigned naddrs, rr;
    bool up;
    unsigned good, bad;           /* probes in a row */
    unsigned fails;               /* passive failures in the current window */
    uint64_t fail_start;          /* ms: the window's start */
    uint64_t down_ms;             /* ms: when it went down */
    int ring_id;                  /* shield_pick id (hash), or -1 */
    struct event *probe_ev;       /* owned */
    struct httpc_req *probe;      /* owned by the probe httpc until done */
    struct metric *m_requests;    /* edge.upstream.member_requests */
    struct metric *m_failures;    /* edge.upstream.member_failures */
    struct metric *m_latency;     /* edge.upstream.member_latency_ms */
    struct metric *m_head;        /* edge.upstream.member_head_seconds */
    struct metric *m_active;      /* edge.upstream.member_active */
    struct metric *m_up;          /* edge.upstream.member_up */
    struct metric *m_down;        /* edge.upstream.member_down_events */
    struct metric *m_probes;      /* edge.upstream.member_probes */
    struct metric *m_probe_fails; /* edge.upstream.member_probe_failures */
};

struct upstream_set {
    unsigned magic;
#define UPSTREAM_SET_MAGIC 0x75707374U
    struct event_base *base; /* borrowed */
    struct upstream_conf conf;
    char health_path[128];
    uint64_t gen;
    unsigned worker;
    struct httpc *probes;                    /* owned: the probes' own pool and deadlines */
    struct shield_pick *ring;                /* owned; hash only */
    struct upstream_member *m[UPSTREAM_MAX]; /* owned */
    unsigned n;
    int by_ring[SHIELD_PICK_MAX_MEMBERS]; /* ring id -> member index */
    struct metric *m_head;                /* edge.upstream.head_seconds */
};

static atomic_uint_fast64_t upstream_gen_next = 1;

static const double upstream_head_bounds[] = {0.001, 0.005, 0.01, 0.025, 0.05, 0.1,
                                              0.25,  0.5,   1,    2.5,   5,    10};

void
upstream_conf_defaults(struct upstream_conf *c)
{
    memset(c, 0, sizeof(*c));
    c->hash = true;
    shield_pick_conf_defaults(&c->ring);
    c->health_interval_ms = 1000;
    c->health_timeout_ms = 1000;
    c->health_path = "/healthz";
    c->rise = 2;
    c->fall = 2;
    c->max_fails = 3;
    c->fail_window_ms = 10000;
    c->max_idle = 4;
}

static uint64_t
upstream_now_ms(void)
{
    struct timespec ts;

    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static bool
upstream_usable(const struct upstream_member *m)
{
    return m->up && m->naddrs > 0;
}

/* Mirrors "usable" onto the ring. */
static void
upstream_sync_ring(struct upstream_member *m)
{
    if (m->set->ring != NULL && m->ring_id >= 0)
        shield_pick_set_up(m->set->ring, m->ring_id, upstream_usable(m));
}

static void
upstream_mark(struct upstream_member *m, bool up, const char *why)
{
    if (m->up == up)
        return;
    if (!up && m->set->n <= 1)
        return; /* nowhere else to go: a lone upstream is never taken out */
    m->up = up;
    m->good = 0;
    m->bad = 0;
    m->fails = 0;
    m->fail_start = upstream_now_ms();
    if (!up) {
        m->down_ms = m->fail_start;
        metric_inc(m->m_down);
    }
    metric_gauge_add(m->m_up, up ? 1 : -1);
    upstream_sync_ring(m);
    LOG(up ? LOG_INFO : LOG_WARN, "upstream", up ? "member_up" : "member_down",
        "conn=0 worker=%u upstream=%s why=%s", m->set->worker, m->name, why);
}

/* ---- addresses ---- */

static void
upstream_dns_cb(struct dns_watch *wt, const struct dns_answer *a, void *arg)
{
    struct upstream_member *m;
    char buf[64];
    size_t i;

    CAST_OBJ_NOTNULL(m, arg, UPSTREAM_MEMBER_MAGIC);
    (void)wt;
    if (a->n == 0) {
        /* never resolved: nothing to keep (dns.c counted and logged it) */
        m->naddrs = 0;
        upstream_sync_ring(m);
        return;
    }
    m->naddrs = 0;
    for (i = 0; i < a->n && m->naddrs < UPSTREAM_ADDRS_MAX; i++) {
        m->lens[m->naddrs] = dns_addr_with_port(&a->addrs[i], m->port, &m->addrs[m->naddrs]);
        m->naddrs++;
    }
    if (!a->literal && m->set->worker == 0)
        LOG(LOG_INFO, "upstream", "addresses",
            "conn=0 upstream=%s n=%u first=%s stale=%d ttl_ms=%u", m->name, m->naddrs,
            dns_addr_str(&a->addrs[0], buf, sizeof(buf)), a->stale, a->ttl_ms);
    upstream_sync_ring(m);
}

/* ---- active probes ---- */

static void upstream_probe_arm(struct upstream_member *m, uint32_t ms);

static void
upstream_probe_result(struct upstream_member *m, bool good)
{
    metric_inc(m->m_probes);
    if (!good)
        metric_inc(m->m_probe_fails);
    if (good) {
        m->bad = 0;
        m->good++;
        if (!m->up && m->good >= m->set->conf.rise)
            upstream_mark(m, true, "probes");
    } else {
        m->good = 0;
        m->bad++;
        if (m->up && m->bad >= m->set->conf.fall)
            upstream_mark(m, false, "probes");
    }
}

static void
upstream_probe_head(struct httpc_req *hr, void *arg)
{
    (void)hr;
    (void)arg;
}

static void
upstream_probe_body(struct httpc_req *hr, const void *data, size_t len, void *arg)
{
    (void)hr;
    (void)data;
    (void)len;
    (void)arg;
}

static void
upstream_probe_done(struct httpc_req *hr, int err, void *arg)
{
    struct upstream_member *m;
    bool good;

    CAST_OBJ_NOTNULL(m, arg, UPSTREAM_MEMBER_MAGIC);
    assert(m->probe == hr);
    good = err == 0 && httpc_resp_status(hr) < 500;
    m->probe = NULL;
    upstream_probe_result(m, good);
    upstream_probe_arm(m, m->set->conf.health_interval_ms);
}

static const struct httpc_cbs upstream_probe_cbs = {
    .on_head = upstream_probe_head,
    .on_body = upstream_probe_body,
    .on_done = upstream_probe_done,
};

static void
upstream_probe_cb(evutil_socket_t fd, short what, void *arg)
{
    static const char *const hdrs[] = {"User-Agent", "cascade-health", NULL};
    struct upstream_member *m;
    unsigned i;

    (void)fd;
    (void)what;
    CAST_OBJ_NOTNULL(m, arg, UPSTREAM_MEMBER_MAGIC);
    if (m->naddrs == 0) {
        upstream_probe_arm(m, m->set->conf.health_interval_ms);
        return;
    }
    i = m->rr % m->naddrs;
    m->probe = httpc_request(m->set->probes, (const struct sockaddr *)&m->addrs[i], m->lens[i],
                             "GET", m->set->health_path, hdrs, NULL, 0, &upstream_probe_cbs, m);
    if (m->probe == NULL) {
        upstream_probe_result(m, false);
        upstream_probe_arm(m, m->set->conf.health_interval_ms);
    }
}

static void
upstream_probe_arm(struct upstream_member *m, uint32_t ms)
{
    struct timeval tv;

    tv.tv_sec = (time_t)(ms / 1000);
    tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
    if (event_add(m->probe_ev, &tv) != 0)
        XXX_HANDLE(0);
}

/* ---- the set ---- */

static void
upstream_member_metrics(struct upstream_member *m)
{
    const char *l = "upstream";

    m->m_requests = metrics_counter_l("edge.upstream.member_requests",
                                      "Requests sent to each upstream.", l, m->name);
    m->m_failures = metrics_counter_l("edge.upstream.member_failures",
                                      "Failed requests (connect, timeout, 5xx, broken) per "
                                      "upstream.",
                                      l, m->name);
    m->m_latency =
        metrics_counter_l("edge.upstream.member_latency_ms",
                          "Sum of response-head latencies per upstream, ms.", l, m->name);
    m->m_head =
        metrics_histogram_l("edge.upstream.member_head_seconds",
                            "Time from request sent to response head, per upstream.",
                            upstream_head_bounds, ARRAY_SIZE(upstream_head_bounds), l, m->name);
    m->m_active =
        metrics_gauge_l("edge.upstream.member_active",
                        "Requests in flight per upstream (pool connections in use).", l, m->name);
    m->m_up = metrics_gauge_l("edge.upstream.member_up", "Workers that consider the upstream up.",
                              l, m->name);
    m->m_down = metrics_counter_l("edge.upstream.member_down_events",
                                  "Times a worker marked the upstream down.", l, m->name);
    m->m_probes =
        metrics_counter_l("edge.upstream.member_probes", "Health probes sent.", l, m->name);
    m->m_probe_fails = metrics_counter_l("edge.upstream.member_probe_failures",
                                         "Health probes that failed.", l, m->name);
}

static int
upstream_member_new(struct upstream_set *s, struct dns *dns, const char *item, size_t len)
{
    struct upstream_member *m;
    char text[CONF_HOST_MAX + 16];
    int rc;

    if (len >= sizeof(text) || len >= sizeof(m->name)) {
        LOG(LOG_ERR, "upstream", "bad_member", "conn=0 why=too_long len=%zu", len);
        return ERR_CONF;
    }
    memcpy(text, item, len);
    text[len] = '\0';
    m = xcalloc(1, sizeof(*m));
    m->magic = UPSTREAM_MEMBER_MAGIC;
    m->set = s;
    m->idx = s->n;
    m->ring_id = -1;
    m->up = true;
    memcpy(m->name, text, len + 1);
    if (conf_split_addr(text, m->host, sizeof(m->host), &m->port) != 0) {
        LOG(LOG_ERR, "upstream", "bad_member", "conn=0 upstream=%s why=not_host_port", text);
        FREE_OBJ(m);
        return ERR_CONF;
    }
    s->m[s->n++] = m; /* from here on, upstream_set_free() frees it */
    upstream_member_metrics(m);
    metric_gauge_add(m->m_up, 1);
    if (s->ring != NULL) {
        rc = shield_pick_add(s->ring, m->name, SHIELD_PICK_WEIGHT_DEFAULT);
        if (rc < 0) {
            LOG(LOG_ERR, "upstream", "bad_member", "conn=0 upstream=%s why=ring err=%s", m->name,
                err_name(rc));
            return ERR_CONF;
        }
        m->ring_id = rc;
        s->by_ring[rc] = (int)m->idx;
        shield_pick_set_up(s->ring, rc, false); /* until it has an address */
    }
    if (dns == NULL) {
        LOG(LOG_ERR, "upstream", "bad_member", "conn=0 upstream=%s why=no_resolver", m->name);
        return ERR_CONF;
    }
    rc = dns_watch_new(dns, m->host, upstream_dns_cb, m, &m->watch);
    if (rc != 0) {
        LOG(LOG_ERR, "upstream", "bad_member", "conn=0 upstream=%s why=bad_host err=%s", m->name,
            err_name(rc));
        return ERR_CONF;
    }
    m->probe_ev = event_new(s->base, -1, UPSTREAM_EV_TIMER, upstream_probe_cb, m);
    AN(m->probe_ev);
    return 0;
}

int
upstream_set_new(struct event_base *base, struct dns *dns, const struct upstream_conf *conf,
                 const char *list, unsigned worker, struct upstream_set **out)
{
    struct httpc_conf hc;
    struct upstream_set *s;
    const char *p = list, *comma;
    size_t len;
    unsigned i;
    int rc = 0, err = 0;

    s = xcalloc(1, sizeof(*s));
    s->magic = UPSTREAM_SET_MAGIC;
    s->base = base;
    s->conf = *conf;
    s->worker = worker;
    (void)snprintf(s->health_path, sizeof(s->health_path), "%s",
                   conf->health_path != NULL && conf->health_path[0] == '/' ? conf->health_path
                                                                            : "/healthz");
    s->conf.health_path = s->health_path;
    s->gen = atomic_fetch_add(&upstream_gen_next, 1);
    s->m_head = metrics_histogram("edge.upstream.head_seconds",
                                  "Time from request sent to response head, all upstreams.",
                                  upstream_head_bounds, ARRAY_SIZE(upstream_head_bounds));
    if (conf->hash) {
        s->ring = shield_pick_new(&conf->ring, &err);
        if (s->ring == NULL) {
            LOG(LOG_ERR, "upstream", "bad_ring", "conn=0 err=%s", err_name(err));
            FREE_OBJ(s);
            return ERR_CONF;
        }
    }
    httpc_conf_defaults(&hc);
    hc.connect_timeout_ms = conf->health_timeout_ms;
    hc.header_timeout_ms = conf->health_timeout_ms;
    hc.body_timeout_ms = conf->health_timeout_ms;
    hc.max_idle_per_host = conf->max_idle;
    s->probes = httpc_new(base, &hc);
    while (*p != '\0' && rc == 0) {
        comma = strchr(p, ',');
        len = comma != NULL ? (size_t)(comma - p) : strlen(p);
        if (s->n == UPSTREAM_MAX)
            rc = ERR_CONF;
        else if (len > 0)
            rc = upstream_member_new(s, dns, p, len);
        p += len;
        if (*p == ',')
            p++;
    }
    if (rc == 0 && s->n == 0)
        rc = ERR_CONF;
    if (rc != 0) {
        upstream_set_free(&s);
        return rc;
    }
    if (s->n > 1 && conf->health_interval_ms > 0)
        for (i = 0; i < s->n; i++) /* spread the first probes over the interval */
            upstream_probe_arm(s->m[i], 10 + (uint32_t)((uint64_t)conf->health_interval_ms *
                                                        (i + 1) / (s->n + 1)));
    *out = s;
    return 0;
}

void
upstream_set_inherit(struct upstream_set *s, const struct upstream_set *prev)
{
    const struct upstream_member *o;
    struct upstream_member *m;
    unsigned i, j;

    CHECK_OBJ_NOTNULL(s, UPSTREAM_SET_MAGIC);
    CHECK_OBJ_NOTNULL(prev, UPSTREAM_SET_MAGIC);
    for (i = 0; i < s->n; i++) {
        m = s->m[i];
        for (j = 0; j < prev->n; j++) {
            o = prev->m[j];
            if (strcasecmp(m->name, o->name) != 0)
                continue;
            if (m->naddrs == 0 && o->naddrs > 0) {
                memcpy(m->addrs, o->addrs, sizeof(m->addrs));
                memcpy(m->lens, o->lens, sizeof(m->lens));
                m->naddrs = o->naddrs;
            }
            if (!o->up && m->up && s->n > 1) {
                /* the same outage, not a new one: not counted again */
                m->up = false;
                m->down_ms = o->down_ms;
                metric_gauge_add(m->m_up, -1);
            }
            upstream_sync_ring(m);
            break;
        }
    }
}

void
upstream_set_free(struct upstream_set **ps)
{
    struct upstream_set *s = *ps;
    struct upstream_member *m;
    unsigned i;

    if (s == NULL)
        return;
    CHECK_OBJ(s, UPSTREAM_SET_MAGIC);
    *ps = NULL;
    for (i = 0; i < s->n; i++) {
        m = s->m[i];
        if (m->probe != NULL)
            httpc_req_cancel(&m->probe);
        if (m->probe_ev != NULL)
            event_free(m->probe_ev);
        dns_watch_free(&m->watch);
        if (m->up)
            metric_gauge_add(m->m_up, -1);
        FREE_OBJ(m);
    }
    httpc_free(&s->probes);
    shield_pick_free(&s->ring);
    FREE_OBJ(s);
}

unsigned
upstream_count(const struct upstream_set *s)
{
    return s->n;
}

uint64_t
upstream_gen(const struct upstream_set *s)
{
    return s->gen;
}

unsigned
upstream_naddrs(const struct upstream_set *s, unsigned i)
{
    return i < s->n ? s->m[i]->naddrs : 0;
}

bool
upstream_is_up(const struct upstream_set *s, unsigned i)
{
    return i < s->n && s->m[i]->up;
}

const char *
upstream_name(const struct upstream_set *s, unsigned i)
{
    return i < s->n ? s->m[i]->name : NULL;
}

/* Without probes, a down member gets another chance after the failure window. */
static void
upstream_revive(struct upstream_set *s, uint64_t now)
{
    struct upstream_member *m;
    unsigned i;

    if (s->conf.health_interval_ms > 0)
        return;
    for (i = 0; i < s->n; i++) {
        m = s->m[i];
        if (!m->up && now - m->down_ms >= s->conf.fail_window_ms)
            upstream_mark(m, true, "window");
    }
}

/* The try order for key: t->order[0 .. t->norder). */
static void
upstream_order(struct upstream_set *s, const void *key, size_t len, struct upstream_ticket *t)
{
    int ids[UPSTREAM_MAX];
    size_t n, i;
    int first;

    t->norder = 0;
    t->ring_id = -1;
    if (s->ring == NULL) {
        for (i = 0; i < s->n; i++)
            if (upstream_usable(s->m[i]))
                t->order[t->norder++] = (int)i;
        return;
    }
    first = shield_pick_acquire(s->ring, key, len);
    if (first < 0)
        return;
    t->ring_id = first;
    t->order[t->norder++] = s->by_ring[first];
    n = shield_pick_order(s->ring, key, len, ids, ARRAY_SIZE(ids));
    for (i = 0; i < n; i++)
        if (ids[i] != first)
            t->order[t->norder++] = s->by_ring[ids[i]];
}

int
upstream_next(struct upstream_set *s, const void *key, size_t len, struct upstream_ticket *t)
{
    struct upstream_member *m;
    unsigned a;

    CHECK_OBJ_NOTNULL(s, UPSTREAM_SET_MAGIC);
    if (t->gen != s->gen) {
        /* first pick, or the set was rebuilt (reload): start over on this one */
        memset(t, 0, sizeof(*t));
        t->gen = s->gen;
        t->member = -1;
        t->start_ms = upstream_now_ms();
        upstream_revive(s, t->start_ms);
        upstream_order(s, key, len, t);
    }
    while (t->tried < t->norder) {
        m = s->m[t->order[t->tried++]];
        if (m->naddrs == 0)
            continue;
        if (t->tried > 1 && !upstream_usable(m))
            continue; /* went down since the order was made */
        a = m->rr++ % m->naddrs;
        memcpy(&t->ss, &m->addrs[a], m->lens[a]);
        t->len = m->lens[a];
        (void)snprintf(t->name, sizeof(t->name), "%s", m->name);
        t->member = (int)m->idx;
        t->start_ms = upstream_now_ms();
        metric_inc(m->m_requests);
        metric_gauge_add(m->m_active, 1);
        return 0;
    }
    t->member = -1;
    return ERR_NOTFOUND;
}

void
upstream_done(struct upstream_set *s, struct upstream_ticket *t, enum upstream_result result)
{
    struct upstream_member *m;
    uint64_t now, elapsed;

    CHECK_OBJ_NOTNULL(s, UPSTREAM_SET_MAGIC);
    if (t->gen != s->gen || t->member < 0 || (unsigned)t->member >= s->n)
        return;
    m = s->m[t->member];
    now = upstream_now_ms();
    elapsed = now - t->start_ms;
    metric_gauge_add(m->m_active, -1);
    if (s->ring != NULL && t->ring_id >= 0) {
        shield_pick_release(s->ring, t->ring_id);
        t->ring_id = -1;
    }
    t->member = -1;
    switch (result) {
    case UPSTREAM_OK:
        metric_add(m->m_latency, elapsed);
        metric_observe(s->m_head, (double)elapsed / 1000.0);
        metric_observe(m->m_head, (double)elapsed / 1000.0);
        return;
    case UPSTREAM_NEUTRAL:
        return;
    case UPSTREAM_5XX:
        metric_add(m->m_latency, elapsed);
        metric_observe(s->m_head, (double)elapsed / 1000.0);
        metric_observe(m->m_head, (double)elapsed / 1000.0);
        break;
    case UPSTREAM_CONNECT:
    case UPSTREAM_TIMEOUT:
    case UPSTREAM_BROKEN:
    default:
        break;
    }
    metric_inc(m->m_failures);
    if (!m->up)
        return;
    if (now - m->fail_start >= s->conf.fail_window_ms) {
        m->fail_start = now;
        m->fails = 0;
    }
    if (++m->fails >= s->conf.max_fails && s->conf.max_fails > 0)
        upstream_mark(m, false,
                      result == UPSTREAM_5XX       ? "5xx"
                      : result == UPSTREAM_TIMEOUT ? "timeouts"
                                                   : "failures");
}

void
upstream_set_check(const struct upstream_set *s)
{
    unsigned i;

    CHECK_OBJ_NOTNULL(s, UPSTREAM_SET_MAGIC);
    assert(s->n <= UPSTREAM_MAX);
    for (i = 0; i < s->n; i++) {
        CHECK_OBJ_NOTNULL(s->m[i], UPSTREAM_MEMBER_MAGIC);
        assert(s->m[i]->idx == i);
        assert(s->m[i]->naddrs <= UPSTREAM_ADDRS_MAX);
        if (s->ring != NULL) {
            assert(s->m[i]->ring_id >= 0);
            assert(s->by_ring[s->m[i]->ring_id] == (int)i);
            assert(shield_pick_is_up(s->ring, s->m[i]->ring_id) == upstream_usable(s->m[i]));
        }
    }
    if (s->ring != NULL)
        shield_pick_check(s->ring);
}
