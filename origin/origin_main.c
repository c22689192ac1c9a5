/*
 * origin_main.c -- cascade-origin: ingest, packaging, manifests and the
 * REST API. Start-up, reload and drain are node_app's; this file says where
 * its keys are, starts the ingest thread and routes requests.
 *
 * Threads: N HTTP workers (node.c) serve /live/... from disk and /api/ from
 * the metadata store; one ingest thread owns its own event base with the
 * RTMP server (rtmp_ingest.c) and every live stream (live.c), and replays
 * unfinished journals before it takes publishers. The filesystem is the
 * hand-off between the two: files appear by rename, whole.
 *
 * Owned here for the process's life (made in start, freed in stop): the
 * streams store, the ingest event base, the live state and the RTMP server.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stddef.h>
#include <string.h>
#include <stdio.h>
#include <unistd.h>

#include <event2/event.h>

#include "origin_conf.h"
#include "err.h"
#include "httpd.h"
#include "journal.h"
#include "live.h"
#include "live_mem.h"
#include "log.h"
#include "media/ladder.h"
#include "mem.h"
#include "meta.h"
#include "node_app.h"
#include "origin_http.h"
#include "pkg.h"
#include "rtmp_ingest.h"
#include "social_api.h"
#include "streams.h"
#include "vod.h"
#include "compat.h"

#define ORIGIN_PATH_MAX 4096
/* Journal buffer per publisher: 100 ms of a 20 Mbit/s stream fits. */
#define ORIGIN_JOURNAL_BUFFER (256u << 10)

static struct {
    char *data_dir;               /* owned */
    struct streams *streams;      /* owned */
    struct event_base *ingest;    /* owned: the ingest thread's loop */
    struct live *live;            /* owned; ingest thread */
    struct rtmp_ingest *rtmp;     /* owned; ingest thread */
    struct meta *meta;            /* owned: comments, likes, reactions, sessions */
    struct origin_social *social; /* owned: the interactions API and its store threads */
    struct vod *vod;              /* owned: uploads, transcode jobs, seek/frames */
    pthread_t thread;
    bool running;
    struct ladder ladder; /* the transcode ladder, when ladder is not none */
} origin;

/* Reads conf's ladder: NULL for none, else origin.ladder filled. ERR_CONF (logged) when bad. */
static int
origin_main_ladder(const char *spec, const struct ladder **out)
{
    char *text;
    ssize_t n;
    unsigned line = 0;
    int fd, rc;

    *out = NULL;
    if (strcmp(spec, "none") == 0)
        return 0;
    if (strcmp(spec, "default") == 0) {
        ladder_default(&origin.ladder);
        *out = &origin.ladder;
        return 0;
    }
    fd = open(spec, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        LOG(LOG_ERR, "origin", "ladder_failed", "conn=0 file=%s err=%s", spec, err_name(-errno));
        return ERR_CONF;
    }
    text = xmalloc(LADDER_FILE_MAX + 1);
    n = read(fd, text, LADDER_FILE_MAX + 1);
    (void)close(fd);
    rc = n < 0 ? ERR_CONF : ladder_parse(&origin.ladder, text, (size_t)n, &line);
    xfree(text);
    if (rc != 0) {
        LOG(LOG_ERR, "origin", "ladder_failed", "conn=0 file=%s line=%u err=%s", spec, line,
            err_name(rc));
        return ERR_CONF;
    }
    *out = &origin.ladder;
    return 0;
}

static void
origin_main_handle(struct httpd_req *r, void *arg)
{
    const char *path = httpd_req_path(r);

    if (strncmp(path, "/live/", 6) == 0 || strncmp(path, "/vod/", 5) == 0) {
        origin_http_serve(r, origin.data_dir);
        return;
    }
    if (origin.vod != NULL && vod_handle(origin.vod, r))
        return;
    /* Before the streams routes: /api/streams/{id}/comments is an interaction. */
    if (origin.social != NULL && origin_api_social_handle(r, origin.social, node_worker_base(arg)))
        return;
    if (strcmp(path, "/api/streams") == 0 || strncmp(path, "/api/streams/", 13) == 0) {
        streams_api(origin.streams, r);
        return;
    }
    httpd_resp_error(r, 404, "not_found", "no such resource on this origin");
}

static void *
origin_main_ingest(void *arg)
{
    int n;

    (void)arg;
    n = live_recover(origin.live);
    live_mem_set_recovering(false);
    if (n < 0)
        LOG(LOG_ERR, "origin", "recover_failed", "conn=0 err=%s", err_name(n));
    else if (n > 0)
        LOG(LOG_INFO, "origin", "recovered", "conn=0 streams=%d", n);
    if (event_base_dispatch(origin.ingest) < 0)
        LOG(LOG_CRIT, "origin", "ingest_loop_failed", "conn=0");
    /* Connections first: their publishers end into live state that still exists. */
    rtmp_ingest_free(&origin.rtmp);
    live_free(&origin.live);
    return NULL;
}

static void
origin_main_cleanup(void)
{
    httpd_set_body_cap(NULL);
    vod_free(&origin.vod);
    origin_social_free(&origin.social);
    meta_close(&origin.meta);
    rtmp_ingest_free(&origin.rtmp);
    live_free(&origin.live);
    if (origin.ingest != NULL)
        event_base_free(origin.ingest);
    origin.ingest = NULL;
    streams_close(&origin.streams);
    xfree(origin.data_dir);
    origin.data_dir = NULL;
}

/* The interactions store lives in its own LMDB environment (data.dir/social):
 * LMDB must not open data.dir/meta twice in one process. */
static int
origin_main_social_start(const struct origin_conf *c)
{
    struct social_conf sc;
    struct meta_conf mc;
    char dir[ORIGIN_PATH_MAX];
    int err;

    memset(&sc, 0, sizeof(sc));
    memset(&mc, 0, sizeof(mc));
    if (snprintf(dir, sizeof(dir), "%s/social", c->data_dir) >= (int)sizeof(dir))
        return ERR_CONF;
    mc.backend = (enum meta_backend)c->meta_backend;
    mc.dir = dir;
    mc.map_size = c->meta_lmdb_size;
    mc.pg_conninfo = c->meta_postgres;
    mc.pg_pool = (unsigned)c->meta_postgres_pool;
    mc.events_keep = (uint64_t)c->meta_events_keep;
    err = meta_open(&mc, &origin.meta);
    if (err != 0)
        return err;
    sc.meta = origin.meta;
    sc.token_secret = c->social_token_secret;
    sc.token_ttl_ms = c->social_token_ttl;
    sc.moderator_key = c->social_moderator_key;
    sc.edge_key = c->social_edge_key;
    sc.reactions = c->social_reactions;
    sc.bucket_ms = c->social_reaction_bucket;
    sc.threads = (unsigned)c->social_threads;
    sc.queue_max = (unsigned)c->social_queue_max;
    return origin_social_new(&sc, &origin.social);
}

/* VOD: the manager thread and the local workers, which call back over HTTP. */
static int
origin_main_vod_start(const struct origin_conf *c)
{
    struct vod_conf vc;
    char url[300];
    const char *colon = strrchr(c->http_listen, ':');
    const char *host = c->http_listen;
    size_t hl = colon != NULL ? (size_t)(colon - host) : 0;

    if (colon == NULL)
        return ERR_CONF;
    if ((hl == 7 && strncmp(host, "0.0.0.0", 7) == 0) || (hl == 4 && strncmp(host, "[::]", 4) == 0))
        (void)snprintf(url, sizeof(url), "http://127.0.0.1%s", colon);
    else
        (void)snprintf(url, sizeof(url), "http://%s", c->http_listen);
    memset(&vc, 0, sizeof(vc));
    vc.data_dir = c->data_dir;
    vc.http_url = url;
    vc.ladder = c->ladder;
    vc.max_upload = c->vod_max_upload;
    vc.workers = (uint32_t)c->vod_workers;
    vc.seg_ms = (uint32_t)c->vod_segment_duration;
    vc.chunk_ms = (uint32_t)c->vod_chunk_duration;
    vc.chunk_min_ms = (uint32_t)c->vod_chunk_min;
    vc.chunk_max_ms = (uint32_t)c->vod_chunk_max;
    vc.scene_milli = (uint32_t)c->vod_scene_threshold;
    vc.engaging_cuts = (uint32_t)c->vod_engaging_cuts;
    vc.engaging_motion = (uint32_t)c->vod_engaging_motion;
    vc.lease_ms = c->vod_lease;
    vc.max_attempts = (uint32_t)c->vod_max_attempts;
    vc.backoff_ms = c->vod_retry_backoff;
    vc.worker_key = c->vod_worker_key;
    httpd_set_body_cap(vod_body_cap);
    return vod_new(&vc, &origin.vod);
}

static int
origin_main_start(struct node *n, const void *conf)
{
    const struct origin_conf *c = conf;
    struct rtmp_ingest_conf rc;
    struct live_conf lc;
    char meta[ORIGIN_PATH_MAX];
    int err;

    (void)n;
    origin_http_init();
    pkg_global_init();
    origin.data_dir = xstrdup(c->data_dir);
    if (snprintf(meta, sizeof(meta), "%s/meta", c->data_dir) >= (int)sizeof(meta))
        return ERR_CONF;
    err = journal_mkdirs(c->data_dir);
    if (err != 0) {
        LOG(LOG_ERR, "origin", "data_dir_failed", "conn=0 dir=%s err=%s", c->data_dir,
            err_name(err));
        goto fail;
    }
    err = streams_open(meta, c->rtmp_listen, &origin.streams);
    if (err != 0)
        goto fail;
    err = origin_main_social_start(c);
    if (err != 0)
        goto fail;
    err = origin_main_vod_start(c);
    if (err != 0)
        goto fail;
    origin.ingest = event_base_new();
    AN(origin.ingest);
    memset(&lc, 0, sizeof(lc));
    lc.data_dir = c->data_dir;
    lc.segment_ms = (uint32_t)c->segment_duration;
    lc.dvr_window_ms = (uint32_t)c->dvr_window;
    lc.delay_ms = (uint32_t)c->presentation_delay;
    lc.grace_ms = (uint32_t)c->reconnect_grace;
    lc.keep_recording = c->keep_recording;
    lc.journal_retention_ms = c->journal_retention;
    /* The promise is 500 ms of loss at most, counting tags that wait for
     * the next read batch to be journaled. */
    lc.journal_sync_ms = (uint32_t)c->journal_sync;
    err = origin_main_ladder(c->ladder, &lc.ladder);
    if (err != 0)
        goto fail;
    lc.ffmpeg = c->ladder_ffmpeg;
    lc.ladder_nice = (int)c->ladder_nice;
    lc.ladder_threads = (unsigned)c->ladder_threads;
    lc.ladder_max_workers = (unsigned)c->ladder_max_workers;
    lc.ladder_wait_ms = (uint32_t)c->ladder_wait;
    lc.ladder_backoff_min_ms = (uint32_t)c->ladder_backoff_min;
    lc.ladder_backoff_max_ms = (uint32_t)c->ladder_backoff_max;
    lc.ladder_restore_ms = (uint32_t)c->ladder_restore;
    if (lc.journal_sync_ms + c->rtmp_read_batch > JOURNAL_SYNC_MAX_MS) {
        lc.journal_sync_ms = JOURNAL_SYNC_MAX_MS - (uint32_t)c->rtmp_read_batch;
        LOG(LOG_WARN, "origin", "sync_interval_lowered",
            "conn=0 sync_ms=%" PRIu32 " read_batch_ms=%" PRIu64, lc.journal_sync_ms,
            c->rtmp_read_batch);
    }
    lc.journal_buffer = c->rtmp_read_batch > 0 ? ORIGIN_JOURNAL_BUFFER : 0;
    err = live_new(origin.ingest, &lc, origin.streams, &origin.live);
    if (err != 0) {
        LOG(LOG_ERR, "origin", "live_failed", "conn=0 dir=%s err=%s", c->data_dir, err_name(err));
        goto fail;
    }
    memset(&rc, 0, sizeof(rc));
    rc.listen = c->rtmp_listen;
    rc.timeout_ms = (uint32_t)c->rtmp_timeout;
    rc.max_connections = (uint32_t)c->rtmp_max_connections;
    rc.read_batch_ms = (uint32_t)c->rtmp_read_batch;
    err = rtmp_ingest_new(origin.ingest, &rc, origin.streams, origin.live, &origin.rtmp);
    if (err != 0)
        goto fail;
    /* Set before any HTTP worker runs; the ingest thread clears it once the
     * journals are replayed (live_mem.h). */
    live_mem_set_recovering(true);
    err = -pthread_create(&origin.thread, NULL, origin_main_ingest, NULL);
    if (err != 0) {
        live_mem_set_recovering(false);
        goto fail;
    }
    origin.running = true;
    return 0;

fail:
    origin_main_cleanup();
    return err;
}

static void
origin_main_stop(void)
{
    if (origin.running) {
        AZ(event_base_loopexit(origin.ingest, NULL));
        AZ(pthread_join(origin.thread, NULL));
        origin.running = false;
    }
    origin_main_cleanup();
}

static const struct node_app_spec origin_main_spec = {
    .name = "cascade-origin",
    .server = "cascade-origin/" CASCADE_VERSION,
    .cli = &origin_cli_spec,
    .conf_size = sizeof(struct origin_conf),
    .off_listen = offsetof(struct origin_conf, http_listen),
    .off_workers = offsetof(struct origin_conf, workers),
    .off_log_level = offsetof(struct origin_conf, log_level),
    .off_drain = offsetof(struct origin_conf, drain_timeout),
    .off_http = offsetof(struct origin_conf, http),
    .handler = origin_main_handle,
    .start = origin_main_start,
    .stop = origin_main_stop,
};

int
main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "worker") == 0)
        return vod_worker_main(argc - 1, argv + 1);
    return node_app_main(&origin_main_spec, argc, argv);
}
