/*
 * fuzz_cache_control.c -- the cache policy on arbitrary header sets:
 * Cache-Control and targeted-field parsing, HTTP-dates, Age, and every
 * decision (store, serve, stale on error, 304, merge, conditionals and
 * ranges, invalidation), with the invariants each promises.
 *
 * Input: 8 control bytes (status, times, body length, configuration),
 * then text: request fields, a line "--", response fields; each field a
 * "Name: value" line. The response fields double as a 304 for the merge.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "err.h"
#include "miniobj.h"
#include "proto/cache_key.h"
#include "proto/cache_policy.h"
#include "compat.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_FIELDS 64
#define FUZZ_NOW 1700000000LL

/* Splits p[0..n) into "Name: value" lines; stops at a "--" line (*rest). */
static size_t
fuzz_fields(const char *p, size_t n, struct cache_field *v, size_t cap, size_t *rest)
{
    size_t i = 0, k = 0, e, c, vs, ve;

    *rest = n;
    while (i < n) {
        for (e = i; e < n && p[e] != '\n'; e++)
            ;
        if (e - i == 2 && p[i] == '-' && p[i + 1] == '-') {
            *rest = e < n ? e + 1 : n;
            return k;
        }
        for (c = i; c < e && p[c] != ':'; c++)
            ;
        if (c < e && k < cap) {
            vs = c + 1;
            while (vs < e && (p[vs] == ' ' || p[vs] == '\t'))
                vs++;
            ve = e;
            while (ve > vs && (p[ve - 1] == ' ' || p[ve - 1] == '\t' || p[ve - 1] == '\r'))
                ve--;
            v[k].name = p + i;
            v[k].name_len = (uint32_t)(c - i);
            v[k].value = p + vs;
            v[k].value_len = (uint32_t)(ve - vs);
            k++;
        }
        i = e + 1;
    }
    return k;
}

static void
fuzz_directives(const struct cache_fields *f)
{
    struct cache_cc cc;
    size_t i;
    int64_t t, again;
    char buf[30];

    for (i = 0; i < f->n; i++) {
        cache_cc_init(&cc);
        cache_cc_parse(&cc, f->v[i].value, f->v[i].value_len);
        cache_cc_check(&cc);
        t = cache_date_parse(f->v[i].value, f->v[i].value_len, FUZZ_NOW);
        if (t != CACHE_TIME_NONE) {
            assert(t <= 253402300799LL);
            if (t >= 0) {
                assert(cache_date_format(buf, t) == 29);
                again = cache_date_parse(buf, 29, FUZZ_NOW);
                assert(again == t);
            }
        }
        t = cache_age_parse(f->v[i].value, f->v[i].value_len);
        assert(t == CACHE_DELTA_ABSENT || (t >= 0 && t <= CACHE_DELTA_MAX));
        assert(
            !cache_etag_strong_eq(f->v[i].value, f->v[i].value_len, f->v[0].value,
                                  f->v[0].value_len) ||
            cache_etag_weak_eq(f->v[i].value, f->v[i].value_len, f->v[0].value, f->v[0].value_len));
    }
    cache_cc_init(&cc);
    if (cache_cc_parse_targeted(&cc, f, "cdn-cache-control") == 0)
        cache_cc_check(&cc);
}

static void
fuzz_serve(const struct cache_policy_conf *conf, const struct cache_req *q,
           const struct cache_meta *m, int64_t now)
{
    struct cache_serve_decision d;
    bool fresh;

    cache_policy_serve(conf, q, m, now, &d);
    assert(cache_why_str(d.why) != NULL);
    if (m == NULL || (m->flags & CACHE_META_HIT_FOR_MISS))
        return;
    fresh = cache_is_fresh(m, now);
    if (d.what == CACHE_SERVE_FRESH)
        assert(fresh);
    if (!fresh && (m->flags & CACHE_META_NO_STALE)) {
        assert(d.what != CACHE_SERVE_STALE && d.what != CACHE_SERVE_STALE_REVALIDATE);
        assert(!d.stale_on_error);
    }
    if (m->flags & CACHE_META_NO_CACHE)
        assert(d.what != CACHE_SERVE_FRESH && d.what != CACHE_SERVE_STALE &&
               d.what != CACHE_SERVE_STALE_REVALIDATE);
    assert(d.staleness >= 0 && d.age >= 0);
}

static void
fuzz_conditional(const struct cache_policy_conf *conf, const struct cache_req *q,
                 const struct cache_fields *stored, const struct cache_meta *m, uint64_t length)
{
    struct cache_cond_result res;

    cache_policy_conditional(conf, q, stored, m, length, &res);
    assert(res.length == length);
    switch (res.what) {
    case CACHE_COND_206:
        assert(res.first <= res.last && res.last < length);
        assert(strncmp(res.content_range, "bytes ", 6) == 0);
        break;
    case CACHE_COND_416:
        assert(strncmp(res.content_range, "bytes */", 8) == 0);
        break;
    default:
        assert(res.content_range[0] == '\0');
        break;
    }
    if (res.what == CACHE_COND_206 || res.what == CACHE_COND_416)
        assert(q->method == CACHE_M_GET && m->status == 200);
}

static void
fuzz_revalidation(const struct cache_policy_conf *conf, const struct cache_fields *stored,
                  const struct cache_fields *r304)
{
    struct cache_field out[2 * FUZZ_FIELDS];
    struct cache_validators v;
    enum cache_304 sel;
    int n;

    cache_policy_validators(stored, &v);
    if (v.etag.p != NULL)
        assert(cache_etag_valid(v.etag.p, v.etag.len));
    sel = cache_policy_304(stored, r304);
    assert(sel == CACHE_304_UPDATE || sel == CACHE_304_SERVE_ONLY || sel == CACHE_304_MISMATCH);
    n = cache_policy_merge_304(conf, stored, r304, false, out, ARRAY_SIZE(out));
    assert(n >= 0 && (size_t)n <= stored->n + r304->n);
    n = cache_policy_merge_304(conf, stored, r304, true, out, ARRAY_SIZE(out));
    assert(n >= 0 && (size_t)n <= stored->n + r304->n);
    (void)cache_policy_head_matches(stored, r304);
}

static void
fuzz_invalidation(const uint8_t *ctl, const struct cache_fields *resp)
{
    char buf[3 * CACHE_KEY_MAX];
    struct cache_invalidation inv;
    uint8_t k;
    int n;

    n = cache_policy_invalidations((enum cache_method)(ctl[0] % 10), (uint16_t)(100 + ctl[1] * 2),
                                   ctl[2] & 1, "h.example", 9, "/a/b/c?y=1&x=2", 14, resp, buf,
                                   sizeof(buf), &inv);
    assert(n >= 0 && n <= 3 && n == inv.n);
    for (k = 0; k < inv.n; k++) {
        assert(inv.key[k].off + inv.key[k].len <= sizeof(buf));
        cache_key_check(buf + inv.key[k].off, inv.key[k].len);
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const methods[] = {"GET", "HEAD", "POST", "PUT", "OPTIONS", "BREW"};
    struct cache_field qv[FUZZ_FIELDS], rv[FUZZ_FIELDS];
    struct cache_fields qf = {qv, 0}, rf = {rv, 0};
    struct cache_policy_conf conf = cache_policy_conf_default;
    struct cache_req q;
    struct cache_resp r;
    struct cache_store_decision d;
    struct cache_meta m;
    const uint8_t *ctl = data;
    const char *text;
    size_t n, rest, rest2;
    uint16_t status;
    int64_t req_time, resp_time, dt;
    const char *method;

    if (size < 8)
        return 0;
    text = (const char *)data + 8;
    n = size - 8;
    qf.n = fuzz_fields(text, n, qv, FUZZ_FIELDS, &rest);
    rf.n = fuzz_fields(text + rest, n - rest, rv, FUZZ_FIELDS, &rest2);

    conf.targeted = (ctl[7] & 1) != 0;
    conf.request_directives = (ctl[7] & 2) != 0;
    conf.apparent_age = (ctl[7] & 4) != 0;
    conf.set_cookie = (enum cache_cookie_policy)((ctl[7] >> 3) % 3);
    conf.preconditions = (ctl[7] & 0x20) ? CACHE_PRECOND_FORWARD : CACHE_PRECOND_EVALUATE;
    conf.default_ttl = (ctl[7] & 0x40) ? 300 : 0;
    conf.grace = (ctl[7] & 0x80) ? 0 : 3600;

    if (qf.n > 0)
        fuzz_directives(&qf);
    if (rf.n > 0)
        fuzz_directives(&rf);

    status = (uint16_t)(100 + (ctl[0] | (ctl[1] << 8)) % 500);
    method = methods[ctl[2] % ARRAY_SIZE(methods)];
    req_time = FUZZ_NOW - ctl[3];
    resp_time = FUZZ_NOW;
    dt = (int64_t)ctl[4] * ctl[5] - 100;

    cache_req_parse(&q, method, strlen(method), &qf, FUZZ_NOW);
    cache_cc_check(&q.cc);
    cache_resp_parse(&r, &conf, status, &rf, FUZZ_NOW);
    cache_cc_check(&r.cc);
    cache_policy_store(&conf, &q, &r, req_time, resp_time, &d, &m);
    assert(cache_why_str(d.why) != NULL);
    if (d.what != CACHE_STORE_NO) {
        cache_meta_check(&m);
        assert(d.what == CACHE_STORE_YES || (m.flags & CACHE_META_HIT_FOR_MISS));
        fuzz_serve(&conf, &q, &m, resp_time + dt);
        fuzz_serve(&conf, &q, &m, resp_time + dt * 1000);
        (void)cache_policy_stale_on_error(&conf, &q, &m, resp_time + dt);
        if (d.what == CACHE_STORE_YES) {
            assert(q.method == CACHE_M_GET);
            fuzz_conditional(&conf, &q, &rf, &m, (uint64_t)ctl[6] * ctl[5]);
            cache_req_parse(&q, "HEAD", 4, &qf, FUZZ_NOW);
            fuzz_conditional(&conf, &q, &rf, &m, (uint64_t)ctl[6] * ctl[5]);
        }
    }
    fuzz_serve(&conf, &q, NULL, resp_time);
    fuzz_revalidation(&conf, &rf, &qf);
    fuzz_invalidation(ctl, &rf);
    return 0;
}
