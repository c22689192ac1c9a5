/*
 * test_cache_policy.c -- the caching rules, row by row.
 *
 * Header sets are written as text ("Name: value" per line) with time
 * placeholders: "{T}" is the test's now (T0), "{T+60}" / "{T-3600}" are
 * HTTP-dates that many seconds away. Each table row names the RFC section
 * it checks. The last tests are the known deviations of nginx, Varnish and
 * Traffic Server (docs/caching.md), each asserting what we do instead.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"
#include "err.h"
#include "miniobj.h"
#include "proto/cache_key.h"
#include "proto/http1.h"
#include "proto/cache_policy.h"
#include "compat.h"

/* Tue, 14 Nov 2023 22:13:20 GMT */
#define T0 1700000000LL
#define NA CACHE_DELTA_ABSENT
#define INV CACHE_DELTA_INVALID

/* ---- helpers ---- */

struct hdrs {
    char text[4096];
    struct cache_field v[48];
    struct cache_fields f;
};

/* Expands {T}, {T+n}, {T-n} into HTTP-dates relative to T0. */
static void
expand(const char *in, char *out, size_t cap)
{
    size_t n = 0;
    char date[30];
    long long d;
    char *end;

    while (*in != '\0') {
        assert_true(n + 40 < cap);
        if (in[0] == '{' && in[1] == 'T') {
            d = 0;
            in += 2;
            if (*in == '+' || *in == '-') {
                d = strtoll(in, &end, 10);
                in = end;
            }
            assert_int_equal('}', *in);
            in++;
            (void)cache_date_format(date, T0 + d);
            memcpy(out + n, date, 29);
            n += 29;
            continue;
        }
        out[n++] = *in++;
    }
    out[n] = '\0';
}

/* Splits expanded "Name: value\n..." into fields borrowing from h->text. */
static struct cache_fields *
hdrs_of(struct hdrs *h, const char *tmpl)
{
    char *p, *nl, *colon, *v;
    size_t len;

    expand(tmpl == NULL ? "" : tmpl, h->text, sizeof(h->text));
    h->f.v = h->v;
    h->f.n = 0;
    p = h->text;
    while (*p != '\0') {
        nl = strchr(p, '\n');
        if (nl == NULL)
            nl = p + strlen(p);
        colon = memchr(p, ':', (size_t)(nl - p));
        assert_non_null(colon);
        assert_true(h->f.n < ARRAY_SIZE(h->v));
        v = colon + 1;
        while (v < nl && (*v == ' ' || *v == '\t'))
            v++;
        len = (size_t)(nl - v);
        while (len > 0 && (v[len - 1] == ' ' || v[len - 1] == '\t'))
            len--;
        h->v[h->f.n].name = p;
        h->v[h->f.n].name_len = (uint32_t)(colon - p);
        h->v[h->f.n].value = v;
        h->v[h->f.n].value_len = (uint32_t)len;
        h->f.n++;
        p = *nl == '\n' ? nl + 1 : nl;
    }
    return &h->f;
}

enum conf_mod {
    C_DEFAULT = 0,
    C_RFC,         /* swr_default 0, grace 0: only what the messages say */
    C_DEFAULT_TTL, /* default_ttl 300 */
    C_COOKIE_STRIP,
    C_COOKIE_STORE,
    C_NO_TARGETED,
    C_NO_HFM,
    C_NO_REQDIR,
    C_FORWARD,
    C_CORRECTED_AGE,
    C_NO_NEGATIVE,
};

static struct cache_policy_conf
conf_of(enum conf_mod m)
{
    struct cache_policy_conf c = cache_policy_conf_default;

    switch (m) {
    case C_RFC:
        c.swr_default = 0;
        c.grace = 0;
        break;
    case C_DEFAULT_TTL:
        c.default_ttl = 300;
        break;
    case C_COOKIE_STRIP:
        c.set_cookie = CACHE_COOKIE_STRIP;
        break;
    case C_COOKIE_STORE:
        c.set_cookie = CACHE_COOKIE_STORE;
        break;
    case C_NO_TARGETED:
        c.targeted = false;
        break;
    case C_NO_HFM:
        c.hit_for_miss_ttl = 0;
        break;
    case C_NO_REQDIR:
        c.request_directives = false;
        break;
    case C_FORWARD:
        c.preconditions = CACHE_PRECOND_FORWARD;
        break;
    case C_CORRECTED_AGE:
        c.apparent_age = false;
        break;
    case C_NO_NEGATIVE:
        c.negative_ttl = 0;
        break;
    default:
        break;
    }
    return c;
}

/* Parses a request: method, fields, at T0. */
static void
req_of(struct cache_req *q, struct hdrs *h, const char *method, const char *fields)
{
    cache_req_parse(q, method, strlen(method), hdrs_of(h, fields), T0);
}

/* Stores a response received at T0 (request sent at T0); asserts it is stored. */
static void
meta_of(const struct cache_policy_conf *c, struct cache_meta *m, uint16_t status,
        const char *fields)
{
    struct hdrs qh, rh;
    struct cache_req q;
    struct cache_resp r;
    struct cache_store_decision d;

    req_of(&q, &qh, "GET", "");
    cache_resp_parse(&r, c, status, hdrs_of(&rh, fields), T0);
    cache_policy_store(c, &q, &r, T0, T0, &d, m);
    if (d.what != CACHE_STORE_YES)
        fail_msg("'%s': not stored (%s)", fields, cache_why_str(d.why));
    cache_meta_check(m);
}

/* The proxy's path: a parsed request becomes fields without a copy. */
static void
test_fields_from_http1(void **state)
{
    static const char raw[] = "GET /live/a/1.m4s?CMCD=bl%3D100 HTTP/1.1\r\n"
                              "Host: edge.example\r\n"
                              "Cache-Control: max-age=0\r\n"
                              "If-None-Match: \"v1\"\r\n"
                              "Accept-Encoding: gzip\r\n"
                              "Accept-Encoding: br\r\n"
                              "\r\n";
    struct http1_msg msg;
    struct cache_field v[8];
    struct cache_fields f = {v, 0};
    struct cache_req q;
    const struct cache_field *line = NULL;
    struct cache_span e;
    uint32_t pos = 0;
    char key[CACHE_KEY_MAX];
    int n;
    int64_t live = mem_live();

    (void)state;
    http1_msg_init(&msg, HTTP1_REQUEST, NULL);
    assert_int_equal(sizeof(raw) - 1,
                     http1_parse_head(&msg, (const uint8_t *)raw, sizeof(raw) - 1));
    n = cache_fields_from_http1(v, ARRAY_SIZE(v), &msg, (const uint8_t *)raw);
    assert_int_equal(5, n);
    f.n = (size_t)n;
    assert_int_equal(ERR_LIMIT, cache_fields_from_http1(v, 2, &msg, (const uint8_t *)raw));
    cache_req_parse(&q, raw + msg.method_tok.off, msg.method_tok.len, &f, T0);
    assert_int_equal(CACHE_M_GET, q.method);
    assert_int_equal(0, q.cc.max_age);
    assert_true(q.flags & CACHE_REQ_IF_NONE_MATCH);
    assert_true(cache_fields_list_next(&f, "accept-encoding", &line, &pos, &e));
    assert_memory_equal("gzip", e.p, 4);
    assert_true(cache_fields_list_next(&f, "accept-encoding", &line, &pos, &e));
    assert_memory_equal("br", e.p, 2);
    assert_false(cache_fields_list_next(&f, "accept-encoding", &line, &pos, &e));
    assert_false(cache_fields_list_next(&f, "accept-encoding", &line, &pos, &e));
    assert_int_equal(2, cache_fields_count(&f, "Accept-Encoding"));
    n = cache_key_build(key, sizeof(key), cache_fields_find(&f, "host", NULL)->value,
                        cache_fields_find(&f, "host", NULL)->value_len, 80, raw + msg.target.off,
                        msg.target.len);
    assert_int_equal(strlen("edge.example/live/a/1.m4s"), n);
    assert_memory_equal("edge.example/live/a/1.m4s", key, (size_t)n);
    UNIT_END(live);
}

/* ---- directive lists ---- */

struct cc_case {
    const char *in;
    uint32_t flags; /* exact */
    int64_t max_age, s_maxage, max_stale, min_fresh, swr, sie;
    uint8_t n_no_cache, n_private;
};

static void
cc_run(const struct cc_case *c, size_t n)
{
    struct cache_cc cc;
    size_t i;

    for (i = 0; i < n; i++) {
        cache_cc_init(&cc);
        cache_cc_parse(&cc, c[i].in, strlen(c[i].in));
        cache_cc_check(&cc);
        if (cc.flags != c[i].flags || cc.max_age != c[i].max_age || cc.s_maxage != c[i].s_maxage ||
            cc.max_stale != c[i].max_stale || cc.min_fresh != c[i].min_fresh ||
            cc.swr != c[i].swr || cc.sie != c[i].sie || cc.n_no_cache_fields != c[i].n_no_cache ||
            cc.n_private_fields != c[i].n_private)
            fail_msg("'%s': flags %#x max-age %lld s-maxage %lld max-stale %lld min-fresh %lld "
                     "swr %lld sie %lld nc %u pr %u",
                     c[i].in, cc.flags, (long long)cc.max_age, (long long)cc.s_maxage,
                     (long long)cc.max_stale, (long long)cc.min_fresh, (long long)cc.swr,
                     (long long)cc.sie, cc.n_no_cache_fields, cc.n_private_fields);
    }
}

#define NOF 0, 0
#define ALLNA NA, NA, NA, NA, NA, NA

/* SPEC: RFC 9111 5.2 -- syntax, arguments, duplicates, invalid values. */
static void
test_cc_parse(void **state)
{
    static const struct cc_case c[] = {
        {"", 0, ALLNA, NOF},
        {"max-age=60", 0, 60, NA, NA, NA, NA, NA, NOF},
        {"MAX-AGE=60", 0, 60, NA, NA, NA, NA, NA, NOF},     /* 5.2: case-insensitive names */
        {"max-age=\"60\"", 0, 60, NA, NA, NA, NA, NA, NOF}, /* 5.2: both forms accepted */
        {"max-age=0060", 0, 60, NA, NA, NA, NA, NA, NOF},
        {"max-age=60, max-age=60", 0, 60, NA, NA, NA, NA, NA, NOF},
        {"max-age=60, max-age=30", 0, INV, NA, NA, NA, NA, NA, NOF}, /* 4.2.1 conflicting */
        {"max-age=-1", 0, INV, NA, NA, NA, NA, NA, NOF},             /* 1.2.2 */
        {"max-age=1.5", 0, INV, NA, NA, NA, NA, NA, NOF},
        {"max-age", 0, INV, NA, NA, NA, NA, NA, NOF},
        {"max-age=\"\"", 0, INV, NA, NA, NA, NA, NA, NOF},
        {"max-age=\"6\\0\"", 0, INV, NA, NA, NA, NA, NA, NOF},
        {"max-age=", CACHE_CC_MALFORMED, INV, NA, NA, NA, NA, NA, NOF},
        {"max-age='60'", 0, INV, NA, NA, NA, NA, NA, NOF}, /* "'" is a tchar */
        {"max-age =60", CACHE_CC_MALFORMED, INV, NA, NA, NA, NA, NA, NOF},
        {"max-age= 60", CACHE_CC_MALFORMED, INV, NA, NA, NA, NA, NA, NOF},
        {"max-age=60 30", CACHE_CC_MALFORMED, INV, NA, NA, NA, NA, NA, NOF},
        /* 1.2.2: beyond 2^31 is 2^31 */
        {"max-age=2147483647", 0, 2147483647, NA, NA, NA, NA, NA, NOF},
        {"max-age=2147483648", 0, CACHE_DELTA_MAX, NA, NA, NA, NA, NA, NOF},
        {"max-age=99999999999999999999999", 0, CACHE_DELTA_MAX, NA, NA, NA, NA, NA, NOF},
        /* ATS #12029: the malformed element is dropped, its neighbours kept */
        {"public; max-age=30", CACHE_CC_MALFORMED, ALLNA, NOF},
        {"public, max-age=30", CACHE_CC_PUBLIC, 30, NA, NA, NA, NA, NA, NOF},
        {",,, max-age=5 ,,", 0, 5, NA, NA, NA, NA, NA, NOF}, /* RFC 9110 5.6.1 */
        {"x=\"a, max-age=999\", max-age=5", 0, 5, NA, NA, NA, NA, NA, NOF},
        {"community=\"UCI\", private", CACHE_CC_PRIVATE, ALLNA, NOF}, /* 5.2.3 */
        {"no-cache-please, private-ish, x-max-age=5", 0, ALLNA, NOF},
        {"s-maxage=10, max-age=5", 0, 5, 10, NA, NA, NA, NA, NOF},
        {"no-cache", CACHE_CC_NO_CACHE, ALLNA, NOF},
        {"no-cache=\"Set-Cookie, X-Foo\"", CACHE_CC_NO_CACHE_FIELDS, ALLNA, 1, 0},
        {"no-cache=Set-Cookie", CACHE_CC_NO_CACHE_FIELDS, ALLNA, 1, 0},
        {"no-cache=\"\"", CACHE_CC_NO_CACHE, ALLNA, NOF},
        {"no-cache=\"a\\\"b\"", CACHE_CC_NO_CACHE, ALLNA, NOF},
        {"no-cache=\"a;b\"", CACHE_CC_NO_CACHE, ALLNA, NOF},
        {"no-cache, no-cache=\"x\"", CACHE_CC_NO_CACHE | CACHE_CC_NO_CACHE_FIELDS, ALLNA, 1, 0},
        {"private", CACHE_CC_PRIVATE, ALLNA, NOF},
        {"private=\"set-cookie\"", CACHE_CC_PRIVATE_FIELDS, ALLNA, 0, 1},
        {"private=\"a\", private=\"b\", private=\"c\", private=\"d\", private=\"e\"",
         CACHE_CC_PRIVATE | CACHE_CC_PRIVATE_FIELDS, ALLNA, 0, 4},
        {"no-store=1", CACHE_CC_NO_STORE, ALLNA, NOF}, /* restrictive: kept */
        {"must-revalidate=x", CACHE_CC_MUST_REVALIDATE, ALLNA, NOF},
        {"public=1, immutable=yes", 0, ALLNA, NOF}, /* permissive: only as defined */
        {"no-store, must-understand", CACHE_CC_NO_STORE | CACHE_CC_MUST_UNDERSTAND, ALLNA, NOF},
        {"proxy-revalidate, no-transform, immutable",
         CACHE_CC_PROXY_REVALIDATE | CACHE_CC_NO_TRANSFORM | CACHE_CC_IMMUTABLE, ALLNA, NOF},
        {"only-if-cached", CACHE_CC_ONLY_IF_CACHED, ALLNA, NOF},
        {"max-stale", 0, NA, NA, CACHE_DELTA_MAX, NA, NA, NA, NOF}, /* 5.2.1.2 */
        {"max-stale=10", 0, NA, NA, 10, NA, NA, NA, NOF},
        {"max-stale=x", 0, NA, NA, INV, NA, NA, NA, NOF},
        {"min-fresh=20", 0, NA, NA, NA, 20, NA, NA, NOF},
        {"stale-while-revalidate=30, stale-if-error=60", 0, NA, NA, NA, NA, 30, 60, NOF},
        {"x=\"unterminated, max-age=5", CACHE_CC_MALFORMED, ALLNA, NOF},
        {"max-age=\"5", CACHE_CC_MALFORMED, INV, NA, NA, NA, NA, NA, NOF},
        {"\"max-age=5\"", CACHE_CC_MALFORMED, ALLNA, NOF},
        {"=5, max-age=1", CACHE_CC_MALFORMED, 1, NA, NA, NA, NA, NA, NOF},
        {"max-age=1\t,\tpublic", CACHE_CC_PUBLIC, 1, NA, NA, NA, NA, NA, NOF},
    };
    int64_t live = mem_live();

    (void)state;
    cc_run(c, ARRAY_SIZE(c));
    UNIT_END(live);
}

struct targeted_case {
    const char *fields;
    int rc;
    uint32_t flags;
    int64_t max_age, s_maxage;
};

/* SPEC: RFC 9213 2.1 -- targeted fields are RFC 8941 Dictionaries. */
static void
test_cc_targeted(void **state)
{
    static const struct targeted_case c[] = {
        {"CDN-Cache-Control: max-age=60", 0, 0, 60, NA},
        {"CDN-Cache-Control: max-age=60, must-revalidate", 0, CACHE_CC_MUST_REVALIDATE, 60, NA},
        {"CDN-Cache-Control: max-age=60;foo=bar;baz", 0, 0, 60, NA}, /* parameters ignored */
        {"CDN-Cache-Control: Max-Age=60", ERR_PROTO, 0, NA, NA},     /* keys are lowercase */
        {"CDN-Cache-Control: max-age=\"60\"", 0, 0, INV, NA},        /* an Integer is expected */
        {"CDN-Cache-Control: max-age=1.5", 0, 0, INV, NA},
        {"CDN-Cache-Control: max-age=-5", 0, 0, INV, NA},
        {"CDN-Cache-Control: max-age=(1 2)", 0, 0, INV, NA},
        {"CDN-Cache-Control: max-age=60, max-age=120", 0, 0, 120, NA}, /* RFC 8941: last wins */
        {"CDN-Cache-Control: max-age=1234567890123456", ERR_PROTO, 0, NA, NA},
        {"CDN-Cache-Control: max-age=60,", ERR_PROTO, 0, NA, NA},
        {"CDN-Cache-Control: max-age=60 must-revalidate", ERR_PROTO, 0, NA, NA},
        {"CDN-Cache-Control: max-age=60;", ERR_PROTO, 0, NA, NA},
        {"CDN-Cache-Control:", ERR_PROTO, 0, NA, NA},
        {"Cache-Control: max-age=5", ERR_PROTO, 0, NA, NA}, /* absent */
        {"CDN-Cache-Control: none", 0, 0, NA, NA},          /* RFC 9213 3.1 example */
        {"CDN-Cache-Control: no-cache=\"set-cookie\"", 0, CACHE_CC_NO_CACHE_FIELDS, NA, NA},
        {"CDN-Cache-Control: no-store=?0", 0, 0, NA, NA},
        {"CDN-Cache-Control: private=?1, s-maxage=9", 0, CACHE_CC_PRIVATE, NA, 9},
        {"CDN-Cache-Control: max-age=60\nCDN-Cache-Control: must-revalidate", 0,
         CACHE_CC_MUST_REVALIDATE, 60, NA},
        {"CDN-Cache-Control: max-age=60\nCDN-Cache-Control:", ERR_PROTO, 0, NA, NA},
        {"CDN-Cache-Control: a=:aGVsbG8=:, b=?1, c=*tok/x:y, max-age=5", 0, 0, 5, NA},
        {"CDN-Cache-Control: a=:aGVs bG8=:, max-age=5", ERR_PROTO, 0, NA, NA},
        {"CDN-Cache-Control: a=\"\\x\", max-age=5", ERR_PROTO, 0, NA, NA},
        {"CDN-Cache-Control: a=(\"x\" 1;p=2), max-age=5", 0, 0, 5, NA},
        {"CDN-Cache-Control: *x=1, max-age=5", 0, 0, 5, NA},
        {"CDN-Cache-Control: max-age=5, public", 0, CACHE_CC_PUBLIC, 5, NA},
        {"CDN-Cache-Control: public=?0, max-age=5", 0, 0, 5, NA},
    };
    struct hdrs h;
    struct cache_cc cc;
    size_t i;
    int rc;
    int64_t live = mem_live();

    (void)state;
    for (i = 0; i < ARRAY_SIZE(c); i++) {
        cache_cc_init(&cc);
        rc = cache_cc_parse_targeted(&cc, hdrs_of(&h, c[i].fields), "cdn-cache-control");
        cache_cc_check(&cc);
        if (rc != c[i].rc || cc.flags != c[i].flags || cc.max_age != c[i].max_age ||
            cc.s_maxage != c[i].s_maxage)
            fail_msg("'%s': rc %d flags %#x max-age %lld s-maxage %lld", c[i].fields, rc, cc.flags,
                     (long long)cc.max_age, (long long)cc.s_maxage);
    }
    UNIT_END(live);
}

/* ---- dates and Age ---- */

struct date_case {
    const char *in;
    int64_t want;
};

/* SPEC: RFC 9110 5.6.7, RFC 9111 4.2 -- three formats; GMT only. */
static void
test_dates(void **state)
{
    static const struct date_case c[] = {
        {"Sun, 06 Nov 1994 08:49:37 GMT", 784111777},  /* IMF-fixdate */
        {"Sunday, 06-Nov-94 08:49:37 GMT", 784111777}, /* rfc850-date */
        {"Sun Nov  6 08:49:37 1994", 784111777},       /* asctime-date */
        {"Sun Nov 06 08:49:37 1994", 784111777},
        {"sun, 06 nov 1994 08:49:37 gmt", 784111777}, /* RFC 9111 4.2: case-insensitive */
        {"  Sun, 06 Nov 1994 08:49:37 GMT\t", 784111777},
        {"Sunday, 06-Nov-1994 08:49:37 GMT", 784111777},
        {"Thu, 01 Jan 1970 00:00:00 GMT", 0},
        {"Wed, 31 Dec 1969 23:59:59 GMT", -1},
        {"Tue, 29 Feb 2000 00:00:00 GMT", 951782400},
        {"Fri, 31 Dec 9999 23:59:59 GMT", 253402300799LL},
        {"Sat, 31 Dec 2016 23:59:60 GMT", 1483228799}, /* a leap second: the earlier time */
        {"Tue, 14 Nov 2023 22:13:20 GMT", T0},
        /* RFC 9110 5.6.7: two-digit years more than 50 years ahead are past ones */
        {"Sunday, 01-Jan-73 00:00:00 GMT", 3250454400LL},
        {"Wednesday, 01-Jan-74 00:00:00 GMT", 126230400},
        {"Sun, 06 Nov 1994 08:49:37 UTC", CACHE_TIME_NONE}, /* 9111 4.2: GMT only */
        {"Sun, 06 Nov 1994 08:49:37 +0000", CACHE_TIME_NONE},
        {"Sun, 06 Nov 1994 08:49:37", CACHE_TIME_NONE},
        {"0", CACHE_TIME_NONE},
        {"-1", CACHE_TIME_NONE},
        {"", CACHE_TIME_NONE},
        {"Sun, 31 Feb 1994 08:49:37 GMT", CACHE_TIME_NONE},
        {"Sat, 29 Feb 1900 00:00:00 GMT", CACHE_TIME_NONE},
        {"Sun, 6 Nov 1994 08:49:37 GMT", CACHE_TIME_NONE},
        {"Sun, 06 Nov 1994 8:49:37 GMT", CACHE_TIME_NONE},
        {"Sun, 06 Nov 1994 24:00:00 GMT", CACHE_TIME_NONE},
        {"Sun, 06 Nov 1994 08:60:00 GMT", CACHE_TIME_NONE},
        {"Sun, 06 Nov 1994 08:49:37 GMT x", CACHE_TIME_NONE},
        {"Sun, 06 Nov 94 08:49:37 GMT", CACHE_TIME_NONE},
        {"Xyz, 06 Nov 1994 08:49:37 GMT", CACHE_TIME_NONE},
        {"Sun, 06 Noo 1994 08:49:37 GMT", CACHE_TIME_NONE},
        {"Sun, 00 Nov 1994 08:49:37 GMT", CACHE_TIME_NONE},
        {"Sun, 06 Nov 0000 08:49:37 GMT", CACHE_TIME_NONE},
        {"Sun Nov  6 08:49:37 94", CACHE_TIME_NONE},
        {"Sun,06 Nov 1994 08:49:37 GMT", CACHE_TIME_NONE},
    };
    static const int64_t round[] = {0,          1,         59,           86399,
                                    86400,      784111777, 951782400,    951868799,
                                    1483228799, T0,        4102444800LL, 253402300799LL};
    char buf[30];
    size_t i;
    int64_t got, live = mem_live();

    (void)state;
    for (i = 0; i < ARRAY_SIZE(c); i++) {
        got = cache_date_parse(c[i].in, strlen(c[i].in), T0);
        if (got != c[i].want)
            fail_msg("'%s': %lld, want %lld", c[i].in, (long long)got, (long long)c[i].want);
    }
    for (i = 0; i < ARRAY_SIZE(round); i++) {
        assert_int_equal(29, cache_date_format(buf, round[i]));
        assert_int_equal(round[i], cache_date_parse(buf, 29, T0));
    }
    (void)cache_date_format(buf, 784111777);
    assert_string_equal("Sun, 06 Nov 1994 08:49:37 GMT", buf);
    (void)cache_date_format(buf, -5); /* clamped */
    assert_string_equal("Thu, 01 Jan 1970 00:00:00 GMT", buf);
    UNIT_END(live);
}

/* SPEC: RFC 9111 5.1 -- Age: first member; invalid is ignored. */
static void
test_age_parse(void **state)
{
    static const struct date_case c[] = {
        {"60", 60},
        {" 60 ", 60},
        {"60, 30", 60},
        {"0", 0},
        {"-1", NA},
        {"abc", NA},
        {"1.5", NA},
        {"", NA},
        {"99999999999", CACHE_DELTA_MAX},
        {"2147483648", CACHE_DELTA_MAX},
        {", 60", NA},
        {"6 0", NA},
    };
    size_t i;
    int64_t got, live = mem_live();

    (void)state;
    for (i = 0; i < ARRAY_SIZE(c); i++) {
        got = cache_age_parse(c[i].in, strlen(c[i].in));
        if (got != c[i].want)
            fail_msg("'%s': %lld, want %lld", c[i].in, (long long)got, (long long)c[i].want);
    }
    UNIT_END(live);
}

static void
test_methods(void **state)
{
    int64_t live = mem_live();

    (void)state;
    assert_int_equal(CACHE_M_GET, cache_method_parse("GET", 3));
    assert_int_equal(CACHE_M_OTHER, cache_method_parse("get", 3)); /* RFC 9110 9.1 */
    assert_int_equal(CACHE_M_PATCH, cache_method_parse("PATCH", 5));
    assert_int_equal(CACHE_M_OTHER, cache_method_parse("PURGE", 5));
    assert_int_equal(CACHE_M_OTHER, cache_method_parse("GETX", 4));
    assert_true(cache_method_is_safe(CACHE_M_GET));
    assert_true(cache_method_is_safe(CACHE_M_HEAD));
    assert_true(cache_method_is_safe(CACHE_M_OPTIONS));
    assert_true(cache_method_is_safe(CACHE_M_TRACE));
    assert_false(cache_method_is_safe(CACHE_M_POST));
    assert_false(cache_method_is_safe(CACHE_M_OTHER)); /* RFC 9111 4.4: safety unknown */
    assert_string_equal("no_store", cache_why_str(CACHE_WHY_NO_STORE));
    assert_string_equal("unknown", cache_why_str((enum cache_why)999));
    UNIT_END(live);
}

/* ---- storing ---- */

struct store_case {
    const char *what_for; /* the RFC section and the point */
    const char *method;
    const char *req;
    uint16_t status;
    const char *resp;
    enum conf_mod conf;
    enum cache_store what;
    enum cache_why why;
    int64_t lifetime; /* checked when stored */
    bool heuristic;
    bool strip;
};

#define YES CACHE_STORE_YES
#define NO CACHE_STORE_NO
#define HFM CACHE_STORE_HIT_FOR_MISS
#define W(x) CACHE_WHY_##x

static void
test_store(void **state)
{
    static const struct store_case c[] = {
        /* 4.2.1: s-maxage > max-age > Expires - Date */
        {"4.2.1 max-age", "GET", "", 200, "Date: {T}\nCache-Control: max-age=60", C_DEFAULT, YES,
         W(OK), 60, false, false},
        {"4.2.1 s-maxage wins", "GET", "", 200,
         "Date: {T}\nCache-Control: max-age=60, s-maxage=120", C_DEFAULT, YES, W(OK), 120, false,
         false},
        {"5.3 max-age ignores Expires", "GET", "", 200,
         "Date: {T}\nExpires: {T+9999}\nCache-Control: max-age=60", C_DEFAULT, YES, W(OK), 60,
         false, false},
        {"4.2.1 Expires - Date", "GET", "", 200, "Date: {T-10}\nExpires: {T+90}", C_DEFAULT, YES,
         W(OK), 100, false, false},
        {"6.6.1 no Date: the receipt time", "GET", "", 200, "Expires: {T+90}", C_DEFAULT, YES,
         W(OK), 90, false, false},
        {"5.3 Expires: 0 is expired", "GET", "", 200, "Date: {T}\nExpires: 0", C_DEFAULT, YES,
         W(OK), 0, false, false},
        {"5.3 invalid Expires, Last-Modified present: no heuristic", "GET", "", 200,
         "Date: {T}\nExpires: soon\nLast-Modified: {T-100000}", C_DEFAULT, YES, W(OK), 0, false,
         false},
        {"4.2.1 two Expires that disagree", "GET", "", 200,
         "Date: {T}\nExpires: {T+60}\nExpires: {T+90}", C_DEFAULT, YES, W(OK), 0, false, false},
        {"4.2.1 two Expires that agree", "GET", "", 200,
         "Date: {T}\nExpires: {T+60}\nExpires: {T+60}", C_DEFAULT, YES, W(OK), 60, false, false},
        {"Expires in the past", "GET", "", 200, "Date: {T}\nExpires: {T-60}", C_DEFAULT, YES, W(OK),
         0, false, false},
        {"4.2.1 invalid max-age is stale", "GET", "", 200,
         "Date: {T}\nCache-Control: max-age='5'\nExpires: {T+60}", C_DEFAULT, YES, W(OK), 0, false,
         false},
        {"4.2.1 conflicting max-age is stale", "GET", "", 200,
         "Date: {T}\nCache-Control: max-age=5\nCache-Control: max-age=50", C_DEFAULT, YES, W(OK), 0,
         false, false},
        /* 4.2.2 heuristics */
        {"4.2.2 10% of Date - Last-Modified", "GET", "", 200, "Date: {T}\nLast-Modified: {T-1000}",
         C_DEFAULT, YES, W(OK), 100, true, false},
        {"4.2.2 heuristic capped", "GET", "", 200, "Date: {T}\nLast-Modified: {T-100000000}",
         C_DEFAULT, YES, W(OK), 86400, true, false},
        {"4.2.2 Last-Modified after Date: none", "GET", "", 200, "Date: {T}\nLast-Modified: {T+10}",
         C_DEFAULT, YES, W(OK), 0, false, false},
        {"no freshness, no validator: kept for grace only", "GET", "", 200, "Date: {T}", C_DEFAULT,
         YES, W(OK), 0, false, false},
        {"default TTL only when configured", "GET", "", 200, "Date: {T}", C_DEFAULT_TTL, YES, W(OK),
         300, true, false},
        {"Last-Modified heuristic before the default TTL", "GET", "", 200,
         "Date: {T}\nLast-Modified: {T-1000}", C_DEFAULT_TTL, YES, W(OK), 100, true, false},
        {"4.2.2 no heuristic with a malformed Cache-Control", "GET", "", 200,
         "Date: {T}\nLast-Modified: {T-1000}\nCache-Control: public; max-age=30", C_DEFAULT, YES,
         W(OK), 0, false, false},
        {"3 302 without freshness is not storable", "GET", "", 302,
         "Date: {T}\nLocation: /x\nLast-Modified: {T-1000}", C_DEFAULT, HFM, W(NO_FRESHNESS), 0,
         false, false},
        {"4.2.2 default TTL never for 302", "GET", "", 302, "Date: {T}\nLocation: /x",
         C_DEFAULT_TTL, HFM, W(NO_FRESHNESS), 0, false, false},
        {"3 307 with max-age", "GET", "", 307, "Date: {T}\nCache-Control: max-age=60", C_DEFAULT,
         YES, W(OK), 60, false, false},
        {"5.2.2.9 public makes 302 heuristically cacheable", "GET", "", 302,
         "Date: {T}\nCache-Control: public\nLast-Modified: {T-1000}", C_DEFAULT, YES, W(OK), 100,
         true, false},
        {"negative caching: 404", "GET", "", 404, "Date: {T}", C_DEFAULT, YES, W(OK), 1, true,
         false},
        {"negative caching: 410", "GET", "", 410, "Date: {T}", C_DEFAULT, YES, W(OK), 1, true,
         false},
        {"404 explicit freshness wins", "GET", "", 404, "Date: {T}\nCache-Control: max-age=300",
         C_DEFAULT, YES, W(OK), 300, false, false},
        {"404 without negative TTL", "GET", "", 404, "Date: {T}", C_NO_NEGATIVE, YES, W(OK), 0,
         false, false},
        {"403 is not heuristically cacheable", "GET", "", 403, "Date: {T}", C_DEFAULT, NO,
         W(NO_FRESHNESS), 0, false, false},
        {"500 without freshness: not stored, not remembered", "GET", "", 500, "Date: {T}",
         C_DEFAULT, NO, W(NO_FRESHNESS), 0, false, false},
        {"3 500 with max-age is storable", "GET", "", 500, "Date: {T}\nCache-Control: max-age=5",
         C_DEFAULT, YES, W(OK), 5, false, false},
        {"3 206 not stored", "GET", "Range: bytes=0-1", 206,
         "Date: {T}\nContent-Range: bytes 0-1/10\nCache-Control: max-age=60", C_DEFAULT, NO,
         W(STATUS), 0, false, false},
        {"3 304 not stored", "GET", "", 304, "Date: {T}\nCache-Control: max-age=60", C_DEFAULT, NO,
         W(STATUS), 0, false, false},
        {"3 1xx not final", "GET", "", 103, "Link: </a>", C_DEFAULT, NO, W(STATUS), 0, false,
         false},
        {"Content-Range on a 200", "GET", "", 200,
         "Date: {T}\nContent-Range: bytes 0-1/10\nCache-Control: max-age=60", C_DEFAULT, NO,
         W(STATUS), 0, false, false},
        /* 5.2.2.5 no-store, 5.2.2.3 must-understand */
        {"5.2.2.5 no-store", "GET", "", 200, "Date: {T}\nCache-Control: no-store, max-age=60",
         C_DEFAULT, HFM, W(NO_STORE), 0, false, false},
        {"5.2.2.5 no-store on a 404: nothing remembered", "GET", "", 404,
         "Date: {T}\nCache-Control: no-store", C_DEFAULT, NO, W(NO_STORE), 0, false, false},
        {"5.2.2.3 must-understand overrides no-store", "GET", "", 200,
         "Date: {T}\nCache-Control: max-age=60, no-store, must-understand", C_DEFAULT, YES, W(OK),
         60, false, false},
        {"5.2.2.3 must-understand, status not understood", "GET", "", 299,
         "Date: {T}\nCache-Control: max-age=60, no-store, must-understand", C_DEFAULT, NO,
         W(STATUS), 0, false, false},
        {"5.2.1.5 request no-store", "GET", "Cache-Control: no-store", 200,
         "Date: {T}\nCache-Control: max-age=60", C_DEFAULT, NO, W(REQ_NO_STORE), 0, false, false},
        /* 5.2.2.7 private */
        {"5.2.2.7 private", "GET", "", 200, "Date: {T}\nCache-Control: private, max-age=60",
         C_DEFAULT, HFM, W(PRIVATE), 0, false, false},
        {"5.2.2.7 qualified private: stored without the field", "GET", "", 200,
         "Date: {T}\nCache-Control: private=\"Set-Cookie\", max-age=60\nSet-Cookie: a=1", C_DEFAULT,
         YES, W(OK), 60, false, true},
        {"5.2.2.4 qualified no-cache: stored without the field", "GET", "", 200,
         "Date: {T}\nCache-Control: no-cache=\"X-Token\", max-age=60\nX-Token: t", C_DEFAULT, YES,
         W(OK), 60, false, true},
        /* 3.5 Authorization */
        {"3.5 Authorization", "GET", "Authorization: Bearer x", 200,
         "Date: {T}\nCache-Control: max-age=60", C_DEFAULT, NO, W(AUTHORIZATION), 0, false, false},
        {"3.5 Authorization + public", "GET", "Authorization: Bearer x", 200,
         "Date: {T}\nCache-Control: public, max-age=60", C_DEFAULT, YES, W(OK), 60, false, false},
        {"3.5 Authorization + s-maxage", "GET", "Authorization: Bearer x", 200,
         "Date: {T}\nCache-Control: s-maxage=60", C_DEFAULT, YES, W(OK), 60, false, false},
        {"3.5 Authorization + must-revalidate", "GET", "Authorization: Bearer x", 200,
         "Date: {T}\nCache-Control: must-revalidate, max-age=60", C_DEFAULT, YES, W(OK), 60, false,
         false},
        /* 4.1 Vary */
        {"4.1 Vary: *", "GET", "", 200, "Date: {T}\nCache-Control: max-age=60\nVary: *", C_DEFAULT,
         HFM, W(VARY_STAR), 0, false, false},
        {"4.1 Vary that is not a list of names", "GET", "", 200,
         "Date: {T}\nCache-Control: max-age=60\nVary: Accept Encoding", C_DEFAULT, HFM,
         W(VARY_STAR), 0, false, false},
        {"4.1 Vary: Accept-Encoding", "GET", "", 200,
         "Date: {T}\nCache-Control: max-age=60\nVary: Accept-Encoding", C_DEFAULT, YES, W(OK), 60,
         false, false},
        /* Set-Cookie policy */
        {"Set-Cookie: hit-for-miss", "GET", "", 200,
         "Date: {T}\nCache-Control: max-age=60\nSet-Cookie: s=1", C_DEFAULT, HFM, W(SET_COOKIE), 0,
         false, false},
        {"Set-Cookie: strip", "GET", "", 200,
         "Date: {T}\nCache-Control: max-age=60\nSet-Cookie: s=1", C_COOKIE_STRIP, YES, W(OK), 60,
         false, true},
        {"7.3 Set-Cookie: store", "GET", "", 200,
         "Date: {T}\nCache-Control: max-age=60\nSet-Cookie: s=1", C_COOKIE_STORE, YES, W(OK), 60,
         false, false},
        /* 5.2.2.4 no-cache */
        {"5.2.2.4 no-cache with a validator", "GET", "", 200,
         "Date: {T}\nCache-Control: no-cache, max-age=60\nETag: \"a\"", C_DEFAULT, YES, W(OK), 60,
         false, false},
        {"5.2.2.4 no-cache without one", "GET", "", 200, "Date: {T}\nCache-Control: no-cache",
         C_DEFAULT, HFM, W(NO_VALIDATOR), 0, false, false},
        {"max-age=0 with a validator is kept (revalidation, stale-if-error)", "GET", "", 200,
         "Date: {T}\nCache-Control: max-age=0\nETag: \"a\"", C_DEFAULT, YES, W(OK), 0, false,
         false},
        /* RFC 9213: targeted fields first, Cache-Control and Expires ignored */
        {"9213 CDN-Cache-Control over no-store", "GET", "", 200,
         "Date: {T}\nCDN-Cache-Control: max-age=600\nCache-Control: no-store", C_DEFAULT, YES,
         W(OK), 600, false, false},
        {"9213 Cascade-Cache-Control first", "GET", "", 200,
         "Date: {T}\nCDN-Cache-Control: max-age=600\nCascade-Cache-Control: max-age=5", C_DEFAULT,
         YES, W(OK), 5, false, false},
        {"9213 an invalid targeted field falls back", "GET", "", 200,
         "Date: {T}\nCascade-Cache-Control: Max-Age=1\nCDN-Cache-Control: max-age=600", C_DEFAULT,
         YES, W(OK), 600, false, false},
        {"9213 an invalid targeted field falls back to Cache-Control", "GET", "", 200,
         "Date: {T}\nCDN-Cache-Control: max-age=60,\nCache-Control: max-age=30", C_DEFAULT, YES,
         W(OK), 30, false, false},
        {"9213 Expires ignored too", "GET", "", 200,
         "Date: {T}\nCDN-Cache-Control: must-revalidate\nExpires: {T+60}", C_DEFAULT, YES, W(OK), 0,
         false, false},
        {"9213 3.1: CDN only", "GET", "", 200,
         "Date: {T}\nCDN-Cache-Control: none\nCache-Control: no-store", C_DEFAULT, YES, W(OK), 0,
         false, false},
        {"9213 not on our target list", "GET", "", 200,
         "Date: {T}\nCDN-Cache-Control: max-age=600\nCache-Control: no-store", C_NO_TARGETED, HFM,
         W(NO_STORE), 0, false, false},
        {"9213 targeted private", "GET", "", 200,
         "Date: {T}\nCDN-Cache-Control: private\nCache-Control: public, max-age=60", C_DEFAULT, HFM,
         W(PRIVATE), 0, false, false},
        /* methods */
        {"3 HEAD is answered from GET, not stored", "HEAD", "", 200,
         "Date: {T}\nCache-Control: max-age=60", C_DEFAULT, NO, W(METHOD), 0, false, false},
        {"3 POST", "POST", "", 200, "Date: {T}\nCache-Control: max-age=60", C_DEFAULT, NO,
         W(METHOD), 0, false, false},
        {"3 unknown method", "FOO", "", 200, "Date: {T}\nCache-Control: max-age=60", C_DEFAULT, NO,
         W(METHOD), 0, false, false},
        {"hit-for-miss turned off", "GET", "", 200, "Date: {T}\nCache-Control: private", C_NO_HFM,
         NO, W(PRIVATE), 0, false, false},
    };
    struct hdrs qh, rh;
    struct cache_req q;
    struct cache_resp r;
    struct cache_store_decision d;
    struct cache_meta m;
    struct cache_policy_conf conf;
    size_t i;
    int64_t live = mem_live();

    (void)state;
    for (i = 0; i < ARRAY_SIZE(c); i++) {
        conf = conf_of(c[i].conf);
        req_of(&q, &qh, c[i].method, c[i].req);
        cache_resp_parse(&r, &conf, c[i].status, hdrs_of(&rh, c[i].resp), T0);
        cache_cc_check(&r.cc);
        cache_policy_store(&conf, &q, &r, T0, T0, &d, &m);
        if (d.what != c[i].what || d.why != c[i].why)
            fail_msg("%s: what %d why %s", c[i].what_for, d.what, cache_why_str(d.why));
        if (d.what == CACHE_STORE_NO)
            continue;
        cache_meta_check(&m);
        if (d.what == CACHE_STORE_HIT_FOR_MISS) {
            assert_true(m.flags & CACHE_META_HIT_FOR_MISS);
            assert_int_equal(conf.hit_for_miss_ttl, m.lifetime);
            continue;
        }
        if (m.lifetime != c[i].lifetime ||
            ((m.flags & CACHE_META_HEURISTIC) != 0) != c[i].heuristic ||
            d.strip_fields != c[i].strip)
            fail_msg("%s: lifetime %lld heuristic %d strip %d", c[i].what_for,
                     (long long)m.lifetime, (m.flags & CACHE_META_HEURISTIC) != 0, d.strip_fields);
    }
    UNIT_END(live);
}

/* SPEC: RFC 9111 3.1 -- which fields go into storage. */
static void
test_field_storable(void **state)
{
    struct hdrs h;
    struct cache_resp r;
    struct cache_policy_conf conf = cache_policy_conf_default;
    int64_t live = mem_live();

    (void)state;
    cache_resp_parse(&r, &conf, 200,
                     hdrs_of(&h, "Connection: close, X-Hop\nCache-Control: max-age=60, "
                                 "private=\"X-User\", no-cache=\"X-Token\"\nAge: 5"),
                     T0);
#define STORABLE(n) cache_policy_field_storable(&conf, &r, n, strlen(n))
    assert_false(STORABLE("Connection"));
    assert_false(STORABLE("x-hop")); /* listed in Connection */
    assert_false(STORABLE("Keep-Alive"));
    assert_false(STORABLE("Transfer-Encoding"));
    assert_false(STORABLE("TE"));
    assert_false(STORABLE("Upgrade"));
    assert_false(STORABLE("Proxy-Connection"));
    assert_false(STORABLE("Proxy-Authenticate"));
    assert_false(STORABLE("Proxy-Authentication-Info"));
    assert_false(STORABLE("Proxy-Authorization"));
    assert_false(STORABLE("X-User"));  /* 5.2.2.7 */
    assert_false(STORABLE("x-token")); /* 5.2.2.4 */
    assert_false(STORABLE("Set-Cookie"));
    assert_true(STORABLE("Age"));
    assert_true(STORABLE("Content-Type"));
    assert_true(STORABLE("X-Unknown-Field")); /* 3.1: unrecognized ones too */
    conf.set_cookie = CACHE_COOKIE_STORE;
    assert_true(STORABLE("Set-Cookie"));
#undef STORABLE
    UNIT_END(live);
}

/* ---- age (SPEC: RFC 9111 4.2.3) ---- */

struct age_case {
    const char *what_for;
    const char *resp;
    int64_t request_time, response_time; /* relative to T0 */
    enum conf_mod conf;
    int64_t initial;    /* corrected_initial_age */
    int64_t at, age_at; /* current age at T0 + at */
};

static void
test_age_calc(void **state)
{
    static const struct age_case c[] = {
        {"corrected_age_value = Age + response_delay", "Date: {T+1}\nAge: 10", 0, 2, C_DEFAULT, 12,
         10, 22},
        {"apparent_age from a Date in the past", "Date: {T-50}", 0, 2, C_DEFAULT, 52, 2, 54},
        {"apparent_age ignored when told", "Date: {T-50}", 0, 2, C_CORRECTED_AGE, 2, 2, 4},
        {"the larger of the two", "Date: {T-5}\nAge: 30", 0, 0, C_DEFAULT, 30, 0, 30},
        {"a Date in the future counts 0", "Date: {T+500}", 0, 0, C_DEFAULT, 0, 100, 100},
        {"no Date", "Age: 7", 0, 0, C_DEFAULT, 7, 0, 7},
        {"invalid Age ignored", "Date: {T}\nAge: x", 0, 0, C_DEFAULT, 0, 5, 5},
        {"1.2.2 overflow saturates", "Date: {T}\nAge: 99999999999", 0, 0, C_DEFAULT,
         CACHE_DELTA_MAX, 1000, CACHE_DELTA_MAX},
        {"a clock that went back", "Date: {T}", 0, 0, C_DEFAULT, 0, -100, 0},
    };
    struct hdrs qh, rh;
    struct cache_req q;
    struct cache_resp r;
    struct cache_store_decision d;
    struct cache_meta m;
    struct cache_policy_conf conf;
    size_t i;
    int64_t live = mem_live();

    (void)state;
    for (i = 0; i < ARRAY_SIZE(c); i++) {
        conf = conf_of(c[i].conf);
        req_of(&q, &qh, "GET", "");
        cache_resp_parse(&r, &conf, 200, hdrs_of(&rh, c[i].resp), T0);
        cache_policy_store(&conf, &q, &r, T0 + c[i].request_time, T0 + c[i].response_time, &d, &m);
        assert_int_equal(CACHE_STORE_YES, d.what);
        cache_meta_check(&m);
        if (m.corrected_initial_age != c[i].initial ||
            cache_age_current(&m, T0 + c[i].response_time + c[i].at) != c[i].age_at)
            fail_msg("%s: initial %lld, at +%lld: %lld", c[i].what_for,
                     (long long)m.corrected_initial_age, (long long)c[i].at,
                     (long long)cache_age_current(&m, T0 + c[i].response_time + c[i].at));
    }
    UNIT_END(live);
}

/* ---- serving ---- */

struct serve_case {
    const char *what_for;
    const char *method;
    const char *req;
    const char *stored; /* NULL: nothing stored */
    int64_t at;         /* seconds after it was stored */
    enum conf_mod conf;
    enum cache_serve what;
    enum cache_why why;
    bool stale_on_error;
};

#define S(x) CACHE_SERVE_##x

static void
test_serve(void **state)
{
    static const struct serve_case c[] = {
        {"4.2 fresh", "GET", "", "Date: {T}\nCache-Control: max-age=60", 10, C_RFC, S(FRESH),
         W(FRESH), true},
        {"4.2 HEAD like GET", "HEAD", "", "Date: {T}\nCache-Control: max-age=60", 10, C_RFC,
         S(FRESH), W(FRESH), true},
        {"4.2 fresh until lifetime > age fails", "GET", "", "Date: {T}\nCache-Control: max-age=60",
         60, C_RFC, S(REVALIDATE), W(STALE), false},
        {"4.2.4 stale: revalidate, stale on error in grace", "GET", "",
         "Date: {T}\nCache-Control: max-age=60", 100, C_DEFAULT, S(REVALIDATE), W(STALE), true},
        {"4.2.4 no grace: no stale on error", "GET", "", "Date: {T}\nCache-Control: max-age=60",
         100, C_RFC, S(REVALIDATE), W(STALE), false},
        {"grace ends", "GET", "", "Date: {T}\nCache-Control: max-age=60", 60 + 3601, C_DEFAULT,
         S(REVALIDATE), W(STALE), false},
        {"5861 3 within stale-while-revalidate", "GET", "",
         "Date: {T}\nCache-Control: max-age=60, stale-while-revalidate=30", 90, C_RFC,
         S(STALE_REVALIDATE), W(SWR), false},
        {"5861 3 past stale-while-revalidate", "GET", "",
         "Date: {T}\nCache-Control: max-age=60, stale-while-revalidate=30", 91, C_RFC,
         S(REVALIDATE), W(STALE), false},
        {"default stale-while-revalidate", "GET", "", "Date: {T}\nCache-Control: max-age=60", 62,
         C_DEFAULT, S(STALE_REVALIDATE), W(SWR), true},
        {"stale-while-revalidate=0 given: no default", "GET", "",
         "Date: {T}\nCache-Control: max-age=60, stale-while-revalidate=0", 61, C_DEFAULT,
         S(REVALIDATE), W(STALE), true},
        {"5.2.2.2 must-revalidate forbids swr", "GET", "",
         "Date: {T}\nCache-Control: max-age=60, must-revalidate, stale-while-revalidate=30", 61,
         C_DEFAULT, S(REVALIDATE), W(STALE), false},
        {"5.2.2.8 proxy-revalidate", "GET", "",
         "Date: {T}\nCache-Control: max-age=60, proxy-revalidate, stale-if-error=999", 61,
         C_DEFAULT, S(REVALIDATE), W(STALE), false},
        {"5.2.2.10 s-maxage implies proxy-revalidate", "GET", "",
         "Date: {T}\nCache-Control: s-maxage=60, stale-while-revalidate=30", 61, C_DEFAULT,
         S(REVALIDATE), W(STALE), false},
        {"9213 CDN-Cache-Control max-age allows swr", "GET", "",
         "Date: {T}\nCDN-Cache-Control: max-age=60, stale-while-revalidate=30\n"
         "Cache-Control: s-maxage=60",
         61, C_DEFAULT, S(STALE_REVALIDATE), W(SWR), true},
        {"5.2.2.4 no-cache: always validated", "GET", "",
         "Date: {T}\nCache-Control: no-cache, max-age=60\nETag: \"a\"", 1, C_DEFAULT, S(REVALIDATE),
         W(NO_CACHE), true},
        {"5.2.2.4 no-cache, stale: no stale on error", "GET", "",
         "Date: {T}\nCache-Control: no-cache, max-age=60\nETag: \"a\"", 61, C_DEFAULT,
         S(REVALIDATE), W(NO_CACHE), false},
        {"5.2.1.4 request no-cache", "GET", "Cache-Control: no-cache",
         "Date: {T}\nCache-Control: max-age=60", 1, C_DEFAULT, S(REVALIDATE), W(REQ_NO_CACHE),
         true},
        {"5.2.1 request directives off", "GET", "Cache-Control: no-cache, max-age=0",
         "Date: {T}\nCache-Control: max-age=60", 1, C_NO_REQDIR, S(FRESH), W(FRESH), true},
        {"5.4 Pragma: no-cache alone", "GET", "Pragma: no-cache",
         "Date: {T}\nCache-Control: max-age=60", 1, C_DEFAULT, S(REVALIDATE), W(REQ_NO_CACHE),
         true},
        {"5.4 Pragma ignored beside Cache-Control", "GET",
         "Pragma: no-cache\nCache-Control: max-stale=5", "Date: {T}\nCache-Control: max-age=60", 1,
         C_DEFAULT, S(FRESH), W(FRESH), true},
        {"5.2.1.1 request max-age=0", "GET", "Cache-Control: max-age=0",
         "Date: {T}\nCache-Control: max-age=60", 1, C_DEFAULT, S(REVALIDATE), W(REQ_MAX_AGE), true},
        {"5.2.1.1 request max-age met", "GET", "Cache-Control: max-age=10",
         "Date: {T}\nCache-Control: max-age=60", 10, C_DEFAULT, S(FRESH), W(FRESH), true},
        {"5.2.1.1 invalid request max-age ignored", "GET", "Cache-Control: max-age=x",
         "Date: {T}\nCache-Control: max-age=60", 10, C_DEFAULT, S(FRESH), W(FRESH), true},
        {"8246 immutable ignores a reload", "GET", "Cache-Control: no-cache",
         "Date: {T}\nCache-Control: max-age=600, immutable", 1, C_DEFAULT, S(FRESH), W(FRESH),
         true},
        {"8246 immutable ignores max-age=0", "GET", "Cache-Control: max-age=0",
         "Date: {T}\nCache-Control: max-age=600, immutable", 1, C_DEFAULT, S(FRESH), W(FRESH),
         true},
        {"8246 stale immutable is just stale", "GET", "Cache-Control: no-cache",
         "Date: {T}\nCache-Control: max-age=600, immutable", 700, C_RFC, S(REVALIDATE),
         W(REQ_NO_CACHE), false},
        {"5.2.1.3 min-fresh not met", "GET", "Cache-Control: min-fresh=30",
         "Date: {T}\nCache-Control: max-age=60", 40, C_DEFAULT, S(REVALIDATE), W(REQ_MIN_FRESH),
         true},
        {"5.2.1.3 min-fresh met", "GET", "Cache-Control: min-fresh=30",
         "Date: {T}\nCache-Control: max-age=60", 30, C_DEFAULT, S(FRESH), W(FRESH), true},
        {"5.2.1.2 max-stale", "GET", "Cache-Control: max-stale=100",
         "Date: {T}\nCache-Control: max-age=60", 110, C_RFC, S(STALE), W(REQ_MAX_STALE), true},
        {"5.2.1.2 max-stale exceeded", "GET", "Cache-Control: max-stale=100",
         "Date: {T}\nCache-Control: max-age=60", 161, C_RFC, S(REVALIDATE), W(STALE), false},
        {"5.2.1.2 max-stale without value", "GET", "Cache-Control: max-stale",
         "Date: {T}\nCache-Control: max-age=60", 99999, C_RFC, S(STALE), W(REQ_MAX_STALE), true},
        {"5.2.2.2 must-revalidate beats max-stale", "GET", "Cache-Control: max-stale",
         "Date: {T}\nCache-Control: max-age=60, must-revalidate", 61, C_RFC, S(REVALIDATE),
         W(STALE), false},
        {"5.2.1.7 only-if-cached, fresh", "GET", "Cache-Control: only-if-cached",
         "Date: {T}\nCache-Control: max-age=60", 1, C_DEFAULT, S(FRESH), W(FRESH), true},
        {"5.2.1.7 only-if-cached, stale: 504", "GET", "Cache-Control: only-if-cached",
         "Date: {T}\nCache-Control: max-age=60", 100, C_RFC, S(GATEWAY_TIMEOUT), W(ONLY_IF_CACHED),
         false},
        {"5.2.1.7 only-if-cached, nothing stored: 504", "GET", "Cache-Control: only-if-cached",
         NULL, 0, C_DEFAULT, S(GATEWAY_TIMEOUT), W(ONLY_IF_CACHED), false},
        {"5.2.1.7 only-if-cached within swr: stale", "GET", "Cache-Control: only-if-cached",
         "Date: {T}\nCache-Control: max-age=60, stale-while-revalidate=30", 70, C_RFC, S(STALE),
         W(SWR), false},
        {"5.2.1.5 request no-store can use the stored response", "GET", "Cache-Control: no-store",
         "Date: {T}\nCache-Control: max-age=60", 1, C_DEFAULT, S(FRESH), W(FRESH), true},
        {"nothing stored", "GET", "", NULL, 0, C_DEFAULT, S(MISS), W(OK), false},
        {"4 POST is written through", "POST", "", "Date: {T}\nCache-Control: max-age=60", 1,
         C_DEFAULT, S(PASS), W(UNSAFE), false},
        {"4 an unknown method is written through", "BREW", "",
         "Date: {T}\nCache-Control: max-age=60", 1, C_DEFAULT, S(PASS), W(UNSAFE), false},
        {"OPTIONS is forwarded", "OPTIONS", "", "Date: {T}\nCache-Control: max-age=60", 1,
         C_DEFAULT, S(PASS), W(METHOD), false},
        {"4.3.2 If-Match left to the origin when told", "GET", "If-Match: \"a\"",
         "Date: {T}\nCache-Control: max-age=60", 1, C_FORWARD, S(PASS), W(PRECONDITION), false},
        {"If-Match evaluated here by default", "GET", "If-Match: \"a\"",
         "Date: {T}\nCache-Control: max-age=60", 1, C_DEFAULT, S(FRESH), W(FRESH), true},
        {"heuristic freshness", "GET", "", "Date: {T}\nLast-Modified: {T-1000}", 99, C_RFC,
         S(FRESH), W(FRESH), true},
        {"no freshness at all: every request revalidates", "GET", "", "Date: {T}", 0, C_DEFAULT,
         S(REVALIDATE), W(STALE), true},
        {"stale-if-error window of the response", "GET", "",
         "Date: {T}\nCache-Control: max-age=60, stale-if-error=100", 160, C_RFC, S(REVALIDATE),
         W(STALE), true},
        {"stale-if-error window over", "GET", "",
         "Date: {T}\nCache-Control: max-age=60, stale-if-error=100", 161, C_DEFAULT, S(REVALIDATE),
         W(STALE), false},
        {"5861 4 the request's stale-if-error", "GET", "Cache-Control: stale-if-error=1000",
         "Date: {T}\nCache-Control: max-age=60", 500, C_RFC, S(REVALIDATE), W(STALE), true},
    };
    struct hdrs qh;
    struct cache_req q;
    struct cache_meta m;
    struct cache_serve_decision d;
    struct cache_policy_conf conf;
    size_t i;
    int64_t live = mem_live();

    (void)state;
    for (i = 0; i < ARRAY_SIZE(c); i++) {
        conf = conf_of(c[i].conf);
        if (c[i].stored != NULL)
            meta_of(&conf, &m, 200, c[i].stored);
        req_of(&q, &qh, c[i].method, c[i].req);
        cache_policy_serve(&conf, &q, c[i].stored ? &m : NULL, T0 + c[i].at, &d);
        if (d.what != c[i].what || d.why != c[i].why || d.stale_on_error != c[i].stale_on_error)
            fail_msg("%s: what %d why %s stale_on_error %d", c[i].what_for, d.what,
                     cache_why_str(d.why), d.stale_on_error);
        if (c[i].stored != NULL && c[i].what != S(PASS)) {
            assert_int_equal(c[i].at, d.age);
            assert_int_equal(d.age > m.lifetime ? d.age - m.lifetime : 0, d.staleness);
        }
    }
    UNIT_END(live);
}

static void
test_serve_store_response(void **state)
{
    struct hdrs qh;
    struct cache_req q;
    struct cache_meta m;
    struct cache_serve_decision d;
    struct cache_policy_conf conf = cache_policy_conf_default;
    int64_t live = mem_live();

    (void)state;
    meta_of(&conf, &m, 200, "Date: {T}\nCache-Control: max-age=60");
    req_of(&q, &qh, "GET", "Cache-Control: no-store");
    cache_policy_serve(&conf, &q, &m, T0 + 100, &d);
    assert_false(d.store_response); /* 5.2.1.5: the answer is not kept */
    req_of(&q, &qh, "GET", "");
    cache_policy_serve(&conf, &q, &m, T0 + 100, &d);
    assert_true(d.store_response);
    UNIT_END(live);
}

/* Hit-for-miss markers pass until they expire. */
static void
test_hit_for_miss(void **state)
{
    struct hdrs qh, rh;
    struct cache_req q;
    struct cache_resp r;
    struct cache_store_decision sd;
    struct cache_serve_decision d;
    struct cache_meta m;
    struct cache_policy_conf conf = cache_policy_conf_default;
    int64_t live = mem_live();

    (void)state;
    req_of(&q, &qh, "GET", "");
    cache_resp_parse(&r, &conf, 200, hdrs_of(&rh, "Cache-Control: private"), T0);
    cache_policy_store(&conf, &q, &r, T0, T0, &sd, &m);
    assert_int_equal(CACHE_STORE_HIT_FOR_MISS, sd.what);
    cache_meta_check(&m);
    cache_policy_serve(&conf, &q, &m, T0 + conf.hit_for_miss_ttl - 1, &d);
    assert_int_equal(CACHE_SERVE_PASS, d.what);
    assert_int_equal(CACHE_WHY_HIT_FOR_MISS, d.why);
    assert_false(d.stale_on_error);
    cache_policy_serve(&conf, &q, &m, T0 + conf.hit_for_miss_ttl, &d);
    assert_int_equal(CACHE_SERVE_MISS, d.what);
    assert_false(cache_policy_stale_on_error(&conf, &q, &m, T0));
    UNIT_END(live);
}

/* SPEC: RFC 9111 4.2.4, 4.3.3; RFC 5861 4 -- after the upstream failed. */
static void
test_stale_on_error(void **state)
{
    struct hdrs qh;
    struct cache_req q;
    struct cache_meta m;
    struct cache_policy_conf conf = cache_policy_conf_default;
    int64_t live = mem_live();

    (void)state;
    req_of(&q, &qh, "GET", "");
    meta_of(&conf, &m, 200, "Date: {T}\nCache-Control: max-age=60");
    assert_true(cache_policy_stale_on_error(&conf, &q, &m, T0 + 30)); /* fresh */
    assert_true(cache_policy_stale_on_error(&conf, &q, &m, T0 + 60 + 3600));
    assert_false(cache_policy_stale_on_error(&conf, &q, &m, T0 + 60 + 3601));
    assert_true(cache_policy_stale_on_error(&conf, NULL, &m, T0 + 61));
    assert_false(cache_policy_stale_on_error(&conf, &q, NULL, T0));
    conf.grace = 0;
    assert_false(cache_policy_stale_on_error(&conf, &q, &m, T0 + 61));
    assert_true(cache_policy_stale_on_error(&conf, &q, &m, T0 + 59));
    /* the request's stale-if-error and max-stale */
    req_of(&q, &qh, "GET", "Cache-Control: stale-if-error=10");
    assert_true(cache_policy_stale_on_error(&conf, &q, &m, T0 + 70));
    assert_false(cache_policy_stale_on_error(&conf, &q, &m, T0 + 71));
    req_of(&q, &qh, "GET", "Cache-Control: max-stale=10");
    assert_true(cache_policy_stale_on_error(&conf, &q, &m, T0 + 70));
    conf.request_directives = false;
    assert_false(cache_policy_stale_on_error(&conf, &q, &m, T0 + 70));
    req_of(&q, &qh, "GET", "Cache-Control: stale-if-error=10");
    assert_false(cache_policy_stale_on_error(&conf, &q, &m, T0 + 70));
    /* the response's window replaces the grace */
    conf = cache_policy_conf_default;
    req_of(&q, &qh, "GET", "");
    meta_of(&conf, &m, 200, "Date: {T}\nCache-Control: max-age=60, stale-if-error=5");
    assert_true(cache_policy_stale_on_error(&conf, &q, &m, T0 + 65));
    assert_false(cache_policy_stale_on_error(&conf, &q, &m, T0 + 66));
    /* 4.2.4: forbidden, whatever the windows say */
    meta_of(&conf, &m, 200,
            "Date: {T}\nCache-Control: max-age=60, must-revalidate, stale-if-error=500");
    assert_false(cache_policy_stale_on_error(&conf, &q, &m, T0 + 61));
    assert_true(cache_policy_stale_on_error(&conf, &q, &m, T0 + 59));
    UNIT_END(live);
}

/* ---- revalidation ---- */

static void
test_validators(void **state)
{
    struct hdrs h;
    struct cache_validators v;
    int64_t live = mem_live();

    (void)state;
    /* SPEC: RFC 9111 4.3.1 */
    cache_policy_validators(hdrs_of(&h, "ETag: W/\"v1\"\nLast-Modified: {T-10}"), &v);
    assert_non_null(v.etag.p);
    assert_int_equal(6, v.etag.len);
    assert_memory_equal("W/\"v1\"", v.etag.p, 6);
    assert_non_null(v.last_modified.p);
    assert_int_equal(29, v.last_modified.len);
    cache_policy_validators(hdrs_of(&h, "ETag: v1\nLast-Modified: yesterday"), &v);
    assert_null(v.etag.p);
    assert_null(v.last_modified.p);
    cache_policy_validators(hdrs_of(&h, "Content-Type: a/b"), &v);
    assert_null(v.etag.p);
    assert_null(v.last_modified.p);
    UNIT_END(live);
}

struct sel_case {
    const char *what_for;
    const char *stored, *r304;
    enum cache_304 want;
};

/* SPEC: RFC 9111 4.3.4 -- which stored response a 304 freshens. */
static void
test_304_select(void **state)
{
    static const struct sel_case c[] = {
        {"strong, same", "ETag: \"a\"", "ETag: \"a\"", CACHE_304_UPDATE},
        {"strong, another", "ETag: \"a\"", "ETag: \"b\"", CACHE_304_MISMATCH},
        {"strong 304, weak stored", "ETag: W/\"a\"", "ETag: \"a\"", CACHE_304_MISMATCH},
        {"weak, same", "ETag: W/\"a\"", "ETag: W/\"a\"", CACHE_304_UPDATE},
        {"weak 304, strong stored: weak match", "ETag: \"a\"", "ETag: W/\"a\"", CACHE_304_UPDATE},
        {"weak, another", "ETag: W/\"a\"", "ETag: W/\"b\"", CACHE_304_MISMATCH},
        {"Last-Modified, same", "Last-Modified: {T-10}", "Last-Modified: {T-10}", CACHE_304_UPDATE},
        {"Last-Modified, another", "Last-Modified: {T-10}", "Last-Modified: {T-5}",
         CACHE_304_MISMATCH},
        {"no validators on either side", "Date: {T}", "Date: {T}", CACHE_304_UPDATE},
        {"no validator in the 304", "ETag: \"a\"", "Date: {T}", CACHE_304_SERVE_ONLY},
    };
    struct hdrs a, b;
    size_t i;
    enum cache_304 got;
    int64_t live = mem_live();

    (void)state;
    for (i = 0; i < ARRAY_SIZE(c); i++) {
        got = cache_policy_304(hdrs_of(&a, c[i].stored), hdrs_of(&b, c[i].r304));
        if (got != c[i].want)
            fail_msg("%s: %d, want %d", c[i].what_for, got, c[i].want);
    }
    UNIT_END(live);
}

static bool
has_field_n(const struct cache_field *f, int n, const char *name, const char *value, size_t vlen)
{
    int i;

    for (i = 0; i < n; i++)
        if (cache_name_eq(f[i].name, f[i].name_len, name) &&
            (value == NULL ||
             (f[i].value_len == vlen && memcmp(f[i].value, value, f[i].value_len) == 0)))
            return true;
    return false;
}

static bool
has_field(const struct cache_field *f, int n, const char *name, const char *value)
{
    return has_field_n(f, n, name, value, value == NULL ? 0 : strlen(value));
}

/* SPEC: RFC 9111 3.2 -- updating stored header fields from a 304. */
static void
test_merge_304(void **state)
{
    static const char stored[] = "Date: {T-100}\n"
                                 "Cache-Control: max-age=10\n"
                                 "ETag: \"a\"\n"
                                 "Content-Length: 5\n"
                                 "Content-Type: text/plain\n"
                                 "Content-Encoding: gzip\n"
                                 "X-A: 1\n"
                                 "X-A: 2\n"
                                 "X-Keep: k";
    static const char r304[] = "Date: {T}\n"
                               "Cache-Control: max-age=60\n"
                               "ETag: \"a\"\n"
                               "X-A: 3\n"
                               "Content-Length: 0\n"
                               "Content-Encoding: br\n"
                               "Connection: close, X-B\n"
                               "X-B: 1\n"
                               "Keep-Alive: timeout=5\n"
                               "Set-Cookie: s=1\n"
                               "X-New: n";
    struct hdrs sh, rh, qh;
    struct cache_field out[64];
    struct cache_fields merged = {out, 0};
    struct cache_req q;
    struct cache_resp r;
    struct cache_store_decision d;
    struct cache_meta m;
    struct cache_policy_conf conf = cache_policy_conf_default;
    int n;
    int64_t live = mem_live();

    (void)state;
    hdrs_of(&sh, stored);
    hdrs_of(&rh, r304);
    n = cache_policy_merge_304(&conf, &sh.f, &rh.f, false, out, ARRAY_SIZE(out));
    assert_true(n > 0);
    assert_false(has_field_n(out, n, "Date", sh.v[0].value, sh.v[0].value_len)); /* replaced */
    assert_true(has_field_n(out, n, "Date", rh.v[0].value, rh.v[0].value_len));
    assert_true(has_field(out, n, "Cache-Control", "max-age=60"));
    assert_false(has_field(out, n, "Cache-Control", "max-age=10"));
    assert_true(has_field(out, n, "X-A", "3"));
    assert_false(has_field(out, n, "X-A", "1")); /* every line of the name replaced */
    assert_false(has_field(out, n, "X-A", "2"));
    assert_true(has_field(out, n, "X-Keep", "k"));
    assert_true(has_field(out, n, "X-New", "n"));
    assert_true(has_field(out, n, "Content-Length", "5")); /* the body's length stays */
    assert_true(has_field(out, n, "Content-Encoding", "gzip"));
    assert_false(has_field(out, n, "Connection", NULL));
    assert_false(has_field(out, n, "X-B", NULL)); /* Connection-listed */
    assert_false(has_field(out, n, "Keep-Alive", NULL));
    assert_false(has_field(out, n, "Set-Cookie", NULL)); /* never stored by default */
    /* the merged headers are what is stored now: fresh for 60 s again */
    merged.n = (size_t)n;
    req_of(&q, &qh, "GET", "");
    cache_resp_parse(&r, &conf, 200, &merged, T0);
    cache_policy_store(&conf, &q, &r, T0, T0, &d, &m);
    assert_int_equal(CACHE_STORE_YES, d.what);
    assert_int_equal(60, m.lifetime);
    assert_true(cache_is_fresh(&m, T0 + 59));
    /* the client that caused the validation sees its cookie */
    n = cache_policy_merge_304(&conf, &sh.f, &rh.f, true, out, ARRAY_SIZE(out));
    assert_true(has_field(out, n, "Set-Cookie", "s=1"));
    assert_false(has_field(out, n, "Connection", NULL));
    assert_false(has_field(out, n, "X-B", NULL));
    assert_true(has_field(out, n, "Content-Length", "5"));
    /* storing cookies: a 304's cookie is stored too */
    conf.set_cookie = CACHE_COOKIE_STORE;
    n = cache_policy_merge_304(&conf, &sh.f, &rh.f, false, out, ARRAY_SIZE(out));
    assert_true(has_field(out, n, "Set-Cookie", "s=1"));
    /* bounded */
    assert_int_equal(ERR_LIMIT, cache_policy_merge_304(&conf, &sh.f, &rh.f, false, out, 3));
    UNIT_END(live);
}

/* SPEC: RFC 9111 4.3.5 -- freshening with HEAD. */
static void
test_head_matches(void **state)
{
    struct hdrs a, b;
    int64_t live = mem_live();

    (void)state;
    hdrs_of(&a, "ETag: \"a\"\nLast-Modified: {T-10}\nContent-Length: 10");
    assert_true(cache_policy_head_matches(&a.f, hdrs_of(&b, "ETag: \"a\"\nContent-Length: 10")));
    assert_true(cache_policy_head_matches(&a.f, hdrs_of(&b, "Date: {T}")));
    assert_false(cache_policy_head_matches(&a.f, hdrs_of(&b, "ETag: \"b\"")));
    assert_false(cache_policy_head_matches(&a.f, hdrs_of(&b, "Content-Length: 11")));
    assert_false(cache_policy_head_matches(&a.f, hdrs_of(&b, "Last-Modified: {T}")));
    hdrs_of(&a, "Content-Length: 10");
    assert_false(cache_policy_head_matches(&a.f, hdrs_of(&b, "ETag: \"a\"")));
    UNIT_END(live);
}

/* ---- answering from the cache (RFC 9110 13, 14) ---- */

struct cond_case {
    const char *what_for;
    const char *method;
    const char *req;
    uint16_t status;
    const char *stored;
    uint64_t length;
    enum conf_mod conf;
    enum cache_cond what;
    uint64_t first, last;
    const char *content_range;
};

#define SFULL "Date: {T}\nCache-Control: max-age=60\nETag: \"v1\"\nLast-Modified: {T-100}"
#define C(x) CACHE_COND_##x

static void
test_conditional(void **state)
{
    static const struct cond_case c[] = {
        {"no conditions", "GET", "", 200, SFULL, 1000, C_DEFAULT, C(200), 0, 0, ""},
        /* 13.1.2 If-None-Match: weak comparison */
        {"13.1.2 INM same", "GET", "If-None-Match: \"v1\"", 200, SFULL, 1000, C_DEFAULT, C(304), 0,
         0, ""},
        {"13.1.2 INM weak vs strong", "GET", "If-None-Match: W/\"v1\"", 200, SFULL, 1000, C_DEFAULT,
         C(304), 0, 0, ""},
        {"13.1.2 INM list", "GET", "If-None-Match: \"x\", \"v1\"", 200, SFULL, 1000, C_DEFAULT,
         C(304), 0, 0, ""},
        {"13.1.2 INM over two lines", "GET", "If-None-Match: \"x\"\nIf-None-Match: \"v1\"", 200,
         SFULL, 1000, C_DEFAULT, C(304), 0, 0, ""},
        {"13.1.2 INM *", "GET", "If-None-Match: *", 200, SFULL, 1000, C_DEFAULT, C(304), 0, 0, ""},
        {"13.1.2 INM other", "GET", "If-None-Match: \"v2\"", 200, SFULL, 1000, C_DEFAULT, C(200), 0,
         0, ""},
        {"13.1.2 INM HEAD", "HEAD", "If-None-Match: \"v1\"", 200, SFULL, 1000, C_DEFAULT, C(304), 0,
         0, ""},
        {"13.1.2 INM invalid: true", "GET", "If-None-Match: v1", 200, SFULL, 1000, C_DEFAULT,
         C(200), 0, 0, ""},
        {"13.1.2 INM comma inside a tag", "GET", "If-None-Match: \"a,b\"", 200, "ETag: \"a,b\"",
         1000, C_DEFAULT, C(304), 0, 0, ""},
        /* 13.1.3 If-Modified-Since */
        {"13.1.3 IMS after Last-Modified", "GET", "If-Modified-Since: {T-50}", 200, SFULL, 1000,
         C_DEFAULT, C(304), 0, 0, ""},
        {"13.1.3 IMS equal", "GET", "If-Modified-Since: {T-100}", 200, SFULL, 1000, C_DEFAULT,
         C(304), 0, 0, ""},
        {"13.1.3 IMS before", "GET", "If-Modified-Since: {T-101}", 200, SFULL, 1000, C_DEFAULT,
         C(200), 0, 0, ""},
        {"13.1.3 IMS invalid", "GET", "If-Modified-Since: yesterday", 200, SFULL, 1000, C_DEFAULT,
         C(200), 0, 0, ""},
        {"13.1.3 IMS twice", "GET", "If-Modified-Since: {T}\nIf-Modified-Since: {T}", 200, SFULL,
         1000, C_DEFAULT, C(200), 0, 0, ""},
        {"9111 4.3.2 IMS without Last-Modified: Date", "GET", "If-Modified-Since: {T}", 200,
         "Date: {T}\nCache-Control: max-age=60", 1000, C_DEFAULT, C(304), 0, 0, ""},
        {"9111 4.3.2 IMS before Date", "GET", "If-Modified-Since: {T-1}", 200,
         "Date: {T}\nCache-Control: max-age=60", 1000, C_DEFAULT, C(200), 0, 0, ""},
        {"13.1.3 INM present: IMS ignored", "GET", "If-None-Match: \"v2\"\nIf-Modified-Since: {T}",
         200, SFULL, 1000, C_DEFAULT, C(200), 0, 0, ""},
        /* 13.1.1 If-Match: strong comparison; 13.1.4 If-Unmodified-Since */
        {"13.1.1 If-Match same", "GET", "If-Match: \"v1\"", 200, SFULL, 1000, C_DEFAULT, C(200), 0,
         0, ""},
        {"13.1.1 If-Match other", "GET", "If-Match: \"v2\"", 200, SFULL, 1000, C_DEFAULT, C(412), 0,
         0, ""},
        {"13.1.1 If-Match weak", "GET", "If-Match: W/\"v1\"", 200, SFULL, 1000, C_DEFAULT, C(412),
         0, 0, ""},
        {"13.1.1 If-Match *", "GET", "If-Match: *", 200, SFULL, 1000, C_DEFAULT, C(200), 0, 0, ""},
        {"13.1.1 If-Match * among tags is invalid", "GET", "If-Match: *, \"v1\"", 200, SFULL, 1000,
         C_DEFAULT, C(412), 0, 0, ""},
        {"13.1.1 If-Match list", "GET", "If-Match: \"x\", \"v1\"", 200, SFULL, 1000, C_DEFAULT,
         C(200), 0, 0, ""},
        {"13.1.1 If-Match, no ETag stored", "GET", "If-Match: \"v1\"", 200,
         "Date: {T}\nCache-Control: max-age=60", 1000, C_DEFAULT, C(412), 0, 0, ""},
        {"13.2.2 If-Match passes, then INM", "GET", "If-Match: \"v1\"\nIf-None-Match: \"v1\"", 200,
         SFULL, 1000, C_DEFAULT, C(304), 0, 0, ""},
        {"13.1.4 IUS after", "GET", "If-Unmodified-Since: {T-100}", 200, SFULL, 1000, C_DEFAULT,
         C(200), 0, 0, ""},
        {"13.1.4 IUS before", "GET", "If-Unmodified-Since: {T-101}", 200, SFULL, 1000, C_DEFAULT,
         C(412), 0, 0, ""},
        {"13.1.4 IUS ignored beside If-Match", "GET",
         "If-Match: \"v1\"\nIf-Unmodified-Since: {T-101}", 200, SFULL, 1000, C_DEFAULT, C(200), 0,
         0, ""},
        {"13.1.4 IUS without a modification date", "GET", "If-Unmodified-Since: {T-101}", 200,
         "Date: {T}\nCache-Control: max-age=60", 1000, C_DEFAULT, C(200), 0, 0, ""},
        {"13.1.4 IUS invalid", "GET", "If-Unmodified-Since: x", 200, SFULL, 1000, C_DEFAULT, C(200),
         0, 0, ""},
        {"9111 4.3.2 If-Match forwarded when told", "GET", "If-Match: \"v2\"", 200, SFULL, 1000,
         C_FORWARD, C(FORWARD), 0, 0, ""},
        {"9111 4.3.2 IUS forwarded when told", "GET", "If-Unmodified-Since: {T}", 200, SFULL, 1000,
         C_FORWARD, C(FORWARD), 0, 0, ""},
        /* 13.2.1 only for 2xx */
        {"13.2.1 a stored 404 ignores INM *", "GET", "If-None-Match: *", 404,
         "Date: {T}\nCache-Control: max-age=60", 1000, C_DEFAULT, C(200), 0, 0, ""},
        {"13.2.1 a stored 404 ignores If-Match", "GET", "If-Match: \"zz\"", 404,
         "Date: {T}\nCache-Control: max-age=60", 1000, C_DEFAULT, C(200), 0, 0, ""},
        /* 14 Range */
        {"14.1.2 first bytes", "GET", "Range: bytes=0-99", 200, SFULL, 1000, C_DEFAULT, C(206), 0,
         99, "bytes 0-99/1000"},
        {"14.1.2 open end", "GET", "Range: bytes=900-", 200, SFULL, 1000, C_DEFAULT, C(206), 900,
         999, "bytes 900-999/1000"},
        {"14.1.2 suffix", "GET", "Range: bytes=-100", 200, SFULL, 1000, C_DEFAULT, C(206), 900, 999,
         "bytes 900-999/1000"},
        {"14.1.2 suffix longer than the body", "GET", "Range: bytes=-2000", 200, SFULL, 1000,
         C_DEFAULT, C(206), 0, 999, "bytes 0-999/1000"},
        {"14.1.2 last-pos past the end", "GET", "Range: bytes=10-5000", 200, SFULL, 1000, C_DEFAULT,
         C(206), 10, 999, "bytes 10-999/1000"},
        {"14.1.2 huge numbers", "GET", "Range: bytes=0-999999999999999999999999", 200, SFULL, 1000,
         C_DEFAULT, C(206), 0, 999, "bytes 0-999/1000"},
        {"14.1 unit case-insensitive, OWS in the set", "GET", "Range: BYTES= 1-1 ,", 200, SFULL,
         1000, C_DEFAULT, C(206), 1, 1, "bytes 1-1/1000"},
        {"15.5.17 first-pos at the end: 416", "GET", "Range: bytes=1000-", 200, SFULL, 1000,
         C_DEFAULT, C(416), 0, 0, "bytes */1000"},
        {"14.1.2 suffix of 0: 416", "GET", "Range: bytes=-0", 200, SFULL, 1000, C_DEFAULT, C(416),
         0, 0, "bytes */1000"},
        {"14.1.2 huge first-pos: 416", "GET", "Range: bytes=99999999999999999999999-", 200, SFULL,
         1000, C_DEFAULT, C(416), 0, 0, "bytes */1000"},
        {"14.1.1 last < first: ignored", "GET", "Range: bytes=5-1", 200, SFULL, 1000, C_DEFAULT,
         C(200), 0, 0, ""},
        {"14.2 another unit: ignored", "GET", "Range: items=0-1", 200, SFULL, 1000, C_DEFAULT,
         C(200), 0, 0, ""},
        {"14.1.1 garbage: ignored", "GET", "Range: bytes=abc", 200, SFULL, 1000, C_DEFAULT, C(200),
         0, 0, ""},
        {"14.1.1 empty set: ignored", "GET", "Range: bytes=", 200, SFULL, 1000, C_DEFAULT, C(200),
         0, 0, ""},
        {"14.1.1 spaces inside a spec: ignored", "GET", "Range: bytes=0 - 1", 200, SFULL, 1000,
         C_DEFAULT, C(200), 0, 0, ""},
        {"15.3.7.2 touching ranges coalesce", "GET", "Range: bytes=0-9,10-19", 200, SFULL, 1000,
         C_DEFAULT, C(206), 0, 19, "bytes 0-19/1000"},
        {"15.3.7.2 overlapping ranges coalesce", "GET", "Range: bytes=50-99, 0-60, 90-95", 200,
         SFULL, 1000, C_DEFAULT, C(206), 0, 99, "bytes 0-99/1000"},
        {"15.3.7 apart: the first, a subset", "GET", "Range: bytes=0-9,20-29", 200, SFULL, 1000,
         C_DEFAULT, C(206), 0, 9, "bytes 0-9/1000"},
        {"15.3.7 the first satisfiable", "GET", "Range: bytes=2000-,500-509", 200, SFULL, 1000,
         C_DEFAULT, C(206), 500, 509, "bytes 500-509/1000"},
        {"15.5.17 none satisfiable", "GET", "Range: bytes=2000-,3000-", 200, SFULL, 1000, C_DEFAULT,
         C(416), 0, 0, "bytes */1000"},
        {"14.2 too many ranges: ignored", "GET",
         "Range: bytes=0-0,2-2,4-4,6-6,8-8,10-10,12-12,14-14,16-16,18-18,20-20,22-22,24-24,"
         "26-26,28-28,30-30,32-32,34-34,36-36,38-38,40-40,42-42,44-44,46-46,48-48,50-50,52-52,"
         "54-54,56-56,58-58,60-60,62-62,64-64",
         200, SFULL, 1000, C_DEFAULT, C(200), 0, 0, ""},
        {"14.2 GET only: HEAD ignores Range", "HEAD", "Range: bytes=0-1", 200, SFULL, 1000,
         C_DEFAULT, C(200), 0, 0, ""},
        {"14.2 a stored 404 ignores Range", "GET", "Range: bytes=0-1", 404,
         "Date: {T}\nCache-Control: max-age=60", 1000, C_DEFAULT, C(200), 0, 0, ""},
        {"14.2 no content: Range ignored", "GET", "Range: bytes=-5", 200, SFULL, 0, C_DEFAULT,
         C(200), 0, 0, ""},
        {"two Range fields: ignored", "GET", "Range: bytes=0-1\nRange: bytes=2-3", 200, SFULL, 1000,
         C_DEFAULT, C(200), 0, 0, ""},
        {"14.2 304 before Range", "GET", "Range: bytes=0-1\nIf-None-Match: \"v1\"", 200, SFULL,
         1000, C_DEFAULT, C(304), 0, 0, ""},
        {"14.2 412 before Range", "GET", "Range: bytes=0-1\nIf-Match: \"v0\"", 200, SFULL, 1000,
         C_DEFAULT, C(412), 0, 0, ""},
        /* 13.1.5 If-Range */
        {"13.1.5 If-Range etag matches", "GET", "Range: bytes=0-1\nIf-Range: \"v1\"", 200, SFULL,
         1000, C_DEFAULT, C(206), 0, 1, "bytes 0-1/1000"},
        {"13.1.5 If-Range etag differs", "GET", "Range: bytes=0-1\nIf-Range: \"v0\"", 200, SFULL,
         1000, C_DEFAULT, C(200), 0, 0, ""},
        {"13.1.5 If-Range weak never matches", "GET", "Range: bytes=0-1\nIf-Range: W/\"v1\"", 200,
         "Date: {T}\nCache-Control: max-age=60\nETag: W/\"v1\"", 1000, C_DEFAULT, C(200), 0, 0, ""},
        {"13.1.5 If-Range date, strong Last-Modified", "GET", "Range: bytes=0-1\nIf-Range: {T-100}",
         200, SFULL, 1000, C_DEFAULT, C(206), 0, 1, "bytes 0-1/1000"},
        {"13.1.5 If-Range date, not exact", "GET", "Range: bytes=0-1\nIf-Range: {T-99}", 200, SFULL,
         1000, C_DEFAULT, C(200), 0, 0, ""},
        {"8.8.2.2 If-Range date, weak Last-Modified", "GET", "Range: bytes=0-1\nIf-Range: {T}", 200,
         "Date: {T}\nCache-Control: max-age=60\nLast-Modified: {T}", 1000, C_DEFAULT, C(200), 0, 0,
         ""},
        {"13.1.5 If-Range garbage", "GET", "Range: bytes=0-1\nIf-Range: soon", 200, SFULL, 1000,
         C_DEFAULT, C(200), 0, 0, ""},
        {"13.1.5 If-Range without Range: ignored", "GET", "If-Range: \"v0\"", 200, SFULL, 1000,
         C_DEFAULT, C(200), 0, 0, ""},
    };
    struct hdrs qh, sh;
    struct cache_req q;
    struct cache_meta m;
    struct cache_cond_result res;
    struct cache_policy_conf conf;
    size_t i;
    int64_t live = mem_live();

    (void)state;
    for (i = 0; i < ARRAY_SIZE(c); i++) {
        conf = conf_of(c[i].conf);
        meta_of(&conf, &m, c[i].status, c[i].stored);
        req_of(&q, &qh, c[i].method, c[i].req);
        cache_policy_conditional(&conf, &q, hdrs_of(&sh, c[i].stored), &m, c[i].length, &res);
        if (res.what != c[i].what || strcmp(res.content_range, c[i].content_range) != 0 ||
            (res.what == C(206) && (res.first != c[i].first || res.last != c[i].last)))
            fail_msg("%s: what %d %llu-%llu '%s'", c[i].what_for, res.what,
                     (unsigned long long)res.first, (unsigned long long)res.last,
                     res.content_range);
        assert_int_equal(c[i].length, res.length);
    }
    UNIT_END(live);
}

static void
test_field_in_304(void **state)
{
    int64_t live = mem_live();

    (void)state;
    /* SPEC: RFC 9110 15.4.5 */
    assert_true(cache_policy_field_in_304("ETag", 4, true));
    assert_true(cache_policy_field_in_304("cache-control", 13, true));
    assert_true(cache_policy_field_in_304("Vary", 4, true));
    assert_true(cache_policy_field_in_304("Expires", 7, true));
    assert_true(cache_policy_field_in_304("Date", 4, true));
    assert_true(cache_policy_field_in_304("Content-Location", 16, true));
    assert_true(cache_policy_field_in_304("CDN-Cache-Control", 17, true));
    assert_false(cache_policy_field_in_304("Last-Modified", 13, true));
    assert_true(cache_policy_field_in_304("Last-Modified", 13, false));
    assert_false(cache_policy_field_in_304("Content-Length", 14, false));
    assert_false(cache_policy_field_in_304("Content-Type", 12, false));
    UNIT_END(live);
}

static void
test_etags(void **state)
{
#define E(s) s, strlen(s)
    int64_t live = mem_live();

    (void)state;
    /* SPEC: RFC 9110 8.8.3.2, the table there */
    assert_false(cache_etag_strong_eq(E("W/\"1\""), E("W/\"1\"")));
    assert_true(cache_etag_weak_eq(E("W/\"1\""), E("W/\"1\"")));
    assert_false(cache_etag_strong_eq(E("W/\"1\""), E("W/\"2\"")));
    assert_false(cache_etag_weak_eq(E("W/\"1\""), E("W/\"2\"")));
    assert_false(cache_etag_strong_eq(E("W/\"1\""), E("\"1\"")));
    assert_true(cache_etag_weak_eq(E("W/\"1\""), E("\"1\"")));
    assert_true(cache_etag_strong_eq(E("\"1\""), E("\"1\"")));
    assert_true(cache_etag_weak_eq(E("\"1\""), E("\"1\"")));
    assert_true(cache_etag_valid(E("\"\"")));
    assert_true(cache_etag_valid(E("W/\"\"")));
    assert_false(cache_etag_valid(E("\"")));
    assert_false(cache_etag_valid(E("1")));
    assert_false(cache_etag_valid(E("w/\"1\"")));
    assert_false(cache_etag_valid(E("\"a\"b\"")));
    assert_false(cache_etag_valid(E("\"a b\"")));
    assert_false(cache_etag_strong_eq(E("1"), E("1")));
#undef E
    UNIT_END(live);
}

/* ---- invalidation (SPEC: RFC 9111 4.4) ---- */

struct inval_case {
    const char *what_for;
    const char *method;
    uint16_t status;
    bool https;
    const char *target;
    const char *resp;
    const char *keys[3];
};

static void
test_invalidations(void **state)
{
    static const struct inval_case c[] = {
        {"POST 200: the target",
         "POST",
         200,
         false,
         "/api/x?b=1&a=2",
         "",
         {"h.example/api/x?a=2&b=1"}},
        {"PUT 201: Location too",
         "PUT",
         201,
         false,
         "/a/b",
         "Location: /a/c",
         {"h.example/a/b", "h.example/a/c"}},
        {"DELETE 204: Content-Location",
         "DELETE",
         204,
         false,
         "/a/b",
         "Content-Location: /a/b?v=2",
         {"h.example/a/b", "h.example/a/b?v=2"}},
        {"the same URI once",
         "PATCH",
         200,
         false,
         "/a/b",
         "Content-Location: /a/./b",
         {"h.example/a/b"}},
        {"303 is a non-error",
         "POST",
         303,
         false,
         "/form",
         "Location: /done",
         {"h.example/form", "h.example/done"}},
        {"an unknown method: unsafe", "BREW", 200, false, "/pot", "", {"h.example/pot"}},
        {"an error: nothing", "POST", 404, false, "/a", "Location: /b", {NULL}},
        {"an error: nothing", "DELETE", 500, false, "/a", "", {NULL}},
        {"1xx: nothing", "POST", 100, false, "/a", "", {NULL}},
        {"safe methods: nothing", "GET", 200, false, "/a", "Location: /b", {NULL}},
        {"safe methods: nothing", "OPTIONS", 200, false, "/a", "", {NULL}},
        {"absolute, same origin",
         "POST",
         201,
         false,
         "/a",
         "Location: http://H.example:80/n",
         {"h.example/a", "h.example/n"}},
        {"absolute, another host",
         "POST",
         201,
         false,
         "/a",
         "Location: http://evil.example/n",
         {"h.example/a"}},
        {"absolute, another scheme",
         "POST",
         201,
         false,
         "/a",
         "Location: https://h.example/n",
         {"h.example/a"}},
        {"absolute, another port",
         "POST",
         201,
         false,
         "/a",
         "Location: http://h.example:8080/n",
         {"h.example/a"}},
        {"https target",
         "POST",
         201,
         true,
         "/a",
         "Location: https://h.example:443/n",
         {"h.example/a", "h.example/n"}},
        {"another scheme entirely",
         "POST",
         201,
         false,
         "/a",
         "Location: mailto:x@h.example",
         {"h.example/a"}},
        {"network-path, same",
         "POST",
         201,
         false,
         "/a",
         "Location: //h.example/n",
         {"h.example/a", "h.example/n"}},
        {"network-path, another",
         "POST",
         201,
         false,
         "/a",
         "Location: //evil.example/n",
         {"h.example/a"}},
        {"relative path",
         "POST",
         201,
         false,
         "/d/e?q=1",
         "Location: f",
         {"h.example/d/e?q=1", "h.example/d/f"}},
        {"relative with dots",
         "POST",
         201,
         false,
         "/d/e",
         "Location: ../f#x",
         {"h.example/d/e", "h.example/f"}},
        {"relative query",
         "POST",
         201,
         false,
         "/d/e?q=1",
         "Location: ?q=2",
         {"h.example/d/e?q=1", "h.example/d/e?q=2"}},
        {"relative escaping the root: ignored",
         "POST",
         201,
         false,
         "/d",
         "Location: ../../x",
         {"h.example/d"}},
        {"both",
         "POST",
         201,
         false,
         "/a",
         "Location: /b\nContent-Location: /c",
         {"h.example/a", "h.example/b", "h.example/c"}},
        {"a target we never stored under", "POST", 200, false, "*", "Location: /b", {NULL}},
    };
    char buf[3 * CACHE_KEY_MAX];
    struct hdrs h;
    struct cache_invalidation inv;
    size_t i, k, want;
    int n;
    int64_t live = mem_live();

    (void)state;
    for (i = 0; i < ARRAY_SIZE(c); i++) {
        n = cache_policy_invalidations(cache_method_parse(c[i].method, strlen(c[i].method)),
                                       c[i].status, c[i].https, "h.example", 9, c[i].target,
                                       strlen(c[i].target), hdrs_of(&h, c[i].resp), buf,
                                       sizeof(buf), &inv);
        for (want = 0; want < 3 && c[i].keys[want] != NULL; want++)
            ;
        if (n != (int)want || inv.n != want)
            fail_msg("%s: %d keys, want %zu", c[i].what_for, n, want);
        for (k = 0; k < want; k++)
            if (inv.key[k].len != strlen(c[i].keys[k]) ||
                memcmp(buf + inv.key[k].off, c[i].keys[k], inv.key[k].len) != 0)
                fail_msg("%s: key %zu '%.*s', want '%s'", c[i].what_for, k, (int)inv.key[k].len,
                         buf + inv.key[k].off, c[i].keys[k]);
    }
    n = cache_policy_invalidations(CACHE_M_POST, 200, false, "h", 1, "/abc", 4, hdrs_of(&h, ""),
                                   buf, 3, &inv);
    assert_int_equal(ERR_LIMIT, n);
    UNIT_END(live);
}

/* ------------------------------------------------------------------ */
/* Known deviations of peers, each fixed here (docs/caching.md)       */
/* ------------------------------------------------------------------ */

/* Stores resp (received at T0 for a GET) with the default conf. */
static void
store_default(const char *resp, uint16_t status, struct cache_store_decision *d,
              struct cache_meta *m)
{
    struct cache_policy_conf conf = cache_policy_conf_default;
    struct hdrs qh, rh;
    struct cache_req q;
    struct cache_resp r;

    req_of(&q, &qh, "GET", "");
    cache_resp_parse(&r, &conf, status, hdrs_of(&rh, resp), T0);
    cache_policy_store(&conf, &q, &r, T0, T0, d, m);
}

static void
test_peer_nginx(void **state)
{
    struct cache_policy_conf conf = cache_policy_conf_default;
    struct cache_store_decision d;
    struct cache_serve_decision sd;
    struct cache_cond_result res;
    struct cache_meta m;
    struct hdrs qh, rh, sh;
    struct cache_req q;
    struct cache_resp r;
    int64_t live = mem_live();

    (void)state;
    /* N1: ngx_http_upstream_process_cache_control() looks for "no-cache",
     * "no-store", "private" as substrings anywhere in the value, so an
     * extension or a quoted argument makes a cacheable response uncacheable. */
    store_default("Date: {T}\nCache-Control: max-age=60, x-note=\"no-cache private\"", 200, &d, &m);
    assert_int_equal(CACHE_STORE_YES, d.what);
    assert_int_equal(60, m.lifetime);
    /* N2: nginx adds the value of max-age to its clock and ignores Age
     * (nginx/nginx#1234, #1242): a response already 50 s old is kept 60 s.
     * RFC 9111 4.2.3: it is fresh for 10 s more. */
    store_default("Date: {T}\nAge: 50\nCache-Control: max-age=60", 200, &d, &m);
    assert_true(cache_is_fresh(&m, T0 + 9));
    assert_false(cache_is_fresh(&m, T0 + 10));
    /* N3: a quoted max-age ("max-age=\"60\"") makes nginx refuse to cache;
     * RFC 9111 5.2: recipients ought to accept both forms. */
    store_default("Date: {T}\nCache-Control: max-age=\"60\"", 200, &d, &m);
    assert_int_equal(60, m.lifetime);
    /* N4: nginx accumulates max-age digits in an unchecked integer; RFC 9111
     * 1.2.2: overflow is 2^31, never negative. */
    store_default("Date: {T}\nCache-Control: max-age=99999999999999999999999999", 200, &d, &m);
    assert_int_equal(CACHE_DELTA_MAX, m.lifetime);
    /* N5: nginx answers 304 only when If-None-Match and If-Modified-Since
     * both match (nginx/nginx#652); RFC 9110 13.1.3: If-Modified-Since is
     * ignored when If-None-Match is present. */
    meta_of(&conf, &m, 200, SFULL);
    req_of(&q, &qh, "GET", "If-None-Match: \"v1\"\nIf-Modified-Since: {T-200}");
    cache_policy_conditional(&conf, &q, hdrs_of(&sh, SFULL), &m, 10, &res);
    assert_int_equal(CACHE_COND_304, res.what);
    /* N6: nginx stores and reuses responses to requests with Authorization
     * (nginx/nginx#824); RFC 9111 3.5 forbids it without public,
     * must-revalidate or s-maxage. */
    req_of(&q, &qh, "GET", "Authorization: Basic dTpw");
    cache_resp_parse(&r, &conf, 200, hdrs_of(&rh, "Date: {T}\nCache-Control: max-age=60"), T0);
    cache_policy_store(&conf, &q, &r, T0, T0, &d, &m);
    assert_int_equal(CACHE_STORE_NO, d.what);
    assert_int_equal(CACHE_WHY_AUTHORIZATION, d.why);
    /* N7: nginx parses neither must-revalidate nor proxy-revalidate, so
     * proxy_cache_use_stale serves what RFC 9111 5.2.2.2 forbids. */
    store_default("Date: {T}\nCache-Control: max-age=60, must-revalidate", 200, &d, &m);
    req_of(&q, &qh, "GET", "");
    assert_false(cache_policy_stale_on_error(&conf, &q, &m, T0 + 61));
    /* N8: max-age=0 / no-cache responses are not stored by nginx, so it can
     * neither revalidate them (304) nor fall back to them; we keep them. */
    store_default("Date: {T}\nCache-Control: max-age=0\nETag: \"a\"", 200, &d, &m);
    assert_int_equal(CACHE_STORE_YES, d.what);
    cache_policy_serve(&conf, &q, &m, T0 + 1, &sd);
    assert_int_equal(CACHE_SERVE_REVALIDATE, sd.what);
    assert_true(sd.stale_on_error);
    UNIT_END(live);
}

static void
test_peer_varnish(void **state)
{
    struct cache_policy_conf conf = cache_policy_conf_default;
    struct cache_store_decision d;
    struct cache_serve_decision sd;
    struct cache_cond_result res;
    struct cache_meta m;
    struct hdrs qh, sh;
    struct cache_req q;
    int64_t live = mem_live();

    (void)state;
    /* V1: RFC2616_Ttl() treats an Expires it cannot parse (the common
     * "Expires: 0") as absent and applies default_ttl (120 s); RFC 9111 5.3:
     * an invalid date is already expired. */
    store_default("Date: {T}\nExpires: 0", 200, &d, &m);
    assert_int_equal(CACHE_STORE_YES, d.what);
    assert_int_equal(0, m.lifetime);
    /* V2: default_ttl applies to every 200 without freshness information,
     * validator or not; we assign no lifetime unless configured, and a
     * heuristic only from Last-Modified (RFC 9111 4.2.2). */
    store_default("Date: {T}", 200, &d, &m);
    assert_int_equal(0, m.lifetime);
    /* V3: grace ignores must-revalidate (varnish-cache PR #3364, still open)
     * and s-maxage (RFC 9111 5.2.2.10 implies proxy-revalidate). */
    store_default("Date: {T}\nCache-Control: max-age=60, must-revalidate, "
                  "stale-while-revalidate=60",
                  200, &d, &m);
    req_of(&q, &qh, "GET", "");
    cache_policy_serve(&conf, &q, &m, T0 + 61, &sd);
    assert_int_equal(CACHE_SERVE_REVALIDATE, sd.what);
    assert_false(sd.stale_on_error);
    store_default("Date: {T}\nCache-Control: s-maxage=60", 200, &d, &m);
    assert_false(cache_policy_stale_on_error(&conf, &q, &m, T0 + 61));
    /* V4: RFC2616_Do_Cond() compares the whole If-None-Match value with
     * strcmp(), so a list or "*" never gives a 304 (RFC 9110 13.1.2). */
    meta_of(&conf, &m, 200, SFULL);
    req_of(&q, &qh, "GET", "If-None-Match: \"v0\", \"v1\"");
    cache_policy_conditional(&conf, &q, hdrs_of(&sh, SFULL), &m, 10, &res);
    assert_int_equal(CACHE_COND_304, res.what);
    req_of(&q, &qh, "GET", "If-None-Match: *");
    cache_policy_conditional(&conf, &q, hdrs_of(&sh, SFULL), &m, 10, &res);
    assert_int_equal(CACHE_COND_304, res.what);
    /* V5: If-Match and If-Unmodified-Since are not evaluated on hits, so a
     * download resumed with If-Match against a changed object gets a 206 of
     * the new bytes; RFC 9110 13.2.2 gives 412. */
    req_of(&q, &qh, "GET", "Range: bytes=5-\nIf-Match: \"v0\"");
    cache_policy_conditional(&conf, &q, hdrs_of(&sh, SFULL), &m, 10, &res);
    assert_int_equal(CACHE_COND_412, res.what);
    /* V6: Range on other methods than GET (vinyl-cache #4533); RFC 9110
     * 14.2: GET only. */
    req_of(&q, &qh, "HEAD", "Range: bytes=0-1");
    cache_policy_conditional(&conf, &q, hdrs_of(&sh, SFULL), &m, 10, &res);
    assert_int_equal(CACHE_COND_200, res.what);
    /* V7: the builtin VCL ignores request Cache-Control; we honour it
     * (RFC 9111 5.2.1, advisory) unless configured not to. */
    meta_of(&conf, &m, 200, "Date: {T}\nCache-Control: max-age=60");
    req_of(&q, &qh, "GET", "Cache-Control: max-age=0");
    cache_policy_serve(&conf, &q, &m, T0 + 5, &sd);
    assert_int_equal(CACHE_SERVE_REVALIDATE, sd.what);
    UNIT_END(live);
}

static void
test_peer_ats(void **state)
{
    struct cache_policy_conf conf = cache_policy_conf_default;
    struct cache_store_decision d;
    struct cache_meta m;
    struct cache_field out[32];
    struct hdrs qh, rh, sh;
    struct cache_req q;
    struct cache_resp r;
    char buf[2 * CACHE_KEY_MAX];
    struct cache_invalidation inv;
    int n;
    int64_t live = mem_live();

    (void)state;
    /* A1: "public; max-age=30" set "public" and dropped max-age, then a
     * heuristic lifetime applied (apache/trafficserver#12029; #12670 still
     * falls back to heuristics). A malformed Cache-Control gets no
     * heuristic here. */
    store_default("Date: {T}\nLast-Modified: {T-100000}\nCache-Control: public; max-age=30", 200,
                  &d, &m);
    assert_int_equal(CACHE_STORE_YES, d.what);
    assert_int_equal(0, m.lifetime);
    /* A2: cache-tests cc-parse: "max-age =30" and "max-age='30'" were
     * reused; they are invalid and so stale (RFC 9111 4.2.1). */
    store_default("Date: {T}\nCache-Control: max-age =30", 200, &d, &m);
    assert_int_equal(0, m.lifetime);
    store_default("Date: {T}\nCache-Control: max-age='30'", 200, &d, &m);
    assert_int_equal(0, m.lifetime);
    /* A3: proxy.config.http.cache.ignore_client_no_cache (default 1) ignores
     * a request's no-store, storing the response; RFC 9111 5.2.1.5 MUST NOT. */
    req_of(&q, &qh, "GET", "Cache-Control: no-store");
    cache_resp_parse(&r, &conf, 200, hdrs_of(&rh, "Date: {T}\nCache-Control: max-age=60"), T0);
    cache_policy_store(&conf, &q, &r, T0, T0, &d, &m);
    assert_int_equal(CACHE_STORE_NO, d.what);
    /* A4: Set-Cookie from a 304 did not reach the client
     * (apache/trafficserver#5299): the client's merge carries it. */
    hdrs_of(&sh, "ETag: \"a\"\nCache-Control: max-age=10");
    hdrs_of(&rh, "ETag: \"a\"\nSet-Cookie: id=2");
    n = cache_policy_merge_304(&conf, &sh.f, &rh.f, true, out, ARRAY_SIZE(out));
    assert_true(has_field(out, n, "Set-Cookie", "id=2"));
    /* A5: an error response to POST purged the stored object
     * (apache/trafficserver#7839, fixed in #7864): only 2xx/3xx invalidate. */
    n = cache_policy_invalidations(CACHE_M_POST, 500, false, "h", 1, "/a", 2, hdrs_of(&rh, ""), buf,
                                   sizeof(buf), &inv);
    assert_int_equal(0, n);
    /* A6: heuristic_min_lifetime (3600 s by default) lifts a just-modified
     * object above "a fraction of the interval since" Last-Modified
     * (RFC 9111 4.2.2); ours stays at 10 %. */
    store_default("Date: {T}\nLast-Modified: {T-60}", 200, &d, &m);
    assert_int_equal(6, m.lifetime);
    UNIT_END(live);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fields_from_http1),
        cmocka_unit_test(test_cc_parse),
        cmocka_unit_test(test_cc_targeted),
        cmocka_unit_test(test_dates),
        cmocka_unit_test(test_age_parse),
        cmocka_unit_test(test_methods),
        cmocka_unit_test(test_store),
        cmocka_unit_test(test_field_storable),
        cmocka_unit_test(test_age_calc),
        cmocka_unit_test(test_serve),
        cmocka_unit_test(test_serve_store_response),
        cmocka_unit_test(test_hit_for_miss),
        cmocka_unit_test(test_stale_on_error),
        cmocka_unit_test(test_validators),
        cmocka_unit_test(test_304_select),
        cmocka_unit_test(test_merge_304),
        cmocka_unit_test(test_head_matches),
        cmocka_unit_test(test_conditional),
        cmocka_unit_test(test_field_in_304),
        cmocka_unit_test(test_etags),
        cmocka_unit_test(test_invalidations),
        cmocka_unit_test(test_peer_nginx),
        cmocka_unit_test(test_peer_varnish),
        cmocka_unit_test(test_peer_ats),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
