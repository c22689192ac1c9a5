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
#include "sse_parse.h"

struct api_loop;
struct edge_conf;
struct httpd_req;

/* ---- the edge ---- */

int sse_start(const struct edge_conf *c) WARN_UNUSED;
void sse_stop(void);
/* Every worker: viewers, wake-ups; with follow, worker 0 also follows. */
void sse_loop_start(struct api_loop *l, bool follow);
void sse_loop_stop(struct api_loop *l);
void sse_handle(struct api_loop *l, struct httpd_req *r);

#endif
