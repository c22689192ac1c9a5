/*
 * fuzz_cache_key.c -- primary keys and Vary keys from arbitrary input.
 *
 * Input: 1 control byte (default port), the host up to the first '\n',
 * then the request-target up to the next '\n'; what follows is read as
 * "Name: value" lines, response fields then (after a "--" line) request
 * fields, for the Vary key. Checked: cache_key_check() on every key, a
 * key rebuilt from itself is itself (normalization is idempotent), and
 * the Vary key's shape (sorted names, one line each).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "err.h"
#include "miniobj.h"
#include "proto/cache_key.h"
#include "compat.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_FIELDS 32

static size_t
fuzz_line(const char *p, size_t n)
{
    size_t i = 0;

    while (i < n && p[i] != '\n')
        i++;
    return i;
}

static size_t
fuzz_fields(const char *p, size_t n, struct cache_field *v, size_t *rest)
{
    size_t i = 0, k = 0, e, c;

    *rest = n;
    while (i < n) {
        e = i + fuzz_line(p + i, n - i);
        if (e - i == 2 && p[i] == '-' && p[i + 1] == '-') {
            *rest = e < n ? e + 1 : n;
            return k;
        }
        for (c = i; c < e && p[c] != ':'; c++)
            ;
        if (c < e && k < FUZZ_FIELDS) {
            v[k].name = p + i;
            v[k].name_len = (uint32_t)(c - i);
            v[k].value = p + c + 1;
            v[k].value_len = (uint32_t)(e - c - 1);
            k++;
        }
        i = e + 1;
    }
    return k;
}

static void
fuzz_key(const char *host, size_t hlen, uint16_t port, const char *target, size_t tlen)
{
    char key[CACHE_KEY_MAX], again[CACHE_KEY_MAX];
    size_t h;
    int n, m;

    n = cache_key_build(key, sizeof(key), host, hlen, port, target, tlen);
    assert(n > 0 || n == ERR_PROTO || n == ERR_LIMIT);
    if (n <= 0)
        return;
    cache_key_check(key, (size_t)n);
    for (h = 0; key[h] != '/'; h++)
        ;
    m = cache_key_build(again, sizeof(again), key, h, 0, key + h, (size_t)n - h);
    assert(m == n && memcmp(key, again, (size_t)n) == 0);
    /* a smaller buffer never overflows: it fails or gives the same key */
    m = cache_key_build(again, (size_t)n / 2, host, hlen, port, target, tlen);
    assert(m == ERR_LIMIT || (m == n && memcmp(key, again, (size_t)n) == 0));
}

static void
fuzz_vary(const struct cache_fields *resp, const struct cache_fields *req)
{
    char out[CACHE_VARY_MAX];
    size_t i, start = 0, prev = 0, prev_len = 0, name_len;
    int n;
    bool first = true;

    n = cache_key_vary(out, sizeof(out), resp, req);
    assert(n >= 0 || n == ERR_PROTO || n == ERR_LIMIT);
    if (n <= 0)
        return;
    assert(out[n - 1] == '\n');
    for (i = 0; i < (size_t)n; i++) {
        if (out[i] != '\n')
            continue;
        for (name_len = 0; start + name_len < i && out[start + name_len] != ':'; name_len++)
            assert(out[start + name_len] < 'A' || out[start + name_len] > 'Z');
        assert(name_len > 0);
        if (!first) {
            size_t k = prev_len < name_len ? prev_len : name_len;
            int c = memcmp(out + prev, out + start, k);

            assert(c < 0 || (c == 0 && prev_len < name_len));
        }
        first = false;
        prev = start;
        prev_len = name_len;
        start = i + 1;
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint16_t ports[] = {0, 80, 443, 8080};
    struct cache_field rv[FUZZ_FIELDS], qv[FUZZ_FIELDS];
    struct cache_fields rf = {rv, 0}, qf = {qv, 0};
    const char *p = (const char *)data + 1, *host, *target;
    size_t n, hlen, tlen, rest, rest2;

    if (size < 1)
        return 0;
    n = size - 1;
    host = p;
    hlen = fuzz_line(p, n);
    if (hlen == n)
        return 0;
    target = p + hlen + 1;
    tlen = fuzz_line(target, n - hlen - 1);
    fuzz_key(host, hlen, ports[data[0] & 3], target, tlen);
    fuzz_key("", 0, 80, target, tlen);
    if (hlen + 1 + tlen < n) {
        p = target + tlen + 1;
        n = n - hlen - 1 - tlen - 1;
        rf.n = fuzz_fields(p, n, rv, &rest);
        qf.n = fuzz_fields(p + rest, n - rest, qv, &rest2);
        fuzz_vary(&rf, &qf);
    }
    return 0;
}
