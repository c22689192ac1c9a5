/*
 * conf.c -- the configuration syntax, its value types, dump and reload
 * rules (the contract is in conf.h; the user's manual is docs/config.md).
 *
 * Pure except conf_load_file(): no logging, no event loop, so the fuzzer
 * drives conf_parse() directly. Parsing is all or nothing: it works on a
 * copy of the snapshot and swaps it in only when every line was good, so a
 * caller never sees half a file. Values are canonical once stored (sizes
 * and durations as numbers, address lists without blanks), which is what
 * makes dump -> parse -> dump a fixed point.
 *
 * Not here: the command line (cli.c), the key tables (edge/edge_conf.c,
 * origin/origin_conf.c, shared/conf_common.c), applying a snapshot to the
 * running node (each binary's main).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf.h"
#include "err.h"
#include "mem.h"
#include "compat.h"

#define CONF_SHOW_MAX 60 /* bytes of a bad value quoted back in a message */
#define CONF_DIST_MAX 64 /* conf_distance() compares at most this many bytes */
#define CONF_DNS_MAX 253 /* SPEC: RFC 1035 2.3.4 -- a name's text, without the final dot */

#define CONF_MS_S ((uint64_t)1000)
#define CONF_MS_M (60 * CONF_MS_S)
#define CONF_MS_H (60 * CONF_MS_M)

/* A value while it is being parsed, before it is stored in the struct. */
union conf_val {
    bool b;
    int64_t i;
    uint64_t u;
    int e;
    char *s; /* owned until stored */
};

/* ---- small helpers ---- */

struct conf_buf {
    char *p; /* owned; NUL-terminated */
    size_t len, cap;
};

static void
conf_buf_add(struct conf_buf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap == 0 ? 256 : b->cap;

        while (b->len + n + 1 > cap)
            cap *= 2;
        b->p = xrealloc(b->p, cap);
        b->cap = cap;
    }
    AN(b->p);
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void
conf_buf_str(struct conf_buf *b, const char *s)
{
    conf_buf_add(b, s, strlen(s));
}

static void conf_errf(struct conf_err *err, const char *fmt, ...) PRINTFLIKE(2, 3);

static void
conf_errf(struct conf_err *err, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    (void)vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
}

/*
 * 'text' for a message: quoted, bytes outside printable ASCII as \xHH,
 * cut at CONF_SHOW_MAX with "...". dst holds at least CONF_SHOW_MAX*4+8.
 */
#define CONF_SHOW_SZ (CONF_SHOW_MAX * 4 + 8)
static const char *
conf_show(char *dst, const char *s, size_t n)
{
    size_t i, o = 0;

    dst[o++] = '\'';
    for (i = 0; i < n && i < CONF_SHOW_MAX; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c < 0x20 || c >= 0x7f) {
            (void)snprintf(dst + o, 5, "\\x%02x", c);
            o += 4;
        } else {
            dst[o++] = (char)c;
        }
    }
    if (n > CONF_SHOW_MAX) {
        memcpy(dst + o, "...", 3);
        o += 3;
    }
    dst[o++] = '\'';
    dst[o] = '\0';
    return dst;
}

static void *
conf_field(void *conf, const struct conf_key *k)
{
    return (char *)conf + k->offset;
}

static const void *
conf_cfield(const void *conf, const struct conf_key *k)
{
    return (const char *)conf + k->offset;
}

static bool
conf_type_is_string(enum conf_type type)
{
    return type == CONF_STRING || type == CONF_ADDR || type == CONF_ADDR_LIST;
}

static bool
conf_is_blank(char c)
{
    return c == ' ' || c == '\t';
}

/* ---- numbers ---- */

/* Leading decimal digits of s into *out; returns the count, or -1 on overflow. */
static int
conf_digits(const char *s, uint64_t *out)
{
    uint64_t v = 0;
    int n = 0;

    while (s[n] >= '0' && s[n] <= '9') {
        unsigned d = (unsigned)(s[n] - '0');

        if (v > (UINT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
        n++;
    }
    *out = v;
    return n;
}

static int
conf_scale(uint64_t v, uint64_t unit, uint64_t *out)
{
    if (v > (uint64_t)INT64_MAX / unit)
        return ERR_INVAL;
    *out = v * unit;
    return 0;
}

int
conf_parse_size(const char *s, uint64_t *out)
{
    uint64_t v, unit;
    int n;

    n = conf_digits(s, &v);
    if (n <= 0)
        return ERR_INVAL;
    switch (s[n]) {
    case '\0':
        unit = 1;
        break;
    case 'K':
    case 'k':
        unit = 1ULL << 10;
        break;
    case 'M':
    case 'm':
        unit = 1ULL << 20;
        break;
    case 'G':
    case 'g':
        unit = 1ULL << 30;
        break;
    case 'T':
    case 't':
        unit = 1ULL << 40;
        break;
    default:
        return ERR_INVAL;
    }
    if (unit != 1 && s[n + 1] != '\0')
        return ERR_INVAL;
    return conf_scale(v, unit, out);
}

int
conf_parse_duration(const char *s, uint64_t *out)
{
    uint64_t v, unit;
    int n;

    n = conf_digits(s, &v);
    if (n <= 0)
        return ERR_INVAL;
    s += n;
    if (strcmp(s, "ms") == 0)
        unit = 1;
    else if (strcmp(s, "s") == 0)
        unit = CONF_MS_S;
    else if (strcmp(s, "m") == 0)
        unit = CONF_MS_M;
    else if (strcmp(s, "h") == 0)
        unit = CONF_MS_H;
    else
        return ERR_INVAL;
    return conf_scale(v, unit, out);
}

static int
conf_parse_int(const char *s, int64_t *out)
{
    bool neg = s[0] == '-';
    uint64_t v;
    int n;

    n = conf_digits(s + neg, &v);
    if (n <= 0 || s[neg + n] != '\0')
        return ERR_INVAL;
    if (neg) {
        if (v > (uint64_t)INT64_MAX + 1)
            return ERR_INVAL;
        *out = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
    } else {
        if (v > (uint64_t)INT64_MAX)
            return ERR_INVAL;
        *out = (int64_t)v;
    }
    return 0;
}

static void
conf_fmt_size(char *dst, size_t dstsz, uint64_t v)
{
    static const char units[] = "TGMK";
    int i;

    for (i = 0; v != 0 && i < 4; i++) {
        uint64_t unit = 1ULL << (10 * (4 - i));

        if (v % unit == 0) {
            (void)snprintf(dst, dstsz, "%" PRIu64 "%c", v / unit, units[i]);
            return;
        }
    }
    (void)snprintf(dst, dstsz, "%" PRIu64, v);
}

static void
conf_fmt_duration(char *dst, size_t dstsz, uint64_t ms)
{
    if (ms == 0)
        (void)snprintf(dst, dstsz, "0s");
    else if (ms % CONF_MS_H == 0)
        (void)snprintf(dst, dstsz, "%" PRIu64 "h", ms / CONF_MS_H);
    else if (ms % CONF_MS_M == 0)
        (void)snprintf(dst, dstsz, "%" PRIu64 "m", ms / CONF_MS_M);
    else if (ms % CONF_MS_S == 0)
        (void)snprintf(dst, dstsz, "%" PRIu64 "s", ms / CONF_MS_S);
    else
        (void)snprintf(dst, dstsz, "%" PRIu64 "ms", ms);
}

/* A bound of k (min or max) written in k's unit. */
static void
conf_fmt_bound(char *dst, size_t dstsz, const struct conf_key *k, int64_t b)
{
    if (k->type == CONF_SIZE)
        conf_fmt_size(dst, dstsz, (uint64_t)b);
    else if (k->type == CONF_DURATION)
        conf_fmt_duration(dst, dstsz, (uint64_t)b);
    else
        (void)snprintf(dst, dstsz, "%" PRId64, b);
}

/* "1K..1M", "at least 16M", or "" when unbounded. */
static void
conf_fmt_range(char *dst, size_t dstsz, const struct conf_key *k)
{
    char lo[32], hi[32];

    dst[0] = '\0';
    if (k->min == 0 && k->max == 0)
        return;
    conf_fmt_bound(lo, sizeof(lo), k, k->min);
    if (k->max == 0) {
        (void)snprintf(dst, dstsz, "at least %s", lo);
        return;
    }
    conf_fmt_bound(hi, sizeof(hi), k, k->max);
    (void)snprintf(dst, dstsz, "%s..%s", lo, hi);
}

static bool
conf_in_range(const struct conf_key *k, const union conf_val *v)
{
    if (k->min == 0 && k->max == 0)
        return true;
    if (k->type == CONF_INT)
        return v->i >= k->min && (k->max == 0 || v->i <= k->max);
    return v->u >= (uint64_t)k->min && (k->max == 0 || v->u <= (uint64_t)k->max);
}

/* ---- addresses ---- */

static const char *
conf_host_check(const char *h, size_t n)
{
    char tmp[16];
    struct in_addr a4;
    size_t i, label = 0;
    bool numeric = true;

    if (n == 0)
        return "missing host (use 0.0.0.0:PORT or [::]:PORT for every interface)";
    for (i = 0; i < n; i++)
        if (!(h[i] == '.' || (h[i] >= '0' && h[i] <= '9')))
            numeric = false;
    if (numeric) {
        if (n >= sizeof(tmp))
            return "bad IPv4 address";
        memcpy(tmp, h, n);
        tmp[n] = '\0';
        return inet_pton(AF_INET, tmp, &a4) == 1 ? NULL : "bad IPv4 address";
    }
    if (h[n - 1] == '.') /* a fully qualified name: "example.com." */
        n--;
    if (n == 0 || n > CONF_DNS_MAX)
        return "bad host name";
    for (i = 0; i <= n; i++) {
        char c = '.'; /* past the end: close the last label */

        if (i < n)
            c = h[i];

        if (c == '.') {
            if (label == 0 || label > 63 || h[i - 1] == '-' || h[i - label] == '-')
                return "bad host name";
            label = 0;
        } else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                   c == '-' || c == '_') {
            label++;
        } else {
            return "bad host name";
        }
    }
    return NULL;
}

/*
 * Checks one address s[0..n). On success returns NULL and, when host is
 * not NULL, copies the host (brackets removed) and the port out; *toolong
 * is set when the host did not fit in hostsz. Else returns why it is bad.
 */
static const char *
conf_addr_check(const char *s, size_t n, char *host, size_t hostsz, uint16_t *port, bool *toolong)
{
    char tmp[64];
    struct in6_addr a6;
    const char *h, *p, *why;
    size_t hn, pn, i;
    unsigned v = 0;

    if (n > 0 && s[0] == '[') {
        const char *close = memchr(s, ']', n);

        if (close == NULL)
            return "missing ']' after the IPv6 address";
        h = s + 1;
        hn = (size_t)(close - h);
        if (hn == 0 || hn >= sizeof(tmp))
            return "bad IPv6 address";
        memcpy(tmp, h, hn);
        tmp[hn] = '\0';
        if (inet_pton(AF_INET6, tmp, &a6) != 1)
            return "bad IPv6 address";
        p = close + 1;
        if (p == s + n || *p != ':')
            return "missing port (host:port or [v6]:port)";
        p++;
    } else {
        const char *colon = NULL;

        for (i = 0; i < n; i++)
            if (s[i] == ':')
                colon = s + i;
        if (colon == NULL)
            return "missing port (host:port or [v6]:port)";
        h = s;
        hn = (size_t)(colon - s);
        if (memchr(h, ':', hn) != NULL)
            return "an IPv6 address needs brackets: [v6]:port";
        why = conf_host_check(h, hn);
        if (why != NULL)
            return why;
        p = colon + 1;
    }
    pn = (size_t)(s + n - p);
    if (pn == 0)
        return "missing port (host:port or [v6]:port)";
    for (i = 0; i < pn; i++) {
        if (p[i] < '0' || p[i] > '9' || i >= 5)
            return "the port must be a number in 1..65535";
        v = v * 10 + (unsigned)(p[i] - '0');
    }
    if (p[0] == '0' || v > 65535)
        return "the port must be a number in 1..65535";
    if (host != NULL) {
        if (hn >= hostsz) {
            *toolong = true;
        } else {
            memcpy(host, h, hn);
            host[hn] = '\0';
        }
        *port = (uint16_t)v;
    }
    return NULL;
}

int
conf_split_addr(const char *s, char *host, size_t hostsz, uint16_t *port)
{
    bool toolong = false;

    AN(host);
    AN(port);
    if (conf_addr_check(s, strlen(s), host, hostsz, port, &toolong) != NULL)
        return ERR_INVAL;
    return toolong ? ERR_LIMIT : 0;
}

/*
 * An address list, canonicalized: items split on ',', blanks around them
 * dropped, joined with ','. Returns NULL and the canonical text in *out
 * (owned by the caller), or why it is bad (detail may point into why).
 */
static const char *
conf_addr_list(const char *s, char **out, char *detail, size_t detailsz)
{
    struct conf_buf b = {0};
    const char *items[CONF_ADDR_LIST_MAX];
    size_t lens[CONF_ADDR_LIST_MAX];
    size_t count = 0, i;
    char show[CONF_SHOW_SZ];

    for (;;) {
        const char *end = strchr(s, ',');
        size_t n = end != NULL ? (size_t)(end - s) : strlen(s);
        const char *why;

        while (n > 0 && conf_is_blank(*s)) {
            s++;
            n--;
        }
        while (n > 0 && conf_is_blank(s[n - 1]))
            n--;
        if (n == 0) {
            xfree(b.p);
            return count == 0 && end == NULL ? "the list is empty" : "an item of the list is empty";
        }
        if (count == CONF_ADDR_LIST_MAX) {
            xfree(b.p);
            (void)snprintf(detail, detailsz, "more than %d addresses", CONF_ADDR_LIST_MAX);
            return detail;
        }
        why = conf_addr_check(s, n, NULL, 0, NULL, NULL);
        if (why != NULL) {
            xfree(b.p);
            (void)snprintf(detail, detailsz, "%s: %s", conf_show(show, s, n), why);
            return detail;
        }
        for (i = 0; i < count; i++) {
            if (lens[i] == n && memcmp(items[i], s, n) == 0) {
                xfree(b.p);
                (void)snprintf(detail, detailsz, "%s is listed twice", conf_show(show, s, n));
                return detail;
            }
        }
        items[count] = s;
        lens[count] = n;
        count++;
        if (b.len > 0)
            conf_buf_add(&b, ",", 1);
        conf_buf_add(&b, s, n);
        if (end == NULL)
            break;
        s = end + 1;
    }
    *out = b.p;
    return NULL;
}

/* ---- quoting ---- */

static bool
conf_needs_quotes(const char *s)
{
    const char *p;

    if (*s == '\0')
        return true;
    for (p = s; *p != '\0'; p++) {
        char c = *p;

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              strchr("._-:/,[]@+=%~", c) != NULL))
            return true;
    }
    return false;
}

static void
conf_buf_value(struct conf_buf *b, const char *s)
{
    const char *p;

    if (!conf_needs_quotes(s)) {
        conf_buf_str(b, s);
        return;
    }
    conf_buf_add(b, "\"", 1);
    for (p = s; *p != '\0'; p++) {
        if (*p == '"' || *p == '\\')
            conf_buf_add(b, "\\", 1);
        conf_buf_add(b, p, 1);
    }
    conf_buf_add(b, "\"", 1);
}

/* Bytes conf_buf_value() writes for s. */
static size_t
conf_quoted_len(const char *s)
{
    size_t n = 0;
    const char *p;

    if (!conf_needs_quotes(s))
        return strlen(s);
    for (p = s; *p != '\0'; p++)
        n += (*p == '"' || *p == '\\') ? 2 : 1;
    return n + 2;
}

/* ---- one value ---- */

/*
 * Parses v as the value of k into *out (a string is allocated and owned by
 * the caller). On error returns ERR_CONF and the message, without prefix,
 * in why.
 */
static int
conf_value_parse(const struct conf_key *k, const char *v, union conf_val *out, struct conf_err *why)
{
    char show[CONF_SHOW_SZ], range[80], detail[CONF_SHOW_SZ + 96];
    size_t vlen = strlen(v), i;
    const char *bad;

    conf_show(show, v, vlen);
    switch (k->type) {
    case CONF_BOOL:
        if (strcmp(v, "on") == 0 || strcmp(v, "yes") == 0 || strcmp(v, "true") == 0) {
            out->b = true;
            return 0;
        }
        if (strcmp(v, "off") == 0 || strcmp(v, "no") == 0 || strcmp(v, "false") == 0) {
            out->b = false;
            return 0;
        }
        conf_errf(why, "%s is not a boolean (on, off, yes, no, true, false)", show);
        return ERR_CONF;
    case CONF_INT:
        if (conf_parse_int(v, &out->i) != 0) {
            conf_errf(why, "%s is not an integer", show);
            return ERR_CONF;
        }
        break;
    case CONF_SIZE:
        if (conf_parse_size(v, &out->u) != 0) {
            conf_errf(why,
                      "%s is not a size (bytes, or a whole number with K, M, G or T: 512K, 64G)",
                      show);
            return ERR_CONF;
        }
        break;
    case CONF_DURATION:
        if (conf_parse_duration(v, &out->u) != 0) {
            conf_errf(why, "%s is not a duration (a whole number with ms, s, m or h: 500ms, 10s)",
                      show);
            return ERR_CONF;
        }
        break;
    case CONF_ENUM: {
        struct conf_err list = {{0}};
        size_t o = 0;

        for (i = 0; k->values[i] != NULL; i++) {
            if (strcmp(v, k->values[i]) == 0) {
                out->e = (int)i;
                return 0;
            }
            o += (size_t)snprintf(list.msg + o, sizeof(list.msg) - o, "%s%s", i ? ", " : "",
                                  k->values[i]);
            if (o >= sizeof(list.msg))
                o = sizeof(list.msg) - 1;
        }
        conf_errf(why, "%s is not one of: %s", show, list.msg);
        return ERR_CONF;
    }
    case CONF_STRING:
    case CONF_ADDR:
    case CONF_ADDR_LIST:
        for (i = 0; i < vlen; i++) {
            unsigned char c = (unsigned char)v[i];

            if ((c < 0x20 && c != '\t') || c == 0x7f) {
                conf_errf(why, "%s contains a control character", show);
                return ERR_CONF;
            }
        }
        /* The dumped line must parse again, so it must fit in a line. */
        if (strlen(k->name) + 1 + conf_quoted_len(v) > CONF_LINE_MAX) {
            conf_errf(why, "the value is too long (the line would be over %d bytes)",
                      CONF_LINE_MAX);
            return ERR_CONF;
        }
        if (k->type == CONF_ADDR) {
            bad = conf_addr_check(v, vlen, NULL, 0, NULL, NULL);
            if (bad != NULL) {
                conf_errf(why, "%s is not an address: %s", show, bad);
                return ERR_CONF;
            }
        } else if (k->type == CONF_ADDR_LIST) {
            bad = conf_addr_list(v, &out->s, detail, sizeof(detail));
            if (bad != NULL) {
                conf_errf(why, "%s is not an address list: %s", show, bad);
                return ERR_CONF;
            }
            return 0;
        }
        out->s = xstrdup(v);
        return 0;
    }
    if (!conf_in_range(k, out)) {
        conf_fmt_range(range, sizeof(range), k);
        conf_errf(why, "%s is out of range (%s)", show, range);
        return ERR_CONF;
    }
    return 0;
}

/* Stores v into conf's field for k; takes v->s. */
static void
conf_value_store(const struct conf_key *k, void *conf, union conf_val *v)
{
    void *f = conf_field(conf, k);

    switch (k->type) {
    case CONF_BOOL:
        *(bool *)f = v->b;
        break;
    case CONF_INT:
        *(int64_t *)f = v->i;
        break;
    case CONF_SIZE:
    case CONF_DURATION:
        *(uint64_t *)f = v->u;
        break;
    case CONF_ENUM:
        *(int *)f = v->e;
        break;
    case CONF_STRING:
    case CONF_ADDR:
    case CONF_ADDR_LIST:
        xfree(*(char **)f);
        *(char **)f = v->s;
        v->s = NULL;
        break;
    }
}

/* The value of k in conf as it is written in a file (unquoted). */
static void
conf_value_format(const struct conf_key *k, const void *conf, struct conf_buf *b)
{
    const void *f = conf_cfield(conf, k);
    char tmp[32];

    switch (k->type) {
    case CONF_BOOL:
        conf_buf_str(b, *(const bool *)f ? "on" : "off");
        return;
    case CONF_INT:
        (void)snprintf(tmp, sizeof(tmp), "%" PRId64, *(const int64_t *)f);
        break;
    case CONF_SIZE:
        conf_fmt_size(tmp, sizeof(tmp), *(const uint64_t *)f);
        break;
    case CONF_DURATION:
        conf_fmt_duration(tmp, sizeof(tmp), *(const uint64_t *)f);
        break;
    case CONF_ENUM:
        conf_buf_str(b, k->values[*(const int *)f]);
        return;
    case CONF_STRING:
    case CONF_ADDR:
    case CONF_ADDR_LIST:
        conf_buf_str(b, *(char *const *)f);
        return;
    }
    conf_buf_str(b, tmp);
}

static bool
conf_value_equal(const struct conf_key *k, const void *a, const void *b)
{
    const void *fa = conf_cfield(a, k), *fb = conf_cfield(b, k);

    switch (k->type) {
    case CONF_BOOL:
        return *(const bool *)fa == *(const bool *)fb;
    case CONF_INT:
        return *(const int64_t *)fa == *(const int64_t *)fb;
    case CONF_SIZE:
    case CONF_DURATION:
        return *(const uint64_t *)fa == *(const uint64_t *)fb;
    case CONF_ENUM:
        return *(const int *)fa == *(const int *)fb;
    case CONF_STRING:
    case CONF_ADDR:
    case CONF_ADDR_LIST:
        break;
    }
    return strcmp(*(char *const *)fa, *(char *const *)fb) == 0;
}

/* ---- keys ---- */

static const struct conf_key *
conf_key_findn(const struct conf_table *t, const char *name, size_t n)
{
    size_t i;

    for (i = 0; i < t->nkeys; i++)
        if (strncmp(t->keys[i].name, name, n) == 0 && t->keys[i].name[n] == '\0')
            return &t->keys[i];
    return NULL;
}

const struct conf_key *
conf_key_find(const struct conf_table *t, const char *name)
{
    return conf_key_findn(t, name, strlen(name));
}

unsigned
conf_distance(const char *a, const char *b)
{
    /* Optimal string alignment: Levenshtein plus adjacent swaps. */
    unsigned d[CONF_DIST_MAX + 1][CONF_DIST_MAX + 1];
    size_t la = strlen(a), lb = strlen(b), i, j;

    if (la > CONF_DIST_MAX || lb > CONF_DIST_MAX)
        return CONF_DIST_MAX + (unsigned)(la > lb ? la - lb : lb - la);
    for (i = 0; i <= la; i++)
        d[i][0] = (unsigned)i;
    for (j = 0; j <= lb; j++)
        d[0][j] = (unsigned)j;
    for (i = 1; i <= la; i++) {
        for (j = 1; j <= lb; j++) {
            unsigned cost = a[i - 1] == b[j - 1] ? 0 : 1;
            unsigned best = d[i - 1][j] + 1;

            if (d[i][j - 1] + 1 < best)
                best = d[i][j - 1] + 1;
            if (d[i - 1][j - 1] + cost < best)
                best = d[i - 1][j - 1] + cost;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                d[i - 2][j - 2] + 1 < best)
                best = d[i - 2][j - 2] + 1;
            d[i][j] = best;
        }
    }
    return d[la][lb];
}

const char *
conf_key_suggest(const struct conf_table *t, const char *name)
{
    const char *best = NULL, *tail_match = NULL;
    unsigned best_d = ~0U, limit, d;
    size_t len = strlen(name), i, tails = 0;

    for (i = 0; i < t->nkeys; i++) {
        const char *dot = strrchr(t->keys[i].name, '.');

        /* "idle_timeout" names the last part of exactly one key? */
        if (dot != NULL && strcmp(dot + 1, name) == 0) {
            tail_match = t->keys[i].name;
            tails++;
        }
        d = conf_distance(name, t->keys[i].name);
        if (d < best_d) {
            best_d = d;
            best = t->keys[i].name;
        }
    }
    limit = (unsigned)(len / 3);
    if (limit < 1)
        limit = 1;
    if (limit > 3)
        limit = 3;
    if (best_d <= limit)
        return best;
    if (tails == 1)
        return tail_match;
    return NULL;
}

/* "unknown key (did you mean cache.size?)" */
static void
conf_unknown(const struct conf_table *t, const char *name, size_t n, const char *prefix,
             struct conf_err *err)
{
    char key[CONF_DIST_MAX + 1];
    const char *near = NULL;

    if (n <= CONF_DIST_MAX) {
        memcpy(key, name, n);
        key[n] = '\0';
        near = conf_key_suggest(t, key);
    }
    if (near != NULL)
        conf_errf(err, "%sunknown key (did you mean %s?)", prefix, near);
    else
        conf_errf(err, "%sunknown key", prefix);
}

/* Sanity of the table itself: a failure here is a programming error. */
static void
conf_table_assert(const struct conf_table *t)
{
    size_t i, j;

    AN(t);
    AN(t->keys);
    assert(t->size > 0);
    for (i = 0; i < t->nkeys; i++) {
        const struct conf_key *k = &t->keys[i];

        AN(k->name);
        assert(k->name[0] != '\0');
        AN(k->def);
        AN(k->help);
        assert(strchr(k->help, '\n') == NULL);
        assert(k->offset < t->size);
        assert(k->type >= CONF_BOOL && k->type <= CONF_ADDR_LIST);
        assert(k->type != CONF_ENUM || (k->values != NULL && k->values[0] != NULL));
        assert(k->max == 0 || k->min <= k->max);
        assert(k->type == CONF_INT || k->min >= 0);
        for (j = 0; j < i; j++)
            assert(strcmp(t->keys[j].name, k->name) != 0);
    }
}

/* ---- whole snapshots ---- */

int
conf_defaults(const struct conf_table *t, void *conf, struct conf_err *err)
{
    struct conf_err why;
    union conf_val v;
    size_t i;

    conf_table_assert(t);
    for (i = 0; i < t->nkeys; i++) {
        const struct conf_key *k = &t->keys[i];

        if (conf_value_parse(k, k->def, &v, &why) != 0) {
            conf_free(t, conf);
            conf_errf(err, "%s: the default of %s: %s", t->binary, k->name, why.msg);
            return ERR_CONF;
        }
        conf_value_store(k, conf, &v);
    }
    return 0;
}

void
conf_copy(const struct conf_table *t, void *dst, const void *src)
{
    size_t i;

    memcpy(dst, src, t->size);
    for (i = 0; i < t->nkeys; i++) {
        const struct conf_key *k = &t->keys[i];
        char *const *s = conf_cfield(src, k);

        if (conf_type_is_string(k->type) && *s != NULL)
            *(char **)conf_field(dst, k) = xstrdup(*s);
    }
}

void
conf_free(const struct conf_table *t, void *conf)
{
    size_t i;

    for (i = 0; i < t->nkeys; i++) {
        const struct conf_key *k = &t->keys[i];

        if (conf_type_is_string(k->type)) {
            char **s = conf_field(conf, k);

            xfree(*s);
            *s = NULL;
        }
    }
}

int
conf_set(const struct conf_table *t, void *conf, const char *key, const char *value,
         const char *source, struct conf_err *err)
{
    const struct conf_key *k;
    struct conf_err why;
    union conf_val v;
    char prefix[CONF_ERR_MAX / 2];

    (void)snprintf(prefix, sizeof(prefix), "%s: ", source != NULL ? source : key);
    k = conf_key_find(t, key);
    if (k == NULL) {
        conf_unknown(t, key, strlen(key), prefix, err);
        return ERR_CONF;
    }
    if (conf_value_parse(k, value, &v, &why) != 0) {
        conf_errf(err, "%s%s", prefix, why.msg);
        return ERR_CONF;
    }
    conf_value_store(k, conf, &v);
    return 0;
}

int
conf_validate(const struct conf_table *t, const void *conf, const char *source,
              struct conf_err *err)
{
    struct conf_err why = {{0}};

    if (t->validate == NULL || t->validate(conf, &why) == 0)
        return 0;
    conf_errf(err, "%s: %s", source != NULL ? source : t->binary, why.msg);
    return ERR_CONF;
}

/* ---- the file syntax ---- */

struct conf_lex {
    const char *name; /* file name for messages */
    unsigned line;
    uint32_t *seen; /* per key: the line that set it, 0 = not yet */
    char value[CONF_LINE_MAX + 1];
};

/*
 * The value that starts at p (end at e) into lx->value. Returns a pointer
 * past it, or NULL with why set.
 */
static const char *
conf_lex_value(struct conf_lex *lx, const char *p, const char *e, const char **why)
{
    size_t o = 0;

    if (*p != '"') {
        for (; p < e && !conf_is_blank(*p); p++) {
            if (*p == '"' || *p == '\\') {
                *why = "a quote or backslash inside an unquoted value (quote the whole value)";
                return NULL;
            }
            lx->value[o++] = *p;
        }
        lx->value[o] = '\0';
        return p;
    }
    for (p++; p < e; p++) {
        if (*p == '"') {
            lx->value[o] = '\0';
            return p + 1;
        }
        if (*p == '\\') {
            if (p + 1 == e)
                break;
            p++;
            if (*p != '"' && *p != '\\') {
                *why = "unknown escape in a quoted value (only \\\" and \\\\)";
                return NULL;
            }
        }
        lx->value[o++] = *p;
    }
    *why = "unterminated quoted value";
    return NULL;
}

/* One line p[0..n), without its LF or CRLF. */
static int
conf_lex_line(const struct conf_table *t, void *conf, struct conf_lex *lx, const char *p, size_t n,
              struct conf_err *err)
{
    const char *e = p + n, *key, *eq, *why = NULL;
    const struct conf_key *k;
    char show[CONF_SHOW_SZ], prefix[CONF_ERR_MAX / 2];
    struct conf_err verr;
    union conf_val v;
    size_t i, klen;

    if (memchr(p, '\0', n) != NULL) {
        conf_errf(err, "%s:%u: NUL byte", lx->name, lx->line);
        return ERR_CONF;
    }
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];

        if ((c < 0x20 && c != '\t') || c == 0x7f) {
            conf_errf(err, "%s:%u: control character 0x%02x (only tabs are allowed)", lx->name,
                      lx->line, c);
            return ERR_CONF;
        }
    }
    if (n > CONF_LINE_MAX) {
        conf_errf(err, "%s:%u: line is longer than %d bytes", lx->name, lx->line, CONF_LINE_MAX);
        return ERR_CONF;
    }
    while (p < e && conf_is_blank(*p))
        p++;
    if (p == e || *p == '#')
        return 0;
    key = p;
    while (p < e && !conf_is_blank(*p))
        p++;
    klen = (size_t)(p - key);
    k = conf_key_findn(t, key, klen);
    if (k == NULL) {
        eq = memchr(key, '=', klen);
        if (eq != NULL && conf_key_findn(t, key, (size_t)(eq - key)) != NULL) {
            conf_errf(err, "%s:%u: %.*s: write 'key value', with a blank instead of '='", lx->name,
                      lx->line, (int)(eq - key), key);
            return ERR_CONF;
        }
        (void)snprintf(prefix, sizeof(prefix), "%s:%u: %s: ", lx->name, lx->line,
                       conf_show(show, key, klen));
        conf_unknown(t, key, klen, prefix, err);
        return ERR_CONF;
    }
    (void)snprintf(prefix, sizeof(prefix), "%s:%u: %s: ", lx->name, lx->line, k->name);
    i = (size_t)(k - t->keys);
    if (lx->seen[i] != 0) {
        conf_errf(err, "%sduplicate key (first set on line %u)", prefix, (unsigned)lx->seen[i]);
        return ERR_CONF;
    }
    while (p < e && conf_is_blank(*p))
        p++;
    if (p == e || *p == '#') {
        conf_errf(err, "%smissing value", prefix);
        return ERR_CONF;
    }
    p = conf_lex_value(lx, p, e, &why);
    if (p == NULL) {
        conf_errf(err, "%s%s", prefix, why);
        return ERR_CONF;
    }
    while (p < e && conf_is_blank(*p))
        p++;
    if (p != e && *p != '#') {
        conf_errf(err, "%sunexpected text after the value: %s (quote a value with blanks)", prefix,
                  conf_show(show, p, (size_t)(e - p)));
        return ERR_CONF;
    }
    if (conf_value_parse(k, lx->value, &v, &verr) != 0) {
        conf_errf(err, "%s%s", prefix, verr.msg);
        return ERR_CONF;
    }
    conf_value_store(k, conf, &v);
    lx->seen[i] = lx->line;
    return 0;
}

static int
conf_lex_text(const struct conf_table *t, void *conf, struct conf_lex *lx, const char *text,
              size_t len, struct conf_err *err)
{
    size_t pos = 0;
    int rc;

    /* A UTF-8 byte order mark, as some editors write, is not a key. */
    if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
        pos = 3;
    for (lx->line = 1; pos < len; lx->line++) {
        const char *lf = memchr(text + pos, '\n', len - pos);
        size_t end = lf != NULL ? (size_t)(lf - text) : len;
        size_t n = end - pos;

        if (n > 0 && text[end - 1] == '\r')
            n--;
        rc = conf_lex_line(t, conf, lx, text + pos, n, err);
        if (rc != 0)
            return rc;
        pos = end + 1;
    }
    return 0;
}

int
conf_parse(const struct conf_table *t, void *conf, const char *name, const char *text, size_t len,
           struct conf_err *err)
{
    struct conf_lex *lx;
    void *work;
    int rc;

    if (len > CONF_FILE_MAX) {
        conf_errf(err, "%s: the file is larger than %d bytes", name, CONF_FILE_MAX);
        return ERR_CONF;
    }
    lx = xcalloc(1, sizeof(*lx));
    lx->name = name;
    lx->seen = xcalloc(t->nkeys + 1, sizeof(*lx->seen));
    work = xmalloc(t->size);
    conf_copy(t, work, conf);
    rc = conf_lex_text(t, work, lx, text, len, err);
    if (rc == 0) {
        conf_free(t, conf);
        memcpy(conf, work, t->size); /* the strings move to conf */
    } else {
        conf_free(t, work);
    }
    xfree(work);
    xfree(lx->seen);
    xfree(lx);
    return rc;
}

int
conf_load_file(const struct conf_table *t, void *conf, const char *path, struct conf_err *err)
{
    struct stat st;
    char *buf;
    size_t len = 0, cap = 65536;
    ssize_t n;
    int fd, rc;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        conf_errf(err, "%s: cannot open: %s", path, strerror(errno));
        return ERR_CONF;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        conf_errf(err, "%s: not a regular file", path);
        (void)close(fd);
        return ERR_CONF;
    }
    buf = xmalloc(cap);
    for (;;) {
        if (len == cap) {
            if (cap > CONF_FILE_MAX)
                break;
            cap *= 2;
            buf = xrealloc(buf, cap);
        }
        n = read(fd, buf + len, cap - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            conf_errf(err, "%s: cannot read: %s", path, strerror(errno));
            xfree(buf);
            (void)close(fd);
            return ERR_CONF;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    (void)close(fd);
    rc = conf_parse(t, conf, path, buf, len, err);
    xfree(buf);
    return rc;
}

int
conf_reload_check(const struct conf_table *t, const void *old_conf, const void *new_conf,
                  struct conf_err *err)
{
    struct conf_buf a = {0}, b = {0};
    char sa[CONF_SHOW_SZ], sb[CONF_SHOW_SZ];
    size_t i;

    for (i = 0; i < t->nkeys; i++) {
        const struct conf_key *k = &t->keys[i];

        if (k->reloadable || conf_value_equal(k, old_conf, new_conf))
            continue;
        conf_value_format(k, old_conf, &a);
        conf_value_format(k, new_conf, &b);
        conf_errf(err, "%s: cannot change on reload (%s -> %s); restart to apply", k->name,
                  conf_show(sa, a.p, a.len), conf_show(sb, b.p, b.len));
        xfree(a.p);
        xfree(b.p);
        return ERR_CONF;
    }
    return 0;
}

void
conf_check(const struct conf_table *t, const void *conf)
{
    struct conf_buf b = {0};
    struct conf_err why;
    union conf_val v;
    size_t i;
    void *again;

    /* Every stored value, written out and read back, is itself. */
    again = xcalloc(1, t->size);
    for (i = 0; i < t->nkeys; i++) {
        const struct conf_key *k = &t->keys[i];

        if (conf_type_is_string(k->type))
            AN(*(char *const *)conf_cfield(conf, k));
        if (k->type == CONF_ENUM) {
            int e = *(const int *)conf_cfield(conf, k), j;

            assert(e >= 0);
            for (j = 0; j <= e; j++)
                AN(k->values[j]);
        }
        b.len = 0;
        conf_value_format(k, conf, &b);
        AZ(conf_value_parse(k, b.p, &v, &why));
        conf_value_store(k, again, &v);
        assert(conf_value_equal(k, conf, again));
    }
    conf_free(t, again);
    xfree(again);
    xfree(b.p);
}

/* ---- writers ---- */

char *
conf_dump(const struct conf_table *t, const void *conf)
{
    struct conf_buf b = {0}, v = {0};
    size_t i;

    conf_buf_str(&b, "# ");
    conf_buf_str(&b, t->binary);
    conf_buf_str(&b, " configuration: every key, with its help (docs/config.md).\n");
    for (i = 0; i < t->nkeys; i++) {
        const struct conf_key *k = &t->keys[i];

        conf_buf_str(&b, "\n# ");
        conf_buf_str(&b, k->help);
        conf_buf_str(&b, "\n");
        conf_buf_str(&b, k->name);
        conf_buf_str(&b, " ");
        v.len = 0;
        conf_value_format(k, conf, &v);
        conf_buf_value(&b, v.p);
        conf_buf_str(&b, "\n");
    }
    xfree(v.p);
    return b.p;
}

static const char *
conf_type_name(enum conf_type type)
{
    switch (type) {
    case CONF_BOOL:
        return "bool";
    case CONF_INT:
        return "integer";
    case CONF_SIZE:
        return "size";
    case CONF_DURATION:
        return "duration";
    case CONF_STRING:
        return "string";
    case CONF_ENUM:
        return "enum";
    case CONF_ADDR:
        return "address";
    case CONF_ADDR_LIST:
        return "address list";
    }
    return "?";
}

/* Text for a Markdown table cell: '|' escaped. */
static void
conf_buf_cell(struct conf_buf *b, const char *s)
{
    for (; *s != '\0'; s++) {
        if (*s == '|')
            conf_buf_add(b, "\\", 1);
        conf_buf_add(b, s, 1);
    }
}

char *
conf_doc(const struct conf_table *t)
{
    struct conf_buf b = {0}, v = {0};
    struct conf_err err;
    char range[80];
    void *defs;
    size_t i, j;

    defs = xcalloc(1, t->size);
    AZ(conf_defaults(t, defs, &err));
    conf_buf_str(&b, "| Key | Type | Default | Range | Reload | Description |\n");
    conf_buf_str(&b, "|-----|------|---------|-------|--------|-------------|\n");
    for (i = 0; i < t->nkeys; i++) {
        const struct conf_key *k = &t->keys[i];

        conf_buf_str(&b, "| `");
        conf_buf_str(&b, k->name);
        conf_buf_str(&b, "` | ");
        conf_buf_str(&b, conf_type_name(k->type));
        conf_buf_str(&b, " | ");
        v.len = 0;
        conf_value_format(k, defs, &v);
        if (v.len == 0) {
            conf_buf_str(&b, "(empty)");
        } else {
            conf_buf_str(&b, "`");
            conf_buf_cell(&b, v.p);
            conf_buf_str(&b, "`");
        }
        conf_buf_str(&b, " | ");
        if (k->type == CONF_ENUM) {
            for (j = 0; k->values[j] != NULL; j++) {
                conf_buf_str(&b, j ? ", `" : "`");
                conf_buf_str(&b, k->values[j]);
                conf_buf_str(&b, "`");
            }
        } else {
            conf_fmt_range(range, sizeof(range), k);
            conf_buf_str(&b, range);
        }
        conf_buf_str(&b, k->reloadable ? " | yes | " : " | restart | ");
        conf_buf_cell(&b, k->help);
        conf_buf_str(&b, " |\n");
    }
    conf_free(t, defs);
    xfree(defs);
    xfree(v.p);
    return b.p;
}
