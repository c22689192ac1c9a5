/*
 * sse.h -- the origin's event log, followed once per edge and fanned out
 * to viewers as Server-Sent Events at /events/{stream} and
 * /events/videos/{id} (docs/social.md "Fan-out").
 *
 * Worker 0 follows the origin: GET /api/events?after=N&wait=MS, one at a
 * time, so the origin sees one long poll per edge however many viewers
 * watch. Each answer is decoded (sse_batch_decode(), pure), turned into
 * SSE messages per target -- one per comment, deleted comment or like
 * count, one per run of reaction updates (each bucket's count now, so
 * applying one twice is harmless) -- and appended to that target's ring
 * of the last sse.ring messages. Every worker then writes what is new to
 * its viewers.
 *
 * Resume: a message's SSE id is the origin's event id; a viewer that
 * comes back with Last-Event-ID gets the ring's messages after it, or,
 * when the ring no longer reaches back that far, `event: reset` first
 * (refetch state over /api/). Slow viewers: a viewer whose output is
 * above httpd's high watermark is not written to; if the ring moves past
 * what it has received meanwhile it is dropped (edge.sse.dropped), so no
 * viewer is ever buffered beyond the watermark plus one message.
 */
#ifndef CASCADE_EDGE_SSE_H
#define CASCADE_EDGE_SSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "miniobj.h"

struct api_loop;
struct edge_conf;
struct httpd_req;

/* ---- decoding the origin's answer (pure; fuzzed) ---- */

#define SSE_ID_MAX 64
#define SSE_KIND_MAX 32
#define SSE_BATCH_EVENTS_MAX 256
#define SSE_BODY_MAX (4u << 20) /* an answer's bytes at most */

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

/* Last-Event-ID: 1-20 decimal digits, no sign, fits 64 bits. */
int sse_last_id_parse(const char *s, uint64_t *out) WARN_UNUSED;

/* ---- the edge ---- */

int sse_start(const struct edge_conf *c) WARN_UNUSED;
void sse_stop(void);
/* Every worker: viewers, wake-ups; with follow, worker 0 also follows. */
void sse_loop_start(struct api_loop *l, bool follow);
void sse_loop_stop(struct api_loop *l);
void sse_handle(struct api_loop *l, struct httpd_req *r);

#endif
