/*
 * origin_conf.c -- every key of cascade-origin, with its default, range,
 * reload rule and help; the command-line overrides; the httpd settings.
 *
 * Defaults start a working origin on a developer's machine with no file
 * and no root: loopback ports, data under the working directory. Adding a
 * key: add the field, add the row here, regenerate conf/origin.conf with
 * --dump-config and the table in docs/config.md (tests/unit/
 * test_conf_files.c fails until both match).
 *
 * Not here: the http.* rows (shared/conf_common.h), parsing (conf.c).
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "origin_conf.h"
#include "err.h"
#include "httpd.h"
#include "compat.h"

static const char *const origin_conf_meta_backends[] = {"lmdb", "postgres", NULL};

/* clang-format off */
static const struct conf_key origin_conf_keys[] = {
    {"http.listen", CONF_ADDR, offsetof(struct origin_conf, http_listen), "127.0.0.1:8080", 0,
     0, NULL, false, "Address and port for HTTP: manifests, segments, uploads and the REST API."},
    {"rtmp.listen", CONF_ADDR, offsetof(struct origin_conf, rtmp_listen), "127.0.0.1:1935", 0,
     0, NULL, false, "Address and port that encoders publish to over RTMP."},
    {"workers", CONF_INT, offsetof(struct origin_conf, workers), "0", 0, 64, NULL,
     false, "HTTP event-loop threads; 0 = one per CPU core."},
    {"data.dir", CONF_STRING, offsetof(struct origin_conf, data_dir), "./cascade-data", 0, 0,
     NULL, false, "Directory of journals, segments and metadata; relative to the working directory."},
    {"ladder", CONF_STRING, offsetof(struct origin_conf, ladder), "none", 0, 0, NULL,
     false, "Renditions to encode: none (passthrough only), default, or a ladder file's path."},
    {"ladder.ffmpeg", CONF_STRING, offsetof(struct origin_conf, ladder_ffmpeg), "ffmpeg", 0, 0,
     NULL, false, "The transcoder program each live stream's worker runs (looked up in PATH)."},
    {"ladder.nice", CONF_INT, offsetof(struct origin_conf, ladder_nice), "10", 0, 19, NULL,
     false, "Niceness of the transcoder workers, so ingest and HTTP keep the CPU first."},
    {"ladder.threads", CONF_INT, offsetof(struct origin_conf, ladder_threads), "0", 0, 64, NULL,
     false, "CPU limit: threads per encoder in a worker; 0 = ffmpeg's choice (all cores)."},
    {"ladder.max_workers", CONF_INT, offsetof(struct origin_conf, ladder_max_workers), "2", 0,
     1024, NULL, false, "Transcoder workers running at once; further streams stay passthrough."},
    {"ladder.wait", CONF_DURATION, offsetof(struct origin_conf, ladder_wait), "1500ms", 0,
     60 * CONF_SEC, NULL, false,
     "How long a live segment waits for its encoded renditions before failover copies stand in."},
    {"ladder.backoff_min", CONF_DURATION, offsetof(struct origin_conf, ladder_backoff_min),
     "250ms", 0, CONF_HOUR, NULL, false, "First delay before a dead worker is restarted."},
    {"ladder.backoff_max", CONF_DURATION, offsetof(struct origin_conf, ladder_backoff_max), "30s",
     0, CONF_HOUR, NULL, false, "Longest delay between restarts; the delay doubles up to it."},
    {"ladder.restore", CONF_DURATION, offsetof(struct origin_conf, ladder_restore), "60s", 0,
     24 * CONF_HOUR, NULL, false,
     "A top rung dropped for slowness comes back after the worker kept up this long; 0 never."},
    {"rtmp.timeout", CONF_DURATION, offsetof(struct origin_conf, rtmp_timeout), "15s", 100,
     CONF_HOUR, NULL, false, "An RTMP connection that sends nothing for this long is closed."},
    {"rtmp.max_connections", CONF_INT, offsetof(struct origin_conf, rtmp_max_connections), "256",
     1, 65536, NULL, false, "RTMP connections open at once; more are closed on accept."},
    {"rtmp.read_batch", CONF_DURATION, offsetof(struct origin_conf, rtmp_read_batch), "100ms", 0,
     400, NULL, false,
     "Publishers are read in one batch this often (0: as data arrives); part of the loss bound."},
    {"live.segment_duration", CONF_DURATION, offsetof(struct origin_conf, segment_duration), "2s",
     100, 60 * CONF_SEC, NULL, false,
     "Target duration of live segments; cuts happen at the first keyframe at or after it."},
    {"live.dvr_window", CONF_DURATION, offsetof(struct origin_conf, dvr_window), "30m", 0,
     24 * CONF_HOUR, NULL, false,
     "How far back a live viewer may seek (timeShiftBufferDepth); 0 keeps the whole run."},
    {"live.presentation_delay", CONF_DURATION, offsetof(struct origin_conf, presentation_delay),
     "6s", 0, 10 * 60 * CONF_SEC, NULL, false,
     "How far behind the live edge players should play (suggestedPresentationDelay)."},
    {"live.reconnect_grace", CONF_DURATION, offsetof(struct origin_conf, reconnect_grace), "15s",
     0, CONF_HOUR, NULL, false,
     "A publisher that comes back within this continues the same timeline; then the stream ends."},
    {"live.keep_recording", CONF_BOOL, offsetof(struct origin_conf, keep_recording), "on", 0, 0,
     NULL, false,
     "Keep segments that left the DVR window, so an ended stream's MPD covers the whole run."},
    {"journal.sync_interval", CONF_DURATION, offsetof(struct origin_conf, journal_sync), "400ms",
     1, 500, NULL, false,
     "Journals are made durable this often; with rtmp.read_batch at most 500ms in all."},
    {"journal.retention", CONF_DURATION, offsetof(struct origin_conf, journal_retention), "24h",
     0, 365 * 24 * CONF_HOUR, NULL, false,
     "How long the journal of an ended stream is kept; 0 deletes it when the stream ends."},
    {"log.level", CONF_ENUM, offsetof(struct origin_conf, log_level), "info", 0, 0,
     conf_log_levels, true, "Lowest level logged: debug, info, warn, error or crit."},
    {"drain.timeout", CONF_DURATION, offsetof(struct origin_conf, drain_timeout), "30s", 0,
     CONF_HOUR, NULL, true, "On SIGTERM, time in-flight requests get before connections close."},
    CONF_HTTP_KEYS(struct origin_conf, http),
    {"meta.backend", CONF_ENUM, offsetof(struct origin_conf, meta_backend), "lmdb", 0, 0,
     origin_conf_meta_backends, false, "Metadata store: lmdb (embedded, in data.dir/social) or postgres."},
    {"meta.postgres", CONF_STRING, offsetof(struct origin_conf, meta_postgres), "", 0, 0, NULL,
     false, "libpq connection string of the postgres backend, e.g. host=db dbname=cascade."},
    {"meta.postgres_pool", CONF_INT, offsetof(struct origin_conf, meta_postgres_pool), "4", 1, 64,
     NULL, false, "Connections the postgres backend keeps open."},
    {"meta.lmdb_size", CONF_SIZE, offsetof(struct origin_conf, meta_lmdb_size), "1G", 8 << 20, 0,
     NULL, false, "Map size of the lmdb backend: the most its file may grow to."},
    {"meta.events_keep", CONF_INT, offsetof(struct origin_conf, meta_events_keep), "100000", 100,
     100000000, NULL, false, "Events kept in the log that edges follow (/api/events)."},
    {"social.token_secret", CONF_STRING, offsetof(struct origin_conf, social_token_secret), "", 0,
     0, NULL, false, "HMAC key of session tokens (16-256 bytes); empty: random at each start."},
    {"social.token_ttl", CONF_DURATION, offsetof(struct origin_conf, social_token_ttl), "24h",
     60000, 8760 * CONF_HOUR, NULL, false, "How long a session token stays valid."},
    {"social.moderator_key", CONF_STRING, offsetof(struct origin_conf, social_moderator_key), "",
     0, 0, NULL, false, "Key that makes a session a moderator's (16+ bytes); empty: none."},
    {"social.edge_key", CONF_STRING, offsetof(struct origin_conf, social_edge_key), "", 0, 0,
     NULL, false, "Key that makes a session an edge's, to send reaction batches; empty: none."},
    {"social.reactions", CONF_STRING, offsetof(struct origin_conf, social_reactions),
     "like,love,haha,wow,sad,fire", 0, 0, NULL, false, "Reaction kinds viewers may send, comma-separated."},
    {"social.reaction_bucket", CONF_DURATION, offsetof(struct origin_conf, social_reaction_bucket),
     "1s", 100, 60000, NULL, false, "Media time covered by one reaction count."},
    {"social.threads", CONF_INT, offsetof(struct origin_conf, social_threads), "4", 1, 64, NULL,
     false, "Threads that run interactions requests against the metadata store."},
    {"social.queue_max", CONF_INT, offsetof(struct origin_conf, social_queue_max), "1024", 16,
     65536, NULL, false, "Interactions requests waiting for a store thread; past it: 503."},
    /* VOD: uploads, map-reduce transcoding (docs/vod.md) */
    {"vod.max_upload", CONF_SIZE, offsetof(struct origin_conf, vod_max_upload), "8G", 1024, 0,
     NULL, false, "Largest video upload (POST /api/videos); past it: 413."},
    {"vod.workers", CONF_INT, offsetof(struct origin_conf, vod_workers), "2", 0, 32, NULL, false,
     "Local transcode worker processes; 0 leaves the jobs to remote workers."},
    {"vod.segment_duration", CONF_DURATION, offsetof(struct origin_conf, vod_segment_duration),
     "2s", 500, 60 * CONF_SEC, NULL, false, "Target duration of VOD segments."},
    {"vod.chunk_duration", CONF_DURATION, offsetof(struct origin_conf, vod_chunk_duration), "20s",
     500, CONF_HOUR, NULL, false, "Length of a uniform transcode chunk (whole segments)."},
    {"vod.chunk_min", CONF_DURATION, offsetof(struct origin_conf, vod_chunk_min), "4s", 500,
     CONF_HOUR, NULL, false, "Shortest chunk when an engaging video is cut at scene changes."},
    {"vod.chunk_max", CONF_DURATION, offsetof(struct origin_conf, vod_chunk_max), "40s", 500,
     CONF_HOUR, NULL, false, "Longest chunk when an engaging video is cut at scene changes."},
    {"vod.scene_threshold", CONF_INT, offsetof(struct origin_conf, vod_scene_threshold), "300", 1,
     1000, NULL, false, "Scene score (thousandths) at which a frame starts a new scene."},
    {"vod.engaging_cuts", CONF_INT, offsetof(struct origin_conf, vod_engaging_cuts), "6", 0, 6000,
     NULL, false, "Scene cuts per minute at which a video counts as engaging."},
    {"vod.engaging_motion", CONF_INT, offsetof(struct origin_conf, vod_engaging_motion), "60", 1,
     1000, NULL, false, "Mean frame change (thousandths) at which a video counts as engaging."},
    {"vod.lease", CONF_DURATION, offsetof(struct origin_conf, vod_lease), "30s", 1000, CONF_HOUR,
     NULL, false, "A worker holds a job this long unless it renews; then the job is re-queued."},
    {"vod.max_attempts", CONF_INT, offsetof(struct origin_conf, vod_max_attempts), "4", 1, 100,
     NULL, false, "Attempts at one job before the video fails."},
    {"vod.retry_backoff", CONF_DURATION, offsetof(struct origin_conf, vod_retry_backoff), "1s", 0,
     CONF_HOUR, NULL, false, "Wait before retry n of a job: this times 2^(n-1), at most 16x."},
    {"vod.worker_key", CONF_STRING, offsetof(struct origin_conf, vod_worker_key), "", 0, 0, NULL,
     false, "Secret workers send (env CASCADE_WORKER_KEY); empty: the job API is open."},
};
/* clang-format on */

static int
origin_conf_validate(const void *conf, struct conf_err *err)
{
    const struct origin_conf *c = conf;

    if (c->data_dir[0] == '\0') {
        (void)snprintf(err->msg, sizeof(err->msg), "data.dir must not be empty");
        return ERR_CONF;
    }
    if (c->ladder[0] == '\0') {
        (void)snprintf(err->msg, sizeof(err->msg),
                       "ladder must be none, default, or the path of a ladder file");
        return ERR_CONF;
    }
    /* SPEC: RFC 8216 6.2.2 -- a live playlist keeps at least three target durations. */
    if (c->dvr_window != 0 && c->dvr_window < 3 * c->segment_duration) {
        (void)snprintf(err->msg, sizeof(err->msg),
                       "live.dvr_window must be 0 or at least 3 x live.segment_duration");
        return ERR_CONF;
    }
    if (strcmp(c->http_listen, c->rtmp_listen) == 0) {
        (void)snprintf(err->msg, sizeof(err->msg),
                       "http.listen and rtmp.listen must differ (both are %s)", c->http_listen);
        return ERR_CONF;
    }
    return conf_http_validate(&c->http, err);
}

const struct conf_table origin_conf_table = {
    .binary = "cascade-origin",
    .keys = origin_conf_keys,
    .nkeys = ARRAY_SIZE(origin_conf_keys),
    .size = sizeof(struct origin_conf),
    .validate = origin_conf_validate,
};

static const struct cli_opt origin_cli_opts[] = {
    {"--http", "http.listen", "ADDR:PORT", "HTTP address"},
    {"--rtmp", "rtmp.listen", "ADDR:PORT", "RTMP ingest address"},
    {"--data-dir", "data.dir", "DIR", "journals, segments and metadata"},
    {"--ladder", "ladder", "none|default|FILE", "renditions to encode"},
    {"--workers", "workers", "N", "HTTP event-loop threads, 0 = one per core"},
    {"--log-level", "log.level", "LEVEL", "debug, info, warn, error or crit"},
};

const struct cli_spec origin_cli_spec = {
    .summary = "Cascade origin: RTMP ingest, ladder, CMAF packaging, manifests, VOD and the REST "
               "API.\nA VOD transcode worker: cascade-origin worker --origin http://HOST:PORT "
               "[--name N] [--dir D]",
    .table = &origin_conf_table,
    .opts = origin_cli_opts,
    .nopts = ARRAY_SIZE(origin_cli_opts),
};

void
origin_conf_httpd(const struct origin_conf *c, struct httpd_conf *h)
{
    conf_http_fill(&c->http, "cascade-origin/" CASCADE_VERSION, h);
}
