/*
 * http_test.h -- loopback sockets, raw test clients and loop helpers shared
 * by test_httpd.c and test_httpc.c.
 *
 * A raw client is a bufferevent on the test's own event base that collects
 * every byte it receives into `got` (never drained), so a test asserts on
 * the exact bytes on the wire. HT_WAIT() turns the loop until a condition
 * holds or a deadline passes; the caller asserts the condition afterwards.
 * Everything here is freed by the test before UNIT_END_LOOP.
 */
#ifndef CASCADE_HTTP_TEST_H
#define CASCADE_HTTP_TEST_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "unit.h"
#include "mem.h"

static inline uint64_t
ht_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static inline void
ht_tick_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
}

/* One loop turn, returning after at most tick_ms even when nothing happens. */
static inline void
ht_loop_once(struct event_base *base, int tick_ms)
{
    struct event *tick = evtimer_new(base, ht_tick_cb, NULL);
    struct timeval tv = {0, tick_ms * 1000};

    assert_non_null(tick);
    evtimer_add(tick, &tv);
    event_base_loop(base, EVLOOP_ONCE);
    event_free(tick);
}

/* Waits are for conditions, so a loaded CI machine (ASan, 2 shared cores)
 * only makes them slower, never wrong: every deadline is stretched. */
#define HT_SLACK 5
#define HT_WAIT(base, cond, ms)                                                                    \
    do {                                                                                           \
        uint64_t ht_deadline_ = ht_now_ms() + HT_SLACK * (uint64_t)(ms);                           \
        while (!(cond) && ht_now_ms() < ht_deadline_)                                              \
            ht_loop_once((base), 5);                                                               \
    } while (0)

/* Turns the loop for ms whatever happens. */
static inline void
ht_spin(struct event_base *base, int ms)
{
    uint64_t deadline = ht_now_ms() + (uint64_t)ms;

    while (ht_now_ms() < deadline)
        ht_loop_once(base, 5);
}

/* Lets libevent finish what it deferred (bufferevent finalizers). */
static inline void
ht_settle(struct event_base *base)
{
    int i;

    for (i = 0; i < 50; i++)
        if (event_base_loop(base, EVLOOP_NONBLOCK) == 1)
            return;
}

/* A listening socket on 127.0.0.1 with an ephemeral port. */
static inline int
ht_listen(uint16_t *port, int backlog)
{
    struct sockaddr_in a;
    socklen_t al = sizeof(a);
    int fd, one = 1;

    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    assert_int_equal(0, setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)));
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(0, bind(fd, (struct sockaddr *)&a, sizeof(a)));
    assert_int_equal(0, listen(fd, backlog));
    assert_int_equal(0, getsockname(fd, (struct sockaddr *)&a, &al));
    *port = ntohs(a.sin_port);
    return fd;
}

static inline struct sockaddr_in
ht_addr(uint16_t port)
{
    struct sockaddr_in a;

    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port);
    return a;
}

struct ht_client {
    unsigned magic;
#define HT_CLIENT_MAGIC 0x6874636cU
    struct bufferevent *bev; /* owned */
    struct evbuffer *got;    /* owned: every byte received */
    char *text;              /* owned: the last ht_client_text() */
    int fd;
    bool eof;
    bool err;
    bool reading;
};

static inline void
ht_client_read_cb(struct bufferevent *bev, void *arg)
{
    struct ht_client *c = arg;

    assert_int_equal(HT_CLIENT_MAGIC, c->magic);
    evbuffer_add_buffer(c->got, bufferevent_get_input(bev));
}

static inline void
ht_client_event_cb(struct bufferevent *bev, short what, void *arg)
{
    struct ht_client *c = arg;

    (void)bev;
    assert_int_equal(HT_CLIENT_MAGIC, c->magic);
    if (what & BEV_EVENT_EOF)
        c->eof = true;
    if (what & BEV_EVENT_ERROR)
        c->err = true;
}

/* Connects (blocking: loopback completes from the backlog) and starts reading. */
static inline struct ht_client *
ht_client_new(struct event_base *base, uint16_t port, int rcvbuf)
{
    struct ht_client *c = xcalloc(1, sizeof(*c));
    struct sockaddr_in a = ht_addr(port);

    c->magic = HT_CLIENT_MAGIC;
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(c->fd >= 0);
    if (rcvbuf > 0)
        assert_int_equal(0, setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf)));
    assert_int_equal(0, connect(c->fd, (struct sockaddr *)&a, sizeof(a)));
    assert_int_equal(0, evutil_make_socket_nonblocking(c->fd));
    c->bev = bufferevent_socket_new(base, c->fd, BEV_OPT_CLOSE_ON_FREE);
    assert_non_null(c->bev);
    c->got = evbuffer_new();
    bufferevent_setcb(c->bev, ht_client_read_cb, NULL, ht_client_event_cb, c);
    bufferevent_enable(c->bev, EV_READ | EV_WRITE);
    c->reading = true;
    return c;
}

static inline void
ht_client_send_n(struct ht_client *c, const void *p, size_t n)
{
    assert_int_equal(0, bufferevent_write(c->bev, p, n));
}

static inline void
ht_client_send(struct ht_client *c, const char *s)
{
    ht_client_send_n(c, s, strlen(s));
}

static inline void
ht_client_reading(struct ht_client *c, bool on)
{
    c->reading = on;
    if (on)
        bufferevent_enable(c->bev, EV_READ);
    else
        bufferevent_disable(c->bev, EV_READ);
}

static inline size_t
ht_client_len(const struct ht_client *c)
{
    return evbuffer_get_length(c->got);
}

/* What the client received so far, NUL-terminated; valid until the next call. */
static inline const char *
ht_client_text(struct ht_client *c)
{
    size_t n = evbuffer_get_length(c->got);

    xfree(c->text);
    c->text = xmalloc(n + 1);
    assert_int_equal((ev_ssize_t)n, evbuffer_copyout(c->got, c->text, n));
    c->text[n] = '\0';
    return c->text;
}

/* Forgets what was received (after the test has looked at it). */
static inline void
ht_client_clear(struct ht_client *c)
{
    evbuffer_drain(c->got, evbuffer_get_length(c->got));
}

/* Closes abortively: SO_LINGER 0 makes close() send a RST. */
static inline void
ht_client_reset(struct ht_client *c)
{
    struct linger lg = {1, 0};

    assert_int_equal(0, setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)));
}

static inline void
ht_client_free(struct ht_client **pc)
{
    struct ht_client *c = *pc;

    if (c == NULL)
        return;
    *pc = NULL;
    bufferevent_free(c->bev);
    evbuffer_free(c->got);
    xfree(c->text);
    c->magic = 0;
    xfree(c);
}

static inline int
ht_count(const char *hay, const char *needle)
{
    int n = 0;
    size_t l = strlen(needle);

    while ((hay = strstr(hay, needle)) != NULL) {
        n++;
        hay += l;
    }
    return n;
}

#endif
