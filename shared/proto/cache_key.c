/*
 * cache_key.c -- primary and secondary cache keys (SPEC: RFC 9111 2, 4.1;
 * RFC 3986 5.2.4, 6.2.2).
 *
 * The primary key is written left to right into the caller's buffer in a
 * single pass over the target: the host, then each path segment with its
 * percent-encodings normalized, dot-segments resolved as soon as a segment
 * ends (so "%2e%2E" counts as ".." and cannot sneak past), then the query
 * parameters normalized into a stack scratch and emitted sorted. The
 * secondary key lists the Vary-nominated request fields in name order.
 *
 * Pure: no I/O, no allocation; the scratch is CACHE_KEY_MAX bytes of
 * stack. Owns nothing. Not here: policy (cache_policy.c).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "../err.h"
#include "cache_key.h"
#include "hex.h"
#include "../compat.h"

/* An output buffer: out[0..len) written, never past cap. */
struct cache_key_buf {
    char *p; /* borrowed: the caller's buffer */
    size_t len;
    size_t cap;
};

/* A normalized query parameter in the scratch. */
struct cache_key_param {
    uint16_t off;
    uint16_t len;
    uint16_t name_len;
};

static inline bool
cache_key_put(struct cache_key_buf *b, char c)
{
    if (b->len >= b->cap)
        return false;
    b->p[b->len++] = c;
    return true;
}

/* SPEC: RFC 3986 2.3 -- ALPHA / DIGIT / "-" / "." / "_" / "~" */
static inline bool
cache_key_unreserved(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

static inline unsigned char
cache_key_lower(unsigned char c)
{
    return (unsigned char)(c + ((unsigned)(c - 'A') < 26u ? 32 : 0));
}

/*
 * Copies s[*i] to b, normalizing a percent-encoding that starts there
 * (SPEC: RFC 3986 6.2.2.1 uppercase hex, 6.2.2.2 decode unreserved).
 * Advances *i past what it consumed. ERR_PROTO: '%' not followed by two
 * hex digits, or a '#'. ERR_LIMIT: b is full.
 */
static int
cache_key_copy_char(struct cache_key_buf *b, const char *s, size_t n, size_t *i)
{
    static const char hexu[] = "0123456789ABCDEF";
    unsigned char c = (unsigned char)s[*i];
    int hi, lo;

    if (c == '#')
        return ERR_PROTO;
    if (c != '%') {
        (*i)++;
        return cache_key_put(b, (char)c) ? 0 : ERR_LIMIT;
    }
    if (*i + 2 >= n)
        return ERR_PROTO;
    hi = hex_digit((unsigned char)s[*i + 1]);
    lo = hex_digit((unsigned char)s[*i + 2]);
    if (hi < 0 || lo < 0)
        return ERR_PROTO;
    *i += 3;
    c = (unsigned char)(hi * 16 + lo);
    if (cache_key_unreserved(c))
        return cache_key_put(b, (char)c) ? 0 : ERR_LIMIT;
    if (!cache_key_put(b, '%') || !cache_key_put(b, hexu[hi]) || !cache_key_put(b, hexu[lo]))
        return ERR_LIMIT;
    return 0;
}

/*
 * SPEC: RFC 3986 3.2.2, 6.2.3 -- host [ ":" port ]: an IP-literal in
 * brackets or a name without ':', the port all digits; the host is
 * lowercased and a default (or empty) port dropped.
 */
static int
cache_key_host(struct cache_key_buf *b, const char *h, size_t n, uint16_t default_port)
{
    size_t i, end, colon = n;
    uint32_t port = 0;

    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)h[i];

        if (c == '@' || c == '/' || c == '?' || c == '#' || c <= ' ' || c >= 0x7f)
            return ERR_PROTO; /* SPEC: RFC 9110 4.2.4 -- userinfo is an error */
    }
    i = 0;
    if (n > 0 && h[0] == '[') {
        while (i < n && h[i] != ']')
            i++;
        if (i == n)
            return ERR_PROTO;
        i++;
        if (i < n && h[i] != ':')
            return ERR_PROTO; /* only a port may follow an IP-literal */
    }
    for (; i < n; i++) {
        if (h[i] == '[' || h[i] == ']')
            return ERR_PROTO;
        if (h[i] == ':') {
            if (colon < n)
                return ERR_PROTO; /* a name holds no ':' */
            colon = i;
        } else if (colon < n) {
            if (h[i] < '0' || h[i] > '9')
                return ERR_PROTO;
            if (port <= 65535)
                port = port * 10 + (uint32_t)(h[i] - '0');
        }
    }
    end = n;
    if (colon < n && (colon + 1 == n || (default_port != 0 && port == default_port)))
        end = colon;
    for (i = 0; i < end; i++)
        if (!cache_key_put(b, (char)cache_key_lower((unsigned char)h[i])))
            return ERR_LIMIT;
    return 0;
}

/*
 * The path s[0..n) (starts with '/', ends before '?'), normalized with its
 * dot-segments removed as each segment ends (SPEC: RFC 3986 5.2.4).
 * ERR_PROTO when ".." would remove the root.
 */
static int
cache_key_path(struct cache_key_buf *b, const char *s, size_t n)
{
    size_t i = 0, root = b->len, seg, k;
    int rc;

    AN(n > 0 && s[0] == '/');
    while (i < n) {
        /* s[i] is '/' */
        if (!cache_key_put(b, '/'))
            return ERR_LIMIT;
        i++;
        seg = b->len;
        while (i < n && s[i] != '/') {
            rc = cache_key_copy_char(b, s, n, &i);
            if (rc != 0)
                return rc;
        }
        if (b->len - seg == 1 && b->p[seg] == '.') {
            /* "." : drop it; keep the slash only when it ends the path */
            b->len = i < n ? seg - 1 : seg;
        } else if (b->len - seg == 2 && b->p[seg] == '.' && b->p[seg + 1] == '.') {
            /* "..": drop it and the segment before it */
            if (seg - 1 == root)
                return ERR_PROTO; /* would climb above the root */
            k = seg - 1;
            while (k > root && b->p[k - 1] != '/')
                k--;
            /* b->p[k - 1] is the slash that opened the previous segment */
            b->len = i < n ? k - 1 : k;
        }
    }
    if (b->len == root && !cache_key_put(b, '/'))
        return ERR_LIMIT;
    return 0;
}

static int
cache_key_param_cmp(const char *base, const struct cache_key_param *a,
                    const struct cache_key_param *c)
{
    size_t m = a->name_len < c->name_len ? a->name_len : c->name_len;
    int r = memcmp(base + a->off, base + c->off, m);

    if (r != 0)
        return r;
    return (int)a->name_len - (int)c->name_len;
}

/* The query s[0..n) (after '?'), parameters normalized, filtered, sorted. */
static int
cache_key_query(struct cache_key_buf *b, const char *s, size_t n)
{
    char scratch[CACHE_KEY_MAX];
    struct cache_key_buf t = {scratch, 0, sizeof(scratch)};
    struct cache_key_param prm[CACHE_KEY_PARAMS_MAX], tmp;
    size_t np = 0, i = 0, start, k, j;
    int rc;

    while (i <= n) {
        start = t.len;
        while (i < n && s[i] != '&') {
            rc = cache_key_copy_char(&t, s, n, &i);
            if (rc != 0)
                return rc;
        }
        i++; /* past '&' (or past the end) */
        if (t.len == start)
            continue; /* empty parameter */
        tmp.off = (uint16_t)start;
        tmp.len = (uint16_t)(t.len - start);
        for (k = 0; k < tmp.len && scratch[start + k] != '='; k++)
            ;
        tmp.name_len = (uint16_t)k;
        if (tmp.name_len == 4 && memcmp(scratch + start, "CMCD", 4) == 0) {
            t.len = start; /* CTA-5004 4.2 query mode: per-request data */
            continue;
        }
        if (np == CACHE_KEY_PARAMS_MAX)
            return ERR_LIMIT;
        /* stable insertion: after every parameter that sorts before or equal */
        for (j = np; j > 0 && cache_key_param_cmp(scratch, &prm[j - 1], &tmp) > 0; j--)
            prm[j] = prm[j - 1];
        prm[j] = tmp;
        np++;
    }
    for (k = 0; k < np; k++) {
        if (!cache_key_put(b, k == 0 ? '?' : '&'))
            return ERR_LIMIT;
        if (b->cap - b->len < prm[k].len)
            return ERR_LIMIT;
        memcpy(b->p + b->len, scratch + prm[k].off, prm[k].len);
        b->len += prm[k].len;
    }
    return 0;
}

/* "http://" or "https://", case-insensitively: the length, or 0. */
static size_t
cache_key_scheme(const char *t, size_t n, uint16_t *port)
{
    static const char http[] = "http://";
    size_t i;

    for (i = 0; i < 4 && i < n; i++)
        if (cache_key_lower((unsigned char)t[i]) != (unsigned char)http[i])
            return 0;
    if (i < 4)
        return 0;
    if (n >= 7 && t[4] == ':' && t[5] == '/' && t[6] == '/') {
        *port = 80;
        return 7;
    }
    if (n >= 8 && cache_key_lower((unsigned char)t[4]) == 's' && t[5] == ':' && t[6] == '/' &&
        t[7] == '/') {
        *port = 443;
        return 8;
    }
    return 0;
}

int
cache_key_build(char *out, size_t cap, const char *host, size_t host_len, uint16_t default_port,
                const char *target, size_t target_len)
{
    struct cache_key_buf b = {out, 0, cap < CACHE_KEY_MAX ? cap : CACHE_KEY_MAX};
    const char *path = target;
    size_t plen = target_len, q, slen, a;
    int rc;

    if (target_len == 0)
        return ERR_PROTO;
    if (target[0] != '/') {
        /* SPEC: RFC 9112 3.2.2 -- absolute-form: its authority wins over Host */
        slen = cache_key_scheme(target, target_len, &default_port);
        if (slen == 0)
            return ERR_PROTO;
        for (a = slen; a < target_len && target[a] != '/' && target[a] != '?'; a++)
            ;
        if (a == slen)
            return ERR_PROTO; /* empty authority */
        host = target + slen;
        host_len = a - slen;
        path = target + a;
        plen = target_len - a;
    }
    rc = cache_key_host(&b, host, host_len, default_port);
    if (rc != 0)
        return rc;
    for (q = 0; q < plen && path[q] != '?'; q++)
        ;
    if (q == 0) {
        if (!cache_key_put(&b, '/'))
            return ERR_LIMIT;
    } else {
        rc = cache_key_path(&b, path, q);
        if (rc != 0)
            return rc;
    }
    if (q < plen) {
        rc = cache_key_query(&b, path + q + 1, plen - q - 1);
        if (rc != 0)
            return rc;
    }
    return (int)b.len;
}

/* ---- secondary key ---- */

/* Fields whose syntax is a list of case-insensitive tokens with parameters. */
static bool
cache_key_vary_lowercase(const char *name, size_t len)
{
    return cache_name_eq(name, len, "accept-encoding") ||
           cache_name_eq(name, len, "accept-charset") ||
           cache_name_eq(name, len, "accept-language");
}

static bool
cache_key_vary_is_list(const char *name, size_t len)
{
    return cache_key_vary_lowercase(name, len) || cache_name_eq(name, len, "accept");
}

static int
cache_key_name_cmp(struct cache_span a, struct cache_span c)
{
    size_t i, m = a.len < c.len ? a.len : c.len;
    int x, y;

    for (i = 0; i < m; i++) {
        x = cache_key_lower((unsigned char)a.p[i]);
        y = cache_key_lower((unsigned char)c.p[i]);
        if (x != y)
            return x - y;
    }
    return (int)a.len - (int)c.len;
}

/*
 * One list element, its whitespace normalized outside quoted strings: runs
 * of OWS become one SP, OWS next to ';' disappears (SPEC: RFC 9110 5.6.6
 * parameters allow OWS around ';').
 */
static int
cache_key_vary_elem(struct cache_key_buf *b, struct cache_span e, bool lower)
{
    size_t i;
    bool quoted = false, space = false;
    unsigned char c;

    for (i = 0; i < e.len; i++) {
        c = (unsigned char)e.p[i];
        if (quoted) {
            if (!cache_key_put(b, (char)c))
                return ERR_LIMIT;
            if (c == '\\' && i + 1 < e.len) {
                if (!cache_key_put(b, e.p[++i]))
                    return ERR_LIMIT;
            } else if (c == '"') {
                quoted = false;
            }
            continue;
        }
        if (c == ' ' || c == '\t') {
            space = true;
            continue;
        }
        if (space && c != ';' && b->len > 0 && b->p[b->len - 1] != ';' && !cache_key_put(b, ' '))
            return ERR_LIMIT;
        space = false;
        if (c == '"')
            quoted = true;
        if (!cache_key_put(b, (char)(lower ? cache_key_lower(c) : c)))
            return ERR_LIMIT;
    }
    return 0;
}

static int
cache_key_vary_value(struct cache_key_buf *b, const struct cache_fields *req, const char *name,
                     uint32_t name_len)
{
    const struct cache_field *line = NULL;
    uint32_t pos = 0, k;
    struct cache_span e;
    bool first = true, list, lower;
    int rc;

    list = cache_key_vary_is_list(name, name_len);
    lower = cache_key_vary_lowercase(name, name_len);
    if (list) {
        /* SPEC: RFC 9111 4.1 -- combined lines, whitespace the syntax allows */
        while (cache_fields_list_next_n(req, name, name_len, &line, &pos, &e)) {
            if (!first && !cache_key_put(b, ','))
                return ERR_LIMIT;
            first = false;
            rc = cache_key_vary_elem(b, e, lower);
            if (rc != 0)
                return rc;
        }
        return 0;
    }
    /* any other field: its lines as received, joined (SPEC: RFC 9110 5.3) */
    for (k = 0; k < req->n; k++) {
        const struct cache_field *h = &req->v[k];

        if (!cache_name_eq_n(h->name, h->name_len, name, name_len))
            continue;
        if (!first && !cache_key_put(b, ','))
            return ERR_LIMIT;
        first = false;
        if (b->cap - b->len < h->value_len)
            return ERR_LIMIT;
        memcpy(b->p + b->len, h->value, h->value_len);
        b->len += h->value_len;
    }
    return 0;
}

int
cache_key_vary(char *out, size_t cap, const struct cache_fields *resp,
               const struct cache_fields *req)
{
    struct cache_key_buf b = {out, 0, cap < CACHE_VARY_MAX ? cap : CACHE_VARY_MAX};
    struct cache_span names[CACHE_VARY_FIELDS_MAX], e;
    const struct cache_field *line = NULL;
    uint32_t pos = 0, i;
    size_t n = 0, j, k;
    int rc, c;

    while (cache_fields_list_next(resp, "vary", &line, &pos, &e)) {
        if (e.len == 1 && e.p[0] == '*')
            return ERR_PROTO; /* SPEC: RFC 9111 4.1 -- "*" always fails to match */
        if (e.len >= 64)
            return ERR_PROTO;
        for (i = 0; i < e.len; i++)
            if (!cache_is_tchar((unsigned char)e.p[i]))
                return ERR_PROTO;
        c = 1;
        for (j = 0; j < n; j++) {
            c = cache_key_name_cmp(names[j], e);
            if (c >= 0)
                break;
        }
        if (c == 0)
            continue; /* named twice */
        if (n == CACHE_VARY_FIELDS_MAX)
            return ERR_LIMIT;
        for (k = n; k > j; k--)
            names[k] = names[k - 1];
        names[j] = e;
        n++;
    }
    for (j = 0; j < n; j++) {
        for (i = 0; i < names[j].len; i++)
            if (!cache_key_put(&b, (char)cache_key_lower((unsigned char)names[j].p[i])))
                return ERR_LIMIT;
        if (cache_fields_find_n(req, names[j].p, names[j].len, NULL) != NULL) {
            if (!cache_key_put(&b, ':'))
                return ERR_LIMIT;
            rc = cache_key_vary_value(&b, req, names[j].p, names[j].len);
            if (rc != 0)
                return rc;
        }
        if (!cache_key_put(&b, '\n'))
            return ERR_LIMIT;
    }
    return (int)b.len;
}

/* ---- invariants ---- */

void
cache_key_check(const char *key, size_t len)
{
    size_t i = 0, path, q, seg, prev_off = 0, prev_nlen = 0, off, nlen;
    bool first = true;
    int hi, lo;

    assert(len <= CACHE_KEY_MAX);
    while (i < len && key[i] != '/')
        i++;
    assert(i < len); /* a path follows the host */
    path = i;
    for (q = path; q < len && key[q] != '?'; q++)
        ;
    /* no dot-segment survives */
    for (seg = path; seg < q;) {
        size_t end = seg + 1;

        while (end < q && key[end] != '/')
            end++;
        assert(!(end - seg == 2 && key[seg + 1] == '.'));
        assert(!(end - seg == 3 && key[seg + 1] == '.' && key[seg + 2] == '.'));
        seg = end;
    }
    /* percent-encodings: well-formed, uppercase, never an unreserved byte */
    for (i = path; i < len; i++) {
        assert(key[i] != '#');
        if (key[i] != '%')
            continue;
        assert(i + 2 < len);
        hi = hex_digit((unsigned char)key[i + 1]);
        lo = hex_digit((unsigned char)key[i + 2]);
        assert(hi >= 0 && lo >= 0);
        assert(!(key[i + 1] >= 'a' && key[i + 1] <= 'f'));
        assert(!(key[i + 2] >= 'a' && key[i + 2] <= 'f'));
        assert(!cache_key_unreserved((unsigned char)(hi * 16 + lo)));
    }
    /* parameters: non-empty, no CMCD, sorted by name */
    if (q < len) {
        i = q + 1;
        assert(i < len);
        while (i <= len) {
            off = i;
            while (i < len && key[i] != '&')
                i++;
            assert(i > off);
            for (nlen = 0; off + nlen < i && key[off + nlen] != '='; nlen++)
                ;
            assert(!(nlen == 4 && memcmp(key + off, "CMCD", 4) == 0));
            if (!first) {
                size_t m = prev_nlen < nlen ? prev_nlen : nlen;
                int r = memcmp(key + prev_off, key + off, m);

                assert(r < 0 || (r == 0 && prev_nlen <= nlen));
            }
            first = false;
            prev_off = off;
            prev_nlen = nlen;
            i++;
        }
    }
}
