/*
 * vod.h -- video on demand: streamed uploads, the map step (keyframe
 * index, scene pass, chunk plan, split), the job queue's HTTP face for
 * workers, the reduce step (static MPD, HLS and model.json), and the
 * seek/frames API. docs/vod.md is the full story.
 *
 * One struct vod per origin process. HTTP workers call vod_handle() from
 * any thread; a manager thread maps uploaded videos, watches their jobs,
 * reduces finished ones and keeps the local pool of worker processes
 * (`cascade-origin worker`, vod_worker.c) alive. Files live under
 * data.dir/vod/{id}/ (served as /vod/{id}/... by origin_http.c); work files
 * under data.dir/vod/{id}/work/, metadata in data.dir/vod/db (vod_jobs.h).
 */
#ifndef CASCADE_VOD_H
#define CASCADE_VOD_H

#include <stdbool.h>
#include <stdint.h>

#include "miniobj.h"

struct httpd_req;
struct vod;

struct vod_conf {
    const char *data_dir;   /* borrowed for vod_new() */
    const char *http_url;   /* borrowed: "http://127.0.0.1:8080", for local workers */
    const char *ladder;     /* borrowed: "default" or a ladder file ("none": default) */
    const char *worker_key; /* borrowed: workers must send it; "" = no check */
    uint64_t max_upload;    /* bytes; 413 past it */
    uint32_t workers;       /* local worker processes */
    uint32_t seg_ms;
    uint32_t chunk_ms;
    uint32_t chunk_min_ms;
    uint32_t chunk_max_ms;
    uint32_t scene_milli;   /* scene cut threshold, thousandths */
    uint32_t engaging_cuts; /* cuts per minute */
    uint32_t engaging_motion;
    uint64_t lease_ms;
    uint32_t max_attempts;
    uint64_t backoff_ms;
};

int vod_new(const struct vod_conf *c, struct vod **out) WARN_UNUSED;
/* Stops the manager thread and the local workers (SIGTERM, then waits). */
void vod_free(struct vod **pv);

/* Answers /api/videos... and /api/vod/... ; false when the path is not ours. */
bool vod_handle(struct vod *v, struct httpd_req *r);

/* The body cap of a request (httpd_set_body_cap): uploads get max_upload. */
uint64_t vod_body_cap(const struct httpd_req *r, uint64_t conf_max);

/* `cascade-origin worker --origin URL [--name N] [--dir D]`: runs until SIGTERM. */
int vod_worker_main(int argc, char **argv);

#endif
