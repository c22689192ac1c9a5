/*
 * vod_int.h -- what vod.c, vod_map.c and vod_worker.c share: limits, the
 * accessors of struct vod, the subprocess runner, and the pure helpers of
 * vod_plan.c (query strings, device rules).
 */
#ifndef CASCADE_VOD_INT_H
#define CASCADE_VOD_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "miniobj.h"
#include "vod.h"

#define VOD_PATH_MAX 1024
#define VOD_ID_LEN 12
#define VOD_NAME_MAX 64
#define VOD_USER_MAX 64
#define VOD_AGENT_MAX 512
#define VOD_MAX_CHUNKS_MAP 4096
#define VOD_WORKER_KEY_HEADER "X-Cascade-Worker-Key"
#define VOD_WORKER_KEY_ENV "CASCADE_WORKER_KEY" /* how a worker gets the key */

struct ladder;
struct model_aset;
struct model_rep;
struct vod_db;
struct vod_queue_params;

uint64_t vod_now_ms(void);
/* snprintf that says whether it fit: the length, or ERR_LIMIT when truncated. */
int vod_fmt(char *out, size_t outsz, const char *fmt, ...) PRINTFLIKE(3, 4);
/* mkdir -p. */
int vod_mkdirs(const char *path) WARN_UNUSED;
/* Writes a whole file atomically (temporary, then rename). */
int vod_write_file(const char *path, const void *p, size_t len) WARN_UNUSED;

const struct vod_conf *vod_conf_of(const struct vod *v);
struct vod_db *vod_db_of(const struct vod *v);
const struct ladder *vod_ladder_of(const struct vod *v);
const struct vod_queue_params *vod_qp_of(const struct vod *v);
void vod_status_set(struct vod *v, const char *id, const char *status, const char *reason);
int vod_dir_of(const struct vod *v, const char *id, const char *sub, char *out,
               size_t outsz) WARN_UNUSED;

/* vod_map.c: one pass of the manager (map, check, reduce). */
void vod_manage_once(struct vod *v);
/* "default", "none" or a ladder file. */
int vod_ladder_load(const char *spec, struct ladder *out) WARN_UNUSED;

/*
 * Runs argv (argv[0] looked up in PATH) with stdout to out_fd (-1: /dev/null)
 * and stderr to err_path (NULL: /dev/null). When tick is not NULL it is
 * called about every 200 ms while the child runs; a nonzero return kills
 * the child. Returns the exit status (0 = success), or a negative error.
 */
typedef int vod_tick_fn(void *arg);
int vod_run(const char *const *argv, int out_fd, const char *err_path, vod_tick_fn *tick,
            void *arg) WARN_UNUSED;
/* The first line of a file (an ffmpeg error), into out. */
void vod_first_line(const char *path, char *out, size_t outsz);

/*
 * Reads name's value from a query string (a=1&b=x%20y), percent- and
 * '+'-decoded, into out (NUL-terminated). Returns its length, 0 when the
 * parameter is absent or empty, ERR_LIMIT when it does not fit, ERR_PROTO
 * for a bad escape or a decoded NUL. q may be NULL. Pure.
 */
int vod_query_get(const char *q, const char *name, char *out, size_t outsz) WARN_UNUSED;

/* What a user agent can play (docs/vod.md "Frames"). */
struct vod_device {
    const char *kind;    /* static: "phone", "tablet", "tv", "desktop" */
    uint32_t max_height; /* 0 = no cap */
    bool hevc;           /* may play HEVC (the ladder has only AVC today) */
};
void vod_device_classify(const char *agent, struct vod_device *out);
/* The tallest representation no taller than the cap, else the shortest. s has >= 1 rep. */
const struct model_rep *vod_device_pick(const struct model_aset *s, const struct vod_device *d);

#endif
