/*
 * fuzz_cmcd_sid.c -- the access log's CMCD session id reader
 * (access_log_cmcd_sid in edge/access_log.c), fed a query string and a
 * CMCD-Session value from the input (split at its first NUL).
 *
 * Whatever it finds fits the buffer it was given, for every buffer size.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "mem.h"
#include "../../edge/access_log.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text, *hdr, out[200];
    size_t n, cap;

    text = xmalloc(size + 2);
    memcpy(text, data, size);
    text[size] = '\0';
    text[size + 1] = '\0';
    hdr = text + strlen(text) + 1;
    if (hdr > text + size)
        hdr = NULL;
    for (cap = 1; cap <= sizeof(out); cap += 37) {
        n = access_log_cmcd_sid(text, hdr, out, cap);
        assert(n < cap);
    }
    xfree(text);
    return 0;
}
