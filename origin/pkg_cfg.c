/*
 * pkg_cfg.c -- validation and description of H.264 and AAC configuration
 * records, and of AVCC access-unit framing.
 *
 * The SPS is decoded by shared/media/h264.c (the one H.264 parser, shared
 * with the FLV code); this module adds the packager's own limits. The
 * AudioSpecificConfig is read through shared/media/bits.c, whose overrun
 * flag is sticky and is tested once where a value matters. Nothing
 * allocates. Not here: muxing (pkg.c).
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "err.h"
#include "media/bits.h"
#include "media/h264.h"
#include "pkg_cfg.h"
#include "compat.h"

int
pkg_cfg_sps_size(const uint8_t *nal, size_t len, uint32_t *width, uint32_t *height,
                 uint8_t *chroma_format)
{
    struct h264_sps sps;

    /* SPEC: H.264 7.4.1 -- forbidden_zero_bit shall be 0. */
    if (len < 5 || (nal[0] & 0x80) != 0)
        return ERR_MEDIA;
    if (h264_sps_parse(nal, len, &sps) != 0)
        return ERR_MEDIA;
    /* Level 6.2 allows 139264 macroblocks a frame; 16384 per side is far beyond any level. */
    if (sps.width_mbs > 1024 || sps.height_map_units > 1024)
        return ERR_MEDIA;
    *width = (uint32_t)sps.width;
    *height = (uint32_t)sps.height;
    *chroma_format = sps.chroma_format_idc;
    return 0;
}

int
pkg_cfg_avc_parse(const uint8_t *p, size_t len, struct pkg_cfg_avc *out)
{
    size_t pos, n;
    unsigned i, count, nal_len;
    int rc;

    memset(out, 0, sizeof(*out));
    if (len > PKG_CFG_RECORD_MAX)
        return ERR_LIMIT;
    /* SPEC: ISO/IEC 14496-15 5.3.3.1.2 -- version, 3 indication bytes, 6+2 bits, 3+5 bits. */
    if (len < 7 || p[0] != 1)
        return ERR_MEDIA;
    nal_len = (p[4] & 3u) + 1;
    if (nal_len == 3)
        return ERR_MEDIA;
    out->profile = p[1];
    out->compat = p[2];
    out->level = p[3];
    out->nal_len_size = (uint8_t)nal_len;
    count = p[5] & 0x1fu;
    pos = 6;
    for (i = 0; i < count; i++) {
        if (len - pos < 2)
            return ERR_MEDIA;
        n = (size_t)p[pos] << 8 | p[pos + 1];
        pos += 2;
        if (n == 0 || n > len - pos || (p[pos] & 0x1f) != 7)
            return ERR_MEDIA;
        if (i == 0) {
            rc = pkg_cfg_sps_size(p + pos, n, &out->width, &out->height, &out->chroma_format);
            if (rc != 0)
                return rc;
        }
        pos += n;
    }
    if (count == 0 || pos >= len)
        return ERR_MEDIA;
    out->nb_sps = (uint8_t)count;
    count = p[pos++];
    for (i = 0; i < count; i++) {
        if (len - pos < 2)
            return ERR_MEDIA;
        n = (size_t)p[pos] << 8 | p[pos + 1];
        pos += 2;
        if (n == 0 || n > len - pos || (p[pos] & 0x1f) != 8)
            return ERR_MEDIA;
        pos += n;
    }
    if (count == 0)
        return ERR_MEDIA;
    out->nb_pps = (uint8_t)count;
    n = (size_t)snprintf(out->codecs, sizeof(out->codecs), "avc1.%02x%02x%02x", out->profile,
                         out->compat, out->level);
    assert(n < sizeof(out->codecs));
    pkg_cfg_avc_check(out);
    return 0;
}

/* SPEC: ISO/IEC 14496-3 1.6.3.4 -- samplingFrequencyIndex 0..12 (13, 14 reserved). */
static const uint32_t pkg_cfg_aac_rates[13] = {
    96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350,
};

static uint32_t
pkg_cfg_aac_rate(struct bits *b)
{
    uint32_t idx = bits_u(b, 4);

    if (idx == 15)
        return bits_u(b, 24);
    if (idx >= ARRAY_SIZE(pkg_cfg_aac_rates))
        return 0;
    return pkg_cfg_aac_rates[idx];
}

static uint8_t
pkg_cfg_aac_aot(struct bits *b)
{
    uint32_t aot = bits_u(b, 5);

    if (aot == 31)
        aot = 32 + bits_u(b, 6);
    return (uint8_t)aot;
}

int
pkg_cfg_aac_parse(const uint8_t *p, size_t len, struct pkg_cfg_aac *out)
{
    /* SPEC: ISO/IEC 14496-3 Table 1.19 -- channelConfiguration 1..7 */
    static const uint8_t chans[8] = {0, 1, 2, 3, 4, 5, 6, 8};
    struct bits b;
    uint32_t rate, ext_rate = 0, frame;
    uint8_t aot, core, cfg;
    size_t n;

    memset(out, 0, sizeof(*out));
    if (len > PKG_CFG_RECORD_MAX)
        return ERR_LIMIT;
    bits_init(&b, p, len, false);
    aot = pkg_cfg_aac_aot(&b);
    rate = pkg_cfg_aac_rate(&b);
    cfg = (uint8_t)bits_u(&b, 4);
    core = aot;
    if (aot == PKG_CFG_AOT_SBR || aot == PKG_CFG_AOT_PS) {
        /* SPEC: ISO/IEC 14496-3 1.6.2.1 -- explicit hierarchical SBR signalling. */
        ext_rate = pkg_cfg_aac_rate(&b);
        core = pkg_cfg_aac_aot(&b);
        if (ext_rate == 0)
            return ERR_MEDIA;
    }
    switch (core) {
    case PKG_CFG_AOT_AAC_MAIN:
    case PKG_CFG_AOT_AAC_LC:
    case PKG_CFG_AOT_AAC_SSR:
    case PKG_CFG_AOT_AAC_LTP:
    case PKG_CFG_AOT_AAC_SCALABLE:
        break;
    default:
        return ERR_MEDIA;
    }
    /* SPEC: ISO/IEC 14496-3 4.4.1 -- GASpecificConfig: frameLengthFlag selects 960 or 1024. */
    frame = bits_u(&b, 1) ? 960 : 1024;
    if (b.overrun || rate == 0 || rate > 192000 || ext_rate > 192000 || cfg >= ARRAY_SIZE(chans))
        return ERR_MEDIA;
    out->aot = aot;
    out->core_aot = core;
    out->channel_config = cfg;
    out->channels = chans[cfg];
    if (ext_rate != 0) {
        /* An SBR access unit decodes to twice the core's samples at the SBR rate. */
        if (ext_rate != rate && ext_rate != 2 * rate)
            return ERR_MEDIA;
        frame = frame * (ext_rate / rate);
        rate = ext_rate;
    }
    out->sample_rate = rate;
    out->frame_len = frame;
    n = (size_t)snprintf(out->codecs, sizeof(out->codecs), "mp4a.40.%u", (unsigned)aot);
    assert(n < sizeof(out->codecs));
    pkg_cfg_aac_check(out);
    return 0;
}

int
pkg_cfg_avcc_scan(const uint8_t *p, size_t len, unsigned nal_len_size, int *has_idr)
{
    size_t pos = 0, n;
    unsigned i;
    int count = 0;

    assert(nal_len_size == 1 || nal_len_size == 2 || nal_len_size == 4);
    *has_idr = 0;
    while (pos < len) {
        if (len - pos < nal_len_size)
            return ERR_MEDIA;
        n = 0;
        for (i = 0; i < nal_len_size; i++)
            n = n << 8 | p[pos + i];
        pos += nal_len_size;
        if (n == 0 || n > len - pos)
            return ERR_MEDIA;
        if ((p[pos] & 0x1f) == 5)
            *has_idr = 1;
        pos += n;
        if (count == INT32_MAX)
            return ERR_MEDIA;
        count++;
    }
    return count > 0 ? count : ERR_MEDIA;
}

void
pkg_cfg_avc_check(const struct pkg_cfg_avc *a)
{
    assert(a->nal_len_size == 1 || a->nal_len_size == 2 || a->nal_len_size == 4);
    assert(a->nb_sps >= 1 && a->nb_sps <= 31);
    assert(a->nb_pps >= 1);
    assert(a->chroma_format <= 3);
    assert(a->width > 0 && a->width <= 16384);
    assert(a->height > 0 && a->height <= 32768);
    assert(memchr(a->codecs, '\0', sizeof(a->codecs)) != NULL);
    assert(strncmp(a->codecs, "avc1.", 5) == 0);
}

void
pkg_cfg_aac_check(const struct pkg_cfg_aac *a)
{
    assert(a->sample_rate > 0 && a->sample_rate <= 192000);
    assert(a->frame_len == 960 || a->frame_len == 1024 || a->frame_len == 1920 ||
           a->frame_len == 2048);
    assert(a->channel_config <= 7);
    assert((a->channels == 0) == (a->channel_config == 0));
    assert(a->core_aot >= 1 && a->core_aot <= 6 && a->core_aot != PKG_CFG_AOT_SBR);
    assert(memchr(a->codecs, '\0', sizeof(a->codecs)) != NULL);
}
