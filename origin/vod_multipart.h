/*
 * vod_multipart.h -- the multipart/form-data reader of VOD uploads: finds
 * the file part of a POST /api/videos body and streams its bytes out.
 *
 * Pure and incremental (STYLE 8): bytes go in in any pieces, nothing is
 * allocated, and the state is one fixed struct. The file's bytes come out
 * through a callback, as spans borrowed for the call -- from the caller's
 * input, or from the delimiter itself when a partial delimiter at the end
 * of one piece turns out not to be one -- so a 1 GB upload never sits in
 * memory. The first part whose Content-Disposition has a filename (or is
 * named "file") is the file; every other part is skipped.
 *
 * SPEC: RFC 2046 5.1.1 (delimiters, transport padding, preamble and
 * epilogue), RFC 7578 (multipart/form-data). Not here: writing the file
 * (vod.c), the HTTP framing (httpd.c).
 */
#ifndef CASCADE_VOD_MULTIPART_H
#define CASCADE_VOD_MULTIPART_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "miniobj.h"

#define VOD_MP_BOUNDARY_MAX 70 /* SPEC: RFC 2046 5.1.1 -- 1..70 characters */
#define VOD_MP_LINE_MAX 1024   /* one part header line; longer is ERR_LIMIT */
#define VOD_MP_PARTS_MAX 64    /* parts before the closing delimiter; more is ERR_LIMIT */

/* Bytes of the file part, borrowed for the call. */
typedef void vod_mp_data_cb(void *arg, const uint8_t *p, size_t len);

struct vod_mp {
    int state;                           /* private: enum vod_mp_state */
    char delim[VOD_MP_BOUNDARY_MAX + 4]; /* "\r\n--" boundary */
    size_t dlen;                         /* bytes in delim */
    size_t match;                        /* delimiter bytes matched, held back */
    char line[VOD_MP_LINE_MAX];          /* the header line being read */
    size_t line_len;
    unsigned parts;      /* parts seen */
    bool in_file;        /* the current part is the file */
    bool part_is_file;   /* headers so far say: file */
    bool got_file;       /* the file part ended */
    uint64_t file_bytes; /* bytes of the file given out */
};

/*
 * Reads the boundary from a Content-Type value ("multipart/form-data;
 * boundary=..." with the boundary bare or quoted) and readies mp. 0, or
 * ERR_PROTO when it is not multipart/form-data or the boundary is missing,
 * too long or has characters RFC 2046 does not allow.
 */
int vod_mp_init(struct vod_mp *mp, const char *content_type) WARN_UNUSED;

/*
 * Feeds len bytes; the file part's bytes are passed to cb as they are
 * recognised. Returns the bytes consumed: len, or fewer when the closing
 * delimiter ended the body inside p (what follows is epilogue, ignored).
 * Errors: ERR_PROTO (broken framing), ERR_LIMIT (a header line or the part
 * count past its cap); after an error the reader stays failed.
 */
long vod_mp_feed(struct vod_mp *mp, const uint8_t *p, size_t len, vod_mp_data_cb *cb,
                 void *arg) WARN_UNUSED;

/* The closing delimiter was read and a file part was found in full. */
bool vod_mp_done(const struct vod_mp *mp);

/* Invariants (asserts); fuzzers call it after every step. */
void vod_mp_check(const struct vod_mp *mp);

#endif
