/*
 * reactions.h -- viewers' reactions summed at the edge and sent to the
 * origin in batches (docs/social.md "Edge batches").
 *
 * POST /api/{streams|videos}/{id}/reactions is answered here (202) after
 * the same checks the origin makes (a bearer token present, JSON, a
 * configured kind, a media time t); the reaction is added to the count of
 * its (target, kind, window) where window is t rounded down to
 * social.window (media time, so the origin's buckets stay right: a bucket
 * is a whole number of windows when the bucket is a multiple of the
 * window, and a window never straddles two buckets then). Every
 * social.window, worker 0 takes the counts and POSTs them as one batch
 * {"edge", "seq", "deltas"} to /api/reactions/batch with an edge session
 * token (POST /api/sessions with social.edge_key). A batch that fails is
 * resent with the same seq (the origin drops a duplicate); counts keep
 * accumulating meanwhile, up to social.max_pending, past which viewers get
 * 503 busy. With no social.edge_key the edge does not aggregate: the
 * reactions are proxied one by one.
 *
 * The table (reactions_table_*) is pure: no clock, no lock, no I/O.
 */
#ifndef CASCADE_EDGE_REACTIONS_H
#define CASCADE_EDGE_REACTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "miniobj.h"

struct api_loop;
struct edge_conf;
struct httpd_req;

#define REACTIONS_ID_MAX 64
#define REACTIONS_KIND_MAX 32
#define REACTIONS_BATCH_MAX 1024     /* deltas per batch (the origin's cap) */
#define REACTIONS_COUNT_MAX 1000000u /* one delta's count (the origin's cap) */

struct reactions_delta {
    char tkind; /* 's' stream, 'v' video */
    char id[REACTIONS_ID_MAX + 1];
    char kind[REACTIONS_KIND_MAX + 1];
    int64_t window_ms;
    uint32_t count;
};

/* ---- the table (pure) ---- */

struct reactions_table;
struct reactions_table *reactions_table_new(size_t max_entries);
void reactions_table_free(struct reactions_table **pt);
/* +1 on d's key (d->count ignored). ERR_LIMIT when the table is full. */
int reactions_table_add(struct reactions_table *t, const struct reactions_delta *d) WARN_UNUSED;
/* Moves up to max entries out into out[]; returns how many. */
size_t reactions_table_take(struct reactions_table *t, struct reactions_delta *out, size_t max);
size_t reactions_table_count(const struct reactions_table *t);
void reactions_table_check(const struct reactions_table *t);

/* ---- the edge ---- */

int reactions_start(const struct edge_conf *c) WARN_UNUSED;
void reactions_stop(void);
bool reactions_enabled(void);
/* On worker 0: the flush timer and the edge session. */
void reactions_sender_start(struct api_loop *l);
void reactions_sender_stop(struct api_loop *l);
/* Answers a POST .../reactions on target (tkind, id). */
void reactions_handle(struct api_loop *l, struct httpd_req *r, char tkind, const char *id);

#endif
