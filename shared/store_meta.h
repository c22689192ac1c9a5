/*
 * store_meta.h -- the cache object's meta record and the CRC32C that
 * guards it, as pure functions (no LMDB, no I/O), so a fuzzer can throw
 * any bytes at the decoder: on disk, a record is input we cannot trust.
 *
 * Record layout (little-endian; docs/cache-store.md):
 *
 *    0  u32 magic "CSM1"            32  u64 oid (names the chunks)
 *    4  u16 version (1)             40  u64 seq (eviction order)
 *    6  u16 flags (0)               48  i64 stored_at_ms
 *    8  u16 status                  56  i64 expires_at_ms
 *   10  u16 reserved (0)            64  u32 reserved (0)
 *   12  u32 hdr_len                 68  u32 record CRC32C (computed with this field 0)
 *   16  u64 body_len                72  u32 crc[nchunks]: CRC32C of each chunk
 *   24  u32 nchunks                 ..  hdr_len header bytes
 *   28  u32 chunk_size
 *
 * Not here: where records live (store.c), when checksums are verified
 * (store_hit.c).
 */
#ifndef CASCADE_STORE_META_H
#define CASCADE_STORE_META_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "miniobj.h"

#define STORE_META_MAGIC 0x314d5343u /* "CSM1" read as a little-endian u32 */
#define STORE_META_VERSION 1
#define STORE_META_FIXED 72
/* Chunk sizes a record may declare (a page's payload up to 64 MiB). */
#define STORE_CHUNK_MIN 1024u
#define STORE_CHUNK_MAX (64u * 1024 * 1024)
/* Largest body a record may declare. */
#define STORE_META_BODY_MAX (1ull << 40)
#define STORE_META_HDR_MAX (64u * 1024)

struct store_meta {
    uint16_t version;
    uint16_t flags;
    uint16_t status;
    uint32_t hdr_len;
    uint64_t body_len;
    uint32_t nchunks;
    uint32_t chunk_size;
    uint64_t oid; /* names the chunks: key (oid, index) */
    uint64_t seq; /* position in the eviction order */
    int64_t stored_at_ms;
    int64_t expires_at_ms;
    const uint8_t *crcs; /* borrowed: nchunks little-endian u32 */
    const uint8_t *hdr;  /* borrowed: hdr_len bytes */
};

/* Chunks for a body: ceil(body_len / chunk_size). */
uint32_t store_meta_nchunks(uint64_t body_len, uint32_t chunk_size);
/* Bytes of a record with nchunks chunks and hdr_len header bytes. */
size_t store_meta_len(uint32_t nchunks, uint32_t hdr_len);
/* Length of chunk i of m (the last one may be short). */
uint32_t store_meta_chunk_len(const struct store_meta *m, uint32_t i);
/* The stored CRC32C of chunk i. */
uint32_t store_meta_chunk_crc(const struct store_meta *m, uint32_t i);

/*
 * Writes the record for m into out (store_meta_len() bytes), taking the
 * chunk CRCs from crcs and the header from hdr (m->crcs and m->hdr are
 * ignored), and seals it with the record CRC.
 */
void store_meta_encode(uint8_t *out, const struct store_meta *m, const uint32_t *crcs,
                       const void *hdr);
/*
 * Parses and validates a record: magic, version, flags, every length and
 * their agreement, and the record CRC. 0 and *m filled (pointers borrowed
 * from p); ERR_PROTO with *why naming the first check that failed (a
 * static string) and *m untouched.
 */
int store_meta_decode(const void *p, size_t len, struct store_meta *m,
                      const char **why) WARN_UNUSED;
/* Asserts what a decoded record promises. */
void store_meta_check(const struct store_meta *m, size_t len);
/*
 * Reads oid and seq from a record that may fail decoding (to clean up
 * after a damaged one). 0, or ERR_PROTO when too short or not ours.
 */
int store_meta_peek_ids(const void *p, size_t len, uint64_t *oid, uint64_t *seq) WARN_UNUSED;
/* Rewrites seq in a valid record in place and reseals it. */
void store_meta_set_seq(uint8_t *rec, size_t len, uint64_t seq);

/* CRC32C (Castagnoli), continuing from crc (0 to start). SSE4.2 when the
 * CPU has it, else slicing-by-8. */
uint32_t store_crc32c(uint32_t crc, const void *p, size_t n);
/* The table-driven version alone (benchmarks, tests). */
uint32_t store_crc32c_sw(uint32_t crc, const void *p, size_t n);
bool store_crc32c_hw_available(void);

#endif
