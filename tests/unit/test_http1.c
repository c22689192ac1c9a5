/*
 * test_http1.c -- the HTTP/1.1 head and body parsers.
 *
 * Every message goes through parse_all() / body_all(), which feed it whole,
 * one byte at a time and split at every point (or a spread of points for
 * long inputs) and assert that all of them agree, that _check() holds after
 * every call, and that a failing call leaves the cursor where it was. The
 * tests themselves then only say what the answer must be.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "unit.h"
#include "err.h"
#include "miniobj.h"
#include "proto/http1.h"
#include "compat.h"

#define B(lit) (const uint8_t *)(lit), sizeof(lit) - 1

static const struct http1_limits small_limits = {
    .max_line = 64,
    .max_field = 48,
    .max_head = 512,
    .max_headers = 8,
};

/* ---- head helpers ---- */

struct cursor {
    int state;
    uint32_t pos, mark, line_start;
    uint16_t nhdrs;
};

static struct cursor
cursor_of(const struct http1_msg *m)
{
    struct cursor c = {m->state, m->pos, m->mark, m->line_start, m->nhdrs};

    return c;
}

/* One call, with the checks every call must pass. */
static long
parse_step(struct http1_msg *m, const uint8_t *p, size_t len)
{
    struct cursor before = cursor_of(m), after;
    long rc;

    rc = http1_parse_head(m, p, len);
    http1_msg_check(m);
    if (rc > 0 || rc == ERR_AGAIN) {
        assert_int_equal(HTTP1_E_NONE, m->error);
        assert_true(m->pos <= len);
    } else {
        assert_true(rc == ERR_PROTO || rc == ERR_LIMIT);
        assert_int_not_equal(HTTP1_E_NONE, m->error);
        after = cursor_of(m);
        assert_int_equal(before.state, after.state);
        assert_int_equal(before.pos, after.pos);
        assert_int_equal(before.mark, after.mark);
        assert_int_equal(before.line_start, after.line_start);
        assert_int_equal(before.nhdrs, after.nhdrs);
    }
    return rc;
}

static void
span_same(struct http1_span a, struct http1_span b)
{
    assert_int_equal(a.off, b.off);
    assert_int_equal(a.len, b.len);
}

static void
msg_same(long ra, const struct http1_msg *a, long rb, const struct http1_msg *b)
{
    uint16_t i;

    assert_int_equal(ra, rb);
    assert_int_equal(a->error, b->error);
    if (ra <= 0)
        return;
    assert_int_equal(a->method, b->method);
    span_same(a->method_tok, b->method_tok);
    span_same(a->target, b->target);
    assert_int_equal(a->status, b->status);
    span_same(a->reason, b->reason);
    assert_int_equal(a->version_minor, b->version_minor);
    assert_int_equal(a->nhdrs, b->nhdrs);
    for (i = 0; i < a->nhdrs; i++) {
        span_same(a->hdrs[i].name, b->hdrs[i].name);
        span_same(a->hdrs[i].value, b->hdrs[i].value);
    }
    assert_int_equal(a->content_length, b->content_length);
    assert_int_equal(a->chunked, b->chunked);
    assert_int_equal(a->keep_alive, b->keep_alive);
    assert_int_equal(a->expect_continue, b->expect_continue);
    assert_int_equal(a->upgrade, b->upgrade);
    assert_int_equal(a->host_count, b->host_count);
}

/*
 * Parses p[0..n) whole into *out, then byte by byte and split at every
 * point, and asserts the answers agree. Returns the whole parse's result.
 */
static long
parse_all(enum http1_kind kind, const struct http1_limits *lim, const uint8_t *p, size_t n,
          struct http1_msg *out)
{
    struct http1_msg m;
    size_t k, stride;
    long rc, r;

    http1_msg_init(out, kind, lim);
    rc = parse_step(out, p, n);
    /* a second call answers the same */
    r = parse_step(out, p, n);
    assert_int_equal(rc, r);

    http1_msg_init(&m, kind, lim);
    r = ERR_AGAIN;
    for (k = 0; k <= n && r == ERR_AGAIN; k++)
        r = parse_step(&m, p, k);
    msg_same(rc, out, r, &m);

    stride = n > 1024 ? n / 200 + 1 : 1;
    for (k = 0; k <= n; k += stride) {
        http1_msg_init(&m, kind, lim);
        r = parse_step(&m, p, k);
        if (r == ERR_AGAIN)
            r = parse_step(&m, p, n);
        msg_same(rc, out, r, &m);
    }
    return rc;
}

static long
req(const uint8_t *p, size_t n, struct http1_msg *m)
{
    return parse_all(HTTP1_REQUEST, NULL, p, n, m);
}

static long
resp(const uint8_t *p, size_t n, struct http1_msg *m)
{
    return parse_all(HTTP1_RESPONSE, NULL, p, n, m);
}

static void
assert_span(const uint8_t *base, struct http1_span s, const char *want)
{
    assert_int_equal(strlen(want), s.len);
    assert_memory_equal(want, base + s.off, s.len);
}

static void
assert_hdr(const struct http1_msg *m, const uint8_t *base, uint16_t i, const char *name,
           const char *value)
{
    assert_true(i < m->nhdrs);
    assert_span(base, m->hdrs[i].name, name);
    assert_span(base, m->hdrs[i].value, value);
}

/* A request that must fail with rc and err, whatever the split. */
static void
req_fails(const uint8_t *p, size_t n, long rc, enum http1_error err)
{
    struct http1_msg m;

    assert_int_equal(rc, req(p, n, &m));
    assert_int_equal(err, m.error);
}

static void
resp_fails(const uint8_t *p, size_t n, long rc, enum http1_error err)
{
    struct http1_msg m;

    assert_int_equal(rc, resp(p, n, &m));
    assert_int_equal(err, m.error);
}

/* ---- body helpers ---- */

struct body_res {
    long rc; /* 0, or the error a call returned */
    enum http1_error err;
    size_t consumed;
    bool done;
    size_t outlen;
    uint8_t out[70000];
};

/* Feeds first bytes, then step more each time the parser asks. */
static void
body_drive(enum http1_body_mode mode, int64_t cl, uint64_t max, const uint8_t *p, size_t n,
           size_t first, size_t step, struct body_res *res)
{
    struct http1_body b, snap;
    size_t off = 0, avail = first < n ? first : n, doff, dlen;
    long r;

    memset(res, 0, offsetof(struct body_res, out));
    http1_body_init(&b, mode, cl, max);
    http1_body_check(&b);
    for (;;) {
        snap = b;
        r = http1_body_parse(&b, p + off, avail - off, &doff, &dlen);
        http1_body_check(&b);
        if (r < 0) {
            assert_true(r == ERR_PROTO || r == ERR_LIMIT);
            assert_int_not_equal(HTTP1_E_NONE, b.error);
            assert_int_equal(snap.state, b.state);
            assert_int_equal(snap.left, b.left);
            assert_int_equal(snap.total, b.total);
            assert_int_equal(snap.line_len, b.line_len);
            assert_int_equal(snap.trailer_len, b.trailer_len);
            assert_int_equal(snap.done, b.done);
            assert_int_equal(0, dlen);
            res->rc = r;
            res->err = b.error;
            break;
        }
        assert_int_equal(HTTP1_E_NONE, b.error);
        assert_true((size_t)r <= avail - off);
        assert_true(r > 0 || avail == off || b.done);
        if (dlen > 0) {
            assert_true(doff + dlen <= (size_t)r);
            assert_true(res->outlen + dlen <= sizeof(res->out));
            memcpy(res->out + res->outlen, p + off + doff, dlen);
            res->outlen += dlen;
        }
        assert_int_equal(res->outlen, b.total);
        off += (size_t)r;
        if (b.done)
            break;
        if (r == 0) {
            if (avail == n)
                break;
            avail = avail + step < n ? avail + step : n;
        }
    }
    res->consumed = off;
    res->done = b.done;
}

static void
body_same(const struct body_res *a, const struct body_res *b)
{
    assert_int_equal(a->rc, b->rc);
    assert_int_equal(a->err, b->err);
    assert_int_equal(a->consumed, b->consumed);
    assert_int_equal(a->done, b->done);
    assert_int_equal(a->outlen, b->outlen);
    assert_memory_equal(a->out, b->out, a->outlen);
}

static struct body_res body_tmp;

/* Runs the body parser every way; the whole-input answer lands in *res. */
static void
body_all(enum http1_body_mode mode, int64_t cl, uint64_t max, const uint8_t *p, size_t n,
         struct body_res *res)
{
    size_t k, stride = n > 1024 ? n / 200 + 1 : 1;

    body_drive(mode, cl, max, p, n, n, n, res);
    body_drive(mode, cl, max, p, n, 0, 1, &body_tmp);
    body_same(res, &body_tmp);
    for (k = 0; k <= n; k += stride) {
        body_drive(mode, cl, max, p, n, k, n, &body_tmp);
        body_same(res, &body_tmp);
    }
}

static struct body_res body_res;

static void
chunked_fails(const uint8_t *p, size_t n, long rc, enum http1_error err)
{
    body_all(HTTP1_BODY_CHUNKED, -1, 0, p, n, &body_res);
    assert_int_equal(rc, body_res.rc);
    assert_int_equal(err, body_res.err);
    assert_false(body_res.done);
}

/* ---- requests ---- */

static const char browser_get[] =
    "GET /live/a/720p/123456.m4s HTTP/1.1\r\n"
    "Host: edge1.example.net:8081\r\n"
    "Connection: keep-alive\r\n"
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36\r\n"
    "Accept: */*\r\n"
    "Origin: https://player.example.net\r\n"
    "Referer: https://player.example.net/\r\n"
    "Accept-Encoding: gzip, deflate, br\r\n"
    "Accept-Language: en-US,en;q=0.9\r\n"
    "\r\n";

static void
test_request_browser_get(void **state)
{
    int64_t live = mem_live();
    const uint8_t *p = (const uint8_t *)browser_get;
    struct http1_msg m;

    (void)state;
    assert_int_equal(sizeof(browser_get) - 1, req(B(browser_get), &m));
    assert_int_equal(HTTP1_M_GET, m.method);
    assert_span(p, m.method_tok, "GET");
    assert_span(p, m.target, "/live/a/720p/123456.m4s");
    assert_int_equal(1, m.version_minor);
    assert_int_equal(8, m.nhdrs);
    assert_hdr(&m, p, 0, "Host", "edge1.example.net:8081");
    assert_hdr(&m, p, 6, "Accept-Encoding", "gzip, deflate, br");
    assert_int_equal(-1, m.content_length);
    assert_false(m.chunked);
    assert_true(m.keep_alive);
    assert_false(m.expect_continue);
    assert_false(m.upgrade);
    assert_int_equal(1, m.host_count);
    assert_int_equal(HTTP1_BODY_NONE, http1_body_mode(&m, HTTP1_M_OTHER));
    UNIT_END(live);
}

static void
test_request_dashjs_cmcd(void **state)
{
    static const char r[] =
        "GET /vod/v1/480p/init.mp4?CMCD=bl%3D21300%2Cbr%3D1100%2Cd%3D4004%2Cmtp%3D48100%2C"
        "nor%3D%22..%252F480p%252F4004.m4s%22%2Cot%3Dv%2Csf%3Dd%2Csid%3D%226e2fb550-c457-11e9-"
        "bb97-0800200c9a66%22%2Cst%3Dv%2Csu%2Ctb%3D5000 HTTP/1.1\r\n"
        "Host: 127.0.0.1:8081\r\n"
        "CMCD-Request: bl=21300,mtp=48100,nor=\"../480p/4004.m4s\",su\r\n"
        "CMCD-Session: sid=\"6e2fb550-c457-11e9-bb97-0800200c9a66\",sf=d,st=v\r\n"
        "\r\n";
    int64_t live = mem_live();
    const uint8_t *p = (const uint8_t *)r;
    const struct http1_header *h;
    struct http1_msg m;

    (void)state;
    assert_int_equal(sizeof(r) - 1, req(B(r), &m));
    assert_true(m.target.len > 200);
    assert_int_equal('/', p[m.target.off]);
    h = http1_header_find(&m, p, "cmcd-session", NULL);
    assert_non_null(h);
    assert_span(p, h->value, "sid=\"6e2fb550-c457-11e9-bb97-0800200c9a66\",sf=d,st=v");
    UNIT_END(live);
}

static void
test_request_leading_empty_lines(void **state)
{
    static const char r[] = "\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n";
    int64_t live = mem_live();
    struct http1_msg m;

    (void)state;
    assert_int_equal(sizeof(r) - 1, req(B(r), &m));
    assert_int_equal(4, m.method_tok.off);
    assert_span((const uint8_t *)r, m.target, "/");
    /* only CRLF counts as an empty line */
    req_fails(B("\nGET / HTTP/1.1\r\nHost: a\r\n\r\n"), ERR_PROTO, HTTP1_E_START_LINE);
    req_fails(B("\r\rGET / HTTP/1.1\r\nHost: a\r\n\r\n"), ERR_PROTO, HTTP1_E_START_LINE);
    req_fails(B(" GET / HTTP/1.1\r\nHost: a\r\n\r\n"), ERR_PROTO, HTTP1_E_START_LINE);
    /* a response never starts with an empty line */
    resp_fails(B("\r\nHTTP/1.1 200 OK\r\n\r\n"), ERR_PROTO, HTTP1_E_START_LINE);
    UNIT_END(live);
}

static void
test_request_pipelined(void **state)
{
    static const char r[] = "GET /a HTTP/1.1\r\nHost: a\r\n\r\n"
                            "POST /api/likes HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello"
                            "PUT /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                            "3\r\nabc\r\n0\r\n\r\n"
                            "GET /b HTTP/1.0\r\n\r\n";
    int64_t live = mem_live();
    const uint8_t *p = (const uint8_t *)r;
    size_t off = 0, n = sizeof(r) - 1;
    struct http1_msg m;
    long rc;

    (void)state;
    rc = req(p, n, &m);
    assert_int_equal(28, rc);
    assert_span(p, m.target, "/a");
    off += (size_t)rc;

    /* each head is parsed from its own first byte, with what follows */
    rc = req(p + off, n - off, &m);
    assert_true(rc > 0);
    assert_int_equal(HTTP1_M_POST, m.method);
    assert_int_equal(HTTP1_BODY_LENGTH, http1_body_mode(&m, HTTP1_M_OTHER));
    off += (size_t)rc;
    body_all(HTTP1_BODY_LENGTH, m.content_length, 0, p + off, n - off, &body_res);
    assert_true(body_res.done);
    assert_int_equal(5, body_res.consumed);
    assert_memory_equal("hello", body_res.out, 5);
    off += body_res.consumed;

    rc = req(p + off, n - off, &m);
    assert_true(rc > 0);
    assert_int_equal(HTTP1_M_PUT, m.method);
    assert_true(m.chunked);
    assert_int_equal(HTTP1_BODY_CHUNKED, http1_body_mode(&m, HTTP1_M_OTHER));
    off += (size_t)rc;
    body_all(HTTP1_BODY_CHUNKED, -1, 0, p + off, n - off, &body_res);
    assert_true(body_res.done);
    assert_int_equal(13, body_res.consumed);
    assert_int_equal(3, body_res.outlen);
    off += body_res.consumed;

    rc = req(p + off, n - off, &m);
    assert_int_equal((long)(n - off), rc);
    assert_int_equal(0, m.version_minor);
    assert_false(m.keep_alive);
    UNIT_END(live);
}

static void
test_request_methods(void **state)
{
    static const struct {
        const char *line;
        enum http1_method meth;
    } t[] = {
        {"GET / HTTP/1.0\r\n\r\n", HTTP1_M_GET},
        {"HEAD / HTTP/1.0\r\n\r\n", HTTP1_M_HEAD},
        {"POST / HTTP/1.0\r\n\r\n", HTTP1_M_POST},
        {"PUT / HTTP/1.0\r\n\r\n", HTTP1_M_PUT},
        {"DELETE / HTTP/1.0\r\n\r\n", HTTP1_M_DELETE},
        {"OPTIONS * HTTP/1.0\r\n\r\n", HTTP1_M_OPTIONS},
        {"PATCH / HTTP/1.0\r\n\r\n", HTTP1_M_PATCH},
        {"PURGE / HTTP/1.0\r\n\r\n", HTTP1_M_PURGE},
        {"CONNECT a.b:443 HTTP/1.0\r\n\r\n", HTTP1_M_CONNECT},
        {"TRACE / HTTP/1.0\r\n\r\n", HTTP1_M_TRACE},
        {"get / HTTP/1.0\r\n\r\n", HTTP1_M_OTHER},
        {"PROPFIND / HTTP/1.0\r\n\r\n", HTTP1_M_OTHER},
        {"GETS / HTTP/1.0\r\n\r\n", HTTP1_M_OTHER},
        {"M-SEARCH / HTTP/1.0\r\n\r\n", HTTP1_M_OTHER},
    };
    int64_t live = mem_live();
    struct http1_msg m;
    size_t i;

    (void)state;
    for (i = 0; i < ARRAY_SIZE(t); i++) {
        const uint8_t *p = (const uint8_t *)t[i].line;

        assert_int_equal(strlen(t[i].line), req(p, strlen(t[i].line), &m));
        assert_int_equal(t[i].meth, m.method);
    }
    req_fails(B("GE@T / HTTP/1.1\r\nHost: a\r\n\r\n"), ERR_PROTO, HTTP1_E_METHOD);
    req_fails(B("GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n"), ERR_PROTO, HTTP1_E_METHOD);
    req_fails(B("GET\r\n\r\n"), ERR_PROTO, HTTP1_E_METHOD);
    req_fails(B("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"), ERR_PROTO, HTTP1_E_START_LINE);
    UNIT_END(live);
}

static void
test_request_target_forms(void **state)
{
    int64_t live = mem_live();
    struct http1_msg m;

    (void)state;
    assert_true(req(B("GET http://a.example/x?y HTTP/1.1\r\nHost: a.example\r\n\r\n"), &m) > 0);
    assert_true(req(B("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n"), &m) > 0);
    assert_true(req(B("CONNECT a.example:443 HTTP/1.1\r\nHost: a.example:443\r\n\r\n"), &m) > 0);
    assert_true(req(B("GET /a/b%20c?d={x}|\"q\" HTTP/1.1\r\nHost: a\r\n\r\n"), &m) > 0);
    req_fails(B("GET * HTTP/1.1\r\nHost: a\r\n\r\n"), ERR_PROTO, HTTP1_E_TARGET);
    req_fails(B("CONNECT /x HTTP/1.1\r\nHost: a\r\n\r\n"), ERR_PROTO, HTTP1_E_TARGET);
    req_fails(B("CONNECT a.example HTTP/1.1\r\nHost: a\r\n\r\n"), ERR_PROTO, HTTP1_E_TARGET);
    req_fails(B("CONNECT a.example:x HTTP/1.1\r\nHost: a\r\n\r\n"), ERR_PROTO, HTTP1_E_TARGET);
    req_fails(B("GET a/b HTTP/1.1\r\nHost: a\r\n\r\n"), ERR_PROTO, HTTP1_E_TARGET);
    req_fails(B("GET 1http://a/ HTTP/1.1\r\nHost: a\r\n\r\n"), ERR_PROTO, HTTP1_E_TARGET);
    req_fails(B("GET /a#frag HTTP/1.1\r\nHost: a\r\n\r\n"), ERR_PROTO, HTTP1_E_TARGET);
    req_fails(B("GET /a\x01 HTTP/1.1\r\nHost: a\r\n\r\n"), ERR_PROTO, HTTP1_E_TARGET);
    req_fails(B("GET /a\x7f HTTP/1.1\r\nHost: a\r\n\r\n"), ERR_PROTO, HTTP1_E_TARGET);
    req_fails(B("GET /\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n"), ERR_PROTO, HTTP1_E_TARGET);
    req_fails(B("GET /a\tb HTTP/1.1\r\nHost: a\r\n\r\n"), ERR_PROTO, HTTP1_E_TARGET);
    /* the same bytes deep inside a long target (the 8-byte skip) */
    req_fails(B("GET /0123456789#abcdefghijk HTTP/1.1\r\nHost: a\r\n\r\n"), ERR_PROTO,
              HTTP1_E_TARGET);
    req_fails(B("GET /0123456789\x7f"
                "abcdefghijk HTTP/1.1\r\nHost: a\r\n\r\n"),
              ERR_PROTO, HTTP1_E_TARGET);
    req_fails(B("GET /0123456789\x80"
                "abcdefghijk HTTP/1.1\r\nHost: a\r\n\r\n"),
              ERR_PROTO, HTTP1_E_TARGET);
    req_fails(B("GET /0123456789\x01"
                "abcdefghijk HTTP/1.1\r\nHost: a\r\n\r\n"),
              ERR_PROTO, HTTP1_E_TARGET);
    req_fails(B("GET /0123456789\tabcdefghijk HTTP/1.1\r\nHost: a\r\n\r\n"), ERR_PROTO,
              HTTP1_E_TARGET);
    req_fails(B("GET / HTTP/1.1\r\nHost: a\r\nX: 0123456789\x7f"
                "abcdefghijk\r\n\r\n"),
              ERR_PROTO, HTTP1_E_FIELD);
    req_fails(B("GET / HTTP/1.1\r\nHost: a\r\nX: 0123456789\x00"
                "abcdefghijk\r\n\r\n"),
              ERR_PROTO, HTTP1_E_FIELD);
    req_fails(B("GET / HTTP/1.1\r\nHost: a\r\nX: 0123456789\nabcdefghijk\r\n\r\n"), ERR_PROTO,
              HTTP1_E_FIELD);
    req_fails(B("GET  / HTTP/1.1\r\nHost: a\r\n\r\n"), ERR_PROTO, HTTP1_E_TARGET);
    req_fails(B("GET /\x00 HTTP/1.1\r\nHost: a\r\n\r\n"), ERR_PROTO, HTTP1_E_TARGET);
    /* HTTP/0.9 has no version; we do not speak it */
    req_fails(B("GET /\r\n\r\n"), ERR_PROTO, HTTP1_E_START_LINE);
    UNIT_END(live);
}

static void
test_request_version(void **state)
{
    int64_t live = mem_live();
    struct http1_msg m;

    (void)state;
    assert_true(req(B("GET / HTTP/1.0\r\n\r\n"), &m) > 0);
    assert_int_equal(0, m.version_minor);
    /* a higher minor is HTTP/1.1-compatible (RFC 9110 2.5) */
    assert_true(req(B("GET / HTTP/1.7\r\nHost: a\r\n\r\n"), &m) > 0);
    assert_int_equal(7, m.version_minor);
    assert_true(m.keep_alive);
    req_fails(B("GET / HTTP/2.0\r\nHost: a\r\n\r\n"), ERR_PROTO, HTTP1_E_VERSION);
    req_fails(B("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), ERR_PROTO, HTTP1_E_VERSION);
    req_fails(B("GET / HTTP/0.9\r\n\r\n"), ERR_PROTO, HTTP1_E_VERSION);
    req_fails(B("GET / http/1.1\r\nHost: a\r\n\r\n"), ERR_PROTO, HTTP1_E_START_LINE);
    req_fails(B("GET / HTTP/1.x\r\nHost: a\r\n\r\n"), ERR_PROTO, HTTP1_E_START_LINE);
    req_fails(B("GET / HTTP/1.10\r\nHost: a\r\n\r\n"), ERR_PROTO, HTTP1_E_START_LINE);
    req_fails(B("GET / HTTP/1.1 \r\nHost: a\r\n\r\n"), ERR_PROTO, HTTP1_E_START_LINE);
    req_fails(B("GET / HTTP/1\r\nHost: a\r\n\r\n"), ERR_PROTO, HTTP1_E_START_LINE);
    req_fails(B("GET / HTTP/1.1\nHost: a\r\n\r\n"), ERR_PROTO, HTTP1_E_START_LINE);
    req_fails(B("GET / HTTP/1.1\rHost: a\r\n\r\n"), ERR_PROTO, HTTP1_E_START_LINE);
    assert_int_equal(505, http1_error_status(HTTP1_E_VERSION));
    UNIT_END(live);
}

/* A buffer of n copies of c, NUL-terminated. */
static char *
fill(char *dst, char c, size_t n)
{
    memset(dst, c, n);
    dst[n] = '\0';
    return dst;
}

static void
test_limits_request_line(void **state)
{
    static char buf[40000], path[20000];
    int64_t live = mem_live();
    struct http1_msg m;
    int n;

    (void)state;
    /* max_line 64: "GET /" + path + " HTTP/1.1" is 14 + len(path) bytes */
    n = snprintf(buf, sizeof(buf), "GET /%s HTTP/1.1\r\nHost: a\r\n\r\n", fill(path, 'a', 50));
    assert_int_equal(n, parse_all(HTTP1_REQUEST, &small_limits, (uint8_t *)buf, (size_t)n, &m));
    n = snprintf(buf, sizeof(buf), "GET /%s HTTP/1.1\r\nHost: a\r\n\r\n", fill(path, 'a', 51));
    assert_int_equal(ERR_LIMIT,
                     parse_all(HTTP1_REQUEST, &small_limits, (uint8_t *)buf, (size_t)n, &m));
    assert_int_equal(HTTP1_E_URI_TOO_LONG, m.error);
    assert_int_equal(414, http1_error_status(m.error));
    /* the limit is found before the line ends: the client may never end it */
    assert_int_equal(ERR_LIMIT, parse_all(HTTP1_REQUEST, &small_limits, (uint8_t *)buf, 66, &m));
    assert_int_equal(HTTP1_E_URI_TOO_LONG, m.error);
    /* leading empty lines do not count against the line */
    n = snprintf(buf, sizeof(buf), "\r\n\r\nGET /%s HTTP/1.1\r\nHost: a\r\n\r\n",
                 fill(path, 'a', 50));
    assert_int_equal(n, parse_all(HTTP1_REQUEST, &small_limits, (uint8_t *)buf, (size_t)n, &m));

    /* default limits: an 8 KiB request line passes, one byte more is 414 */
    n = snprintf(buf, sizeof(buf), "GET /%s HTTP/1.1\r\nHost: a\r\n\r\n",
                 fill(path, 'b', 8192 - 14));
    assert_int_equal(n, req((uint8_t *)buf, (size_t)n, &m));
    n = snprintf(buf, sizeof(buf), "GET /%s HTTP/1.1\r\nHost: a\r\n\r\n",
                 fill(path, 'b', 8192 - 13));
    req_fails((uint8_t *)buf, (size_t)n, ERR_LIMIT, HTTP1_E_URI_TOO_LONG);
    n = snprintf(buf, sizeof(buf), "GET /%s HTTP/1.1\r\nHost: a\r\n\r\n", fill(path, 'b', 12000));
    req_fails((uint8_t *)buf, (size_t)n, ERR_LIMIT, HTTP1_E_URI_TOO_LONG);
    UNIT_END(live);
}

static void
test_limits_fields(void **state)
{
    static char buf[70000], val[40000];
    int64_t live = mem_live();
    struct http1_msg m;
    size_t i;
    int n;

    (void)state;
    /* max_field 48: "X: " + value is 3 + len(value) bytes */
    n = snprintf(buf, sizeof(buf), "GET / HTTP/1.1\r\nHost: a\r\nX: %s\r\n\r\n",
                 fill(val, 'v', 45));
    assert_int_equal(n, parse_all(HTTP1_REQUEST, &small_limits, (uint8_t *)buf, (size_t)n, &m));
    n = snprintf(buf, sizeof(buf), "GET / HTTP/1.1\r\nHost: a\r\nX: %s\r\n\r\n",
                 fill(val, 'v', 46));
    assert_int_equal(ERR_LIMIT,
                     parse_all(HTTP1_REQUEST, &small_limits, (uint8_t *)buf, (size_t)n, &m));
    assert_int_equal(HTTP1_E_HEAD_TOO_LARGE, m.error);
    assert_int_equal(431, http1_error_status(m.error));
    /* trailing whitespace counts too */
    n = snprintf(buf, sizeof(buf), "GET / HTTP/1.1\r\nHost: a\r\nX: %s \r\n\r\n",
                 fill(val, 'v', 45));
    assert_int_equal(ERR_LIMIT,
                     parse_all(HTTP1_REQUEST, &small_limits, (uint8_t *)buf, (size_t)n, &m));

    /* max_headers 8: eight fields pass, nine are 431 */
    n = snprintf(buf, sizeof(buf), "GET / HTTP/1.1\r\nHost: a\r\n");
    for (i = 0; i < 7; i++)
        n += snprintf(buf + n, sizeof(buf) - (size_t)n, "X-%zu: %zu\r\n", i, i);
    n += snprintf(buf + n, sizeof(buf) - (size_t)n, "\r\n");
    assert_int_equal(n, parse_all(HTTP1_REQUEST, &small_limits, (uint8_t *)buf, (size_t)n, &m));
    assert_int_equal(8, m.nhdrs);
    n -= 2;
    n += snprintf(buf + n, sizeof(buf) - (size_t)n, "X-7: 7\r\n\r\n");
    assert_int_equal(ERR_LIMIT,
                     parse_all(HTTP1_REQUEST, &small_limits, (uint8_t *)buf, (size_t)n, &m));
    assert_int_equal(HTTP1_E_TOO_MANY_HEADERS, m.error);
    assert_int_equal(431, http1_error_status(m.error));

    /* default limits: 100 fields pass, 101 do not; an 8 KiB field passes */
    n = snprintf(buf, sizeof(buf), "GET / HTTP/1.1\r\nHost: a\r\n");
    for (i = 0; i < 99; i++)
        n += snprintf(buf + n, sizeof(buf) - (size_t)n, "X-%zu: %zu\r\n", i, i);
    n += snprintf(buf + n, sizeof(buf) - (size_t)n, "\r\n");
    assert_int_equal(n, req((uint8_t *)buf, (size_t)n, &m));
    assert_int_equal(100, m.nhdrs);
    n -= 2;
    n += snprintf(buf + n, sizeof(buf) - (size_t)n, "X-last: 1\r\n\r\n");
    req_fails((uint8_t *)buf, (size_t)n, ERR_LIMIT, HTTP1_E_TOO_MANY_HEADERS);

    n = snprintf(buf, sizeof(buf), "GET / HTTP/1.1\r\nHost: a\r\nCookie: %s\r\n\r\n",
                 fill(val, 'c', 8192 - 8));
    assert_int_equal(n, req((uint8_t *)buf, (size_t)n, &m));
    n = snprintf(buf, sizeof(buf), "GET / HTTP/1.1\r\nHost: a\r\nCookie: %s\r\n\r\n",
                 fill(val, 'c', 8192 - 7));
    req_fails((uint8_t *)buf, (size_t)n, ERR_LIMIT, HTTP1_E_HEAD_TOO_LARGE);
    /* a long name is a long field too */
    n = snprintf(buf, sizeof(buf), "GET / HTTP/1.1\r\nHost: a\r\n%s: 1\r\n\r\n",
                 fill(val, 'n', 9000));
    req_fails((uint8_t *)buf, (size_t)n, ERR_LIMIT, HTTP1_E_HEAD_TOO_LARGE);
    UNIT_END(live);
}

static void
test_limits_head(void **state)
{
    static char buf[70000], val[8000];
    static const struct http1_limits lim = {
        .max_line = 100, .max_field = 100, .max_head = 120, .max_headers = 10};
    int64_t live = mem_live();
    struct http1_msg m;
    size_t i;
    int n;

    (void)state;
    /* exactly max_head bytes pass, even with more bytes in the buffer */
    n = snprintf(buf, sizeof(buf), "GET / HTTP/1.1\r\nHost: a\r\nX: %s\r\n\r\nGET",
                 fill(val, 'v', 88));
    assert_int_equal(120, n - 3);
    assert_int_equal(120, parse_all(HTTP1_REQUEST, &lim, (uint8_t *)buf, (size_t)n, &m));
    n = snprintf(buf, sizeof(buf), "GET / HTTP/1.1\r\nHost: a\r\nX: %s\r\n\r\n",
                 fill(val, 'v', 89));
    assert_int_equal(ERR_LIMIT, parse_all(HTTP1_REQUEST, &lim, (uint8_t *)buf, (size_t)n, &m));
    assert_int_equal(HTTP1_E_HEAD_TOO_LARGE, m.error);
    /* the limit holds even when the rest has not arrived yet */
    assert_int_equal(ERR_LIMIT, parse_all(HTTP1_REQUEST, &lim, (uint8_t *)buf, 121, &m));
    /* and empty lines before the request count against it */
    n = snprintf(buf, sizeof(buf), "%s", "");
    for (i = 0; i < 61; i++)
        n += snprintf(buf + n, sizeof(buf) - (size_t)n, "\r\n");
    assert_int_equal(ERR_LIMIT, parse_all(HTTP1_REQUEST, &lim, (uint8_t *)buf, (size_t)n, &m));
    assert_int_equal(HTTP1_E_HEAD_TOO_LARGE, m.error);

    /* default 32 KiB head: five 7 KiB fields do not fit */
    n = snprintf(buf, sizeof(buf), "GET / HTTP/1.1\r\nHost: a\r\n");
    fill(val, 'h', 7000);
    for (i = 0; i < 5; i++)
        n += snprintf(buf + n, sizeof(buf) - (size_t)n, "X-%zu: %s\r\n", i, val);
    n += snprintf(buf + n, sizeof(buf) - (size_t)n, "\r\n");
    req_fails((uint8_t *)buf, (size_t)n, ERR_LIMIT, HTTP1_E_HEAD_TOO_LARGE);
    UNIT_END(live);
}

static void
test_smuggling_framing(void **state)
{
    static const struct {
        const char *fields;
        long rc;
        enum http1_error err;
    } t[] = {
        {"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n", ERR_PROTO, HTTP1_E_CL_TE},
        {"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n", ERR_PROTO, HTTP1_E_CL_TE},
        {"Content-Length: 5\r\nContent-Length: 6\r\n", ERR_PROTO, HTTP1_E_CL},
        {"Content-Length: 1,2\r\n", ERR_PROTO, HTTP1_E_CL},
        {"Content-Length: 5, 5\r\n", ERR_PROTO, HTTP1_E_CL},
        {"Content-Length: +1\r\n", ERR_PROTO, HTTP1_E_CL},
        {"Content-Length: -1\r\n", ERR_PROTO, HTTP1_E_CL},
        {"Content-Length: 0x10\r\n", ERR_PROTO, HTTP1_E_CL},
        {"Content-Length: 1e3\r\n", ERR_PROTO, HTTP1_E_CL},
        {"Content-Length: 1 2\r\n", ERR_PROTO, HTTP1_E_CL},
        {"Content-Length: \r\n", ERR_PROTO, HTTP1_E_CL},
        {"Content-Length: 9223372036854775808\r\n", ERR_PROTO, HTTP1_E_CL},
        {"Content-Length: 99999999999999999999999\r\n", ERR_PROTO, HTTP1_E_CL},
        {"Content-Length: 5\r\ncontent-length: 05\r\n", 0, HTTP1_E_NONE},
        {"Content-Length: 9223372036854775807\r\n", 0, HTTP1_E_NONE},
        {"Content-Length:  12 \t\r\n", 0, HTTP1_E_NONE},
        {"Transfer-Encoding: chunked\r\n", 0, HTTP1_E_NONE},
        {"Transfer-Encoding: CHUNKED \r\n", 0, HTTP1_E_NONE},
        {"Transfer-Encoding: gzip, chunked\r\n", ERR_PROTO, HTTP1_E_TE},
        {"Transfer-Encoding: chunked, gzip\r\n", ERR_PROTO, HTTP1_E_TE},
        {"Transfer-Encoding: chunked, chunked\r\n", ERR_PROTO, HTTP1_E_TE},
        {"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n", ERR_PROTO, HTTP1_E_TE},
        {"Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n", ERR_PROTO, HTTP1_E_TE},
        {"Transfer-Encoding: identity\r\n", ERR_PROTO, HTTP1_E_TE},
        {"Transfer-Encoding: chunked;q=1\r\n", ERR_PROTO, HTTP1_E_TE},
        {"Transfer-Encoding: \"chunked\"\r\n", ERR_PROTO, HTTP1_E_TE},
        {"Transfer-Encoding: xchunked\r\n", ERR_PROTO, HTTP1_E_TE},
        {"Transfer-Encoding:\r\n", ERR_PROTO, HTTP1_E_TE},
        {"Transfer-Encoding : chunked\r\n", ERR_PROTO, HTTP1_E_FIELD},
        {"Content-Length\t: 5\r\n", ERR_PROTO, HTTP1_E_FIELD},
        {"X: a\r\n b\r\n", ERR_PROTO, HTTP1_E_OBS_FOLD},
        {"X: a\r\n\tb\r\n", ERR_PROTO, HTTP1_E_OBS_FOLD},
        {"X: a\rb\r\n", ERR_PROTO, HTTP1_E_FIELD},
        {"X: a\r\r\n", ERR_PROTO, HTTP1_E_FIELD},
        {"X: a\nY: b\r\n", ERR_PROTO, HTTP1_E_FIELD},
        {"X: a\n\r\n", ERR_PROTO, HTTP1_E_FIELD},
        {"X: a\x7f\r\n", ERR_PROTO, HTTP1_E_FIELD},
        {"X: \x1b[31m\r\n", ERR_PROTO, HTTP1_E_FIELD},
        {"X: a\x80\xff b\r\n", 0, HTTP1_E_NONE},
        {"X: a\tb\r\n", 0, HTTP1_E_NONE},
        {": a\r\n", ERR_PROTO, HTTP1_E_FIELD},
        {"X(: a\r\n", ERR_PROTO, HTTP1_E_FIELD},
        {"X\r\n", ERR_PROTO, HTTP1_E_FIELD},
        {"X-\xc3\xa9: a\r\n", ERR_PROTO, HTTP1_E_FIELD},
    };
    static char buf[512];
    int64_t live = mem_live();
    struct http1_msg m;
    size_t i;
    int n;

    (void)state;
    for (i = 0; i < ARRAY_SIZE(t); i++) {
        n = snprintf(buf, sizeof(buf), "POST /api HTTP/1.1\r\nHost: a\r\n%s\r\n", t[i].fields);
        if (t[i].rc == 0) {
            assert_int_equal(n, req((uint8_t *)buf, (size_t)n, &m));
        } else {
            req_fails((uint8_t *)buf, (size_t)n, t[i].rc, t[i].err);
        }
        /* the same rules hold for responses */
        n = snprintf(buf, sizeof(buf), "HTTP/1.1 200 OK\r\n%s\r\n", t[i].fields);
        if (t[i].rc == 0)
            assert_int_equal(n, resp((uint8_t *)buf, (size_t)n, &m));
        else
            resp_fails((uint8_t *)buf, (size_t)n, t[i].rc, t[i].err);
    }
    assert_int_equal(501, http1_error_status(HTTP1_E_TE));
    assert_int_equal(400, http1_error_status(HTTP1_E_CL_TE));
    UNIT_END(live);
}

static void
test_smuggling_nul_and_values(void **state)
{
    static const char nul[] = "GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n";
    int64_t live = mem_live();
    struct http1_msg m;

    (void)state;
    req_fails(B(nul), ERR_PROTO, HTTP1_E_FIELD);
    req_fails(B("GET / HTTP/1.1\r\nHost: a\r\nX\0: a\r\n\r\n"), ERR_PROTO, HTTP1_E_FIELD);
    /* whitespace between the start line and the first field */
    req_fails(B("GET / HTTP/1.1\r\n Host: a\r\n\r\n"), ERR_PROTO, HTTP1_E_OBS_FOLD);
    /* HTTP/1.0 with Transfer-Encoding: faulty framing */
    req_fails(B("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"), ERR_PROTO, HTTP1_E_TE);
    resp_fails(B("HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"), ERR_PROTO, HTTP1_E_TE);
    /* OWS around values is not part of them */
    assert_true(req(B("GET / HTTP/1.1\r\nHost:a\r\nX:  \t v w \t \r\nY:\r\nZ: \r\n\r\n"), &m) > 0);
    assert_int_equal(4, m.nhdrs);
    assert_span((const uint8_t *)"GET / HTTP/1.1\r\nHost:a\r\nX:  \t v w \t \r\nY:\r\nZ: \r\n\r\n",
                m.hdrs[1].value, "v w");
    assert_int_equal(0, m.hdrs[2].value.len);
    assert_int_equal(0, m.hdrs[3].value.len);
    UNIT_END(live);
}

static void
test_host_rules(void **state)
{
    int64_t live = mem_live();
    struct http1_msg m;

    (void)state;
    req_fails(B("GET / HTTP/1.1\r\n\r\n"), ERR_PROTO, HTTP1_E_HOST);
    req_fails(B("GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n"), ERR_PROTO, HTTP1_E_HOST);
    req_fails(B("GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n"), ERR_PROTO, HTTP1_E_HOST);
    req_fails(B("GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n"), ERR_PROTO, HTTP1_E_HOST);
    req_fails(B("GET / HTTP/1.1\r\nHost: a b\r\n\r\n"), ERR_PROTO, HTTP1_E_HOST);
    req_fails(B("GET / HTTP/1.1\r\nHost: a/b\r\n\r\n"), ERR_PROTO, HTTP1_E_HOST);
    req_fails(B("GET / HTTP/1.1\r\nHost: u@a\r\n\r\n"), ERR_PROTO, HTTP1_E_HOST);
    req_fails(B("GET / HTTP/1.1\r\nHost: a, b\r\n\r\n"), ERR_PROTO, HTTP1_E_HOST);
    assert_true(req(B("GET / HTTP/1.0\r\n\r\n"), &m) > 0);
    assert_int_equal(0, m.host_count);
    assert_true(req(B("GET / HTTP/1.1\r\nHost:\r\n\r\n"), &m) > 0);
    assert_true(req(B("GET / HTTP/1.1\r\nHOST: [::1]:8081\r\n\r\n"), &m) > 0);
    assert_int_equal(1, m.host_count);
    assert_true(req(B("GET / HTTP/1.1\r\nHost: xn--bcher-kva.example:80\r\n\r\n"), &m) > 0);
    /* absolute-form still needs its Host in HTTP/1.1 */
    req_fails(B("GET http://a/ HTTP/1.1\r\n\r\n"), ERR_PROTO, HTTP1_E_HOST);
    /* responses have no Host rule */
    assert_true(resp(B("HTTP/1.1 200 OK\r\nHost: a\r\nHost: b c\r\n\r\n"), &m) > 0);
    assert_int_equal(0, m.host_count);
    UNIT_END(live);
}

static void
test_keep_alive_rules(void **state)
{
    static const struct {
        const char *msg;
        bool ka;
    } t[] = {
        {"GET / HTTP/1.1\r\nHost: a\r\n\r\n", true},
        {"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", false},
        {"GET / HTTP/1.1\r\nHost: a\r\nConnection: CLOSE\r\n\r\n", false},
        {"GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, close\r\n\r\n", false},
        {"GET / HTTP/1.1\r\nHost: a\r\nConnection: x\r\nConnection: close\r\n\r\n", false},
        {"GET / HTTP/1.1\r\nHost: a\r\nConnection: closed\r\n\r\n", true},
        {"GET / HTTP/1.1\r\nHost: a\r\nConnection: ,, close ,\r\n\r\n", false},
        {"GET / HTTP/1.0\r\n\r\n", false},
        {"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", true},
        {"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", true},
        {"GET / HTTP/1.0\r\nConnection: keep-alive\r\nConnection: close\r\n\r\n", false},
        {"GET / HTTP/1.0\r\nKeep-Alive: timeout=5\r\n\r\n", false},
    };
    int64_t live = mem_live();
    struct http1_msg m;
    size_t i;

    (void)state;
    for (i = 0; i < ARRAY_SIZE(t); i++) {
        assert_int_equal(strlen(t[i].msg), req((const uint8_t *)t[i].msg, strlen(t[i].msg), &m));
        assert_int_equal(t[i].ka, m.keep_alive);
    }
    assert_true(
        resp(B("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n"), &m) > 0);
    assert_true(m.keep_alive);
    assert_true(resp(B("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n"), &m) > 0);
    assert_false(m.keep_alive);
    UNIT_END(live);
}

static void
test_upgrade_and_expect(void **state)
{
    int64_t live = mem_live();
    struct http1_msg m;

    (void)state;
    assert_true(req(B("GET /ws HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, Upgrade\r\n"
                      "Upgrade: websocket\r\n\r\n"),
                    &m) > 0);
    assert_true(m.upgrade);
    assert_true(req(B("GET / HTTP/1.1\r\nHost: a\r\nUpgrade: h2c\r\n\r\n"), &m) > 0);
    assert_false(m.upgrade);
    assert_true(req(B("GET / HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\n\r\n"), &m) > 0);
    assert_false(m.upgrade);
    assert_true(resp(B("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n"
                       "Upgrade: websocket\r\n\r\n"),
                     &m) > 0);
    assert_true(m.upgrade);
    assert_int_equal(HTTP1_BODY_NONE, http1_body_mode(&m, HTTP1_M_GET));

    assert_true(req(B("PUT /v HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n"
                      "Content-Length: 10\r\n\r\n"),
                    &m) > 0);
    assert_true(m.expect_continue);
    assert_true(req(B("PUT /v HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\n\r\n"), &m) > 0);
    assert_true(m.expect_continue);
    assert_true(req(B("PUT /v HTTP/1.0\r\nExpect: 100-continue\r\n\r\n"), &m) > 0);
    assert_false(m.expect_continue);
    assert_true(req(B("PUT /v HTTP/1.1\r\nHost: a\r\nExpect: 200-ok\r\n\r\n"), &m) > 0);
    assert_false(m.expect_continue);
    assert_true(resp(B("HTTP/1.1 200 OK\r\nExpect: 100-continue\r\n\r\n"), &m) > 0);
    assert_false(m.expect_continue);
    UNIT_END(live);
}

static void
test_header_helpers(void **state)
{
    static const char r[] = "GET / HTTP/1.1\r\nHost: a\r\nAccept: a/b\r\nX-Tag: one\r\n"
                            "accept: c/d, e/f\r\nCache-Control: no-cache ,\tMax-Age=0\r\n"
                            "X-Empty:\r\n\r\n";
    int64_t live = mem_live();
    const uint8_t *p = (const uint8_t *)r;
    const struct http1_header *h;
    struct http1_msg m;

    (void)state;
    assert_true(req(B(r), &m) > 0);
    h = http1_header_find(&m, p, "ACCEPT", NULL);
    assert_ptr_equal(&m.hdrs[1], h);
    h = http1_header_find(&m, p, "accept", h);
    assert_ptr_equal(&m.hdrs[3], h);
    assert_null(http1_header_find(&m, p, "accept", h));
    assert_null(http1_header_find(&m, p, "accep", NULL));
    assert_null(http1_header_find(&m, p, "accepts", NULL));
    assert_null(http1_header_find(&m, p, "x-tag", &m.hdrs[2]));
    assert_ptr_equal(&m.hdrs[5], http1_header_find(&m, p, "x-empty", NULL));

    assert_true(http1_header_has_token(&m, p, "accept", "e/f"));
    assert_true(http1_header_has_token(&m, p, "Accept", "A/B"));
    assert_false(http1_header_has_token(&m, p, "accept", "c/"));
    assert_true(http1_header_has_token(&m, p, "cache-control", "max-age=0"));
    assert_true(http1_header_has_token(&m, p, "cache-control", "no-cache"));
    assert_false(http1_header_has_token(&m, p, "pragma", "no-cache"));
    assert_false(http1_header_has_token(&m, p, "x-empty", "x"));

    assert_true(http1_span_eq(p, m.hdrs[2].name, "x-TAG"));
    assert_false(http1_span_eq(p, m.hdrs[2].name, "x-ta"));
    assert_true(http1_span_eq(p, m.target, "/"));
    UNIT_END(live);
}

static void
test_cursor_unmoved_on_error(void **state)
{
    static const char r[] = "GET /a HTTP/1.1\r\nHost: a\r\nX-Ok: 1\r\nBad Name: 2\r\n\r\n";
    int64_t live = mem_live();
    const uint8_t *p = (const uint8_t *)r;
    struct http1_msg m;
    struct cursor before;
    long rc;

    (void)state;
    http1_msg_init(&m, HTTP1_REQUEST, NULL);
    assert_int_equal(ERR_AGAIN, http1_parse_head(&m, p, 37));
    assert_int_equal(HTTP1_E_NONE, m.error);
    before = cursor_of(&m);
    assert_int_equal(2, before.nhdrs);
    assert_int_equal(35, before.line_start);
    rc = http1_parse_head(&m, p, sizeof(r) - 1);
    assert_int_equal(ERR_PROTO, rc);
    assert_int_equal(HTTP1_E_FIELD, m.error);
    assert_int_equal(before.pos, m.pos);
    assert_int_equal(before.state, m.state);
    assert_int_equal(before.mark, m.mark);
    assert_int_equal(before.line_start, m.line_start);
    assert_int_equal(before.nhdrs, m.nhdrs);
    /* the same bytes fail the same way again */
    assert_int_equal(ERR_PROTO, http1_parse_head(&m, p, sizeof(r) - 1));
    assert_int_equal(HTTP1_E_FIELD, m.error);
    assert_int_equal(before.pos, m.pos);

    /* an error found whole leaves the cursor at the start */
    http1_msg_init(&m, HTTP1_REQUEST, NULL);
    assert_int_equal(ERR_PROTO, http1_parse_head(&m, p, sizeof(r) - 1));
    assert_int_equal(0, m.pos);
    assert_int_equal(0, m.nhdrs);

    /* a head that ends in a framing error is not complete */
    http1_msg_init(&m, HTTP1_REQUEST, NULL);
    assert_int_equal(
        ERR_PROTO,
        http1_parse_head(&m, B("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: x\r\n\r\n")));
    assert_int_equal(HTTP1_E_CL, m.error);
    assert_int_equal(0, m.pos);
    UNIT_END(live);
}

static void
test_split_invariance(void **state)
{
    /* parse_all() checks every split; these add odd shapes to the tests above */
    static const char *const msgs[] = {
        "GET / HTTP/1.1\r\nHost: a\r\n\r\n",
        "\r\n\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\r\nX:\r\nY: \t \r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\r\nX: 12345678901234567890123456789012\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\r\nX: 1234567\x01Z890\r\n\r\n",
        "GET /1234567890123456789012345678901234567890 HTTP/1.1\r\nHost: a\r\n\r\n",
        "GET /1234567890123456789012345678\x7f HTTP/1.1\r\nHost: a\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n\r",
        "GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n\rX",
        "GET / HTTP/1.1\r\n",
        "GET / HTTP/1.",
        "G",
        "",
    };
    int64_t live = mem_live();
    struct http1_msg m;
    size_t i;
    long rc;

    (void)state;
    for (i = 0; i < ARRAY_SIZE(msgs); i++) {
        rc = parse_all(HTTP1_REQUEST, NULL, (const uint8_t *)msgs[i], strlen(msgs[i]), &m);
        assert_true(rc != 0);
        rc = parse_all(HTTP1_REQUEST, &small_limits, (const uint8_t *)msgs[i], strlen(msgs[i]), &m);
        assert_true(rc != 0);
    }
    req_fails(B("GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n\rX"), ERR_PROTO, HTTP1_E_FIELD);
    assert_int_equal(ERR_AGAIN, req(B("GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n\r"), &m));
    assert_int_equal(ERR_AGAIN, req(B(""), &m));
    UNIT_END(live);
}

/* ---- responses ---- */

static void
test_response_basic(void **state)
{
    static const char r[] = "HTTP/1.1 200 OK\r\n"
                            "Content-Type: video/iso.segment\r\n"
                            "Content-Length: 1234\r\n"
                            "Cache-Control: max-age=31536000, immutable\r\n"
                            "\r\n";
    int64_t live = mem_live();
    const uint8_t *p = (const uint8_t *)r;
    struct http1_msg m;

    (void)state;
    assert_int_equal(sizeof(r) - 1, resp(B(r), &m));
    assert_int_equal(200, m.status);
    assert_span(p, m.reason, "OK");
    assert_int_equal(1, m.version_minor);
    assert_int_equal(1234, m.content_length);
    assert_int_equal(3, m.nhdrs);
    assert_true(m.keep_alive);
    assert_int_equal(HTTP1_BODY_LENGTH, http1_body_mode(&m, HTTP1_M_GET));

    assert_true(resp(B("HTTP/1.1 404 Not  Found\t(x)\x80\r\n\r\n"), &m) > 0);
    assert_int_equal(404, m.status);
    assert_int_equal(15, m.reason.len);
    assert_true(resp(B("HTTP/1.1 204\r\n\r\n"), &m) > 0);
    assert_int_equal(204, m.status);
    assert_int_equal(0, m.reason.len);
    assert_true(resp(B("HTTP/1.1 200 \r\n\r\n"), &m) > 0);
    assert_int_equal(0, m.reason.len);
    assert_true(resp(B("HTTP/1.0 599 x\r\n\r\n"), &m) > 0);
    assert_false(m.keep_alive);

    resp_fails(B("HTTP/1.1 20 OK\r\n\r\n"), ERR_PROTO, HTTP1_E_START_LINE);
    resp_fails(B("HTTP/1.1 2000 OK\r\n\r\n"), ERR_PROTO, HTTP1_E_START_LINE);
    resp_fails(B("HTTP/1.1 099 x\r\n\r\n"), ERR_PROTO, HTTP1_E_START_LINE);
    resp_fails(B("HTTP/1.1 600 x\r\n\r\n"), ERR_PROTO, HTTP1_E_START_LINE);
    resp_fails(B("HTTP/1.1  200 OK\r\n\r\n"), ERR_PROTO, HTTP1_E_START_LINE);
    resp_fails(B("HTTP/1.1 200 O\x01K\r\n\r\n"), ERR_PROTO, HTTP1_E_START_LINE);
    resp_fails(B("HTTP/1.1 200 OK\n\r\n"), ERR_PROTO, HTTP1_E_START_LINE);
    resp_fails(B("HTTP/2 200\r\n\r\n"), ERR_PROTO, HTTP1_E_VERSION);
    resp_fails(B("ICY 200 OK\r\n\r\n"), ERR_PROTO, HTTP1_E_START_LINE);
    assert_int_equal(ERR_AGAIN, resp(B("HTTP/1.1 200 OK\r\nServer: x"), &m));
    UNIT_END(live);
}

static void
test_response_status_line_limit(void **state)
{
    static char buf[20000], reason[10000];
    int64_t live = mem_live();
    struct http1_msg m;
    int n;

    (void)state;
    n = snprintf(buf, sizeof(buf), "HTTP/1.1 200 %s\r\n\r\n", fill(reason, 'r', 51));
    assert_int_equal(n, parse_all(HTTP1_RESPONSE, &small_limits, (uint8_t *)buf, (size_t)n, &m));
    n = snprintf(buf, sizeof(buf), "HTTP/1.1 200 %s\r\n\r\n", fill(reason, 'r', 52));
    assert_int_equal(ERR_LIMIT,
                     parse_all(HTTP1_RESPONSE, &small_limits, (uint8_t *)buf, (size_t)n, &m));
    assert_int_equal(HTTP1_E_HEAD_TOO_LARGE, m.error);
    n = snprintf(buf, sizeof(buf), "HTTP/1.1 200 %s\r\n\r\n", fill(reason, 'r', 9000));
    resp_fails((uint8_t *)buf, (size_t)n, ERR_LIMIT, HTTP1_E_HEAD_TOO_LARGE);
    UNIT_END(live);
}

static void
test_response_body_modes(void **state)
{
    static const struct {
        const char *head;
        enum http1_method req;
        enum http1_body_mode mode;
    } t[] = {
        {"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n", HTTP1_M_GET, HTTP1_BODY_LENGTH},
        {"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n", HTTP1_M_HEAD, HTTP1_BODY_NONE},
        {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", HTTP1_M_HEAD, HTTP1_BODY_NONE},
        {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", HTTP1_M_GET, HTTP1_BODY_CHUNKED},
        {"HTTP/1.1 200 OK\r\n\r\n", HTTP1_M_GET, HTTP1_BODY_EOF},
        {"HTTP/1.0 200 OK\r\n\r\n", HTTP1_M_GET, HTTP1_BODY_EOF},
        {"HTTP/1.1 100 Continue\r\n\r\n", HTTP1_M_PUT, HTTP1_BODY_NONE},
        {"HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n", HTTP1_M_GET, HTTP1_BODY_NONE},
        {"HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n", HTTP1_M_GET, HTTP1_BODY_NONE},
        {"HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n", HTTP1_M_GET, HTTP1_BODY_NONE},
        {"HTTP/1.1 304 Not Modified\r\n\r\n", HTTP1_M_GET, HTTP1_BODY_NONE},
        {"HTTP/1.1 200 Connection established\r\n\r\n", HTTP1_M_CONNECT, HTTP1_BODY_NONE},
        {"HTTP/1.1 407 Auth\r\nContent-Length: 3\r\n\r\n", HTTP1_M_CONNECT, HTTP1_BODY_LENGTH},
        {"HTTP/1.1 502 Bad Gateway\r\n\r\n", HTTP1_M_CONNECT, HTTP1_BODY_EOF},
        {"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", HTTP1_M_GET, HTTP1_BODY_LENGTH},
    };
    int64_t live = mem_live();
    struct http1_msg m;
    size_t i;

    (void)state;
    for (i = 0; i < ARRAY_SIZE(t); i++) {
        assert_int_equal(strlen(t[i].head),
                         resp((const uint8_t *)t[i].head, strlen(t[i].head), &m));
        assert_int_equal(t[i].mode, http1_body_mode(&m, t[i].req));
    }
    /* requests: framing alone decides */
    assert_true(req(B("GET / HTTP/1.1\r\nHost: a\r\n\r\n"), &m) > 0);
    assert_int_equal(HTTP1_BODY_NONE, http1_body_mode(&m, HTTP1_M_HEAD));
    assert_true(req(B("POST / HTTP/1.1\r\nHost: a\r\n\r\n"), &m) > 0);
    assert_int_equal(HTTP1_BODY_NONE, http1_body_mode(&m, HTTP1_M_OTHER));
    assert_true(req(B("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\n"), &m) > 0);
    assert_int_equal(HTTP1_BODY_LENGTH, http1_body_mode(&m, HTTP1_M_OTHER));

    /* a zero Content-Length body is done before it starts */
    body_all(HTTP1_BODY_LENGTH, 0, 0, B("GET"), &body_res);
    assert_true(body_res.done);
    assert_int_equal(0, body_res.consumed);
    body_all(HTTP1_BODY_NONE, -1, 0, B("GET"), &body_res);
    assert_true(body_res.done);
    assert_int_equal(0, body_res.consumed);
    UNIT_END(live);
}

static void
test_response_interim_then_final(void **state)
{
    static const char r[] = "HTTP/1.1 100 Continue\r\n\r\n"
                            "HTTP/1.1 103 Early Hints\r\nLink: </x>; rel=preload\r\n\r\n"
                            "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    int64_t live = mem_live();
    const uint8_t *p = (const uint8_t *)r;
    size_t off = 0, n = sizeof(r) - 1;
    struct http1_msg m;
    long rc;

    (void)state;
    rc = resp(p, n, &m);
    assert_int_equal(25, rc);
    assert_int_equal(100, m.status);
    off += (size_t)rc;
    rc = resp(p + off, n - off, &m);
    assert_true(rc > 0);
    assert_int_equal(103, m.status);
    off += (size_t)rc;
    rc = resp(p + off, n - off, &m);
    assert_true(rc > 0);
    assert_int_equal(200, m.status);
    off += (size_t)rc;
    body_all(http1_body_mode(&m, HTTP1_M_PUT), m.content_length, 0, p + off, n - off, &body_res);
    assert_true(body_res.done);
    assert_int_equal(2, body_res.outlen);
    assert_memory_equal("ok", body_res.out, 2);
    UNIT_END(live);
}

/* ---- bodies ---- */

static void
test_body_length(void **state)
{
    int64_t live = mem_live();

    (void)state;
    body_all(HTTP1_BODY_LENGTH, 5, 0, B("helloGET / HTTP/1.1\r\n"), &body_res);
    assert_int_equal(0, body_res.rc);
    assert_true(body_res.done);
    assert_int_equal(5, body_res.consumed);
    assert_int_equal(5, body_res.outlen);
    assert_memory_equal("hello", body_res.out, 5);

    body_all(HTTP1_BODY_LENGTH, 10, 0, B("hello"), &body_res);
    assert_false(body_res.done);
    assert_int_equal(5, body_res.consumed);
    UNIT_END(live);
}

static void
test_body_chunked(void **state)
{
    static const char b[] = "5\r\nhello\r\n"
                            "6;name=value;quoted=\"a b;c\"\r\n world\r\n"
                            "0000A ; ext\r\n0123456789\r\n"
                            "0;last\r\n"
                            "Expires: never\r\nX-Checksum: abc\r\n"
                            "\r\n"
                            "NEXT";
    int64_t live = mem_live();

    (void)state;
    body_all(HTTP1_BODY_CHUNKED, -1, 0, B(b), &body_res);
    assert_int_equal(0, body_res.rc);
    assert_true(body_res.done);
    assert_int_equal(sizeof(b) - 1 - 4, body_res.consumed);
    assert_int_equal(21, body_res.outlen);
    assert_memory_equal("hello world0123456789", body_res.out, 21);

    /* a large chunk spans many calls */
    {
        static char big[66000];
        int n = snprintf(big, sizeof(big), "%x\r\n", 65000);

        memset(big + n, 'z', 65000);
        memcpy(big + n + 65000, "\r\n0\r\n\r\n", 7);
        body_all(HTTP1_BODY_CHUNKED, -1, 0, (uint8_t *)big, (size_t)n + 65007, &body_res);
        assert_true(body_res.done);
        assert_int_equal(65000, body_res.outlen);
    }
    UNIT_END(live);
}

static void
test_body_chunked_bad(void **state)
{
    static char big[10000];
    int64_t live = mem_live();
    int n;

    (void)state;
    chunked_fails(B("\r\nabc"), ERR_PROTO, HTTP1_E_CHUNK);
    chunked_fails(B(";x\r\n"), ERR_PROTO, HTTP1_E_CHUNK);
    chunked_fails(B("g\r\n"), ERR_PROTO, HTTP1_E_CHUNK);
    chunked_fails(B("0x10\r\n"), ERR_PROTO, HTTP1_E_CHUNK);
    chunked_fails(B("-5\r\n"), ERR_PROTO, HTTP1_E_CHUNK);
    chunked_fails(B("+5\r\n"), ERR_PROTO, HTTP1_E_CHUNK);
    chunked_fails(B(" 5\r\n"), ERR_PROTO, HTTP1_E_CHUNK);
    chunked_fails(B("5 \r\nhello\r\n0\r\n\r\n"), ERR_PROTO, HTTP1_E_CHUNK);
    chunked_fails(B("5\nhello\r\n0\r\n\r\n"), ERR_PROTO, HTTP1_E_CHUNK);
    chunked_fails(B("5\rhello\r\n0\r\n\r\n"), ERR_PROTO, HTTP1_E_CHUNK);
    chunked_fails(B("5;a\nb\r\nhello\r\n0\r\n\r\n"), ERR_PROTO, HTTP1_E_CHUNK);
    chunked_fails(B("5;a\rb\r\nhello\r\n0\r\n\r\n"), ERR_PROTO, HTTP1_E_CHUNK);
    chunked_fails(B("5;a\0\r\nhello\r\n0\r\n\r\n"), ERR_PROTO, HTTP1_E_CHUNK);
    chunked_fails(B("8000000000000000\r\n"), ERR_PROTO, HTTP1_E_CHUNK);
    chunked_fails(B("10000000000000000\r\n"), ERR_PROTO, HTTP1_E_CHUNK);
    chunked_fails(B("fffffffffffffffff\r\n"), ERR_PROTO, HTTP1_E_CHUNK);
    chunked_fails(B("5\r\nhelloX\r\n0\r\n\r\n"), ERR_PROTO, HTTP1_E_CHUNK);
    chunked_fails(B("5\r\nhello\rX\n0\r\n\r\n"), ERR_PROTO, HTTP1_E_CHUNK);
    chunked_fails(B("5\r\nhello\n0\r\n\r\n"), ERR_PROTO, HTTP1_E_CHUNK);
    chunked_fails(B("5\r\nhello\r\n0\r\n\rX"), ERR_PROTO, HTTP1_E_CHUNK);
    chunked_fails(B("5\r\nhello\r\n0\r\n\n"), ERR_PROTO, HTTP1_E_FIELD);
    chunked_fails(B("0\r\nX: a\r\n b\r\n\r\n"), ERR_PROTO, HTTP1_E_OBS_FOLD);
    chunked_fails(B("0\r\nX : a\r\n\r\n"), ERR_PROTO, HTTP1_E_FIELD);
    chunked_fails(B("0\r\nX: a\rb\r\n\r\n"), ERR_PROTO, HTTP1_E_FIELD);
    chunked_fails(B("0\r\nX: a\0\r\n\r\n"), ERR_PROTO, HTTP1_E_FIELD);
    chunked_fails(B("0\r\nX: a\r\r\n\r\n"), ERR_PROTO, HTTP1_E_FIELD);

    /* the largest size that fits 63 bits is accepted (and then awaited) */
    body_all(HTTP1_BODY_CHUNKED, -1, 0, B("7fffffffffffffff\r\nabc"), &body_res);
    assert_int_equal(0, body_res.rc);
    assert_false(body_res.done);
    assert_int_equal(3, body_res.outlen);
    /* leading zeros are hex digits like any other */
    body_all(HTTP1_BODY_CHUNKED, -1, 0, B("00000000000000000000000001\r\na\r\n0\r\n\r\n"),
             &body_res);
    assert_true(body_res.done);

    /* extensions are bounded */
    n = snprintf(big, sizeof(big), "1;x=");
    memset(big + n, 'e', HTTP1_CHUNK_LINE_MAX - (size_t)n);
    n = HTTP1_CHUNK_LINE_MAX;
    n += snprintf(big + n, sizeof(big) - (size_t)n, "\r\na\r\n0\r\n\r\n");
    body_all(HTTP1_BODY_CHUNKED, -1, 0, (uint8_t *)big, (size_t)n, &body_res);
    assert_true(body_res.done);
    n = snprintf(big, sizeof(big), "1;x=");
    memset(big + n, 'e', HTTP1_CHUNK_LINE_MAX + 1 - (size_t)n);
    n = HTTP1_CHUNK_LINE_MAX + 1;
    n += snprintf(big + n, sizeof(big) - (size_t)n, "\r\na\r\n0\r\n\r\n");
    chunked_fails((uint8_t *)big, (size_t)n, ERR_LIMIT, HTTP1_E_CHUNK);
    /* and so are trailers */
    n = snprintf(big, sizeof(big), "0\r\nX: ");
    memset(big + n, 't', HTTP1_TRAILER_MAX);
    n += HTTP1_TRAILER_MAX;
    n += snprintf(big + n, sizeof(big) - (size_t)n, "\r\n\r\n");
    chunked_fails((uint8_t *)big, (size_t)n, ERR_LIMIT, HTTP1_E_HEAD_TOO_LARGE);
    UNIT_END(live);
}

static void
test_body_max(void **state)
{
    static struct http1_body b;
    int64_t live = mem_live();
    size_t off, len;

    (void)state;
    /* Content-Length over the cap fails before any byte */
    http1_body_init(&b, HTTP1_BODY_LENGTH, 11, 10);
    http1_body_check(&b);
    assert_int_equal(HTTP1_E_BODY_TOO_LARGE, b.error);
    assert_int_equal(ERR_LIMIT, http1_body_parse(&b, B("hello"), &off, &len));
    assert_int_equal(ERR_LIMIT, http1_body_parse(&b, NULL, 0, &off, &len));
    assert_int_equal(413, http1_error_status(b.error));
    assert_int_equal(ERR_LIMIT, http1_body_eof(&b));
    body_all(HTTP1_BODY_LENGTH, 10, 10, B("0123456789"), &body_res);
    assert_true(body_res.done);

    /* a chunk size that would pass the cap fails at the digit that does */
    body_all(HTTP1_BODY_CHUNKED, -1, 10, B("5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"), &body_res);
    assert_int_equal(ERR_LIMIT, body_res.rc);
    assert_int_equal(HTTP1_E_BODY_TOO_LARGE, body_res.err);
    assert_int_equal(5, body_res.outlen);
    assert_int_equal(10, body_res.consumed);
    body_all(HTTP1_BODY_CHUNKED, -1, 11, B("5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"), &body_res);
    assert_true(body_res.done);
    body_all(HTTP1_BODY_CHUNKED, -1, 100, B("1000\r\n"), &body_res);
    assert_int_equal(ERR_LIMIT, body_res.rc);
    assert_int_equal(2, body_res.consumed);

    /* EOF mode: runs stop at the cap; the next byte is the error */
    body_all(HTTP1_BODY_EOF, -1, 4, B("abcdef"), &body_res);
    assert_int_equal(ERR_LIMIT, body_res.rc);
    assert_int_equal(HTTP1_E_BODY_TOO_LARGE, body_res.err);
    assert_int_equal(4, body_res.outlen);
    assert_memory_equal("abcd", body_res.out, 4);
    body_all(HTTP1_BODY_EOF, -1, 4, B("abcd"), &body_res);
    assert_int_equal(0, body_res.rc);
    assert_int_equal(4, body_res.outlen);
    UNIT_END(live);
}

static void
test_body_eof_and_truncation(void **state)
{
    static struct http1_body b;
    int64_t live = mem_live();
    size_t off, len;

    (void)state;
    http1_body_init(&b, HTTP1_BODY_LENGTH, 10, 0);
    assert_int_equal(3, http1_body_parse(&b, B("abc"), &off, &len));
    assert_int_equal(ERR_PROTO, http1_body_eof(&b));
    assert_int_equal(HTTP1_E_TRUNCATED, b.error);

    http1_body_init(&b, HTTP1_BODY_CHUNKED, -1, 0);
    assert_int_equal(10, http1_body_parse(&b, B("5\r\nhello\r\n"), &off, &len));
    assert_int_equal(3, off);
    assert_int_equal(5, len);
    assert_false(b.done);
    assert_int_equal(ERR_PROTO, http1_body_eof(&b));
    assert_int_equal(HTTP1_E_TRUNCATED, b.error);
    /* the last chunk without its final CRLF is still truncated */
    http1_body_init(&b, HTTP1_BODY_CHUNKED, -1, 0);
    assert_int_equal(3, http1_body_parse(&b, B("0\r\n"), &off, &len));
    assert_int_equal(ERR_PROTO, http1_body_eof(&b));

    http1_body_init(&b, HTTP1_BODY_EOF, -1, 0);
    assert_int_equal(5, http1_body_parse(&b, B("hello"), &off, &len));
    assert_int_equal(0, off);
    assert_int_equal(5, len);
    assert_false(b.done);
    assert_int_equal(0, http1_body_eof(&b));
    assert_true(b.done);
    http1_body_check(&b);
    assert_int_equal(0, http1_body_parse(&b, B("more"), &off, &len));

    http1_body_init(&b, HTTP1_BODY_LENGTH, 2, 0);
    assert_int_equal(2, http1_body_parse(&b, B("ok"), &off, &len));
    assert_true(b.done);
    assert_int_equal(0, http1_body_eof(&b));
    http1_body_init(&b, HTTP1_BODY_NONE, -1, 0);
    assert_int_equal(0, http1_body_eof(&b));
    UNIT_END(live);
}

static void
test_body_error_after_progress(void **state)
{
    static const char b[] = "3\r\nabc\r\nZ\r\n";
    static struct http1_body body, snap;
    int64_t live = mem_live();
    const uint8_t *p = (const uint8_t *)b;
    size_t off, len;
    long rc;

    (void)state;
    http1_body_init(&body, HTTP1_BODY_CHUNKED, -1, 0);
    /* the run and the framing after it are taken; the bad size is left */
    rc = http1_body_parse(&body, p, sizeof(b) - 1, &off, &len);
    assert_int_equal(8, rc);
    assert_int_equal(3, off);
    assert_int_equal(3, len);
    assert_int_equal(HTTP1_E_NONE, body.error);
    snap = body;
    rc = http1_body_parse(&body, p + 8, sizeof(b) - 1 - 8, &off, &len);
    assert_int_equal(ERR_PROTO, rc);
    assert_int_equal(HTTP1_E_CHUNK, body.error);
    assert_int_equal(0, len);
    assert_int_equal(snap.state, body.state);
    assert_int_equal(snap.left, body.left);
    assert_int_equal(snap.total, body.total);
    assert_int_equal(snap.line_len, body.line_len);
    http1_body_check(&body);

    /* one run per call: the second chunk's data waits for the next call */
    http1_body_init(&body, HTTP1_BODY_CHUNKED, -1, 0);
    rc = http1_body_parse(&body, B("1\r\na\r\n1\r\nb\r\n0\r\n\r\n"), &off, &len);
    assert_int_equal(9, rc);
    assert_int_equal(1, len);
    rc = http1_body_parse(&body, (const uint8_t *)"b\r\n0\r\n\r\n", 8, &off, &len);
    assert_int_equal(8, rc);
    assert_int_equal(0, off);
    assert_int_equal(1, len);
    assert_true(body.done);
    UNIT_END(live);
}

static void
test_error_strings(void **state)
{
    int64_t live = mem_live();
    int e, j;

    (void)state;
    assert_int_equal(0, http1_error_status(HTTP1_E_NONE));
    assert_string_equal("none", http1_error_code(HTTP1_E_NONE));
    for (e = HTTP1_E_START_LINE; e <= HTTP1_E_TRUNCATED; e++) {
        int st = http1_error_status((enum http1_error)e);

        assert_true(st == 400 || st == 413 || st == 414 || st == 431 || st == 501 || st == 505);
        assert_string_not_equal("unknown", http1_error_code((enum http1_error)e));
        for (j = HTTP1_E_NONE; j < e; j++)
            assert_string_not_equal(http1_error_code((enum http1_error)j),
                                    http1_error_code((enum http1_error)e));
    }
    assert_string_equal("header_too_large", http1_error_code(HTTP1_E_HEAD_TOO_LARGE));
    assert_string_equal("bad_start_line", http1_error_code(HTTP1_E_START_LINE));
    UNIT_END(live);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request_browser_get),
        cmocka_unit_test(test_request_dashjs_cmcd),
        cmocka_unit_test(test_request_leading_empty_lines),
        cmocka_unit_test(test_request_pipelined),
        cmocka_unit_test(test_request_methods),
        cmocka_unit_test(test_request_target_forms),
        cmocka_unit_test(test_request_version),
        cmocka_unit_test(test_limits_request_line),
        cmocka_unit_test(test_limits_fields),
        cmocka_unit_test(test_limits_head),
        cmocka_unit_test(test_smuggling_framing),
        cmocka_unit_test(test_smuggling_nul_and_values),
        cmocka_unit_test(test_host_rules),
        cmocka_unit_test(test_keep_alive_rules),
        cmocka_unit_test(test_upgrade_and_expect),
        cmocka_unit_test(test_header_helpers),
        cmocka_unit_test(test_cursor_unmoved_on_error),
        cmocka_unit_test(test_split_invariance),
        cmocka_unit_test(test_response_basic),
        cmocka_unit_test(test_response_status_line_limit),
        cmocka_unit_test(test_response_body_modes),
        cmocka_unit_test(test_response_interim_then_final),
        cmocka_unit_test(test_body_length),
        cmocka_unit_test(test_body_chunked),
        cmocka_unit_test(test_body_chunked_bad),
        cmocka_unit_test(test_body_max),
        cmocka_unit_test(test_body_eof_and_truncation),
        cmocka_unit_test(test_body_error_after_progress),
        cmocka_unit_test(test_error_strings),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
