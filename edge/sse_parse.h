/*
 * sse_parse.h -- decoding one answer of the origin's GET /api/events for
 * the edge's event hub (sse.c), and the Last-Event-ID field.
 *
 * Pure: no libevent, no locks, no clock; the fuzzer links it alone
 * (tests/fuzz/fuzz_sse_batch.c). The answer is a single JSON document
 * that the edge collects under SSE_BODY_MAX before decoding, so the
 * decoder is whole-buffer (jansson) rather than incremental; what it
 * promises is that anything at all yields either a batch that passes
 * sse_batch_check() or an error with nothing held.
 */
#ifndef CASCADE_EDGE_SSE_PARSE_H
#define CASCADE_EDGE_SSE_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "miniobj.h"

/* ---- decoding the origin's answer (pure; fuzzed) ---- */

#define SSE_ID_MAX 64
#define SSE_KIND_MAX 32
#define SSE_BATCH_EVENTS_MAX 256
#define SSE_BODY_MAX (4u << 20) /* an answer's bytes at most */
#define SSE_MSG_MAX (1u << 20)  /* one event as JSON */

enum sse_ev_type {
    SSE_EV_COMMENT = 1,
    SSE_EV_DELETED = 2,
    SSE_EV_LIKES = 3,
    SSE_EV_REACTIONS = 4,
};

struct sse_ev {
    uint64_t id;
    enum sse_ev_type type;
    char tkind; /* 's' or 'v' */
    char tid[SSE_ID_MAX + 1];
    /* reactions */
    char kind[SSE_KIND_MAX + 1];
    int64_t bucket_ms;
    uint64_t count;
    /* the origin's event object as compact JSON (owned; xmalloc) */
    char *json;
    size_t json_len;
};

struct sse_batch {
    uint64_t first, last; /* the log's oldest and newest ids */
    uint64_t upto;        /* the largest id in this answer, skipped ones too; 0: none */
    bool reset;
    size_t n;
    struct sse_ev ev[SSE_BATCH_EVENTS_MAX];
};

/*
 * Decodes one answer of GET /api/events. 0 and b filled (events with an
 * unknown type or a bad target are skipped; ids must grow); ERR_PROTO for
 * anything that is not such an answer; ERR_LIMIT past the caps. b is
 * emptied on failure. Release with sse_batch_clear().
 */
int sse_batch_decode(const char *p, size_t len, struct sse_batch *b) WARN_UNUSED;
void sse_batch_clear(struct sse_batch *b);
void sse_batch_check(const struct sse_batch *b);

/* A stream or video name: 1-64 of [A-Za-z0-9._-], not . or .. */
bool sse_target_id_ok(const char *id);
/* Last-Event-ID: 1-20 decimal digits, no sign, fits 64 bits. */
int sse_last_id_parse(const char *s, uint64_t *out) WARN_UNUSED;

#endif
