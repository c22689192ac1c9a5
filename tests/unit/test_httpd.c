/*
 * test_httpd.c -- the HTTP/1.1 server over real sockets on 127.0.0.1.
 *
 * One event base per test carries the server and raw clients (http_test.h)
 * that send exact bytes and check the exact bytes that come back:
 * keep-alive, pipelining order, chunked both ways, HEAD, 100-continue,
 * parser errors as JSON, the header/idle timeouts, client resets,
 * backpressure, zero-copy cleanup, drain, limits, and what an idle
 * keep-alive connection costs in memory (10,000 of them).
 */
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include "http_test.h"
#include "err.h"
#include "fault.h"
#include "httpd.h"
#include "httpd_int.h"
#include "metrics.h"
#include "compat.h"

#define BIG_CHUNK 16384
#define BIGREF_LEN (4u << 20)

static struct {
    struct event_base *base;
    struct httpd *h;
    uint16_t port;
    int listen_fd;
    int requests;
    uint64_t conn_ids[64];
    int nids;
    struct httpd_req *held; /* /hold */
    int closed;             /* on_close calls */
    struct httpd_req *later;
    struct event *later_ev;
    char body[65536];
    size_t body_len;
    int body_ends;
    int body_err;
    int cleanups;
    uint64_t big_total, big_sent;
    bool saw_unwritable, big_done;
    int writable_calls;
    int drain_done;
    int write_after_close;
    int pause_runs;
    struct event *resume_ev;
    struct httpd_req *paused;
    int hdr_rc[4];
    char seen_path[256], seen_query[256], seen_target[256], seen_method[16], seen_hdr[64],
        seen_peer[64];
    int seen_nhdrs, seen_minor;
    bool seen_query_null;
} T;

static char big_data[BIG_CHUNK];
static char *bigref_data;
static const char ref_data[] = "zero-copy bytes";

/* ---- the handler ---- */

static void
held_closed(struct httpd_req *r, void *arg)
{
    (void)arg;
    assert_ptr_equal(r, T.held);
    T.held = NULL;
    T.closed++;
}

static void
later_closed(struct httpd_req *r, void *arg)
{
    (void)arg;
    assert_ptr_equal(r, T.later);
    T.later = NULL;
    T.closed++;
}

static void
later_fire(evutil_socket_t fd, short what, void *arg)
{
    const char *q;

    (void)fd;
    (void)what;
    (void)arg;
    if (T.later == NULL)
        return;
    q = httpd_req_query(T.later);
    httpd_resp_send(T.later, 200, "text/plain", q, strlen(q));
    T.later = NULL;
}

static void
echo_data(struct httpd_req *r, const void *data, size_t len, void *arg)
{
    (void)r;
    (void)arg;
    assert_true(T.body_len + len <= sizeof(T.body));
    memcpy(T.body + T.body_len, data, len);
    T.body_len += len;
}

static void
echo_end(struct httpd_req *r, int err, void *arg)
{
    size_t half;

    (void)arg;
    T.body_ends++;
    T.body_err = err;
    if (err != 0) {
        httpd_resp_error(r, err == ERR_LIMIT ? 413 : 400, "bad_body", err_str(err));
        return;
    }
    half = T.body_len < 5 ? T.body_len : 5;
    httpd_resp_start(r, 200, -1);
    assert_int_equal(0, httpd_resp_write(r, T.body, half));
    assert_int_equal(0, httpd_resp_write(r, T.body + half, T.body_len - half));
    httpd_resp_end(r);
}

static void
ref_cleanup(const void *data, size_t len, void *arg)
{
    (void)data;
    (void)len;
    (void)arg;
    T.cleanups++;
}

static void big_write(struct httpd_req *r);

static void
big_writable(struct httpd_req *r, void *arg)
{
    (void)arg;
    T.writable_calls++;
    big_write(r);
}

static void
big_write(struct httpd_req *r)
{
    size_t n;

    while (T.big_sent < T.big_total) {
        if (!httpd_resp_writable(r)) {
            T.saw_unwritable = true;
            httpd_req_on_writable(r, big_writable, NULL);
            return;
        }
        n = T.big_total - T.big_sent < BIG_CHUNK ? (size_t)(T.big_total - T.big_sent) : BIG_CHUNK;
        assert_int_equal(0, httpd_resp_write(r, big_data, n));
        T.big_sent += n;
    }
    T.big_done = true;
    httpd_resp_end(r);
}

static void
big_closed(struct httpd_req *r, void *arg)
{
    (void)arg;
    T.closed++;
    T.write_after_close = httpd_resp_write(r, "x", 1);
}

static void
resume_fire(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    if (T.paused != NULL)
        httpd_req_body_pause(T.paused, false);
}

/* Pauses after every run; a timer resumes 20 ms later. */
static void
pause_data(struct httpd_req *r, const void *data, size_t len, void *arg)
{
    struct timeval tv = {0, 20 * 1000};

    (void)arg;
    echo_data(r, data, len, NULL);
    T.pause_runs++;
    T.paused = r;
    httpd_req_body_pause(r, true);
    evtimer_add(T.resume_ev, &tv);
}

static void
pause_end(struct httpd_req *r, int err, void *arg)
{
    char buf[32];

    (void)arg;
    T.paused = NULL;
    T.body_ends++;
    T.body_err = err;
    snprintf(buf, sizeof(buf), "got %zu", T.body_len);
    httpd_resp_send(r, 200, "text/plain", buf, strlen(buf));
}

static void
ts_handler(struct httpd_req *r, void *arg)
{
    const char *p = httpd_req_path(r), *v;
    struct timeval tv = {1, 0}; /* long enough that a loaded machine cannot skip past it */
    char buf[32];

    (void)arg;
    T.requests++;
    T.conn_ids[T.nids++ % 64] = httpd_req_conn_id(r);
    if (strcmp(p, "/hello") == 0) {
        httpd_resp_send(r, 200, "text/plain", "hello", 5);
    } else if (strcmp(p, "/q") == 0) {
        v = httpd_req_query(r);
        httpd_resp_send(r, 200, "text/plain", v, strlen(v));
    } else if (strcmp(p, "/later") == 0) {
        T.later = r;
        httpd_req_on_close(r, later_closed, NULL);
        evtimer_add(T.later_ev, &tv);
    } else if (strcmp(p, "/echo") == 0) {
        T.body_len = 0;
        httpd_req_read_body(r, echo_data, echo_end, NULL);
    } else if (strcmp(p, "/chunked") == 0) {
        httpd_resp_start(r, 200, -1);
        assert_int_equal(0, httpd_resp_write(r, "hello", 5));
        assert_int_equal(0, httpd_resp_write(r, " world", 6));
        httpd_resp_end(r);
    } else if (strcmp(p, "/hold") == 0) {
        T.held = r;
        httpd_req_on_close(r, held_closed, NULL);
    } else if (strcmp(p, "/ref") == 0) {
        httpd_resp_start(r, 200, (int64_t)sizeof(ref_data) - 1);
        assert_int_equal(
            0, httpd_resp_add_reference(r, ref_data, sizeof(ref_data) - 1, ref_cleanup, NULL));
        httpd_resp_end(r);
    } else if (strcmp(p, "/bigref") == 0) {
        httpd_resp_start(r, 200, BIGREF_LEN);
        assert_int_equal(0,
                         httpd_resp_add_reference(r, bigref_data, BIGREF_LEN, ref_cleanup, NULL));
        httpd_resp_end(r);
    } else if (strcmp(p, "/big") == 0) {
        httpd_req_on_close(r, big_closed, NULL);
        httpd_resp_start(r, 200, (int64_t)T.big_total);
        big_write(r);
    } else if (strcmp(p, "/pause") == 0) {
        T.body_len = 0;
        httpd_req_read_body(r, pause_data, pause_end, NULL);
    } else if (strcmp(p, "/short") == 0) {
        httpd_resp_start(r, 200, 100);
        assert_int_equal(0, httpd_resp_write(r, big_data, 50));
        assert_int_equal(ERR_INVAL, httpd_resp_write(r, big_data, 51)); /* past the length */
        httpd_resp_end(r);
    } else if (strcmp(p, "/nocontent") == 0) {
        httpd_resp_start(r, 204, -1);
        assert_int_equal(0, httpd_resp_write(r, "ignored", 7));
        httpd_resp_end(r);
    } else if (strcmp(p, "/headers") == 0) {
        T.hdr_rc[0] = httpd_resp_header(r, "X-Bad", "a\r\nb");
        T.hdr_rc[1] = httpd_resp_header(r, "Bad Name", "x");
        T.hdr_rc[2] = httpd_resp_header(r, "Content-Length", "3");
        v = httpd_req_header(r, "x-in");
        T.hdr_rc[3] = httpd_resp_header(r, "X-Echo", v != NULL ? v : "none");
        httpd_resp_send(r, 200, NULL, NULL, 0);
    } else if (strcmp(p, "/inspect") == 0 || strcmp(p, "/a/b") == 0) {
        snprintf(T.seen_path, sizeof(T.seen_path), "%s", p);
        v = httpd_req_query(r);
        T.seen_query_null = v == NULL;
        snprintf(T.seen_query, sizeof(T.seen_query), "%s", v != NULL ? v : "");
        snprintf(T.seen_target, sizeof(T.seen_target), "%s", httpd_req_target(r));
        snprintf(T.seen_method, sizeof(T.seen_method), "%s", httpd_req_method_str(r));
        v = httpd_req_header(r, "X-A");
        snprintf(T.seen_hdr, sizeof(T.seen_hdr), "%s", v != NULL ? v : "(null)");
        snprintf(T.seen_peer, sizeof(T.seen_peer), "%s", httpd_req_peer(r));
        T.seen_nhdrs = (int)httpd_req_header_count(r);
        T.seen_minor = httpd_req_version_minor(r);
        snprintf(buf, sizeof(buf), "%d", T.seen_nhdrs);
        httpd_resp_send(r, 200, "text/plain", buf, strlen(buf));
    } else if (strcmp(p, "/error") == 0) {
        httpd_resp_error(r, 404, "not_found", "no \"such\" thing");
    } else {
        httpd_resp_error(r, 404, "not_found", "no such path");
    }
}

/* ---- set-up ---- */

static void
ts_start_fd(const struct httpd_conf *conf, int sndbuf)
{
    int fd;

    memset(&T, 0, sizeof(T));
    T.base = event_base_new();
    assert_non_null(T.base);
    T.later_ev = evtimer_new(T.base, later_fire, NULL);
    T.resume_ev = evtimer_new(T.base, resume_fire, NULL);
    T.h = httpd_new(T.base, conf, ts_handler, NULL);
    assert_non_null(T.h);
    fd = ht_listen(&T.port, 4096);
    if (sndbuf > 0)
        assert_int_equal(0, setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf)));
    assert_int_equal(0, httpd_listen_fd(T.h, fd));
    T.listen_fd = fd;
}

static void
ts_start(const struct httpd_conf *conf)
{
    ts_start_fd(conf, 0);
}

static void
ts_stop(int64_t live)
{
    httpd_free(&T.h);
    event_free(T.later_ev);
    event_free(T.resume_ev);
    ht_settle(T.base);
    UNIT_END_LOOP(T.base, live);
    event_base_free(T.base);
    T.base = NULL;
}

/* The number of complete responses in text (heads with a Content-Length
 * body or a chunked body that ended), enough for these tests. */
static bool
has(struct ht_client *c, const char *needle)
{
    return strstr(ht_client_text(c), needle) != NULL;
}

static int64_t
errors_metric(const char *code)
{
    return metric_value(
        metrics_counter_l("http.errors", "Requests that failed, by code", "code", code));
}

/* The body of the first response in text, parsed as JSON. */
static json_t *
json_body(const char *text)
{
    const char *b = strstr(text, "\r\n\r\n");
    json_error_t e;

    assert_non_null(b);
    return json_loads(b + 4, JSON_DISABLE_EOF_CHECK, &e);
}

/* ---- tests ---- */

static void
test_httpd_keepalive(void **state)
{
    int64_t live = mem_live(), req0, ok0, out0, in0;
    struct metric *m_req, *m_2xx, *m_out, *m_in;
    struct ht_client *c;
    const char *t;

    (void)state;
    ts_start(NULL);
    m_req = metrics_counter("http.requests", "Request heads parsed");
    m_2xx = metrics_counter_l("http.responses", "Responses by status class", "class", "2xx");
    m_out = metrics_counter("http.bytes.out", "Response bytes queued");
    m_in = metrics_counter("http.bytes.in", "Request bytes consumed");
    req0 = metric_value(m_req);
    ok0 = metric_value(m_2xx);
    out0 = metric_value(m_out);
    in0 = metric_value(m_in);
    c = ht_client_new(T.base, T.port, 0);
    ht_client_send(c, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
    HT_WAIT(T.base, has(c, "\r\n\r\nhello"), 2000);
    t = ht_client_text(c);
    assert_true(strncmp(t, "HTTP/1.1 200 OK\r\n", 17) == 0);
    assert_int_equal(req0 + 1, metric_value(m_req));
    assert_int_equal(ok0 + 1, metric_value(m_2xx));
    assert_int_equal(out0 + (int64_t)strlen(t), metric_value(m_out));
    assert_int_equal(in0 + 32, metric_value(m_in));
    assert_non_null(strstr(t, "\r\nDate: "));
    assert_non_null(strstr(t, " GMT\r\n"));
    assert_non_null(strstr(t, "\r\nServer: cascade\r\n"));
    assert_non_null(strstr(t, "\r\nContent-Type: text/plain\r\n"));
    assert_non_null(strstr(t, "\r\nContent-Length: 5\r\n"));
    assert_null(strstr(t, "Connection:"));
    ht_client_clear(c);

    ht_client_send(c, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
    HT_WAIT(T.base, has(c, "\r\n\r\nhello"), 2000);
    assert_true(has(c, "\r\n\r\nhello"));
    assert_int_equal(2, T.requests);
    assert_true(T.conn_ids[0] == T.conn_ids[1]);
    assert_false(c->eof);
    assert_int_equal(1, httpd_conn_count(T.h));

    ht_client_free(&c);
    HT_WAIT(T.base, httpd_conn_count(T.h) == 0, 2000);
    assert_int_equal(0, httpd_conn_count(T.h));
    ts_stop(live);
}

static void
test_httpd_pipeline_in_order(void **state)
{
    int64_t live = mem_live();
    struct ht_client *c;
    const char *t, *a, *b, *d;

    (void)state;
    ts_start(NULL);
    c = ht_client_new(T.base, T.port, 0);
    /* The first answer comes 1 s later, from a timer; the next two are
     * immediate: they must still come after it. */
    ht_client_send(c, "GET /later?r1 HTTP/1.1\r\nHost: x\r\n\r\n"
                      "GET /q?r2 HTTP/1.1\r\nHost: x\r\n\r\n"
                      "GET /q?r3 HTTP/1.1\r\nHost: x\r\n\r\n");
    HT_WAIT(T.base, T.later != NULL, 2000);
    ht_spin(T.base, 20);
    assert_int_equal(1, T.requests); /* not parsed while r1 is open */
    HT_WAIT(T.base, has(c, "\r\n\r\nr3"), 2000);
    t = ht_client_text(c);
    a = strstr(t, "\r\n\r\nr1");
    b = strstr(t, "\r\n\r\nr2");
    d = strstr(t, "\r\n\r\nr3");
    assert_non_null(a);
    assert_non_null(b);
    assert_non_null(d);
    assert_true(a < b && b < d);
    assert_int_equal(3, ht_count(t, "HTTP/1.1 200 OK\r\n"));
    assert_int_equal(3, T.requests);
    ht_client_free(&c);
    ts_stop(live);
}

static void
test_httpd_chunked_both_ways(void **state)
{
    int64_t live = mem_live();
    struct ht_client *c;
    const char *t;

    (void)state;
    ts_start(NULL);
    c = ht_client_new(T.base, T.port, 0);
    /* The chunked request body arrives in two pieces split mid-chunk. */
    ht_client_send(c, "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                      "5\r\nhel");
    ht_spin(T.base, 30);
    assert_int_equal(0, T.body_ends);
    ht_client_send(c, "lo\r\n6;ext=1\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n");
    HT_WAIT(T.base, has(c, "0\r\n\r\n"), 2000);
    t = ht_client_text(c);
    assert_int_equal(1, T.body_ends);
    assert_int_equal(0, T.body_err);
    assert_int_equal(11, T.body_len);
    assert_memory_equal("hello world", T.body, 11);
    assert_non_null(strstr(t, "\r\nTransfer-Encoding: chunked\r\n"));
    assert_null(strstr(t, "Content-Length"));
    assert_non_null(strstr(t, "\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"));
    ht_client_clear(c);

    /* The connection is still good. */
    ht_client_send(c, "GET /chunked HTTP/1.1\r\nHost: x\r\n\r\n");
    HT_WAIT(T.base, has(c, "0\r\n\r\n"), 2000);
    assert_true(has(c, "\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"));
    assert_false(c->eof);

    /* A broken chunk size reaches the handler as ERR_PROTO and closes. */
    ht_client_clear(c);
    ht_client_send(c, "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                      "zz\r\nhello\r\n");
    HT_WAIT(T.base, c->eof, 2000);
    assert_int_equal(2, T.body_ends);
    assert_int_equal(ERR_PROTO, T.body_err);
    assert_true(has(c, "HTTP/1.1 400 "));
    assert_true(has(c, "Connection: close"));
    ht_client_free(&c);
    ts_stop(live);
}

static void
test_httpd_head(void **state)
{
    int64_t live = mem_live();
    struct ht_client *c;
    const char *t;

    (void)state;
    ts_start(NULL);
    c = ht_client_new(T.base, T.port, 0);
    ht_client_send(c, "HEAD /hello HTTP/1.1\r\nHost: x\r\n\r\n"
                      "HEAD /chunked HTTP/1.1\r\nHost: x\r\n\r\n"
                      "HEAD /ref HTTP/1.1\r\nHost: x\r\n\r\n"
                      "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
    HT_WAIT(T.base, has(c, "\r\n\r\nhello"), 2000);
    t = ht_client_text(c);
    assert_int_equal(4, ht_count(t, "HTTP/1.1 200 OK\r\n"));
    /* Each HEAD answer's blank line is followed at once by the next status line. */
    assert_int_equal(3, ht_count(t, "\r\n\r\nHTTP/1.1 200 OK\r\n"));
    assert_int_equal(1, ht_count(t, "hello"));
    assert_int_equal(2, ht_count(t, "Content-Length: 5\r\n"));
    assert_int_equal(1, ht_count(t, "Transfer-Encoding: chunked\r\n"));
    assert_int_equal(1, T.cleanups); /* the HEAD's reference was released at once */
    assert_null(strstr(t, "zero-copy"));
    assert_false(c->eof);

    /* 204: no body, no framing, keep-alive. */
    ht_client_clear(c);
    ht_client_send(
        c, "GET /nocontent HTTP/1.1\r\nHost: x\r\n\r\nGET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
    HT_WAIT(T.base, has(c, "\r\n\r\nhello"), 2000);
    t = ht_client_text(c);
    assert_true(strncmp(t, "HTTP/1.1 204 No Content\r\n", 25) == 0);
    assert_non_null(strstr(t, "\r\n\r\nHTTP/1.1 200 OK\r\n"));
    assert_null(strstr(t, "ignored"));
    assert_int_equal(1, ht_count(t, "Content-Length"));
    ht_client_free(&c);
    ts_stop(live);
}

static void
test_httpd_100_continue(void **state)
{
    int64_t live = mem_live();
    struct ht_client *c;
    const char *t;

    (void)state;
    ts_start(NULL);
    c = ht_client_new(T.base, T.port, 0);
    ht_client_send(c, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                      "Expect: 100-continue\r\n\r\n");
    HT_WAIT(T.base, has(c, "HTTP/1.1 100 Continue\r\n\r\n"), 2000);
    t = ht_client_text(c);
    assert_string_equal("HTTP/1.1 100 Continue\r\n\r\n", t);
    ht_client_send(c, "hello");
    HT_WAIT(T.base, has(c, "0\r\n\r\n"), 2000);
    t = ht_client_text(c);
    assert_non_null(strstr(t, "HTTP/1.1 200 OK\r\n"));
    assert_non_null(strstr(t, "\r\n\r\n5\r\nhello\r\n0\r\n\r\n"));
    assert_null(strstr(t, "Connection: close"));
    ht_client_free(&c);

    /* A handler that answers without reading: no 100, and the connection
     * closes since the client may or may not send the body. */
    c = ht_client_new(T.base, T.port, 0);
    ht_client_send(c, "POST /hello HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                      "Expect: 100-continue\r\n\r\n");
    HT_WAIT(T.base, c->eof, 3000);
    t = ht_client_text(c);
    assert_true(strncmp(t, "HTTP/1.1 200 OK\r\n", 17) == 0);
    assert_null(strstr(t, "100 Continue"));
    assert_non_null(strstr(t, "\r\nConnection: close\r\n"));
    assert_true(c->eof);
    ht_client_free(&c);
    ts_stop(live);
}

/* Sends raw, expects status and a JSON error code, then the close. */
static void
expect_error(const char *req, size_t len, int status, const char *code)
{
    struct ht_client *c = ht_client_new(T.base, T.port, 0);
    char want[64];
    json_t *j;
    const char *t;

    ht_client_send_n(c, req, len);
    HT_WAIT(T.base, c->eof || c->err, 3000);
    t = ht_client_text(c);
    snprintf(want, sizeof(want), "HTTP/1.1 %d ", status);
    assert_true(strncmp(t, want, strlen(want)) == 0);
    assert_non_null(strstr(t, "\r\nContent-Type: application/json\r\n"));
    assert_non_null(strstr(t, "\r\nConnection: close\r\n"));
    j = json_body(t);
    assert_non_null(j);
    if (code != NULL)
        assert_string_equal(
            code, json_string_value(json_object_get(json_object_get(j, "error"), "code")));
    else
        assert_true(strncmp(json_string_value(json_object_get(json_object_get(j, "error"), "code")),
                            "bad_", 4) == 0);
    assert_non_null(json_string_value(json_object_get(json_object_get(j, "error"), "message")));
    json_decref(j);
    assert_true(c->eof);
    ht_client_free(&c);
}

static void
test_httpd_errors_json(void **state)
{
    int64_t live = mem_live();
    char *req;
    size_t n;
    int64_t e431;
    struct ht_client *c;
    json_t *j;

    (void)state;
    ts_start(NULL);
    e431 = errors_metric("header_too_large");
    req = xmalloc(64 * 1024);

    /* 431: a head over 32 KiB (in 8 KiB fields). */
    n = (size_t)snprintf(req, 64 * 1024, "GET / HTTP/1.1\r\nHost: x\r\n");
    while (n < 40000) {
        memcpy(req + n, "X-Pad: ", 7);
        memset(req + n + 7, 'a', 4000);
        memcpy(req + n + 4007, "\r\n", 2);
        n += 4009;
    }
    memcpy(req + n, "\r\n", 2);
    expect_error(req, n + 2, 431, "header_too_large");
    assert_int_equal(e431 + 1, errors_metric("header_too_large"));

    /* 414: a request line over 8 KiB. */
    n = (size_t)snprintf(req, 64 * 1024, "GET /");
    memset(req + n, 'a', 9000);
    n += 9000;
    n += (size_t)snprintf(req + n, 64 * 1024 - n, " HTTP/1.1\r\nHost: x\r\n\r\n");
    expect_error(req, n, 414, "uri_too_long");

    /* 400s */
    n = (size_t)snprintf(req, 64 * 1024, "GARBAGE\r\n\r\n");
    expect_error(req, n, 400, NULL);
    n = (size_t)snprintf(req, 64 * 1024, "GET / HTTP/1.1\r\n\r\n");
    expect_error(req, n, 400, "bad_host");
    n = (size_t)snprintf(req, 64 * 1024, "GET / HTTP/1.1\r\nHost: x\r\nBad Name: y\r\n\r\n");
    expect_error(req, n, 400, "bad_field");
    n = (size_t)snprintf(req, 64 * 1024,
                         "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n"
                         "Transfer-Encoding: chunked\r\n\r\n");
    expect_error(req, n, 400, "content_length_and_transfer_encoding");

    /* 413: a declared body over max_body (1 MiB), before the handler runs. */
    n = (size_t)snprintf(req, 64 * 1024,
                         "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\n\r\n");
    expect_error(req, n, 413, "body_too_large");
    assert_int_equal(0, T.requests);
    xfree(req);

    /* An error from the handler: JSON with the message escaped. */
    c = ht_client_new(T.base, T.port, 0);
    ht_client_send(c, "GET /error HTTP/1.1\r\nHost: x\r\n\r\n");
    HT_WAIT(T.base, has(c, "}}"), 2000);
    assert_true(strncmp(ht_client_text(c), "HTTP/1.1 404 Not Found\r\n", 24) == 0);
    j = json_body(ht_client_text(c));
    assert_non_null(j);
    assert_string_equal("no \"such\" thing",
                        json_string_value(json_object_get(json_object_get(j, "error"), "message")));
    json_decref(j);
    assert_false(c->eof);
    ht_client_free(&c);
    ts_stop(live);
}

static void
test_httpd_header_timeout_slowloris(void **state)
{
    int64_t live = mem_live();
    static const char req[] =
        "GET /hello HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";
    struct httpd_conf conf;
    struct ht_client *slow, *fast = NULL;
    uint64_t t0, next, fast_sent = 0, fast_done = 0, slow_closed = 0;
    size_t i = 0;
    int64_t before = errors_metric("timeout_header");

    (void)state;
    httpd_conf_defaults(&conf);
    /* Wide margins: this runs on a shared 2-core machine under ASan. */
    conf.header_timeout_ms = 1000;
    ts_start(&conf);
    slow = ht_client_new(T.base, T.port, 0);
    t0 = ht_now_ms();
    next = t0;
    /* One byte every 30 ms would take 2 s: the deadline is for the whole
     * head, so the trickle must not extend it. */
    while (ht_now_ms() - t0 < 6000 && (!slow->eof || fast_done == 0)) {
        ht_loop_once(T.base, 5);
        if (!slow->eof && ht_now_ms() >= next && i < sizeof(req) - 1) {
            ht_client_send_n(slow, req + i++, 1);
            next += 30;
        }
        if (fast == NULL && ht_now_ms() - t0 >= 100) {
            fast = ht_client_new(T.base, T.port, 0);
            ht_client_send(fast, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
            fast_sent = ht_now_ms();
        }
        if (fast != NULL && fast_done == 0 && has(fast, "\r\n\r\nhello"))
            fast_done = ht_now_ms();
        if (slow->eof && slow_closed == 0)
            slow_closed = ht_now_ms();
    }
    assert_true(fast_done != 0);
    assert_true(fast_done - fast_sent < 800); /* served at once, */
    assert_true(fast_done < slow_closed);     /* not after the trickler's deadline */
    assert_true(slow->eof);
    assert_true(slow_closed - t0 >= 950);
    assert_true(slow_closed - t0 < 4000);
    assert_true(i < sizeof(req) - 1);
    assert_true(strncmp(ht_client_text(slow), "HTTP/1.1 408 ", 13) == 0);
    assert_true(has(slow, "timeout_header"));
    assert_int_equal(before + 1, errors_metric("timeout_header"));
    assert_int_equal(1, T.requests);
    ht_client_free(&slow);
    ht_client_free(&fast);
    ts_stop(live);
}

static void
test_httpd_idle_timeout(void **state)
{
    int64_t live = mem_live();
    struct httpd_conf conf;
    struct ht_client *c, *silent;
    uint64_t t0;

    (void)state;
    httpd_conf_defaults(&conf);
    conf.idle_timeout_ms = 200;
    conf.header_timeout_ms = 400;
    ts_start(&conf);
    c = ht_client_new(T.base, T.port, 0);
    silent = ht_client_new(T.base, T.port, 0);
    t0 = ht_now_ms();
    ht_client_send(c, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
    HT_WAIT(T.base, has(c, "\r\n\r\nhello"), 2000);
    HT_WAIT(T.base, c->eof, 2000);
    assert_true(c->eof);
    assert_true(ht_now_ms() - t0 >= 180);
    /* A connection that never sends a byte gets the header deadline. */
    HT_WAIT(T.base, silent->eof, 2000);
    assert_true(silent->eof);
    assert_true(ht_now_ms() - t0 >= 380);
    assert_int_equal(0, ht_client_len(silent));
    HT_WAIT(T.base, httpd_conn_count(T.h) == 0, 1000);
    assert_int_equal(0, httpd_conn_count(T.h));
    ht_client_free(&c);
    ht_client_free(&silent);
    ts_stop(live);
}

static void
test_httpd_on_close_client_reset(void **state)
{
    int64_t live = mem_live();
    struct ht_client *c;
    int64_t before = errors_metric("client_reset");

    (void)state;
    ts_start(NULL);
    c = ht_client_new(T.base, T.port, 0);
    ht_client_send(c, "GET /hold HTTP/1.1\r\nHost: x\r\n\r\n");
    HT_WAIT(T.base, T.held != NULL, 2000);
    assert_non_null(T.held);
    ht_client_reset(c);
    ht_client_free(&c);
    HT_WAIT(T.base, T.closed == 1 && httpd_conn_count(T.h) == 0, 2000);
    assert_int_equal(1, T.closed);
    assert_null(T.held);
    assert_int_equal(0, httpd_conn_count(T.h));
    assert_int_equal(before + 1, errors_metric("client_reset"));

    /* An orderly close while a request is open also aborts it. */
    c = ht_client_new(T.base, T.port, 0);
    ht_client_send(c, "GET /hold HTTP/1.1\r\nHost: x\r\n\r\n");
    HT_WAIT(T.base, T.held != NULL, 2000);
    ht_client_free(&c);
    HT_WAIT(T.base, T.closed == 2, 2000);
    assert_int_equal(2, T.closed);
    ts_stop(live);
}

static void
test_httpd_backpressure(void **state)
{
    int64_t live = mem_live();
    struct httpd_conf conf;
    struct ht_client *c;
    uint64_t sent;
    int calls;
    const char *t, *b;

    (void)state;
    httpd_conf_defaults(&conf);
    conf.out_high_watermark = 64 * 1024;
    conf.out_low_watermark = 16 * 1024;
    ts_start_fd(&conf, 16 * 1024);
    T.big_total = 4u << 20;
    c = ht_client_new(T.base, T.port, 16 * 1024);
    ht_client_reading(c, false);
    ht_client_send(c, "GET /big HTTP/1.1\r\nHost: x\r\n\r\n");
    HT_WAIT(T.base, T.saw_unwritable, 3000);
    assert_true(T.saw_unwritable);
    /* The kernel takes what fits, then the output stays above the low
     * watermark: production stops. */
    ht_spin(T.base, 200);
    sent = T.big_sent;
    calls = T.writable_calls;
    assert_true(sent < T.big_total);
    ht_spin(T.base, 150);
    assert_int_equal(sent, T.big_sent); /* nothing produced while not writable */
    assert_int_equal(calls, T.writable_calls);
    assert_false(T.big_done);

    ht_client_reading(c, true);
    HT_WAIT(T.base, T.big_done && ht_client_len(c) > T.big_total, 10000);
    t = ht_client_text(c);
    b = strstr(t, "\r\n\r\n");
    assert_non_null(b);
    assert_int_equal(T.big_total, ht_client_len(c) - (size_t)(b + 4 - t));
    assert_true(T.writable_calls > calls);
    assert_true(T.big_done);
    ht_client_free(&c);
    ts_stop(live);
}

static void
test_httpd_no_read_above_watermark(void **state)
{
    int64_t live = mem_live();
    struct httpd_conf conf;
    struct ht_client *c;

    (void)state;
    httpd_conf_defaults(&conf);
    conf.out_high_watermark = 64 * 1024;
    conf.out_low_watermark = 16 * 1024;
    ts_start_fd(&conf, 16 * 1024);
    c = ht_client_new(T.base, T.port, 16 * 1024);
    ht_client_reading(c, false);
    /* The first answer is queued at once (4 MiB by reference); the second
     * request must wait until the client has taken most of it. */
    ht_client_send(c,
                   "GET /bigref HTTP/1.1\r\nHost: x\r\n\r\nGET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
    HT_WAIT(T.base, T.requests >= 1, 2000);
    ht_spin(T.base, 100);
    assert_int_equal(1, T.requests);
    assert_int_equal(0, T.cleanups);
    ht_client_reading(c, true);
    HT_WAIT(T.base, has(c, "\r\n\r\nhello"), 10000);
    assert_int_equal(2, T.requests);
    assert_true(ht_client_len(c) > BIGREF_LEN + 5);
    assert_int_equal(2, ht_count(ht_client_text(c), "HTTP/1.1 200 OK\r\n"));
    HT_WAIT(T.base, T.cleanups == 1, 2000);
    assert_int_equal(1, T.cleanups);
    ht_client_free(&c);
    ts_stop(live);
}

static void
test_httpd_add_reference_cleanup_once(void **state)
{
    int64_t live = mem_live();
    struct httpd_conf conf;
    struct ht_client *c;

    (void)state;
    httpd_conf_defaults(&conf);
    ts_start_fd(&conf, 16 * 1024);
    c = ht_client_new(T.base, T.port, 0);
    ht_client_send(c, "GET /ref HTTP/1.1\r\nHost: x\r\n\r\n");
    HT_WAIT(T.base, has(c, "\r\n\r\nzero-copy bytes"), 2000);
    assert_true(has(c, "\r\n\r\nzero-copy bytes"));
    HT_WAIT(T.base, T.cleanups == 1, 1000);
    assert_int_equal(1, T.cleanups);
    ht_spin(T.base, 20);
    assert_int_equal(1, T.cleanups);
    ht_client_free(&c);

    /* Bytes still queued when the client resets: released with the conn. */
    c = ht_client_new(T.base, T.port, 16 * 1024);
    ht_client_reading(c, false);
    ht_client_send(c, "GET /bigref HTTP/1.1\r\nHost: x\r\n\r\n");
    HT_WAIT(T.base, T.requests == 2, 2000);
    ht_spin(T.base, 30);
    assert_int_equal(1, T.cleanups);
    ht_client_reset(c);
    ht_client_free(&c);
    HT_WAIT(T.base, httpd_conn_count(T.h) == 0, 2000);
    ht_settle(T.base);
    assert_int_equal(2, T.cleanups);
    ts_stop(live);
    assert_int_equal(2, T.cleanups);
}

static void
drain_done_cb(void *arg)
{
    (void)arg;
    T.drain_done++;
}

static void
test_httpd_drain(void **state)
{
    int64_t live = mem_live();
    struct ht_client *idle, *busy;

    (void)state;
    ts_start(NULL);
    idle = ht_client_new(T.base, T.port, 0);
    busy = ht_client_new(T.base, T.port, 0);
    ht_client_send(idle, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
    ht_client_send(busy, "GET /hold HTTP/1.1\r\nHost: x\r\n\r\n");
    HT_WAIT(T.base, has(idle, "hello") && T.held != NULL, 2000);
    assert_non_null(T.held);

    httpd_drain(T.h, 5000, drain_done_cb, NULL);
    HT_WAIT(T.base, idle->eof, 2000);
    assert_true(idle->eof);
    assert_int_equal(0, T.drain_done);
    assert_int_equal(1, httpd_conn_count(T.h));

    /* Answered from outside any httpd callback. */
    httpd_resp_send(T.held, 200, "text/plain", "bye", 3);
    T.held = NULL;
    HT_WAIT(T.base, busy->eof && T.drain_done == 1, 2000);
    assert_true(has(busy, "\r\nConnection: close\r\n"));
    assert_true(has(busy, "\r\n\r\nbye"));
    assert_int_equal(1, T.drain_done);
    assert_int_equal(0, httpd_conn_count(T.h));
    ht_client_free(&idle);
    ht_client_free(&busy);
    ts_stop(live);
}

static void
test_httpd_drain_timeout(void **state)
{
    int64_t live = mem_live();
    struct ht_client *busy;
    uint64_t t0;

    (void)state;
    ts_start(NULL);
    busy = ht_client_new(T.base, T.port, 0);
    ht_client_send(busy, "GET /hold HTTP/1.1\r\nHost: x\r\n\r\n");
    HT_WAIT(T.base, T.held != NULL, 2000);
    t0 = ht_now_ms();
    httpd_drain(T.h, 150, drain_done_cb, NULL);
    HT_WAIT(T.base, T.drain_done == 1, 2000);
    assert_int_equal(1, T.drain_done);
    assert_true(ht_now_ms() - t0 >= 140);
    assert_int_equal(1, T.closed);
    assert_null(T.held);
    HT_WAIT(T.base, busy->eof, 1000);
    assert_true(busy->eof);
    ht_client_free(&busy);
    ts_stop(live);
}

static void
test_httpd_max_connections(void **state)
{
    int64_t live = mem_live();
    struct httpd_conf conf;
    struct ht_client *a, *b, *c;
    struct metric *refused;
    int64_t before;

    (void)state;
    httpd_conf_defaults(&conf);
    conf.max_connections = 2;
    ts_start(&conf);
    refused =
        metrics_counter("http.connections.refused", "Connections closed at once: max_connections");
    before = metric_value(refused);
    a = ht_client_new(T.base, T.port, 0);
    b = ht_client_new(T.base, T.port, 0);
    HT_WAIT(T.base, httpd_conn_count(T.h) == 2, 2000);
    c = ht_client_new(T.base, T.port, 0);
    HT_WAIT(T.base, c->eof || c->err, 2000);
    assert_true(c->eof || c->err);
    assert_int_equal(0, ht_client_len(c));
    assert_int_equal(before + 1, metric_value(refused));
    ht_client_free(&c);
    if (fault_enabled()) {
        /* httpd.accept refuses one connection like max_connections does. */
        ht_client_free(&b);
        HT_WAIT(T.base, httpd_conn_count(T.h) == 1, 2000);
        assert_int_equal(0, fault_arm("httpd.accept", 1, false));
        c = ht_client_new(T.base, T.port, 0);
        HT_WAIT(T.base, c->eof || c->err, 2000);
        fault_disarm_all();
        assert_true(c->eof || c->err);
        assert_int_equal(before + 2, metric_value(refused));
        ht_client_free(&c);
    }
    ht_client_send(a, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
    HT_WAIT(T.base, has(a, "hello"), 2000);
    assert_true(has(a, "hello"));
    ht_client_free(&a);
    ht_client_free(&b);
    ht_client_free(&c);
    ts_stop(live);
}

static void
test_httpd_http10_and_max_requests(void **state)
{
    int64_t live = mem_live();
    struct httpd_conf conf;
    struct ht_client *c;
    const char *t;

    (void)state;
    httpd_conf_defaults(&conf);
    conf.max_requests_per_conn = 2;
    ts_start(&conf);

    c = ht_client_new(T.base, T.port, 0);
    ht_client_send(c, "GET /hello HTTP/1.0\r\n\r\n");
    HT_WAIT(T.base, c->eof, 2000);
    assert_true(has(c, "\r\nConnection: close\r\n"));
    assert_true(has(c, "\r\n\r\nhello"));
    ht_client_free(&c);

    /* 1.0 keep-alive, then a close-delimited body (unknown length). */
    c = ht_client_new(T.base, T.port, 0);
    ht_client_send(c, "GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    HT_WAIT(T.base, has(c, "hello"), 2000);
    assert_true(has(c, "\r\nConnection: keep-alive\r\n"));
    ht_spin(T.base, 20);
    assert_false(c->eof);
    ht_client_clear(c);
    ht_client_send(c, "GET /chunked HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    HT_WAIT(T.base, c->eof, 2000);
    t = ht_client_text(c);
    assert_null(strstr(t, "Transfer-Encoding"));
    assert_null(strstr(t, "Content-Length"));
    assert_non_null(strstr(t, "\r\nConnection: close\r\n"));
    assert_non_null(strstr(t, "\r\n\r\nhello world"));
    ht_client_free(&c);

    /* max_requests_per_conn = 2: the second answer closes. */
    c = ht_client_new(T.base, T.port, 0);
    ht_client_send(c, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\nGET /hello HTTP/1.1\r\nHost: x\r\n\r\n"
                      "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
    HT_WAIT(T.base, c->eof, 2000);
    t = ht_client_text(c);
    assert_int_equal(2, ht_count(t, "HTTP/1.1 200"));
    assert_int_equal(1, ht_count(t, "Connection: close"));
    ht_client_free(&c);
    ts_stop(live);
}

static void
test_httpd_unread_body_discarded(void **state)
{
    int64_t live = mem_live();
    struct ht_client *c;
    const char *t;

    (void)state;
    ts_start(NULL);
    c = ht_client_new(T.base, T.port, 0);
    /* The handler answers without reading; the body arrives late, split. */
    ht_client_send(c, "POST /hello HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n01234");
    HT_WAIT(T.base, has(c, "hello"), 2000);
    ht_client_send(c, "56789GET /q?next HTTP/1.1\r\nHost: x\r\n\r\n");
    HT_WAIT(T.base, has(c, "\r\n\r\nnext"), 2000);
    t = ht_client_text(c);
    assert_int_equal(2, ht_count(t, "HTTP/1.1 200"));
    assert_null(strstr(t, "Connection: close"));
    assert_int_equal(2, T.requests);
    assert_true(T.conn_ids[0] == T.conn_ids[1]);

    /* A short response (declared 100, sent 50) must close. */
    ht_client_clear(c);
    ht_client_send(c, "GET /short HTTP/1.1\r\nHost: x\r\n\r\n");
    HT_WAIT(T.base, c->eof, 2000);
    assert_true(c->eof);
    ht_client_free(&c);
    ts_stop(live);
}

static void
test_httpd_request_accessors_and_headers(void **state)
{
    int64_t live = mem_live();
    struct ht_client *c;
    struct httpd_conf conf;
    const char *t;

    (void)state;
    httpd_conf_defaults(&conf);
    conf.server = "test-srv/1";
    ts_start(&conf);
    c = ht_client_new(T.base, T.port, 0);
    ht_client_send(c, "\r\nGET http://example.com/a/b?x=1&y=2 HTTP/1.1\r\nHost: example.com\r\n"
                      "X-A:  spaced value \t\r\n\r\n");
    HT_WAIT(T.base, has(c, "\r\n\r\n2"), 2000);
    assert_string_equal("/a/b", T.seen_path);
    assert_string_equal("x=1&y=2", T.seen_query);
    assert_string_equal("http://example.com/a/b?x=1&y=2", T.seen_target);
    assert_string_equal("GET", T.seen_method);
    assert_string_equal("spaced value", T.seen_hdr);
    assert_int_equal(2, T.seen_nhdrs);
    assert_int_equal(1, T.seen_minor);
    assert_true(strncmp(T.seen_peer, "127.0.0.1:", 10) == 0);
    assert_true(has(c, "\r\nServer: test-srv/1\r\n"));
    ht_client_clear(c);

    ht_client_send(c, "GET /inspect HTTP/1.1\r\nHost: h\r\n\r\n");
    HT_WAIT(T.base, has(c, "\r\n\r\n1"), 2000);
    assert_true(T.seen_query_null);
    assert_string_equal("(null)", T.seen_hdr);
    ht_client_clear(c);

    ht_client_send(c, "GET /headers HTTP/1.1\r\nHost: h\r\nX-In: v1\r\n\r\n");
    HT_WAIT(T.base, has(c, "\r\n\r\n"), 2000);
    t = ht_client_text(c);
    assert_int_equal(ERR_INVAL, T.hdr_rc[0]);
    assert_int_equal(ERR_INVAL, T.hdr_rc[1]);
    assert_int_equal(ERR_INVAL, T.hdr_rc[2]);
    assert_int_equal(0, T.hdr_rc[3]);
    assert_non_null(strstr(t, "\r\nX-Echo: v1\r\n"));
    assert_non_null(strstr(t, "\r\nContent-Length: 0\r\n"));
    ht_client_free(&c);
    ts_stop(live);
}

static void
test_httpd_set_conf(void **state)
{
    int64_t live = mem_live();
    struct httpd_conf conf;
    struct ht_client *c;
    char req[4096];
    size_t n;

    (void)state;
    ts_start(NULL);
    n = (size_t)snprintf(req, sizeof(req), "GET /hello HTTP/1.1\r\nHost: x\r\nX-Pad: ");
    memset(req + n, 'p', 2000);
    n += 2000;
    n += (size_t)snprintf(req + n, sizeof(req) - n, "\r\n\r\n");
    c = ht_client_new(T.base, T.port, 0);
    ht_client_send_n(c, req, n);
    HT_WAIT(T.base, has(c, "hello"), 2000);
    assert_true(has(c, "HTTP/1.1 200 OK"));
    ht_client_free(&c);

    httpd_conf_defaults(&conf);
    conf.limits.max_head = 1024;
    conf.limits.max_field = 1024;
    conf.limits.max_line = 1024;
    httpd_set_conf(T.h, &conf);
    c = ht_client_new(T.base, T.port, 0);
    ht_client_send_n(c, req, n);
    HT_WAIT(T.base, c->eof, 2000);
    assert_true(has(c, "HTTP/1.1 431 "));
    ht_client_free(&c);
    ts_stop(live);
}

static void
test_httpd_body_timeout_and_limit(void **state)
{
    int64_t live = mem_live();
    struct httpd_conf conf;
    struct ht_client *c;
    int64_t before = errors_metric("timeout_body");
    uint64_t t0;

    (void)state;
    httpd_conf_defaults(&conf);
    conf.body_timeout_ms = 200;
    conf.max_body = 16;
    ts_start(&conf);

    /* The body stalls half-way: on_end(ERR_TIMEOUT), then httpd answers 408. */
    c = ht_client_new(T.base, T.port, 0);
    t0 = ht_now_ms();
    ht_client_send(c, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n01234");
    HT_WAIT(T.base, c->eof, 2000);
    assert_true(c->eof);
    assert_true(ht_now_ms() - t0 >= 180);
    assert_int_equal(1, T.body_ends);
    assert_int_equal(ERR_TIMEOUT, T.body_err);
    assert_true(strncmp(ht_client_text(c), "HTTP/1.1 408 ", 13) == 0);
    assert_true(has(c, "timeout_body"));
    assert_int_equal(before + 1, errors_metric("timeout_body"));
    ht_client_free(&c);

    /* A chunked body past max_body: on_end(ERR_LIMIT); the handler answers. */
    c = ht_client_new(T.base, T.port, 0);
    ht_client_send(c, "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                      "a\r\n0123456789\r\na\r\n0123456789\r\n0\r\n\r\n");
    HT_WAIT(T.base, c->eof, 2000);
    assert_int_equal(2, T.body_ends);
    assert_int_equal(ERR_LIMIT, T.body_err);
    assert_true(strncmp(ht_client_text(c), "HTTP/1.1 413 ", 13) == 0);
    assert_true(has(c, "Connection: close"));
    ht_client_free(&c);
    ts_stop(live);
}

static void
test_httpd_body_pause_resume(void **state)
{
    int64_t live = mem_live();
    struct ht_client *c;

    (void)state;
    ts_start(NULL);
    c = ht_client_new(T.base, T.port, 0);
    ht_client_send(c, "POST /pause HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                      "3\r\nabc\r\n3\r\ndef\r\n3\r\nghi\r\n0\r\n\r\n");
    HT_WAIT(T.base, T.pause_runs == 1, 2000);
    ht_spin(T.base, 10);
    assert_int_equal(1, T.pause_runs); /* paused: the buffered runs wait */
    HT_WAIT(T.base, has(c, "got 9"), 2000);
    assert_int_equal(3, T.pause_runs);
    assert_int_equal(1, T.body_ends);
    assert_int_equal(0, T.body_err);
    assert_memory_equal("abcdefghi", T.body, 9);
    ht_client_free(&c);
    ts_stop(live);
}

static void
test_httpd_send_timeout(void **state)
{
    int64_t live = mem_live();
    struct httpd_conf conf;
    struct ht_client *c;
    int64_t before = errors_metric("timeout_send");
    uint64_t t0;

    (void)state;
    httpd_conf_defaults(&conf);
    conf.send_timeout_ms = 200;
    conf.out_high_watermark = 64 * 1024;
    conf.out_low_watermark = 16 * 1024;
    ts_start_fd(&conf, 16 * 1024);
    T.big_total = 64u << 20;
    c = ht_client_new(T.base, T.port, 16 * 1024);
    ht_client_reading(c, false);
    ht_client_send(c, "GET /big HTTP/1.1\r\nHost: x\r\n\r\n");
    HT_WAIT(T.base, T.saw_unwritable, 2000);
    t0 = ht_now_ms();
    HT_WAIT(T.base, T.closed == 1, 3000);
    assert_int_equal(1, T.closed);
    assert_true(ht_now_ms() - t0 >= 150);
    assert_int_equal(ERR_CLOSED, T.write_after_close);
    assert_int_equal(before + 1, errors_metric("timeout_send"));
    HT_WAIT(T.base, httpd_conn_count(T.h) == 0, 2000);
    assert_int_equal(0, httpd_conn_count(T.h));
    ht_client_free(&c);
    ts_stop(live);
}

/* ---- what an idle keep-alive connection costs ---- */

static _Atomic int64_t ev_bytes;

static void *
ev_malloc(size_t n)
{
    size_t *p = malloc(n + 16);

    if (p == NULL)
        return NULL;
    p[0] = n;
    atomic_fetch_add(&ev_bytes, (int64_t)n);
    return (char *)p + 16;
}

static void *
ev_realloc(void *q, size_t n)
{
    size_t *p;

    if (q == NULL)
        return ev_malloc(n);
    p = (size_t *)(void *)((char *)q - 16);
    atomic_fetch_sub(&ev_bytes, (int64_t)p[0]);
    p = realloc(p, n + 16);
    if (p == NULL)
        return NULL;
    p[0] = n;
    atomic_fetch_add(&ev_bytes, (int64_t)n);
    return (char *)p + 16;
}

static void
ev_free(void *q)
{
    size_t *p;

    if (q == NULL)
        return;
    p = (size_t *)(void *)((char *)q - 16);
    atomic_fetch_sub(&ev_bytes, (int64_t)p[0]);
    free(p);
}

/* The child: N connections, one request each (so the connection has served
 * a request and sits idle in keep-alive), then it waits for the parent. */
static void
idle_child(uint16_t port, int n, int report_fd, int wait_fd)
{
    struct sockaddr_in a = ht_addr(port);
    static const char req[] = "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n";
    char buf[512], ok = 1;
    int i, fd;
    ssize_t r;
    size_t got;

    for (i = 0; i < n; i++) {
        fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
            write(fd, req, sizeof(req) - 1) != (ssize_t)sizeof(req) - 1) {
            ok = 0;
            break;
        }
        for (got = 0; got < 5 || memcmp(buf + got - 5, "hello", 5) != 0;) {
            r = read(fd, buf + got, sizeof(buf) - got);
            if (r <= 0) {
                ok = 0;
                break;
            }
            got += (size_t)r;
        }
        if (!ok)
            break;
    }
    if (write(report_fd, &ok, 1) != 1)
        _exit(2);
    if (read(wait_fd, &ok, 1) < 0)
        _exit(3);
    _exit(0);
}

static void
test_httpd_idle_conn_memory(void **state)
{
    int64_t live = mem_live(), before, per_conn;
    struct httpd_conf conf;
    int n = 10000, rp[2], wp[2], status;
    const char *env = getenv("HTTPD_IDLE_CONNS");
    struct rlimit rl;
    char ok = 0;
    pid_t pid;
    uint64_t t0;

    (void)state;
    if (env != NULL)
        n = (int)strtol(env, NULL, 10);
    assert_int_equal(0, getrlimit(RLIMIT_NOFILE, &rl));
    if (rl.rlim_cur < (rlim_t)n + 64) {
        rl.rlim_cur = rl.rlim_max;
        assert_int_equal(0, setrlimit(RLIMIT_NOFILE, &rl));
    }
    if (rl.rlim_cur < (rlim_t)n + 64)
        n = (int)rl.rlim_cur - 64;

    httpd_conf_defaults(&conf);
    conf.max_connections = (uint32_t)n + 16;
    ts_start(&conf);
    assert_int_equal(0, pipe(rp));
    assert_int_equal(0, pipe(wp));
    before = atomic_load(&ev_bytes);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(rp[0]);
        close(wp[1]);
        idle_child(T.port, n, rp[1], wp[0]);
    }
    close(rp[1]);
    close(wp[0]);
    assert_int_equal(0, evutil_make_socket_nonblocking(rp[0]));
    t0 = ht_now_ms();
    while (ht_now_ms() - t0 < 60000) {
        ht_loop_once(T.base, 5);
        if (read(rp[0], &ok, 1) == 1)
            break;
    }
    assert_int_equal(1, ok);
    assert_int_equal(n, T.requests);
    HT_WAIT(T.base, httpd_conn_count(T.h) == (unsigned)n, 5000);
    assert_int_equal(n, httpd_conn_count(T.h));
    ht_settle(T.base);
    /* libevent's bytes (bufferevent, evbuffers, events) plus ours, with a
     * malloc header for each of the 4 allocations a connection makes. */
    per_conn = (atomic_load(&ev_bytes) - before) / n + (int64_t)sizeof(struct httpd_conn) + 4 * 16;
    print_message("idle keep-alive connection: %" PRId64 " bytes (%d conns; struct httpd_conn %zu;"
                  " request block %d, cached %u)\n",
                  per_conn, n, sizeof(struct httpd_conn), HTTPD_REQ_BLOCK, T.h->nreq_cache);
    assert_true(per_conn <= 4096);
    assert_true(T.h->nreq_cache <= HTTPD_REQ_CACHE);

    assert_int_equal(1, write(wp[1], &ok, 1));
    assert_int_equal(pid, waitpid(pid, &status, 0));
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    close(rp[0]);
    close(wp[1]);
    HT_WAIT(T.base, httpd_conn_count(T.h) == 0, 10000);
    assert_int_equal(0, httpd_conn_count(T.h));
    ts_stop(live);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_httpd_keepalive),
        cmocka_unit_test(test_httpd_pipeline_in_order),
        cmocka_unit_test(test_httpd_chunked_both_ways),
        cmocka_unit_test(test_httpd_head),
        cmocka_unit_test(test_httpd_100_continue),
        cmocka_unit_test(test_httpd_errors_json),
        cmocka_unit_test(test_httpd_header_timeout_slowloris),
        cmocka_unit_test(test_httpd_idle_timeout),
        cmocka_unit_test(test_httpd_on_close_client_reset),
        cmocka_unit_test(test_httpd_backpressure),
        cmocka_unit_test(test_httpd_no_read_above_watermark),
        cmocka_unit_test(test_httpd_add_reference_cleanup_once),
        cmocka_unit_test(test_httpd_drain),
        cmocka_unit_test(test_httpd_drain_timeout),
        cmocka_unit_test(test_httpd_max_connections),
        cmocka_unit_test(test_httpd_http10_and_max_requests),
        cmocka_unit_test(test_httpd_unread_body_discarded),
        cmocka_unit_test(test_httpd_request_accessors_and_headers),
        cmocka_unit_test(test_httpd_set_conf),
        cmocka_unit_test(test_httpd_body_timeout_and_limit),
        cmocka_unit_test(test_httpd_body_pause_resume),
        cmocka_unit_test(test_httpd_send_timeout),
        cmocka_unit_test(test_httpd_idle_conn_memory),
    };
    struct event_base *base;
    struct httpd *h;
    size_t i;

    /* Count libevent's own bytes (before it allocates anything). */
    event_set_mem_functions(ev_malloc, ev_realloc, ev_free);
    signal(SIGPIPE, SIG_IGN);
    for (i = 0; i < sizeof(big_data); i++)
        big_data[i] = (char)('a' + i % 26);
    bigref_data = malloc(BIGREF_LEN);
    assert_non_null(bigref_data);
    memset(bigref_data, 'r', BIGREF_LEN);
    /* Register the process-wide metrics before any test counts allocations. */
    base = event_base_new();
    h = httpd_new(base, NULL, ts_handler, NULL);
    httpd_free(&h);
    event_base_free(base);
    i = (size_t)cmocka_run_group_tests(tests, NULL, NULL);
    free(bigref_data);
    return (int)i;
}
