/*
 * vod_jobs.h -- the VOD metadata: videos, their transcode job queue and
 * viewers' positions, in one LMDB environment (data.dir/vod/db).
 *
 * Records are JSON objects under string keys: "v:{video}" a video,
 * "j:{video}:{job}" a job, "p:{video}:{user}" a position. The queue is the
 * "j:" range: a worker claims a job that is queued and due (or whose
 * lease ran out) -- of the first video in key order that has one, its
 * longest (spec.duration_ms; ties in key order), so a video's short chunks
 * fill the end and no core idles behind a long last one -- and gets a
 * fresh lease id; renewing, finishing or failing needs that lease id, so a worker that
 * lost its lease (presumed dead, job re-queued) cannot touch the job again.
 * docs/vod.md says how this maps to PostgreSQL (SELECT ... FOR UPDATE SKIP
 * LOCKED on a jobs table).
 *
 * Thread-safe: any thread may call in; write transactions are serialised by
 * LMDB. Values handed out are new json_t the caller owns. This module is
 * the only VOD file that includes lmdb.h. Not here: what jobs do (vod.c).
 */
#ifndef CASCADE_VOD_JOBS_H
#define CASCADE_VOD_JOBS_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "miniobj.h"

struct vod_db;

int vod_db_open(const char *dir, uint64_t map_size, struct vod_db **out) WARN_UNUSED;
void vod_db_close(struct vod_db **pdb);

/* A copy of the record at key: 0, ERR_NOTFOUND or ERR_STORE. */
int vod_db_get(struct vod_db *db, const char *key, json_t **out) WARN_UNUSED;
/* Writes (replaces) the record; v is borrowed. */
int vod_db_put(struct vod_db *db, const char *key, json_t *v) WARN_UNUSED;

/* Return bits of a vod_db_each_fn. */
#define VOD_DB_WRITE 1 /* the record was changed: store it */
#define VOD_DB_STOP 2  /* no more records */
typedef int vod_db_each_fn(void *arg, const char *key, json_t *v);
/*
 * Calls fn on every record whose key starts with prefix, in key order,
 * inside one write transaction (read-only when write is false, then fn's
 * WRITE is ignored). v is borrowed for the call.
 */
int vod_db_each(struct vod_db *db, const char *prefix, bool write, vod_db_each_fn *fn,
                void *arg) WARN_UNUSED;

/* ---- the job queue ---- */

struct vod_queue_params {
    uint64_t lease_ms;     /* a claim or renewal holds the job this long */
    uint32_t max_attempts; /* failed or expired this many times: the job fails */
    uint64_t backoff_ms;   /* retry n waits backoff_ms * 2^(n-1), at most 16x */
};

/*
 * Claims the first due job for worker (a free-form name, for status).
 * 0 with *job a copy (its "lease" is the new lease id), ERR_NOTFOUND when
 * nothing is due. Expired leases are taken over (the attempt counts).
 */
int vod_jobs_claim(struct vod_db *db, const struct vod_queue_params *p, const char *worker,
                   uint64_t now_ms, json_t **job) WARN_UNUSED;
/* Extends the lease: 0, ERR_NOTFOUND (no such job), ERR_EXISTS (not this lease). */
int vod_jobs_renew(struct vod_db *db, const struct vod_queue_params *p, const char *key,
                   const char *lease, uint64_t now_ms) WARN_UNUSED;
/* Marks the job done with result (borrowed, copied): errors as renew. */
int vod_jobs_finish(struct vod_db *db, const char *key, const char *lease,
                    json_t *result) WARN_UNUSED;
/* Counts a failed attempt: re-queued with backoff, or failed for good. Errors as renew. */
int vod_jobs_fail(struct vod_db *db, const struct vod_queue_params *p, const char *key,
                  const char *lease, const char *reason, uint64_t now_ms) WARN_UNUSED;
/* Re-queues (or fails) every job whose lease expired; returns how many, or an error. */
int vod_jobs_reap(struct vod_db *db, const struct vod_queue_params *p, uint64_t now_ms) WARN_UNUSED;

#endif
