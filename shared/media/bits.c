/*
 * bits.c -- the bounded MSB-first bit reader.
 *
 * Emulation-prevention bytes are dropped as bytes are loaded, so an RBSP
 * is read in place without a copy. Nothing allocates.
 */
#include <string.h>

#include "bits.h"
#include "../miniobj.h"
#include "../compat.h"

void
bits_init(struct bits *b, const uint8_t *p, size_t len, bool epb)
{
    memset(b, 0, sizeof(*b));
    b->p = p;
    b->len = len;
    b->epb = epb;
}

/* Loads the next payload byte into cur; -1 (and overrun) at the end. */
static int
bits_load(struct bits *b)
{
    /* SPEC: H.264 7.4.1 -- 0x000003 carries an emulation_prevention_three_byte;
     * the zero count restarts after it. */
    if (b->epb && b->zeros >= 2 && b->pos < b->len && b->p[b->pos] == 0x03) {
        b->pos++;
        b->zeros = 0;
    }
    if (b->pos >= b->len) {
        b->overrun = true;
        return -1;
    }
    b->cur = b->p[b->pos++];
    b->zeros = b->cur == 0 ? b->zeros + 1 : 0;
    b->left = 8;
    return 0;
}

uint32_t
bits_u(struct bits *b, unsigned n)
{
    uint32_t v = 0;

    assert(n <= 32);
    if (b->overrun)
        return 0;
    while (n > 0) {
        if (b->left == 0 && bits_load(b) != 0)
            return 0;
        b->left--;
        v = v << 1 | ((uint32_t)(b->cur >> b->left) & 1u);
        n--;
    }
    return v;
}

uint32_t
bits_ue(struct bits *b)
{
    unsigned lz = 0;

    while (bits_u(b, 1) == 0) {
        if (b->overrun || ++lz > 31) {
            b->overrun = true;
            return 0;
        }
    }
    if (lz == 0)
        return 0;
    return (uint32_t)((UINT64_C(1) << lz) - 1 + bits_u(b, lz));
}

int32_t
bits_se(struct bits *b)
{
    uint32_t k = bits_ue(b);

    if (k & 1u)
        return (int32_t)((k >> 1) + 1);
    return -(int32_t)(k >> 1);
}

void
bits_check(const struct bits *b)
{
    assert(b->pos <= b->len);
    assert(b->left <= 8);
    assert(b->p != NULL || b->len == 0);
    assert(b->overrun || b->left == 0 || b->pos > 0);
}
