/*
 * vod_upload.c -- resumable uploads' field reader and PATCH verdict
 * (vod_upload.h). Pure.
 */
#include <assert.h>
#include <stdbool.h>
#include <stdint.h>

#include "vod_upload.h"
#include "err.h"
#include "compat.h"

int
vod_upload_num(const char *s, uint64_t *out)
{
    uint64_t n = 0;
    size_t i;

    *out = 0;
    if (s == NULL || s[0] == '\0')
        return ERR_PROTO;
    for (i = 0; s[i] != '\0'; i++) {
        if (s[i] < '0' || s[i] > '9')
            return ERR_PROTO;
        if (i >= VOD_UPLOAD_NUM_DIGITS)
            continue; /* too long: ERR_LIMIT once it is known to be digits */
        n = n * 10 + (uint64_t)(s[i] - '0');
    }
    if (i > VOD_UPLOAD_NUM_DIGITS || n > (uint64_t)INT64_MAX)
        return ERR_LIMIT;
    *out = n;
    return 0;
}

enum vod_upload_verdict
vod_upload_patch(uint64_t length, uint64_t have, const char *offset_field, const char *clen_field,
                 uint64_t *offset)
{
    uint64_t clen = 0;

    if (vod_upload_num(offset_field, offset) != 0)
        return VOD_UPLOAD_BAD_OFFSET;
    if (*offset != have)
        return VOD_UPLOAD_MISMATCH;
    if (have > length)
        return VOD_UPLOAD_TOO_LARGE; /* a stored file past its length: nothing fits */
    if (clen_field != NULL && vod_upload_num(clen_field, &clen) == 0 && clen > length - have)
        return VOD_UPLOAD_TOO_LARGE;
    return VOD_UPLOAD_APPEND;
}

void
vod_upload_check(uint64_t length, uint64_t have, const char *clen_field, enum vod_upload_verdict v,
                 uint64_t offset)
{
    uint64_t clen = 0;
    bool sized = clen_field != NULL && vod_upload_num(clen_field, &clen) == 0;

    switch (v) {
    case VOD_UPLOAD_APPEND:
        assert(offset == have && have <= length);
        assert(!sized || offset + clen <= length);
        break;
    case VOD_UPLOAD_BAD_OFFSET:
        assert(offset == 0);
        break;
    case VOD_UPLOAD_MISMATCH:
        assert(offset != have);
        break;
    case VOD_UPLOAD_TOO_LARGE:
        assert(offset == have && (have > length || (sized && clen > length - have)));
        break;
    default:
        assert(!"no such verdict");
    }
}
