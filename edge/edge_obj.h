/*
 * edge_obj.h -- the header block of a cached object: what the edge keeps
 * beside the body (in LMDB, and in a fetch being shared by waiters) to
 * rebuild a response without parsing HTTP again.
 *
 * A block is one of three kinds:
 *   RESPONSE  a stored response: the policy's struct cache_meta, the
 *             status, and the end-to-end fields to send (no framing);
 *   VARY      a marker under a primary key saying "the response varies":
 *             its fields hold the Vary field(s); the variants sit under
 *             the primary key + EDGE_OBJ_VARY_SEP + the secondary key;
 *   HFM       a hit-for-miss marker: the meta says until when requests
 *             for the key go straight to the upstream.
 *
 * Layout (little-endian, no padding; docs/edge.md):
 *   u32 magic "CEO1" | u8 kind | u8 0 | u16 status | u32 nfields |
 *   u32 fields_len | meta (u32 version, u16 status, u16 flags,
 *   8 x i64) | fields: name NUL value NUL, nfields times.
 * Names are tokens, values hold no CR, LF or NUL, so a field's name and
 * value are C strings in place (borrowed from the block).
 *
 * Pure: no I/O, no allocation. The parser is fuzzed (fuzz_edge_obj).
 */
#ifndef CASCADE_EDGE_OBJ_H
#define CASCADE_EDGE_OBJ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "miniobj.h"
#include "proto/cache_fields.h"
#include "proto/cache_policy.h"

#define EDGE_OBJ_MAGIC 0x43454f31u /* "CEO1" */
/* Fixed part: 16 bytes of head, 72 of meta. */
#define EDGE_OBJ_FIXED 88u
/* Most fields a block holds (a response head has at most this many). */
#define EDGE_OBJ_FIELDS_MAX 128
/* Separates a primary key from a secondary (Vary) key: no key holds it. */
#define EDGE_OBJ_VARY_SEP '\x01'

enum edge_obj_kind {
    EDGE_OBJ_RESPONSE = 0,
    EDGE_OBJ_VARY = 1,
    EDGE_OBJ_HFM = 2,
};

/* A parsed block: views into the caller's bytes. */
struct edge_obj {
    enum edge_obj_kind kind;
    uint16_t status;
    uint32_t nfields;
    struct cache_meta meta; /* copied out (the block may be unaligned) */
    const char *fields;     /* borrowed: name NUL value NUL ... */
    size_t fields_len;
};

/*
 * Writes a block into out[0..cap) from n fields (names and values need
 * not be NUL-terminated; fields with a bad name or value are refused
 * with ERR_INVAL). Returns the length, or ERR_LIMIT when it does not fit.
 */
int edge_obj_build(uint8_t *out, size_t cap, enum edge_obj_kind kind, uint16_t status,
                   const struct cache_meta *meta, const struct cache_field *f,
                   size_t n) WARN_UNUSED;

/* Bytes edge_obj_build() needs for these fields. */
size_t edge_obj_size(const struct cache_field *f, size_t n);

/*
 * Parses p[0..len): 0 and *o filled (borrowing p), or ERR_PROTO when any
 * length, count, kind, field byte or the meta's version is wrong.
 */
int edge_obj_parse(const uint8_t *p, size_t len, struct edge_obj *o) WARN_UNUSED;

/*
 * Iterates the fields: start with *pos = 0; false when done. name and
 * value are NUL-terminated in place.
 */
bool edge_obj_next(const struct edge_obj *o, size_t *pos, const char **name, size_t *name_len,
                   const char **value, size_t *value_len);

/* Points out[0..cap) at the fields; returns how many (at most cap). */
size_t edge_obj_fields(const struct edge_obj *o, struct cache_field *out, size_t cap);

/* Asserts what edge_obj_parse() guarantees (the fuzzer's check). */
void edge_obj_check(const struct edge_obj *o);

#endif
