/*
 * fuzz_pkg_cfg.c -- the codec configuration parsers of the packager
 * (AVCDecoderConfigurationRecord, SPS, AudioSpecificConfig) and the AVCC
 * access-unit walk.
 *
 * The first byte picks the parser (and the NAL length size for the walk);
 * the rest is its input. After a success the description must pass its
 * _check(); after a failure the result must be one of the documented
 * codes. pkg_cfg.c is compiled in so it carries the fuzzer's coverage.
 */
#include <stddef.h>
#include <stdint.h>

#include "../../origin/pkg_cfg.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const unsigned nal_sizes[3] = {1, 2, 4};
    struct pkg_cfg_avc avc;
    struct pkg_cfg_aac aac;
    uint32_t w, h;
    uint8_t chroma;
    int rc, idr;

    if (size < 1)
        return 0;
    switch (data[0] % 4) {
    case 0:
        rc = pkg_cfg_avc_parse(data + 1, size - 1, &avc);
        if (rc == 0)
            pkg_cfg_avc_check(&avc);
        else
            assert(rc == ERR_MEDIA || rc == ERR_LIMIT);
        break;
    case 1:
        rc = pkg_cfg_sps_size(data + 1, size - 1, &w, &h, &chroma);
        if (rc == 0)
            assert(w > 0 && w <= 16384 && h > 0 && h <= 32768 && chroma <= 3);
        else
            assert(rc == ERR_MEDIA);
        break;
    case 2:
        rc = pkg_cfg_aac_parse(data + 1, size - 1, &aac);
        if (rc == 0)
            pkg_cfg_aac_check(&aac);
        else
            assert(rc == ERR_MEDIA || rc == ERR_LIMIT);
        break;
    default:
        rc = pkg_cfg_avcc_scan(data + 1, size - 1, nal_sizes[(data[0] >> 2) % 3], &idr);
        assert(rc > 0 || rc == ERR_MEDIA);
        assert(idr == 0 || idr == 1);
        break;
    }
    return 0;
}
