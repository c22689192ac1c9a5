/*
 * buf.h -- a growable text buffer with a size cap, for the manifest writers.
 *
 * Appends never fail loudly: past the cap (or once any append failed) the
 * buffer stops growing and remembers the error, so a writer appends freely
 * and checks buf_status() once at the end, the way curl's dynbuf and
 * Redis's sds are used. Growth is geometric, so writing n bytes costs O(n).
 * The bytes are always NUL-terminated. Not here: any knowledge of XML, HLS
 * or JSON beyond the two escaping helpers the writers share.
 */
#ifndef CASCADE_BUF_H
#define CASCADE_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../miniobj.h"

struct buf {
    char *p;    /* owned; NUL-terminated when not NULL */
    size_t len; /* bytes in p, without the NUL */
    size_t cap; /* bytes allocated */
    size_t max; /* most bytes len may reach */
    int err;    /* 0, or the first failure (ERR_LIMIT, ERR_INVAL) */
};

/* An empty buffer that may grow to max bytes (max > 0). Allocates nothing. */
void buf_init(struct buf *b, size_t max);
/* Frees the bytes; the buffer is empty again (same max, error cleared). */
void buf_free(struct buf *b);
/* Forgets the contents and the error but keeps the memory, for reuse. */
void buf_reset(struct buf *b);

void buf_add(struct buf *b, const void *p, size_t n);
void buf_puts(struct buf *b, const char *s);
void buf_putc(struct buf *b, char c);
void buf_printf(struct buf *b, const char *fmt, ...) PRINTFLIKE(2, 3);
/* Decimal, without printf's parsing cost: the writers' hottest path. */
void buf_u64(struct buf *b, unsigned long long v);

/* RFC 4648 base64 (with padding) and lower-case hex of p[0..n). */
void buf_base64(struct buf *b, const uint8_t *p, size_t n);
void buf_hex(struct buf *b, const uint8_t *p, size_t n);

/* s with & < > " ' escaped, for an XML attribute value. */
void buf_xml(struct buf *b, const char *s);
/* s with & < > escaped, for XML text content (quotes stay as they are). */
void buf_xml_text(struct buf *b, const char *s);

/* Asserts the buffer's invariants. */
void buf_check(const struct buf *b);

/* 0 when every append so far fit, else the first error (ERR_LIMIT). */
int buf_status(const struct buf *b) WARN_UNUSED;

/*
 * Hands the bytes to the caller (xfree() them) and leaves b empty.
 * Returns NULL and keeps nothing when the buffer is in error.
 */
char *buf_take(struct buf *b, size_t *len);

#endif
