/*
 * fuzz_sse_batch.c -- the edge's decoder of the origin's event-log
 * answers (edge/sse_parse.c), then sse_batch_check(); the input's first
 * byte, when it is '#', is followed by a Last-Event-ID to parse instead.
 *
 * edge/ is not in a library, so the module is included.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "../../edge/sse_parse.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct sse_batch b;
    char id[32];
    uint64_t v;

    if (size > 0 && data[0] == '#') {
        if (size - 1 < sizeof(id)) {
            memcpy(id, data + 1, size - 1);
            id[size - 1] = '\0';
            if (sse_last_id_parse(id, &v) == 0)
                assert(strlen(id) >= 1 && strlen(id) <= 20);
        }
        return 0;
    }
    if (sse_batch_decode((const char *)data, size, &b) == 0) {
        sse_batch_check(&b);
        sse_batch_clear(&b);
    } else {
        assert(b.n == 0);
    }
    return 0;
}
