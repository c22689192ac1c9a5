/*
 * fuzz_fault_spec.c -- the CASCADE_FAULT spec parser (fault_spec_next).
 *
 * Includes fault.c to reach the static parser, which is pure: it never
 * touches the point table, so any input can be thrown at it. After every
 * step it checks what an item promises: a valid name, 1 <= nth, the cursor
 * moved forward on success and stayed put on error.
 */
#include <stdint.h>
#include <stddef.h>

#include "../../shared/fault.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    struct fault_spec_item it;
    size_t pos = 0, before;
    int rc;

    for (;;) {
        before = pos;
        rc = fault_spec_next(s, size, &pos, &it);
        if (rc != 1)
            break;
        assert(pos > before && pos <= size);
        assert(fault_name_valid(it.name, it.name_len));
        assert(it.name == s + before);
        assert(it.nth >= 1 && it.nth <= FAULT_NTH_MAX);
        assert(pos == size || s[pos - 1] == ',');
    }
    if (rc == 0)
        assert(pos == size);
    else
        assert(rc == ERR_INVAL && pos == before);
    return 0;
}
