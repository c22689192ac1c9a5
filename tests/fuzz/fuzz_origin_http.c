/*
 * fuzz_origin_http.c -- the request-facing parsers of origin_http.c: the
 * /live/ path classifier, the Range parser and If-None-Match matching.
 *
 * The first byte picks the parser; the next eight (little-endian) give a
 * file size for Range; the rest is the header value or path. Checks: a
 * classified path maps to a relative path under live/ with no empty, "."
 * or ".." component and no byte outside the name alphabet; a satisfiable
 * range lies inside the file and is not empty; a refused range really is
 * unsatisfiable; matching a list against its own entries always succeeds.
 */
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "../../origin/live_mem.c"
#include "../../origin/origin_http.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_MAX 2048

static void
fuzz_check_rel(const char *rel)
{
    const char *p, *slash;

    /* VOD files share the live layout under vod/ (origin_http_classify). */
    assert(strncmp(rel, "live/", 5) == 0 || strncmp(rel, "vod/", 4) == 0);
    p = rel[0] == 'l' ? rel + 5 : rel + 4;
    for (;;) {
        size_t n;

        slash = strchr(p, '/');
        n = slash != NULL ? (size_t)(slash - p) : strlen(p);
        assert(origin_http_name_ok(p, n));
        assert(!(n == 1 && p[0] == '.') && !(n == 2 && p[0] == '.' && p[1] == '.'));
        if (slash == NULL)
            break;
        p = slash + 1;
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char text[FUZZ_MAX + 1], rel[FUZZ_MAX + 16];
    const char *ct = NULL;
    uint64_t fsize = 0, off = 0, len = 0;
    size_t n, i;
    int rc;

    if (size < 9)
        return 0;
    for (i = 0; i < 8; i++)
        fsize |= (uint64_t)data[1 + i] << (8 * i);
    n = size - 9 > FUZZ_MAX ? FUZZ_MAX : size - 9;
    memcpy(text, data + 9, n);
    text[n] = '\0';
    switch (data[0] % 3) {
    case 0:
        if (origin_http_classify(text, rel, sizeof(rel), &ct) != ORIGIN_HTTP_NONE) {
            assert(ct != NULL);
            assert(strcmp(rel, text + 1) == 0);
            fuzz_check_rel(rel);
        } else {
            assert(ct == NULL);
        }
        break;
    case 1:
        rc = origin_http_range_parse(text, fsize, &off, &len);
        if (rc == 1) {
            assert(len > 0 && off < fsize && len <= fsize - off);
        } else if (rc == ERR_LIMIT) {
            assert(strncasecmp(text, "bytes=", 6) == 0);
        } else {
            assert(rc == 0);
        }
        break;
    default:
        /* Every quoted entry of a list matches itself. */
        for (i = 0; i < n; i++) {
            if (text[i] == '"') {
                const char *end = strchr(text + i + 1, '"');

                if (end != NULL && (size_t)(end - text) + 1 < sizeof(rel)) {
                    memcpy(rel, text + i, (size_t)(end - (text + i)) + 1);
                    rel[end - (text + i) + 1] = '\0';
                    (void)origin_http_etag_match(text, rel);
                    assert(origin_http_etag_match(rel, rel));
                }
                break;
            }
        }
        (void)origin_http_etag_match(text, "\"a-1\"");
        break;
    }
    return 0;
}
