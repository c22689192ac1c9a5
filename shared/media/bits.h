/*
 * bits.h -- a bounded MSB-first bit reader for codec configuration
 * bitstreams: H.264 RBSPs (with exp-Golomb codes and emulation-prevention
 * bytes) and MPEG-4 Audio's AudioSpecificConfig.
 *
 * The reader borrows the caller's bytes and allocates nothing. Reading past
 * the end (or an exp-Golomb code too long for 32 bits) sets the sticky
 * overrun flag, and every read yields 0 from then on, so a parser reads a
 * run of fields and tests b->overrun once, where a value starts to
 * matter. A parser may set the flag itself to fail the same way. Not
 * here: any knowledge of a codec's syntax (h264.c, flv.c,
 * origin/pkg_cfg.c).
 */
#ifndef CASCADE_BITS_H
#define CASCADE_BITS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct bits {
    const uint8_t *p; /* borrowed: the bytes being read, for the reader's lifetime */
    size_t len;
    size_t pos;     /* next byte to load */
    unsigned zeros; /* consecutive 0x00 bytes just loaded (emulation prevention) */
    uint8_t cur;    /* the byte being consumed */
    unsigned left;  /* bits left in cur, 0..8 */
    bool epb;       /* drop an 0x03 that follows two 0x00 bytes (an H.264 RBSP) */
    bool overrun;   /* a read went past the end: sticky */
};

/* Starts reading p[0..len); epb: p is an H.264 NAL unit payload (SPEC: H.264 7.4.1). */
void bits_init(struct bits *b, const uint8_t *p, size_t len, bool epb);

/* The next n bits (n <= 32) as an unsigned value; 0 once overrun. */
uint32_t bits_u(struct bits *b, unsigned n);

/*
 * SPEC: H.264 9.1 -- ue(v). Codes with more than 31 leading zeros (values
 * past 2^32 - 2) set the overrun flag and read as 0.
 */
uint32_t bits_ue(struct bits *b);

/* SPEC: H.264 9.1.1 -- se(v): 1 -> 1, 2 -> -1, 3 -> 2, ... */
int32_t bits_se(struct bits *b);

/* Asserts the reader's invariants. */
void bits_check(const struct bits *b);

#endif
