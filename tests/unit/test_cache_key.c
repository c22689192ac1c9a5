/*
 * test_cache_key.c -- primary keys (normalized URLs) and secondary keys
 * (Vary). Table-driven: each row is one target or one pair of requests and
 * the key it must give; every key built is also checked with
 * cache_key_check() and rebuilt from itself (a key is a fixed point).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "unit.h"
#include "err.h"
#include "miniobj.h"
#include "proto/cache_key.h"
#include "compat.h"

/* Splits "Name: value\n..." into fields borrowing from text. */
static struct cache_fields
fields_of(const char *text, struct cache_field *buf, size_t cap)
{
    struct cache_fields f = {buf, 0};
    const char *p = text, *nl, *colon, *v;

    while (p != NULL && *p != '\0') {
        nl = strchr(p, '\n');
        if (nl == NULL)
            nl = p + strlen(p);
        colon = memchr(p, ':', (size_t)(nl - p));
        assert_non_null(colon);
        assert_true(f.n < cap);
        v = colon + 1;
        while (v < nl && (*v == ' ' || *v == '\t'))
            v++;
        buf[f.n].name = p;
        buf[f.n].name_len = (uint32_t)(colon - p);
        buf[f.n].value = v;
        buf[f.n].value_len = (uint32_t)(nl - v);
        while (buf[f.n].value_len > 0 &&
               (v[buf[f.n].value_len - 1] == ' ' || v[buf[f.n].value_len - 1] == '\t'))
            buf[f.n].value_len--;
        f.n++;
        p = *nl == '\n' ? nl + 1 : NULL;
    }
    return f;
}

struct key_case {
    const char *host;
    uint16_t port;
    const char *target;
    int rc;           /* 0: want holds the key */
    const char *want; /* the key */
};

static void
key_run(const struct key_case *c, size_t n)
{
    char out[CACHE_KEY_MAX], again[CACHE_KEY_MAX];
    size_t i, h;
    int rc, rc2;

    for (i = 0; i < n; i++) {
        rc = cache_key_build(out, sizeof(out), c[i].host, strlen(c[i].host), c[i].port, c[i].target,
                             strlen(c[i].target));
        if (c[i].rc != 0) {
            if (rc != c[i].rc)
                fail_msg("target '%s': rc %d, want %d", c[i].target, rc, c[i].rc);
            continue;
        }
        if (rc < 0)
            fail_msg("target '%s': rc %d, want '%s'", c[i].target, rc, c[i].want);
        if ((size_t)rc != strlen(c[i].want) || memcmp(out, c[i].want, (size_t)rc) != 0)
            fail_msg("target '%s': key '%.*s', want '%s'", c[i].target, rc, out, c[i].want);
        cache_key_check(out, (size_t)rc);
        /* a key rebuilt from itself is itself */
        for (h = 0; h < (size_t)rc && out[h] != '/'; h++)
            ;
        rc2 = cache_key_build(again, sizeof(again), out, h, 0, out + h, (size_t)rc - h);
        assert_int_equal(rc, rc2);
        assert_memory_equal(out, again, (size_t)rc);
    }
}

/* SPEC: RFC 3986 6.2.3 -- the host is case-insensitive; the default port goes. */
static void
test_key_host(void **state)
{
    static const struct key_case c[] = {
        {"", 0, "/", 0, "/"},
        {"Example.COM", 80, "/a", 0, "example.com/a"},
        {"example.com:80", 80, "/a", 0, "example.com/a"},
        {"example.com:080", 80, "/a", 0, "example.com/a"},
        {"example.com:8080", 80, "/a", 0, "example.com:8080/a"},
        {"example.com:443", 443, "/a", 0, "example.com/a"},
        {"example.com:443", 80, "/a", 0, "example.com:443/a"},
        {"example.com:80", 0, "/a", 0, "example.com:80/a"},
        {"example.com:", 80, "/a", 0, "example.com/a"}, /* an empty port is the default */
        {"[::1]:80", 80, "/", 0, "[::1]/"},
        {"[::1]", 80, "/", 0, "[::1]/"},
        {"[::1]:8081", 80, "/", 0, "[::1]:8081/"},
        {"user@example.com", 80, "/", ERR_PROTO, NULL}, /* RFC 9110 4.2.4 */
        {"exa mple.com", 80, "/", ERR_PROTO, NULL},
        {"example.com/x", 80, "/", ERR_PROTO, NULL},
        {"ex::", 80, "/", ERR_PROTO, NULL},           /* a name holds no ':' */
        {"example.com:8o", 80, "/", ERR_PROTO, NULL}, /* a port is digits */
        {"[::1", 80, "/", ERR_PROTO, NULL},
        {"[::1]x", 80, "/", ERR_PROTO, NULL},
        {"a]b", 80, "/", ERR_PROTO, NULL},
    };
    int64_t live = mem_live();

    (void)state;
    key_run(c, ARRAY_SIZE(c));
    UNIT_END(live);
}

/* SPEC: RFC 3986 5.2.4 -- remove_dot_segments; escaping the root is refused. */
static void
test_key_dot_segments(void **state)
{
    static const struct key_case c[] = {
        {"", 0, "/a/./b", 0, "/a/b"},
        {"", 0, "/a/../b", 0, "/b"},
        {"", 0, "/a/b/..", 0, "/a/"},
        {"", 0, "/a/b/.", 0, "/a/b/"},
        {"", 0, "/a/b/../../c", 0, "/c"},
        {"", 0, "/./a", 0, "/a"},
        {"", 0, "/.", 0, "/"},
        {"", 0, "/a/..", 0, "/"},
        {"", 0, "/a/../", 0, "/"},
        {"", 0, "/a//../b", 0, "/a/b"},
        {"", 0, "/a//..", 0, "/a/"},
        {"", 0, "/a/.../b", 0, "/a/.../b"},
        {"", 0, "/a/..b/.b", 0, "/a/..b/.b"},
        {"", 0, "/a//b", 0, "/a//b"}, /* empty segments are not equivalent */
        {"", 0, "/live/a/../../vod/x.m4s", 0, "/vod/x.m4s"},
        {"", 0, "/..", ERR_PROTO, NULL},
        {"", 0, "/../a", ERR_PROTO, NULL},
        {"", 0, "/a/../../b", ERR_PROTO, NULL},
        {"", 0, "/a/../..", ERR_PROTO, NULL},
        /* percent-encoded dots are dots (RFC 3986 6.2.2.2), before segments */
        {"", 0, "/%2e%2e/etc/passwd", ERR_PROTO, NULL},
        {"", 0, "/%2E%2e", ERR_PROTO, NULL},
        {"", 0, "/a/.%2E/b", 0, "/b"},
        {"", 0, "/a/%2e/b", 0, "/a/b"},
        /* an encoded slash is data, not a separator */
        {"", 0, "/a/..%2Fb", 0, "/a/..%2Fb"},
        {"", 0, "/..%2f..%2fetc", 0, "/..%2F..%2Fetc"},
        {"", 0, "/a/b/..?q=1", 0, "/a/?q=1"},
    };
    int64_t live = mem_live();

    (void)state;
    key_run(c, ARRAY_SIZE(c));
    UNIT_END(live);
}

/* SPEC: RFC 3986 6.2.2.1-2 -- uppercase hex, unreserved characters decoded. */
static void
test_key_percent(void **state)
{
    static const struct key_case c[] = {
        {"", 0, "/%7euser", 0, "/~user"},
        {"", 0, "/%41%42%2D%5f%2e%7E", 0, "/AB-_.~"},
        {"", 0, "/a%2fb", 0, "/a%2Fb"},
        {"", 0, "/a%2Fb", 0, "/a%2Fb"},
        {"", 0, "/%e2%82%ac", 0, "/%E2%82%AC"},
        {"", 0, "/a%20b", 0, "/a%20b"},
        {"", 0, "/a+b", 0, "/a+b"},
        {"", 0, "/A/b", 0, "/A/b"}, /* the path keeps its case */
        {"", 0, "/%25", 0, "/%25"}, /* no double decoding */
        {"", 0, "/%2541", 0, "/%2541"},
        {"", 0, "/%zz", ERR_PROTO, NULL},
        {"", 0, "/%4", ERR_PROTO, NULL},
        {"", 0, "/%", ERR_PROTO, NULL},
        {"", 0, "/a?b=%g1", ERR_PROTO, NULL},
        {"", 0, "/a#frag", ERR_PROTO, NULL},
        {"", 0, "/a?b#frag", ERR_PROTO, NULL},
    };
    int64_t live = mem_live();

    (void)state;
    key_run(c, ARRAY_SIZE(c));
    UNIT_END(live);
}

/* The query: CMCD removed (CTA-5004), the rest sorted stably, empties dropped. */
static void
test_key_query(void **state)
{
    static const struct key_case c[] = {
        {"", 0, "/p?b=2&a=1", 0, "/p?a=1&b=2"},
        {"", 0, "/p?a=1&b=2", 0, "/p?a=1&b=2"},
        {"", 0, "/seg.m4s?CMCD=br%3D3000%2Cbl%3D2100%2Csid%3D%226e2f%22", 0, "/seg.m4s"},
        {"", 0, "/seg.m4s?x=1&CMCD=bl%3D100&a=2", 0, "/seg.m4s?a=2&x=1"},
        {"", 0, "/seg.m4s?CMCD", 0, "/seg.m4s"},
        {"", 0, "/seg.m4s?CMCD=", 0, "/seg.m4s"},
        {"", 0, "/seg.m4s?%43MCD=x", 0, "/seg.m4s"}, /* still CMCD once normalized */
        {"", 0, "/p?cmcd=1", 0, "/p?cmcd=1"},        /* another parameter */
        {"", 0, "/p?CMCDx=1", 0, "/p?CMCDx=1"},
        {"", 0, "/p?a=2&b=1&a=1", 0, "/p?a=2&a=1&b=1"}, /* same name: order kept */
        {"", 0, "/p?a=1&ab=2&a-b=3", 0, "/p?a=1&a-b=3&ab=2"},
        {"", 0, "/p?", 0, "/p"},
        {"", 0, "/p?&&a=1&", 0, "/p?a=1"},
        {"", 0, "/p?a&a=", 0, "/p?a&a="},
        {"", 0, "/p?a=%7e&b=%3d", 0, "/p?a=~&b=%3D"},
        {"", 0, "/p?a=b=c", 0, "/p?a=b=c"},
        {"", 0, "/p?q=a+b", 0, "/p?q=a+b"},
        {"", 0, "/p?z=1&y=2&x=3&w=4", 0, "/p?w=4&x=3&y=2&z=1"},
        {"", 0, "/p??a", 0, "/p??a"},
    };
    int64_t live = mem_live();

    (void)state;
    key_run(c, ARRAY_SIZE(c));
    UNIT_END(live);
}

/* SPEC: RFC 9112 3.2.2 -- absolute-form: its authority wins over Host. */
static void
test_key_target_forms(void **state)
{
    static const struct key_case c[] = {
        {"ignored", 80, "http://Example.com:80/a?x=1", 0, "example.com/a?x=1"},
        {"", 80, "HTTP://example.com", 0, "example.com/"},
        {"", 80, "http://example.com?b&a", 0, "example.com/?a&b"},
        {"", 80, "https://example.com:443/", 0, "example.com/"},
        {"", 80, "https://example.com:80/", 0, "example.com:80/"},
        {"", 80, "ftp://example.com/", ERR_PROTO, NULL},
        {"", 80, "http://user@example.com/", ERR_PROTO, NULL},
        {"", 80, "http:///x", ERR_PROTO, NULL},
        {"", 80, "*", ERR_PROTO, NULL},
        {"", 80, "", ERR_PROTO, NULL},
        {"", 80, "a/b", ERR_PROTO, NULL},
        {"", 80, "example.com:443", ERR_PROTO, NULL}, /* authority-form: CONNECT only */
    };
    int64_t live = mem_live();

    (void)state;
    key_run(c, ARRAY_SIZE(c));
    UNIT_END(live);
}

static void
test_key_limits(void **state)
{
    char target[CACHE_KEY_MAX + 64], out[CACHE_KEY_MAX];
    size_t n, i;
    int rc;
    int64_t live = mem_live();

    (void)state;
    /* the caller's buffer bounds the key */
    rc = cache_key_build(out, 4, "", 0, 0, "/abcd", 5);
    assert_int_equal(ERR_LIMIT, rc);
    rc = cache_key_build(out, 5, "", 0, 0, "/abcd", 5);
    assert_int_equal(5, rc);
    rc = cache_key_build(out, 5, "h", 1, 0, "/abcd", 5);
    assert_int_equal(ERR_LIMIT, rc);
    /* and CACHE_KEY_MAX bounds it whatever the buffer */
    target[0] = '/';
    memset(target + 1, 'a', CACHE_KEY_MAX);
    rc = cache_key_build(out, sizeof(out), "", 0, 0, target, CACHE_KEY_MAX + 1);
    assert_int_equal(ERR_LIMIT, rc);
    rc = cache_key_build(out, sizeof(out), "", 0, 0, target, CACHE_KEY_MAX);
    assert_int_equal(CACHE_KEY_MAX, rc);
    /* CACHE_KEY_PARAMS_MAX parameters, and one more */
    n = (size_t)snprintf(target, sizeof(target), "/p?");
    for (i = 0; i < CACHE_KEY_PARAMS_MAX; i++)
        n += (size_t)snprintf(target + n, sizeof(target) - n, "%sp%zu=1", i ? "&" : "", i);
    rc = cache_key_build(out, sizeof(out), "", 0, 0, target, n);
    assert_true(rc > 0);
    cache_key_check(out, (size_t)rc);
    n += (size_t)snprintf(target + n, sizeof(target) - n, "&x=1");
    rc = cache_key_build(out, sizeof(out), "", 0, 0, target, n);
    assert_int_equal(ERR_LIMIT, rc);
    /* CMCD does not count against the limit */
    n -= 4;
    n += (size_t)snprintf(target + n, sizeof(target) - n, "&CMCD=x");
    rc = cache_key_build(out, sizeof(out), "", 0, 0, target, n);
    assert_true(rc > 0);
    UNIT_END(live);
}

/* ---- secondary keys ---- */

struct vary_case {
    const char *resp;  /* response fields */
    const char *req_a; /* request fields */
    const char *req_b;
    int same; /* 1: the keys must be equal, 0: differ, <0: both fail with it */
};

static int
vary_key(const char *resp, const char *req, char *out, size_t cap)
{
    struct cache_field rb[32], qb[32];
    struct cache_fields r = fields_of(resp, rb, 32), q = fields_of(req, qb, 32);

    return cache_key_vary(out, cap, &r, &q);
}

/* SPEC: RFC 9111 4.1 -- what may and may not be normalized. */
static void
test_vary_keys(void **state)
{
    static const struct vary_case c[] = {
        /* no Vary: one variant */
        {"Content-Type: text/plain", "Accept-Encoding: gzip", "Accept-Encoding: br", 1},
        /* whitespace the list syntax allows */
        {"Vary: Accept-Encoding", "Accept-Encoding: gzip, br", "Accept-Encoding: gzip,br", 1},
        {"Vary: Accept-Encoding", "Accept-Encoding: gzip ,  br", "Accept-Encoding: gzip,br", 1},
        /* several lines are one list */
        {"Vary: Accept-Encoding", "Accept-Encoding: gzip\nAccept-Encoding: br",
         "Accept-Encoding: gzip, br", 1},
        /* empty list elements carry nothing */
        {"Vary: Accept-Encoding", "Accept-Encoding: gzip,,br,", "Accept-Encoding: gzip, br", 1},
        /* content-codings are case-insensitive */
        {"Vary: Accept-Encoding", "Accept-Encoding: GZIP", "Accept-Encoding: gzip", 1},
        /* parameters allow OWS around ';' */
        {"Vary: Accept", "Accept: text/html ; q=0.9", "Accept: text/html;q=0.9", 1},
        /* the order of a list is significant */
        {"Vary: Accept-Encoding", "Accept-Encoding: gzip, br", "Accept-Encoding: br, gzip", 0},
        /* absent differs from empty */
        {"Vary: Accept-Encoding", "Host: a", "Accept-Encoding:", 0},
        {"Vary: Accept-Encoding", "Host: a", "Host: b", 1},
        /* the Vary's own order, case and repeats do not matter */
        {"Vary: User-Agent, accept-encoding", "Accept-Encoding: gzip\nUser-Agent: x",
         "User-Agent: x\nAccept-Encoding: gzip", 1},
        {"Vary: Accept-Encoding, user-agent\nVary: USER-AGENT", "User-Agent: x", "User-Agent: x",
         1},
        /* a field whose syntax we do not know is compared as received */
        {"Vary: User-Agent", "User-Agent: A  B", "User-Agent: A B", 0},
        {"Vary: Cookie", "Cookie: a=1; b=2", "Cookie: a=1;b=2", 0},
        /* quoted strings are data */
        {"Vary: Accept", "Accept: a;p=\"x  y\"", "Accept: a;p=\"x y\"", 0},
        /* Vary: * and broken Vary never match */
        {"Vary: *", "A: 1", "A: 1", ERR_PROTO},
        {"Vary: Accept, *", "A: 1", "A: 1", ERR_PROTO},
        {"Vary: Accept Encoding", "A: 1", "A: 1", ERR_PROTO},
        {"Vary: a, b, c, d, e, f, g, h, i, j, k, l, m, n, o, p, q", "A: 1", "A: 1", ERR_LIMIT},
    };
    char a[CACHE_VARY_MAX], b[CACHE_VARY_MAX];
    int ra, rb;
    size_t i;
    int64_t live = mem_live();

    (void)state;
    for (i = 0; i < ARRAY_SIZE(c); i++) {
        ra = vary_key(c[i].resp, c[i].req_a, a, sizeof(a));
        rb = vary_key(c[i].resp, c[i].req_b, b, sizeof(b));
        if (c[i].same < 0) {
            if (ra != c[i].same || rb != c[i].same)
                fail_msg("row %zu: rc %d/%d, want %d", i, ra, rb, c[i].same);
            continue;
        }
        if (ra < 0 || rb < 0)
            fail_msg("row %zu: rc %d/%d", i, ra, rb);
        if ((ra == rb && memcmp(a, b, (size_t)ra) == 0) != (c[i].same == 1))
            fail_msg("row %zu: '%.*s' vs '%.*s', want %s", i, ra, a, rb, b,
                     c[i].same ? "equal" : "different");
    }
    UNIT_END(live);
}

static void
test_vary_format(void **state)
{
    char out[CACHE_VARY_MAX];
    int rc;
    int64_t live = mem_live();

    (void)state;
    rc = vary_key("Vary: User-Agent, Accept-Encoding", "Accept-Encoding: gzip ,br\nHost: h", out,
                  sizeof(out));
    assert_int_equal(strlen("accept-encoding:gzip,br\nuser-agent\n"), rc);
    assert_memory_equal("accept-encoding:gzip,br\nuser-agent\n", out, (size_t)rc);
    rc = vary_key("Etag: \"x\"", "Host: h", out, sizeof(out));
    assert_int_equal(0, rc);
    rc = vary_key("Vary: Accept-Encoding", "Accept-Encoding: gzip", out, 10);
    assert_int_equal(ERR_LIMIT, rc);
    UNIT_END(live);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key_host),         cmocka_unit_test(test_key_dot_segments),
        cmocka_unit_test(test_key_percent),      cmocka_unit_test(test_key_query),
        cmocka_unit_test(test_key_target_forms), cmocka_unit_test(test_key_limits),
        cmocka_unit_test(test_vary_keys),        cmocka_unit_test(test_vary_format),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
