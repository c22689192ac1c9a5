/*
 * fuzz_upstream_loop.c -- the CDN-Loop scanner on arbitrary bytes: the
 * first byte says how long the id is (taken from the input's end).
 */
#include <stddef.h>
#include <stdint.h>

#include "../../edge/upstream_loop.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct upstream_loop_scan st = {0};
    size_t idlen;

    if (size == 0)
        return 0;
    idlen = data[0] % 32;
    data++;
    size--;
    if (idlen > size)
        idlen = size;
    upstream_loop_scan(&st, (const char *)data, size - idlen, (const char *)data + size - idlen,
                       idlen);
    upstream_loop_check(&st, size - idlen);
    return 0;
}
