/*
 * fuzz_flv.c -- FLV reader, tag headers and codec records on hostile bytes.
 *
 * The first byte picks the mode: 0/1 read a journal with/without the file
 * header (whole and in pieces, which must agree), 2 decodes an AVC
 * configuration record and an SPS, 3 an AudioSpecificConfig and the tag
 * body headers.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "err.h"
/* The parser is compiled into the target so libFuzzer instruments it. */
#include "../../shared/proto/flv.c"
#include "compat.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fuzz_tag_body(const struct flv_tag *t)
{
    struct flv_video v;
    struct flv_audio a;
    struct flv_avc_config c;
    struct flv_aac_config ac;

    if (t->type == FLV_TAG_VIDEO && flv_video_parse(t->data, t->size, &v) == 0) {
        assert(v.hdr_len <= t->size);
        if (v.seq_header && v.codec_id == FLV_CODEC_AVC &&
            flv_avc_config_parse(t->data + v.hdr_len, t->size - v.hdr_len, &c) == 0)
            assert(c.nsps <= FLV_AVC_MAX_PS && c.npps <= FLV_AVC_MAX_PS);
    }
    if (t->type == FLV_TAG_AUDIO && flv_audio_parse(t->data, t->size, &a) == 0) {
        assert(a.hdr_len <= t->size);
        if (a.seq_header && a.format == FLV_SOUND_AAC &&
            flv_aac_config_parse(t->data + a.hdr_len, t->size - a.hdr_len, &ac) == 0)
            assert(ac.sample_rate > 0);
    }
}

static long
fuzz_read(const uint8_t *p, size_t len, bool hdr, size_t step, uint64_t *tags, uint32_t *sum)
{
    struct flv_reader r;
    size_t off = 0;
    long rc = 0;

    flv_reader_init(&r, hdr, 1 << 16);
    *tags = 0;
    *sum = 0;
    while (off < len && rc == 0) {
        size_t piece = len - off < step ? len - off : step;
        const uint8_t *q = p + off;

        off += piece;
        while (piece > 0) {
            struct flv_tag t;
            long n = flv_reader_parse(&r, q, piece, &t);
            uint32_t i;

            flv_reader_check(&r);
            if (n == ERR_AGAIN)
                break;
            if (n < 0) {
                rc = n;
                break;
            }
            assert((size_t)n <= piece);
            fuzz_tag_body(&t);
            for (i = 0; i < t.size; i++)
                *sum = *sum * 31 + t.data[i];
            (*tags)++;
            q += n;
            piece -= (size_t)n;
        }
    }
    if (rc == 0)
        rc = flv_reader_finish(&r);
    assert(r.good_off <= len);
    flv_reader_fini(&r);
    return rc;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct flv_avc_config c;
    struct flv_h264_sps s;
    struct flv_aac_config ac;
    struct flv_video v;
    struct flv_audio a;
    uint64_t t1, t2;
    uint32_t s1, s2;
    long r1, r2;
    uint8_t mode;

    if (size < 1)
        return 0;
    mode = data[0] & 3;
    data++;
    size--;
    switch (mode) {
    case 0:
    case 1:
        r1 = fuzz_read(data, size, mode == 0, size == 0 ? 1 : size, &t1, &s1);
        r2 = fuzz_read(data, size, mode == 0, 7, &t2, &s2);
        assert(r1 == r2 && t1 == t2 && s1 == s2);
        break;
    case 2:
        if (flv_avc_config_parse(data, size, &c) == 0 && c.has_sps_info)
            assert(c.sps_info.width > 0 && c.sps_info.height > 0);
        if (flv_h264_sps_parse(data, size, &s) == 0)
            assert(s.width <= 65535 && s.height <= 65535);
        break;
    default:
        if (flv_aac_config_parse(data, size, &ac) == 0)
            assert(ac.object_type > 0 && ac.channel_config <= 7);
        if (flv_video_parse(data, size, &v) == 0)
            assert(v.hdr_len <= size);
        if (flv_audio_parse(data, size, &a) == 0)
            assert(a.hdr_len <= size);
        break;
    }
    return 0;
}
