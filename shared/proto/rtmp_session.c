/*
 * rtmp_session.c -- the publish-side RTMP state machine.
 *
 * Owns its handshake, chunk reader and writer, an AMF0 tree for the
 * current command, and the output buffer (grown geometrically up to
 * conf.max_output). Every reply is written into the output buffer at once;
 * the caller drains it. Not here: I/O, key checks (the caller decides on
 * PUBLISH), the journal.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "rtmp_session.h"
#include "../err.h"
#include "../mem.h"
#include "../compat.h"

#define RTMP_SESSION_CSID_CONTROL 2
#define RTMP_SESSION_CSID_COMMAND 3
#define RTMP_SESSION_CSID_STREAM 5

static void
rtmp_session_defaults(struct rtmp_session_conf *c)
{
    if (c->window_ack_size == 0)
        c->window_ack_size = 2500000;
    if (c->peer_bandwidth == 0)
        c->peer_bandwidth = 2500000;
    if (c->out_chunk_size == 0 || c->out_chunk_size > RTMP_CHUNK_SIZE_MAX)
        c->out_chunk_size = 4096;
    if (c->max_output == 0)
        c->max_output = 1u << 20;
    if (c->max_ts_jump_ms == 0)
        c->max_ts_jump_ms = 10000;
    if (c->max_streams == 0)
        c->max_streams = 8;
}

struct rtmp_session *
rtmp_session_new(const struct rtmp_session_conf *conf)
{
    struct rtmp_session *s = xcalloc(1, sizeof(*s));
    struct rtmp_handshake_conf hc;

    s->magic = RTMP_SESSION_MAGIC;
    if (conf != NULL)
        s->conf = *conf;
    rtmp_session_defaults(&s->conf);
    hc.mode = s->conf.hs_mode;
    hc.time_ms = s->conf.time_ms;
    hc.seed = s->conf.seed;
    rtmp_handshake_init(&s->hs, &hc);
    rtmp_chunk_writer_init(&s->wr);
    amf0_doc_init(&s->doc, 0, 0);
    s->state = RTMP_SESSION_HANDSHAKE;
    return s;
}

void
rtmp_session_free(struct rtmp_session **ps)
{
    struct rtmp_session *s = *ps;

    if (s == NULL)
        return;
    CHECK_OBJ(s, RTMP_SESSION_MAGIC);
    if (s->rd.magic == RTMP_CHUNK_READER_MAGIC)
        rtmp_chunk_reader_fini(&s->rd);
    xfree(s->out);
    FREE_OBJ(s);
    *ps = NULL;
}

/* ---- output ---- */

static uint8_t *
rtmp_session_out_reserve(struct rtmp_session *s, size_t n)
{
    size_t used = s->out_len - s->out_off, cap;

    if (used + n > s->conf.max_output)
        return NULL;
    if (s->out_off > 0 && s->out_len + n > s->out_cap) {
        memmove(s->out, s->out + s->out_off, used);
        s->out_len = used;
        s->out_off = 0;
    }
    if (s->out_len + n > s->out_cap) {
        cap = s->out_cap < 8192 ? 8192 : s->out_cap * 2;
        while (cap < s->out_len + n)
            cap *= 2;
        if (cap > s->conf.max_output)
            cap = s->conf.max_output;
        s->out = xrealloc(s->out, cap);
        s->out_cap = cap;
    }
    return s->out + s->out_len;
}

static int
rtmp_session_out_bytes(struct rtmp_session *s, const uint8_t *p, size_t n)
{
    uint8_t *o = rtmp_session_out_reserve(s, n);

    if (o == NULL)
        return ERR_LIMIT;
    memcpy(o, p, n);
    s->out_len += n;
    return 0;
}

static int
rtmp_session_emit(struct rtmp_session *s, uint32_t csid, uint8_t type, uint32_t msid,
                  const uint8_t *payload, size_t len)
{
    size_t need = rtmp_chunk_write_size(&s->wr, csid, 0, len);
    uint8_t *o;
    long n;

    if (need == 0)
        return ERR_INVAL;
    o = rtmp_session_out_reserve(s, need);
    if (o == NULL)
        return ERR_LIMIT;
    n = rtmp_chunk_write(&s->wr, csid, type, msid, 0, payload, len, o, need);
    if (n < 0)
        return (int)n;
    s->out_len += (size_t)n;
    return 0;
}

/* Writes the AMF body built in o as a command message. */
static int
rtmp_session_emit_amf(struct rtmp_session *s, const struct amf0_out *o, uint32_t csid,
                      uint32_t msid)
{
    long len = amf0_out_finish(o);

    if (len < 0)
        return (int)len;
    return rtmp_session_emit(s, csid, RTMP_MSG_COMMAND_AMF0, msid, s->scratch, (size_t)len);
}

static int
rtmp_session_emit_control(struct rtmp_session *s, int which, uint32_t v)
{
    uint8_t tmp[64];
    long n;

    switch (which) {
    case RTMP_MSG_SET_PEER_BW:
        n = rtmp_chunk_write_set_peer_bw(&s->wr, v, 2, tmp, sizeof(tmp));
        break;
    case RTMP_MSG_SET_CHUNK_SIZE:
        n = rtmp_chunk_write_set_chunk_size(&s->wr, v, tmp, sizeof(tmp));
        break;
    case RTMP_MSG_USER_CONTROL:
        n = rtmp_chunk_write_user_control(&s->wr, RTMP_UC_STREAM_BEGIN, v, tmp, sizeof(tmp));
        break;
    default:
        n = rtmp_chunk_write_control32(&s->wr, (uint8_t)which, v, tmp, sizeof(tmp));
        break;
    }
    if (n < 0)
        return (int)n;
    return rtmp_session_out_bytes(s, tmp, (size_t)n);
}

const uint8_t *
rtmp_session_output(const struct rtmp_session *s, size_t *len)
{
    CHECK_OBJ_NOTNULL(s, RTMP_SESSION_MAGIC);
    *len = s->out_len - s->out_off;
    return *len > 0 ? s->out + s->out_off : NULL;
}

void
rtmp_session_output_consume(struct rtmp_session *s, size_t n)
{
    CHECK_OBJ_NOTNULL(s, RTMP_SESSION_MAGIC);
    assert(n <= s->out_len - s->out_off);
    s->out_off += n;
    if (s->out_off == s->out_len)
        s->out_off = s->out_len = 0;
}

/* ---- commands ---- */

static void
rtmp_session_copy_str(const struct amf0_doc *d, const struct amf0_node *n, char *dst, size_t dstsz)
{
    if (amf0_node_cstr(d, n, dst, dstsz) < 0)
        dst[0] = '\0';
}

static int
rtmp_session_on_connect(struct rtmp_session *s, double txn, struct rtmp_session_event *ev)
{
    const struct amf0_node *obj = amf0_doc_top(&s->doc, 2);
    struct amf0_out o;
    int rc;

    if (s->state != RTMP_SESSION_CONNECTING)
        return ERR_PROTO;
    /* SPEC: 7.2.1.1 -- the command object names the application. */
    if (obj == NULL || obj->type != AMF0_OBJECT)
        return ERR_PROTO;
    if (amf0_node_cstr(&s->doc, amf0_doc_get(&s->doc, obj, "app"), s->app, sizeof(s->app)) < 0)
        return ERR_PROTO;
    rtmp_session_copy_str(&s->doc, amf0_doc_get(&s->doc, obj, "tcUrl"), s->tc_url,
                          sizeof(s->tc_url));
    rtmp_session_copy_str(&s->doc, amf0_doc_get(&s->doc, obj, "flashVer"), s->flash_ver,
                          sizeof(s->flash_ver));
    /* What FMS, nginx-rtmp and SRS send, in this order; OBS and ffmpeg expect it. */
    rc = rtmp_session_emit_control(s, RTMP_MSG_WINDOW_ACK_SIZE, s->conf.window_ack_size);
    if (rc == 0)
        rc = rtmp_session_emit_control(s, RTMP_MSG_SET_PEER_BW, s->conf.peer_bandwidth);
    if (rc == 0)
        rc = rtmp_session_emit_control(s, RTMP_MSG_SET_CHUNK_SIZE, s->conf.out_chunk_size);
    if (rc != 0)
        return rc;
    amf0_out_init(&o, s->scratch, sizeof(s->scratch));
    amf0_put_connect_result(&o, txn, 0);
    rc = rtmp_session_emit_amf(s, &o, RTMP_SESSION_CSID_COMMAND, 0);
    if (rc == 0 && !s->conf.no_bw_done) {
        amf0_out_init(&o, s->scratch, sizeof(s->scratch));
        amf0_put_on_bw_done(&o);
        rc = rtmp_session_emit_amf(s, &o, RTMP_SESSION_CSID_COMMAND, 0);
    }
    if (rc != 0)
        return rc;
    s->state = RTMP_SESSION_CONNECTED;
    ev->type = RTMP_SEV_CONNECT;
    return 0;
}

static int
rtmp_session_simple_result(struct rtmp_session *s, double txn, bool has_value, double value)
{
    struct amf0_out o;

    amf0_out_init(&o, s->scratch, sizeof(s->scratch));
    amf0_put_result(&o, txn, has_value, value);
    return rtmp_session_emit_amf(s, &o, RTMP_SESSION_CSID_COMMAND, 0);
}

static int
rtmp_session_status(struct rtmp_session *s, const char *level, const char *code,
                    const char *description)
{
    struct amf0_out o;

    amf0_out_init(&o, s->scratch, sizeof(s->scratch));
    amf0_put_on_status(&o, level, code, description, s->stream_key);
    return rtmp_session_emit_amf(s, &o, RTMP_SESSION_CSID_STREAM, s->publish_msid);
}

static int
rtmp_session_on_publish(struct rtmp_session *s, const struct rtmp_msg *m,
                        struct rtmp_session_event *ev)
{
    const struct amf0_node *name = amf0_doc_top(&s->doc, 3);
    const struct amf0_node *type = amf0_doc_top(&s->doc, 4);

    if (s->state == RTMP_SESSION_PUBLISHING)
        return ERR_PROTO; /* one publish per connection */
    s->publish_msid = m->stream_id;
    if (amf0_node_cstr(&s->doc, name, s->stream_key, sizeof(s->stream_key)) <= 0) {
        s->stream_key[0] = '\0';
        return rtmp_session_status(s, "error", "NetStream.Publish.BadName",
                                   "A stream key is required.");
    }
    if (type == NULL ||
        amf0_node_cstr(&s->doc, type, s->publish_type, sizeof(s->publish_type)) <= 0)
        snprintf(s->publish_type, sizeof(s->publish_type), "live");
    s->state = RTMP_SESSION_PUBLISH_PENDING;
    ev->type = RTMP_SEV_PUBLISH;
    return 0;
}

static int
rtmp_session_unpublish(struct rtmp_session *s, struct rtmp_session_event *ev)
{
    if (s->state == RTMP_SESSION_PUBLISHING) {
        s->state = RTMP_SESSION_CONNECTED;
        ev->type = RTMP_SEV_UNPUBLISH;
    }
    return 0;
}

static int
rtmp_session_command(struct rtmp_session *s, const struct rtmp_msg *m, const uint8_t *p, size_t len,
                     struct rtmp_session_event *ev)
{
    const struct amf0_node *name;
    double txn = 0;
    long rc;

    rc = amf0_doc_parse(&s->doc, p, len);
    /* A command whose trailing arguments are damaged still has its name and txn. */
    if (rc < 0 && s->doc.ntop < 2)
        return (int)rc;
    name = amf0_doc_top(&s->doc, 0);
    if (name == NULL || (name->type != AMF0_STRING && name->type != AMF0_LONG_STRING))
        return ERR_PROTO;
    (void)amf0_node_num(amf0_doc_top(&s->doc, 1), &txn);
    if (amf0_node_str_eq(&s->doc, name, "connect"))
        return rtmp_session_on_connect(s, txn, ev);
    if (s->state == RTMP_SESSION_CONNECTING)
        return ERR_PROTO; /* SPEC: 7.2.1.1 -- connect comes first */
    if (amf0_node_str_eq(&s->doc, name, "releaseStream") ||
        amf0_node_str_eq(&s->doc, name, "FCPublish"))
        return rtmp_session_simple_result(s, txn, false, 0);
    if (amf0_node_str_eq(&s->doc, name, "createStream")) {
        if (s->streams_created >= s->conf.max_streams)
            return ERR_LIMIT;
        s->streams_created++;
        return rtmp_session_simple_result(s, txn, true, s->streams_created);
    }
    if (amf0_node_str_eq(&s->doc, name, "publish"))
        return rtmp_session_on_publish(s, m, ev);
    if (amf0_node_str_eq(&s->doc, name, "FCUnpublish")) {
        rc = rtmp_session_simple_result(s, txn, false, 0);
        if (rc != 0)
            return (int)rc;
        return rtmp_session_unpublish(s, ev);
    }
    if (amf0_node_str_eq(&s->doc, name, "deleteStream") ||
        amf0_node_str_eq(&s->doc, name, "closeStream"))
        return rtmp_session_unpublish(s, ev); /* SPEC: 7.2.2.3 -- no response */
    s->commands_ignored++;
    /* _checkbw (after our onBWDone) needs no answer; other calls get _error so no client waits. */
    if (txn != 0 && !amf0_node_str_eq(&s->doc, name, "_checkbw")) {
        struct amf0_out o;

        amf0_out_init(&o, s->scratch, sizeof(s->scratch));
        amf0_put_error(&o, txn, "NetConnection.Call.Failed", "Method not supported.");
        return rtmp_session_emit_amf(s, &o, RTMP_SESSION_CSID_COMMAND, 0);
    }
    return 0;
}

/* @setDataFrame("onMetaData", {...}) or a bare onMetaData: hand over the script body. */
static int
rtmp_session_data(struct rtmp_session *s, const uint8_t *p, size_t len,
                  struct rtmp_session_event *ev)
{
    const struct amf0_node *first, *second;

    if (s->state != RTMP_SESSION_PUBLISHING || amf0_doc_parse(&s->doc, p, len) < 0) {
        s->dropped++;
        return 0;
    }
    first = amf0_doc_top(&s->doc, 0);
    second = amf0_doc_top(&s->doc, 1);
    if (amf0_node_str_eq(&s->doc, first, "@setDataFrame") &&
        amf0_node_str_eq(&s->doc, second, "onMetaData")) {
        /* the string's marker and length sit 3 bytes before its text */
        ev->data = p + second->str_off - 3;
        ev->len = (uint32_t)(len - (second->str_off - 3));
    } else if (amf0_node_str_eq(&s->doc, first, "onMetaData")) {
        ev->data = p;
        ev->len = (uint32_t)len;
    } else {
        s->dropped++;
        return 0;
    }
    ev->type = RTMP_SEV_METADATA;
    ev->dts_ms = s->max_out;
    return 0;
}

/* ---- media timestamps ---- */

static int64_t
rtmp_session_abs(int64_t v)
{
    return v < 0 ? -v : v;
}

/*
 * Maps a coded frame's wire timeline onto the session's: starts at 0 with
 * the first coded frame of either track (so A/V keep their offset), then
 * follows the wire per track, rebasing on a jump over max_ts_jump_ms and
 * keeping each track strictly increasing.
 */
static int64_t
rtmp_session_map_ts(struct rtmp_session *s, struct rtmp_session_track *t, int64_t in)
{
    int64_t jump = s->conf.max_ts_jump_ms, out;

    if (!s->epoch_set) {
        s->epoch_set = true;
        s->epoch = in;
    }
    if (!t->started) {
        t->started = true;
        t->offset = -s->epoch;
        t->last_delta = 1;
        out = in + t->offset;
        /* The second track starting far from the first: join it where the session is. */
        if (rtmp_session_abs(out - s->max_out) > jump) {
            s->ts_jumps++;
            t->offset = s->max_out - in;
            out = s->max_out;
        }
        if (out < 0) {
            s->ts_backward++;
            out = 0;
        }
    } else {
        if (rtmp_session_abs(in - t->last_in) > jump) {
            s->ts_jumps++;
            t->offset = t->last_out + t->last_delta - in;
        }
        out = in + t->offset;
        if (out <= t->last_out) {
            s->ts_backward++;
            out = t->last_out + 1;
        } else {
            t->last_delta = out - t->last_out;
        }
    }
    t->last_in = in;
    t->last_out = out;
    if (out > s->max_out)
        s->max_out = out;
    return out;
}

static int
rtmp_session_media(struct rtmp_session *s, const struct rtmp_msg *m, struct rtmp_session_event *ev)
{
    struct rtmp_session_track *t = m->type == RTMP_MSG_AUDIO ? &s->audio : &s->video;
    bool config;

    if (s->state != RTMP_SESSION_PUBLISHING || m->len == 0) {
        s->dropped++;
        return 0;
    }
    if (m->type == RTMP_MSG_AUDIO) {
        if (flv_audio_parse(m->payload, m->len, &ev->audio) != 0) {
            s->dropped++;
            return 0;
        }
        config = ev->audio.seq_header;
        ev->type = RTMP_SEV_AUDIO;
    } else {
        if (flv_video_parse(m->payload, m->len, &ev->video) != 0) {
            s->dropped++;
            return 0;
        }
        /* Sequence headers, sequence ends, command frames: no media time of their own. */
        config = ev->video.seq_header || ev->video.frame_type == FLV_FRAME_COMMAND ||
                 (!ev->video.enhanced && ev->video.packet_type == 2 &&
                  ev->video.codec_id == FLV_CODEC_AVC) ||
                 (ev->video.enhanced && ev->video.packet_type == FLV_EX_SEQUENCE_END);
        ev->type = RTMP_SEV_VIDEO;
    }
    ev->data = m->payload;
    ev->len = m->len;
    ev->ts_wire = m->timestamp;
    ev->ts64 = m->timestamp64;
    if (config)
        ev->dts_ms = t->started ? t->last_out : s->max_out;
    else
        ev->dts_ms = rtmp_session_map_ts(s, t, m->timestamp64);
    return 0;
}

static int
rtmp_session_message(struct rtmp_session *s, const struct rtmp_msg *m,
                     struct rtmp_session_event *ev)
{
    struct rtmp_control ctl;

    switch (m->type) {
    case RTMP_MSG_COMMAND_AMF0:
        return rtmp_session_command(s, m, m->payload, m->len, ev);
    case RTMP_MSG_COMMAND_AMF3:
        /* An AMF3 command that starts with a 0 byte is AMF0 inside (what Flash sends). */
        if (m->len < 1 || m->payload[0] != 0)
            return ERR_PROTO;
        return rtmp_session_command(s, m, m->payload + 1, m->len - 1, ev);
    case RTMP_MSG_DATA_AMF0:
        return rtmp_session_data(s, m->payload, m->len, ev);
    case RTMP_MSG_DATA_AMF3:
        if (m->len < 1 || m->payload[0] != 0) {
            s->dropped++;
            return 0;
        }
        return rtmp_session_data(s, m->payload + 1, m->len - 1, ev);
    case RTMP_MSG_AUDIO:
    case RTMP_MSG_VIDEO:
        return rtmp_session_media(s, m, ev);
    case RTMP_MSG_USER_CONTROL:
        /* SPEC: 7.1.7 -- answer a ping with the same timestamp. */
        if (rtmp_control_parse(m, &ctl) == 0 && ctl.event == RTMP_UC_PING_REQUEST) {
            uint8_t tmp[32];
            long n = rtmp_chunk_write_user_control(&s->wr, RTMP_UC_PING_RESPONSE, ctl.event_data,
                                                   tmp, sizeof(tmp));
            if (n < 0)
                return (int)n;
            return rtmp_session_out_bytes(s, tmp, (size_t)n);
        }
        return 0;
    default:
        /* Chunk-level control is applied by the reader; the rest (shared objects, aggregate) is not
         * ours. */
        if (m->type > RTMP_MSG_SET_PEER_BW)
            s->dropped++;
        return 0;
    }
}

/* ---- feeding ---- */

static long
rtmp_session_fail(struct rtmp_session *s, int rc)
{
    s->state = RTMP_SESSION_FAILED;
    s->error = rc;
    return rc;
}

/*
 * Acknowledgements go out at message boundaries, so what we send does not
 * depend on how the input was cut (a message larger than the window is
 * acknowledged when it completes).
 */
static int
rtmp_session_ack(struct rtmp_session *s)
{
    if (!rtmp_chunk_ack_due(&s->rd))
        return 0;
    return rtmp_session_emit_control(s, RTMP_MSG_ACK, rtmp_chunk_ack_take(&s->rd));
}

static long
rtmp_session_feed_handshake(struct rtmp_session *s, const uint8_t *p, size_t len)
{
    const uint8_t *ans;
    size_t alen;
    long n;
    int rc;

    n = rtmp_handshake_parse(&s->hs, p, len);
    if (n < 0)
        return n;
    ans = rtmp_handshake_output(&s->hs, &alen);
    if (ans != NULL) {
        rc = rtmp_session_out_bytes(s, ans, alen);
        if (rc != 0)
            return rc;
        rtmp_handshake_output_taken(&s->hs);
    }
    if (rtmp_handshake_done(&s->hs)) {
        rtmp_chunk_reader_init(&s->rd, &s->conf.lim);
        /* Acknowledgements count every byte received, the handshake's too. */
        s->rd.bytes_in = 1 + 2 * RTMP_HANDSHAKE_SIZE;
        s->rd.ack_last = s->rd.bytes_in;
        s->state = RTMP_SESSION_CONNECTING;
    }
    return n;
}

long
rtmp_session_feed(struct rtmp_session *s, const uint8_t *p, size_t len,
                  struct rtmp_session_event *ev)
{
    size_t off = 0;
    long n;
    int rc;

    CHECK_OBJ_NOTNULL(s, RTMP_SESSION_MAGIC);
    memset(ev, 0, sizeof(*ev));
    if (s->state == RTMP_SESSION_FAILED)
        return s->error;
    if (s->state == RTMP_SESSION_PUBLISH_PENDING)
        return ERR_INVAL;
    while (off < len) {
        struct rtmp_msg m;

        if (s->state == RTMP_SESSION_HANDSHAKE) {
            n = rtmp_session_feed_handshake(s, p + off, len - off);
            if (n == ERR_AGAIN)
                return ERR_AGAIN;
            if (n < 0)
                return rtmp_session_fail(s, (int)n);
            off += (size_t)n;
            continue;
        }
        n = rtmp_chunk_parse(&s->rd, p + off, len - off, &m);
        if (n == ERR_AGAIN)
            break;
        if (n < 0)
            return rtmp_session_fail(s, (int)n);
        off += (size_t)n;
        rc = rtmp_session_message(s, &m, ev);
        if (rc == 0)
            rc = rtmp_session_ack(s);
        if (rc != 0)
            return rtmp_session_fail(s, rc);
        if (ev->type != RTMP_SEV_NONE) {
            ev->app = s->app;
            ev->stream_key = s->stream_key;
            return (long)off;
        }
    }
    return ERR_AGAIN;
}

int
rtmp_session_publish_accept(struct rtmp_session *s)
{
    int rc;

    CHECK_OBJ_NOTNULL(s, RTMP_SESSION_MAGIC);
    if (s->state != RTMP_SESSION_PUBLISH_PENDING)
        return ERR_INVAL;
    /* SPEC: 7.2.2.6 -- Stream Begin, then onStatus NetStream.Publish.Start. */
    rc = rtmp_session_emit_control(s, RTMP_MSG_USER_CONTROL, s->publish_msid);
    if (rc == 0)
        rc = rtmp_session_status(s, "status", "NetStream.Publish.Start", "Start publishing");
    if (rc != 0)
        return (int)rtmp_session_fail(s, rc);
    s->state = RTMP_SESSION_PUBLISHING;
    return 0;
}

int
rtmp_session_publish_reject(struct rtmp_session *s, const char *code, const char *description)
{
    int rc;

    CHECK_OBJ_NOTNULL(s, RTMP_SESSION_MAGIC);
    if (s->state != RTMP_SESSION_PUBLISH_PENDING)
        return ERR_INVAL;
    rc = rtmp_session_status(s, "error", code != NULL ? code : "NetStream.Publish.BadName",
                             description != NULL ? description : "Publishing refused.");
    if (rc != 0)
        return (int)rtmp_session_fail(s, rc);
    s->state = RTMP_SESSION_CONNECTED;
    return 0;
}

int
rtmp_session_eof(struct rtmp_session *s)
{
    CHECK_OBJ_NOTNULL(s, RTMP_SESSION_MAGIC);
    switch (s->state) {
    case RTMP_SESSION_HANDSHAKE:
        return rtmp_handshake_eof(&s->hs); /* always ERR_PROTO here: marks it truncated */
    case RTMP_SESSION_PUBLISHING:
        return ERR_CLOSED;
    case RTMP_SESSION_FAILED:
        return s->error;
    default:
        return 0;
    }
}

void
rtmp_session_check(const struct rtmp_session *s)
{
    CHECK_OBJ_NOTNULL(s, RTMP_SESSION_MAGIC);
    assert(s->out_off <= s->out_len && s->out_len <= s->out_cap);
    assert(s->out_cap <= s->conf.max_output);
    assert((s->out == NULL) == (s->out_cap == 0));
    assert(s->streams_created <= s->conf.max_streams);
    assert(memchr(s->app, 0, sizeof(s->app)) != NULL);
    assert(memchr(s->stream_key, 0, sizeof(s->stream_key)) != NULL);
    rtmp_handshake_check(&s->hs);
    amf0_doc_check(&s->doc);
    if (s->state != RTMP_SESSION_HANDSHAKE && s->state != RTMP_SESSION_FAILED)
        assert(rtmp_handshake_done(&s->hs) && s->rd.magic == RTMP_CHUNK_READER_MAGIC);
    if (s->rd.magic == RTMP_CHUNK_READER_MAGIC)
        rtmp_chunk_reader_check(&s->rd);
    if (s->state == RTMP_SESSION_PUBLISH_PENDING || s->state == RTMP_SESSION_PUBLISHING)
        assert(s->stream_key[0] != '\0');
    /* Per track: started tracks never go below 0 nor past the session's maximum. */
    assert(!s->audio.started || (s->audio.last_out >= 0 && s->audio.last_out <= s->max_out));
    assert(!s->video.started || (s->video.last_out >= 0 && s->video.last_out <= s->max_out));
    assert(s->epoch_set || (!s->audio.started && !s->video.started));
}
