/*
 * fuzz_http1_response.c -- HTTP/1.1 responses as the upstream client
 * reads them: interim and final heads, bodies framed by length, chunks or
 * close, with the request method derived from the input (HEAD and CONNECT
 * change the framing). See http1_fuzz.h. Corpus:
 * tests/fuzz/corpus/http1_response/.
 */
#include <stddef.h>
#include <stdint.h>

#include "http1_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    http1_fuzz_one(HTTP1_RESPONSE, data, size);
    return 0;
}
