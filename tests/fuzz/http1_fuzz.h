/*
 * http1_fuzz.h -- the driver both HTTP/1 fuzz targets share.
 *
 * One input is a stream of messages (pipelined requests, or interim and
 * final responses). It is parsed three ways -- whole, split at a point
 * derived from the input, and (when short) one byte at a time -- under two
 * sets of limits, and every way must give the same transcript: result
 * codes, errors, spans, flags, body bytes, how each message ended. After
 * every call the parser's _check() runs, and a failing call must leave the
 * cursor (head) or the state (body) as it found it. In the split run each
 * call gets an exact-size copy of what has "arrived", so ASan sees any read
 * past len. Not a header for product code: fuzz targets include it once.
 */
#ifndef CASCADE_HTTP1_FUZZ_H
#define CASCADE_HTTP1_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "err.h"
#include "mem.h"
#include "miniobj.h"
#include "proto/http1.h"
#include "compat.h"

#define HTTP1_FUZZ_MAX_MSGS 8
#define HTTP1_FUZZ_BYTEWISE_MAX 1024

struct http1_fuzz_log {
    uint64_t h;
    uint64_t n;
};

static void
http1_fuzz_mix(struct http1_fuzz_log *t, uint64_t v)
{
    t->h = (t->h ^ v) * 0x100000001b3ULL;
    t->n++;
}

static void
http1_fuzz_mix_span(struct http1_fuzz_log *t, struct http1_span s)
{
    http1_fuzz_mix(t, ((uint64_t)s.off << 32) | s.len);
}

/* How bytes "arrive": first, then step more whenever the parser waits. */
struct http1_fuzz_feed {
    size_t first;
    size_t step;
    bool exact; /* hand each call an exact-size heap copy */
};

/* One parser call on data[off..avail), as an exact copy when asked. */
static long
http1_fuzz_head_call(struct http1_msg *m, const uint8_t *data, size_t off, size_t avail, bool exact)
{
    uint8_t *copy = NULL;
    long rc;

    if (exact && avail > off) {
        copy = xmalloc(avail - off);
        memcpy(copy, data + off, avail - off);
    }
    rc = http1_parse_head(m, copy != NULL ? copy : data + off, avail - off);
    xfree(copy);
    return rc;
}

static long
http1_fuzz_body_call(struct http1_body *b, const uint8_t *data, size_t off, size_t avail,
                     bool exact, size_t *doff, size_t *dlen)
{
    uint8_t *copy = NULL;
    long rc;

    if (exact && avail > off) {
        copy = xmalloc(avail - off);
        memcpy(copy, data + off, avail - off);
    }
    rc = http1_body_parse(b, copy != NULL ? copy : data + off, avail - off, doff, dlen);
    xfree(copy);
    return rc;
}

static void
http1_fuzz_log_head(struct http1_fuzz_log *t, const struct http1_msg *m, const uint8_t *base)
{
    uint16_t i;

    http1_fuzz_mix(t, (uint64_t)m->method);
    http1_fuzz_mix_span(t, m->method_tok);
    http1_fuzz_mix_span(t, m->target);
    http1_fuzz_mix(t, m->status);
    http1_fuzz_mix_span(t, m->reason);
    http1_fuzz_mix(t, m->version_minor);
    http1_fuzz_mix(t, m->nhdrs);
    for (i = 0; i < m->nhdrs; i++) {
        http1_fuzz_mix_span(t, m->hdrs[i].name);
        http1_fuzz_mix_span(t, m->hdrs[i].value);
    }
    http1_fuzz_mix(t, (uint64_t)m->content_length);
    http1_fuzz_mix(t, (uint64_t)m->chunked | (uint64_t)m->keep_alive << 1 |
                          (uint64_t)m->expect_continue << 2 | (uint64_t)m->upgrade << 3);
    http1_fuzz_mix(t, m->host_count);
    http1_fuzz_mix(t, http1_header_has_token(m, base, "connection", "close"));
    http1_fuzz_mix(t, http1_header_has_token(m, base, "accept-encoding", "gzip"));
    http1_fuzz_mix(t, http1_header_find(m, base, "cmcd-request", NULL) != NULL);
}

/* The body of one message; false when the stream ends here. */
static bool
http1_fuzz_body(struct http1_fuzz_log *t, const struct http1_fuzz_feed *f, const uint8_t *data,
                size_t size, size_t *poff, size_t *pavail, enum http1_body_mode mode, int64_t cl,
                uint64_t max_body)
{
    struct http1_body b, snap;
    size_t off = *poff, avail = *pavail, doff, dlen, k;
    long r;

    http1_body_init(&b, mode, cl, max_body);
    http1_body_check(&b);
    for (;;) {
        snap = b;
        r = http1_fuzz_body_call(&b, data, off, avail, f->exact, &doff, &dlen);
        http1_body_check(&b);
        if (r < 0) {
            assert(r == ERR_PROTO || r == ERR_LIMIT);
            assert(b.error != HTTP1_E_NONE && dlen == 0);
            assert(snap.state == b.state && snap.left == b.left && snap.total == b.total);
            assert(snap.line_len == b.line_len && snap.trailer_len == b.trailer_len);
            http1_fuzz_mix(t, (uint64_t)r);
            http1_fuzz_mix(t, b.error);
            return false;
        }
        assert(b.error == HTTP1_E_NONE);
        assert((size_t)r <= avail - off);
        assert(r > 0 || avail == off || b.done);
        assert(dlen == 0 || doff + dlen <= (size_t)r);
        for (k = 0; k < dlen; k++)
            http1_fuzz_mix(t, data[off + doff + k]);
        off += (size_t)r;
        if (b.done)
            break;
        if (r == 0) {
            if (avail == size) {
                /* the peer closed */
                r = http1_body_eof(&b);
                http1_body_check(&b);
                http1_fuzz_mix(t, (uint64_t)r);
                http1_fuzz_mix(t, b.error);
                assert(r == 0 || !b.done);
                return false;
            }
            avail = avail + f->step < size ? avail + f->step : size;
        }
    }
    http1_fuzz_mix(t, 0xd0e);
    http1_fuzz_mix(t, b.total);
    *poff = off;
    *pavail = avail;
    return mode != HTTP1_BODY_EOF;
}

/* Parses the whole stream the way f says; the transcript goes to t. */
static void
http1_fuzz_run(struct http1_fuzz_log *t, enum http1_kind kind, const struct http1_limits *lim,
               uint64_t max_body, enum http1_method req_method, const uint8_t *data, size_t size,
               const struct http1_fuzz_feed *f)
{
    static struct http1_msg m;
    size_t off = 0, avail = f->first < size ? f->first : size;
    uint32_t before[5];
    int nmsg;
    long rc;

    t->h = 0xcbf29ce484222325ULL;
    t->n = 0;
    for (nmsg = 0; nmsg < HTTP1_FUZZ_MAX_MSGS; nmsg++) {
        http1_msg_init(&m, kind, lim);
        http1_msg_check(&m);
        for (;;) {
            before[0] = (uint32_t)m.state;
            before[1] = m.pos;
            before[2] = m.mark;
            before[3] = m.line_start;
            before[4] = m.nhdrs;
            rc = http1_fuzz_head_call(&m, data, off, avail, f->exact);
            http1_msg_check(&m);
            if (rc > 0 || rc == ERR_AGAIN) {
                assert(m.error == HTTP1_E_NONE);
            } else {
                assert(rc == ERR_PROTO || rc == ERR_LIMIT);
                assert(m.error != HTTP1_E_NONE);
                assert(before[0] == (uint32_t)m.state && before[1] == m.pos);
                assert(before[2] == m.mark && before[3] == m.line_start);
                assert(before[4] == m.nhdrs);
            }
            if (rc != ERR_AGAIN || avail == size)
                break;
            avail = avail + f->step < size ? avail + f->step : size;
        }
        http1_fuzz_mix(t, (uint64_t)rc);
        http1_fuzz_mix(t, m.error);
        if (rc <= 0)
            return;
        assert((size_t)rc <= avail - off && (size_t)rc <= lim->max_head);
        assert(http1_parse_head(&m, data + off, avail - off) == rc);
        http1_fuzz_log_head(t, &m, data + off);
        off += (size_t)rc;
        if (kind == HTTP1_RESPONSE && m.status == 101)
            return; /* the connection now speaks another protocol */
        if (kind == HTTP1_RESPONSE && req_method == HTTP1_M_CONNECT && m.status >= 200 &&
            m.status < 300)
            return; /* a tunnel */
        http1_fuzz_mix(t, http1_body_mode(&m, req_method));
        if (!http1_fuzz_body(t, f, data, size, &off, &avail, http1_body_mode(&m, req_method),
                             m.content_length, max_body))
            return;
    }
}

static const struct http1_limits http1_fuzz_small = {
    .max_line = 64,
    .max_field = 48,
    .max_head = 256,
    .max_headers = 6,
};

static void
http1_fuzz_same(const struct http1_fuzz_log *a, const struct http1_fuzz_log *b)
{
    assert(a->n == b->n);
    assert(a->h == b->h);
}

/* The whole check for one input. */
static void
http1_fuzz_one(enum http1_kind kind, const uint8_t *data, size_t size)
{
    static const enum http1_method methods[] = {HTTP1_M_GET, HTTP1_M_GET, HTTP1_M_HEAD,
                                                HTTP1_M_CONNECT, HTTP1_M_POST};
    struct http1_fuzz_log whole, other;
    struct http1_fuzz_feed f;
    uint64_t seed = 0x9e3779b97f4a7c15ULL;
    enum http1_method req_method;
    size_t k;
    int pass;
    int64_t live = mem_live();

    for (k = 0; k < size; k++)
        seed = (seed ^ data[k]) * 0x100000001b3ULL;
    req_method = methods[seed % ARRAY_SIZE(methods)];
    for (pass = 0; pass < 2; pass++) {
        const struct http1_limits *lim = pass == 0 ? &http1_default_limits : &http1_fuzz_small;
        uint64_t max_body = pass == 0 ? 0 : 64;

        f.first = size;
        f.step = size;
        f.exact = false;
        http1_fuzz_run(&whole, kind, lim, max_body, req_method, data, size, &f);

        f.first = size == 0 ? 0 : (size_t)((seed >> 8) % (size + 1));
        f.step = size;
        f.exact = true;
        http1_fuzz_run(&other, kind, lim, max_body, req_method, data, size, &f);
        http1_fuzz_same(&whole, &other);

        if (size <= HTTP1_FUZZ_BYTEWISE_MAX) {
            f.first = 0;
            f.step = 1;
            f.exact = false;
            http1_fuzz_run(&other, kind, lim, max_body, req_method, data, size, &f);
            http1_fuzz_same(&whole, &other);
        }
    }
    assert(mem_live() == live);
}

#endif
