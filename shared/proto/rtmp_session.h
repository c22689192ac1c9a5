/*
 * rtmp_session.h -- a pure RTMP publish session: bytes from an encoder in,
 * the server's replies out as bytes, and events for the caller (SPEC:
 * Adobe RTMP 1.0, 7.2 command messages; the sequence is the one OBS and
 * ffmpeg send: connect, releaseStream, FCPublish, createStream, publish,
 * @setDataFrame/onMetaData, audio/video, FCUnpublish, deleteStream).
 *
 * Built on rtmp_handshake, rtmp_chunk, amf0 and flv. The caller (the
 * libevent ingest server) owns the socket:
 *
 *     n = rtmp_session_feed(s, p, len, &ev);      -- loop like rtmp_chunk_parse()
 *     out = rtmp_session_output(s, &olen);        -- after every feed: send these
 *     rtmp_session_output_consume(s, olen);
 *
 * Events: CONNECT (informational), PUBLISH (app + stream key: the caller
 * decides with rtmp_session_publish_accept() or _reject() before feeding
 * again, so the key check can be synchronous or not), METADATA, AUDIO,
 * VIDEO (FLV tag bodies, with a normalized timestamp), UNPUBLISH.
 *
 * Timestamps: media events carry dts_ms on one timeline per session that
 * starts at 0 with the first coded frame, never goes backwards per track,
 * never repeats a coded-frame timestamp, and rebases across jumps larger
 * than max_ts_jump_ms (docs/rtmp.md has the rules and counters).
 *
 * Not here: sockets, TLS, stream-key storage, the journal, packaging.
 */
#ifndef CASCADE_RTMP_SESSION_H
#define CASCADE_RTMP_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../miniobj.h"
#include "amf0.h"
#include "flv.h"
#include "rtmp_chunk.h"
#include "rtmp_handshake.h"

#define RTMP_SESSION_MAX_NAME 256 /* app, stream key, publish type, flashVer */
#define RTMP_SESSION_MAX_URL 1024 /* tcUrl */

struct rtmp_session_conf {
    struct rtmp_chunk_limits lim; /* zero fields: rtmp_chunk defaults */
    enum rtmp_handshake_mode hs_mode;
    uint32_t time_ms;         /* S1 time */
    uint64_t seed;            /* S1/S2 filler */
    uint32_t window_ack_size; /* announced; default 2500000 */
    uint32_t peer_bandwidth;  /* Set Peer Bandwidth; default 2500000 */
    uint32_t out_chunk_size;  /* ours; default 4096 */
    uint32_t max_output;      /* unsent output cap, bytes; default 1 MiB */
    uint32_t max_ts_jump_ms;  /* default 10000 */
    uint32_t max_streams;     /* createStream calls; default 8 */
    bool no_bw_done;          /* do not send onBWDone after connect */
};

enum rtmp_session_state {
    RTMP_SESSION_HANDSHAKE = 0,
    RTMP_SESSION_CONNECTING,      /* waiting for connect */
    RTMP_SESSION_CONNECTED,       /* waiting for createStream / publish */
    RTMP_SESSION_PUBLISH_PENDING, /* the caller must accept or reject */
    RTMP_SESSION_PUBLISHING,
    RTMP_SESSION_FAILED,
};

enum rtmp_session_event_type {
    RTMP_SEV_NONE = 0,
    RTMP_SEV_CONNECT,
    RTMP_SEV_PUBLISH,
    RTMP_SEV_METADATA,
    RTMP_SEV_AUDIO,
    RTMP_SEV_VIDEO,
    RTMP_SEV_UNPUBLISH,
};

struct rtmp_session_event {
    enum rtmp_session_event_type type;
    const char *app;        /* borrowed from the session, NUL-terminated */
    const char *stream_key; /* PUBLISH and later */
    /* METADATA / AUDIO / VIDEO: an FLV tag body, borrowed until the next feed */
    const uint8_t *data;
    uint32_t len;
    int64_t dts_ms;         /* normalized (see above) */
    uint32_t ts_wire;       /* the timestamp as received */
    int64_t ts64;           /* the chunk stream's unwrapped timeline */
    struct flv_audio audio; /* AUDIO */
    struct flv_video video; /* VIDEO */
};

struct rtmp_session_track {
    bool started;
    int64_t last_in;  /* ts64 of the last coded frame */
    int64_t last_out; /* its dts_ms */
    int64_t offset;   /* dts = ts64 + offset, before clamping */
    int64_t last_delta;
};

struct rtmp_session {
    unsigned magic;
#define RTMP_SESSION_MAGIC 0x7273736eU
    struct rtmp_session_conf conf;
    enum rtmp_session_state state;
    int error;
    struct rtmp_handshake hs;
    struct rtmp_chunk_reader rd; /* initialised when the handshake is done */
    struct rtmp_chunk_writer wr;
    struct amf0_doc doc;
    uint8_t *out; /* owned: pending output out[out_off .. out_len) */
    size_t out_cap, out_len, out_off;
    uint8_t scratch[4096]; /* AMF reply bodies */
    uint32_t streams_created;
    uint32_t publish_msid;
    char app[RTMP_SESSION_MAX_NAME];
    char tc_url[RTMP_SESSION_MAX_URL];
    char flash_ver[RTMP_SESSION_MAX_NAME];
    char stream_key[RTMP_SESSION_MAX_NAME];
    char publish_type[RTMP_SESSION_MAX_NAME];
    bool epoch_set;
    int64_t epoch;   /* ts64 of the first coded frame */
    int64_t max_out; /* highest dts_ms handed out */
    struct rtmp_session_track audio, video;
    /* counters, for metrics and tests */
    uint64_t ts_backward;      /* a coded frame's timestamp went back or repeated: clamped */
    uint64_t ts_jumps;         /* a jump over max_ts_jump_ms: rebased */
    uint64_t dropped;          /* media or data outside a publish, empty or malformed bodies */
    uint64_t commands_ignored; /* _checkbw and unknown commands */
};

/* conf may be NULL for the defaults. */
struct rtmp_session *rtmp_session_new(const struct rtmp_session_conf *conf);
void rtmp_session_free(struct rtmp_session **ps);

/*
 * Consumes p[0..len) until an event happens. Returns the bytes consumed
 * (> 0) with *ev set; ERR_AGAIN when all of len was consumed with no event
 * (replies may still have been queued: always check the output); ERR_PROTO
 * or ERR_LIMIT when the session is broken (sticky; send what output is
 * left, then close); ERR_INVAL when called while a publish decision is
 * pending.
 */
long rtmp_session_feed(struct rtmp_session *s, const uint8_t *p, size_t len,
                       struct rtmp_session_event *ev) WARN_UNUSED;

/* Bytes to send to the client (borrowed until the next call on s); NULL when none. */
const uint8_t *rtmp_session_output(const struct rtmp_session *s, size_t *len);
void rtmp_session_output_consume(struct rtmp_session *s, size_t n);

/*
 * Answer to a PUBLISH event. Accept queues Stream Begin and onStatus
 * NetStream.Publish.Start; reject queues onStatus with level "error" and
 * the given code (NULL: NetStream.Publish.BadName) and description; the
 * caller should then flush the output and close. 0, ERR_INVAL when no
 * decision is pending, ERR_LIMIT when the output is full.
 */
int rtmp_session_publish_accept(struct rtmp_session *s) WARN_UNUSED;
int rtmp_session_publish_reject(struct rtmp_session *s, const char *code,
                                const char *description) WARN_UNUSED;

/*
 * The peer closed. 0 when nothing was being published (or it ended with
 * FCUnpublish/deleteStream), ERR_CLOSED when a publish was cut off,
 * ERR_PROTO inside the handshake.
 */
int rtmp_session_eof(struct rtmp_session *s) WARN_UNUSED;

void rtmp_session_check(const struct rtmp_session *s);

#endif
