/*
 * bench_httpd.c -- keep-alive throughput of httpd on loopback.
 *
 *   bench_httpd [conns] [seconds] [path] [pipeline]
 *
 * One server thread runs an httpd; one load thread keeps `conns`
 * keep-alive connections busy with `pipeline` requests in flight each and
 * counts whole responses. Paths: /small (5 bytes, copied) and /seg (2 MiB
 * by reference: the zero-copy cache-hit path). Prints requests/s and MB/s.
 * A micro-benchmark to compare builds, not a peer comparison (cascade-bench
 * does that against nginx and Varnish).
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/thread.h>

#include "httpd.h"
#include "mem.h"
#include "compat.h"

#define SEG_LEN (2u << 20)

static char *seg;
static struct event_base *srv_base;
static uint16_t srv_port;

struct load_conn {
    unsigned magic;
#define LOAD_CONN_MAGIC 0x6c6f6164U
    struct bufferevent *bev;
    size_t pending; /* bytes of the current response still expected */
};

static struct {
    const char *req;
    size_t req_len;
    size_t resp_len;
    int pipeline;
    uint64_t responses;
    uint64_t bytes;
} L;

static void
bench_handler(struct httpd_req *r, void *arg)
{
    (void)arg;
    if (strcmp(httpd_req_path(r), "/seg") == 0) {
        httpd_resp_start(r, 200, SEG_LEN);
        if (httpd_resp_add_reference(r, seg, SEG_LEN, NULL, NULL) != 0)
            abort();
        httpd_resp_end(r);
        return;
    }
    httpd_resp_send(r, 200, "text/plain", "hello", 5);
}

static void *
bench_server(void *arg)
{
    (void)arg;
    event_base_dispatch(srv_base);
    return NULL;
}

static void
load_read_cb(struct bufferevent *bev, void *arg)
{
    struct load_conn *lc = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    size_t n = evbuffer_get_length(in);

    L.bytes += n;
    evbuffer_drain(in, n);
    while (n > 0) {
        if (n < lc->pending) {
            lc->pending -= n;
            return;
        }
        n -= lc->pending;
        lc->pending = L.resp_len;
        L.responses++;
        bufferevent_write(bev, L.req, L.req_len);
    }
}

static void
load_stop_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    event_base_loopbreak(arg);
}

/* One blocking request to learn the exact response length. */
static size_t
probe(const struct sockaddr_in *a)
{
    char buf[4096];
    const char *hdr;
    size_t got = 0, head;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ssize_t r;

    if (fd < 0 || connect(fd, (const struct sockaddr *)a, sizeof(*a)) != 0 ||
        write(fd, L.req, L.req_len) != (ssize_t)L.req_len)
        abort();
    while (got < sizeof(buf) - 1 && (r = read(fd, buf + got, sizeof(buf) - 1 - got)) > 0) {
        got += (size_t)r;
        buf[got] = '\0';
        hdr = strstr(buf, "\r\n\r\n");
        if (hdr != NULL) {
            head = (size_t)(hdr + 4 - buf);
            hdr = strstr(buf, "Content-Length: ");
            close(fd);
            return head + strtoul(hdr + 16, NULL, 10);
        }
    }
    abort();
}

int
main(int argc, char **argv)
{
    int conns = argc > 1 ? (int)strtol(argv[1], NULL, 10) : 64;
    int secs = argc > 2 ? (int)strtol(argv[2], NULL, 10) : 3;
    const char *path = argc > 3 ? argv[3] : "/small";
    static char req[256];
    struct sockaddr_in a;
    socklen_t al = sizeof(a);
    struct event_base *base;
    struct load_conn *lcs;
    struct httpd *h;
    struct httpd_conf conf;
    struct event *stop;
    struct timeval tv = {secs, 0};
    struct timespec t0, t1;
    pthread_t th;
    double el;
    int lfd, one = 1, i, j;

    L.pipeline = argc > 4 ? (int)strtol(argv[4], NULL, 10) : 1;
    signal(SIGPIPE, SIG_IGN);
    if (evthread_use_pthreads() != 0) /* the stop crosses threads */
        abort();
    seg = xmalloc(SEG_LEN);
    memset(seg, 's', SEG_LEN);
    L.req_len = (size_t)snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: bench\r\n\r\n", path);
    L.req = req;

    lfd = socket(AF_INET, SOCK_STREAM, 0);
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (lfd < 0 || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        bind(lfd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(lfd, 1024) != 0 ||
        getsockname(lfd, (struct sockaddr *)&a, &al) != 0)
        abort();
    srv_port = ntohs(a.sin_port);
    srv_base = event_base_new();
    httpd_conf_defaults(&conf);
    conf.max_requests_per_conn = 0; /* the load never reconnects */
    h = httpd_new(srv_base, &conf, bench_handler, NULL);
    if (httpd_listen_fd(h, lfd) != 0)
        abort();
    pthread_create(&th, NULL, bench_server, NULL);
    L.resp_len = probe(&a);

    base = event_base_new();
    lcs = xcalloc((size_t)conns, sizeof(*lcs));
    for (i = 0; i < conns; i++) {
        lcs[i].magic = LOAD_CONN_MAGIC;
        lcs[i].bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
        lcs[i].pending = L.resp_len;
        bufferevent_setcb(lcs[i].bev, load_read_cb, NULL, NULL, &lcs[i]);
        bufferevent_enable(lcs[i].bev, EV_READ | EV_WRITE);
        if (bufferevent_socket_connect(lcs[i].bev, (struct sockaddr *)&a, sizeof(a)) != 0)
            abort();
        for (j = 0; j < L.pipeline; j++)
            bufferevent_write(lcs[i].bev, L.req, L.req_len);
    }
    stop = evtimer_new(base, load_stop_cb, base);
    evtimer_add(stop, &tv);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    event_base_dispatch(base);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    el = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    printf("path=%s conns=%d pipeline=%d secs=%.2f requests=%" PRIu64 " rps=%.0f MBps=%.1f\n", path,
           conns, L.pipeline, el, L.responses, (double)L.responses / el,
           (double)L.bytes / el / 1e6);
    for (i = 0; i < conns; i++)
        bufferevent_free(lcs[i].bev);
    event_free(stop);
    event_base_free(base);
    event_base_loopbreak(srv_base);
    pthread_join(th, NULL);
    httpd_free(&h);
    event_base_loop(srv_base, EVLOOP_NONBLOCK);
    event_base_free(srv_base);
    xfree(lcs);
    xfree(seg);
    return 0;
}
