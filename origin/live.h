/*
 * live.h -- the live streams of the origin: per stream, the journal, the
 * packager, the segment files and the manifests.
 *
 * A publisher's FLV tags come in (from rtmp_ingest.c, or from a journal
 * being replayed); each is appended to the stream's journal first, then
 * packaged (pkg.h) into CMAF init and media segments, one representation
 * per track. Every segment is written under data.dir as
 * live/{stream}/{rep}/{t}.m4s (temporary file + rename, so an HTTP worker
 * reading a file always sees a whole one) and the manifest model
 * (shared/media/model.h) grows by it; then manifest.mpd, master.m3u8,
 * {rep}/media.m3u8 and model.json are rendered into memory (live_mem.h),
 * where the HTTP workers find them. When a run ends, its static manifests
 * are written as files (atomically, likewise) and replace those in memory,
 * so an ended stream survives a restart; after a crash, recovery renders
 * the live ones again from the journal.
 *
 * Timeline. A stream's media time is milliseconds since its availability
 * start (fixed at its first publish ever, kept in the journal's
 * stream.meta): the first publisher starts at 0; one that disconnects and
 * comes back continues the same timeline after a gap of the time it was
 * away -- same Period, same representation ids, no renumbering. After
 * live.reconnect_grace without a publisher the run ends: the packager is
 * flushed, the MPD becomes type="static" over the whole recording, the
 * journal files are sealed. A later publish starts a new run on the same
 * timeline, in a new Period.
 *
 * Threads: everything here runs on the ingest thread (its event base);
 * HTTP workers only read the files and live_mem.
 *
 * Not here: RTMP (rtmp_ingest.c), muxing (pkg.c), keys (streams.c).
 */
#ifndef CASCADE_LIVE_H
#define CASCADE_LIVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "miniobj.h"

struct event_base;
struct ladder;
struct live;
struct live_stream;
struct streams;

struct live_conf {
    const char *data_dir;          /* borrowed for the life of the struct live */
    uint32_t segment_ms;           /* target segment duration */
    uint32_t dvr_window_ms;        /* timeShiftBufferDepth */
    uint32_t delay_ms;             /* suggestedPresentationDelay */
    uint32_t grace_ms;             /* a run ends this long after its publisher left */
    bool keep_recording;           /* keep segments that left the DVR window */
    uint64_t journal_retention_ms; /* sealed journals kept this long */
    uint32_t journal_sync_ms;      /* fdatasync period, <= 500 */
    /* The transcode ladder (ladder_sup.h); ladder NULL: passthrough only. */
    const struct ladder *ladder; /* borrowed for the life of the struct live */
    const char *ffmpeg;          /* borrowed likewise: the worker program */
    int ladder_nice;             /* niceness of the workers */
    unsigned ladder_threads;     /* ffmpeg -threads per encoder, 0 = its choice */
    unsigned ladder_max_workers; /* workers running at once */
    uint32_t ladder_wait_ms;     /* how long a segment waits for the encoded rungs */
    uint32_t ladder_backoff_min_ms;
    uint32_t ladder_backoff_max_ms;
    uint32_t ladder_restore_ms; /* a dropped top rung comes back after keeping up this long */
    uint32_t journal_buffer;       /* bytes of tags buffered per journal; 0 = write each */
};

int live_new(struct event_base *base, const struct live_conf *c, struct streams *st,
             struct live **out) WARN_UNUSED;
/*
 * Replays the journals of runs that did not end (a crash or a stop while
 * publishing): segments and manifests come back complete up to the last
 * synced tag, and each such stream then waits reconnect_grace for its
 * publisher before it ends. Call once, after live_new(). Returns how many
 * streams were recovered.
 */
int live_recover(struct live *l) WARN_UNUSED;
/* Closes every publisher's journal (synced); a running run stays open. */
void live_free(struct live **pl);

/*
 * A publisher was accepted for stream name. ERR_EXISTS when the stream
 * already has one; -errno / ERR_STORE when its journal cannot be made
 * (the publish is refused: a stream we cannot journal is not taken).
 */
int live_publish_begin(struct live *l, const char *name, struct live_stream **out) WARN_UNUSED;
/*
 * One tag from the publisher: type is FLV_TAG_AUDIO, _VIDEO or _SCRIPT,
 * dts_ms its time on the session's timeline (rtmp_session's normalized
 * dts, from 0), data the FLV tag body. Journaled, then packaged. Returns 0,
 * or ERR_MEDIA when the media cannot be packaged (the stream is then
 * journal-only until its codec configuration changes; logged, counted).
 */
int live_publish_tag(struct live_stream *ls, uint8_t type, int64_t dts_ms, const uint8_t *data,
                     size_t len) WARN_UNUSED;
/*
 * Writes the tags journaled since the last call (with journal_buffer set,
 * tags wait in memory until this, a full buffer, or a segment cut). The
 * ingest calls it after each batch of input.
 */
void live_publish_flush(struct live_stream *ls);
/* The publisher left (cleanly or not); ls is invalid afterwards. */
void live_publish_end(struct live_stream *ls);

/* Streams known (live, in grace, or ended) -- tests and metrics. */
unsigned live_count(const struct live *l);

#endif
