/*
 * pkg_cfg.c -- validation and description of H.264 and AAC configuration
 * records, and of AVCC access-unit framing.
 *
 * Everything reads through struct pkg_cfg_bits, a bounded MSB-first bit
 * reader that can drop H.264 emulation-prevention bytes as it goes, so an
 * SPS is parsed in place without an RBSP copy. Reading past the end sets a
 * sticky overrun flag and yields zeros; callers test the flag once at the
 * points where a value matters. Nothing allocates. Not here: muxing
 * (pkg.c).
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "err.h"
#include "pkg_cfg.h"
#include "compat.h"

struct pkg_cfg_bits {
    const uint8_t *p; /* borrowed: the bytes being read */
    size_t len;
    size_t byte;    /* next byte to load */
    unsigned zeros; /* consecutive 0x00 bytes just loaded (emulation prevention) */
    int epb;        /* drop 0x03 after two zero bytes */
    uint8_t cur;    /* the byte being consumed */
    unsigned left;  /* bits left in cur */
    int overrun;    /* a read went past the end */
};

static void
pkg_cfg_bits_init(struct pkg_cfg_bits *b, const uint8_t *p, size_t len, int epb)
{
    memset(b, 0, sizeof(*b));
    b->p = p;
    b->len = len;
    b->epb = epb;
}

static int
pkg_cfg_bits_load(struct pkg_cfg_bits *b)
{
    uint8_t c;

    for (;;) {
        if (b->byte >= b->len) {
            b->overrun = 1;
            return -1;
        }
        c = b->p[b->byte++];
        /* SPEC: H.264 7.4.1 -- 0x000003 carries an emulation_prevention_three_byte. */
        if (b->epb && b->zeros >= 2 && c == 0x03) {
            b->zeros = 0;
            continue;
        }
        b->zeros = c == 0 ? b->zeros + 1 : 0;
        b->cur = c;
        b->left = 8;
        return 0;
    }
}

/* Up to 32 bits; 0 bits after an overrun. */
static uint32_t
pkg_cfg_bits_get(struct pkg_cfg_bits *b, unsigned n)
{
    uint32_t v = 0;

    assert(n <= 32);
    while (n > 0) {
        if (b->left == 0 && pkg_cfg_bits_load(b) != 0)
            return 0;
        v = (v << 1) | ((b->cur >> (b->left - 1)) & 1u);
        b->left--;
        n--;
    }
    return v;
}

/* SPEC: H.264 9.1 -- Exp-Golomb ue(v); values past 2^32-2 count as an overrun. */
static uint32_t
pkg_cfg_bits_ue(struct pkg_cfg_bits *b)
{
    unsigned lz = 0;

    while (pkg_cfg_bits_get(b, 1) == 0) {
        if (b->overrun || ++lz > 31) {
            b->overrun = 1;
            return 0;
        }
    }
    if (lz == 0)
        return 0;
    return (uint32_t)((UINT64_C(1) << lz) - 1 + pkg_cfg_bits_get(b, lz));
}

static int32_t
pkg_cfg_bits_se(struct pkg_cfg_bits *b)
{
    uint32_t k = pkg_cfg_bits_ue(b);

    /* 1 -> 1, 2 -> -1, 3 -> 2 ... */
    if (k & 1u)
        return (int32_t)((k >> 1) + 1);
    return -(int32_t)(k >> 1);
}

/* SPEC: H.264 7.3.2.1.1.1 -- a scaling list is only skipped, never kept. */
static void
pkg_cfg_sps_skip_scaling_list(struct pkg_cfg_bits *b, unsigned size)
{
    int32_t last = 8, next = 8;
    unsigned j;

    for (j = 0; j < size && !b->overrun; j++) {
        if (next != 0) {
            int32_t delta = pkg_cfg_bits_se(b);

            if (delta < -128 || delta > 127) {
                b->overrun = 1;
                return;
            }
            next = (last + delta + 256) % 256;
        }
        last = next == 0 ? last : next;
    }
}

static int
pkg_cfg_sps_high_profile(uint8_t profile)
{
    switch (profile) {
    case 100:
    case 110:
    case 122:
    case 244:
    case 44:
    case 83:
    case 86:
    case 118:
    case 128:
    case 138:
    case 139:
    case 134:
    case 135:
        return 1;
    default:
        return 0;
    }
}

int
pkg_cfg_sps_size(const uint8_t *nal, size_t len, uint32_t *width, uint32_t *height,
                 uint8_t *chroma_format)
{
    struct pkg_cfg_bits b;
    uint32_t chroma = 1, separate = 0, poc_type, w_mbs, h_units, frame_mbs_only;
    uint32_t crop_l = 0, crop_r = 0, crop_t = 0, crop_b = 0, cux, cuy;
    uint64_t w, h;
    uint8_t profile;
    unsigned i, n;

    /* header byte, profile, constraints, level, then at least one ue */
    if (len < 5 || (nal[0] & 0x80) != 0 || (nal[0] & 0x1f) != 7)
        return ERR_MEDIA;
    profile = nal[1];
    pkg_cfg_bits_init(&b, nal + 4, len - 4, 1);
    if (pkg_cfg_bits_ue(&b) > 31) /* seq_parameter_set_id */
        return ERR_MEDIA;
    if (pkg_cfg_sps_high_profile(profile)) {
        chroma = pkg_cfg_bits_ue(&b);
        if (chroma > 3)
            return ERR_MEDIA;
        if (chroma == 3)
            separate = pkg_cfg_bits_get(&b, 1);
        if (pkg_cfg_bits_ue(&b) > 6 || pkg_cfg_bits_ue(&b) > 6) /* bit depths - 8 */
            return ERR_MEDIA;
        (void)pkg_cfg_bits_get(&b, 1); /* qpprime_y_zero_transform_bypass_flag */
        if (pkg_cfg_bits_get(&b, 1)) { /* seq_scaling_matrix_present_flag */
            n = chroma != 3 ? 8 : 12;
            for (i = 0; i < n; i++)
                if (pkg_cfg_bits_get(&b, 1))
                    pkg_cfg_sps_skip_scaling_list(&b, i < 6 ? 16 : 64);
        }
    }
    if (pkg_cfg_bits_ue(&b) > 12) /* log2_max_frame_num_minus4 */
        return ERR_MEDIA;
    poc_type = pkg_cfg_bits_ue(&b);
    if (poc_type == 0) {
        if (pkg_cfg_bits_ue(&b) > 12) /* log2_max_pic_order_cnt_lsb_minus4 */
            return ERR_MEDIA;
    } else if (poc_type == 1) {
        (void)pkg_cfg_bits_get(&b, 1);
        (void)pkg_cfg_bits_se(&b);
        (void)pkg_cfg_bits_se(&b);
        n = pkg_cfg_bits_ue(&b);
        if (n > 255)
            return ERR_MEDIA;
        for (i = 0; i < n && !b.overrun; i++)
            (void)pkg_cfg_bits_se(&b);
    } else if (poc_type != 2) {
        return ERR_MEDIA;
    }
    (void)pkg_cfg_bits_ue(&b);     /* max_num_ref_frames */
    (void)pkg_cfg_bits_get(&b, 1); /* gaps_in_frame_num_value_allowed_flag */
    w_mbs = pkg_cfg_bits_ue(&b) + 1;
    h_units = pkg_cfg_bits_ue(&b) + 1;
    frame_mbs_only = pkg_cfg_bits_get(&b, 1);
    if (!frame_mbs_only)
        (void)pkg_cfg_bits_get(&b, 1); /* mb_adaptive_frame_field_flag */
    (void)pkg_cfg_bits_get(&b, 1);     /* direct_8x8_inference_flag */
    if (pkg_cfg_bits_get(&b, 1)) {     /* frame_cropping_flag */
        crop_l = pkg_cfg_bits_ue(&b);
        crop_r = pkg_cfg_bits_ue(&b);
        crop_t = pkg_cfg_bits_ue(&b);
        crop_b = pkg_cfg_bits_ue(&b);
    }
    if (b.overrun)
        return ERR_MEDIA;
    /* Level 6.2 allows 139264 macroblocks a frame; 16384 per side is far beyond any level. */
    if (w_mbs > 1024 || h_units > 1024)
        return ERR_MEDIA;
    /* SPEC: H.264 7.4.2.1.1 -- CropUnitX/Y from ChromaArrayType (Table 6-1). */
    if (separate || chroma == 0) {
        cux = 1;
        cuy = 2 - frame_mbs_only;
    } else {
        cux = chroma == 3 ? 1 : 2;
        cuy = (chroma == 1 ? 2 : 1) * (2 - frame_mbs_only);
    }
    w = (uint64_t)w_mbs * 16;
    h = (uint64_t)h_units * 16 * (2 - frame_mbs_only);
    if ((uint64_t)crop_l + crop_r >= w / cux || (uint64_t)crop_t + crop_b >= h / cuy)
        return ERR_MEDIA;
    *width = (uint32_t)(w - (uint64_t)cux * (crop_l + crop_r));
    *height = (uint32_t)(h - (uint64_t)cuy * (crop_t + crop_b));
    *chroma_format = (uint8_t)chroma;
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
pkg_cfg_aac_rate(struct pkg_cfg_bits *b)
{
    uint32_t idx = pkg_cfg_bits_get(b, 4);

    if (idx == 15)
        return pkg_cfg_bits_get(b, 24);
    if (idx >= ARRAY_SIZE(pkg_cfg_aac_rates))
        return 0;
    return pkg_cfg_aac_rates[idx];
}

static uint8_t
pkg_cfg_aac_aot(struct pkg_cfg_bits *b)
{
    uint32_t aot = pkg_cfg_bits_get(b, 5);

    if (aot == 31)
        aot = 32 + pkg_cfg_bits_get(b, 6);
    return (uint8_t)aot;
}

int
pkg_cfg_aac_parse(const uint8_t *p, size_t len, struct pkg_cfg_aac *out)
{
    /* SPEC: ISO/IEC 14496-3 Table 1.19 -- channelConfiguration 1..7 */
    static const uint8_t chans[8] = {0, 1, 2, 3, 4, 5, 6, 8};
    struct pkg_cfg_bits b;
    uint32_t rate, ext_rate = 0, frame;
    uint8_t aot, core, cfg;
    size_t n;

    memset(out, 0, sizeof(*out));
    if (len > PKG_CFG_RECORD_MAX)
        return ERR_LIMIT;
    pkg_cfg_bits_init(&b, p, len, 0);
    aot = pkg_cfg_aac_aot(&b);
    rate = pkg_cfg_aac_rate(&b);
    cfg = (uint8_t)pkg_cfg_bits_get(&b, 4);
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
    frame = pkg_cfg_bits_get(&b, 1) ? 960 : 1024;
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
