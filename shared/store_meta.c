/*
 * store_meta.c -- encode, decode and validate the cache object's meta
 * record; CRC32C.
 *
 * Pure: no LMDB, no I/O, no allocation. The decoder trusts nothing in the
 * record (disk bytes may be damaged): every length is checked against its
 * cap and against the others before any is used, and the CRC is checked
 * last so a damaged length is reported as such.
 *
 * SPEC: RFC 3720 B.4 -- CRC32C, the Castagnoli polynomial 0x1EDC6F41
 * (reflected 0x82F63B78), initial value and final xor all ones; the
 * check value of "123456789" is 0xE3069283.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

#include "err.h"
#include "store_meta.h"
#include "compat.h"

/* ---- little-endian fields ---- */

static uint16_t
store_meta_ld16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}

static uint32_t
store_meta_ld32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static uint64_t
store_meta_ld64(const uint8_t *p)
{
    return (uint64_t)store_meta_ld32(p) | ((uint64_t)store_meta_ld32(p + 4) << 32);
}

static void
store_meta_st16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void
store_meta_st32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static void
store_meta_st64(uint8_t *p, uint64_t v)
{
    store_meta_st32(p, (uint32_t)v);
    store_meta_st32(p + 4, (uint32_t)(v >> 32));
}

/* ---- CRC32C ---- */

#define STORE_CRC32C_POLY 0x82f63b78u

static uint32_t store_crc32c_table[8][256];
static pthread_once_t store_crc32c_once = PTHREAD_ONCE_INIT;
static bool store_crc32c_hw;

static void
store_crc32c_init(void)
{
    uint32_t c;
    unsigned i, j;

    for (i = 0; i < 256; i++) {
        c = i;
        for (j = 0; j < 8; j++)
            c = (c & 1) ? (c >> 1) ^ STORE_CRC32C_POLY : c >> 1;
        store_crc32c_table[0][i] = c;
    }
    for (i = 0; i < 256; i++) {
        c = store_crc32c_table[0][i];
        for (j = 1; j < 8; j++) {
            c = store_crc32c_table[0][c & 0xff] ^ (c >> 8);
            store_crc32c_table[j][i] = c;
        }
    }
#if defined(__x86_64__)
    __builtin_cpu_init();
    store_crc32c_hw = __builtin_cpu_supports("sse4.2");
#endif
}

bool
store_crc32c_hw_available(void)
{
    pthread_once(&store_crc32c_once, store_crc32c_init);
    return store_crc32c_hw;
}

/* Slicing-by-8: eight table lookups per 8 input bytes. */
static uint32_t
store_crc32c_sw_raw(uint32_t c, const uint8_t *p, size_t n)
{
    const uint32_t(*t)[256] = store_crc32c_table;
    uint64_t w;

    while (n > 0 && ((uintptr_t)p & 7) != 0) {
        c = t[0][(c ^ *p++) & 0xff] ^ (c >> 8);
        n--;
    }
    while (n >= 8) {
        memcpy(&w, p, 8);
        w ^= c; /* little-endian host: the low byte is the first */
        c = t[7][w & 0xff] ^ t[6][(w >> 8) & 0xff] ^ t[5][(w >> 16) & 0xff] ^
            t[4][(w >> 24) & 0xff] ^ t[3][(w >> 32) & 0xff] ^ t[2][(w >> 40) & 0xff] ^
            t[1][(w >> 48) & 0xff] ^ t[0][w >> 56];
        p += 8;
        n -= 8;
    }
    while (n-- > 0)
        c = t[0][(c ^ *p++) & 0xff] ^ (c >> 8);
    return c;
}

uint32_t
store_crc32c_sw(uint32_t crc, const void *p, size_t n)
{
    pthread_once(&store_crc32c_once, store_crc32c_init);
    return ~store_crc32c_sw_raw(~crc, p, n);
}

#if defined(__x86_64__)
/* One crc32 instruction per 8 bytes (SSE4.2). */
__attribute__((target("sse4.2"))) static uint32_t
store_crc32c_hw_raw(uint32_t c, const uint8_t *p, size_t n)
{
    uint64_t c64 = c, w;

    while (n > 0 && ((uintptr_t)p & 7) != 0) {
        c64 = _mm_crc32_u8((uint32_t)c64, *p++);
        n--;
    }
    while (n >= 8) {
        memcpy(&w, p, 8);
        c64 = _mm_crc32_u64(c64, w);
        p += 8;
        n -= 8;
    }
    while (n-- > 0)
        c64 = _mm_crc32_u8((uint32_t)c64, *p++);
    return (uint32_t)c64;
}
#endif

uint32_t
store_crc32c(uint32_t crc, const void *p, size_t n)
{
    pthread_once(&store_crc32c_once, store_crc32c_init);
#if defined(__x86_64__)
    if (store_crc32c_hw)
        return ~store_crc32c_hw_raw(~crc, p, n);
#endif
    return ~store_crc32c_sw_raw(~crc, p, n);
}

/* ---- the record ---- */

uint32_t
store_meta_nchunks(uint64_t body_len, uint32_t chunk_size)
{
    uint64_t n;

    AN(chunk_size);
    n = body_len / chunk_size + (body_len % chunk_size != 0);
    assert(n <= UINT32_MAX);
    return (uint32_t)n;
}

size_t
store_meta_len(uint32_t nchunks, uint32_t hdr_len)
{
    return STORE_META_FIXED + (size_t)nchunks * 4 + hdr_len;
}

uint32_t
store_meta_chunk_len(const struct store_meta *m, uint32_t i)
{
    uint64_t off = (uint64_t)i * m->chunk_size;

    assert(i < m->nchunks);
    return (uint32_t)(m->body_len - off < m->chunk_size ? m->body_len - off : m->chunk_size);
}

uint32_t
store_meta_chunk_crc(const struct store_meta *m, uint32_t i)
{
    assert(i < m->nchunks);
    return store_meta_ld32(m->crcs + (size_t)i * 4);
}

static uint32_t
store_meta_seal_crc(const uint8_t *rec, size_t len)
{
    static const uint8_t zero[4];
    uint32_t c;

    c = store_crc32c(0, rec, 68);
    c = store_crc32c(c, zero, 4);
    return store_crc32c(c, rec + 72, len - 72);
}

void
store_meta_encode(uint8_t *out, const struct store_meta *m, const uint32_t *crcs, const void *hdr)
{
    size_t len = store_meta_len(m->nchunks, m->hdr_len);
    uint32_t i;

    assert(m->nchunks == store_meta_nchunks(m->body_len, m->chunk_size));
    memset(out, 0, STORE_META_FIXED);
    store_meta_st32(out + 0, STORE_META_MAGIC);
    store_meta_st16(out + 4, STORE_META_VERSION);
    store_meta_st16(out + 6, m->flags);
    store_meta_st16(out + 8, m->status);
    store_meta_st32(out + 12, m->hdr_len);
    store_meta_st64(out + 16, m->body_len);
    store_meta_st32(out + 24, m->nchunks);
    store_meta_st32(out + 28, m->chunk_size);
    store_meta_st64(out + 32, m->oid);
    store_meta_st64(out + 40, m->seq);
    store_meta_st64(out + 48, (uint64_t)m->stored_at_ms);
    store_meta_st64(out + 56, (uint64_t)m->expires_at_ms);
    for (i = 0; i < m->nchunks; i++)
        store_meta_st32(out + STORE_META_FIXED + (size_t)i * 4, crcs[i]);
    if (m->hdr_len > 0)
        memcpy(out + STORE_META_FIXED + (size_t)m->nchunks * 4, hdr, m->hdr_len);
    store_meta_st32(out + 68, store_meta_seal_crc(out, len));
}

int
store_meta_decode(const void *p, size_t len, struct store_meta *m, const char **why)
{
    const uint8_t *b = p;
    struct store_meta t;

    *why = NULL;
    if (len < STORE_META_FIXED)
        *why = "short";
    else if (store_meta_ld32(b) != STORE_META_MAGIC)
        *why = "magic";
    else if (store_meta_ld16(b + 4) != STORE_META_VERSION)
        *why = "version";
    else if (store_meta_ld16(b + 6) != 0 || store_meta_ld16(b + 10) != 0 ||
             store_meta_ld32(b + 64) != 0)
        *why = "flags";
    if (*why != NULL)
        return ERR_PROTO;

    memset(&t, 0, sizeof(t));
    t.version = STORE_META_VERSION;
    t.status = store_meta_ld16(b + 8);
    t.hdr_len = store_meta_ld32(b + 12);
    t.body_len = store_meta_ld64(b + 16);
    t.nchunks = store_meta_ld32(b + 24);
    t.chunk_size = store_meta_ld32(b + 28);
    t.oid = store_meta_ld64(b + 32);
    t.seq = store_meta_ld64(b + 40);
    t.stored_at_ms = (int64_t)store_meta_ld64(b + 48);
    t.expires_at_ms = (int64_t)store_meta_ld64(b + 56);

    if (t.hdr_len > STORE_META_HDR_MAX)
        *why = "hdr_len";
    else if (t.chunk_size < STORE_CHUNK_MIN || t.chunk_size > STORE_CHUNK_MAX)
        *why = "chunk_size";
    else if (t.body_len > STORE_META_BODY_MAX)
        *why = "body_len";
    else if (t.nchunks != store_meta_nchunks(t.body_len, t.chunk_size))
        *why = "nchunks";
    else if (t.oid == 0 || t.seq == 0)
        *why = "ids";
    else if (len != store_meta_len(t.nchunks, t.hdr_len))
        *why = "length";
    else if (store_meta_ld32(b + 68) != store_meta_seal_crc(b, len))
        *why = "crc";
    if (*why != NULL)
        return ERR_PROTO;

    t.crcs = b + STORE_META_FIXED;
    t.hdr = b + STORE_META_FIXED + (size_t)t.nchunks * 4;
    *m = t;
    return 0;
}

void
store_meta_check(const struct store_meta *m, size_t len)
{
    assert(m->version == STORE_META_VERSION);
    assert(m->hdr_len <= STORE_META_HDR_MAX);
    assert(m->chunk_size >= STORE_CHUNK_MIN && m->chunk_size <= STORE_CHUNK_MAX);
    assert(m->body_len <= STORE_META_BODY_MAX);
    assert(m->nchunks == store_meta_nchunks(m->body_len, m->chunk_size));
    assert(m->oid != 0 && m->seq != 0);
    assert(len == store_meta_len(m->nchunks, m->hdr_len));
    assert(m->crcs != NULL && m->hdr == m->crcs + (size_t)m->nchunks * 4);
    if (m->nchunks > 0) {
        assert(store_meta_chunk_len(m, m->nchunks - 1) > 0);
        assert(store_meta_chunk_len(m, m->nchunks - 1) <= m->chunk_size);
    }
}

int
store_meta_peek_ids(const void *p, size_t len, uint64_t *oid, uint64_t *seq)
{
    const uint8_t *b = p;

    if (len < STORE_META_FIXED || store_meta_ld32(b) != STORE_META_MAGIC)
        return ERR_PROTO;
    *oid = store_meta_ld64(b + 32);
    *seq = store_meta_ld64(b + 40);
    return 0;
}

void
store_meta_set_seq(uint8_t *rec, size_t len, uint64_t seq)
{
    assert(len >= STORE_META_FIXED);
    store_meta_st64(rec + 40, seq);
    store_meta_st32(rec + 68, store_meta_seal_crc(rec, len));
}
