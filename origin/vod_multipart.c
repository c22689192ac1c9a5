/*
 * vod_multipart.c -- the multipart/form-data reader of vod_multipart.h.
 *
 * The body is a run of data separated by the delimiter "\r\n--boundary".
 * The reader keeps how many delimiter bytes it has matched (match) and
 * holds those bytes back; since a boundary may not contain CR, a mismatch
 * can only restart at the current byte, and the held bytes are exactly
 * delim[0..match), so they are given out from delim itself: no buffer.
 * The preamble is read as a part that is not the file, entered as if a CRLF
 * had just been seen, so a body that starts with "--boundary" matches.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "vod_multipart.h"
#include "err.h"
#include "compat.h"

enum vod_mp_state {
    VOD_MP_S_DATA = 1,   /* a part's data (or the preamble) */
    VOD_MP_S_AFTER,      /* after a delimiter: padding, then CRLF or "--" */
    VOD_MP_S_AFTER_CR,   /* CR after a delimiter: LF must follow */
    VOD_MP_S_AFTER_DASH, /* one '-' after a delimiter: the second must follow */
    VOD_MP_S_HEADER,     /* a part header line */
    VOD_MP_S_HEADER_CR,  /* CR of a header line: LF must follow */
    VOD_MP_S_END,        /* the closing delimiter was read: the rest is epilogue */
    VOD_MP_S_ERROR,
};

/* SPEC: RFC 2046 5.1.1 -- bcharsnospace, plus space inside the boundary. */
static bool
vod_mp_bchar(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           strchr("'()+_,-./:=? ", c) != NULL;
}

int
vod_mp_init(struct vod_mp *mp, const char *ct)
{
    const char *p, *b, *end;
    size_t n, i;

    memset(mp, 0, sizeof(*mp));
    mp->state = VOD_MP_S_ERROR;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    if (strncasecmp(ct, "multipart/form-data", 19) != 0)
        return ERR_PROTO;
    p = ct + 19;
    b = NULL;
    while ((p = strchr(p, ';')) != NULL) {
        p++;
        while (*p == ' ' || *p == '\t')
            p++;
        if (strncasecmp(p, "boundary=", 9) == 0) {
            b = p + 9;
            break;
        }
    }
    if (b == NULL)
        return ERR_PROTO;
    if (*b == '"') {
        b++;
        end = strchr(b, '"');
        if (end == NULL)
            return ERR_PROTO;
    } else {
        end = b;
        while (*end != '\0' && *end != ';' && *end != ' ' && *end != '\t')
            end++;
    }
    n = (size_t)(end - b);
    if (n == 0 || n > VOD_MP_BOUNDARY_MAX || b[n - 1] == ' ')
        return ERR_PROTO;
    for (i = 0; i < n; i++)
        if (b[i] == '\0' || !vod_mp_bchar(b[i]))
            return ERR_PROTO;
    memcpy(mp->delim, "\r\n--", 4);
    memcpy(mp->delim + 4, b, n);
    mp->dlen = n + 4;
    mp->state = VOD_MP_S_DATA;
    mp->match = 2; /* the preamble: as if a CRLF had just been read */
    return 0;
}

bool
vod_mp_done(const struct vod_mp *mp)
{
    return mp->state == VOD_MP_S_END && mp->got_file;
}

void
vod_mp_check(const struct vod_mp *mp)
{
    assert(mp->state >= VOD_MP_S_DATA && mp->state <= VOD_MP_S_ERROR);
    if (mp->state == VOD_MP_S_ERROR)
        return;
    assert(mp->dlen > 4 && mp->dlen <= sizeof(mp->delim));
    assert(mp->match < mp->dlen);
    assert(mp->line_len <= VOD_MP_LINE_MAX);
    assert(mp->parts <= VOD_MP_PARTS_MAX);
    assert(!(mp->in_file && mp->got_file));
    assert(mp->file_bytes == 0 || mp->in_file || mp->got_file);
}

static void
vod_mp_out(struct vod_mp *mp, const uint8_t *p, size_t len, vod_mp_data_cb *cb, void *arg)
{
    if (len == 0 || !mp->in_file)
        return;
    mp->file_bytes += len;
    cb(arg, p, len);
}

/* One complete header line (without CRLF): note whether it names the file. */
static int
vod_mp_header(struct vod_mp *mp)
{
    const char *l = mp->line;
    size_t n = mp->line_len;
    size_t i;

    if (memchr(l, '\0', n) != NULL)
        return ERR_PROTO;
    if (n < 20 || strncasecmp(l, "content-disposition:", 20) != 0)
        return 0;
    /* SPEC: RFC 7578 4.2 -- the file's part carries a filename parameter. */
    for (i = 20; i + 9 <= n; i++) {
        if (strncasecmp(l + i, "filename=", 9) == 0 || strncasecmp(l + i, "filename*=", 10) == 0)
            mp->part_is_file = true;
        if (i + 11 <= n && strncasecmp(l + i, "name=\"file\"", 11) == 0 &&
            (l[i - 1] == ' ' || l[i - 1] == ';'))
            mp->part_is_file = true;
    }
    return 0;
}

/* Data: give out everything up to a possible delimiter; returns bytes used. */
static size_t
vod_mp_data(struct vod_mp *mp, const uint8_t *p, size_t len, vod_mp_data_cb *cb, void *arg)
{
    size_t i = 0, run = 0; /* p[run..i) is plain data not yet given out */

    while (i < len) {
        if (mp->match == 0) {
            const uint8_t *cr = memchr(p + i, '\r', len - i);

            if (cr == NULL) {
                i = len;
                break;
            }
            i = (size_t)(cr - p);
        }
        if (p[i] == (uint8_t)mp->delim[mp->match]) {
            if (mp->match == 0) {
                vod_mp_out(mp, p + run, i - run, cb, arg);
            }
            mp->match++;
            i++;
            run = i;
            if (mp->match == mp->dlen) {
                mp->match = 0;
                if (mp->in_file) {
                    mp->in_file = false;
                    mp->got_file = true;
                }
                mp->state = VOD_MP_S_AFTER;
                return i;
            }
            continue;
        }
        /* Not the delimiter after all: the held bytes were data. */
        vod_mp_out(mp, (const uint8_t *)mp->delim, mp->match, cb, arg);
        mp->match = 0;
        run = i;
        if (p[i] != '\r')
            i++;
    }
    if (mp->match == 0)
        vod_mp_out(mp, p + run, i - run, cb, arg);
    return i;
}

long
vod_mp_feed(struct vod_mp *mp, const uint8_t *p, size_t len, vod_mp_data_cb *cb, void *arg)
{
    size_t i = 0;
    uint8_t c;

    if (mp->state == VOD_MP_S_ERROR)
        return ERR_PROTO;
    while (i < len) {
        switch (mp->state) {
        case VOD_MP_S_DATA:
            i += vod_mp_data(mp, p + i, len - i, cb, arg);
            continue;
        case VOD_MP_S_END:
            return (long)i;
        default:
            break;
        }
        c = p[i++];
        switch (mp->state) {
        case VOD_MP_S_AFTER:
            /* SPEC: RFC 2046 5.1.1 -- transport padding before the CRLF. */
            if (c == ' ' || c == '\t')
                break;
            if (c == '\r')
                mp->state = VOD_MP_S_AFTER_CR;
            else if (c == '-')
                mp->state = VOD_MP_S_AFTER_DASH;
            else
                goto fail_proto;
            break;
        case VOD_MP_S_AFTER_DASH:
            if (c != '-')
                goto fail_proto;
            mp->state = VOD_MP_S_END;
            return (long)i;
        case VOD_MP_S_AFTER_CR:
            if (c != '\n')
                goto fail_proto;
            if (mp->parts == VOD_MP_PARTS_MAX) {
                mp->state = VOD_MP_S_ERROR;
                return ERR_LIMIT;
            }
            mp->parts++;
            mp->part_is_file = false;
            mp->line_len = 0;
            mp->state = VOD_MP_S_HEADER;
            break;
        case VOD_MP_S_HEADER:
            if (c == '\r') {
                mp->state = VOD_MP_S_HEADER_CR;
                break;
            }
            if (c == '\n')
                goto fail_proto; /* a bare LF: header lines end in CRLF */
            if (mp->line_len == VOD_MP_LINE_MAX) {
                mp->state = VOD_MP_S_ERROR;
                return ERR_LIMIT;
            }
            mp->line[mp->line_len++] = (char)c;
            break;
        case VOD_MP_S_HEADER_CR:
            if (c != '\n')
                goto fail_proto;
            if (mp->line_len == 0) {
                /* The blank line: the part's data follows. */
                mp->in_file = mp->part_is_file && !mp->got_file;
                mp->state = VOD_MP_S_DATA;
                break;
            }
            if (vod_mp_header(mp) != 0)
                goto fail_proto;
            mp->line_len = 0;
            mp->state = VOD_MP_S_HEADER;
            break;
        default:
            goto fail_proto;
        }
    }
    return (long)i;

fail_proto:
    mp->state = VOD_MP_S_ERROR;
    return ERR_PROTO;
}
