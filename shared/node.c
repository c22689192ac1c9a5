/*
 * node.c -- worker threads, SO_REUSEPORT listeners, signals, reload, drain.
 *
 * Threads: the main thread runs a small event base that only watches
 * signals and reload acknowledgements. Each worker thread runs its own
 * base with one httpd per listen address. Cross-thread messages are
 * event_active() calls on events of the receiving base (libevent is set up
 * with pthread locking), carrying nothing but a pointer published with an
 * atomic store before the call.
 *
 * Config snapshots: the main thread builds a snapshot, publishes it to each
 * worker, and frees the previous one when the last worker has acknowledged
 * the swap -- a worker reads its own w->conf without locks, and that
 * pointer only changes on the worker's thread.
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "node.h"
#include "conf.h"
#include "err.h"
#include "log.h"
#include "mem.h"
#include "metrics.h"
#include "compat.h"

#define NODE_MAX_LISTEN 4
#define NODE_MAX_WORKERS 64

struct node_listen {
    char *addr;                /* owned */
    httpd_handler_fn *handler; /* the binary's */
};

/* What an httpd hands back to node_dispatch(): one per worker and listener. */
struct node_route {
    unsigned magic;
#define NODE_ROUTE_MAGIC 0x6e72746eU
    struct node_worker *w;     /* borrowed: the route lives inside it */
    httpd_handler_fn *handler; /* the binary's */
};

struct node_worker {
    unsigned magic;
#define NODE_WORKER_MAGIC 0x6e77726bU
    unsigned id;
    struct node *node; /* borrowed: owns us */
    pthread_t thread;
    bool started;
    struct event_base *base;              /* owned */
    struct httpd *httpd[NODE_MAX_LISTEN]; /* owned */
    struct node_route route[NODE_MAX_LISTEN];
    unsigned nhttpd;
    unsigned drained;           /* httpds that finished draining */
    const void *conf;           /* borrowed from the node's snapshots */
    void *_Atomic pending_conf; /* published by the main thread */
    struct event *reload_ev;    /* owned; activated by the main thread */
    struct event *stop_ev;      /* owned; activated by the main thread */
    void *data;                 /* the binary's; worker_fini frees it */
    bool draining;
    struct metric *requests; /* node.worker.requests{worker="N"} */
};

struct node {
    unsigned magic;
#define NODE_MAGIC 0x6e6f6465U
    const struct node_ops *ops;
    void *app;         /* borrowed */
    void *conf;        /* owned: current snapshot */
    void *retiring;    /* owned: previous snapshot until all acks */
    bool reload_again; /* a SIGHUP came while one was in flight */
    unsigned nworkers;
    struct node_worker *workers; /* owned array */
    struct node_listen listen[NODE_MAX_LISTEN];
    unsigned nlisten;
    struct event_base *base;                    /* owned: the main thread's */
    struct event *sig_hup, *sig_term, *sig_int; /* owned */
    struct event *ack_ev;                       /* owned: activated by the last worker to ack */
    struct event *stop_ev;                      /* owned: node_stop() from any thread */
    _Atomic unsigned acks;
    _Atomic bool stopping;
    struct metric *reload_ok, *reload_failed, *workers_gauge;
};

static pthread_once_t node_evthread_once = PTHREAD_ONCE_INIT;

static void
node_evthread_init(void)
{
    AZ(evthread_use_pthreads());
}

/* ---- listening sockets ---- */

int
node_listen_socket(const char *addr, int backlog)
{
    struct addrinfo hints, *res = NULL;
    char host[256], portstr[8];
    uint16_t port;
    int fd, one = 1, rc;

    rc = conf_split_addr(addr, host, sizeof(host), &port);
    if (rc != 0)
        return rc;
    (void)snprintf(portstr, sizeof(portstr), "%u", port);
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    rc = getaddrinfo(host[0] != '\0' ? host : NULL, portstr, &hints, &res);
    if (rc != 0 || res == NULL) {
        LOG(LOG_ERR, "node", "resolve_failed", "conn=0 addr=%s err=\"%s\"", addr, gai_strerror(rc));
        return ERR_INVAL;
    }
    fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        rc = -errno;
        goto out_free;
    }
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0 ||
        bind(fd, res->ai_addr, res->ai_addrlen) != 0 || listen(fd, backlog) != 0) {
        rc = -errno;
        LOG(LOG_ERR, "node", "listen_failed", "conn=0 addr=%s err=%s", addr, err_name(rc));
        (void)close(fd);
        goto out_free;
    }
    freeaddrinfo(res);
    return fd;

out_free:
    freeaddrinfo(res);
    return rc;
}

/* ---- built-in routes ---- */

void
node_serve_healthz(struct httpd_req *r)
{
    AZ(httpd_resp_header(r, "Cache-Control", "no-store"));
    httpd_resp_send(r, 200, "text/plain; charset=utf-8", "ok\n", 3);
}

void
node_serve_metrics(struct httpd_req *r)
{
    size_t len;
    char *text;

    text = metrics_render(&len);
    AZ(httpd_resp_header(r, "Cache-Control", "no-store"));
    httpd_resp_send(r, 200, "text/plain; version=0.0.4; charset=utf-8", text, len);
    xfree(text);
}

/* SPEC: DASH-IF IOP 4.7 / urn:mpeg:dash:utc:http-iso:2014 -- ISO 8601 UTC with ms. */
void
node_serve_time(struct httpd_req *r)
{
    struct timespec ts;
    struct tm tm;
    char buf[64];
    int n;

    AZ(clock_gettime(CLOCK_REALTIME, &ts));
    AN(gmtime_r(&ts.tv_sec, &tm));
    n = snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
    AZ(httpd_resp_header(r, "Cache-Control", "no-store"));
    AZ(httpd_resp_header(r, "Access-Control-Allow-Origin", "*"));
    httpd_resp_send(r, 200, "text/plain; charset=utf-8", buf, (size_t)n);
}

static void
node_dispatch(struct httpd_req *r, void *arg)
{
    struct node_route *rt;
    const char *path;

    CAST_OBJ_NOTNULL(rt, arg, NODE_ROUTE_MAGIC);
    metric_inc(rt->w->requests);
    path = httpd_req_path(r);
    if (strcmp(path, "/healthz") == 0) {
        if (rt->w->draining)
            httpd_resp_send(r, 503, "text/plain; charset=utf-8", "draining\n", 9);
        else
            node_serve_healthz(r);
        return;
    }
    if (strcmp(path, "/metrics") == 0) {
        node_serve_metrics(r);
        return;
    }
    if (strcmp(path, "/time") == 0) {
        node_serve_time(r);
        return;
    }
    if (rt->handler == NULL) {
        httpd_resp_error(r, 404, "not_found", "no such resource");
        return;
    }
    rt->handler(r, rt->w);
}

/* ---- worker side ---- */

static void
node_worker_drained_cb(void *arg)
{
    struct node_worker *w;

    CAST_OBJ_NOTNULL(w, arg, NODE_WORKER_MAGIC);
    if (++w->drained == w->nhttpd)
        (void)event_base_loopexit(w->base, NULL);
}

static void
node_worker_stop_cb(evutil_socket_t fd, short what, void *arg)
{
    struct node_worker *w;
    uint32_t ms = 30000;
    unsigned i;

    (void)fd;
    (void)what;
    CAST_OBJ_NOTNULL(w, arg, NODE_WORKER_MAGIC);
    if (w->draining)
        return;
    w->draining = true;
    if (w->node->ops->drain_ms != NULL)
        ms = w->node->ops->drain_ms(w->conf);
    LOG(LOG_INFO, "node", "drain_start", "conn=0 worker=%u conns=%u timeout_ms=%u", w->id,
        w->nhttpd > 0 ? httpd_conn_count(w->httpd[0]) : 0, ms);
    if (w->nhttpd == 0) {
        (void)event_base_loopexit(w->base, NULL);
        return;
    }
    for (i = 0; i < w->nhttpd; i++)
        httpd_drain(w->httpd[i], ms, node_worker_drained_cb, w);
}

static void
node_worker_reload_cb(evutil_socket_t fd, short what, void *arg)
{
    struct node_worker *w;
    struct httpd_conf hc;
    struct node *n;
    void *conf;
    unsigned i;

    (void)fd;
    (void)what;
    CAST_OBJ_NOTNULL(w, arg, NODE_WORKER_MAGIC);
    n = w->node;
    conf = atomic_exchange(&w->pending_conf, NULL);
    if (conf == NULL)
        return;
    w->conf = conf;
    n->ops->http_conf(conf, &hc);
    for (i = 0; i < w->nhttpd; i++)
        httpd_set_conf(w->httpd[i], &hc);
    if (n->ops->worker_reload != NULL)
        n->ops->worker_reload(w, conf);
    if (atomic_fetch_add(&n->acks, 1) + 1 == n->nworkers)
        event_active(n->ack_ev, EV_READ, 0);
}

static void *
node_worker_main(void *arg)
{
    struct node_worker *w;
    sigset_t all;

    CAST_OBJ_NOTNULL(w, arg, NODE_WORKER_MAGIC);
    /* Signals belong to the main thread. */
    sigfillset(&all);
    AZ(pthread_sigmask(SIG_BLOCK, &all, NULL));
    if (w->node->ops->worker_init != NULL && w->node->ops->worker_init(w) != 0) {
        LOG(LOG_ERR, "node", "worker_init_failed", "conn=0 worker=%u", w->id);
        node_stop(w->node);
    }
    (void)event_base_dispatch(w->base);
    if (w->node->ops->worker_fini != NULL)
        w->node->ops->worker_fini(w);
    return NULL;
}

/* ---- main side ---- */

static void
node_reload(struct node *n)
{
    struct conf_err err;
    void *conf = NULL;
    unsigned i;

    if (n->retiring != NULL) {
        n->reload_again = true; /* one swap at a time */
        return;
    }
    memset(&err, 0, sizeof(err));
    if (n->ops->load(n->app, &conf, &err) != 0 ||
        (n->ops->reload_check != NULL && n->ops->reload_check(n->conf, conf, &err) != 0)) {
        if (conf != NULL)
            n->ops->conf_free(conf);
        metric_inc(n->reload_failed);
        LOG(LOG_ERR, "node", "reload_failed", "conn=0 err=\"%s\"", err.msg);
        return;
    }
    n->retiring = n->conf;
    n->conf = conf;
    atomic_store(&n->acks, 0);
    for (i = 0; i < n->nworkers; i++) {
        atomic_store(&n->workers[i].pending_conf, conf);
        event_active(n->workers[i].reload_ev, EV_READ, 0);
    }
    metric_inc(n->reload_ok);
    LOG(LOG_INFO, "node", "reloaded", "conn=0 workers=%u", n->nworkers);
}

static void
node_ack_cb(evutil_socket_t fd, short what, void *arg)
{
    struct node *n;

    (void)fd;
    (void)what;
    CAST_OBJ_NOTNULL(n, arg, NODE_MAGIC);
    if (n->retiring != NULL) {
        n->ops->conf_free(n->retiring);
        n->retiring = NULL;
    }
    if (n->reload_again) {
        n->reload_again = false;
        node_reload(n);
    }
}

static void
node_begin_stop(struct node *n)
{
    unsigned i;

    for (i = 0; i < n->nworkers; i++)
        event_active(n->workers[i].stop_ev, EV_READ, 0);
    (void)event_base_loopexit(n->base, NULL);
}

static void
node_signal_cb(evutil_socket_t sig, short what, void *arg)
{
    struct node *n;

    (void)what;
    CAST_OBJ_NOTNULL(n, arg, NODE_MAGIC);
    if (sig == SIGHUP) {
        LOG(LOG_INFO, "node", "sighup", "conn=0");
        node_reload(n);
        return;
    }
    LOG(LOG_INFO, "node", "stopping", "conn=0 signal=%d", (int)sig);
    atomic_store(&n->stopping, true);
    node_begin_stop(n);
}

static void
node_stop_cb(evutil_socket_t fd, short what, void *arg)
{
    struct node *n;

    (void)fd;
    (void)what;
    CAST_OBJ_NOTNULL(n, arg, NODE_MAGIC);
    node_begin_stop(n);
}

void
node_stop(struct node *n)
{
    CHECK_OBJ_NOTNULL(n, NODE_MAGIC);
    if (!atomic_exchange(&n->stopping, true))
        event_active(n->stop_ev, EV_READ, 0);
}

struct node *
node_new(const struct node_ops *ops, void *app, void *conf, unsigned nworkers)
{
    struct node *n;
    long ncpu;

    AN(ops);
    AN(ops->load);
    AN(ops->conf_free);
    AN(ops->http_conf);
    AN(conf);
    AZ(pthread_once(&node_evthread_once, node_evthread_init));
    if (nworkers == 0) {
        ncpu = sysconf(_SC_NPROCESSORS_ONLN);
        nworkers = ncpu > 0 ? (unsigned)ncpu : 1;
    }
    if (nworkers > NODE_MAX_WORKERS)
        nworkers = NODE_MAX_WORKERS;
    n = xcalloc(1, sizeof(*n));
    n->magic = NODE_MAGIC;
    n->ops = ops;
    n->app = app;
    n->conf = conf;
    n->nworkers = nworkers;
    n->workers = xcalloc(nworkers, sizeof(*n->workers));
    n->reload_ok = metrics_counter_l("node.reloads", "Configuration reloads", "result", "ok");
    n->reload_failed =
        metrics_counter_l("node.reloads", "Configuration reloads", "result", "failed");
    n->workers_gauge = metrics_gauge("node.workers", "Worker threads (event loops)");
    metric_set(n->workers_gauge, nworkers);
    return n;
}

int
node_add_http(struct node *n, const char *addr, httpd_handler_fn *handler)
{
    CHECK_OBJ_NOTNULL(n, NODE_MAGIC);
    if (n->nlisten == NODE_MAX_LISTEN)
        return ERR_LIMIT;
    n->listen[n->nlisten].addr = xstrdup(addr);
    n->listen[n->nlisten].handler = handler;
    n->nlisten++;
    return 0;
}

static int
node_worker_setup(struct node *n, struct node_worker *w, unsigned id)
{
    struct httpd_conf hc;
    char label[16];
    unsigned i;
    int fd, rc;

    w->magic = NODE_WORKER_MAGIC;
    w->id = id;
    w->node = n;
    w->conf = n->conf;
    w->base = event_base_new();
    AN(w->base);
    w->reload_ev = event_new(w->base, -1, 0, node_worker_reload_cb, w);
    w->stop_ev = event_new(w->base, -1, 0, node_worker_stop_cb, w);
    AN(w->reload_ev);
    AN(w->stop_ev);
    (void)snprintf(label, sizeof(label), "%u", id);
    w->requests =
        metrics_counter_l("node.worker.requests", "Requests taken by each worker", "worker", label);
    n->ops->http_conf(n->conf, &hc);
    for (i = 0; i < n->nlisten; i++) {
        fd = node_listen_socket(n->listen[i].addr, 4096);
        if (fd < 0)
            return fd;
        w->route[i].magic = NODE_ROUTE_MAGIC;
        w->route[i].w = w;
        w->route[i].handler = n->listen[i].handler;
        w->httpd[i] = httpd_new(w->base, &hc, node_dispatch, &w->route[i]);
        w->nhttpd++;
        rc = httpd_listen_fd(w->httpd[i], fd);
        if (rc != 0)
            return rc;
    }
    return 0;
}

int
node_run(struct node *n)
{
    unsigned i;
    int rc = 0;

    CHECK_OBJ_NOTNULL(n, NODE_MAGIC);
    (void)signal(SIGPIPE, SIG_IGN);
    n->base = event_base_new();
    AN(n->base);
    n->sig_hup = evsignal_new(n->base, SIGHUP, node_signal_cb, n);
    n->sig_term = evsignal_new(n->base, SIGTERM, node_signal_cb, n);
    n->sig_int = evsignal_new(n->base, SIGINT, node_signal_cb, n);
    n->ack_ev = event_new(n->base, -1, 0, node_ack_cb, n);
    n->stop_ev = event_new(n->base, -1, 0, node_stop_cb, n);
    AZ(evsignal_add(n->sig_hup, NULL));
    AZ(evsignal_add(n->sig_term, NULL));
    AZ(evsignal_add(n->sig_int, NULL));

    for (i = 0; i < n->nworkers; i++) {
        rc = node_worker_setup(n, &n->workers[i], i);
        if (rc != 0) {
            LOG(LOG_ERR, "node", "worker_setup_failed", "conn=0 worker=%u err=%s", i, err_name(rc));
            return 1;
        }
    }
    for (i = 0; i < n->nworkers; i++) {
        AZ(pthread_create(&n->workers[i].thread, NULL, node_worker_main, &n->workers[i]));
        n->workers[i].started = true;
    }
    for (i = 0; i < n->nlisten; i++)
        LOG(LOG_INFO, "node", "listening", "conn=0 name=%s addr=%s workers=%u", n->ops->name,
            n->listen[i].addr, n->nworkers);
    (void)event_base_dispatch(n->base);
    for (i = 0; i < n->nworkers; i++) {
        AZ(pthread_join(n->workers[i].thread, NULL));
        n->workers[i].started = false;
    }
    LOG(LOG_INFO, "node", "stopped", "conn=0 name=%s", n->ops->name);
    return 0;
}

void
node_free(struct node **pn)
{
    struct node *n;
    struct node_worker *w;
    unsigned i, j;

    n = *pn;
    *pn = NULL;
    if (n == NULL)
        return;
    CHECK_OBJ(n, NODE_MAGIC);
    for (i = 0; i < n->nworkers; i++) {
        w = &n->workers[i];
        AZ(w->started);
        for (j = 0; j < w->nhttpd; j++)
            httpd_free(&w->httpd[j]);
        if (w->reload_ev != NULL)
            event_free(w->reload_ev);
        if (w->stop_ev != NULL)
            event_free(w->stop_ev);
        if (w->base != NULL)
            event_base_free(w->base);
    }
    xfree(n->workers);
    for (i = 0; i < n->nlisten; i++)
        xfree(n->listen[i].addr);
    if (n->base != NULL) {
        event_free(n->sig_hup);
        event_free(n->sig_term);
        event_free(n->sig_int);
        event_free(n->ack_ev);
        event_free(n->stop_ev);
        event_base_free(n->base);
    }
    if (n->retiring != NULL)
        n->ops->conf_free(n->retiring);
    n->ops->conf_free(n->conf);
    FREE_OBJ(n);
}

unsigned
node_worker_id(const struct node_worker *w)
{
    return w->id;
}

struct event_base *
node_worker_base(const struct node_worker *w)
{
    return w->base;
}

const void *
node_worker_conf(const struct node_worker *w)
{
    return w->conf;
}

void *
node_worker_app(const struct node_worker *w)
{
    return w->node->app;
}

void
node_worker_set_data(struct node_worker *w, void *data)
{
    w->data = data;
}

void *
node_worker_data(const struct node_worker *w)
{
    return w->data;
}

bool
node_worker_draining(const struct node_worker *w)
{
    return w->draining;
}

int
node_worker_conn_reset(struct node_worker *w, uint64_t conn_id)
{
    CHECK_OBJ_NOTNULL(w, NODE_WORKER_MAGIC);
    for (unsigned i = 0; i < w->nhttpd; i++)
        if (httpd_conn_reset(w->httpd[i], conn_id) == 0)
            return 0;
    return ERR_NOTFOUND;
}
