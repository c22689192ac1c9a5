/*
 * fuzz_store_meta.c -- the cache object's meta record decoder
 * (store_meta_decode), fed bytes as a damaged disk might hold them.
 *
 * A record that decodes must satisfy store_meta_check(), re-encode to the
 * same bytes, and agree with store_meta_peek_ids(); rewriting its seq must
 * keep it valid. As a differential check on the side, the SSE4.2 and the
 * table CRC32C must agree on the input.
 */
#include <stdint.h>
#include <stddef.h>
#include <string.h>

#include "err.h"
#include "mem.h"
#include "store_meta.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct store_meta m, m2;
    uint32_t *crcs;
    uint8_t *out;
    const char *why;
    uint64_t oid, seq;
    uint32_t i;

    assert(store_crc32c(0, data, size) == store_crc32c_sw(0, data, size));
    if (store_meta_decode(data, size, &m, &why) != 0) {
        assert(why != NULL);
        return 0;
    }
    store_meta_check(&m, size);
    assert(store_meta_peek_ids(data, size, &oid, &seq) == 0);
    assert(oid == m.oid && seq == m.seq);

    crcs = xmalloc((size_t)m.nchunks * sizeof(*crcs) + 1);
    for (i = 0; i < m.nchunks; i++)
        crcs[i] = store_meta_chunk_crc(&m, i);
    out = xmalloc(size);
    store_meta_encode(out, &m, crcs, m.hdr);
    assert(memcmp(out, data, size) == 0);

    store_meta_set_seq(out, size, m.seq + 1);
    assert(store_meta_decode(out, size, &m2, &why) == 0);
    assert(m2.seq == m.seq + 1 && m2.oid == m.oid && m2.body_len == m.body_len);
    xfree(out);
    xfree(crcs);
    return 0;
}
