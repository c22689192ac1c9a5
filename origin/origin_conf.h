/*
 * origin_conf.h -- the configuration of cascade-origin: its struct, its key
 * table, its command-line overrides, and the struct httpd_conf it implies.
 *
 * A loaded struct origin_conf is a frozen snapshot (conf.h); reload builds
 * a new one with cli_load() and checks it with conf_reload_check().
 * conf/origin.conf is exactly `cascade-origin --dump-config`
 * (tests/unit/test_conf_files.c keeps it honest).
 *
 * Not here: applying the snapshot (origin_main.c), the syntax (conf.c).
 */
#ifndef CASCADE_ORIGIN_CONF_H
#define CASCADE_ORIGIN_CONF_H

#include <stdbool.h>
#include <stdint.h>

#include "cli.h"
#include "conf.h"
#include "conf_common.h"

struct httpd_conf;

struct origin_conf {
    char *http_listen;   /* owned: HTTP (manifests, segments, REST) */
    char *rtmp_listen;   /* owned: RTMP ingest */
    int64_t workers;     /* 0 = one per CPU core */
    char *data_dir;      /* owned; relative to the working directory */
    char *ladder;        /* owned: "none", "default", or a ladder file's path */
    char *ladder_ffmpeg; /* owned: the worker program */
    int64_t ladder_nice;
    int64_t ladder_threads;
    int64_t ladder_max_workers;
    uint64_t ladder_wait;        /* ms */
    uint64_t ladder_backoff_min; /* ms */
    uint64_t ladder_backoff_max; /* ms */
    uint64_t ladder_restore;     /* ms */
    uint64_t rtmp_timeout;       /* ms: an RTMP connection silent this long is closed */
    int64_t rtmp_max_connections;
    uint64_t rtmp_read_batch;    /* ms: publishers are read this often; 0 = as data arrives */
    uint64_t segment_duration;   /* ms: target duration of a live segment */
    uint64_t dvr_window;         /* ms: timeShiftBufferDepth; 0 keeps everything */
    uint64_t presentation_delay; /* ms: suggestedPresentationDelay */
    uint64_t reconnect_grace;    /* ms: how long a run waits for its publisher to return */
    bool keep_recording;         /* keep segments past the DVR window: the ended MPD covers all */
    uint64_t journal_sync;       /* ms: fdatasync period of the journals */
    uint64_t journal_retention;  /* ms: sealed journals kept this long; 0 deletes them at once */
    int log_level;               /* enum log_level (log.h) */
    uint64_t drain_timeout;      /* ms */
    struct conf_http http;
    /* the metadata store (origin/meta.h) and the interactions API (origin/social_api.h) */
    int meta_backend;    /* enum meta_backend */
    char *meta_postgres; /* owned: libpq conninfo */
    int64_t meta_postgres_pool;
    uint64_t meta_lmdb_size;
    int64_t meta_events_keep;
    char *social_token_secret;       /* owned */
    uint64_t social_token_ttl;       /* ms */
    char *social_moderator_key;      /* owned */
    char *social_edge_key;           /* owned */
    char *social_reactions;          /* owned */
    uint64_t social_reaction_bucket; /* ms */
    int64_t social_threads;
    int64_t social_queue_max;
    /* VOD (origin/vod.h, docs/vod.md) */
    uint64_t vod_max_upload;       /* bytes */
    int64_t vod_workers;           /* local worker processes */
    uint64_t vod_segment_duration; /* ms */
    uint64_t vod_chunk_duration;   /* ms */
    uint64_t vod_chunk_min;        /* ms */
    uint64_t vod_chunk_max;        /* ms */
    int64_t vod_scene_threshold;   /* thousandths */
    int64_t vod_engaging_cuts;     /* cuts per minute */
    int64_t vod_engaging_motion;   /* thousandths */
    uint64_t vod_lease;            /* ms */
    int64_t vod_max_attempts;
    uint64_t vod_retry_backoff; /* ms */
    char *vod_worker_key;       /* owned */
};

extern const struct conf_table origin_conf_table;
/* The command line: -c, --http, --rtmp, --data-dir, --ladder, ... */
extern const struct cli_spec origin_cli_spec;

/* The HTTP server's settings for this snapshot (Server: cascade-origin/VERSION). */
void origin_conf_httpd(const struct origin_conf *c, struct httpd_conf *h);

#endif
