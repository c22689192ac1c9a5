/*
 * cache_policy.c -- the caching rules of a shared cache (SPEC: RFC 9111,
 * RFC 9110 13-15, RFC 9213, RFC 5861, RFC 8246), as pure decisions.
 *
 * Parsing is tolerant where the RFCs ask for it and conservative where
 * they leave room: an invalid or conflicting freshness value makes a
 * response stale, never fresher; a malformed Cache-Control turns
 * heuristics off; a Vary that is not a list of names is treated as "*".
 * Everything the proxy needs on a hit is precomputed into a fixed-size
 * struct cache_meta when a response is stored, so a hit parses nothing.
 *
 * Pure: no I/O, no clock, no allocation; stack scratch is bounded. Owns
 * nothing: results borrow from the caller's fields. Not here: keys
 * (cache_key.c), storage (store.c), the proxy.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "../err.h"
#include "cache_key.h"
#include "cache_policy.h"
#include "../compat.h"

const struct cache_policy_conf cache_policy_conf_default = {
    .grace = 3600,
    .negative_ttl = 1,
    .hit_for_miss_ttl = 10,
    .heuristic_max = 86400,
    .heuristic_percent = 10,
    .default_ttl = 0,
    .swr_default = 2,
    .set_cookie = CACHE_COOKIE_HIT_FOR_MISS,
    .preconditions = CACHE_PRECOND_EVALUATE,
    .request_directives = true,
    .targeted = true,
    .apparent_age = true,
};

/* The meta is stored next to each response: its layout must not drift. */
_Static_assert(sizeof(struct cache_meta) == 72, "struct cache_meta is stored: keep its layout");

/* Year 9999's last second: dates and clocks are clamped to [0, this]. */
#define CACHE_TIME_MAX 253402300799LL

static inline unsigned char
cache_lower(unsigned char c)
{
    return (unsigned char)(c + ((unsigned)(c - 'A') < 26u ? 32 : 0));
}

static inline bool
cache_is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static inline int64_t
cache_sat(int64_t v)
{
    if (v < 0)
        return 0;
    return v > CACHE_DELTA_MAX ? CACHE_DELTA_MAX : v;
}

/* a + b for non-negative values, saturated at CACHE_DELTA_MAX. */
static inline int64_t
cache_add_sat(int64_t a, int64_t b)
{
    return cache_sat(a > CACHE_DELTA_MAX - b ? CACHE_DELTA_MAX : a + b);
}

static inline bool
cache_delta_valid(int64_t v)
{
    return v >= 0;
}

/*
 * delta-seconds (SPEC: RFC 9111 1.2.2): 1*DIGIT, saturated at 2^31;
 * CACHE_DELTA_INVALID otherwise.
 */
static int64_t
cache_delta_text(const char *p, size_t len)
{
    int64_t v = 0;
    size_t i;

    if (len == 0)
        return CACHE_DELTA_INVALID;
    for (i = 0; i < len; i++) {
        if (!cache_is_digit((unsigned char)p[i]))
            return CACHE_DELTA_INVALID;
        if (v < CACHE_DELTA_MAX)
            v = v * 10 + (p[i] - '0');
    }
    return v > CACHE_DELTA_MAX ? CACHE_DELTA_MAX : v;
}

/* ------------------------------------------------------------------ */
/* Directive lists                                                     */
/* ------------------------------------------------------------------ */

enum cache_arg_kind {
    CACHE_ARG_NONE = 0, /* no argument (or SF Boolean true) */
    CACHE_ARG_TEXT,     /* a token, or a quoted string's content */
    CACHE_ARG_INT,      /* an SF Integer */
    CACHE_ARG_BAD,      /* an argument this directive cannot take, or a syntax error */
};

struct cache_arg {
    enum cache_arg_kind kind;
    const char *p; /* CACHE_ARG_TEXT */
    uint32_t len;
    bool escaped; /* the quoted string held backslash escapes */
    bool sf;      /* from a targeted field: typed values only */
    int64_t ival; /* CACHE_ARG_INT */
};

void
cache_cc_init(struct cache_cc *cc)
{
    memset(cc, 0, sizeof(*cc));
    cc->max_age = CACHE_DELTA_ABSENT;
    cc->s_maxage = CACHE_DELTA_ABSENT;
    cc->max_stale = CACHE_DELTA_ABSENT;
    cc->min_fresh = CACHE_DELTA_ABSENT;
    cc->swr = CACHE_DELTA_ABSENT;
    cc->sie = CACHE_DELTA_ABSENT;
}

/* SPEC: RFC 9111 4.2.1 -- duplicates that disagree make the value invalid. */
static void
cache_cc_set_delta(int64_t *slot, int64_t v)
{
    if (*slot == CACHE_DELTA_ABSENT || *slot == v)
        *slot = v;
    else
        *slot = CACHE_DELTA_INVALID;
}

static int64_t
cache_arg_delta(const struct cache_arg *a)
{
    switch (a->kind) {
    case CACHE_ARG_TEXT:
        if (a->sf || a->escaped)
            return CACHE_DELTA_INVALID; /* SPEC: RFC 9213 2.1 -- an Integer is expected */
        return cache_delta_text(a->p, a->len);
    case CACHE_ARG_INT:
        return a->ival < 0 ? CACHE_DELTA_INVALID : cache_sat(a->ival);
    default:
        return CACHE_DELTA_INVALID;
    }
}

/*
 * no-cache / private: unqualified, or qualified with a list of field
 * names. Anything unusual about the argument falls back to the
 * unqualified (stricter) form.
 */
static void
cache_cc_qualified(struct cache_cc *cc, const struct cache_arg *a, uint32_t flag,
                   uint32_t flag_fields, struct cache_span *list, uint8_t *n)
{
    uint32_t i;
    bool names = false;

    if (a->kind != CACHE_ARG_TEXT || a->escaped || *n == CACHE_CC_FIELDS_MAX) {
        cc->flags |= flag;
        return;
    }
    for (i = 0; i < a->len; i++) {
        unsigned char c = (unsigned char)a->p[i];

        if (cache_is_tchar(c))
            names = true;
        else if (c != ',' && c != ' ' && c != '\t') {
            cc->flags |= flag; /* not a list of field names */
            return;
        }
    }
    if (!names) {
        cc->flags |= flag;
        return;
    }
    list[*n].p = a->p;
    list[*n].len = a->len;
    (*n)++;
    cc->flags |= flag_fields;
}

static void
cache_cc_apply(struct cache_cc *cc, const char *name, size_t len, const struct cache_arg *a)
{
    /* delta-seconds directives */
    if (cache_name_eq(name, len, "max-age")) {
        cache_cc_set_delta(&cc->max_age, cache_arg_delta(a));
    } else if (cache_name_eq(name, len, "s-maxage")) {
        cache_cc_set_delta(&cc->s_maxage, cache_arg_delta(a));
    } else if (cache_name_eq(name, len, "min-fresh")) {
        cache_cc_set_delta(&cc->min_fresh, cache_arg_delta(a));
    } else if (cache_name_eq(name, len, "stale-while-revalidate")) {
        cache_cc_set_delta(&cc->swr, cache_arg_delta(a));
    } else if (cache_name_eq(name, len, "stale-if-error")) {
        cache_cc_set_delta(&cc->sie, cache_arg_delta(a));
    } else if (cache_name_eq(name, len, "max-stale")) {
        /* SPEC: RFC 9111 5.2.1.2 -- no value: any staleness */
        cache_cc_set_delta(&cc->max_stale,
                           a->kind == CACHE_ARG_NONE ? CACHE_DELTA_MAX : cache_arg_delta(a));
    }
    /* the restrictive ones hold whatever their argument */
    else if (cache_name_eq(name, len, "no-store")) {
        cc->flags |= CACHE_CC_NO_STORE;
    } else if (cache_name_eq(name, len, "must-revalidate")) {
        cc->flags |= CACHE_CC_MUST_REVALIDATE;
    } else if (cache_name_eq(name, len, "proxy-revalidate")) {
        cc->flags |= CACHE_CC_PROXY_REVALIDATE;
    } else if (cache_name_eq(name, len, "no-transform")) {
        cc->flags |= CACHE_CC_NO_TRANSFORM;
    } else if (cache_name_eq(name, len, "no-cache")) {
        cache_cc_qualified(cc, a, CACHE_CC_NO_CACHE, CACHE_CC_NO_CACHE_FIELDS, cc->no_cache_fields,
                           &cc->n_no_cache_fields);
    } else if (cache_name_eq(name, len, "private")) {
        cache_cc_qualified(cc, a, CACHE_CC_PRIVATE, CACHE_CC_PRIVATE_FIELDS, cc->private_fields,
                           &cc->n_private_fields);
    }
    /* the permissive ones count only as defined: without an argument */
    else if (a->kind == CACHE_ARG_NONE) {
        if (cache_name_eq(name, len, "public"))
            cc->flags |= CACHE_CC_PUBLIC;
        else if (cache_name_eq(name, len, "immutable"))
            cc->flags |= CACHE_CC_IMMUTABLE;
        else if (cache_name_eq(name, len, "must-understand"))
            cc->flags |= CACHE_CC_MUST_UNDERSTAND;
        else if (cache_name_eq(name, len, "only-if-cached"))
            cc->flags |= CACHE_CC_ONLY_IF_CACHED;
    }
    /* SPEC: RFC 9111 5.2.3 -- unknown directives are ignored */
}

/* Skips to the next ',' outside a quoted string (or the end). */
static size_t
cache_cc_skip_element(const char *p, size_t len, size_t i)
{
    bool quoted = false;

    for (; i < len; i++) {
        if (quoted) {
            if (p[i] == '\\')
                i++;
            else if (p[i] == '"')
                quoted = false;
        } else if (p[i] == '"') {
            quoted = true;
        } else if (p[i] == ',') {
            break;
        }
    }
    return i < len ? i : len;
}

void
cache_cc_parse(struct cache_cc *cc, const char *p, size_t len)
{
    struct cache_arg a;
    size_t i = 0, ns, nl, s;

    /* SPEC: RFC 9111 5.2 -- #cache-directive; cache-directive = token [ "=" ( token /
     * quoted-string ) ]; SPEC: RFC 9110 5.6.1 -- empty list elements are ignored */
    while (i < len) {
        while (i < len && (p[i] == ' ' || p[i] == '\t' || p[i] == ','))
            i++;
        if (i >= len)
            break;
        memset(&a, 0, sizeof(a));
        ns = i;
        while (i < len && cache_is_tchar((unsigned char)p[i]))
            i++;
        nl = i - ns;
        if (nl == 0) {
            cc->flags |= CACHE_CC_MALFORMED;
            i = cache_cc_skip_element(p, len, i);
            continue;
        }
        if (i < len && p[i] == '=') {
            i++;
            if (i < len && p[i] == '"') {
                s = ++i;
                while (i < len && p[i] != '"') {
                    if (p[i] == '\\') {
                        a.escaped = true;
                        i++;
                    }
                    i++;
                }
                if (i >= len) {
                    /* unterminated quoted string: the rest of the line is lost */
                    cc->flags |= CACHE_CC_MALFORMED;
                    a.kind = CACHE_ARG_BAD;
                    cache_cc_apply(cc, p + ns, nl, &a);
                    return;
                }
                a.kind = CACHE_ARG_TEXT;
                a.p = p + s;
                a.len = (uint32_t)(i - s);
                i++;
            } else {
                s = i;
                while (i < len && cache_is_tchar((unsigned char)p[i]))
                    i++;
                if (i == s) {
                    a.kind = CACHE_ARG_BAD; /* "max-age=" or "max-age=(5)" */
                } else {
                    a.kind = CACHE_ARG_TEXT;
                    a.p = p + s;
                    a.len = (uint32_t)(i - s);
                }
            }
        }
        while (i < len && (p[i] == ' ' || p[i] == '\t'))
            i++;
        if (a.kind == CACHE_ARG_BAD || (i < len && p[i] != ',')) {
            /* "max-age =5", "public; max-age=5", "max-age=5 6" */
            cc->flags |= CACHE_CC_MALFORMED;
            a.kind = CACHE_ARG_BAD;
            cache_cc_apply(cc, p + ns, nl, &a);
            i = cache_cc_skip_element(p, len, i);
            continue;
        }
        cache_cc_apply(cc, p + ns, nl, &a);
    }
}

/* ---- targeted fields: RFC 8941 Dictionaries ---- */

enum cache_sf_kind {
    CACHE_SF_BOOL = 0,
    CACHE_SF_INT,
    CACHE_SF_DECIMAL,
    CACHE_SF_STRING,
    CACHE_SF_TOKEN,
    CACHE_SF_BYTES,
    CACHE_SF_INNER,
};

struct cache_sf_member {
    struct cache_span key;
    struct cache_span s; /* STRING content, TOKEN */
    int64_t ival;        /* BOOL: 0/1, INT: the value */
    enum cache_sf_kind kind;
    bool escaped;
};

#define CACHE_SF_MEMBERS_MAX 32

static inline bool
cache_sf_lcalpha(unsigned char c)
{
    return c >= 'a' && c <= 'z';
}

static inline bool
cache_sf_alpha(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* SPEC: RFC 8941 4.2.3.3 -- key = ( lcalpha / "*" ) *( lcalpha / DIGIT / "_" / "-" / "." / "*" ) */
static int
cache_sf_key(const char *p, size_t len, size_t *i, struct cache_span *key)
{
    size_t s = *i;
    unsigned char c;

    if (*i >= len || !(cache_sf_lcalpha((unsigned char)p[*i]) || p[*i] == '*'))
        return ERR_PROTO;
    for ((*i)++; *i < len; (*i)++) {
        c = (unsigned char)p[*i];
        if (!(cache_sf_lcalpha(c) || cache_is_digit(c) || c == '_' || c == '-' || c == '.' ||
              c == '*'))
            break;
    }
    key->p = p + s;
    key->len = (uint32_t)(*i - s);
    return 0;
}

/* SPEC: RFC 8941 4.2.4 -- one bare item into m (kind, ival, s). */
static int
cache_sf_bare(const char *p, size_t len, size_t *i, struct cache_sf_member *m)
{
    size_t s, digits = 0, frac = 0;
    unsigned char c;
    bool neg = false, dot = false;
    int64_t v = 0;

    if (*i >= len)
        return ERR_PROTO;
    c = (unsigned char)p[*i];
    if (c == '-' || cache_is_digit(c)) {
        /* SPEC: RFC 8941 4.2.4 -- Integer (<= 15 digits) or Decimal (12.3) */
        if (c == '-') {
            neg = true;
            (*i)++;
        }
        if (*i >= len || !cache_is_digit((unsigned char)p[*i]))
            return ERR_PROTO;
        for (; *i < len; (*i)++) {
            c = (unsigned char)p[*i];
            if (cache_is_digit(c)) {
                if (dot)
                    frac++;
                else {
                    digits++;
                    v = v * 10 + (c - '0');
                }
            } else if (c == '.' && !dot) {
                if (digits > 12)
                    return ERR_PROTO;
                dot = true;
            } else {
                break;
            }
            if (!dot && digits > 15)
                return ERR_PROTO;
            if (dot && frac > 3)
                return ERR_PROTO;
        }
        if (dot && frac == 0)
            return ERR_PROTO;
        m->kind = dot ? CACHE_SF_DECIMAL : CACHE_SF_INT;
        m->ival = neg ? -v : v;
        return 0;
    }
    if (c == '"') {
        /* SPEC: RFC 8941 4.2.5 -- printable ASCII; only \" and \\ escapes */
        s = ++(*i);
        m->escaped = false;
        for (; *i < len; (*i)++) {
            c = (unsigned char)p[*i];
            if (c == '\\') {
                if (*i + 1 >= len || (p[*i + 1] != '"' && p[*i + 1] != '\\'))
                    return ERR_PROTO;
                m->escaped = true;
                (*i)++;
            } else if (c == '"') {
                m->kind = CACHE_SF_STRING;
                m->s.p = p + s;
                m->s.len = (uint32_t)(*i - s);
                (*i)++;
                return 0;
            } else if (c < 0x20 || c > 0x7e) {
                return ERR_PROTO;
            }
        }
        return ERR_PROTO; /* unterminated */
    }
    if (cache_sf_alpha(c) || c == '*') {
        /* SPEC: RFC 8941 4.2.6 -- Token */
        s = (*i)++;
        while (*i < len && (cache_is_tchar((unsigned char)p[*i]) || p[*i] == ':' || p[*i] == '/'))
            (*i)++;
        m->kind = CACHE_SF_TOKEN;
        m->s.p = p + s;
        m->s.len = (uint32_t)(*i - s);
        return 0;
    }
    if (c == ':') {
        /* SPEC: RFC 8941 4.2.7 -- Byte Sequence */
        for ((*i)++; *i < len && p[*i] != ':'; (*i)++) {
            c = (unsigned char)p[*i];
            if (!(cache_sf_alpha(c) || cache_is_digit(c) || c == '+' || c == '/' || c == '='))
                return ERR_PROTO;
        }
        if (*i >= len)
            return ERR_PROTO;
        (*i)++;
        m->kind = CACHE_SF_BYTES;
        return 0;
    }
    if (c == '?') {
        /* SPEC: RFC 8941 4.2.8 -- Boolean */
        if (*i + 1 >= len || (p[*i + 1] != '0' && p[*i + 1] != '1'))
            return ERR_PROTO;
        m->kind = CACHE_SF_BOOL;
        m->ival = p[*i + 1] == '1';
        *i += 2;
        return 0;
    }
    return ERR_PROTO;
}

/* SPEC: RFC 8941 4.2.3.2 -- parameters are parsed and ignored (RFC 9213 2.1). */
static int
cache_sf_params(const char *p, size_t len, size_t *i)
{
    struct cache_sf_member ignored;
    struct cache_span key;
    int rc;

    while (*i < len && p[*i] == ';') {
        (*i)++;
        while (*i < len && p[*i] == ' ')
            (*i)++;
        rc = cache_sf_key(p, len, i, &key);
        if (rc != 0)
            return rc;
        if (*i < len && p[*i] == '=') {
            (*i)++;
            memset(&ignored, 0, sizeof(ignored));
            rc = cache_sf_bare(p, len, i, &ignored);
            if (rc != 0)
                return rc;
        }
    }
    return 0;
}

/* SPEC: RFC 8941 4.2.1.2 -- Inner List; its items are validated and ignored. */
static int
cache_sf_inner(const char *p, size_t len, size_t *i)
{
    struct cache_sf_member item;
    int rc;

    AN(p[*i] == '(');
    (*i)++;
    for (;;) {
        while (*i < len && p[*i] == ' ')
            (*i)++;
        if (*i >= len)
            return ERR_PROTO;
        if (p[*i] == ')') {
            (*i)++;
            return cache_sf_params(p, len, i);
        }
        memset(&item, 0, sizeof(item));
        rc = cache_sf_bare(p, len, i, &item);
        if (rc == 0)
            rc = cache_sf_params(p, len, i);
        if (rc != 0)
            return rc;
        if (*i < len && p[*i] != ' ' && p[*i] != ')')
            return ERR_PROTO;
    }
}

/*
 * One field line of a Dictionary (SPEC: RFC 8941 4.2.2); members are
 * appended to mem. Lines are joined as if by ", ", so each must be a
 * complete, non-empty run of members.
 */
static int
cache_sf_dict_line(const char *p, size_t len, struct cache_sf_member *mem, size_t *n)
{
    struct cache_sf_member m;
    size_t i = 0;
    int rc;

    while (i < len && p[i] == ' ')
        i++;
    if (i >= len)
        return ERR_PROTO; /* an empty line makes the joined value invalid */
    for (;;) {
        memset(&m, 0, sizeof(m));
        rc = cache_sf_key(p, len, &i, &m.key);
        if (rc != 0)
            return rc;
        if (i < len && p[i] == '=') {
            i++;
            if (i < len && p[i] == '(') {
                rc = cache_sf_inner(p, len, &i);
                m.kind = CACHE_SF_INNER;
            } else {
                rc = cache_sf_bare(p, len, &i, &m);
                if (rc == 0)
                    rc = cache_sf_params(p, len, &i);
            }
        } else {
            m.kind = CACHE_SF_BOOL;
            m.ival = 1;
            rc = cache_sf_params(p, len, &i);
        }
        if (rc != 0)
            return rc;
        if (*n == CACHE_SF_MEMBERS_MAX)
            return ERR_PROTO;
        mem[(*n)++] = m;
        while (i < len && (p[i] == ' ' || p[i] == '\t'))
            i++;
        if (i >= len)
            return 0;
        if (p[i] != ',')
            return ERR_PROTO;
        i++;
        while (i < len && (p[i] == ' ' || p[i] == '\t'))
            i++;
        if (i >= len)
            return ERR_PROTO; /* trailing comma */
    }
}

int
cache_cc_parse_targeted(struct cache_cc *cc, const struct cache_fields *f, const char *name)
{
    struct cache_sf_member mem[CACHE_SF_MEMBERS_MAX];
    const struct cache_field *h = NULL;
    struct cache_arg a;
    size_t n = 0, total = 0, k, j;
    bool later;
    int rc;

    while ((h = cache_fields_find(f, name, h)) != NULL) {
        total += h->value_len + 2;
        if (total > CACHE_TARGETED_MAX)
            return ERR_PROTO;
        rc = cache_sf_dict_line(h->value, h->value_len, mem, &n);
        if (rc != 0)
            return rc;
    }
    if (n == 0)
        return ERR_PROTO; /* absent or empty: SPEC: RFC 9213 2.1 ignore it */
    for (k = 0; k < n; k++) {
        /* SPEC: RFC 8941 4.2.2 -- a later duplicate key overrides */
        later = false;
        for (j = k + 1; j < n && !later; j++)
            later = mem[j].key.len == mem[k].key.len &&
                    memcmp(mem[j].key.p, mem[k].key.p, mem[k].key.len) == 0;
        if (later)
            continue;
        memset(&a, 0, sizeof(a));
        a.sf = true;
        switch (mem[k].kind) {
        case CACHE_SF_BOOL:
            if (mem[k].ival == 0)
                continue; /* "no-store=?0" violates the inferred type: ignored */
            a.kind = CACHE_ARG_NONE;
            break;
        case CACHE_SF_INT:
            a.kind = CACHE_ARG_INT;
            a.ival = mem[k].ival;
            break;
        case CACHE_SF_STRING:
        case CACHE_SF_TOKEN:
            a.kind = CACHE_ARG_TEXT;
            a.p = mem[k].s.p;
            a.len = mem[k].s.len;
            a.escaped = mem[k].escaped;
            break;
        default:
            a.kind = CACHE_ARG_BAD;
            break;
        }
        cache_cc_apply(cc, mem[k].key.p, mem[k].key.len, &a);
    }
    return 0;
}

void
cache_cc_check(const struct cache_cc *cc)
{
    const int64_t *d[] = {&cc->max_age,   &cc->s_maxage, &cc->max_stale,
                          &cc->min_fresh, &cc->swr,      &cc->sie};
    size_t i;

    for (i = 0; i < ARRAY_SIZE(d); i++)
        assert(*d[i] == CACHE_DELTA_ABSENT || *d[i] == CACHE_DELTA_INVALID ||
               (*d[i] >= 0 && *d[i] <= CACHE_DELTA_MAX));
    assert(cc->n_no_cache_fields <= CACHE_CC_FIELDS_MAX);
    assert(cc->n_private_fields <= CACHE_CC_FIELDS_MAX);
    assert((cc->n_no_cache_fields > 0) == ((cc->flags & CACHE_CC_NO_CACHE_FIELDS) != 0));
    assert((cc->n_private_fields > 0) == ((cc->flags & CACHE_CC_PRIVATE_FIELDS) != 0));
    for (i = 0; i < cc->n_no_cache_fields; i++)
        assert(cc->no_cache_fields[i].p != NULL && cc->no_cache_fields[i].len > 0);
    for (i = 0; i < cc->n_private_fields; i++)
        assert(cc->private_fields[i].p != NULL && cc->private_fields[i].len > 0);
}

/* ------------------------------------------------------------------ */
/* Dates and Age                                                       */
/* ------------------------------------------------------------------ */

static const char cache_day_short[7][4] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};
static const char *const cache_day_long[7] = {"sunday",   "monday", "tuesday", "wednesday",
                                              "thursday", "friday", "saturday"};
static const char cache_month[12][4] = {"jan", "feb", "mar", "apr", "may", "jun",
                                        "jul", "aug", "sep", "oct", "nov", "dec"};
static const uint16_t cache_month_start[12] = {0,   31,  59,  90,  120, 151,
                                               181, 212, 243, 273, 304, 334};

static inline bool
cache_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Leap years in [1, y). */
static inline int64_t
cache_leaps_before(int64_t y)
{
    return (y - 1) / 4 - (y - 1) / 100 + (y - 1) / 400;
}

/* Days from 1970-01-01 to y-m-d (y >= 1, m 1..12, d 1..31). */
static int64_t
cache_days(int64_t y, int m, int d)
{
    int64_t days = 365 * (y - 1970) + cache_leaps_before(y) - cache_leaps_before(1970);

    days += cache_month_start[m - 1] + (m > 2 && cache_leap(y) ? 1 : 0);
    return days + d - 1;
}

static int
cache_month_days(int64_t y, int m)
{
    static const uint8_t md[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

    return md[m - 1] + (m == 2 && cache_leap(y) ? 1 : 0);
}

/* The calendar year a time falls in (t in [0, CACHE_TIME_MAX]). */
static int64_t
cache_year_of(int64_t t, int64_t *yday)
{
    int64_t days = t / 86400, y = 1970 + days / 366;

    while (cache_days(y + 1, 1, 1) <= days)
        y++;
    if (yday != NULL)
        *yday = days - cache_days(y, 1, 1);
    return y;
}

/* Case-insensitive: does p[*i..) start with the name lit? Advances on success. */
static bool
cache_date_word(const char *p, size_t len, size_t *i, const char *lit)
{
    size_t n = strlen(lit), k;

    if (len - *i < n)
        return false;
    for (k = 0; k < n; k++)
        if (cache_lower((unsigned char)p[*i + k]) != (unsigned char)lit[k])
            return false;
    *i += n;
    return true;
}

static bool
cache_date_digits(const char *p, size_t len, size_t *i, size_t n, int *out)
{
    size_t k;
    int v = 0;

    if (len - *i < n)
        return false;
    for (k = 0; k < n; k++) {
        if (!cache_is_digit((unsigned char)p[*i + k]))
            return false;
        v = v * 10 + (p[*i + k] - '0');
    }
    *i += n;
    *out = v;
    return true;
}

static bool
cache_date_char(const char *p, size_t len, size_t *i, char c)
{
    if (*i >= len || p[*i] != c)
        return false;
    (*i)++;
    return true;
}

static int
cache_date_month(const char *p, size_t len, size_t *i)
{
    int m;

    for (m = 0; m < 12; m++)
        if (cache_date_word(p, len, i, cache_month[m]))
            return m + 1;
    return 0;
}

/* "HH:MM:SS" */
static bool
cache_date_time(const char *p, size_t len, size_t *i, int *h, int *mi, int *s)
{
    return cache_date_digits(p, len, i, 2, h) && cache_date_char(p, len, i, ':') &&
           cache_date_digits(p, len, i, 2, mi) && cache_date_char(p, len, i, ':') &&
           cache_date_digits(p, len, i, 2, s);
}

int64_t
cache_date_parse(const char *p, size_t len, int64_t now)
{
    size_t i = 0, e = len;
    int d = 0, m = 0, y = 0, h = 0, mi = 0, s = 0, k;
    int64_t year, now_year;
    bool found = false;

    /* SPEC: RFC 9110 5.6.7 -- IMF-fixdate, rfc850-date, asctime-date */
    while (i < e && (p[i] == ' ' || p[i] == '\t'))
        i++;
    while (e > i && (p[e - 1] == ' ' || p[e - 1] == '\t'))
        e--;
    for (k = 0; k < 7 && !found; k++)
        found = cache_date_word(p, e, &i, cache_day_long[k]);
    for (k = 0; k < 7 && !found; k++)
        found = cache_date_word(p, e, &i, cache_day_short[k]);
    if (!found)
        return CACHE_TIME_NONE;
    if (cache_date_char(p, e, &i, ',')) {
        if (!cache_date_char(p, e, &i, ' ') || !cache_date_digits(p, e, &i, 2, &d))
            return CACHE_TIME_NONE;
        if (cache_date_char(p, e, &i, ' ')) {
            /* IMF-fixdate: "06 Nov 1994 08:49:37 GMT" */
            if ((m = cache_date_month(p, e, &i)) == 0 || !cache_date_char(p, e, &i, ' ') ||
                !cache_date_digits(p, e, &i, 4, &y))
                return CACHE_TIME_NONE;
            year = y;
        } else if (cache_date_char(p, e, &i, '-')) {
            /* rfc850-date: "06-Nov-94 08:49:37 GMT" (a 4-digit year is tolerated) */
            if ((m = cache_date_month(p, e, &i)) == 0 || !cache_date_char(p, e, &i, '-'))
                return CACHE_TIME_NONE;
            if (cache_date_digits(p, e, &i, 4, &y)) {
                year = y;
            } else if (cache_date_digits(p, e, &i, 2, &y)) {
                /* SPEC: RFC 9110 5.6.7 -- more than 50 years ahead: the past century */
                if (now < 0)
                    now = 0;
                if (now > CACHE_TIME_MAX)
                    now = CACHE_TIME_MAX;
                now_year = cache_year_of(now, NULL);
                year = now_year - now_year % 100 + y;
                if (year > now_year + 50)
                    year -= 100;
            } else {
                return CACHE_TIME_NONE;
            }
        } else {
            return CACHE_TIME_NONE;
        }
        if (!cache_date_char(p, e, &i, ' ') || !cache_date_time(p, e, &i, &h, &mi, &s) ||
            !cache_date_char(p, e, &i, ' ') || !cache_date_word(p, e, &i, "gmt"))
            return CACHE_TIME_NONE;
    } else if (cache_date_char(p, e, &i, ' ')) {
        /* asctime-date: "Nov  6 08:49:37 1994" */
        if ((m = cache_date_month(p, e, &i)) == 0 || !cache_date_char(p, e, &i, ' '))
            return CACHE_TIME_NONE;
        if (cache_date_char(p, e, &i, ' ')) {
            if (!cache_date_digits(p, e, &i, 1, &d))
                return CACHE_TIME_NONE;
        } else if (!cache_date_digits(p, e, &i, 2, &d)) {
            return CACHE_TIME_NONE;
        }
        if (!cache_date_char(p, e, &i, ' ') || !cache_date_time(p, e, &i, &h, &mi, &s) ||
            !cache_date_char(p, e, &i, ' ') || !cache_date_digits(p, e, &i, 4, &y))
            return CACHE_TIME_NONE;
        year = y;
    } else {
        return CACHE_TIME_NONE;
    }
    if (i != e || year < 1 || d < 1 || d > cache_month_days(year, m) || h > 23 || mi > 59 || s > 60)
        return CACHE_TIME_NONE;
    if (s == 60)
        s = 59; /* a leap second: SPEC: RFC 9111 4.2 -- the nearest earlier time */
    return cache_days(year, m, d) * 86400 + (int64_t)h * 3600 + (int64_t)mi * 60 + s;
}

size_t
cache_date_format(char out[30], int64_t t)
{
    static const char day[7][4] = {"Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"};
    static const char mon[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    int64_t y, yday, secs;
    int m = 1, n;

    if (t < 0)
        t = 0;
    if (t > CACHE_TIME_MAX)
        t = CACHE_TIME_MAX;
    y = cache_year_of(t, &yday);
    while (m < 12 && yday >= cache_month_start[m] + (m >= 2 && cache_leap(y) ? 1 : 0))
        m++;
    yday -= cache_month_start[m - 1] + (m > 2 && cache_leap(y) ? 1 : 0);
    secs = t % 86400;
    n = snprintf(out, 30, "%s, %02d %s %04d %02d:%02d:%02d GMT", day[(t / 86400) % 7],
                 (int)yday + 1, mon[m - 1], (int)y, (int)(secs / 3600), (int)(secs / 60 % 60),
                 (int)(secs % 60));
    assert(n == 29);
    return 29;
}

int64_t
cache_age_parse(const char *p, size_t len)
{
    size_t i = 0, e;

    /* SPEC: RFC 9111 5.1 -- the first member of a list; invalid: ignored */
    while (i < len && (p[i] == ' ' || p[i] == '\t'))
        i++;
    for (e = i; e < len && p[e] != ','; e++)
        ;
    while (e > i && (p[e - 1] == ' ' || p[e - 1] == '\t'))
        e--;
    if (e == i)
        return CACHE_DELTA_ABSENT;
    return cache_delta_valid(cache_delta_text(p + i, e - i)) ? cache_delta_text(p + i, e - i)
                                                             : CACHE_DELTA_ABSENT;
}

/* ------------------------------------------------------------------ */
/* Requests                                                            */
/* ------------------------------------------------------------------ */

enum cache_method
cache_method_parse(const char *p, size_t len)
{
    /* SPEC: RFC 9110 9.1 -- method tokens are case-sensitive */
    static const struct {
        const char *name;
        enum cache_method m;
    } known[] = {
        {"GET", CACHE_M_GET},         {"HEAD", CACHE_M_HEAD},     {"POST", CACHE_M_POST},
        {"PUT", CACHE_M_PUT},         {"DELETE", CACHE_M_DELETE}, {"PATCH", CACHE_M_PATCH},
        {"OPTIONS", CACHE_M_OPTIONS}, {"TRACE", CACHE_M_TRACE},   {"CONNECT", CACHE_M_CONNECT},
    };
    size_t k;

    for (k = 0; k < ARRAY_SIZE(known); k++)
        if (strlen(known[k].name) == len && memcmp(known[k].name, p, len) == 0)
            return known[k].m;
    return CACHE_M_OTHER;
}

bool
cache_method_is_safe(enum cache_method m)
{
    return m == CACHE_M_GET || m == CACHE_M_HEAD || m == CACHE_M_OPTIONS || m == CACHE_M_TRACE;
}

/* A date field that must be a single line: the line's date, or CACHE_TIME_NONE. */
static int64_t
cache_single_date(const struct cache_field *h, unsigned n, int64_t now)
{
    if (h == NULL || n != 1)
        return CACHE_TIME_NONE;
    return cache_date_parse(h->value, h->value_len, now);
}

void
cache_req_parse(struct cache_req *q, const char *method, size_t method_len,
                const struct cache_fields *f, int64_t now)
{
    const struct cache_field *h, *ims = NULL, *ius = NULL;
    unsigned n_ims = 0, n_ius = 0;
    bool cc = false, pragma = false;
    size_t i;

    memset(q, 0, sizeof(*q));
    q->method = cache_method_parse(method, method_len);
    q->fields = f;
    cache_cc_init(&q->cc);
    /* one pass over the fields; names dispatched by length first */
    for (i = 0; i < f->n; i++) {
        h = &f->v[i];
        switch (h->name_len) {
        case 5:
            if (cache_name_eq(h->name, 5, "range"))
                q->flags |= CACHE_REQ_RANGE;
            break;
        case 6:
            pragma |= cache_name_eq(h->name, 6, "pragma");
            break;
        case 8:
            if (cache_name_eq(h->name, 8, "if-match"))
                q->flags |= CACHE_REQ_IF_MATCH;
            else if (cache_name_eq(h->name, 8, "if-range"))
                q->flags |= CACHE_REQ_IF_RANGE;
            break;
        case 13:
            if (cache_name_eq(h->name, 13, "cache-control")) {
                cache_cc_parse(&q->cc, h->value, h->value_len);
                cc = true;
            } else if (cache_name_eq(h->name, 13, "authorization")) {
                q->flags |= CACHE_REQ_AUTHORIZATION;
            } else if (cache_name_eq(h->name, 13, "if-none-match")) {
                q->flags |= CACHE_REQ_IF_NONE_MATCH;
            }
            break;
        case 17:
            if (cache_name_eq(h->name, 17, "if-modified-since")) {
                ims = h;
                n_ims++;
            }
            break;
        case 19:
            if (cache_name_eq(h->name, 19, "if-unmodified-since")) {
                ius = h;
                n_ius++;
            }
            break;
        default:
            break;
        }
    }
    /* SPEC: RFC 7234 5.4 (deprecated by RFC 9111 5.4) -- Pragma: no-cache without
     * Cache-Control asks for validation, as HTTP/1.0 clients meant */
    if (pragma && !cc && cache_fields_has_token(f, "pragma", "no-cache"))
        q->flags |= CACHE_REQ_PRAGMA_NO_CACHE;
    /* SPEC: RFC 9110 13.1.3 -- ignored unless GET/HEAD, one valid HTTP-date */
    q->if_modified_since = CACHE_TIME_NONE;
    if (q->method == CACHE_M_GET || q->method == CACHE_M_HEAD)
        q->if_modified_since = cache_single_date(ims, n_ims, now);
    if (q->if_modified_since != CACHE_TIME_NONE)
        q->flags |= CACHE_REQ_IF_MODIFIED_SINCE;
    /* SPEC: RFC 9110 13.1.4 -- ignored unless one valid HTTP-date */
    q->if_unmodified_since = cache_single_date(ius, n_ius, now);
    if (q->if_unmodified_since != CACHE_TIME_NONE)
        q->flags |= CACHE_REQ_IF_UNMODIFIED_SINCE;
}

/* ------------------------------------------------------------------ */
/* Responses                                                           */
/* ------------------------------------------------------------------ */

/* A Vary that is "*" or not a list of field names can never be matched. */
static bool
cache_vary_unmatchable(const struct cache_fields *f)
{
    const struct cache_field *line = NULL;
    uint32_t pos = 0, i;
    struct cache_span e;

    while (cache_fields_list_next(f, "vary", &line, &pos, &e)) {
        if (e.len == 1 && e.p[0] == '*')
            return true;
        for (i = 0; i < e.len; i++)
            if (!cache_is_tchar((unsigned char)e.p[i]))
                return true;
    }
    return false;
}

/* Uses targeted field name when it is valid: replaces Cache-Control and Expires. */
static bool
cache_targeted_use(struct cache_resp *r, const struct cache_fields *f, const char *name,
                   enum cache_cc_source src)
{
    struct cache_cc cc;

    cache_cc_init(&cc);
    if (cache_cc_parse_targeted(&cc, f, name) != 0)
        return false;
    r->cc = cc;
    r->src = src;
    r->flags &= ~(uint32_t)(CACHE_RESP_EXPIRES | CACHE_RESP_EXPIRES_INVALID);
    r->expires = CACHE_TIME_NONE;
    return true;
}

/* SPEC: RFC 9111 5.3 -- invalid (e.g. "0") is already expired; 4.2.1 --
 * several that disagree: stale. */
static void
cache_resp_expires(struct cache_resp *r, const struct cache_field *h, int64_t now)
{
    int64_t v;

    if (r->flags & CACHE_RESP_EXPIRES_INVALID)
        return;
    v = cache_date_parse(h->value, h->value_len, now);
    if (v == CACHE_TIME_NONE || ((r->flags & CACHE_RESP_EXPIRES) != 0 && v != r->expires)) {
        r->flags |= CACHE_RESP_EXPIRES_INVALID;
        r->flags &= ~(uint32_t)CACHE_RESP_EXPIRES;
        r->expires = CACHE_TIME_NONE;
        return;
    }
    r->expires = v;
    r->flags |= CACHE_RESP_EXPIRES;
}

/* The first line named name sets a field of r; later ones are ignored. */
static void
cache_resp_field(struct cache_resp *r, const struct cache_field *h, int64_t now)
{
    switch (h->name_len) {
    case 3:
        if (cache_name_eq(h->name, 3, "age") && !(r->flags & CACHE_RESP_AGE)) {
            /* SPEC: RFC 9111 5.1 -- invalid: ignored */
            r->age = cache_age_parse(h->value, h->value_len);
            if (r->age != CACHE_DELTA_ABSENT)
                r->flags |= CACHE_RESP_AGE;
        }
        break;
    case 4:
        if (cache_name_eq(h->name, 4, "date")) {
            if (r->date == CACHE_TIME_NONE)
                r->date = cache_date_parse(h->value, h->value_len, now);
            if (r->date != CACHE_TIME_NONE)
                r->flags |= CACHE_RESP_DATE;
        } else if (cache_name_eq(h->name, 4, "etag")) {
            if (r->etag.p == NULL && cache_etag_valid(h->value, h->value_len)) {
                r->flags |= CACHE_RESP_ETAG | (h->value[0] == 'W' ? CACHE_RESP_ETAG_WEAK : 0);
                r->etag.p = h->value;
                r->etag.len = h->value_len;
            }
        } else if (cache_name_eq(h->name, 4, "vary")) {
            r->flags |= CACHE_RESP_VARY;
        }
        break;
    case 10:
        if (cache_name_eq(h->name, 10, "set-cookie"))
            r->flags |= CACHE_RESP_SET_COOKIE;
        break;
    case 13:
        if (cache_name_eq(h->name, 13, "content-range")) {
            r->flags |= CACHE_RESP_CONTENT_RANGE;
        } else if (cache_name_eq(h->name, 13, "last-modified")) {
            if (r->last_modified == CACHE_TIME_NONE)
                r->last_modified = cache_date_parse(h->value, h->value_len, now);
            if (r->last_modified != CACHE_TIME_NONE)
                r->flags |= CACHE_RESP_LAST_MODIFIED;
        }
        break;
    default:
        break;
    }
}

void
cache_resp_parse(struct cache_resp *r, const struct cache_policy_conf *conf, uint16_t status,
                 const struct cache_fields *f, int64_t now)
{
    const struct cache_field *h;
    bool cascade = false, cdn = false;
    size_t i;

    memset(r, 0, sizeof(*r));
    r->status = status;
    r->fields = f;
    r->date = CACHE_TIME_NONE;
    r->expires = CACHE_TIME_NONE;
    r->last_modified = CACHE_TIME_NONE;
    r->age = CACHE_DELTA_ABSENT;
    cache_cc_init(&r->cc);
    /* one pass: Cache-Control and Expires as they come, the targeted fields noted */
    for (i = 0; i < f->n; i++) {
        h = &f->v[i];
        if (h->name_len == 13 && cache_name_eq(h->name, 13, "cache-control")) {
            cache_cc_parse(&r->cc, h->value, h->value_len);
            r->src = CACHE_SRC_CACHE_CONTROL;
        } else if (h->name_len == 7 && cache_name_eq(h->name, 7, "expires")) {
            cache_resp_expires(r, h, now);
        } else if (h->name_len == 21 && cache_name_eq(h->name, 21, "cascade-cache-control")) {
            cascade = true;
        } else if (h->name_len == 17 && cache_name_eq(h->name, 17, "cdn-cache-control")) {
            cdn = true;
        } else {
            cache_resp_field(r, h, now);
        }
    }
    if ((r->flags & CACHE_RESP_VARY) && cache_vary_unmatchable(f))
        r->flags |= CACHE_RESP_VARY_STAR;
    if (!conf->targeted)
        return;
    /* SPEC: RFC 9213 2.2 -- the first valid, non-empty field of the target list
     * (most specific first) replaces Cache-Control and Expires */
    if (cascade && cache_targeted_use(r, f, "cascade-cache-control", CACHE_SRC_CASCADE))
        return;
    if (cdn)
        (void)cache_targeted_use(r, f, "cdn-cache-control", CACHE_SRC_CDN);
}

/* ------------------------------------------------------------------ */
/* Entity tags                                                         */
/* ------------------------------------------------------------------ */

/* SPEC: RFC 9110 8.8.3 -- entity-tag = [ "W/" ] DQUOTE *etagc DQUOTE */
bool
cache_etag_valid(const char *p, size_t len)
{
    size_t i = 0;
    unsigned char c;

    if (len >= 2 && p[0] == 'W' && p[1] == '/')
        i = 2;
    if (len - i < 2 || p[i] != '"' || p[len - 1] != '"')
        return false;
    for (i++; i < len - 1; i++) {
        c = (unsigned char)p[i];
        /* etagc = %x21 / %x23-7E / obs-text */
        if (c < 0x21 || c == '"' || c == 0x7f)
            return false;
    }
    return true;
}

static void
cache_etag_opaque(const char **p, size_t *len, bool *weak)
{
    *weak = *len >= 2 && (*p)[0] == 'W' && (*p)[1] == '/';
    if (*weak) {
        *p += 2;
        *len -= 2;
    }
}

/* SPEC: RFC 9110 8.8.3.2 -- strong: both strong and the same opaque-tag. */
bool
cache_etag_strong_eq(const char *a, size_t alen, const char *b, size_t blen)
{
    bool wa, wb;

    if (!cache_etag_valid(a, alen) || !cache_etag_valid(b, blen))
        return false;
    cache_etag_opaque(&a, &alen, &wa);
    cache_etag_opaque(&b, &blen, &wb);
    return !wa && !wb && alen == blen && memcmp(a, b, alen) == 0;
}

/* SPEC: RFC 9110 8.8.3.2 -- weak: the same opaque-tag, weakness ignored. */
bool
cache_etag_weak_eq(const char *a, size_t alen, const char *b, size_t blen)
{
    bool wa, wb;

    if (!cache_etag_valid(a, alen) || !cache_etag_valid(b, blen))
        return false;
    cache_etag_opaque(&a, &alen, &wa);
    cache_etag_opaque(&b, &blen, &wb);
    return alen == blen && memcmp(a, b, alen) == 0;
}

/* ------------------------------------------------------------------ */
/* Freshness and age                                                   */
/* ------------------------------------------------------------------ */

/* SPEC: RFC 9110 15.1 -- heuristically cacheable status codes. */
static bool
cache_status_heuristic(uint16_t s)
{
    switch (s) {
    case 200:
    case 203:
    case 204:
    case 206:
    case 300:
    case 301:
    case 308:
    case 404:
    case 405:
    case 410:
    case 414:
    case 501:
        return true;
    default:
        return false;
    }
}

/*
 * Status codes whose caching requirements we implement (SPEC: RFC 9111
 * 5.2.2.3 must-understand): the final codes of RFC 9110 but 206 (we store
 * no partial content) and 304 (a validation answer, never stored).
 */
static bool
cache_status_understood(uint16_t s)
{
    if (s >= 200 && s <= 205)
        return true;
    if (s >= 300 && s <= 308)
        return s != 304 && s != 306;
    if (s >= 400 && s <= 417)
        return true;
    if (s == 421 || s == 422 || s == 426)
        return true;
    return s >= 500 && s <= 505;
}

/* The response's explicit lifetime, or CACHE_DELTA_ABSENT when it has none. */
static int64_t
cache_lifetime_explicit(const struct cache_resp *r, int64_t response_time)
{
    const struct cache_cc *cc = &r->cc;
    int64_t base;

    /* SPEC: RFC 9111 4.2.1 -- s-maxage (shared), max-age, Expires - Date; an
     * invalid value is stale */
    if (cc->s_maxage != CACHE_DELTA_ABSENT)
        return cache_delta_valid(cc->s_maxage) ? cc->s_maxage : 0;
    if (cc->max_age != CACHE_DELTA_ABSENT)
        return cache_delta_valid(cc->max_age) ? cc->max_age : 0;
    if (r->flags & CACHE_RESP_EXPIRES_INVALID)
        return 0;
    if (r->flags & CACHE_RESP_EXPIRES) {
        /* SPEC: RFC 9110 6.6.1 -- no Date: the time it was received */
        base = (r->flags & CACHE_RESP_DATE) ? r->date : response_time;
        if (r->expires <= base)
            return 0;
        return r->expires - base > CACHE_DELTA_MAX ? CACHE_DELTA_MAX : r->expires - base;
    }
    return CACHE_DELTA_ABSENT;
}

/*
 * SPEC: RFC 9111 4.2.2 -- a heuristic lifetime, only for heuristically
 * cacheable statuses or "public", never with a malformed Cache-Control:
 * the negative TTL for 404 / 410, 10 % of Date - Last-Modified (capped), or
 * the configured default. 0 when none applies.
 */
static int64_t
cache_lifetime_heuristic(const struct cache_policy_conf *conf, const struct cache_resp *r,
                         int64_t response_time)
{
    int64_t base, h;

    if (r->cc.flags & CACHE_CC_MALFORMED)
        return 0;
    if (!cache_status_heuristic(r->status) && !(r->cc.flags & CACHE_CC_PUBLIC))
        return 0;
    if ((r->status == 404 || r->status == 410) && conf->negative_ttl > 0)
        return cache_sat(conf->negative_ttl);
    if ((r->flags & CACHE_RESP_LAST_MODIFIED) && conf->heuristic_percent > 0) {
        base = (r->flags & CACHE_RESP_DATE) ? r->date : response_time;
        if (r->last_modified < base) {
            h = cache_sat(base - r->last_modified);
            h = h / 100 * (int64_t)conf->heuristic_percent +
                h % 100 * (int64_t)conf->heuristic_percent / 100;
            if (h > conf->heuristic_max)
                h = conf->heuristic_max;
            if (h > 0)
                return cache_sat(h);
        }
    }
    return conf->default_ttl > 0 ? cache_sat(conf->default_ttl) : 0;
}

int64_t
cache_age_current(const struct cache_meta *m, int64_t now)
{
    int64_t resident = now - m->response_time;

    /* SPEC: RFC 9111 4.2.3 -- current_age = corrected_initial_age + resident_time;
     * a clock that went backwards adds nothing */
    if (resident < 0)
        resident = 0;
    return cache_add_sat(m->corrected_initial_age, cache_sat(resident));
}

bool
cache_is_fresh(const struct cache_meta *m, int64_t now)
{
    return m->lifetime > cache_age_current(m, now);
}

void
cache_meta_check(const struct cache_meta *m)
{
    assert(m->version == CACHE_META_VERSION);
    assert(m->corrected_initial_age >= 0 && m->corrected_initial_age <= CACHE_DELTA_MAX);
    assert(m->lifetime >= 0 && m->lifetime <= CACHE_DELTA_MAX);
    assert(m->swr == CACHE_DELTA_ABSENT || (m->swr >= 0 && m->swr <= CACHE_DELTA_MAX));
    assert(m->sie == CACHE_DELTA_ABSENT || (m->sie >= 0 && m->sie <= CACHE_DELTA_MAX));
    if (m->flags & CACHE_META_HIT_FOR_MISS)
        return;
    assert(m->status >= 200 && m->status <= 599);
    assert(m->request_time <= m->response_time);
    if (m->flags & CACHE_META_NO_CACHE)
        assert(m->flags & CACHE_META_NO_STALE);
}

/* ------------------------------------------------------------------ */
/* Storing                                                             */
/* ------------------------------------------------------------------ */

static bool
cache_cc_names(const struct cache_span *lists, uint8_t n, const char *name, size_t len)
{
    uint8_t k;

    for (k = 0; k < n; k++)
        if (cache_list_has_name(lists[k].p, lists[k].len, name, len))
            return true;
    return false;
}

/* The qualified private / no-cache of r name this field. */
static bool
cache_resp_names_field(const struct cache_resp *r, const char *name, size_t len)
{
    return cache_cc_names(r->cc.private_fields, r->cc.n_private_fields, name, len) ||
           cache_cc_names(r->cc.no_cache_fields, r->cc.n_no_cache_fields, name, len);
}

/* SPEC: RFC 9110 7.6.1 -- fields meaningful for one connection only. */
static bool
cache_hop_by_hop(const char *name, size_t len)
{
    return cache_name_eq(name, len, "connection") || cache_name_eq(name, len, "keep-alive") ||
           cache_name_eq(name, len, "proxy-connection") || cache_name_eq(name, len, "te") ||
           cache_name_eq(name, len, "transfer-encoding") || cache_name_eq(name, len, "upgrade");
}

/* SPEC: RFC 9111 3.1 -- fields of the proxy a cache forwards through. */
static bool
cache_proxy_field(const char *name, size_t len)
{
    return cache_name_eq(name, len, "proxy-authenticate") ||
           cache_name_eq(name, len, "proxy-authentication-info") ||
           cache_name_eq(name, len, "proxy-authorization");
}

/* Connection-listed (SPEC: RFC 9110 7.6.1) in fields f. */
static bool
cache_connection_listed(const struct cache_fields *f, const char *name, size_t len)
{
    const struct cache_field *line = NULL;
    uint32_t pos = 0;
    struct cache_span e;

    while (cache_fields_list_next(f, "connection", &line, &pos, &e))
        if (cache_name_eq_n(e.p, e.len, name, len))
            return true;
    return false;
}

bool
cache_policy_field_storable(const struct cache_policy_conf *conf, const struct cache_resp *r,
                            const char *name, size_t len)
{
    if (cache_hop_by_hop(name, len) || cache_proxy_field(name, len))
        return false;
    if (cache_connection_listed(r->fields, name, len))
        return false;
    if (cache_resp_names_field(r, name, len))
        return false; /* SPEC: RFC 9111 5.2.2.4, 5.2.2.7 -- qualified forms */
    if (conf->set_cookie != CACHE_COOKIE_STORE && cache_name_eq(name, len, "set-cookie"))
        return false;
    return true;
}

static void
cache_meta_init(struct cache_meta *m, uint16_t status, int64_t request_time, int64_t response_time)
{
    memset(m, 0, sizeof(*m));
    m->version = CACHE_META_VERSION;
    m->status = status;
    m->request_time = request_time <= response_time ? request_time : response_time;
    m->response_time = response_time;
    m->swr = CACHE_DELTA_ABSENT;
    m->sie = CACHE_DELTA_ABSENT;
    m->date = response_time;
    m->last_modified = CACHE_TIME_NONE;
}

static void
cache_store_hit_for_miss(const struct cache_policy_conf *conf, enum cache_why why, uint16_t status,
                         int64_t response_time, struct cache_store_decision *d,
                         struct cache_meta *meta)
{
    d->why = why;
    if (conf->hit_for_miss_ttl <= 0) {
        d->what = CACHE_STORE_NO;
        return;
    }
    d->what = CACHE_STORE_HIT_FOR_MISS;
    cache_meta_init(meta, status, response_time, response_time);
    meta->flags = CACHE_META_HIT_FOR_MISS;
    meta->lifetime = cache_sat(conf->hit_for_miss_ttl);
}

/* Response-side reasons not to store: not a hit-for-miss when status is an error. */
static void
cache_store_refuse(const struct cache_policy_conf *conf, const struct cache_resp *r,
                   enum cache_why why, int64_t response_time, struct cache_store_decision *d,
                   struct cache_meta *meta)
{
    if (r->status >= 200 && r->status < 400)
        cache_store_hit_for_miss(conf, why, r->status, response_time, d, meta);
    else {
        d->what = CACHE_STORE_NO;
        d->why = why;
    }
}

static void
cache_meta_fill(const struct cache_policy_conf *conf, const struct cache_resp *r, int64_t lifetime,
                bool heuristic, int64_t request_time, int64_t response_time, struct cache_meta *m)
{
    const struct cache_cc *cc = &r->cc;
    int64_t apparent = 0, corrected;

    cache_meta_init(m, r->status, request_time, response_time);
    /* SPEC: RFC 9111 4.2.3 */
    if (r->flags & CACHE_RESP_DATE) {
        m->date = r->date;
        if (response_time > r->date)
            apparent = cache_sat(response_time - r->date);
    }
    corrected = cache_add_sat(r->age == CACHE_DELTA_ABSENT ? 0 : r->age,
                              cache_sat(response_time - m->request_time));
    m->corrected_initial_age = conf->apparent_age && apparent > corrected ? apparent : corrected;
    m->lifetime = cache_sat(lifetime);
    if (cache_delta_valid(cc->swr))
        m->swr = cc->swr;
    else if (cc->swr == CACHE_DELTA_ABSENT && conf->swr_default > 0 && m->lifetime > 0)
        m->swr = cache_sat(conf->swr_default); /* only where the origin allowed reuse */
    if (cache_delta_valid(cc->sie))
        m->sie = cc->sie;
    if (cc->flags & CACHE_CC_NO_CACHE)
        m->flags |= CACHE_META_NO_CACHE | CACHE_META_NO_STALE;
    /* SPEC: RFC 9111 4.2.4, 5.2.2.2, 5.2.2.8, 5.2.2.10 -- no stale, ever */
    if (cc->flags & (CACHE_CC_MUST_REVALIDATE | CACHE_CC_PROXY_REVALIDATE))
        m->flags |= CACHE_META_NO_STALE;
    if (cc->s_maxage != CACHE_DELTA_ABSENT)
        m->flags |= CACHE_META_NO_STALE;
    if (cc->flags & CACHE_CC_IMMUTABLE)
        m->flags |= CACHE_META_IMMUTABLE;
    if (heuristic)
        m->flags |= CACHE_META_HEURISTIC;
    if (r->flags & CACHE_RESP_ETAG)
        m->flags |= CACHE_META_ETAG;
    if (r->flags & CACHE_RESP_LAST_MODIFIED) {
        m->flags |= CACHE_META_LAST_MODIFIED;
        m->last_modified = r->last_modified;
    }
    if (r->flags & CACHE_RESP_VARY)
        m->flags |= CACHE_META_VARY;
}

void
cache_policy_store(const struct cache_policy_conf *conf, const struct cache_req *q,
                   const struct cache_resp *r, int64_t request_time, int64_t response_time,
                   struct cache_store_decision *d, struct cache_meta *meta)
{
    const struct cache_cc *cc = &r->cc;
    int64_t lifetime;
    bool understood, heuristic = false, storable;

    memset(d, 0, sizeof(*d));
    memset(meta, 0, sizeof(*meta));
    d->what = CACHE_STORE_NO;
    /* SPEC: RFC 9111 3 -- a method we cache (GET; HEAD is answered from GET) */
    if (q->method != CACHE_M_GET) {
        d->why = CACHE_WHY_METHOD;
        return;
    }
    /* SPEC: RFC 9111 3 -- final status; 206 and 304 we do not store */
    understood = cache_status_understood(r->status);
    if (r->status < 200 || r->status > 599 || r->status == 206 || r->status == 304 ||
        (r->flags & CACHE_RESP_CONTENT_RANGE)) {
        d->why = CACHE_WHY_STATUS;
        return;
    }
    /* SPEC: RFC 9111 5.2.2.3 -- must-understand: only if we understand the
     * status, and then it overrides no-store */
    if ((cc->flags & CACHE_CC_MUST_UNDERSTAND) && !understood) {
        d->why = CACHE_WHY_STATUS;
        return;
    }
    if ((cc->flags & CACHE_CC_NO_STORE) && !(cc->flags & CACHE_CC_MUST_UNDERSTAND)) {
        cache_store_refuse(conf, r, CACHE_WHY_NO_STORE, response_time, d, meta);
        return;
    }
    /* SPEC: RFC 9111 5.2.1.5 -- request no-store */
    if (q->cc.flags & CACHE_CC_NO_STORE) {
        d->why = CACHE_WHY_REQ_NO_STORE;
        return;
    }
    /* SPEC: RFC 9111 5.2.2.7 -- unqualified private: not in a shared cache */
    if (cc->flags & CACHE_CC_PRIVATE) {
        cache_store_refuse(conf, r, CACHE_WHY_PRIVATE, response_time, d, meta);
        return;
    }
    /* SPEC: RFC 9111 3.5 -- Authorization: only if the response says so */
    if ((q->flags & CACHE_REQ_AUTHORIZATION) &&
        !(cc->flags & (CACHE_CC_PUBLIC | CACHE_CC_MUST_REVALIDATE)) &&
        cc->s_maxage == CACHE_DELTA_ABSENT) {
        d->why = CACHE_WHY_AUTHORIZATION;
        return;
    }
    /* SPEC: RFC 9111 4.1 -- Vary: * never matches: storing it is useless */
    if (r->flags & CACHE_RESP_VARY_STAR) {
        cache_store_refuse(conf, r, CACHE_WHY_VARY_STAR, response_time, d, meta);
        return;
    }
    if (r->flags & CACHE_RESP_SET_COOKIE) {
        /* not SPEC (RFC 9111 7.3 lets it be stored): one viewer's cookie must
         * never reach another; private="Set-Cookie" makes it storable without */
        if (conf->set_cookie == CACHE_COOKIE_HIT_FOR_MISS &&
            !cache_resp_names_field(r, "set-cookie", 10)) {
            cache_store_refuse(conf, r, CACHE_WHY_SET_COOKIE, response_time, d, meta);
            return;
        }
        if (conf->set_cookie != CACHE_COOKIE_STORE)
            d->strip_fields = true;
    }
    if (cc->flags & (CACHE_CC_PRIVATE_FIELDS | CACHE_CC_NO_CACHE_FIELDS))
        d->strip_fields = true;

    /* SPEC: RFC 9111 3 -- public, Expires, max-age, s-maxage, or a
     * heuristically cacheable status */
    lifetime = cache_lifetime_explicit(r, response_time);
    storable = lifetime != CACHE_DELTA_ABSENT || (cc->flags & CACHE_CC_PUBLIC) ||
               cache_status_heuristic(r->status);
    if (!storable) {
        cache_store_refuse(conf, r, CACHE_WHY_NO_FRESHNESS, response_time, d, meta);
        return;
    }
    if (lifetime == CACHE_DELTA_ABSENT) {
        lifetime = cache_lifetime_heuristic(conf, r, response_time);
        heuristic = lifetime > 0;
    }
    /* no-cache and nothing to validate with: every use would be a full fetch */
    if ((cc->flags & CACHE_CC_NO_CACHE) &&
        !(r->flags & (CACHE_RESP_ETAG | CACHE_RESP_LAST_MODIFIED))) {
        cache_store_refuse(conf, r, CACHE_WHY_NO_VALIDATOR, response_time, d, meta);
        return;
    }
    d->what = CACHE_STORE_YES;
    d->why = CACHE_WHY_OK;
    cache_meta_fill(conf, r, lifetime, heuristic, request_time, response_time, meta);
}

/* ------------------------------------------------------------------ */
/* Serving                                                             */
/* ------------------------------------------------------------------ */

bool
cache_policy_stale_on_error(const struct cache_policy_conf *conf, const struct cache_req *q,
                            const struct cache_meta *m, int64_t now)
{
    int64_t age, staleness;

    if (m == NULL || (m->flags & CACHE_META_HIT_FOR_MISS))
        return false;
    age = cache_age_current(m, now);
    if (m->lifetime > age)
        return true; /* fresh: no staleness involved */
    /* SPEC: RFC 9111 4.2.4 -- never when an explicit directive forbids it */
    if (m->flags & CACHE_META_NO_STALE)
        return false;
    staleness = age - m->lifetime;
    if (q != NULL && conf->request_directives) {
        /* SPEC: RFC 5861 4 -- the request's stale-if-error */
        if (cache_delta_valid(q->cc.sie) && staleness <= q->cc.sie)
            return true;
        /* SPEC: RFC 9111 5.2.1.2 -- the client accepts this much staleness anyway */
        if (cache_delta_valid(q->cc.max_stale) && staleness <= q->cc.max_stale)
            return true;
    }
    /* SPEC: RFC 5861 4 -- the response's window, when it gave one, is the limit */
    if (m->sie != CACHE_DELTA_ABSENT)
        return staleness <= m->sie;
    /* SPEC: RFC 9111 4.2.4 -- a disconnected cache: the configured grace */
    return conf->grace > 0 && staleness <= conf->grace;
}

/* only-if-cached (SPEC: RFC 9111 5.2.1.7): never contact the origin. */
static void
cache_serve_only_if_cached(struct cache_serve_decision *d)
{
    switch (d->what) {
    case CACHE_SERVE_STALE_REVALIDATE:
        d->what = CACHE_SERVE_STALE;
        break;
    case CACHE_SERVE_REVALIDATE:
    case CACHE_SERVE_MISS:
    case CACHE_SERVE_PASS:
        d->what = CACHE_SERVE_GATEWAY_TIMEOUT;
        d->why = CACHE_WHY_ONLY_IF_CACHED;
        break;
    default:
        break;
    }
}

static void
cache_serve_decide(const struct cache_policy_conf *conf, const struct cache_req *q,
                   const struct cache_meta *m, int64_t now, struct cache_serve_decision *d)
{
    const struct cache_cc *rc = &q->cc;
    bool reqdir = conf->request_directives, fresh, immutable;

    d->age = cache_age_current(m, now);
    fresh = m->lifetime > d->age;
    d->staleness = fresh ? 0 : d->age - m->lifetime;
    /* SPEC: RFC 8246 2 -- a fresh immutable response needs no validation,
     * whatever the client's reload asks (RFC 9110 13.2.1 note) */
    immutable = fresh && (m->flags & CACHE_META_IMMUTABLE);
    d->stale_on_error = cache_policy_stale_on_error(conf, q, m, now);

    /* SPEC: RFC 9111 4, 5.2.2.4 -- no-cache: validated before every use */
    if (m->flags & CACHE_META_NO_CACHE) {
        d->what = CACHE_SERVE_REVALIDATE;
        d->why = CACHE_WHY_NO_CACHE;
        return;
    }
    /* SPEC: RFC 9111 5.2.1.4 -- the client prefers a validated response */
    if (reqdir && !immutable &&
        ((rc->flags & CACHE_CC_NO_CACHE) || (q->flags & CACHE_REQ_PRAGMA_NO_CACHE))) {
        d->what = CACHE_SERVE_REVALIDATE;
        d->why = CACHE_WHY_REQ_NO_CACHE;
        return;
    }
    /* SPEC: RFC 9111 5.2.1.1 -- the client prefers an age <= max-age */
    if (reqdir && !immutable && cache_delta_valid(rc->max_age) && d->age > rc->max_age) {
        d->what = CACHE_SERVE_REVALIDATE;
        d->why = CACHE_WHY_REQ_MAX_AGE;
        return;
    }
    if (fresh) {
        /* SPEC: RFC 9111 5.2.1.3 -- still fresh min-fresh seconds from now */
        if (reqdir && !immutable && cache_delta_valid(rc->min_fresh) &&
            m->lifetime - d->age < rc->min_fresh) {
            d->what = CACHE_SERVE_REVALIDATE;
            d->why = CACHE_WHY_REQ_MIN_FRESH;
            return;
        }
        d->what = CACHE_SERVE_FRESH;
        d->why = CACHE_WHY_FRESH;
        return;
    }
    d->what = CACHE_SERVE_REVALIDATE;
    d->why = CACHE_WHY_STALE;
    /* SPEC: RFC 9111 4.2.4 -- stale only when nothing forbids it */
    if (m->flags & CACHE_META_NO_STALE)
        return;
    /* SPEC: RFC 9111 5.2.1.2 -- the client accepts stale */
    if (reqdir && cache_delta_valid(rc->max_stale) && d->staleness <= rc->max_stale) {
        d->what = CACHE_SERVE_STALE;
        d->why = CACHE_WHY_REQ_MAX_STALE;
        return;
    }
    /* SPEC: RFC 5861 3 -- serve stale while revalidating in the background */
    if (m->swr != CACHE_DELTA_ABSENT && d->staleness <= m->swr) {
        d->what = CACHE_SERVE_STALE_REVALIDATE;
        d->why = CACHE_WHY_SWR;
    }
}

void
cache_policy_serve(const struct cache_policy_conf *conf, const struct cache_req *q,
                   const struct cache_meta *m, int64_t now, struct cache_serve_decision *d)
{
    memset(d, 0, sizeof(*d));
    /* SPEC: RFC 9111 5.2.1.5 -- no-store: whatever comes back is not kept */
    d->store_response = !(q->cc.flags & CACHE_CC_NO_STORE);
    if (!cache_method_is_safe(q->method)) {
        /* SPEC: RFC 9111 4 -- unsafe methods are written through */
        d->what = CACHE_SERVE_PASS;
        d->why = CACHE_WHY_UNSAFE;
        return;
    }
    if (q->method != CACHE_M_GET && q->method != CACHE_M_HEAD) {
        d->what = CACHE_SERVE_PASS;
        d->why = CACHE_WHY_METHOD;
        return;
    }
    if (conf->preconditions == CACHE_PRECOND_FORWARD &&
        (q->flags & (CACHE_REQ_IF_MATCH | CACHE_REQ_IF_UNMODIFIED_SINCE))) {
        /* SPEC: RFC 9111 4.3.2 -- preconditions for the origin */
        d->what = CACHE_SERVE_PASS;
        d->why = CACHE_WHY_PRECONDITION;
    } else if (m == NULL) {
        d->what = CACHE_SERVE_MISS;
        d->why = CACHE_WHY_OK;
    } else if (m->flags & CACHE_META_HIT_FOR_MISS) {
        d->age = cache_age_current(m, now);
        d->what = d->age < m->lifetime ? CACHE_SERVE_PASS : CACHE_SERVE_MISS;
        d->why = CACHE_WHY_HIT_FOR_MISS;
    } else {
        cache_serve_decide(conf, q, m, now, d);
    }
    if (q->cc.flags & CACHE_CC_ONLY_IF_CACHED)
        cache_serve_only_if_cached(d);
}

/* ------------------------------------------------------------------ */
/* Revalidation                                                        */
/* ------------------------------------------------------------------ */

void
cache_policy_validators(const struct cache_fields *stored, struct cache_validators *v)
{
    const struct cache_field *h;

    memset(v, 0, sizeof(*v));
    /* SPEC: RFC 9111 4.3.1 -- the entity tag MUST be sent, Last-Modified SHOULD */
    h = cache_fields_find(stored, "etag", NULL);
    if (h != NULL && cache_etag_valid(h->value, h->value_len)) {
        v->etag.p = h->value;
        v->etag.len = h->value_len;
    }
    h = cache_fields_find(stored, "last-modified", NULL);
    if (h != NULL && cache_date_parse(h->value, h->value_len, 0) != CACHE_TIME_NONE) {
        v->last_modified.p = h->value;
        v->last_modified.len = h->value_len;
    }
}

enum cache_304
cache_policy_304(const struct cache_fields *stored, const struct cache_fields *resp304)
{
    struct cache_validators s, n;

    cache_policy_validators(stored, &s);
    cache_policy_validators(resp304, &n);
    /* SPEC: RFC 9111 4.3.4 -- a strong validator must be the stored one's */
    if (n.etag.p != NULL) {
        if (n.etag.p[0] != 'W')
            return s.etag.p != NULL &&
                           cache_etag_strong_eq(n.etag.p, n.etag.len, s.etag.p, s.etag.len)
                       ? CACHE_304_UPDATE
                       : CACHE_304_MISMATCH;
        /* a weak one must correspond to it */
        return s.etag.p != NULL && cache_etag_weak_eq(n.etag.p, n.etag.len, s.etag.p, s.etag.len)
                   ? CACHE_304_UPDATE
                   : CACHE_304_MISMATCH;
    }
    if (n.last_modified.p != NULL)
        return s.last_modified.p != NULL &&
                       cache_date_parse(n.last_modified.p, n.last_modified.len, 0) ==
                           cache_date_parse(s.last_modified.p, s.last_modified.len, 0)
                   ? CACHE_304_UPDATE
                   : CACHE_304_MISMATCH;
    /* no validator in the 304: only a stored response without one is updated */
    if (s.etag.p == NULL && s.last_modified.p == NULL)
        return CACHE_304_UPDATE;
    return CACHE_304_SERVE_ONLY;
}

/*
 * SPEC: RFC 9111 3.2 -- may a field of this 304 update the stored response
 * (for_client: the response to the client that caused the validation)?
 */
static bool
cache_304_updates(const struct cache_policy_conf *conf, const struct cache_resp *r304,
                  const char *name, size_t len, bool for_client)
{
    if (cache_name_eq(name, len, "content-length") || cache_name_eq(name, len, "content-range") ||
        cache_name_eq(name, len, "content-encoding"))
        return false; /* the stored body depends on them */
    if (!for_client)
        return cache_policy_field_storable(conf, r304, name, len);
    /* this client may see its own cookies and private fields; never another hop's */
    return !cache_hop_by_hop(name, len) && !cache_proxy_field(name, len) &&
           !cache_connection_listed(r304->fields, name, len);
}

int
cache_policy_merge_304(const struct cache_policy_conf *conf, const struct cache_fields *stored,
                       const struct cache_fields *resp304, bool for_client, struct cache_field *out,
                       size_t cap)
{
    struct cache_resp r304;
    const struct cache_field *h;
    size_t i, n = 0;

    /* only the 304's own directives (qualified forms, Connection) matter here */
    cache_resp_parse(&r304, conf, 304, resp304, 0);
    for (i = 0; i < stored->n; i++) {
        h = &stored->v[i];
        if (cache_fields_find_n(resp304, h->name, h->name_len, NULL) != NULL &&
            cache_304_updates(conf, &r304, h->name, h->name_len, for_client))
            continue; /* replaced below */
        if (n == cap)
            return ERR_LIMIT;
        out[n++] = *h;
    }
    for (i = 0; i < resp304->n; i++) {
        h = &resp304->v[i];
        if (!cache_304_updates(conf, &r304, h->name, h->name_len, for_client))
            continue;
        if (n == cap)
            return ERR_LIMIT;
        out[n++] = *h;
    }
    return (int)n;
}

/* The first line's value of name, or a NULL span. */
static struct cache_span
cache_field_value(const struct cache_fields *f, const char *name)
{
    const struct cache_field *h = cache_fields_find(f, name, NULL);
    struct cache_span s = {NULL, 0};

    if (h != NULL) {
        s.p = h->value;
        s.len = h->value_len;
    }
    return s;
}

static bool
cache_span_eq(struct cache_span a, struct cache_span b)
{
    return a.p != NULL && b.p != NULL && a.len == b.len && memcmp(a.p, b.p, a.len) == 0;
}

bool
cache_policy_head_matches(const struct cache_fields *stored, const struct cache_fields *head)
{
    static const char *const names[] = {"etag", "last-modified", "content-length"};
    struct cache_span h, s;
    size_t k;

    /* SPEC: RFC 9111 4.3.5 -- every validator (and Content-Length) the HEAD
     * response carries must match the stored response's */
    for (k = 0; k < ARRAY_SIZE(names); k++) {
        h = cache_field_value(head, names[k]);
        if (h.p == NULL)
            continue;
        s = cache_field_value(stored, names[k]);
        if (!cache_span_eq(h, s))
            return false;
    }
    return true;
}

/* ------------------------------------------------------------------ */
/* Answering a client from a stored response                          */
/* ------------------------------------------------------------------ */

/*
 * SPEC: RFC 9110 13.1.1, 13.1.2 -- "*" or a list of entity tags. Returns
 * 1 when some member matches etag (cmp: strong or weak), 0 when none does,
 * -1 when the field is not a valid If-Match / If-None-Match value. *star
 * tells "*" alone.
 */
static int
cache_etag_list_match(const struct cache_fields *f, const char *name, struct cache_span etag,
                      bool strong, bool *star)
{
    const struct cache_field *line = NULL;
    uint32_t pos = 0;
    struct cache_span e;
    size_t n = 0;
    bool stars = false, match = false;

    *star = false;
    while (cache_fields_list_next(f, name, &line, &pos, &e)) {
        n++;
        if (e.len == 1 && e.p[0] == '*') {
            stars = true;
            continue;
        }
        if (!cache_etag_valid(e.p, e.len))
            return -1;
        if (etag.p != NULL && (strong ? cache_etag_strong_eq(e.p, e.len, etag.p, etag.len)
                                      : cache_etag_weak_eq(e.p, e.len, etag.p, etag.len)))
            match = true;
    }
    *star = stars && n == 1;
    if (stars && n > 1)
        return -1; /* "*" with other members is invalid */
    if (n == 0)
        return -1;
    return match ? 1 : 0;
}

/* SPEC: RFC 9110 13.1.5 -- If-Range: strong entity-tag or exact strong date. */
static bool
cache_if_range_true(const struct cache_req *q, const struct cache_meta *m, struct cache_span etag)
{
    const struct cache_field *h = cache_fields_find(q->fields, "if-range", NULL);
    int64_t t;

    if (h == NULL || cache_fields_find(q->fields, "if-range", h) != NULL)
        return false;
    if (h->value_len >= 1 && (h->value[0] == '"' || (h->value_len >= 3 && h->value[2] == '"')))
        return etag.p != NULL && cache_etag_strong_eq(h->value, h->value_len, etag.p, etag.len);
    t = cache_date_parse(h->value, h->value_len, m->response_time);
    if (t == CACHE_TIME_NONE || !(m->flags & CACHE_META_LAST_MODIFIED))
        return false;
    /* SPEC: RFC 9110 8.8.2.2 -- strong only when Date is a second past it */
    if (m->date < m->last_modified + 1)
        return false;
    return t == m->last_modified;
}

/* 1*DIGIT, saturated at UINT64_MAX; false when not digits. */
static bool
cache_range_num(const char *p, size_t len, uint64_t *v)
{
    size_t i;

    if (len == 0)
        return false;
    *v = 0;
    for (i = 0; i < len; i++) {
        if (!cache_is_digit((unsigned char)p[i]))
            return false;
        if (*v > (UINT64_MAX - 9) / 10)
            *v = UINT64_MAX;
        else
            *v = *v * 10 + (uint64_t)(p[i] - '0');
    }
    return true;
}

struct cache_range {
    uint64_t first, last;
};

/*
 * The satisfiable ranges of a bytes Range for a representation of length
 * (SPEC: RFC 9110 14.1.2). Returns how many are satisfiable (0: none,
 * 416), or -1 when Range must be ignored (invalid, another unit, too many).
 */
static int
cache_range_parse(const char *p, size_t len, uint64_t length, struct cache_range *out)
{
    size_t i, s, dash, n = 0, specs = 0;
    uint64_t a, b;

    /* SPEC: RFC 9110 14.1 -- ranges-specifier = range-unit "=" range-set */
    if (len < 6 || !cache_name_eq(p, 5, "bytes") || p[5] != '=')
        return -1;
    for (i = 6; i <= len;) {
        while (i < len && (p[i] == ' ' || p[i] == '\t'))
            i++;
        s = i;
        while (i < len && p[i] != ',')
            i++;
        {
            size_t e = i;

            while (e > s && (p[e - 1] == ' ' || p[e - 1] == '\t'))
                e--;
            i++;
            if (e == s)
                continue; /* an empty list element */
            if (++specs > CACHE_RANGES_MAX)
                return -1;
            for (dash = s; dash < e && p[dash] != '-'; dash++)
                ;
            if (dash == e)
                return -1;
            if (dash == s) {
                /* suffix-range: the last N bytes, N > 0 */
                if (!cache_range_num(p + dash + 1, e - dash - 1, &b))
                    return -1;
                if (b == 0 || length == 0)
                    continue;
                out[n].first = b >= length ? 0 : length - b;
                out[n].last = length - 1;
                n++;
                continue;
            }
            if (!cache_range_num(p + s, dash - s, &a))
                return -1;
            if (dash + 1 < e) {
                if (!cache_range_num(p + dash + 1, e - dash - 1, &b))
                    return -1;
                if (b < a)
                    return -1; /* SPEC: RFC 9110 14.1.1 -- an invalid int-range */
            } else {
                b = UINT64_MAX;
            }
            if (a >= length)
                continue; /* unsatisfiable */
            out[n].first = a;
            out[n].last = b >= length ? length - 1 : b;
            n++;
        }
    }
    return specs == 0 ? -1 : (int)n;
}

/*
 * One range to send for n satisfiable ones: all of them when they overlap
 * or touch (SPEC: RFC 9110 15.3.7.2 coalescing), else the first requested
 * (15.3.7 -- a server may send a subset).
 */
static struct cache_range
cache_range_pick(const struct cache_range *r, size_t n)
{
    struct cache_range u = r[0];
    size_t k;
    bool grew = true;
    bool used[CACHE_RANGES_MAX] = {false};

    used[0] = true;
    while (grew) {
        grew = false;
        for (k = 1; k < n; k++) {
            if (used[k])
                continue;
            if (r[k].first <= (u.last == UINT64_MAX ? u.last : u.last + 1) &&
                (r[k].last == UINT64_MAX || r[k].last + 1 >= u.first)) {
                u.first = r[k].first < u.first ? r[k].first : u.first;
                u.last = r[k].last > u.last ? r[k].last : u.last;
                used[k] = true;
                grew = true;
            }
        }
    }
    for (k = 0; k < n; k++)
        if (!used[k])
            return r[0];
    return u;
}

void
cache_policy_conditional(const struct cache_policy_conf *conf, const struct cache_req *q,
                         const struct cache_fields *stored, const struct cache_meta *m,
                         uint64_t length, struct cache_cond_result *res)
{
    struct cache_range ranges[CACHE_RANGES_MAX], pick;
    const struct cache_field *range;
    struct cache_span etag = {NULL, 0};
    const struct cache_field *h;
    bool star;
    int rc;

    memset(res, 0, sizeof(*res));
    res->what = CACHE_COND_200;
    res->length = length;
    if (q->method != CACHE_M_GET && q->method != CACHE_M_HEAD)
        return;
    /* SPEC: RFC 9110 13.2.1 -- preconditions only when the answer would be 2xx */
    if (m->status < 200 || m->status > 299)
        return;
    h = cache_fields_find(stored, "etag", NULL);
    if (h != NULL && cache_etag_valid(h->value, h->value_len)) {
        etag.p = h->value;
        etag.len = h->value_len;
    }
    /* SPEC: RFC 9110 13.2.2 step 1 -- If-Match (strong comparison) */
    if (q->flags & CACHE_REQ_IF_MATCH) {
        if (conf->preconditions == CACHE_PRECOND_FORWARD) {
            res->what = CACHE_COND_FORWARD;
            return;
        }
        rc = cache_etag_list_match(q->fields, "if-match", etag, true, &star);
        if (!(star || rc == 1)) {
            res->what = CACHE_COND_412;
            return;
        }
    } else if (q->flags & CACHE_REQ_IF_UNMODIFIED_SINCE) {
        /* step 2 -- If-Unmodified-Since, ignored without a modification date */
        if (conf->preconditions == CACHE_PRECOND_FORWARD) {
            res->what = CACHE_COND_FORWARD;
            return;
        }
        if ((m->flags & CACHE_META_LAST_MODIFIED) && m->last_modified > q->if_unmodified_since) {
            res->what = CACHE_COND_412;
            return;
        }
    }
    /* step 3 -- If-None-Match (weak comparison): 304 for GET and HEAD */
    if (q->flags & CACHE_REQ_IF_NONE_MATCH) {
        rc = cache_etag_list_match(q->fields, "if-none-match", etag, false, &star);
        if (star || rc == 1) {
            res->what = CACHE_COND_304;
            return;
        }
    } else if (q->flags & CACHE_REQ_IF_MODIFIED_SINCE) {
        /* step 4 -- If-Modified-Since; SPEC: RFC 9111 4.3.2 -- without
         * Last-Modified, the stored Date (or the time it was received) */
        if ((m->flags & CACHE_META_LAST_MODIFIED ? m->last_modified : m->date) <=
            q->if_modified_since) {
            res->what = CACHE_COND_304;
            return;
        }
    }
    /* step 5 -- Range, for GET of a stored 200 only (SPEC: RFC 9110 14.2) */
    if (q->method != CACHE_M_GET || !(q->flags & CACHE_REQ_RANGE) || m->status != 200)
        return;
    range = cache_fields_find(q->fields, "range", NULL);
    if (range == NULL || cache_fields_find(q->fields, "range", range) != NULL)
        return; /* several Range fields: not a valid ranges-specifier */
    if ((q->flags & CACHE_REQ_IF_RANGE) && !cache_if_range_true(q, m, etag))
        return; /* SPEC: RFC 9110 13.1.5 -- the whole representation instead */
    if (length == 0)
        return; /* SPEC: RFC 9110 14.2 -- a server MAY ignore Range then */
    rc = cache_range_parse(range->value, range->value_len, length, ranges);
    if (rc < 0)
        return;
    if (rc == 0) {
        res->what = CACHE_COND_416;
        (void)snprintf(res->content_range, sizeof(res->content_range), "bytes */%llu",
                       (unsigned long long)length);
        return;
    }
    pick = cache_range_pick(ranges, (size_t)rc);
    res->what = CACHE_COND_206;
    res->first = pick.first;
    res->last = pick.last;
    (void)snprintf(res->content_range, sizeof(res->content_range), "bytes %llu-%llu/%llu",
                   (unsigned long long)pick.first, (unsigned long long)pick.last,
                   (unsigned long long)length);
}

bool
cache_policy_field_in_304(const char *name, size_t len, bool has_etag)
{
    /* SPEC: RFC 9110 15.4.5 */
    return cache_name_eq(name, len, "cache-control") ||
           cache_name_eq(name, len, "content-location") || cache_name_eq(name, len, "date") ||
           cache_name_eq(name, len, "etag") || cache_name_eq(name, len, "expires") ||
           cache_name_eq(name, len, "vary") || cache_name_eq(name, len, "cdn-cache-control") ||
           cache_name_eq(name, len, "cascade-cache-control") ||
           (!has_etag && cache_name_eq(name, len, "last-modified"));
}

/* ------------------------------------------------------------------ */
/* Invalidation                                                        */
/* ------------------------------------------------------------------ */

/* The length of the host part of a key (up to its path's '/'). */
static size_t
cache_key_host_len(const char *key, size_t len)
{
    size_t i = 0;

    while (i < len && key[i] != '/')
        i++;
    return i;
}

/*
 * Resolves reference ref against (host, target) into a key at buf, which
 * holds CACHE_KEY_MAX bytes (SPEC: RFC 3986 5.2.2). Returns the key's
 * length, or 0 when the reference is not same-origin or gives a key
 * nothing can be stored under.
 */
static int
cache_invalidation_key(bool https, const char *host, size_t host_len, const char *target,
                       size_t target_len, const char *ref, size_t ref_len, const char *tkey,
                       size_t tkey_len, char *buf)
{
    const size_t cap = CACHE_KEY_MAX;
    char tmp[CACHE_KEY_MAX];
    size_t n = 0, i, dir, tq;
    uint16_t port = https ? 443 : 80;
    int len;

    for (i = 0; i < ref_len && ref[i] != '#'; i++)
        ;
    ref_len = i; /* the fragment is not part of the URI */
    for (tq = 0; tq < target_len && target[tq] != '?'; tq++)
        ;
    for (i = 0; i < ref_len && ref[i] != ':' && ref[i] != '/' && ref[i] != '?'; i++)
        ;
    if (i < ref_len && ref[i] == ':') {
        /* an absolute URI: same scheme, then same authority (compared below) */
        if (!(https ? (i == 5 && cache_name_eq(ref, 5, "https"))
                    : (i == 4 && cache_name_eq(ref, 4, "http"))))
            return 0;
        len = cache_key_build(buf, cap, "", 0, port, ref, ref_len);
    } else if (ref_len >= 2 && ref[0] == '/' && ref[1] == '/') {
        /* a network-path reference: the target's scheme */
        n = (size_t)snprintf(tmp, sizeof(tmp), "%s:", https ? "https" : "http");
        if (n + ref_len > sizeof(tmp))
            return 0;
        memcpy(tmp + n, ref, ref_len);
        len = cache_key_build(buf, cap, "", 0, port, tmp, n + ref_len);
    } else if (ref_len >= 1 && ref[0] == '/') {
        len = cache_key_build(buf, cap, host, host_len, port, ref, ref_len);
    } else {
        /* a relative reference: merged with the target's path (RFC 3986 5.2.3) */
        if (target_len == 0 || target[0] != '/')
            return 0;
        if (ref_len == 0 || ref[0] == '?') {
            dir = tq; /* the same path, maybe another query */
        } else {
            for (dir = tq; dir > 0 && target[dir - 1] != '/'; dir--)
                ;
        }
        if (dir + ref_len + (ref_len == 0 ? target_len - tq : 0) > sizeof(tmp))
            return 0;
        memcpy(tmp, target, dir);
        n = dir;
        if (ref_len == 0) {
            memcpy(tmp + n, target + tq, target_len - tq);
            n += target_len - tq;
        } else {
            memcpy(tmp + n, ref, ref_len);
            n += ref_len;
        }
        len = cache_key_build(buf, cap, host, host_len, port, tmp, n);
    }
    if (len <= 0)
        return 0;
    /* SPEC: RFC 9111 4.4 -- never another origin */
    if (cache_key_host_len(buf, (size_t)len) != cache_key_host_len(tkey, tkey_len) ||
        memcmp(buf, tkey, cache_key_host_len(tkey, tkey_len)) != 0)
        return 0;
    return len;
}

int
cache_policy_invalidations(enum cache_method m, uint16_t status, bool https, const char *host,
                           size_t host_len, const char *target, size_t target_len,
                           const struct cache_fields *resp, char *buf, size_t cap,
                           struct cache_invalidation *inv)
{
    static const char *const refs[] = {"location", "content-location"};
    const struct cache_field *h;
    char tkey[CACHE_KEY_MAX], key[CACHE_KEY_MAX];
    size_t used, k, j, tlen;
    int len;

    memset(inv, 0, sizeof(*inv));
    /* SPEC: RFC 9111 4.4 -- unsafe methods (unknown ones too), non-error status */
    if (cache_method_is_safe(m) || status < 200 || status > 399)
        return 0;
    len = cache_key_build(tkey, sizeof(tkey), host, host_len, https ? 443 : 80, target, target_len);
    if (len <= 0)
        return 0; /* a target nothing can be stored under */
    tlen = (size_t)len;
    if (tlen > cap)
        return ERR_LIMIT;
    memcpy(buf, tkey, tlen);
    inv->key[0].off = 0;
    inv->key[0].len = (uint32_t)tlen;
    inv->n = 1;
    used = tlen;
    for (k = 0; k < ARRAY_SIZE(refs); k++) {
        h = cache_fields_find(resp, refs[k], NULL);
        if (h == NULL)
            continue;
        len = cache_invalidation_key(https, host, host_len, target, target_len, h->value,
                                     h->value_len, tkey, tlen, key);
        if (len <= 0)
            continue;
        for (j = 0; j < inv->n; j++)
            if (inv->key[j].len == (uint32_t)len &&
                memcmp(buf + inv->key[j].off, key, (size_t)len) == 0)
                break;
        if (j < inv->n)
            continue; /* the same key twice */
        if ((size_t)len > cap - used)
            return ERR_LIMIT;
        memcpy(buf + used, key, (size_t)len);
        inv->key[inv->n].off = (uint32_t)used;
        inv->key[inv->n].len = (uint32_t)len;
        inv->n++;
        used += (size_t)len;
    }
    return inv->n;
}

/* ------------------------------------------------------------------ */

const char *
cache_why_str(enum cache_why why)
{
    static const char *const names[] = {
        [CACHE_WHY_OK] = "ok",
        [CACHE_WHY_METHOD] = "method",
        [CACHE_WHY_STATUS] = "status",
        [CACHE_WHY_NO_STORE] = "no_store",
        [CACHE_WHY_REQ_NO_STORE] = "req_no_store",
        [CACHE_WHY_PRIVATE] = "private",
        [CACHE_WHY_AUTHORIZATION] = "authorization",
        [CACHE_WHY_SET_COOKIE] = "set_cookie",
        [CACHE_WHY_VARY_STAR] = "vary_star",
        [CACHE_WHY_NO_FRESHNESS] = "no_freshness",
        [CACHE_WHY_NO_VALIDATOR] = "no_validator",
        [CACHE_WHY_HIT_FOR_MISS] = "hit_for_miss",
        [CACHE_WHY_FRESH] = "fresh",
        [CACHE_WHY_STALE] = "stale",
        [CACHE_WHY_REQ_NO_CACHE] = "req_no_cache",
        [CACHE_WHY_REQ_MAX_AGE] = "req_max_age",
        [CACHE_WHY_REQ_MIN_FRESH] = "req_min_fresh",
        [CACHE_WHY_REQ_MAX_STALE] = "req_max_stale",
        [CACHE_WHY_SWR] = "stale_while_revalidate",
        [CACHE_WHY_NO_CACHE] = "no_cache",
        [CACHE_WHY_ONLY_IF_CACHED] = "only_if_cached",
        [CACHE_WHY_UNSAFE] = "unsafe",
        [CACHE_WHY_PRECONDITION] = "precondition",
    };

    if ((size_t)why >= ARRAY_SIZE(names) || names[why] == NULL)
        return "unknown";
    return names[why];
}
