/*
 * fuzz_h264.c -- the H.264 SPS parser and the bit reader under it.
 *
 * The first byte picks the mode. Even: the rest is an SPS NAL unit; after
 * a success the description must pass h264_sps_check(), after a failure
 * the result must be ERR_MEDIA. Odd: the rest drives the bit reader, the
 * first half as a script of reads (u(n), ue, se) over the second half,
 * with emulation prevention on when bit 1 is set; the reader must never
 * pass the end, and once overrun it must read zeros. The parser sources
 * are compiled in so libFuzzer instruments them.
 */
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "../../shared/media/bits.c"
#include "../../shared/media/h264.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fuzz_bits(const uint8_t *script, size_t nscript, const uint8_t *p, size_t len, bool epb)
{
    struct bits b;
    size_t i;
    uint32_t v;

    bits_init(&b, p, len, epb);
    for (i = 0; i < nscript; i++) {
        switch (script[i] >> 6) {
        case 0:
            v = bits_ue(&b);
            break;
        case 1:
            v = (uint32_t)bits_se(&b);
            break;
        default:
            v = bits_u(&b, script[i] % 33);
            break;
        }
        bits_check(&b);
        if (b.overrun) {
            assert(bits_u(&b, 32) == 0 && bits_ue(&b) == 0 && bits_se(&b) == 0);
            assert(b.overrun);
            break;
        }
        (void)v;
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct h264_sps s;
    size_t half;
    int rc;

    if (size < 1)
        return 0;
    if ((data[0] & 1) == 0) {
        rc = h264_sps_parse(data + 1, size - 1, &s);
        if (rc == 0)
            h264_sps_check(&s);
        else
            assert(rc == ERR_MEDIA);
        return 0;
    }
    half = (size - 1) / 2;
    fuzz_bits(data + 1, half, data + 1 + half, size - 1 - half, (data[0] & 2) != 0);
    return 0;
}
