/*
 * test_httpc.c -- the HTTP/1.1 client against real loopback servers.
 *
 * Two upstreams share the test's event base: an httpd (the well-behaved
 * one, whose handler can hold, stream, short-change or close) and a raw
 * scripted server for what httpd never does (EOF-delimited bodies,
 * closing a reused connection without an answer, stalls, 1xx, garbage).
 * Checked: pool reuse (counted as server-side accepts), chunked, HEAD,
 * close-delimited bodies, Connection: close, connect/header/body timeouts,
 * truncated bodies, the retryable flag, pause/resume, the queue bound,
 * cancel from everywhere, and that callbacks never run inside
 * httpc_request().
 */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/listener.h>

#include "http_test.h"
#include "err.h"
#include "fault.h"
#include "httpc.h"
#include "httpd.h"
#include "metrics.h"
#include "compat.h"

#define BIG_CHUNK 16384
#define MAX_REQS 8

enum raw_mode {
    RAW_EOF_BODY = 1, /* 200 without length, body until close */
    RAW_CLOSE_SECOND, /* answers the first request, closes on the second */
    RAW_CLOSE_FIRST,  /* closes on the first request without a byte */
    RAW_STALL_BODY,   /* sends the head and 3 of 10 body bytes, then nothing */
    RAW_INTERIM,      /* 100 and 103 before the final answer */
    RAW_GARBAGE,      /* an invalid status line */
    RAW_EXTRA_BYTES,  /* a complete answer followed by stray bytes */
};

struct rec {
    int heads, dones, err;
    int status;
    int64_t cl;
    bool retryable;
    char body[4096];
    size_t body_len, body_total;
    int body_calls;
    bool cancel_in_body;
    bool pause_in_body;
    char hdr[64];
    struct httpc_req *req;
    /* a streamed request body */
    uint64_t total;     /* bytes to produce */
    size_t max_queued;  /* most bytes ever queued in httpc */
    int writable_calls; /* on_writable */
    bool ended;         /* httpc_req_body_end() was called */
};

static struct {
    struct event_base *base;
    struct httpd *h;
    uint16_t port;
    struct httpc *c;
    struct rec rec[MAX_REQS];
    uint64_t conn_ids[16];
    int nids;
    struct httpd_req *held;
    struct httpd_req *later;
    struct event *later_ev;
    struct event *resume_ev;
    uint64_t big_total;
    /* the raw server */
    struct evconnlistener *raw;
    uint16_t raw_port;
    enum raw_mode raw_mode;
    struct bufferevent *raw_bev[8];
    int raw_conns;
    int raw_reqs;
    bool in_request; /* inside httpc_request(): no callback may run */
    /* the /sink upstream: reads a body, checking its pattern */
    struct httpd_req *sink;
    uint64_t sink_bytes, sink_pause_at;
    bool sink_paused, sink_bad;
    int sink_ends, sink_err;
} T;

static char big_data[BIG_CHUNK];

/* ---- the httpd upstream ---- */

static void
held_closed(struct httpd_req *r, void *arg)
{
    (void)r;
    (void)arg;
    T.held = NULL;
}

static void
later_closed(struct httpd_req *r, void *arg)
{
    (void)r;
    (void)arg;
    T.later = NULL;
}

static void
later_fire(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    if (T.later != NULL)
        httpd_resp_send(T.later, 200, "text/plain", "late", 4);
    T.later = NULL;
}

static void
echo_data(struct httpd_req *r, const void *data, size_t len, void *arg)
{
    (void)arg;
    if (!httpd_resp_writable(r))
        fail_msg("echo: not writable");
    assert_int_equal(0, httpd_resp_write(r, data, len));
}

static void
echo_end(struct httpd_req *r, int err, void *arg)
{
    (void)arg;
    assert_int_equal(0, err);
    httpd_resp_end(r);
}

/* Streamed bodies carry byte i = i % 251, so the sink can check order. */
static uint8_t
pattern_at(uint64_t i)
{
    return (uint8_t)(i % 251);
}

static void
sink_data(struct httpd_req *r, const void *data, size_t len, void *arg)
{
    const uint8_t *p = data;
    size_t i;

    (void)arg;
    for (i = 0; i < len; i++)
        if (p[i] != pattern_at(T.sink_bytes + i))
            T.sink_bad = true;
    T.sink_bytes += len;
    if (T.sink_pause_at != 0 && T.sink_bytes >= T.sink_pause_at && !T.sink_paused) {
        T.sink_paused = true;
        httpd_req_body_pause(r, true);
    }
}

static void
sink_end(struct httpd_req *r, int err, void *arg)
{
    char buf[32];

    (void)arg;
    T.sink_ends++;
    T.sink_err = err;
    if (err != 0)
        return;
    snprintf(buf, sizeof(buf), "%" PRIu64, T.sink_bytes);
    httpd_resp_send(r, 200, "text/plain", buf, strlen(buf));
}

static void
sink_closed(struct httpd_req *r, void *arg)
{
    (void)r;
    (void)arg;
    T.sink = NULL;
}

static void
srv_handler(struct httpd_req *r, void *arg)
{
    const char *p = httpd_req_path(r);
    struct timeval tv = {0, 50 * 1000};
    char buf[64];
    uint64_t sent;
    size_t n;

    (void)arg;
    T.conn_ids[T.nids++ % 16] = httpd_req_conn_id(r);
    if (strcmp(p, "/hello") == 0) {
        httpd_resp_send(r, 200, "text/plain", "hello", 5);
    } else if (strcmp(p, "/connid") == 0) {
        snprintf(buf, sizeof(buf), "%" PRIu64, httpd_req_conn_id(r));
        httpd_resp_send(r, 200, "text/plain", buf, strlen(buf));
    } else if (strcmp(p, "/chunked") == 0) {
        httpd_resp_start(r, 200, -1);
        assert_int_equal(0, httpd_resp_write(r, "hello", 5));
        assert_int_equal(0, httpd_resp_write(r, " world", 6));
        httpd_resp_end(r);
    } else if (strcmp(p, "/close") == 0) {
        assert_int_equal(0, httpd_resp_header(r, "Connection", "close"));
        httpd_resp_send(r, 200, "text/plain", "bye", 3);
    } else if (strcmp(p, "/hold") == 0) {
        T.held = r;
        httpd_req_on_close(r, held_closed, NULL);
    } else if (strcmp(p, "/later") == 0) {
        T.later = r;
        httpd_req_on_close(r, later_closed, NULL);
        evtimer_add(T.later_ev, &tv);
    } else if (strcmp(p, "/short") == 0) {
        httpd_resp_start(r, 200, 100);
        assert_int_equal(0, httpd_resp_write(r, big_data, 50));
        httpd_resp_end(r);
    } else if (strcmp(p, "/big") == 0) {
        /* Queued at once: the client side's pause is what is tested. */
        httpd_resp_start(r, 200, (int64_t)T.big_total);
        for (sent = 0; sent < T.big_total; sent += n) {
            n = T.big_total - sent < BIG_CHUNK ? (size_t)(T.big_total - sent) : BIG_CHUNK;
            assert_int_equal(0, httpd_resp_write(r, big_data, n));
        }
        httpd_resp_end(r);
    } else if (strcmp(p, "/echo") == 0) {
        httpd_resp_start(r, 200, -1);
        httpd_req_read_body(r, echo_data, echo_end, NULL);
    } else if (strcmp(p, "/sink") == 0) {
        T.sink = r;
        httpd_req_on_close(r, sink_closed, NULL);
        httpd_req_read_body(r, sink_data, sink_end, NULL);
    } else if (strcmp(p, "/hdr") == 0) {
        const char *v = httpd_req_header(r, "Host");
        snprintf(buf, sizeof(buf), "%s|%s", v != NULL ? v : "-",
                 httpd_req_header(r, "X-Test") != NULL ? httpd_req_header(r, "X-Test") : "-");
        httpd_resp_send(r, 200, "text/plain", buf, strlen(buf));
    } else {
        httpd_resp_error(r, 404, "not_found", "no such path");
    }
}

/* ---- the raw upstream ---- */

static void
raw_close(struct bufferevent *bev)
{
    int i;

    for (i = 0; i < 8; i++)
        if (T.raw_bev[i] == bev)
            T.raw_bev[i] = NULL;
    bufferevent_free(bev);
}

static void
raw_write_cb(struct bufferevent *bev, void *arg)
{
    (void)arg;
    /* (The first write callback comes on accept, before any answer.) */
    if (T.raw_mode == RAW_EOF_BODY && T.raw_reqs > 0 &&
        evbuffer_get_length(bufferevent_get_output(bev)) == 0)
        raw_close(bev);
}

static void
raw_read_cb(struct bufferevent *bev, void *arg)
{
    struct evbuffer *in = bufferevent_get_input(bev);
    struct evbuffer_ptr pos;
    static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

    (void)arg;
    for (;;) {
        pos = evbuffer_search(in, "\r\n\r\n", 4, NULL);
        if (pos.pos < 0)
            return;
        evbuffer_drain(in, (size_t)pos.pos + 4);
        T.raw_reqs++;
        switch (T.raw_mode) {
        case RAW_EOF_BODY:
            bufferevent_write(bev, "HTTP/1.1 200 OK\r\n\r\nabcdef", 25);
            return;
        case RAW_CLOSE_SECOND:
            if (T.raw_reqs >= 2) {
                raw_close(bev);
                return;
            }
            bufferevent_write(bev, ok, sizeof(ok) - 1);
            break;
        case RAW_CLOSE_FIRST:
            raw_close(bev);
            return;
        case RAW_STALL_BODY:
            bufferevent_write(bev, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc",
                              strlen("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"));
            return;
        case RAW_INTERIM: {
            static const char s[] =
                "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\n"
                "Link: </a>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
            bufferevent_write(bev, s, sizeof(s) - 1);
            break;
        }
        case RAW_GARBAGE:
            bufferevent_write(bev, "HTTP/1.1 2x0 OK\r\n\r\n", 19);
            return;
        case RAW_EXTRA_BYTES:
            bufferevent_write(bev, ok, sizeof(ok) - 1);
            bufferevent_write(bev, "junk", 4);
            break;
        }
    }
}

static void
raw_event_cb(struct bufferevent *bev, short what, void *arg)
{
    (void)arg;
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
        raw_close(bev);
}

static void
raw_accept(struct evconnlistener *lev, evutil_socket_t fd, struct sockaddr *sa, int salen,
           void *arg)
{
    struct bufferevent *bev;
    int i;

    (void)lev;
    (void)sa;
    (void)salen;
    (void)arg;
    bev = bufferevent_socket_new(T.base, fd, BEV_OPT_CLOSE_ON_FREE);
    assert_non_null(bev);
    for (i = 0; i < 8 && T.raw_bev[i] != NULL; i++)
        ;
    assert_true(i < 8);
    T.raw_bev[i] = bev;
    T.raw_conns++;
    bufferevent_setcb(bev, raw_read_cb, raw_write_cb, raw_event_cb, NULL);
    bufferevent_enable(bev, EV_READ | EV_WRITE);
}

static void
raw_start(enum raw_mode mode)
{
    int fd = ht_listen(&T.raw_port, 16);

    T.raw_mode = mode;
    T.raw_reqs = 0;
    T.raw_conns = 0;
    assert_int_equal(0, evutil_make_socket_nonblocking(fd));
    T.raw = evconnlistener_new(T.base, raw_accept, NULL, LEV_OPT_CLOSE_ON_FREE, 0, fd);
    assert_non_null(T.raw);
}

static void
raw_stop(void)
{
    int i;

    for (i = 0; i < 8; i++)
        if (T.raw_bev[i] != NULL)
            raw_close(T.raw_bev[i]);
    if (T.raw != NULL)
        evconnlistener_free(T.raw);
    T.raw = NULL;
}

/* ---- the client's callbacks: record everything ---- */

static void
resume_fire(evutil_socket_t fd, short what, void *arg)
{
    struct rec *rec = arg;

    (void)fd;
    (void)what;
    if (rec->req != NULL)
        httpc_req_pause(rec->req, false);
}

static void
on_head(struct httpc_req *r, void *arg)
{
    struct rec *rec = arg;
    const char *v;

    assert_false(T.in_request);
    rec->heads++;
    rec->status = httpc_resp_status(r);
    rec->cl = httpc_resp_content_length(r);
    v = httpc_resp_header(r, "content-type");
    snprintf(rec->hdr, sizeof(rec->hdr), "%s", v != NULL ? v : "");
}

static void
on_body(struct httpc_req *r, const void *data, size_t len, void *arg)
{
    struct rec *rec = arg;
    struct timeval tv = {0, 50 * 1000};
    size_t n;

    assert_false(T.in_request);
    rec->body_calls++;
    n = len < sizeof(rec->body) - rec->body_len ? len : sizeof(rec->body) - rec->body_len;
    memcpy(rec->body + rec->body_len, data, n);
    rec->body_len += n;
    rec->body_total += len;
    if (rec->cancel_in_body) {
        httpc_req_cancel(&rec->req);
        return;
    }
    if (rec->pause_in_body) {
        rec->pause_in_body = false;
        httpc_req_pause(r, true);
        evtimer_assign(T.resume_ev, T.base, resume_fire, rec);
        evtimer_add(T.resume_ev, &tv);
    }
}

static void
on_done(struct httpc_req *r, int err, void *arg)
{
    struct rec *rec = arg;

    assert_false(T.in_request);
    rec->dones++;
    rec->err = err;
    rec->retryable = httpc_req_retryable(r);
    rec->req = NULL;
}

static const struct httpc_cbs cbs = {on_head, on_body, on_done, NULL};

/* Produces rec's body in 16 KiB pieces while httpc takes them. */
static void
produce(struct rec *rec)
{
    uint8_t buf[BIG_CHUNK];
    uint64_t w;
    size_t i, n, q;

    while (rec->req != NULL && !rec->ended && httpc_req_body_writable(rec->req)) {
        w = httpc_req_body_written(rec->req);
        if (w == rec->total) {
            assert_int_equal(0, httpc_req_body_end(rec->req));
            rec->ended = true;
            return;
        }
        n = rec->total - w < sizeof(buf) ? (size_t)(rec->total - w) : sizeof(buf);
        for (i = 0; i < n; i++)
            buf[i] = pattern_at(w + i);
        assert_int_equal(0, httpc_req_body_write(rec->req, buf, n));
        q = httpc_req_body_queued(rec->req);
        if (q > rec->max_queued)
            rec->max_queued = q;
    }
}

static void
on_writable(struct httpc_req *r, void *arg)
{
    struct rec *rec = arg;

    assert_false(T.in_request);
    assert_ptr_equal(r, rec->req);
    rec->writable_calls++;
    produce(rec);
}

static const struct httpc_cbs scbs = {on_head, on_body, on_done, on_writable};

static struct httpc_req *
req_stream(int i, uint16_t port, const char *target, uint64_t total)
{
    struct sockaddr_in a = ht_addr(port);
    struct httpc_req *r;

    T.in_request = true;
    r = httpc_request_stream(T.c, (struct sockaddr *)&a, sizeof(a), "POST", target, NULL, total,
                             &scbs, &T.rec[i]);
    T.in_request = false;
    assert_non_null(r);
    T.rec[i].req = r;
    T.rec[i].total = total;
    return r;
}

static struct httpc_req *
req(int i, uint16_t port, const char *method, const char *target)
{
    struct sockaddr_in a = ht_addr(port);
    struct httpc_req *r;

    T.in_request = true;
    r = httpc_request(T.c, (struct sockaddr *)&a, sizeof(a), method, target, NULL, NULL, 0, &cbs,
                      &T.rec[i]);
    T.in_request = false;
    assert_non_null(r);
    T.rec[i].req = r;
    return r;
}

/* ---- set-up ---- */

static void
tc_start(const struct httpc_conf *cconf, const struct httpd_conf *sconf)
{
    int fd;

    memset(&T, 0, sizeof(T));
    T.base = event_base_new();
    assert_non_null(T.base);
    T.later_ev = evtimer_new(T.base, later_fire, NULL);
    T.resume_ev = evtimer_new(T.base, resume_fire, NULL);
    T.h = httpd_new(T.base, sconf, srv_handler, NULL);
    fd = ht_listen(&T.port, 128);
    assert_int_equal(0, httpd_listen_fd(T.h, fd));
    T.c = httpc_new(T.base, cconf);
    assert_non_null(T.c);
}

static void
tc_stop(int64_t live)
{
    httpc_free(&T.c);
    httpd_free(&T.h);
    raw_stop();
    event_free(T.later_ev);
    event_free(T.resume_ev);
    ht_settle(T.base);
    UNIT_END_LOOP(T.base, live);
    event_base_free(T.base);
}

static int64_t
accepted(void)
{
    return metric_value(metrics_counter("http.connections.accepted", "Connections accepted"));
}

/* ---- tests ---- */

static void
test_httpc_get_and_pool_reuse(void **state)
{
    int64_t live = mem_live(), acc;

    (void)state;
    tc_start(NULL, NULL);
    acc = accepted();
    req(0, T.port, "GET", "/hello");
    assert_int_equal(0, T.rec[0].dones); /* never from inside httpc_request() */
    assert_int_equal(1, httpc_active_count(T.c));
    HT_WAIT(T.base, T.rec[0].dones == 1, 2000);
    assert_int_equal(1, T.rec[0].heads);
    assert_int_equal(0, T.rec[0].err);
    assert_int_equal(200, T.rec[0].status);
    assert_int_equal(5, T.rec[0].cl);
    assert_string_equal("text/plain", T.rec[0].hdr);
    assert_int_equal(5, T.rec[0].body_len);
    assert_memory_equal("hello", T.rec[0].body, 5);
    assert_int_equal(1, httpc_idle_count(T.c));
    assert_int_equal(0, httpc_active_count(T.c));

    /* The second request takes the pooled connection: one accept only. */
    req(1, T.port, "GET", "/connid");
    HT_WAIT(T.base, T.rec[1].dones == 1, 2000);
    assert_int_equal(0, T.rec[1].err);
    assert_int_equal(acc + 1, accepted());
    assert_true(T.conn_ids[0] == T.conn_ids[1]);
    assert_int_equal(1, httpc_idle_count(T.c));

    /* Host is added from the address; caller headers go out as given. */
    {
        struct sockaddr_in a = ht_addr(T.port);
        static const char *const hdrs[] = {"X-Test", "v 1", NULL};
        assert_non_null(httpc_request(T.c, (struct sockaddr *)&a, sizeof(a), "GET", "/hdr", hdrs,
                                      NULL, 0, &cbs, &T.rec[2]));
        HT_WAIT(T.base, T.rec[2].dones == 1, 2000);
        T.rec[2].body[T.rec[2].body_len] = '\0';
        assert_true(strncmp(T.rec[2].body, "127.0.0.1:", 10) == 0);
        assert_non_null(strstr(T.rec[2].body, "|v 1"));
    }
    assert_int_equal(acc + 1, accepted());
    tc_stop(live);
}

static void
test_httpc_chunked_head_eof_close(void **state)
{
    int64_t live = mem_live(), acc;

    (void)state;
    tc_start(NULL, NULL);
    acc = accepted();
    req(0, T.port, "GET", "/chunked");
    HT_WAIT(T.base, T.rec[0].dones == 1, 2000);
    assert_int_equal(0, T.rec[0].err);
    assert_int_equal(-1, T.rec[0].cl);
    assert_int_equal(11, T.rec[0].body_len);
    assert_memory_equal("hello world", T.rec[0].body, 11);

    /* HEAD: a length but no body; the connection stays usable. */
    req(1, T.port, "HEAD", "/hello");
    HT_WAIT(T.base, T.rec[1].dones == 1, 2000);
    assert_int_equal(0, T.rec[1].err);
    assert_int_equal(5, T.rec[1].cl);
    assert_int_equal(0, T.rec[1].body_calls);
    req(2, T.port, "GET", "/hello");
    HT_WAIT(T.base, T.rec[2].dones == 1, 2000);
    assert_int_equal(0, T.rec[2].err);
    assert_int_equal(5, T.rec[2].body_len);
    assert_int_equal(acc + 1, accepted());

    /* Connection: close is honoured: not pooled. */
    req(3, T.port, "GET", "/close");
    HT_WAIT(T.base, T.rec[3].dones == 1, 2000);
    assert_int_equal(0, T.rec[3].err);
    assert_memory_equal("bye", T.rec[3].body, 3);
    assert_int_equal(0, httpc_idle_count(T.c));

    /* A body delimited by the close. */
    raw_start(RAW_EOF_BODY);
    req(4, T.raw_port, "GET", "/eof");
    HT_WAIT(T.base, T.rec[4].dones == 1, 2000);
    assert_int_equal(0, T.rec[4].err);
    assert_int_equal(-1, T.rec[4].cl);
    assert_int_equal(6, T.rec[4].body_len);
    assert_memory_equal("abcdef", T.rec[4].body, 6);
    assert_int_equal(0, httpc_idle_count(T.c));
    tc_stop(live);
}

static void
test_httpc_interim_garbage_extra(void **state)
{
    int64_t live = mem_live();

    (void)state;
    tc_start(NULL, NULL);
    raw_start(RAW_INTERIM);
    req(0, T.raw_port, "GET", "/");
    HT_WAIT(T.base, T.rec[0].dones == 1, 2000);
    assert_int_equal(0, T.rec[0].err);
    assert_int_equal(1, T.rec[0].heads);
    assert_int_equal(200, T.rec[0].status);
    assert_memory_equal("ok", T.rec[0].body, 2);
    raw_stop();

    raw_start(RAW_GARBAGE);
    req(1, T.raw_port, "GET", "/");
    HT_WAIT(T.base, T.rec[1].dones == 1, 2000);
    assert_int_equal(ERR_UPSTREAM, T.rec[1].err);
    assert_int_equal(0, T.rec[1].heads);
    assert_false(T.rec[1].retryable);
    raw_stop();

    /* Stray bytes after a complete answer: fine for this request, but the
     * connection is not pooled. */
    raw_start(RAW_EXTRA_BYTES);
    req(2, T.raw_port, "GET", "/");
    HT_WAIT(T.base, T.rec[2].dones == 1, 2000);
    assert_int_equal(0, T.rec[2].err);
    ht_spin(T.base, 20);
    assert_int_equal(0, httpc_idle_count(T.c));
    tc_stop(live);
}

static void
test_httpc_timeouts(void **state)
{
    int64_t live = mem_live();
    struct httpc_conf conf;
    struct sockaddr_in a;
    int lfd, fillers[2], i;
    uint16_t port;
    uint64_t t0;

    (void)state;
    httpc_conf_defaults(&conf);
    conf.connect_timeout_ms = 150;
    conf.header_timeout_ms = 150;
    conf.body_timeout_ms = 150;
    tc_start(&conf, NULL);

    /* Header: the server holds the request. */
    t0 = ht_now_ms();
    req(0, T.port, "GET", "/hold");
    HT_WAIT(T.base, T.rec[0].dones == 1, 2000);
    assert_int_equal(ERR_TIMEOUT, T.rec[0].err);
    assert_false(T.rec[0].retryable);
    assert_true(ht_now_ms() - t0 >= 140);
    HT_WAIT(T.base, T.held == NULL, 2000); /* the server saw the close */
    assert_null(T.held);

    /* Body: 3 of 10 bytes, then silence. */
    raw_start(RAW_STALL_BODY);
    req(1, T.raw_port, "GET", "/");
    HT_WAIT(T.base, T.rec[1].dones == 1, 2000);
    assert_int_equal(ERR_TIMEOUT, T.rec[1].err);
    assert_int_equal(1, T.rec[1].heads);
    assert_int_equal(3, T.rec[1].body_len);
    raw_stop();

    /* Connect: a listener whose accept queue is full drops the SYN. */
    lfd = ht_listen(&port, 0);
    a = ht_addr(port);
    for (i = 0; i < 2; i++) {
        fillers[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        assert_true(fillers[i] >= 0);
        assert_true(connect(fillers[i], (struct sockaddr *)&a, sizeof(a)) == 0 ||
                    errno == EINPROGRESS);
    }
    ht_spin(T.base, 20);
    t0 = ht_now_ms();
    req(2, port, "GET", "/");
    HT_WAIT(T.base, T.rec[2].dones == 1, 3000);
    assert_int_equal(ERR_TIMEOUT, T.rec[2].err);
    assert_true(T.rec[2].retryable);
    assert_true(ht_now_ms() - t0 >= 140);
    for (i = 0; i < 2; i++)
        close(fillers[i]);
    close(lfd);
    tc_stop(live);
}

static void
test_httpc_truncated_and_retryable(void **state)
{
    int64_t live = mem_live();
    uint16_t port;
    int fd;

    (void)state;
    tc_start(NULL, NULL);
    /* Declared 100 bytes, 50 came, then the close. */
    req(0, T.port, "GET", "/short");
    HT_WAIT(T.base, T.rec[0].dones == 1, 2000);
    assert_int_equal(ERR_UPSTREAM, T.rec[0].err);
    assert_int_equal(50, T.rec[0].body_total);
    assert_false(T.rec[0].retryable);

    /* A reused connection closed before any answer byte: retryable. */
    raw_start(RAW_CLOSE_SECOND);
    req(1, T.raw_port, "GET", "/one");
    HT_WAIT(T.base, T.rec[1].dones == 1, 2000);
    assert_int_equal(0, T.rec[1].err);
    assert_int_equal(1, httpc_idle_count(T.c));
    req(2, T.raw_port, "GET", "/two");
    HT_WAIT(T.base, T.rec[2].dones == 1, 2000);
    assert_int_equal(ERR_UPSTREAM, T.rec[2].err);
    assert_true(T.rec[2].retryable);
    assert_int_equal(1, T.raw_conns);
    raw_stop();

    /* A fresh connection closed without an answer: not retryable (the
     * upstream may have acted on it). */
    raw_start(RAW_CLOSE_FIRST);
    req(3, T.raw_port, "GET", "/");
    HT_WAIT(T.base, T.rec[3].dones == 1, 2000);
    assert_int_equal(ERR_UPSTREAM, T.rec[3].err);
    assert_false(T.rec[3].retryable);
    raw_stop();

    /* Connection refused: retryable. */
    fd = ht_listen(&port, 1);
    close(fd);
    req(4, port, "GET", "/");
    HT_WAIT(T.base, T.rec[4].dones == 1, 2000);
    assert_int_equal(ERR_UPSTREAM, T.rec[4].err);
    assert_true(T.rec[4].retryable);
    tc_stop(live);
}

static void
test_httpc_pause_resume(void **state)
{
    int64_t live = mem_live();
    int calls;

    (void)state;
    tc_start(NULL, NULL);
    T.big_total = 2u << 20;
    T.rec[0].pause_in_body = true;
    req(0, T.port, "GET", "/big");
    HT_WAIT(T.base, T.rec[0].body_calls >= 1, 2000);
    calls = T.rec[0].body_calls;
    ht_spin(T.base, 30);
    assert_int_equal(calls, T.rec[0].body_calls); /* paused: nothing delivered */
    assert_int_equal(0, T.rec[0].dones);
    HT_WAIT(T.base, T.rec[0].dones == 1, 5000);
    assert_int_equal(0, T.rec[0].err);
    assert_int_equal(T.big_total, T.rec[0].body_total);
    assert_int_equal(1, httpc_idle_count(T.c));
    tc_stop(live);
}

static void
test_httpc_queue_bound(void **state)
{
    int64_t live = mem_live(), acc;
    struct httpc_conf conf;

    (void)state;
    httpc_conf_defaults(&conf);
    conf.max_conns_per_host = 1;
    conf.max_queue_per_host = 1;
    tc_start(&conf, NULL);
    acc = accepted();
    req(0, T.port, "GET", "/later");
    req(1, T.port, "GET", "/connid");
    req(2, T.port, "GET", "/hello");
    assert_int_equal(0, T.rec[2].dones); /* failed from the loop, not here */
    HT_WAIT(T.base, T.rec[2].dones == 1, 2000);
    assert_int_equal(ERR_LIMIT, T.rec[2].err);
    assert_true(T.rec[2].retryable);
    assert_int_equal(0, T.rec[0].dones);
    HT_WAIT(T.base, T.rec[0].dones == 1 && T.rec[1].dones == 1, 2000);
    assert_int_equal(0, T.rec[0].err);
    assert_int_equal(0, T.rec[1].err);
    assert_memory_equal("late", T.rec[0].body, 4);
    assert_true(T.conn_ids[0] == T.conn_ids[1]);
    assert_int_equal(acc + 1, accepted());
    tc_stop(live);
}

static void
test_httpc_cancel(void **state)
{
    int64_t live = mem_live();
    struct httpc_conf conf;
    struct httpc_req *r;

    (void)state;
    httpc_conf_defaults(&conf);
    conf.max_conns_per_host = 1;
    tc_start(&conf, NULL);

    /* Cancel a queued request and the one in flight: no callback at all. */
    req(0, T.port, "GET", "/hold");
    r = req(1, T.port, "GET", "/hello");
    httpc_req_cancel(&r);
    assert_null(r);
    HT_WAIT(T.base, T.held != NULL, 2000);
    httpc_req_cancel(&T.rec[0].req);
    HT_WAIT(T.base, T.held == NULL, 2000);
    assert_null(T.held); /* the server saw the close */
    ht_spin(T.base, 20);
    assert_int_equal(0, T.rec[0].dones + T.rec[1].dones);
    assert_int_equal(0, httpc_active_count(T.c));

    /* Cancel from inside on_body. */
    T.big_total = 1u << 20;
    T.rec[2].cancel_in_body = true;
    req(2, T.port, "GET", "/big");
    HT_WAIT(T.base, T.rec[2].body_calls == 1, 2000);
    ht_spin(T.base, 30);
    assert_int_equal(1, T.rec[2].body_calls);
    assert_int_equal(0, T.rec[2].dones);
    assert_int_equal(0, httpc_active_count(T.c));

    /* A request right after still works. */
    req(3, T.port, "GET", "/hello");
    HT_WAIT(T.base, T.rec[3].dones == 1, 2000);
    assert_int_equal(0, T.rec[3].err);
    tc_stop(live);
}

static void
test_httpc_post_and_invalid(void **state)
{
    int64_t live = mem_live();
    struct sockaddr_in a;
    static const char *const bad_hdr[] = {"X-A", "a\r\nb", NULL};
    static const char *const te_hdr[] = {"Transfer-Encoding", "chunked", NULL};

    (void)state;
    tc_start(NULL, NULL);
    a = ht_addr(T.port);
    T.in_request = true;
    T.rec[0].req = httpc_request(T.c, (struct sockaddr *)&a, sizeof(a), "POST", "/echo", NULL,
                                 "payload", 7, &cbs, &T.rec[0]);
    T.in_request = false;
    assert_non_null(T.rec[0].req);
    HT_WAIT(T.base, T.rec[0].dones == 1, 2000);
    assert_int_equal(0, T.rec[0].err);
    assert_int_equal(7, T.rec[0].body_len);
    assert_memory_equal("payload", T.rec[0].body, 7);

    assert_null(httpc_request(T.c, (struct sockaddr *)&a, sizeof(a), "GE T", "/", NULL, NULL, 0,
                              &cbs, NULL));
    assert_null(httpc_request(T.c, (struct sockaddr *)&a, sizeof(a), "GET", "/a b", NULL, NULL, 0,
                              &cbs, NULL));
    assert_null(httpc_request(T.c, (struct sockaddr *)&a, sizeof(a), "GET", "/", bad_hdr, NULL, 0,
                              &cbs, NULL));
    assert_null(httpc_request(T.c, (struct sockaddr *)&a, sizeof(a), "GET", "/", te_hdr, NULL, 0,
                              &cbs, NULL));
    assert_null(httpc_request(T.c, NULL, 0, "GET", "/", NULL, NULL, 0, &cbs, NULL));
    tc_stop(live);
}

/* A 16 MiB body goes out in pieces: the producer stops at the watermark
 * while the upstream does not read, goes on when it drains, the upstream
 * gets every byte in order and the connection is pooled after. */
static void
test_httpc_body_stream_backpressure(void **state)
{
    int64_t live = mem_live(), acc;
    struct httpc_conf conf;
    struct httpd_conf sconf;
    uint64_t w;
    int calls;

    (void)state;
    httpc_conf_defaults(&conf);
    conf.body_watermark = 64u << 10;
    httpd_conf_defaults(&sconf);
    sconf.max_body = 0;
    tc_start(&conf, &sconf);
    acc = accepted();
    T.sink_pause_at = 1u << 20;
    req_stream(0, T.port, "/sink", 16u << 20);
    produce(&T.rec[0]); /* before the connection is up: queued in the request */
    assert_false(httpc_req_body_writable(T.rec[0].req));
    assert_true(T.rec[0].max_queued <= conf.body_watermark + BIG_CHUNK);
    HT_WAIT(T.base, T.sink_paused, 5000);
    /* The upstream stopped reading: once the socket buffers fill, the
     * producer is held at the watermark. */
    ht_spin(T.base, 100);
    w = httpc_req_body_written(T.rec[0].req);
    calls = T.rec[0].writable_calls;
    ht_spin(T.base, 50);
    assert_int_equal(w, httpc_req_body_written(T.rec[0].req));
    assert_int_equal(calls, T.rec[0].writable_calls);
    assert_true(w < T.rec[0].total);
    assert_false(T.rec[0].ended);
    httpd_req_body_pause(T.sink, false);
    HT_WAIT(T.base, T.rec[0].dones == 1, 10000);
    assert_int_equal(0, T.rec[0].err);
    assert_int_equal(200, T.rec[0].status);
    assert_true(T.rec[0].ended);
    assert_false(T.sink_bad);
    assert_int_equal(16u << 20, T.sink_bytes);
    assert_string_equal("16777216", T.rec[0].body);
    assert_true(T.rec[0].writable_calls > 10);
    assert_true(T.rec[0].max_queued <= conf.body_watermark + BIG_CHUNK);
    assert_int_equal(1, httpc_idle_count(T.c));
    /* the pooled connection carries the next request */
    req(1, T.port, "GET", "/hello");
    HT_WAIT(T.base, T.rec[1].dones == 1, 2000);
    assert_int_equal(0, T.rec[1].err);
    assert_int_equal(acc + 1, accepted());
    tc_stop(live);
}

/* The producer fails midway and cancels: the upstream sees the connection
 * close, and the next request opens a new one. The misuse of the stream
 * calls is refused. */
static void
test_httpc_body_stream_producer_fails(void **state)
{
    int64_t live = mem_live(), acc;
    struct httpd_conf sconf;
    struct sockaddr_in a;
    static const char *const cl_hdr[] = {"Content-Length", "5", NULL};
    uint8_t buf[1000];
    size_t i;

    (void)state;
    httpd_conf_defaults(&sconf);
    sconf.max_body = 0;
    tc_start(NULL, &sconf);
    acc = accepted();
    for (i = 0; i < sizeof(buf); i++)
        buf[i] = pattern_at(i);
    req_stream(0, T.port, "/sink", 100000);
    assert_int_equal(0, httpc_req_body_write(T.rec[0].req, buf, sizeof(buf)));
    assert_int_equal(ERR_PROTO, httpc_req_body_end(T.rec[0].req)); /* short */
    HT_WAIT(T.base, T.sink_bytes == sizeof(buf), 2000);
    httpc_req_cancel(&T.rec[0].req);
    HT_WAIT(T.base, T.sink_ends == 1, 2000);
    assert_int_equal(ERR_CLOSED, T.sink_err);
    assert_int_equal(0, T.rec[0].dones);
    assert_int_equal(0, httpc_idle_count(T.c));
    assert_int_equal(0, httpc_active_count(T.c));

    req(1, T.port, "GET", "/hello");
    HT_WAIT(T.base, T.rec[1].dones == 1, 2000);
    assert_int_equal(0, T.rec[1].err);
    assert_int_equal(acc + 2, accepted()); /* not reused */

    /* misuse */
    T.sink_bytes = 0;
    req_stream(2, T.port, "/sink", 10);
    assert_int_equal(ERR_LIMIT, httpc_req_body_write(T.rec[2].req, buf, 11));
    assert_int_equal(0, httpc_req_body_write(T.rec[2].req, buf, 10));
    assert_int_equal(ERR_LIMIT, httpc_req_body_write(T.rec[2].req, buf, 1));
    assert_int_equal(0, httpc_req_body_end(T.rec[2].req));
    HT_WAIT(T.base, T.rec[2].dones == 1, 2000);
    assert_string_equal("10", T.rec[2].body);
    req(3, T.port, "GET", "/later");
    assert_int_equal(ERR_PROTO, httpc_req_body_write(T.rec[3].req, buf, 1)); /* not streaming */
    HT_WAIT(T.base, T.rec[3].dones == 1, 2000);
    a = ht_addr(T.port);
    assert_null(httpc_request_stream(T.c, (struct sockaddr *)&a, sizeof(a), "POST", "/sink", cl_hdr,
                                     5, &scbs, NULL));
    tc_stop(live);
}

/* A connection refused before any body byte is retryable; after one, not. */
static void
test_httpc_body_stream_retryable(void **state)
{
    int64_t live = mem_live();
    uint16_t dead;
    int fd;

    (void)state;
    tc_start(NULL, NULL);
    fd = ht_listen(&dead, 1);
    close(fd); /* nothing listens on dead now */
    req_stream(0, dead, "/sink", 10);
    HT_WAIT(T.base, T.rec[0].dones == 1, 2000);
    assert_int_equal(ERR_UPSTREAM, T.rec[0].err);
    assert_true(T.rec[0].retryable);
    req_stream(1, dead, "/sink", 10);
    assert_int_equal(0, httpc_req_body_write(T.rec[1].req, "0123", 4));
    HT_WAIT(T.base, T.rec[1].dones == 1, 2000);
    assert_int_equal(ERR_UPSTREAM, T.rec[1].err);
    assert_false(T.rec[1].retryable);
    tc_stop(live);
}

static void
test_httpc_pool_idle_and_server_close(void **state)
{
    int64_t live = mem_live();
    struct httpc_conf conf;
    struct httpd_conf sconf;

    (void)state;
    httpc_conf_defaults(&conf);
    conf.idle_timeout_ms = 100;
    httpd_conf_defaults(&sconf);
    sconf.idle_timeout_ms = 5000;
    tc_start(&conf, &sconf);
    req(0, T.port, "GET", "/hello");
    HT_WAIT(T.base, T.rec[0].dones == 1, 2000);
    assert_int_equal(1, httpc_idle_count(T.c));
    HT_WAIT(T.base, httpc_idle_count(T.c) == 0, 1000); /* our idle timeout */
    assert_int_equal(0, httpc_idle_count(T.c));
    httpc_free(&T.c);

    /* The server closes a pooled connection: the pool notices. */
    conf.idle_timeout_ms = 5000;
    T.c = httpc_new(T.base, &conf);
    sconf.idle_timeout_ms = 100;
    httpd_set_conf(T.h, &sconf);
    req(1, T.port, "GET", "/hello");
    HT_WAIT(T.base, T.rec[1].dones == 1, 2000);
    assert_int_equal(1, httpc_idle_count(T.c));
    HT_WAIT(T.base, httpc_idle_count(T.c) == 0, 1000);
    assert_int_equal(0, httpc_idle_count(T.c));
    tc_stop(live);
}

static void
test_httpc_fault_points(void **state)
{
    int64_t live = mem_live();

    (void)state;
    if (!fault_enabled())
        skip();
    tc_start(NULL, NULL);
    /* httpc.connect: no connection could be made -- retryable. */
    assert_int_equal(0, fault_arm("httpc.connect", 1, false));
    req(0, T.port, "GET", "/hello");
    assert_int_equal(0, T.rec[0].dones);
    HT_WAIT(T.base, T.rec[0].dones == 1, 2000);
    assert_int_equal(ERR_UPSTREAM, T.rec[0].err);
    assert_true(T.rec[0].retryable);
    fault_disarm_all();

    /* httpc.nodelay: the socket could not be set up -- the same as a
     * refused connect, and no connection is left behind. */
    assert_int_equal(0, fault_arm("httpc.nodelay", 1, false));
    req(3, T.port, "GET", "/hello");
    HT_WAIT(T.base, T.rec[3].dones == 1, 2000);
    assert_int_equal(ERR_UPSTREAM, T.rec[3].err);
    assert_true(T.rec[3].retryable);
    assert_int_equal(1, fault_fired("httpc.nodelay"));
    assert_int_equal(0, httpc_idle_count(T.c));
    fault_disarm_all();

    /* httpc.recv: a reset after the first read -- not retryable. */
    T.big_total = 1u << 20;
    assert_int_equal(0, fault_arm("httpc.recv", 2, true));
    req(1, T.port, "GET", "/big");
    HT_WAIT(T.base, T.rec[1].dones == 1, 2000);
    fault_disarm_all();
    assert_int_equal(ERR_UPSTREAM, T.rec[1].err);
    assert_false(T.rec[1].retryable);
    assert_int_equal(1, T.rec[1].heads);
    assert_true(T.rec[1].body_total < T.big_total);

    req(2, T.port, "GET", "/hello");
    HT_WAIT(T.base, T.rec[2].dones == 1, 2000);
    assert_int_equal(0, T.rec[2].err);
    tc_stop(live);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_httpc_get_and_pool_reuse),
        cmocka_unit_test(test_httpc_chunked_head_eof_close),
        cmocka_unit_test(test_httpc_interim_garbage_extra),
        cmocka_unit_test(test_httpc_timeouts),
        cmocka_unit_test(test_httpc_truncated_and_retryable),
        cmocka_unit_test(test_httpc_pause_resume),
        cmocka_unit_test(test_httpc_queue_bound),
        cmocka_unit_test(test_httpc_cancel),
        cmocka_unit_test(test_httpc_post_and_invalid),
        cmocka_unit_test(test_httpc_pool_idle_and_server_close),
        cmocka_unit_test(test_httpc_body_stream_backpressure),
        cmocka_unit_test(test_httpc_body_stream_producer_fails),
        cmocka_unit_test(test_httpc_body_stream_retryable),
        cmocka_unit_test(test_httpc_fault_points),
    };
    struct event_base *base;
    struct httpd *h;
    struct httpc *c;
    size_t i;

    signal(SIGPIPE, SIG_IGN);
    for (i = 0; i < sizeof(big_data); i++)
        big_data[i] = (char)('a' + i % 26);
    /* Register the process-wide metrics before any test counts allocations. */
    base = event_base_new();
    h = httpd_new(base, NULL, srv_handler, NULL);
    c = httpc_new(base, NULL);
    httpc_free(&c);
    httpd_free(&h);
    event_base_free(base);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
