/*
 * fuzz_vod_upload.c -- resumable uploads' field reader and PATCH verdict
 * on arbitrary bytes. The input is split at the first two NULs into an
 * Upload-Offset value, a Content-Length value and the rest, whose first
 * bytes give the upload's length and the stored size. vod_upload_num()
 * must agree with a plain reference reading; every verdict must pass
 * vod_upload_check().
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../origin/vod_upload.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FZ_FIELD 64

/* The reference: digits only, at most 19 of them, value <= INT64_MAX. */
static int
fz_num(const char *s, uint64_t *out)
{
    size_t n = strlen(s), i;
    unsigned __int128 v = 0;

    *out = 0;
    if (n == 0)
        return ERR_PROTO;
    for (i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return ERR_PROTO;
        v = v * 10 + (unsigned)(s[i] - '0');
        if (v > (unsigned __int128)UINT64_MAX * 10)
            v = (unsigned __int128)UINT64_MAX * 10; /* saturate */
    }
    if (n > VOD_UPLOAD_NUM_DIGITS || v > (unsigned __int128)INT64_MAX)
        return ERR_LIMIT;
    *out = (uint64_t)v;
    return 0;
}

static size_t
fz_field(const uint8_t *p, size_t len, char out[FZ_FIELD + 1], bool *present)
{
    size_t i = 0;

    while (i < len && p[i] != 0)
        i++;
    *present = !(i == 1 && p[0] == '!'); /* "!" stands for an absent field */
    memcpy(out, p, i < FZ_FIELD ? i : FZ_FIELD);
    out[i < FZ_FIELD ? i : FZ_FIELD] = '\0';
    return i < len ? i + 1 : i;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char off[FZ_FIELD + 1], clen[FZ_FIELD + 1];
    bool has_off, has_clen;
    uint64_t a, b, length = 0, have = 0, offset;
    enum vod_upload_verdict v;
    size_t used;
    int ra, rb;

    used = fz_field(data, size, off, &has_off);
    used += fz_field(data + used, size - used, clen, &has_clen);
    for (size_t i = 0; i < 8 && used < size; i++)
        length = length << 8 | data[used++];
    for (size_t i = 0; i < 8 && used < size; i++)
        have = have << 8 | data[used++];
    length &= (uint64_t)INT64_MAX;
    have = (data[size > 0 ? size - 1 : 0] & 1) != 0 && length > 0 ? have % (length + 1) : have;
    ra = vod_upload_num(off, &a);
    rb = fz_num(off, &b);
    if (ra != rb || a != b)
        abort();
    v = vod_upload_patch(length, have, has_off ? off : NULL, has_clen ? clen : NULL, &offset);
    vod_upload_check(length, have, has_clen ? clen : NULL, v, offset);
    if (v == VOD_UPLOAD_APPEND && !has_off)
        abort();
    return 0;
}
