/*
 * buf.c -- growable text buffer with a cap and a sticky error.
 *
 * The buffer owns its bytes until buf_take() hands them over. All memory
 * comes from xmalloc/xrealloc, so an out-of-memory aborts; the only
 * recoverable failure is the cap (ERR_LIMIT).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "../err.h"
#include "../mem.h"
#include "../compat.h"

#define BUF_MIN_CAP 256

void
buf_init(struct buf *b, size_t max)
{
    assert(max > 0);
    memset(b, 0, sizeof(*b));
    b->max = max;
}

void
buf_free(struct buf *b)
{
    size_t max = b->max;

    xfree(b->p);
    buf_init(b, max);
}

void
buf_reset(struct buf *b)
{
    b->len = 0;
    b->err = 0;
    if (b->p != NULL)
        b->p[0] = '\0';
}

/* Makes room for n more bytes plus the NUL; false (and sticky error) past max. */
static bool
buf_reserve(struct buf *b, size_t n)
{
    size_t need, cap;

    if (b->err != 0)
        return false;
    if (n > b->max - b->len) {
        b->err = ERR_LIMIT;
        return false;
    }
    need = b->len + n + 1;
    if (need <= b->cap)
        return true;
    cap = b->cap < BUF_MIN_CAP ? BUF_MIN_CAP : b->cap;
    while (cap < need)
        cap = cap > (size_t)-1 / 2 ? need : cap * 2;
    if (cap > b->max + 1)
        cap = b->max + 1;
    b->p = xrealloc(b->p, cap);
    b->cap = cap;
    return true;
}

void
buf_add(struct buf *b, const void *p, size_t n)
{
    if (!buf_reserve(b, n))
        return;
    if (n > 0)
        memcpy(b->p + b->len, p, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void
buf_puts(struct buf *b, const char *s)
{
    buf_add(b, s, strlen(s));
}

void
buf_putc(struct buf *b, char c)
{
    buf_add(b, &c, 1);
}

void
buf_printf(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    int n;
    size_t room;

    if (b->err != 0)
        return;
    room = b->cap > b->len ? b->cap - b->len : 0;
    va_start(ap, fmt);
    n = vsnprintf(room > 0 ? b->p + b->len : NULL, room, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->err = ERR_INVAL;
        return;
    }
    if ((size_t)n < room) {
        b->len += (size_t)n;
        return;
    }
    if (!buf_reserve(b, (size_t)n))
        return;
    va_start(ap, fmt);
    n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    assert(n >= 0 && (size_t)n < b->cap - b->len);
    b->len += (size_t)n;
}

void
buf_u64(struct buf *b, unsigned long long v)
{
    char tmp[24];
    size_t i = sizeof(tmp);

    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    buf_add(b, tmp + i, sizeof(tmp) - i);
}

void
buf_base64(struct buf *b, const uint8_t *p, size_t n)
{
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char q[4];
    size_t i;

    for (i = 0; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];

        q[0] = abc[v >> 18];
        q[1] = abc[(v >> 12) & 63];
        q[2] = abc[(v >> 6) & 63];
        q[3] = abc[v & 63];
        buf_add(b, q, 4);
    }
    if (i < n) {
        uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0);

        q[0] = abc[v >> 18];
        q[1] = abc[(v >> 12) & 63];
        q[2] = i + 1 < n ? abc[(v >> 6) & 63] : '=';
        q[3] = '=';
        buf_add(b, q, 4);
    }
}

void
buf_hex(struct buf *b, const uint8_t *p, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    size_t i;

    for (i = 0; i < n; i++) {
        char q[2] = {digits[p[i] >> 4], digits[p[i] & 15]};

        buf_add(b, q, 2);
    }
}

static void
buf_xml_esc(struct buf *b, const char *s, bool quotes)
{
    const char *run = s;

    /* Copy runs of plain bytes in one go; only the five specials expand. */
    for (; *s != '\0'; s++) {
        const char *rep;

        switch (*s) {
        case '&':
            rep = "&amp;";
            break;
        case '<':
            rep = "&lt;";
            break;
        case '>':
            rep = "&gt;";
            break;
        case '"':
            if (!quotes)
                continue;
            rep = "&quot;";
            break;
        case '\'':
            if (!quotes)
                continue;
            rep = "&apos;";
            break;
        default:
            continue;
        }
        buf_add(b, run, (size_t)(s - run));
        buf_puts(b, rep);
        run = s + 1;
    }
    buf_add(b, run, (size_t)(s - run));
}

void
buf_xml(struct buf *b, const char *s)
{
    buf_xml_esc(b, s, true);
}

void
buf_xml_text(struct buf *b, const char *s)
{
    buf_xml_esc(b, s, false);
}

void
buf_check(const struct buf *b)
{
    assert(b->max > 0 && b->len <= b->max);
    assert(b->p == NULL ? b->len == 0 && b->cap == 0 : b->len < b->cap && b->p[b->len] == '\0');
    assert(b->cap <= b->max + 1);
}

int
buf_status(const struct buf *b)
{
    return b->err;
}

char *
buf_take(struct buf *b, size_t *len)
{
    char *p;

    if (b->err != 0) {
        buf_free(b);
        if (len != NULL)
            *len = 0;
        return NULL;
    }
    if (b->p == NULL)
        buf_add(b, "", 0);
    p = b->p;
    if (len != NULL)
        *len = b->len;
    b->p = NULL;
    buf_free(b);
    return p;
}
