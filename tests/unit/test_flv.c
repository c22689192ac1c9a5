/*
 * test_flv.c -- FLV tag headers, codec records (vectors taken from files
 * ffmpeg/libx264 wrote), the writer, and the incremental reader including
 * torn and damaged journals.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"
#include "err.h"
#include "proto/flv.h"
#include "compat.h"

static size_t
unhex(const char *h, uint8_t *out)
{
    size_t n = 0;

    while (h[0] && h[1]) {
        unsigned v;
        if (sscanf(h, "%2x", &v) != 1)
            break;
        out[n++] = (uint8_t)v;
        h += 2;
    }
    return n;
}

static void
test_audio_headers(void **state)
{
    struct flv_audio a;
    static const uint8_t aac_seq[] = {0xaf, 0x00, 0x12, 0x10};
    static const uint8_t aac_raw[] = {0xaf, 0x01, 0x21};
    static const uint8_t mp3[] = {0x2e, 0xff};
    static const uint8_t opus[] = {0x90, 'O', 'p', 'u', 's', 0x01};
    int64_t live = mem_live();

    (void)state;
    assert_int_equal(0, flv_audio_parse(aac_seq, sizeof(aac_seq), &a));
    assert_int_equal(FLV_SOUND_AAC, a.format);
    assert_int_equal(3, a.rate);
    assert_int_equal(16, a.bits);
    assert_int_equal(2, a.channels);
    assert_true(a.seq_header);
    assert_int_equal(2, a.hdr_len);
    assert_int_equal(0, flv_audio_parse(aac_raw, sizeof(aac_raw), &a));
    assert_false(a.seq_header);
    assert_int_equal(1, a.packet_type);
    assert_int_equal(0, flv_audio_parse(mp3, sizeof(mp3), &a));
    assert_int_equal(FLV_SOUND_MP3, a.format);
    assert_int_equal(1, a.channels);
    assert_int_equal(1, a.hdr_len);
    assert_int_equal(0, flv_audio_parse(opus, sizeof(opus), &a));
    assert_true(a.enhanced);
    assert_int_equal(FLV_FOURCC('O', 'p', 'u', 's'), a.fourcc);
    assert_true(a.seq_header);
    assert_int_equal(5, a.hdr_len);
    /* Short or invalid. */
    assert_int_equal(ERR_PROTO, flv_audio_parse(aac_seq, 0, &a));
    assert_int_equal(ERR_PROTO, flv_audio_parse(aac_seq, 1, &a));
    assert_int_equal(ERR_PROTO, flv_audio_parse(opus, 4, &a));
    {
        static const uint8_t bad[] = {0xaf, 0x02};
        assert_int_equal(ERR_PROTO, flv_audio_parse(bad, sizeof(bad), &a));
    }
    UNIT_END(live);
}

static void
test_video_headers(void **state)
{
    struct flv_video v;
    static const uint8_t avc_seq[] = {0x17, 0x00, 0x00, 0x00, 0x00, 0x01};
    static const uint8_t avc_inter[] = {0x27, 0x01, 0x00, 0x00, 0x21, 0x00};
    static const uint8_t avc_neg[] = {0x17, 0x01, 0xff, 0xff, 0xfe};
    static const uint8_t hevc_seq[] = {0x90, 'h', 'v', 'c', '1', 0x01};
    static const uint8_t hevc_frame[] = {0x91, 'h', 'v', 'c', '1', 0x00, 0x00, 0x28, 0xaa};
    static const uint8_t av1_x[] = {0xa3, 'a', 'v', '0', '1', 0x12};
    static const uint8_t legacy_hevc[] = {0x1c, 0x00, 0x00, 0x00, 0x00};
    int64_t live = mem_live();

    (void)state;
    assert_int_equal(0, flv_video_parse(avc_seq, sizeof(avc_seq), &v));
    assert_int_equal(FLV_CODEC_AVC, v.codec_id);
    assert_true(v.keyframe && v.seq_header);
    assert_int_equal(5, v.hdr_len);
    assert_int_equal(0, flv_video_parse(avc_inter, sizeof(avc_inter), &v));
    assert_false(v.keyframe || v.seq_header);
    assert_int_equal(33, v.cts);
    assert_int_equal(0, flv_video_parse(avc_neg, sizeof(avc_neg), &v));
    assert_int_equal(-2, v.cts);
    assert_int_equal(0, flv_video_parse(hevc_seq, sizeof(hevc_seq), &v));
    assert_true(v.enhanced && v.seq_header && v.keyframe);
    assert_int_equal(FLV_FOURCC('h', 'v', 'c', '1'), v.fourcc);
    assert_int_equal(0, flv_video_parse(hevc_frame, sizeof(hevc_frame), &v));
    assert_int_equal(FLV_EX_CODED_FRAMES, v.packet_type);
    assert_int_equal(40, v.cts);
    assert_int_equal(8, v.hdr_len);
    assert_int_equal(0, flv_video_parse(av1_x, sizeof(av1_x), &v));
    assert_int_equal(FLV_FRAME_INTER, v.frame_type);
    assert_int_equal(FLV_EX_CODED_FRAMES_X, v.packet_type);
    assert_int_equal(0, v.cts);
    assert_int_equal(0, flv_video_parse(legacy_hevc, sizeof(legacy_hevc), &v));
    assert_int_equal(FLV_CODEC_HEVC_LEGACY, v.codec_id);
    assert_true(v.seq_header);
    /* Short or invalid. */
    assert_int_equal(ERR_PROTO, flv_video_parse(avc_seq, 4, &v));
    assert_int_equal(ERR_PROTO, flv_video_parse(hevc_frame, 7, &v));
    assert_int_equal(ERR_PROTO, flv_video_parse((const uint8_t *)"\x07\x00\x00\x00\x00", 5, &v));
    assert_int_equal(ERR_PROTO, flv_video_parse((const uint8_t *)"\x17\x03\x00\x00\x00", 5, &v));
    UNIT_END(live);
}

static void
test_avc_config(void **state)
{
    /* From an FLV ffmpeg wrote (libx264, 1920x1080, ultrafast: constrained baseline). */
    static const char *avcc = "0142c028ffe100196742c028da01e0089f970110000003001000000303c0f1832a"
                              "01000468ce0fc8";
    struct flv_avc_config c;
    uint8_t b[128];
    size_t n = unhex(avcc, b), k;
    int64_t live = mem_live();

    (void)state;
    assert_int_equal(0, flv_avc_config_parse(b, n, &c));
    assert_int_equal(0x42, c.profile);
    assert_int_equal(0x28, c.level);
    assert_int_equal(4, c.nal_length_size);
    assert_int_equal(1, c.nsps);
    assert_int_equal(1, c.npps);
    assert_int_equal(0x19, c.sps[0].len);
    assert_int_equal(0x67, b[c.sps[0].off]);
    assert_int_equal(4, c.pps[0].len);
    assert_int_equal(0x68, b[c.pps[0].off]);
    assert_true(c.has_sps_info);
    assert_int_equal(1920, c.sps_info.width);
    assert_int_equal(1080, c.sps_info.height);
    /* Every truncation is refused; a bad version and a 3-byte NAL length too. */
    for (k = 0; k < n; k++)
        assert_int_equal(ERR_PROTO, flv_avc_config_parse(b, k, &c));
    b[0] = 2;
    assert_int_equal(ERR_PROTO, flv_avc_config_parse(b, n, &c));
    b[0] = 1;
    b[4] = 0xfe;
    assert_int_equal(ERR_PROTO, flv_avc_config_parse(b, n, &c));
    UNIT_END(live);
}

static void
test_h264_sps(void **state)
{
    /* SPS NAL units libx264 wrote (ffmpeg -f h264). */
    static const struct {
        const char *hex;
        uint8_t profile;
        uint8_t chroma;
        uint32_t w, h;
    } v[] = {
        {"67640028acd940780227e5c044000003000400000300f03c60c658", 100, 1, 1920, 1080},
        {"677a001fbcd9405005bb0110000003001000000303c0f1831960", 122, 2, 1280, 720},
        {"674d400beca162760220000003002000000781e28532c0", 77, 1, 176, 144},
        {"6742c00ada11ec0440000003004000000503c489a8", 66, 1, 64, 48},
    };
    struct flv_h264_sps s;
    uint8_t b[64];
    size_t i, n;
    int64_t live = mem_live();

    (void)state;
    for (i = 0; i < ARRAY_SIZE(v); i++) {
        n = unhex(v[i].hex, b);
        assert_int_equal(0, flv_h264_sps_parse(b, n, &s));
        assert_int_equal(v[i].profile, s.profile_idc);
        assert_int_equal(v[i].chroma, s.chroma_format_idc);
        assert_int_equal(v[i].w, s.width);
        assert_int_equal(v[i].h, s.height);
        assert_true(s.frame_mbs_only);
        /* Cut short: refused, never read past the end. */
        assert_int_equal(ERR_PROTO, flv_h264_sps_parse(b, 6, &s));
    }
    /* Not an SPS. */
    assert_int_equal(ERR_PROTO, flv_h264_sps_parse((const uint8_t *)"\x68\x00\x00\x00", 4, &s));
    UNIT_END(live);
}

static void
test_aac_config(void **state)
{
    struct flv_aac_config c;
    static const uint8_t lc48[] = {0x11, 0x90, 0x56, 0xe5, 0x00};
    static const uint8_t lc44mono[] = {0x12, 0x08};
    /* explicit SBR: AOT 5, 24 kHz core, stereo, 48 kHz output, then AOT 2 */
    static const uint8_t he[] = {0x2b, 0x11, 0x88, 0x00};
    /* escape: sampling frequency index 15 with an explicit 24-bit rate (LC, 1 ch) */
    static const uint8_t explicit_rate[] = {0x17, 0x80, 0x1f, 0x40, 0x08};
    int64_t live = mem_live();

    (void)state;
    assert_int_equal(0, flv_aac_config_parse(lc48, sizeof(lc48), &c));
    assert_int_equal(2, c.object_type);
    assert_int_equal(48000, c.sample_rate);
    assert_int_equal(2, c.channel_config);
    assert_false(c.sbr);
    assert_int_equal(0, flv_aac_config_parse(lc44mono, sizeof(lc44mono), &c));
    assert_int_equal(44100, c.sample_rate);
    assert_int_equal(1, c.channel_config);
    assert_int_equal(0, flv_aac_config_parse(he, sizeof(he), &c));
    assert_true(c.sbr);
    assert_false(c.ps);
    assert_int_equal(2, c.object_type);
    assert_int_equal(24000, c.sample_rate);
    assert_int_equal(48000, c.ext_sample_rate);
    assert_int_equal(0, flv_aac_config_parse(explicit_rate, sizeof(explicit_rate), &c));
    assert_int_equal(16000, c.sample_rate);
    assert_int_equal(1, c.channel_config);
    assert_int_equal(ERR_PROTO, flv_aac_config_parse(lc48, 1, &c));
    assert_int_equal(ERR_PROTO, flv_aac_config_parse((const uint8_t *)"\x17\x80", 2, &c));
    assert_int_equal(ERR_PROTO, flv_aac_config_parse((const uint8_t *)"\x16\x80", 2, &c));
    UNIT_END(live);
}

/* A journal: file header and 40 tags of varied sizes and timestamps. */
static size_t
build_journal(uint8_t *out, size_t cap, uint32_t *sizes, size_t ntags)
{
    size_t n, i, j;
    uint8_t body[3000];
    long k;

    n = flv_write_file_header(out, FLV_FLAG_AUDIO | FLV_FLAG_VIDEO);
    for (i = 0; i < ntags; i++) {
        sizes[i] = (uint32_t)((i * 397) % 2999);
        for (j = 0; j < sizes[i]; j++)
            body[j] = (uint8_t)(i + j);
        k = flv_write_tag(out + n, cap - n, i % 3 == 0 ? FLV_TAG_VIDEO : FLV_TAG_AUDIO,
                          (uint32_t)(i * 33) | (i == ntags - 1 ? 0x7f000000U : 0), body, sizes[i]);
        assert_true(k > 0);
        n += (size_t)k;
    }
    return n;
}

struct flv_seen {
    size_t tags;
    uint32_t sizes[64];
    uint32_t ts[64];
    uint32_t sum;
};

static long
read_all(struct flv_reader *r, const uint8_t *p, size_t len, size_t step, struct flv_seen *s)
{
    size_t off = 0;

    while (off < len) {
        size_t piece = step == 0 || len - off < step ? len - off : step;
        const uint8_t *q = p + off;
        size_t left = piece;

        while (left > 0) {
            struct flv_tag t;
            long n = flv_reader_parse(r, q, left, &t);
            uint32_t i;

            flv_reader_check(r);
            if (n == ERR_AGAIN)
                break;
            if (n < 0)
                return n;
            assert_true(s->tags < 64);
            s->sizes[s->tags] = t.size;
            s->ts[s->tags] = t.ts;
            for (i = 0; i < t.size; i++)
                s->sum = s->sum * 31 + t.data[i];
            s->tags++;
            q += n;
            left -= (size_t)n;
        }
        off += piece;
    }
    return 0;
}

static void
test_writer_bytes(void **state)
{
    uint8_t b[32];
    static const uint8_t hdr[] = {'F', 'L', 'V', 1, 5, 0, 0, 0, 9, 0, 0, 0, 0};
    static const uint8_t tag[] = {9, 0, 0,    2,    0x34, 0x56, 0x78, 0x12, 0,
                                  0, 0, 0xaa, 0xbb, 0,    0,    0,    13};
    int64_t live = mem_live();

    (void)state;
    assert_int_equal(13, flv_write_file_header(b, FLV_FLAG_AUDIO | FLV_FLAG_VIDEO));
    assert_memory_equal(hdr, b, sizeof(hdr));
    assert_int_equal(sizeof(tag), flv_write_tag(b, sizeof(b), FLV_TAG_VIDEO, 0x12345678,
                                                (const uint8_t *)"\xaa\xbb", 2));
    assert_memory_equal(tag, b, sizeof(tag));
    assert_int_equal(ERR_LIMIT, flv_write_tag(b, 16, FLV_TAG_VIDEO, 0, b, 2));
    assert_int_equal(ERR_INVAL, flv_write_tag_header(b, 7, 1, 0));
    assert_int_equal(ERR_INVAL, flv_write_tag_header(b, FLV_TAG_AUDIO, 0x1000000, 0));
    UNIT_END(live);
}

static void
test_reader_whole_and_pieces(void **state)
{
    uint8_t *buf = test_malloc(200000);
    uint32_t sizes[40];
    size_t len = build_journal(buf, 200000, sizes, 40), i;
    static const size_t steps[] = {0, 1, 2, 5, 11, 15, 4096};
    struct flv_seen *whole = test_calloc(1, sizeof(*whole)), *s = test_calloc(1, sizeof(*s));
    struct flv_reader r;
    int64_t live = mem_live();

    (void)state;
    flv_reader_init(&r, true, 0);
    assert_int_equal(0, read_all(&r, buf, len, 0, whole));
    assert_int_equal(0, flv_reader_finish(&r));
    assert_int_equal(40, whole->tags);
    assert_int_equal(FLV_FLAG_AUDIO | FLV_FLAG_VIDEO, r.flags);
    for (i = 0; i < 40; i++)
        assert_int_equal(sizes[i], whole->sizes[i]);
    assert_int_equal(0x7f000000U | (39 * 33), whole->ts[39]);
    assert_int_equal(len, r.good_off);
    assert_null(r.buf); /* everything was lent from the input: no copy */
    flv_reader_fini(&r);
    for (i = 0; i < ARRAY_SIZE(steps); i++) {
        memset(s, 0, sizeof(*s));
        flv_reader_init(&r, true, 0);
        assert_int_equal(0, read_all(&r, buf, len, steps[i], s));
        assert_int_equal(0, flv_reader_finish(&r));
        assert_int_equal(whole->tags, s->tags);
        assert_int_equal(whole->sum, s->sum);
        assert_int_equal(0, memcmp(whole->ts, s->ts, sizeof(s->ts)));
        flv_reader_fini(&r);
    }
    /* A bare tag sequence (no file header). */
    memset(s, 0, sizeof(*s));
    flv_reader_init(&r, false, 0);
    assert_int_equal(0, read_all(&r, buf + 13, len - 13, 7, s));
    assert_int_equal(40, s->tags);
    flv_reader_fini(&r);
    test_free(whole);
    test_free(s);
    test_free(buf);
    UNIT_END(live);
}

/* A crash mid-append: every cut stops cleanly at the last whole tag. */
static void
test_reader_torn_tail(void **state)
{
    uint8_t *buf = test_malloc(60000);
    uint32_t sizes[8];
    size_t len = build_journal(buf, 60000, sizes, 8), cut, ends[9], k, expect;
    struct flv_seen *s = test_calloc(1, sizeof(*s));
    struct flv_reader r;
    int64_t live = mem_live();

    (void)state;
    ends[0] = 13;
    for (k = 0; k < 8; k++)
        ends[k + 1] = ends[k] + 11 + sizes[k] + 4;
    assert_int_equal(len, ends[8]);
    for (cut = 0; cut <= len; cut += (cut < 40 ? 1 : 37)) {
        memset(s, 0, sizeof(*s));
        flv_reader_init(&r, true, 0);
        assert_int_equal(0, read_all(&r, buf, cut, 64, s));
        for (expect = 0; expect < 8 && ends[expect + 1] <= cut; expect++)
            ;
        assert_int_equal(expect, s->tags);
        if (cut >= 13) {
            assert_int_equal(ends[expect], r.good_off);
            assert_int_equal(cut == ends[expect] ? 0 : ERR_AGAIN, flv_reader_finish(&r));
        } else {
            assert_int_equal(ERR_AGAIN, flv_reader_finish(&r));
        }
        flv_reader_fini(&r);
    }
    test_free(s);
    test_free(buf);
    UNIT_END(live);
}

static void
test_reader_damage(void **state)
{
    uint8_t *buf = test_malloc(60000);
    uint32_t sizes[8];
    size_t len = build_journal(buf, 60000, sizes, 8), second = 13 + 11 + sizes[0] + 4;
    struct flv_seen *s = test_calloc(1, sizeof(*s));
    struct flv_reader r;
    int64_t live = mem_live();

    (void)state;
    /* Preallocated zeros after the second tag: refused, good_off at its end. */
    memset(buf + second + 11 + sizes[1] + 4, 0, 40);
    flv_reader_init(&r, true, 0);
    assert_int_equal(ERR_PROTO, read_all(&r, buf, len, 0, s));
    assert_int_equal(2, s->tags);
    assert_int_equal(second + 11 + sizes[1] + 4, r.good_off);
    assert_int_equal(ERR_PROTO, flv_reader_finish(&r));
    flv_reader_check(&r);
    flv_reader_fini(&r);

    /* A wrong PreviousTagSize, whole in the input and in pieces. */
    len = build_journal(buf, 60000, sizes, 8);
    buf[second - 1] ^= 1;
    memset(s, 0, sizeof(*s));
    flv_reader_init(&r, true, 0);
    assert_int_equal(ERR_PROTO, read_all(&r, buf, len, 0, s));
    assert_int_equal(0, s->tags);
    assert_int_equal(13, r.good_off);
    flv_reader_fini(&r);
    memset(s, 0, sizeof(*s));
    flv_reader_init(&r, true, 0);
    assert_int_equal(ERR_PROTO, read_all(&r, buf, len, 3, s));
    assert_int_equal(13, r.good_off);
    flv_reader_fini(&r);

    /* Signature, version, PreviousTagSize0, stream id, size cap. */
    len = build_journal(buf, 60000, sizes, 8);
    buf[0] = 'X';
    flv_reader_init(&r, true, 0);
    assert_int_equal(ERR_PROTO, read_all(&r, buf, len, 0, s));
    assert_int_equal(0, r.good_off);
    flv_reader_fini(&r);
    buf[0] = 'F';
    buf[3] = 2;
    flv_reader_init(&r, true, 0);
    assert_int_equal(ERR_PROTO, read_all(&r, buf, len, 0, s));
    flv_reader_fini(&r);
    buf[3] = 1;
    buf[12] = 1;
    flv_reader_init(&r, true, 0);
    assert_int_equal(ERR_PROTO, read_all(&r, buf, len, 0, s));
    flv_reader_fini(&r);
    buf[12] = 0;
    buf[13 + 10] = 1;
    flv_reader_init(&r, true, 0);
    assert_int_equal(ERR_PROTO, read_all(&r, buf, len, 0, s));
    flv_reader_fini(&r);
    buf[13 + 10] = 0;
    flv_reader_init(&r, true, 100);
    memset(s, 0, sizeof(*s));
    assert_int_equal(ERR_LIMIT, read_all(&r, buf, len, 0, s));
    assert_int_equal(1, s->tags); /* the first tag is empty */
    flv_reader_fini(&r);
    test_free(s);
    test_free(buf);
    UNIT_END(live);
}

/* The FLV ffmpeg wrote (committed as a fuzz seed): 64x48 H.264 + AAC mono. */
static void
test_reader_ffmpeg_file(void **state)
{
    const char *src = getenv("CASCADE_SOURCE_DIR");
    char path[1024];
    uint8_t *buf = test_malloc(65536);
    size_t len;
    FILE *f;
    struct flv_reader r;
    size_t off = 1, tags = 0, video = 0, audio = 0;
    bool saw_avc = false, saw_aac = false;
    int64_t live = mem_live();

    (void)state;
    if (src == NULL)
        src = ".";
    snprintf(path, sizeof(path), "%s/tests/fuzz/corpus/flv/ffmpeg_small", src);
    f = fopen(path, "rb");
    assert_non_null(f);
    len = fread(buf, 1, 65536, f);
    fclose(f);
    assert_true(len > 1000);
    flv_reader_init(&r, true, 0);
    while (off < len) {
        struct flv_tag t;
        long n = flv_reader_parse(&r, buf + off, len - off, &t);

        assert_true(n > 0);
        off += (size_t)n;
        tags++;
        if (t.type == FLV_TAG_VIDEO) {
            struct flv_video v;
            assert_int_equal(0, flv_video_parse(t.data, t.size, &v));
            video++;
            if (v.seq_header) {
                struct flv_avc_config c;
                assert_int_equal(0,
                                 flv_avc_config_parse(t.data + v.hdr_len, t.size - v.hdr_len, &c));
                assert_int_equal(64, c.sps_info.width);
                assert_int_equal(48, c.sps_info.height);
                saw_avc = true;
            }
        } else if (t.type == FLV_TAG_AUDIO) {
            struct flv_audio a;
            assert_int_equal(0, flv_audio_parse(t.data, t.size, &a));
            audio++;
            if (a.seq_header) {
                struct flv_aac_config c;
                assert_int_equal(0,
                                 flv_aac_config_parse(t.data + a.hdr_len, t.size - a.hdr_len, &c));
                assert_int_equal(44100, c.sample_rate);
                assert_int_equal(1, c.channel_config);
                saw_aac = true;
            }
        }
    }
    assert_int_equal(0, flv_reader_finish(&r));
    assert_int_equal(59, tags);
    assert_true(saw_avc && saw_aac);
    assert_true(video >= 10 && audio >= 10);
    flv_reader_fini(&r);
    test_free(buf);
    UNIT_END(live);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_audio_headers),
        cmocka_unit_test(test_video_headers),
        cmocka_unit_test(test_avc_config),
        cmocka_unit_test(test_h264_sps),
        cmocka_unit_test(test_aac_config),
        cmocka_unit_test(test_writer_bytes),
        cmocka_unit_test(test_reader_whole_and_pieces),
        cmocka_unit_test(test_reader_torn_tail),
        cmocka_unit_test(test_reader_damage),
        cmocka_unit_test(test_reader_ffmpeg_file),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
