/*
 * test_rtmp_handshake.c -- the server handshake: simple and digest answers,
 * refusals, and chunked input.
 */
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <string.h>

#include "unit.h"
#include "err.h"
#include "proto/rtmp_handshake.h"
#include "compat.h"

static void
fill_pattern(uint8_t *p, size_t n, uint32_t seed)
{
    size_t i;

    for (i = 0; i < n; i++) {
        seed = seed * 1103515245U + 12345U;
        p[i] = (uint8_t)(seed >> 16);
    }
}

static void
init_hs(struct rtmp_handshake *hs, enum rtmp_handshake_mode mode)
{
    struct rtmp_handshake_conf conf = {.mode = mode, .time_ms = 0x01020304, .seed = 42};

    rtmp_handshake_init(hs, &conf);
    rtmp_handshake_check(hs);
}

/* C0 C1 as a spec-simple client sends it: zero version, random filler. */
static void
make_simple_c0c1(uint8_t *buf)
{
    buf[0] = 3;
    fill_pattern(buf + 1, RTMP_HANDSHAKE_SIZE, 7);
    memset(buf + 1, 0, 8); /* time 0, version 0 (librtmp without SWF verification) */
}

/* C0 C1 as Flash / librtmp with SWF verification sends it: version and digest. */
static uint32_t
make_digest_c0c1(uint8_t *buf, int scheme)
{
    uint8_t *c1 = buf + 1;
    uint32_t pos;

    buf[0] = 3;
    fill_pattern(c1, RTMP_HANDSHAKE_SIZE, 99 + (uint32_t)scheme);
    c1[4] = 10;
    c1[5] = 0;
    c1[6] = 45;
    c1[7] = 2;
    pos = rtmp_handshake_digest_pos(c1, scheme);
    rtmp_handshake_digest_calc(c1, pos, rtmp_handshake_fp_key, 30, c1 + pos);
    return pos;
}

static void
test_sha256_vectors(void **state)
{
    /* SPEC: RFC 4231 4.2 test case 1 and 4.3 test case 2. */
    static const uint8_t exp1[32] = {0xb0, 0x34, 0x4c, 0x61, 0xd8, 0xdb, 0x38, 0x53,
                                     0x5c, 0xa8, 0xaf, 0xce, 0xaf, 0x0b, 0xf1, 0x2b,
                                     0x88, 0x1d, 0xc2, 0x00, 0xc9, 0x83, 0x3d, 0xa7,
                                     0x26, 0xe9, 0x37, 0x6c, 0x2e, 0x32, 0xcf, 0xf7};
    static const uint8_t exp2[32] = {0x5b, 0xdc, 0xc1, 0x46, 0xbf, 0x60, 0x75, 0x4e,
                                     0x6a, 0x04, 0x24, 0x26, 0x08, 0x95, 0x75, 0xc7,
                                     0x5a, 0x00, 0x3f, 0x08, 0x9d, 0x27, 0x39, 0x83,
                                     0x9d, 0xec, 0x58, 0xb9, 0x64, 0xec, 0x38, 0x43};
    uint8_t key[20], out[32], ref[32], msg[3000], bigkey[150];
    unsigned reflen;
    size_t n;
    int64_t live = mem_live();

    (void)state;
    memset(key, 0x0b, sizeof(key));
    rtmp_handshake_hmac_sha256(key, sizeof(key), (const uint8_t *)"Hi There", 8, out);
    assert_memory_equal(out, exp1, 32);
    rtmp_handshake_hmac_sha256((const uint8_t *)"Jefe", 4,
                               (const uint8_t *)"what do ya want for nothing?", 28, out);
    assert_memory_equal(out, exp2, 32);

    /* Every length around the block boundaries, and a key over 64 bytes, against OpenSSL. */
    fill_pattern(msg, sizeof(msg), 3);
    fill_pattern(bigkey, sizeof(bigkey), 4);
    for (n = 0; n < 200; n++) {
        rtmp_handshake_hmac_sha256(bigkey, n % 150, msg, n, out);
        HMAC(EVP_sha256(), bigkey, (int)(n % 150), msg, n, ref, &reflen);
        assert_int_equal(32, reflen);
        assert_memory_equal(out, ref, 32);
    }
    rtmp_handshake_hmac_sha256(bigkey, 150, msg, sizeof(msg), out);
    HMAC(EVP_sha256(), bigkey, 150, msg, sizeof(msg), ref, &reflen);
    assert_memory_equal(out, ref, 32);
    UNIT_END(live);
}

static void
test_simple_handshake(void **state)
{
    struct rtmp_handshake hs;
    uint8_t in[1 + 2 * RTMP_HANDSHAKE_SIZE + 5];
    const uint8_t *out;
    size_t olen;
    long n;
    int64_t live = mem_live();

    (void)state;
    init_hs(&hs, RTMP_HS_MODE_AUTO);
    make_simple_c0c1(in);
    fill_pattern(in + 1 + RTMP_HANDSHAKE_SIZE, RTMP_HANDSHAKE_SIZE + 5, 11);

    assert_null(rtmp_handshake_output(&hs, &olen));
    n = rtmp_handshake_parse(&hs, in, sizeof(in));
    assert_int_equal(1 + RTMP_HANDSHAKE_SIZE, n);
    rtmp_handshake_check(&hs);
    assert_int_equal(RTMP_HS_S_C2, hs.state);
    assert_int_equal(RTMP_HS_KIND_SIMPLE, hs.kind);
    out = rtmp_handshake_output(&hs, &olen);
    assert_non_null(out);
    assert_int_equal(RTMP_HANDSHAKE_OUT_SIZE, olen);
    assert_int_equal(3, out[0]);
    /* S1: our time, zero version. */
    assert_int_equal(0x01, out[1]);
    assert_int_equal(0x04, out[4]);
    assert_int_equal(0, out[5] | out[6] | out[7] | out[8]);
    /* S2 echoes C1 byte for byte. */
    assert_memory_equal(out + 1 + RTMP_HANDSHAKE_SIZE, in + 1, RTMP_HANDSHAKE_SIZE);
    rtmp_handshake_output_taken(&hs);
    assert_null(rtmp_handshake_output(&hs, &olen));

    /* C2, then five bytes of chunk stream that must stay unconsumed. */
    n = rtmp_handshake_parse(&hs, in + 1 + RTMP_HANDSHAKE_SIZE, RTMP_HANDSHAKE_SIZE + 5);
    assert_int_equal(RTMP_HANDSHAKE_SIZE, n);
    assert_true(rtmp_handshake_done(&hs));
    rtmp_handshake_check(&hs);
    assert_int_equal(0, rtmp_handshake_eof(&hs));
    /* Done is done: further input is not ours. */
    assert_int_equal(0, rtmp_handshake_parse(&hs, in, 5));
    UNIT_END(live);
}

/* Verifies an answer the way librtmp (FP9 mode) and ffmpeg (as a player) do. */
static void
check_digest_answer(const uint8_t *out, const uint8_t *c1, uint32_t client_pos, int scheme)
{
    const uint8_t *s1 = out + 1, *s2 = out + 1 + RTMP_HANDSHAKE_SIZE;
    uint8_t d[32], key[32];
    uint32_t pos;

    assert_int_equal(3, out[0]);
    assert_true(s1[4] >= 3); /* non-zero: librtmp stays in FP9 mode; >= 3: ffmpeg verifies */
    pos = rtmp_handshake_digest_pos(s1, scheme);
    rtmp_handshake_digest_calc(s1, pos, rtmp_handshake_fms_key, 36, d);
    assert_memory_equal(d, s1 + pos, 32);
    /* The other scheme must not verify by accident (it would be a coincidence). */
    pos = rtmp_handshake_digest_pos(s1, 1 - scheme);
    rtmp_handshake_digest_calc(s1, pos, rtmp_handshake_fms_key, 36, d);
    assert_memory_not_equal(d, s1 + pos, 32);
    /* S2 signature: HMAC(HMAC(full FMS key, client digest), S2 minus its last 32). */
    rtmp_handshake_hmac_sha256(rtmp_handshake_fms_key, 68, c1 + client_pos, 32, key);
    rtmp_handshake_hmac_sha256(key, 32, s2, RTMP_HANDSHAKE_SIZE - 32, d);
    assert_memory_equal(d, s2 + RTMP_HANDSHAKE_SIZE - 32, 32);
}

static void
test_digest_handshake(void **state)
{
    struct rtmp_handshake hs;
    uint8_t in[1 + RTMP_HANDSHAKE_SIZE];
    const uint8_t *out;
    size_t olen;
    uint32_t pos;
    int scheme;
    int64_t live = mem_live();

    (void)state;
    for (scheme = 0; scheme < 2; scheme++) {
        init_hs(&hs, RTMP_HS_MODE_AUTO);
        pos = make_digest_c0c1(in, scheme);
        assert_int_equal(1 + RTMP_HANDSHAKE_SIZE, rtmp_handshake_parse(&hs, in, sizeof(in)));
        rtmp_handshake_check(&hs);
        assert_int_equal(RTMP_HS_KIND_DIGEST, hs.kind);
        assert_int_equal(scheme, hs.digest_scheme);
        assert_int_equal(0x0a002d02, hs.client_version);
        out = rtmp_handshake_output(&hs, &olen);
        assert_non_null(out);
        check_digest_answer(out, in + 1, pos, scheme);
    }

    /* Forced simple mode answers a digest client the simple way. */
    init_hs(&hs, RTMP_HS_MODE_SIMPLE);
    make_digest_c0c1(in, 0);
    assert_int_equal(1 + RTMP_HANDSHAKE_SIZE, rtmp_handshake_parse(&hs, in, sizeof(in)));
    assert_int_equal(RTMP_HS_KIND_SIMPLE, hs.kind);
    out = rtmp_handshake_output(&hs, &olen);
    assert_int_equal(0, out[5]); /* librtmp falls back to the simple check on a zero byte */
    assert_memory_equal(out + 1 + RTMP_HANDSHAKE_SIZE, in + 1, RTMP_HANDSHAKE_SIZE);

    /* A non-zero version with a bad digest (ffmpeg's C1 when damaged): simple answer. */
    init_hs(&hs, RTMP_HS_MODE_AUTO);
    pos = make_digest_c0c1(in, 0);
    in[1 + pos] ^= 1;
    assert_int_equal(1 + RTMP_HANDSHAKE_SIZE, rtmp_handshake_parse(&hs, in, sizeof(in)));
    assert_int_equal(RTMP_HS_KIND_SIMPLE, hs.kind);
    rtmp_handshake_check(&hs);
    UNIT_END(live);
}

static void
test_byte_at_a_time(void **state)
{
    struct rtmp_handshake whole, bytes;
    uint8_t in[1 + 2 * RTMP_HANDSHAKE_SIZE];
    const uint8_t *o1, *o2;
    size_t l1, l2, i;
    long n;
    int events = 0;
    int64_t live = mem_live();

    (void)state;
    make_digest_c0c1(in, 1);
    fill_pattern(in + 1 + RTMP_HANDSHAKE_SIZE, RTMP_HANDSHAKE_SIZE, 5);
    init_hs(&whole, RTMP_HS_MODE_AUTO);
    init_hs(&bytes, RTMP_HS_MODE_AUTO);
    assert_int_equal(1 + RTMP_HANDSHAKE_SIZE, rtmp_handshake_parse(&whole, in, sizeof(in)));
    assert_int_equal(RTMP_HANDSHAKE_SIZE, rtmp_handshake_parse(&whole, in + 1 + RTMP_HANDSHAKE_SIZE,
                                                               RTMP_HANDSHAKE_SIZE));
    for (i = 0; i < sizeof(in); i++) {
        n = rtmp_handshake_parse(&bytes, in + i, 1);
        rtmp_handshake_check(&bytes);
        if (n == 1)
            events++;
        else
            assert_int_equal(ERR_AGAIN, n);
    }
    assert_int_equal(2, events);
    assert_true(rtmp_handshake_done(&bytes));
    o1 = rtmp_handshake_output(&whole, &l1);
    o2 = rtmp_handshake_output(&bytes, &l2);
    assert_int_equal(l1, l2);
    assert_memory_equal(o1, o2, l1);
    UNIT_END(live);
}

static void
test_refusals(void **state)
{
    struct rtmp_handshake hs;
    uint8_t in[1 + RTMP_HANDSHAKE_SIZE];
    static const uint8_t http[] = "GET / HTTP/1.1\r\n";
    static const uint8_t rtmpe[] = {6, 0, 0, 0};
    int64_t live = mem_live();

    (void)state;
    /* Someone speaks HTTP to the RTMP port. */
    init_hs(&hs, RTMP_HS_MODE_AUTO);
    assert_int_equal(ERR_PROTO, rtmp_handshake_parse(&hs, http, sizeof(http) - 1));
    assert_int_equal(RTMP_HS_E_VERSION, hs.error);
    assert_int_equal('G', hs.c0);
    rtmp_handshake_check(&hs);
    assert_non_null(strstr(rtmp_handshake_error_str(hs.error), "version"));
    /* Sticky. */
    assert_int_equal(ERR_PROTO, rtmp_handshake_parse(&hs, in, 1));
    assert_null(rtmp_handshake_output(&hs, &(size_t){0}));

    init_hs(&hs, RTMP_HS_MODE_AUTO);
    assert_int_equal(ERR_PROTO, rtmp_handshake_parse(&hs, rtmpe, sizeof(rtmpe)));
    assert_int_equal(RTMP_HS_E_ENCRYPTED, hs.error);

    /* Version 0..2 and 4 are refused too. */
    init_hs(&hs, RTMP_HS_MODE_AUTO);
    assert_int_equal(ERR_PROTO, rtmp_handshake_parse(&hs, (const uint8_t *)"\x04", 1));
    assert_int_equal(RTMP_HS_E_VERSION, hs.error);

    /* Truncated inside C1. */
    init_hs(&hs, RTMP_HS_MODE_AUTO);
    make_simple_c0c1(in);
    assert_int_equal(ERR_AGAIN, rtmp_handshake_parse(&hs, in, 700));
    assert_int_equal(ERR_PROTO, rtmp_handshake_eof(&hs));
    assert_int_equal(RTMP_HS_E_TRUNCATED, hs.error);
    rtmp_handshake_check(&hs);

    /* Truncated inside C2. */
    init_hs(&hs, RTMP_HS_MODE_AUTO);
    assert_int_equal(1 + RTMP_HANDSHAKE_SIZE, rtmp_handshake_parse(&hs, in, sizeof(in)));
    assert_int_equal(ERR_AGAIN, rtmp_handshake_parse(&hs, in, 100));
    assert_int_equal(ERR_PROTO, rtmp_handshake_eof(&hs));
    assert_int_equal(RTMP_HS_E_TRUNCATED, hs.error);

    /* Empty input is not an error. */
    init_hs(&hs, RTMP_HS_MODE_AUTO);
    assert_int_equal(ERR_AGAIN, rtmp_handshake_parse(&hs, in, 0));
    UNIT_END(live);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sha256_vectors),   cmocka_unit_test(test_simple_handshake),
        cmocka_unit_test(test_digest_handshake), cmocka_unit_test(test_byte_at_a_time),
        cmocka_unit_test(test_refusals),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
