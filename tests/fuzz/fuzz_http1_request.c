/*
 * fuzz_http1_request.c -- HTTP/1.1 requests as a server reads them:
 * pipelined heads and their bodies, whole, split and byte by byte (see
 * http1_fuzz.h). Corpus: tests/fuzz/corpus/http1_request/.
 */
#include <stddef.h>
#include <stdint.h>

#include "http1_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    http1_fuzz_one(HTTP1_REQUEST, data, size);
    return 0;
}
