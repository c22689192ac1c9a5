/*
 * http1.c -- the HTTP/1.1 head and body parsers (SPEC: RFC 9112, RFC 9110).
 *
 * Both are byte-driven state machines whose every decision depends only on
 * the bytes before it and on fixed byte positions (the limits), so how the
 * input was split between calls never changes the answer. The head parser
 * keeps its cursor in a local struct http1_cur and writes it back only on
 * progress; an error therefore leaves the cursor where the call found it.
 * Hot loops are table lookups, plus an 8-bytes-at-a-time skip over field
 * values and request targets that only ever lets ordinary bytes through.
 *
 * Not here: I/O, buffering, header semantics beyond framing (Range,
 * caching, CMCD), URL normalization. Owns nothing: results are offsets into
 * the caller's buffer.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "../err.h"
#include "http1.h"
#include "../compat.h"

const struct http1_limits http1_default_limits = {
    .max_line = 8192,
    .max_field = 8192,
    .max_head = 32768,
    .max_headers = HTTP1_MAX_HEADERS,
};

/* Head parser states, in the order a message goes through them. */
enum http1_head_state {
    H_REQ_START = 0, /* before the request line: empty lines are skipped */
    H_METHOD,
    H_TARGET,
    H_REQ_VERSION, /* "HTTP/1.x" CRLF; mark is the version's first byte */
    H_STATUS_LINE, /* "HTTP/1.x SP ddd SP"; mark is the line's first byte */
    H_REASON,
    H_FIELD_START, /* at the first byte of a field line or of the blank line */
    H_NAME,
    H_OWS, /* after the colon */
    H_VALUE,
    H_DONE, /* pos is the head length */
};

/* Body parser states. */
enum http1_body_state {
    B_LENGTH = 0, /* Content-Length bytes; left is what remains */
    B_EOF,        /* until the connection closes */
    B_SIZE,       /* chunk-size hex digits; left accumulates the size */
    B_SIZE_BWS,   /* whitespace after the size: only ';' may follow */
    B_EXT,        /* chunk extensions, skipped up to CR */
    B_SIZE_LF,
    B_DATA, /* chunk data; left is what remains of the chunk */
    B_DATA_CR,
    B_DATA_LF,
    B_TRAILER_START, /* at the first byte of a trailer line or the final CRLF */
    B_TRAILER_NAME,
    B_TRAILER_VALUE,
    B_TRAILER_LF,
    B_END_LF, /* the CR of the final CRLF was seen */
    B_DONE,
    B_TOO_LARGE, /* Content-Length over max_body: every call fails */
};

/* Character classes, one bit each (SPEC: RFC 9110 5.6.2 tchar, 5.5 field-vchar). */
#define CC_TCHAR 0x01  /* token characters */
#define CC_VALUE 0x02  /* field value: HTAB SP VCHAR obs-text */
#define CC_TARGET 0x04 /* request-target: VCHAR except '#' */
#define CC_HOST 0x08   /* Host: unreserved sub-delims pct-encoded ':' '[' ']' */
#define CC_DIGIT 0x10
#define CC_HEX 0x20
#define CC_OWS 0x40 /* SP HTAB */

/* clang-format off */
static const uint8_t http1_cc[256] = {
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x42, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x42, 0x0f, 0x06, 0x03, 0x0f, 0x0f, 0x0f, 0x0f, 0x0e, 0x0e, 0x0f, 0x0f, 0x0e, 0x0f, 0x0f, 0x06,
    0x3f, 0x3f, 0x3f, 0x3f, 0x3f, 0x3f, 0x3f, 0x3f, 0x3f, 0x3f, 0x0e, 0x0e, 0x06, 0x0e, 0x06, 0x06,
    0x06, 0x2f, 0x2f, 0x2f, 0x2f, 0x2f, 0x2f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f,
    0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0e, 0x06, 0x0e, 0x07, 0x0f,
    0x07, 0x2f, 0x2f, 0x2f, 0x2f, 0x2f, 0x2f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f,
    0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x06, 0x07, 0x06, 0x0f, 0x00,
    0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02,
    0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02,
    0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02,
    0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02,
    0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02,
    0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02,
    0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02,
    0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02,
};
/* clang-format on */

#define HTTP1_IS(b, cls) ((http1_cc[(uint8_t)(b)] & (cls)) != 0)

/* 8-byte skips. HTTP1_HAS_LESS(x, n) is non-zero when some byte of x is
 * below n (n <= 0x80); it may also flag a byte next to a real hit, never
 * miss one, so it only decides whether the bytes need a closer look. */
#define HTTP1_ONES 0x0101010101010101ULL
#define HTTP1_HIGHS 0x8080808080808080ULL
#define HTTP1_HAS_LESS(x, n) (((x)-HTTP1_ONES * (n)) & ~(x)&HTTP1_HIGHS)
#define HTTP1_HAS_BYTE(x, b) HTTP1_HAS_LESS((x) ^ (HTTP1_ONES * (b)), 1)

/* A private cursor, kept in registers and written back on progress. */
struct http1_cur {
    const uint8_t *p; /* borrowed: the caller's head buffer */
    uint32_t avail;   /* bytes that may be looked at: min(len, max_head) */
    uint32_t pos;
    uint32_t mark;
    uint32_t line_start;
    int state;
    uint16_t nhdrs;
};

static inline uint8_t
http1_lower(uint8_t b)
{
    return (uint8_t)(b + (((unsigned)b - 'A' < 26u) ? 32 : 0));
}

static inline uint64_t
http1_load8(const uint8_t *p)
{
    uint64_t x;

    memcpy(&x, p, sizeof(x));
    return x;
}

static inline uint32_t
http1_min32(uint32_t a, uint32_t b)
{
    return a < b ? a : b;
}

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
/* On little-endian machines the lowest flagged byte is always a real hit
 * (a borrow only runs upward), so its index comes straight from ctz. */
#define HTTP1_FIRST_HIT(hit) ((uint32_t)__builtin_ctzll(hit) >> 3)
#endif

/* First index >= i below end whose byte is not field-value (CC_VALUE). */
static inline uint32_t
http1_scan_value(const uint8_t *p, uint32_t i, uint32_t end)
{
    while (end - i >= 8) {
        uint64_t x = http1_load8(p + i);
        uint64_t hit = HTTP1_HAS_LESS(x, 0x20) | HTTP1_HAS_BYTE(x, 0x7f);

        if (hit != 0) {
#ifdef HTTP1_FIRST_HIT
            /* a byte below 0x20 or DEL: a stop unless it is HTAB */
            i += HTTP1_FIRST_HIT(hit);
            if (p[i] != '\t')
                return i;
            i++;
            continue;
#else
            uint32_t k;

            for (k = 0; k < 8; k++)
                if (!HTTP1_IS(p[i + k], CC_VALUE))
                    return i + k;
#endif
        }
        i += 8;
    }
    while (i < end && HTTP1_IS(p[i], CC_VALUE))
        i++;
    return i;
}

/* First index >= i below end whose byte is not request-target (CC_TARGET). */
static inline uint32_t
http1_scan_target(const uint8_t *p, uint32_t i, uint32_t end)
{
    while (end - i >= 8) {
        uint64_t x = http1_load8(p + i);
        uint64_t hit = HTTP1_HAS_LESS(x, 0x21) | (x & HTTP1_HIGHS) | HTTP1_HAS_BYTE(x, 0x7f) |
                       HTTP1_HAS_BYTE(x, '#');

        if (hit != 0) {
#ifdef HTTP1_FIRST_HIT
            return i + HTTP1_FIRST_HIT(hit); /* every flagged byte is a stop */
#else
            uint32_t k;

            for (k = 0; k < 8; k++)
                if (!HTTP1_IS(p[i + k], CC_TARGET))
                    return i + k;
#endif
        }
        i += 8;
    }
    while (i < end && HTTP1_IS(p[i], CC_TARGET))
        i++;
    return i;
}

/* First index >= i below end whose byte is not a tchar; four at a time. */
static inline uint32_t
http1_scan_token(const uint8_t *p, uint32_t i, uint32_t end)
{
    while (end - i >= 4 && (http1_cc[p[i]] & http1_cc[p[i + 1]] & http1_cc[p[i + 2]] &
                            http1_cc[p[i + 3]] & CC_TCHAR) != 0)
        i += 4;
    while (i < end && HTTP1_IS(p[i], CC_TCHAR))
        i++;
    return i;
}

/* Case-insensitive compare of n bytes of s with lit (lowercase). */
static inline bool
http1_lit_eq(const uint8_t *s, const char *lit, uint32_t n)
{
    uint32_t k;

    for (k = 0; k < n; k++)
        if (http1_lower(s[k]) != (uint8_t)lit[k])
            return false;
    return true;
}

static inline uint32_t
http1_line_limit(uint32_t start, uint32_t max)
{
    return max > UINT32_MAX - start ? UINT32_MAX : start + max;
}

static inline struct http1_span
http1_span_make(uint32_t off, uint32_t end)
{
    struct http1_span s = {off, end - off};

    return s;
}

/* Byte i is needed but not available: wait for it, unless it lies past
 * the head limit. */
static int
http1_starve(struct http1_msg *m, uint32_t i)
{
    if (i >= m->lim.max_head) {
        m->error = HTTP1_E_HEAD_TOO_LARGE;
        return ERR_LIMIT;
    }
    return ERR_AGAIN;
}

/*
 * A scan stopped at i. Returns 0 when the state may judge p[i]: it is
 * available, and inside the line or the CR that ends a full line. At the
 * line limit anything but CR is line_err.
 */
static int
http1_stop(struct http1_msg *m, const struct http1_cur *c, uint32_t i, uint32_t line_lim,
           enum http1_error line_err)
{
    if (i >= c->avail)
        return http1_starve(m, i);
    if (i >= line_lim && c->p[i] != '\r') {
        m->error = line_err;
        return ERR_LIMIT;
    }
    return 0;
}

/* p[i] is CR. SPEC: RFC 9112 2.2 -- a bare CR is rejected, never read as
 * a line end or replaced by SP. */
static int
http1_crlf(struct http1_msg *m, const struct http1_cur *c, uint32_t i, enum http1_error err)
{
    if (i + 1 >= c->avail)
        return http1_starve(m, i + 1);
    if (c->p[i + 1] != '\n') {
        m->error = err;
        return ERR_PROTO;
    }
    return 0;
}

static int
http1_fail(struct http1_msg *m, enum http1_error err)
{
    m->error = err;
    return ERR_PROTO;
}

/* SPEC: RFC 9110 9.1 -- method names are case-sensitive. */
static enum http1_method
http1_method_id(const uint8_t *s, uint32_t n)
{
    switch (n) {
    case 3:
        if (memcmp(s, "GET", 3) == 0)
            return HTTP1_M_GET;
        if (memcmp(s, "PUT", 3) == 0)
            return HTTP1_M_PUT;
        break;
    case 4:
        if (memcmp(s, "HEAD", 4) == 0)
            return HTTP1_M_HEAD;
        if (memcmp(s, "POST", 4) == 0)
            return HTTP1_M_POST;
        break;
    case 5:
        if (memcmp(s, "PATCH", 5) == 0)
            return HTTP1_M_PATCH;
        if (memcmp(s, "PURGE", 5) == 0)
            return HTTP1_M_PURGE;
        if (memcmp(s, "TRACE", 5) == 0)
            return HTTP1_M_TRACE;
        break;
    case 6:
        if (memcmp(s, "DELETE", 6) == 0)
            return HTTP1_M_DELETE;
        break;
    case 7:
        if (memcmp(s, "OPTIONS", 7) == 0)
            return HTTP1_M_OPTIONS;
        if (memcmp(s, "CONNECT", 7) == 0)
            return HTTP1_M_CONNECT;
        break;
    default:
        break;
    }
    return HTTP1_M_OTHER;
}

/* SPEC: RFC 9112 3.2.3 -- authority-form is uri-host ":" port, CONNECT only. */
static bool
http1_authority_ok(const uint8_t *s, uint32_t n)
{
    uint32_t k, colon = n;

    for (k = 0; k < n; k++) {
        if (!HTTP1_IS(s[k], CC_HOST))
            return false;
        if (s[k] == ':')
            colon = k;
    }
    if (colon == 0 || colon >= n - 1)
        return false;
    for (k = colon + 1; k < n; k++)
        if (!HTTP1_IS(s[k], CC_DIGIT))
            return false;
    return true;
}

/*
 * SPEC: RFC 9112 3.2 -- origin-form ("/..."), absolute-form (scheme ":"
 * ...), authority-form for CONNECT only, asterisk-form for OPTIONS only.
 */
static bool
http1_target_ok(enum http1_method meth, const uint8_t *s, uint32_t n)
{
    uint32_t k;

    if (meth == HTTP1_M_CONNECT)
        return http1_authority_ok(s, n);
    if (s[0] == '/')
        return true;
    if (n == 1 && s[0] == '*')
        return meth == HTTP1_M_OPTIONS;
    if (http1_lower(s[0]) < 'a' || http1_lower(s[0]) > 'z')
        return false;
    /* SPEC: RFC 3986 3.1 -- scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) */
    for (k = 1; k < n; k++) {
        uint8_t b = s[k];

        if (b == ':')
            return k + 1 < n;
        if (!(HTTP1_IS(b, CC_DIGIT) || (http1_lower(b) >= 'a' && http1_lower(b) <= 'z') ||
              b == '+' || b == '-' || b == '.'))
            return false;
    }
    return false;
}

/*
 * "HTTP/1.<d>" at c->mark, resumed at *pi. SPEC: RFC 9112 2.3 -- the name
 * is case-sensitive; a major version other than 1 is HTTP1_E_VERSION (505),
 * anything else malformed is a bad start line.
 */
static int
http1_version(struct http1_msg *m, struct http1_cur *c, uint32_t *pi, uint32_t lim,
              enum http1_error line_err)
{
    const uint8_t *p = c->p;
    uint32_t i = *pi, k;
    int rc = 0;

    if (i == c->mark && c->avail - i >= 8 && lim - i >= 8 && memcmp(p + i, "HTTP/1.", 7) == 0 &&
        HTTP1_IS(p[i + 7], CC_DIGIT)) {
        i += 8;
    } else {
        while ((k = i - c->mark) < 8) {
            uint8_t b;

            rc = http1_stop(m, c, i, lim, line_err);
            if (rc != 0)
                break;
            b = p[i];
            if (k == 5 || k == 7) {
                if (!HTTP1_IS(b, CC_DIGIT)) {
                    rc = http1_fail(m, HTTP1_E_START_LINE);
                    break;
                }
                if (k == 5 && b != '1') {
                    rc = http1_fail(m, HTTP1_E_VERSION);
                    break;
                }
            } else if (b != (uint8_t) "HTTP/1."[k]) {
                rc = http1_fail(m, HTTP1_E_START_LINE);
                break;
            }
            i++;
        }
    }
    if (rc == 0)
        m->version_minor = (uint8_t)(p[c->mark + 7] - '0');
    *pi = i;
    return rc;
}

/* SPEC: RFC 9112 3 -- request-line = method SP request-target SP HTTP-version CRLF */
static int
http1_request_line(struct http1_msg *m, struct http1_cur *c)
{
    const uint8_t *p = c->p;
    uint32_t i = c->pos, lim = http1_line_limit(c->line_start, m->lim.max_line);
    int rc = 0;

    switch (c->state) {
    case H_REQ_START:
        /* SPEC: RFC 9112 2.2 -- ignore empty lines before the request-line */
        for (;;) {
            if (i >= c->avail) {
                rc = http1_starve(m, i);
                goto out;
            }
            if (p[i] != '\r')
                break;
            rc = http1_crlf(m, c, i, HTTP1_E_START_LINE);
            if (rc != 0)
                goto out;
            i += 2;
        }
        c->line_start = c->mark = i;
        lim = http1_line_limit(i, m->lim.max_line);
        c->state = H_METHOD;
        /* fallthrough */
    case H_METHOD:
        i = http1_scan_token(p, i, http1_min32(c->avail, lim));
        rc = http1_stop(m, c, i, lim, HTTP1_E_URI_TOO_LONG);
        if (rc != 0)
            goto out;
        if (i == c->mark) {
            rc = http1_fail(m, HTTP1_E_START_LINE);
            goto out;
        }
        if (p[i] != ' ') {
            rc = http1_fail(m, HTTP1_E_METHOD);
            goto out;
        }
        m->method_tok = http1_span_make(c->mark, i);
        m->method = http1_method_id(p + c->mark, i - c->mark);
        c->mark = ++i;
        c->state = H_TARGET;
        /* fallthrough */
    case H_TARGET:
        i = http1_scan_target(p, i, http1_min32(c->avail, lim));
        rc = http1_stop(m, c, i, lim, HTTP1_E_URI_TOO_LONG);
        if (rc != 0)
            goto out;
        if (p[i] != ' ') {
            rc = http1_fail(m, p[i] == '\r' ? HTTP1_E_START_LINE : HTTP1_E_TARGET);
            goto out;
        }
        if (i == c->mark) {
            rc = http1_fail(m, HTTP1_E_TARGET);
            goto out;
        }
        m->target = http1_span_make(c->mark, i);
        c->mark = ++i;
        c->state = H_REQ_VERSION;
        /* fallthrough */
    case H_REQ_VERSION:
        rc = http1_version(m, c, &i, lim, HTTP1_E_URI_TOO_LONG);
        if (rc != 0)
            goto out;
        rc = http1_stop(m, c, i, lim, HTTP1_E_URI_TOO_LONG);
        if (rc != 0)
            goto out;
        if (p[i] != '\r') {
            rc = http1_fail(m, HTTP1_E_START_LINE);
            goto out;
        }
        rc = http1_crlf(m, c, i, HTTP1_E_START_LINE);
        if (rc != 0)
            goto out;
        /* the form is judged once the line is whole, so that a bad
         * version ("PRI * HTTP/2.0") is reported as such */
        if (!http1_target_ok(m->method, p + m->target.off, m->target.len)) {
            rc = http1_fail(m, HTTP1_E_TARGET);
            goto out;
        }
        i += 2;
        c->line_start = c->mark = i;
        c->state = H_FIELD_START;
        break;
    default:
        assert(!"http1: bad request line state");
    }
out:
    c->pos = i;
    return rc;
}

/* SPEC: RFC 9112 4 -- status-line = HTTP-version SP status-code SP [ reason-phrase ] CRLF */
static int
http1_status_line(struct http1_msg *m, struct http1_cur *c)
{
    const uint8_t *p = c->p;
    uint32_t i = c->pos, k, lim = http1_line_limit(c->line_start, m->lim.max_line);
    int rc = 0;

    switch (c->state) {
    case H_STATUS_LINE:
        rc = http1_version(m, c, &i, lim, HTTP1_E_HEAD_TOO_LARGE);
        if (rc != 0)
            goto out;
        /* SP 3DIGIT, then SP, or CR: an empty reason without its SP is
         * accepted, as it changes nothing about framing. */
        while ((k = i - c->mark) < 13) {
            uint8_t b;

            rc = http1_stop(m, c, i, lim, HTTP1_E_HEAD_TOO_LARGE);
            if (rc != 0)
                goto out;
            b = p[i];
            if (k == 12 && b == '\r')
                break;
            if ((k == 8 || k == 12) ? b != ' ' : !HTTP1_IS(b, CC_DIGIT)) {
                rc = http1_fail(m, HTTP1_E_START_LINE);
                goto out;
            }
            i++;
        }
        m->status = (uint16_t)((p[c->mark + 9] - '0') * 100 + (p[c->mark + 10] - '0') * 10 +
                               (p[c->mark + 11] - '0'));
        /* SPEC: RFC 9110 15 -- valid status codes are 100..599 */
        if (m->status < 100 || m->status > 599) {
            rc = http1_fail(m, HTTP1_E_START_LINE);
            goto out;
        }
        c->mark = i;
        c->state = H_REASON;
        /* fallthrough */
    case H_REASON:
        i = http1_scan_value(p, i, http1_min32(c->avail, lim));
        rc = http1_stop(m, c, i, lim, HTTP1_E_HEAD_TOO_LARGE);
        if (rc != 0)
            goto out;
        if (p[i] != '\r') {
            rc = http1_fail(m, HTTP1_E_START_LINE);
            goto out;
        }
        rc = http1_crlf(m, c, i, HTTP1_E_START_LINE);
        if (rc != 0)
            goto out;
        m->reason = http1_span_make(c->mark, i);
        i += 2;
        c->line_start = c->mark = i;
        c->state = H_FIELD_START;
        break;
    default:
        assert(!"http1: bad status line state");
    }
out:
    c->pos = i;
    return rc;
}

/*
 * One field line, or the blank line that ends the head (state H_DONE).
 * SPEC: RFC 9112 5 -- field-line = field-name ":" OWS field-value OWS
 */
static int
http1_field_line(struct http1_msg *m, struct http1_cur *c)
{
    const uint8_t *p = c->p;
    uint32_t i = c->pos, e;
    uint32_t lim = http1_line_limit(c->line_start, m->lim.max_field);
    uint32_t bound = http1_min32(c->avail, lim);
    struct http1_header *h = &m->hdrs[c->nhdrs];
    int rc = 0;

    switch (c->state) {
    case H_FIELD_START:
        if (i >= c->avail) {
            rc = http1_starve(m, i);
            goto out;
        }
        if (p[i] == '\r') {
            rc = http1_crlf(m, c, i, HTTP1_E_FIELD);
            if (rc != 0)
                goto out;
            i += 2;
            c->line_start = c->mark = i;
            c->state = H_DONE;
            goto out;
        }
        /* SPEC: RFC 9112 5.2 -- obs-fold is rejected; 2.2 -- so is
         * whitespace between the start-line and the first field. */
        if (HTTP1_IS(p[i], CC_OWS)) {
            rc = http1_fail(m, HTTP1_E_OBS_FOLD);
            goto out;
        }
        if (c->nhdrs >= m->lim.max_headers) {
            m->error = HTTP1_E_TOO_MANY_HEADERS;
            rc = ERR_LIMIT;
            goto out;
        }
        c->mark = i;
        c->state = H_NAME;
        /* fallthrough */
    case H_NAME:
        i = http1_scan_token(p, i, bound);
        rc = http1_stop(m, c, i, lim, HTTP1_E_HEAD_TOO_LARGE);
        if (rc != 0)
            goto out;
        /* SPEC: RFC 9112 5.1 -- no whitespace between name and colon */
        if (p[i] != ':' || i == c->mark) {
            rc = http1_fail(m, HTTP1_E_FIELD);
            goto out;
        }
        h->name = http1_span_make(c->mark, i);
        i++;
        c->state = H_OWS;
        /* fallthrough */
    case H_OWS:
        while (i < bound && HTTP1_IS(p[i], CC_OWS))
            i++;
        rc = http1_stop(m, c, i, lim, HTTP1_E_HEAD_TOO_LARGE);
        if (rc != 0)
            goto out;
        c->mark = i;
        c->state = H_VALUE;
        /* fallthrough */
    case H_VALUE:
        i = http1_scan_value(p, i, bound);
        rc = http1_stop(m, c, i, lim, HTTP1_E_HEAD_TOO_LARGE);
        if (rc != 0)
            goto out;
        /* SPEC: RFC 9110 5.5 -- CR, LF and NUL in a value are rejected */
        if (p[i] != '\r') {
            rc = http1_fail(m, HTTP1_E_FIELD);
            goto out;
        }
        rc = http1_crlf(m, c, i, HTTP1_E_FIELD);
        if (rc != 0)
            goto out;
        for (e = i; e > c->mark && HTTP1_IS(p[e - 1], CC_OWS); e--)
            ;
        h->value = http1_span_make(c->mark, e);
        c->nhdrs++;
        i += 2;
        c->line_start = c->mark = i;
        c->state = H_FIELD_START;
        break;
    default:
        assert(!"http1: bad field line state");
    }
out:
    c->pos = i;
    return rc;
}

/* SPEC: RFC 9110 8.6 -- Content-Length = 1*DIGIT; no sign, list or space. */
static bool
http1_cl_parse(const uint8_t *s, uint32_t n, int64_t *out)
{
    int64_t v = 0;
    uint32_t k;

    if (n == 0)
        return false;
    for (k = 0; k < n; k++) {
        int d;

        if (!HTTP1_IS(s[k], CC_DIGIT))
            return false;
        d = s[k] - '0';
        if (v > (INT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

/*
 * Next element of a comma-separated list (SPEC: RFC 9110 5.6.1) in
 * p[*pos..end), OWS trimmed; elements may be empty. False at the end.
 */
static bool
http1_list_next(const uint8_t *p, uint32_t *pos, uint32_t end, struct http1_span *elem)
{
    uint32_t i = *pos, s, e;

    if (i > end)
        return false;
    while (i < end && HTTP1_IS(p[i], CC_OWS))
        i++;
    s = i;
    while (i < end && p[i] != ',')
        i++;
    for (e = i; e > s && HTTP1_IS(p[e - 1], CC_OWS); e--)
        ;
    *elem = http1_span_make(s, e);
    *pos = i + 1;
    return true;
}

/* SPEC: RFC 9112 9.3, 9.6; RFC 9110 7.6.1 -- the Connection options we act on. */
static void
http1_conn_tokens(const uint8_t *p, struct http1_span v, bool *close, bool *ka, bool *up)
{
    struct http1_span t;
    uint32_t pos = v.off;

    while (http1_list_next(p, &pos, v.off + v.len, &t)) {
        if (t.len == 5 && http1_lit_eq(p + t.off, "close", 5))
            *close = true;
        else if (t.len == 10 && http1_lit_eq(p + t.off, "keep-alive", 10))
            *ka = true;
        else if (t.len == 7 && http1_lit_eq(p + t.off, "upgrade", 7))
            *up = true;
    }
}

/* SPEC: RFC 9112 3.2 -- Host = uri-host [ ":" port ]; may be empty. */
static bool
http1_host_ok(const uint8_t *s, uint32_t n)
{
    uint32_t k;

    for (k = 0; k < n; k++)
        if (!HTTP1_IS(s[k], CC_HOST))
            return false;
    return true;
}

struct http1_framing {
    int64_t cl;
    bool te, close, ka, conn_up, has_up, expect;
    uint16_t hosts;
};

/* Interprets one field, or returns the error it causes. */
static enum http1_error
http1_field_apply(const struct http1_msg *m, const uint8_t *p, const struct http1_header *h,
                  struct http1_framing *f)
{
    const uint8_t *name = p + h->name.off, *val = p + h->value.off;
    int64_t v;

    switch (h->name.len) {
    case 4:
        if (m->kind == HTTP1_REQUEST && http1_lit_eq(name, "host", 4)) {
            f->hosts++;
            if (!http1_host_ok(val, h->value.len))
                return HTTP1_E_HOST;
        }
        break;
    case 6:
        /* SPEC: RFC 9110 10.1.1 -- 100-continue is ignored in HTTP/1.0 */
        if (http1_lit_eq(name, "expect", 6) && h->value.len == 12 &&
            http1_lit_eq(val, "100-continue", 12))
            f->expect = m->kind == HTTP1_REQUEST && m->version_minor >= 1;
        break;
    case 7:
        if (http1_lit_eq(name, "upgrade", 7))
            f->has_up = true;
        break;
    case 10:
        if (http1_lit_eq(name, "connection", 10))
            http1_conn_tokens(p, h->value, &f->close, &f->ka, &f->conn_up);
        break;
    case 14:
        /* SPEC: RFC 9112 6.3 item 5 -- an invalid Content-Length is
         * unrecoverable; identical repeated fields are one value, lists
         * ("42, 42") and differing values are rejected. */
        if (http1_lit_eq(name, "content-length", 14)) {
            if (!http1_cl_parse(val, h->value.len, &v) || (f->cl >= 0 && v != f->cl))
                return HTTP1_E_CL;
            f->cl = v;
        }
        break;
    case 17:
        /* SPEC: RFC 9112 6.1, 7 -- chunked must be final and applied once;
         * we decode no other coding, so only "chunked" alone is framing we
         * can honour. A second field is "chunked, chunked". */
        if (http1_lit_eq(name, "transfer-encoding", 17)) {
            if (f->te || h->value.len != 7 || !http1_lit_eq(val, "chunked", 7))
                return HTTP1_E_TE;
            f->te = true;
        }
        break;
    default:
        break;
    }
    return HTTP1_E_NONE;
}

/* The head is complete: derive framing and connection facts. */
static enum http1_error
http1_head_finish(struct http1_msg *m, const uint8_t *p, uint16_t nhdrs)
{
    struct http1_framing f = {.cl = -1};
    enum http1_error e;
    uint16_t i;

    for (i = 0; i < nhdrs; i++) {
        e = http1_field_apply(m, p, &m->hdrs[i], &f);
        if (e != HTTP1_E_NONE)
            return e;
    }
    /* SPEC: RFC 9112 6.1 -- CL with TE "ought to be handled as an error";
     * TE in an HTTP/1.0 message means faulty framing. */
    if (f.te && f.cl >= 0)
        return HTTP1_E_CL_TE;
    if (f.te && m->version_minor == 0)
        return HTTP1_E_TE;
    /* SPEC: RFC 9112 3.2 -- HTTP/1.1 requests carry exactly one Host,
     * any request at most one. */
    if (m->kind == HTTP1_REQUEST && (f.hosts > 1 || (m->version_minor >= 1 && f.hosts != 1)))
        return HTTP1_E_HOST;
    m->content_length = f.cl;
    m->chunked = f.te;
    /* SPEC: RFC 9112 9.3 -- persistent by default from 1.1, opt-in in 1.0 */
    m->keep_alive = !f.close && (m->version_minor >= 1 || f.ka);
    m->expect_continue = f.expect;
    m->upgrade = f.conn_up && f.has_up;
    m->host_count = f.hosts;
    return HTTP1_E_NONE;
}

void
http1_msg_init(struct http1_msg *m, enum http1_kind kind, const struct http1_limits *lim)
{
    AN(m);
    assert(kind == HTTP1_REQUEST || kind == HTTP1_RESPONSE);
    if (lim == NULL)
        lim = &http1_default_limits;
    assert(lim->max_line > 0 && lim->max_field > 0 && lim->max_head > 0);
    assert(lim->max_headers > 0 && lim->max_headers <= HTTP1_MAX_HEADERS);
    m->kind = kind;
    m->state = kind == HTTP1_REQUEST ? H_REQ_START : H_STATUS_LINE;
    m->pos = m->mark = m->line_start = 0;
    m->lim = *lim;
    m->error = HTTP1_E_NONE;
    m->method = HTTP1_M_OTHER;
    m->method_tok = http1_span_make(0, 0);
    m->target = http1_span_make(0, 0);
    m->status = 0;
    m->reason = http1_span_make(0, 0);
    m->version_minor = 0;
    m->nhdrs = 0;
    m->content_length = -1;
    m->chunked = m->keep_alive = m->expect_continue = m->upgrade = false;
    m->host_count = 0;
}

long
http1_parse_head(struct http1_msg *m, const uint8_t *p, size_t len)
{
    struct http1_cur c;
    enum http1_error e;
    int rc = 0;

    AN(m);
#ifdef CASCADE_DEBUG
    http1_msg_check(m);
#endif
    m->error = HTTP1_E_NONE;
    if (m->state == H_DONE)
        return (long)m->pos;
    assert(len >= m->pos);
    assert(p != NULL || len == 0);
    c.p = p;
    c.avail = len < m->lim.max_head ? (uint32_t)len : m->lim.max_head;
    c.pos = m->pos;
    c.mark = m->mark;
    c.line_start = m->line_start;
    c.state = m->state;
    c.nhdrs = m->nhdrs;

    if (c.state < H_FIELD_START)
        rc = m->kind == HTTP1_REQUEST ? http1_request_line(m, &c) : http1_status_line(m, &c);
    while (rc == 0 && c.state != H_DONE)
        rc = http1_field_line(m, &c);
    if (rc == 0) {
        e = http1_head_finish(m, p, c.nhdrs);
        if (e != HTTP1_E_NONE)
            return http1_fail(m, e);
    } else if (rc != ERR_AGAIN) {
        return rc; /* m->error is set; the cursor is not written back */
    }
    m->pos = c.pos;
    m->mark = c.mark;
    m->line_start = c.line_start;
    m->state = c.state;
    m->nhdrs = c.nhdrs;
    return rc == 0 ? (long)c.pos : ERR_AGAIN;
}

void
http1_msg_check(const struct http1_msg *m)
{
    uint32_t end = 0;
    uint16_t i;

    AN(m);
    assert(m->kind == HTTP1_REQUEST || m->kind == HTTP1_RESPONSE);
    assert(m->state >= H_REQ_START && m->state <= H_DONE);
    if (m->kind == HTTP1_REQUEST)
        assert(m->state < H_STATUS_LINE || m->state >= H_FIELD_START);
    else
        assert(m->state >= H_STATUS_LINE);
    assert(m->lim.max_line > 0 && m->lim.max_field > 0 && m->lim.max_head > 0);
    assert(m->lim.max_headers > 0 && m->lim.max_headers <= HTTP1_MAX_HEADERS);
    assert(m->line_start <= m->mark && m->mark <= m->pos);
    assert(m->pos <= m->lim.max_head);
    assert(m->error >= HTTP1_E_NONE && m->error <= HTTP1_E_TRUNCATED);
    assert(m->nhdrs <= m->lim.max_headers);
    for (i = 0; i < m->nhdrs; i++) {
        const struct http1_header *h = &m->hdrs[i];

        assert(h->name.len > 0 && h->name.off >= end);
        assert(h->value.off > h->name.off + h->name.len);
        end = h->value.off + h->value.len;
        assert(end + 2 <= m->line_start);
    }
    if (m->state != H_DONE)
        return;
    assert(m->content_length >= -1);
    assert(!(m->chunked && m->content_length >= 0));
    assert(m->version_minor <= 9);
    if (m->kind == HTTP1_REQUEST) {
        assert(m->method_tok.len > 0 && m->target.len > 0);
        assert(m->target.off > m->method_tok.off + m->method_tok.len);
        assert(m->target.off + m->target.len < m->pos);
        assert(m->host_count <= 1 && (m->version_minor == 0 || m->host_count == 1));
        assert(!m->expect_continue || m->version_minor >= 1);
    } else {
        assert(m->status >= 100 && m->status <= 599);
        assert(m->reason.off + m->reason.len < m->pos);
        assert(!m->chunked || m->version_minor >= 1);
    }
}

bool
http1_span_eq(const uint8_t *base, struct http1_span s, const char *lit)
{
    size_t n = strlen(lit), k;

    if (n != s.len)
        return false;
    for (k = 0; k < n; k++)
        if (http1_lower(base[s.off + k]) != http1_lower((uint8_t)lit[k]))
            return false;
    return true;
}

const struct http1_header *
http1_header_find(const struct http1_msg *m, const uint8_t *base, const char *name,
                  const struct http1_header *after)
{
    uint16_t i = 0;

    AN(m);
    if (after != NULL) {
        assert(after >= m->hdrs && after < m->hdrs + m->nhdrs);
        i = (uint16_t)(after - m->hdrs + 1);
    }
    for (; i < m->nhdrs; i++)
        if (http1_span_eq(base, m->hdrs[i].name, name))
            return &m->hdrs[i];
    return NULL;
}

bool
http1_header_has_token(const struct http1_msg *m, const uint8_t *base, const char *name,
                       const char *token)
{
    const struct http1_header *h = NULL;
    struct http1_span t;
    uint32_t pos;

    while ((h = http1_header_find(m, base, name, h)) != NULL) {
        pos = h->value.off;
        while (http1_list_next(base, &pos, h->value.off + h->value.len, &t))
            if (http1_span_eq(base, t, token))
                return true;
    }
    return false;
}

int
http1_error_status(enum http1_error e)
{
    switch (e) {
    case HTTP1_E_NONE:
        return 0;
    case HTTP1_E_VERSION:
        return 505;
    case HTTP1_E_URI_TOO_LONG:
        return 414;
    case HTTP1_E_HEAD_TOO_LARGE:
    case HTTP1_E_TOO_MANY_HEADERS:
        return 431;
    case HTTP1_E_TE:
        return 501;
    case HTTP1_E_BODY_TOO_LARGE:
        return 413;
    default:
        return 400;
    }
}

const char *
http1_error_code(enum http1_error e)
{
    switch (e) {
    case HTTP1_E_NONE:
        return "none";
    case HTTP1_E_START_LINE:
        return "bad_start_line";
    case HTTP1_E_METHOD:
        return "bad_method";
    case HTTP1_E_TARGET:
        return "bad_target";
    case HTTP1_E_VERSION:
        return "version_not_supported";
    case HTTP1_E_URI_TOO_LONG:
        return "uri_too_long";
    case HTTP1_E_HEAD_TOO_LARGE:
        return "header_too_large";
    case HTTP1_E_TOO_MANY_HEADERS:
        return "too_many_headers";
    case HTTP1_E_FIELD:
        return "bad_field";
    case HTTP1_E_OBS_FOLD:
        return "obs_fold";
    case HTTP1_E_CL_TE:
        return "content_length_and_transfer_encoding";
    case HTTP1_E_CL:
        return "bad_content_length";
    case HTTP1_E_TE:
        return "bad_transfer_encoding";
    case HTTP1_E_HOST:
        return "bad_host";
    case HTTP1_E_CHUNK:
        return "bad_chunk";
    case HTTP1_E_BODY_TOO_LARGE:
        return "body_too_large";
    case HTTP1_E_TRUNCATED:
        return "truncated";
    }
    return "unknown";
}

/* ---- bodies ---- */

enum http1_body_mode
http1_body_mode(const struct http1_msg *m, enum http1_method req_method)
{
    AN(m);
    assert(m->state == H_DONE);
    if (m->kind == HTTP1_REQUEST) {
        /* SPEC: RFC 9112 6.3 items 4-6 -- no framing, no body */
        if (m->chunked)
            return HTTP1_BODY_CHUNKED;
        return m->content_length >= 0 ? HTTP1_BODY_LENGTH : HTTP1_BODY_NONE;
    }
    /* SPEC: RFC 9112 6.3 item 1 -- HEAD answers, 1xx, 204, 304: no body */
    if (req_method == HTTP1_M_HEAD || m->status < 200 || m->status == 204 || m->status == 304)
        return HTTP1_BODY_NONE;
    /* SPEC: RFC 9112 6.3 item 2 -- a 2xx to CONNECT starts a tunnel */
    if (req_method == HTTP1_M_CONNECT && m->status < 300)
        return HTTP1_BODY_NONE;
    if (m->chunked)
        return HTTP1_BODY_CHUNKED;
    /* SPEC: RFC 9112 6.3 item 8 -- otherwise read until close */
    return m->content_length >= 0 ? HTTP1_BODY_LENGTH : HTTP1_BODY_EOF;
}

void
http1_body_init(struct http1_body *b, enum http1_body_mode mode, int64_t content_length,
                uint64_t max_body)
{
    AN(b);
    memset(b, 0, sizeof(*b));
    b->mode = mode;
    b->max_body = max_body;
    b->error = HTTP1_E_NONE;
    switch (mode) {
    case HTTP1_BODY_NONE:
        b->state = B_DONE;
        break;
    case HTTP1_BODY_LENGTH:
        assert(content_length >= 0);
        b->left = (uint64_t)content_length;
        b->state = b->left == 0 ? B_DONE : B_LENGTH;
        if (max_body != 0 && b->left > max_body) {
            b->state = B_TOO_LARGE;
            b->error = HTTP1_E_BODY_TOO_LARGE;
        }
        break;
    case HTTP1_BODY_CHUNKED:
        b->state = B_SIZE;
        break;
    case HTTP1_BODY_EOF:
        b->state = B_EOF;
        break;
    default:
        assert(!"http1: bad body mode");
    }
    b->done = b->state == B_DONE;
}

/* One byte of a chunk-size line. Returns the error it causes, if any. */
static enum http1_error
http1_chunk_size_byte(struct http1_body *s, uint8_t ch, int *rc)
{
    uint64_t d;

    *rc = ERR_PROTO;
    if (ch == '\r') {
        if (s->state == B_SIZE_BWS || (s->state == B_SIZE && s->line_len == 0))
            return HTTP1_E_CHUNK;
        s->state = B_SIZE_LF;
        return HTTP1_E_NONE;
    }
    if (s->line_len >= HTTP1_CHUNK_LINE_MAX) {
        *rc = ERR_LIMIT;
        return HTTP1_E_CHUNK;
    }
    switch (s->state) {
    case B_SIZE:
        /* SPEC: RFC 9112 7.1 -- chunk-size = 1*HEXDIG, nothing else */
        if (HTTP1_IS(ch, CC_HEX)) {
            d = HTTP1_IS(ch, CC_DIGIT) ? (uint64_t)(ch - '0')
                                       : (uint64_t)(http1_lower(ch) - 'a' + 10);
            if (s->left > ((uint64_t)INT64_MAX - d) / 16)
                return HTTP1_E_CHUNK;
            if (s->max_body != 0 && s->left * 16 + d > s->max_body - s->total) {
                *rc = ERR_LIMIT;
                return HTTP1_E_BODY_TOO_LARGE;
            }
            s->left = s->left * 16 + d;
        } else if (s->line_len == 0) {
            return HTTP1_E_CHUNK;
        } else if (ch == ';') {
            s->state = B_EXT;
        } else if (HTTP1_IS(ch, CC_OWS)) {
            s->state = B_SIZE_BWS;
        } else {
            return HTTP1_E_CHUNK;
        }
        break;
    case B_SIZE_BWS:
        /* SPEC: RFC 9112 7.1.1 -- BWS only before a ';' */
        if (ch == ';')
            s->state = B_EXT;
        else if (!HTTP1_IS(ch, CC_OWS))
            return HTTP1_E_CHUNK;
        break;
    default:
        /* B_EXT. SPEC: RFC 9112 7.1.1 -- extensions are ignored, but no
         * control byte (no bare CR or LF) may hide inside them. */
        if (!HTTP1_IS(ch, CC_VALUE))
            return HTTP1_E_CHUNK;
        break;
    }
    s->line_len++;
    return HTTP1_E_NONE;
}

/* One byte of the trailer section. SPEC: RFC 9112 7.1.2 -- trailer fields
 * follow the field-line rules; we check and discard them. */
static enum http1_error
http1_trailer_byte(struct http1_body *s, uint8_t ch, int *rc)
{
    *rc = ERR_PROTO;
    if (s->trailer_len >= HTTP1_TRAILER_MAX) {
        *rc = ERR_LIMIT;
        return HTTP1_E_HEAD_TOO_LARGE;
    }
    switch (s->state) {
    case B_TRAILER_START:
        if (ch == '\r')
            s->state = B_END_LF;
        else if (HTTP1_IS(ch, CC_OWS))
            return HTTP1_E_OBS_FOLD;
        else if (HTTP1_IS(ch, CC_TCHAR))
            s->state = B_TRAILER_NAME;
        else
            return HTTP1_E_FIELD;
        break;
    case B_TRAILER_NAME:
        if (ch == ':')
            s->state = B_TRAILER_VALUE;
        else if (!HTTP1_IS(ch, CC_TCHAR))
            return HTTP1_E_FIELD;
        break;
    case B_TRAILER_VALUE:
        if (ch == '\r')
            s->state = B_TRAILER_LF;
        else if (!HTTP1_IS(ch, CC_VALUE))
            return HTTP1_E_FIELD;
        break;
    case B_TRAILER_LF:
        if (ch != '\n')
            return HTTP1_E_FIELD;
        s->state = B_TRAILER_START;
        break;
    default:
        /* B_END_LF */
        if (ch != '\n')
            return HTTP1_E_CHUNK;
        s->state = B_DONE;
        break;
    }
    s->trailer_len++;
    return HTTP1_E_NONE;
}

/* One framing byte between chunks. */
static enum http1_error
http1_chunk_frame_byte(struct http1_body *s, uint8_t ch, int *rc)
{
    *rc = ERR_PROTO;
    switch (s->state) {
    case B_SIZE:
    case B_SIZE_BWS:
    case B_EXT:
        return http1_chunk_size_byte(s, ch, rc);
    case B_SIZE_LF:
        if (ch != '\n')
            return HTTP1_E_CHUNK;
        s->line_len = 0;
        s->state = s->left == 0 ? B_TRAILER_START : B_DATA;
        return HTTP1_E_NONE;
    case B_DATA_CR:
        /* SPEC: RFC 9112 7.1 -- chunk-data is followed by CRLF */
        if (ch != '\r')
            return HTTP1_E_CHUNK;
        s->state = B_DATA_LF;
        return HTTP1_E_NONE;
    case B_DATA_LF:
        if (ch != '\n')
            return HTTP1_E_CHUNK;
        s->state = B_SIZE;
        return HTTP1_E_NONE;
    default:
        return http1_trailer_byte(s, ch, rc);
    }
}

long
http1_body_parse(struct http1_body *b, const uint8_t *p, size_t len, size_t *data_off,
                 size_t *data_len)
{
    struct http1_body s;
    enum http1_error e = HTTP1_E_NONE;
    bool have_run = false;
    size_t i = 0;
    uint64_t n;
    int rc = 0;

    AN(b);
    AN(data_off);
    AN(data_len);
#ifdef CASCADE_DEBUG
    http1_body_check(b);
#endif
    *data_off = 0;
    *data_len = 0;
    if (b->state == B_TOO_LARGE) {
        b->error = HTTP1_E_BODY_TOO_LARGE;
        return ERR_LIMIT;
    }
    b->error = HTTP1_E_NONE;
    s = *b;
    while (i < len && s.state != B_DONE) {
        switch (s.state) {
        case B_LENGTH:
        case B_DATA:
            if (have_run)
                goto out;
            n = len - i < s.left ? len - i : s.left;
            s.left -= n;
            if (s.left == 0)
                s.state = s.state == B_LENGTH ? B_DONE : B_DATA_CR;
            break;
        case B_EOF:
            if (have_run)
                goto out;
            n = len - i;
            if (s.max_body != 0) {
                if (s.total == s.max_body) {
                    e = HTTP1_E_BODY_TOO_LARGE;
                    rc = ERR_LIMIT;
                    goto fail;
                }
                if (n > s.max_body - s.total)
                    n = s.max_body - s.total;
            }
            break;
        default:
            e = http1_chunk_frame_byte(&s, p[i], &rc);
            if (e != HTTP1_E_NONE)
                goto fail;
            i++;
            continue;
        }
        *data_off = i;
        *data_len = (size_t)n;
        have_run = true;
        s.total += n;
        i += (size_t)n;
    }
out:
    s.done = s.state == B_DONE;
    *b = s;
    return (long)i;
fail:
    if (i > 0)
        goto out; /* report the progress; the next call meets the error */
    b->error = e;
    return rc;
}

int
http1_body_eof(struct http1_body *b)
{
    AN(b);
    if (b->state == B_DONE)
        return 0;
    if (b->state == B_EOF) {
        b->state = B_DONE;
        b->done = true;
        return 0;
    }
    if (b->state == B_TOO_LARGE) {
        b->error = HTTP1_E_BODY_TOO_LARGE;
        return ERR_LIMIT;
    }
    /* SPEC: RFC 9112 8 -- a message cut short is incomplete, never cached */
    b->error = HTTP1_E_TRUNCATED;
    return ERR_PROTO;
}

void
http1_body_check(const struct http1_body *b)
{
    AN(b);
    assert(b->state >= B_LENGTH && b->state <= B_TOO_LARGE);
    assert(b->done == (b->state == B_DONE));
    assert(b->error >= HTTP1_E_NONE && b->error <= HTTP1_E_TRUNCATED);
    assert(b->left <= (uint64_t)INT64_MAX);
    assert(b->line_len <= HTTP1_CHUNK_LINE_MAX);
    assert(b->trailer_len <= HTTP1_TRAILER_MAX);
    switch (b->mode) {
    case HTTP1_BODY_NONE:
        assert(b->state == B_DONE && b->total == 0);
        break;
    case HTTP1_BODY_LENGTH:
        assert(b->state == B_LENGTH || b->state == B_DONE || b->state == B_TOO_LARGE);
        assert(b->state != B_LENGTH || b->left > 0);
        assert(b->state != B_DONE || b->left == 0);
        assert(b->state != B_TOO_LARGE || (b->max_body != 0 && b->left > b->max_body));
        break;
    case HTTP1_BODY_EOF:
        assert(b->state == B_EOF || b->state == B_DONE);
        break;
    case HTTP1_BODY_CHUNKED:
        assert(b->state >= B_SIZE && b->state <= B_DONE);
        assert(b->state != B_DATA || b->left > 0);
        assert(b->state < B_DATA_CR || b->left == 0);
        if (b->max_body != 0)
            assert(b->left <= b->max_body - b->total);
        break;
    default:
        assert(!"http1: bad body mode");
    }
    if (b->max_body != 0 && b->state != B_TOO_LARGE)
        assert(b->total <= b->max_body);
}
