/*
 * rtmp_handshake.c -- server side of the RTMP handshake (simple and digest).
 *
 * Owns nothing outside its struct. Carries a small SHA-256 / HMAC-SHA256
 * (SPEC: FIPS 180-4, RFC 2104) so the pure layer needs no crypto library;
 * the digests here authenticate nothing, they only satisfy clients that
 * check the server is "genuine". Not here: RTMPE, TLS, sockets.
 */
#include <stdint.h>
#include <string.h>

#include "rtmp_handshake.h"
#include "../err.h"
#include "../compat.h"

/* ---- SHA-256 (SPEC: FIPS 180-4 6.2) ---- */

struct rtmp_handshake_sha256 {
    uint32_t h[8];
    uint64_t total; /* bytes hashed */
    uint8_t buf[64];
    uint32_t used;
};

static const uint32_t rtmp_handshake_sha_k[64] = {
    0x428a2f98U, 0x71374491U, 0xb5c0fbcfU, 0xe9b5dba5U, 0x3956c25bU, 0x59f111f1U, 0x923f82a4U,
    0xab1c5ed5U, 0xd807aa98U, 0x12835b01U, 0x243185beU, 0x550c7dc3U, 0x72be5d74U, 0x80deb1feU,
    0x9bdc06a7U, 0xc19bf174U, 0xe49b69c1U, 0xefbe4786U, 0x0fc19dc6U, 0x240ca1ccU, 0x2de92c6fU,
    0x4a7484aaU, 0x5cb0a9dcU, 0x76f988daU, 0x983e5152U, 0xa831c66dU, 0xb00327c8U, 0xbf597fc7U,
    0xc6e00bf3U, 0xd5a79147U, 0x06ca6351U, 0x14292967U, 0x27b70a85U, 0x2e1b2138U, 0x4d2c6dfcU,
    0x53380d13U, 0x650a7354U, 0x766a0abbU, 0x81c2c92eU, 0x92722c85U, 0xa2bfe8a1U, 0xa81a664bU,
    0xc24b8b70U, 0xc76c51a3U, 0xd192e819U, 0xd6990624U, 0xf40e3585U, 0x106aa070U, 0x19a4c116U,
    0x1e376c08U, 0x2748774cU, 0x34b0bcb5U, 0x391c0cb3U, 0x4ed8aa4aU, 0x5b9cca4fU, 0x682e6ff3U,
    0x748f82eeU, 0x78a5636fU, 0x84c87814U, 0x8cc70208U, 0x90befffaU, 0xa4506cebU, 0xbef9a3f7U,
    0xc67178f2U,
};

static uint32_t
rtmp_handshake_ror(uint32_t x, unsigned n)
{
    return (x >> n) | (x << (32 - n));
}

static void
rtmp_handshake_sha_block(struct rtmp_handshake_sha256 *c, const uint8_t *b)
{
    uint32_t w[64], s[8], t1, t2;
    int i;

    for (i = 0; i < 16; i++)
        w[i] = (uint32_t)b[4 * i] << 24 | (uint32_t)b[4 * i + 1] << 16 |
               (uint32_t)b[4 * i + 2] << 8 | b[4 * i + 3];
    for (i = 16; i < 64; i++) {
        uint32_t s0 =
            rtmp_handshake_ror(w[i - 15], 7) ^ rtmp_handshake_ror(w[i - 15], 18) ^ (w[i - 15] >> 3);
        uint32_t s1 =
            rtmp_handshake_ror(w[i - 2], 17) ^ rtmp_handshake_ror(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    memcpy(s, c->h, sizeof(s));
    for (i = 0; i < 64; i++) {
        uint32_t e = s[4], a = s[0];
        t1 = s[7] +
             (rtmp_handshake_ror(e, 6) ^ rtmp_handshake_ror(e, 11) ^ rtmp_handshake_ror(e, 25)) +
             ((e & s[5]) ^ (~e & s[6])) + rtmp_handshake_sha_k[i] + w[i];
        t2 = (rtmp_handshake_ror(a, 2) ^ rtmp_handshake_ror(a, 13) ^ rtmp_handshake_ror(a, 22)) +
             ((a & s[1]) ^ (a & s[2]) ^ (s[1] & s[2]));
        memmove(&s[1], &s[0], 7 * sizeof(s[0]));
        s[4] += t1;
        s[0] = t1 + t2;
    }
    for (i = 0; i < 8; i++)
        c->h[i] += s[i];
}

static void
rtmp_handshake_sha_init(struct rtmp_handshake_sha256 *c)
{
    static const uint32_t h0[8] = {0x6a09e667U, 0xbb67ae85U, 0x3c6ef372U, 0xa54ff53aU,
                                   0x510e527fU, 0x9b05688cU, 0x1f83d9abU, 0x5be0cd19U};

    memcpy(c->h, h0, sizeof(h0));
    c->total = 0;
    c->used = 0;
}

static void
rtmp_handshake_sha_update(struct rtmp_handshake_sha256 *c, const uint8_t *p, size_t len)
{
    c->total += len;
    while (len > 0) {
        size_t n = 64 - c->used;
        if (n > len)
            n = len;
        memcpy(c->buf + c->used, p, n);
        c->used += (uint32_t)n;
        p += n;
        len -= n;
        if (c->used == 64) {
            rtmp_handshake_sha_block(c, c->buf);
            c->used = 0;
        }
    }
}

static void
rtmp_handshake_sha_final(struct rtmp_handshake_sha256 *c, uint8_t out[32])
{
    uint64_t bits = c->total * 8;
    uint8_t pad = 0x80, zero = 0, len[8];
    int i;

    rtmp_handshake_sha_update(c, &pad, 1);
    while (c->used != 56)
        rtmp_handshake_sha_update(c, &zero, 1);
    for (i = 0; i < 8; i++)
        len[i] = (uint8_t)(bits >> (56 - 8 * i));
    rtmp_handshake_sha_update(c, len, 8);
    for (i = 0; i < 8; i++) {
        out[4 * i] = (uint8_t)(c->h[i] >> 24);
        out[4 * i + 1] = (uint8_t)(c->h[i] >> 16);
        out[4 * i + 2] = (uint8_t)(c->h[i] >> 8);
        out[4 * i + 3] = (uint8_t)c->h[i];
    }
}

/* SPEC: RFC 2104 -- HMAC over two message parts, so a digest can skip a hole. */
static void
rtmp_handshake_hmac2(const uint8_t *key, size_t keylen, const uint8_t *m1, size_t l1,
                     const uint8_t *m2, size_t l2, uint8_t out[32])
{
    struct rtmp_handshake_sha256 c;
    uint8_t k[64], pad[64], inner[32];
    size_t i;

    memset(k, 0, sizeof(k));
    if (keylen > 64) {
        rtmp_handshake_sha_init(&c);
        rtmp_handshake_sha_update(&c, key, keylen);
        rtmp_handshake_sha_final(&c, k);
    } else {
        memcpy(k, key, keylen);
    }
    for (i = 0; i < 64; i++)
        pad[i] = k[i] ^ 0x36;
    rtmp_handshake_sha_init(&c);
    rtmp_handshake_sha_update(&c, pad, 64);
    rtmp_handshake_sha_update(&c, m1, l1);
    rtmp_handshake_sha_update(&c, m2, l2);
    rtmp_handshake_sha_final(&c, inner);
    for (i = 0; i < 64; i++)
        pad[i] = k[i] ^ 0x5c;
    rtmp_handshake_sha_init(&c);
    rtmp_handshake_sha_update(&c, pad, 64);
    rtmp_handshake_sha_update(&c, inner, 32);
    rtmp_handshake_sha_final(&c, out);
}

void
rtmp_handshake_hmac_sha256(const uint8_t *key, size_t keylen, const uint8_t *msg, size_t msglen,
                           uint8_t out[RTMP_HANDSHAKE_DIGEST_LEN])
{
    rtmp_handshake_hmac2(key, keylen, msg, msglen, NULL, 0, out);
}

/* ---- the digest scheme (public facts of the protocol, not in Adobe's spec) ---- */

/* "Genuine Adobe Flash Player 001" followed by 32 fixed bytes. */
const uint8_t rtmp_handshake_fp_key[62] = {
    'G',  'e',  'n',  'u',  'i',  'n',  'e',  ' ',  'A',  'd',  'o',  'b',  'e',  ' ',  'F',  'l',
    'a',  's',  'h',  ' ',  'P',  'l',  'a',  'y',  'e',  'r',  ' ',  '0',  '0',  '1',  0xf0, 0xee,
    0xc2, 0x4a, 0x80, 0x68, 0xbe, 0xe8, 0x2e, 0x00, 0xd0, 0xd1, 0x02, 0x9e, 0x7e, 0x57, 0x6e, 0xec,
    0x5d, 0x2d, 0x29, 0x80, 0x6f, 0xab, 0x93, 0xb8, 0xe6, 0x36, 0xcf, 0xeb, 0x31, 0xae,
};

/* "Genuine Adobe Flash Media Server 001" followed by the same 32 bytes. */
const uint8_t rtmp_handshake_fms_key[68] = {
    'G',  'e',  'n',  'u',  'i',  'n',  'e',  ' ',  'A',  'd',  'o',  'b',  'e',  ' ',
    'F',  'l',  'a',  's',  'h',  ' ',  'M',  'e',  'd',  'i',  'a',  ' ',  'S',  'e',
    'r',  'v',  'e',  'r',  ' ',  '0',  '0',  '1',  0xf0, 0xee, 0xc2, 0x4a, 0x80, 0x68,
    0xbe, 0xe8, 0x2e, 0x00, 0xd0, 0xd1, 0x02, 0x9e, 0x7e, 0x57, 0x6e, 0xec, 0x5d, 0x2d,
    0x29, 0x80, 0x6f, 0xab, 0x93, 0xb8, 0xe6, 0x36, 0xcf, 0xeb, 0x31, 0xae,
};

#define RTMP_HANDSHAKE_FP_KEY_OPEN 30
#define RTMP_HANDSHAKE_FMS_KEY_OPEN 36

/*
 * Scheme 0 keeps the digest in bytes 12..771, its offset given by the sum
 * of bytes 8..11; scheme 1 in bytes 776..1535, offset from bytes 772..775.
 * Either way the 32 digest bytes fit inside the packet.
 */
uint32_t
rtmp_handshake_digest_pos(const uint8_t *pkt, int scheme)
{
    uint32_t base = scheme == 0 ? 8 : 772;
    uint32_t sum = (uint32_t)pkt[base] + pkt[base + 1] + pkt[base + 2] + pkt[base + 3];

    return sum % 728 + base + 4;
}

void
rtmp_handshake_digest_calc(const uint8_t *pkt, uint32_t pos, const uint8_t *key, size_t keylen,
                           uint8_t out[RTMP_HANDSHAKE_DIGEST_LEN])
{
    assert(pos + RTMP_HANDSHAKE_DIGEST_LEN <= RTMP_HANDSHAKE_SIZE);
    rtmp_handshake_hmac2(key, keylen, pkt, pos, pkt + pos + RTMP_HANDSHAKE_DIGEST_LEN,
                         RTMP_HANDSHAKE_SIZE - pos - RTMP_HANDSHAKE_DIGEST_LEN, out);
}

/* The scheme whose digest in C1 verifies under the Flash Player key, or -1. */
static int
rtmp_handshake_find_client_digest(const uint8_t *c1)
{
    uint8_t d[RTMP_HANDSHAKE_DIGEST_LEN];
    int scheme;

    for (scheme = 0; scheme < 2; scheme++) {
        uint32_t pos = rtmp_handshake_digest_pos(c1, scheme);
        rtmp_handshake_digest_calc(c1, pos, rtmp_handshake_fp_key, RTMP_HANDSHAKE_FP_KEY_OPEN, d);
        if (memcmp(d, c1 + pos, sizeof(d)) == 0)
            return scheme;
    }
    return -1;
}

/* ---- the state machine ---- */

/* splitmix64: filler bytes only, nothing secret depends on them. */
static void
rtmp_handshake_fill(struct rtmp_handshake *hs, uint8_t *p, size_t n)
{
    while (n > 0) {
        uint64_t z = (hs->rng += 0x9e3779b97f4a7c15ULL);
        size_t i;

        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        z ^= z >> 31;
        for (i = 0; i < 8 && n > 0; i++, n--)
            *p++ = (uint8_t)(z >> (8 * i));
    }
}

void
rtmp_handshake_init(struct rtmp_handshake *hs, const struct rtmp_handshake_conf *conf)
{
    memset(hs, 0, sizeof(*hs));
    hs->magic = RTMP_HANDSHAKE_MAGIC;
    hs->state = RTMP_HS_S_C0;
    hs->digest_scheme = -1;
    if (conf != NULL) {
        hs->mode = conf->mode;
        hs->time_ms = conf->time_ms;
        hs->rng = conf->seed;
    }
}

static void
rtmp_handshake_put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static uint32_t
rtmp_handshake_get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* C1 is complete: build S0 S1 S2. */
static void
rtmp_handshake_answer(struct rtmp_handshake *hs)
{
    uint8_t *s0 = hs->out, *s1 = hs->out + 1, *s2 = hs->out + 1 + RTMP_HANDSHAKE_SIZE;
    int scheme = -1;

    hs->client_time = rtmp_handshake_get32(hs->c1);
    hs->client_version = rtmp_handshake_get32(hs->c1 + 4);
    /* A zero version means the spec's handshake; only then is C1 pure filler. */
    if (hs->mode == RTMP_HS_MODE_AUTO && hs->client_version != 0)
        scheme = rtmp_handshake_find_client_digest(hs->c1);

    s0[0] = RTMP_HANDSHAKE_VERSION;
    rtmp_handshake_put32(s1, hs->time_ms);
    if (scheme < 0) {
        /*
         * SPEC: 5.2.3 -- S1 is time, four zero bytes, random. A zero
         * version also tells librtmp not to expect digests.
         * SPEC: 5.2.4 -- S2 echoes C1. We echo it whole, time2 included,
         * because librtmp compares S2 with its C1 byte for byte.
         */
        hs->kind = RTMP_HS_KIND_SIMPLE;
        memset(s1 + 4, 0, 4);
        rtmp_handshake_fill(hs, s1 + 8, RTMP_HANDSHAKE_SIZE - 8);
        memcpy(s2, hs->c1, RTMP_HANDSHAKE_SIZE);
    } else {
        uint8_t key[RTMP_HANDSHAKE_DIGEST_LEN];
        uint32_t pos;

        hs->kind = RTMP_HS_KIND_DIGEST;
        hs->digest_scheme = scheme;
        /* A server version whose first byte is >= 3 makes players verify us. */
        s1[4] = 4;
        s1[5] = 5;
        s1[6] = 0;
        s1[7] = 1;
        rtmp_handshake_fill(hs, s1 + 8, RTMP_HANDSHAKE_SIZE - 8);
        /* Same scheme as the client: librtmp looks there first. */
        pos = rtmp_handshake_digest_pos(s1, scheme);
        rtmp_handshake_digest_calc(s1, pos, rtmp_handshake_fms_key, RTMP_HANDSHAKE_FMS_KEY_OPEN,
                                   s1 + pos);
        /* S2: filler, signed with HMAC(full server key, client digest). */
        pos = rtmp_handshake_digest_pos(hs->c1, scheme);
        rtmp_handshake_hmac_sha256(rtmp_handshake_fms_key, sizeof(rtmp_handshake_fms_key),
                                   hs->c1 + pos, RTMP_HANDSHAKE_DIGEST_LEN, key);
        rtmp_handshake_fill(hs, s2, RTMP_HANDSHAKE_SIZE - RTMP_HANDSHAKE_DIGEST_LEN);
        rtmp_handshake_hmac_sha256(key, sizeof(key), s2,
                                   RTMP_HANDSHAKE_SIZE - RTMP_HANDSHAKE_DIGEST_LEN,
                                   s2 + RTMP_HANDSHAKE_SIZE - RTMP_HANDSHAKE_DIGEST_LEN);
    }
}

long
rtmp_handshake_parse(struct rtmp_handshake *hs, const uint8_t *p, size_t len)
{
    size_t off = 0, n;

    CHECK_OBJ_NOTNULL(hs, RTMP_HANDSHAKE_MAGIC);
    if (hs->state == RTMP_HS_S_FAILED)
        return ERR_PROTO;
    if (hs->state == RTMP_HS_S_DONE)
        return 0;
    while (off < len) {
        switch (hs->state) {
        case RTMP_HS_S_C0:
            /* SPEC: 5.2.2 -- 3 is plain RTMP; 6, 8, 9 are the RTMPE variants. */
            if (p[off] != RTMP_HANDSHAKE_VERSION) {
                hs->c0 = p[off];
                hs->error = (p[off] == 6 || p[off] == 8 || p[off] == 9) ? RTMP_HS_E_ENCRYPTED
                                                                        : RTMP_HS_E_VERSION;
                hs->state = RTMP_HS_S_FAILED;
                return ERR_PROTO;
            }
            hs->c0 = p[off++];
            hs->state = RTMP_HS_S_C1;
            hs->got = 0;
            break;
        case RTMP_HS_S_C1:
            n = RTMP_HANDSHAKE_SIZE - hs->got;
            if (n > len - off)
                n = len - off;
            memcpy(hs->c1 + hs->got, p + off, n);
            hs->got += (uint32_t)n;
            off += n;
            if (hs->got == RTMP_HANDSHAKE_SIZE) {
                rtmp_handshake_answer(hs);
                hs->state = RTMP_HS_S_C2;
                hs->got = 0;
                return (long)off;
            }
            break;
        case RTMP_HS_S_C2:
            /* SPEC: 5.2.4 -- C2 should echo S1; we do not depend on it (see header). */
            n = RTMP_HANDSHAKE_SIZE - hs->got;
            if (n > len - off)
                n = len - off;
            hs->got += (uint32_t)n;
            off += n;
            if (hs->got == RTMP_HANDSHAKE_SIZE) {
                hs->state = RTMP_HS_S_DONE;
                return (long)off;
            }
            break;
        default:
            assert(0);
        }
    }
    return ERR_AGAIN;
}

const uint8_t *
rtmp_handshake_output(const struct rtmp_handshake *hs, size_t *len)
{
    CHECK_OBJ_NOTNULL(hs, RTMP_HANDSHAKE_MAGIC);
    if ((hs->state != RTMP_HS_S_C2 && hs->state != RTMP_HS_S_DONE) || hs->out_taken) {
        *len = 0;
        return NULL;
    }
    *len = RTMP_HANDSHAKE_OUT_SIZE;
    return hs->out;
}

void
rtmp_handshake_output_taken(struct rtmp_handshake *hs)
{
    CHECK_OBJ_NOTNULL(hs, RTMP_HANDSHAKE_MAGIC);
    assert(hs->state == RTMP_HS_S_C2 || hs->state == RTMP_HS_S_DONE);
    hs->out_taken = true;
}

int
rtmp_handshake_eof(struct rtmp_handshake *hs)
{
    CHECK_OBJ_NOTNULL(hs, RTMP_HANDSHAKE_MAGIC);
    if (hs->state == RTMP_HS_S_DONE)
        return 0;
    if (hs->state != RTMP_HS_S_FAILED) {
        hs->state = RTMP_HS_S_FAILED;
        hs->error = RTMP_HS_E_TRUNCATED;
    }
    return ERR_PROTO;
}

bool
rtmp_handshake_done(const struct rtmp_handshake *hs)
{
    return hs->state == RTMP_HS_S_DONE;
}

const char *
rtmp_handshake_error_str(enum rtmp_handshake_error e)
{
    switch (e) {
    case RTMP_HS_E_NONE:
        return "none";
    case RTMP_HS_E_VERSION:
        return "unsupported RTMP version in C0 (only 3 is accepted)";
    case RTMP_HS_E_ENCRYPTED:
        return "RTMPE (encrypted handshake) is not supported";
    case RTMP_HS_E_TRUNCATED:
        return "connection closed inside the handshake";
    }
    return "unknown";
}

void
rtmp_handshake_check(const struct rtmp_handshake *hs)
{
    CHECK_OBJ_NOTNULL(hs, RTMP_HANDSHAKE_MAGIC);
    assert(hs->got <= RTMP_HANDSHAKE_SIZE);
    switch (hs->state) {
    case RTMP_HS_S_C0:
        assert(hs->got == 0);
        assert(hs->kind == RTMP_HS_KIND_NONE);
        break;
    case RTMP_HS_S_C1:
        assert(hs->got < RTMP_HANDSHAKE_SIZE);
        assert(hs->c0 == RTMP_HANDSHAKE_VERSION);
        assert(hs->kind == RTMP_HS_KIND_NONE);
        break;
    case RTMP_HS_S_C2:
        assert(hs->got < RTMP_HANDSHAKE_SIZE);
        /* fallthrough */
    case RTMP_HS_S_DONE:
        assert(hs->kind == RTMP_HS_KIND_SIMPLE || hs->kind == RTMP_HS_KIND_DIGEST);
        assert((hs->kind == RTMP_HS_KIND_DIGEST) == (hs->digest_scheme >= 0));
        assert(hs->out[0] == RTMP_HANDSHAKE_VERSION);
        assert(hs->error == RTMP_HS_E_NONE);
        break;
    case RTMP_HS_S_FAILED:
        assert(hs->error != RTMP_HS_E_NONE);
        break;
    default:
        assert(0);
    }
}
