/*
 * vod_upload.h -- the pure half of resumable VOD uploads (docs/vod.md
 * "Resumable uploads"): reading the Upload-Length and Upload-Offset fields
 * and deciding what one PATCH may do, given where the stored bytes end.
 *
 * Pure: no I/O, no allocation. Not here: the upload resource, the file and
 * its lock, the answers (vod.c).
 *
 * SPEC: tus resumable upload protocol 1.0.0, core protocol (Upload-Offset
 * and Upload-Length are non-negative integers; a PATCH whose Upload-Offset
 * is not the resource's offset is answered 409) and the creation extension
 * (POST with Upload-Length). A subset: no Upload-Defer-Length, no
 * Upload-Metadata, no checksum or termination extension.
 */
#ifndef CASCADE_VOD_UPLOAD_H
#define CASCADE_VOD_UPLOAD_H

#include <stdint.h>

#include "miniobj.h"

#define VOD_UPLOAD_NUM_DIGITS 19 /* 2^63 - 1 has 19: bigger is ERR_LIMIT */

/*
 * Reads an Upload-Offset, Upload-Length or Content-Length value: one to
 * VOD_UPLOAD_NUM_DIGITS decimal digits and nothing else (no sign, no
 * spaces: httpd has already trimmed the field). 0, ERR_PROTO when it is
 * not a number (NULL included), ERR_LIMIT when it is larger than INT64_MAX.
 */
int vod_upload_num(const char *s, uint64_t *out) WARN_UNUSED;

/* What one PATCH may do (the status and error code vod.c answers with). */
enum vod_upload_verdict {
    VOD_UPLOAD_APPEND = 0, /* read the body at the offset; 204 after it */
    VOD_UPLOAD_BAD_OFFSET, /* 400 bad_offset: Upload-Offset missing or not a number */
    VOD_UPLOAD_MISMATCH,   /* 409 offset_mismatch: not where the stored bytes end */
    VOD_UPLOAD_TOO_LARGE,  /* 413 too_large: the body would pass Upload-Length */
};

/*
 * The verdict on a PATCH carrying Upload-Offset offset_field (NULL when
 * absent) and Content-Length clen_field (NULL for a chunked body, whose
 * size is checked while it is read) on an upload of length bytes of which
 * have are stored. *offset gets the offset asked for (0 when unreadable).
 * APPEND implies *offset == have and, when the size is known, *offset +
 * Content-Length <= length.
 */
enum vod_upload_verdict vod_upload_patch(uint64_t length, uint64_t have, const char *offset_field,
                                         const char *clen_field, uint64_t *offset) WARN_UNUSED;

/* Aborts unless (verdict, offset) is consistent with the inputs (fuzzing). */
void vod_upload_check(uint64_t length, uint64_t have, const char *clen_field,
                      enum vod_upload_verdict v, uint64_t offset);

#endif
