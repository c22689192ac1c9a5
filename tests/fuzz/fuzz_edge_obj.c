/*
 * fuzz_edge_obj.c -- the edge's header block parser (edge/edge_obj.c), fed
 * bytes as a damaged disk or another version of the edge might hold them.
 *
 * A block that parses must satisfy edge_obj_check(), and rebuilding it
 * from its parsed fields and meta must give the same bytes.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "mem.h"
#include "../../edge/edge_obj.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct cache_field f[EDGE_OBJ_FIELDS_MAX];
    struct edge_obj o;
    uint8_t *out;
    size_t n;
    int len;

    if (edge_obj_parse(data, size, &o) != 0)
        return 0;
    edge_obj_check(&o);
    n = edge_obj_fields(&o, f, EDGE_OBJ_FIELDS_MAX);
    assert(n == o.nfields);
    out = xmalloc(size);
    len = edge_obj_build(out, size, o.kind, o.status, &o.meta, f, n);
    assert(len == (int)size);
    assert(memcmp(out, data, size) == 0);
    xfree(out);
    return 0;
}
