/*
 * rtmp_chunk.c -- RTMP chunk stream reader and writer.
 *
 * The reader owns one array of chunk-stream states (lim.max_streams
 * entries, allocated at init) and one reassembly buffer per chunk stream,
 * grown geometrically with the bytes that actually arrive. A chunk header
 * is collected whole into r->hdr, validated, and only then committed, so a
 * bad header changes nothing. Not here: message semantics above the
 * protocol control messages (rtmp_session.c), AMF (amf0.c).
 */
#include <stdint.h>
#include <string.h>

#include "rtmp_chunk.h"
#include "../err.h"
#include "../mem.h"
#include "../compat.h"

const struct rtmp_chunk_limits rtmp_chunk_default_limits = {
    .max_msg_size = 8u << 20,
    .max_chunk_size = 16u << 20,
    .max_streams = 32,
    .max_buffered = 32u << 20,
    .strict_ext_ts = false,
};

#define RTMP_CHUNK_BUF_MIN 4096

static uint32_t
rtmp_chunk_be24(const uint8_t *p)
{
    return (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
}

static uint32_t
rtmp_chunk_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint32_t
rtmp_chunk_le32(const uint8_t *p)
{
    return (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

static void
rtmp_chunk_put24(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 16);
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)v;
}

static void
rtmp_chunk_put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

void
rtmp_chunk_reader_init(struct rtmp_chunk_reader *r, const struct rtmp_chunk_limits *lim)
{
    const struct rtmp_chunk_limits *d = &rtmp_chunk_default_limits;

    memset(r, 0, sizeof(*r));
    r->magic = RTMP_CHUNK_READER_MAGIC;
    r->lim = *d;
    if (lim != NULL) {
        if (lim->max_msg_size != 0)
            r->lim.max_msg_size = lim->max_msg_size;
        if (lim->max_chunk_size != 0)
            r->lim.max_chunk_size = lim->max_chunk_size;
        if (lim->max_streams != 0)
            r->lim.max_streams = lim->max_streams;
        if (lim->max_buffered != 0)
            r->lim.max_buffered = lim->max_buffered;
        r->lim.strict_ext_ts = lim->strict_ext_ts;
    }
    if (r->lim.max_msg_size > RTMP_MSG_LEN_MAX)
        r->lim.max_msg_size = RTMP_MSG_LEN_MAX;
    if (r->lim.max_chunk_size > RTMP_CHUNK_SIZE_MAX)
        r->lim.max_chunk_size = RTMP_CHUNK_SIZE_MAX;
    if (r->lim.max_chunk_size < RTMP_CHUNK_DEFAULT_SIZE)
        r->lim.max_chunk_size = RTMP_CHUNK_DEFAULT_SIZE;
    if (r->lim.max_streams > RTMP_CHUNK_MAX_STREAMS)
        r->lim.max_streams = RTMP_CHUNK_MAX_STREAMS;
    r->streams = xcalloc(r->lim.max_streams, sizeof(*r->streams));
    r->chunk_size = RTMP_CHUNK_DEFAULT_SIZE;
    r->state = RTMP_CHUNK_S_HEADER;
    r->hdr_need = 1;
}

void
rtmp_chunk_reader_fini(struct rtmp_chunk_reader *r)
{
    uint32_t i;

    CHECK_OBJ_NOTNULL(r, RTMP_CHUNK_READER_MAGIC);
    for (i = 0; i < r->nstreams; i++)
        xfree(r->streams[i].buf);
    xfree(r->streams);
    r->streams = NULL;
    r->magic = 0;
}

static struct rtmp_chunk_stream *
rtmp_chunk_find(struct rtmp_chunk_reader *r, uint32_t csid)
{
    uint32_t i;

    for (i = 0; i < r->nstreams; i++)
        if (r->streams[i].csid == csid)
            return &r->streams[i];
    return NULL;
}

/* Makes room for need payload bytes in cs's buffer; ERR_LIMIT past the caps. */
static int
rtmp_chunk_reserve(struct rtmp_chunk_reader *r, struct rtmp_chunk_stream *cs, uint32_t need)
{
    uint64_t newcap;

    if (need <= cs->cap)
        return 0;
    assert(need <= cs->len);
    newcap = (uint64_t)cs->cap * 2;
    if (newcap < RTMP_CHUNK_BUF_MIN)
        newcap = RTMP_CHUNK_BUF_MIN;
    if (newcap > cs->len)
        newcap = cs->len;
    if (newcap < need)
        newcap = need;
    if (r->buffered - cs->cap + newcap > r->lim.max_buffered)
        return ERR_LIMIT;
    cs->buf = xrealloc(cs->buf, (size_t)newcap);
    r->buffered = r->buffered - cs->cap + newcap;
    cs->cap = (uint32_t)newcap;
    return 0;
}

int
rtmp_control_parse(const struct rtmp_msg *m, struct rtmp_control *c)
{
    const uint8_t *p = m->payload;

    memset(c, 0, sizeof(*c));
    c->type = m->type;
    switch (m->type) {
    case RTMP_MSG_SET_CHUNK_SIZE:
        if (m->len < 4)
            return ERR_PROTO;
        c->value = rtmp_chunk_be32(p);
        /* SPEC: 5.4.1 -- bit 31 must be zero; a size of 0 cannot make progress. */
        if (c->value == 0 || c->value > RTMP_CHUNK_SIZE_MAX)
            return ERR_PROTO;
        return 0;
    case RTMP_MSG_ABORT:
    case RTMP_MSG_ACK:
    case RTMP_MSG_WINDOW_ACK_SIZE:
        if (m->len < 4)
            return ERR_PROTO;
        c->value = rtmp_chunk_be32(p);
        return 0;
    case RTMP_MSG_SET_PEER_BW:
        if (m->len < 5)
            return ERR_PROTO;
        c->value = rtmp_chunk_be32(p);
        c->limit_type = p[4];
        if (c->limit_type > 2)
            return ERR_PROTO;
        return 0;
    case RTMP_MSG_USER_CONTROL:
        /* SPEC: 6.2 -- event type, then event data (4 bytes, 8 for SetBufferLength). */
        if (m->len < 2)
            return ERR_PROTO;
        c->event = (uint16_t)(p[0] << 8 | p[1]);
        if (m->len >= 6)
            c->event_data = rtmp_chunk_be32(p + 2);
        if (c->event == RTMP_UC_SET_BUFFER_LENGTH) {
            if (m->len < 10)
                return ERR_PROTO;
            c->event_data2 = rtmp_chunk_be32(p + 6);
        } else if (c->event <= RTMP_UC_PING_RESPONSE && m->len < 6) {
            return ERR_PROTO;
        }
        return 0;
    default:
        return ERR_INVAL;
    }
}

/*
 * A message is complete on cs, its payload in cs->buf[0..len). Validates
 * the control messages the reader applies; nothing changes on error.
 */
static int
rtmp_chunk_validate(const struct rtmp_chunk_reader *r, const struct rtmp_chunk_stream *cs,
                    struct rtmp_msg *msg, struct rtmp_control *ctl)
{
    static const uint8_t empty[1];
    int rc;

    msg->csid = cs->csid;
    msg->type = cs->type;
    msg->stream_id = cs->stream_id;
    msg->timestamp = cs->ts;
    msg->timestamp64 = cs->ts64;
    msg->len = cs->len;
    msg->payload = cs->len > 0 ? cs->buf : empty;
    switch (cs->type) {
    case RTMP_MSG_SET_CHUNK_SIZE:
    case RTMP_MSG_ABORT:
    case RTMP_MSG_ACK:
    case RTMP_MSG_WINDOW_ACK_SIZE:
    case RTMP_MSG_SET_PEER_BW:
    case RTMP_MSG_USER_CONTROL:
        rc = rtmp_control_parse(msg, ctl);
        if (rc != 0)
            return rc;
        if (cs->type == RTMP_MSG_SET_CHUNK_SIZE && ctl->value > r->lim.max_chunk_size)
            return ERR_LIMIT;
        return 0;
    default:
        ctl->type = 0;
        return 0;
    }
}

/* Applies what the reader itself acts on. */
static void
rtmp_chunk_apply(struct rtmp_chunk_reader *r, const struct rtmp_control *ctl)
{
    struct rtmp_chunk_stream *other;

    switch (ctl->type) {
    case RTMP_MSG_SET_CHUNK_SIZE:
        r->chunk_size = ctl->value;
        break;
    case RTMP_MSG_ABORT:
        /* SPEC: 5.4.2 -- discard the partly received message on that chunk stream. */
        other = rtmp_chunk_find(r, ctl->value);
        if (other != NULL && other->in_msg) {
            other->in_msg = false;
            other->got = 0;
        }
        break;
    case RTMP_MSG_WINDOW_ACK_SIZE:
        r->ack_window = ctl->value;
        break;
    case RTMP_MSG_ACK:
        r->peer_acked = ctl->value;
        break;
    default:
        break;
    }
}

/*
 * The header in r->hdr[0..hdr_got) may be complete. Returns 1 when more
 * header bytes are needed (hdr_need raised), 0 when the header was
 * committed (*complete tells whether it finished a message), or an error.
 */
static int
rtmp_chunk_header(struct rtmp_chunk_reader *r, struct rtmp_msg *msg, bool *complete)
{
    const uint8_t *h = r->hdr;
    static const uint32_t mlen_of[4] = {11, 7, 3, 0};
    uint32_t fmt = h[0] >> 6, blen, mlen, csid, need, field = 0, chunk, prefix = 0;
    struct rtmp_chunk_stream *cs, n;
    struct rtmp_control ctl;
    bool ext;
    int rc;

    *complete = false;
    blen = (h[0] & 0x3f) == 0 ? 2 : (h[0] & 0x3f) == 1 ? 3 : 1;
    mlen = mlen_of[fmt];
    need = blen + mlen;
    if (r->hdr_got < need) {
        r->hdr_need = need;
        return 1;
    }
    /* SPEC: 5.3.1.1 -- the 2- and 3-byte forms carry csid - 64. */
    if (blen == 1)
        csid = h[0] & 0x3f;
    else if (blen == 2)
        csid = 64 + (uint32_t)h[1];
    else
        csid = 64 + (uint32_t)h[1] + ((uint32_t)h[2] << 8);
    cs = rtmp_chunk_find(r, csid);
    /* SPEC: 5.3.1.2.1 -- a chunk stream starts with a type-0 header. */
    if (cs == NULL && fmt != 0)
        return ERR_PROTO;
    if (fmt < 3)
        ext = rtmp_chunk_be24(h + blen) == RTMP_TS_EXTENDED;
    else
        ext = cs->ext;
    if (ext)
        need += 4;
    if (r->hdr_got < need) {
        r->hdr_need = need;
        return 1;
    }
    if (cs == NULL) {
        if (r->nstreams >= r->lim.max_streams)
            return ERR_LIMIT;
        memset(&n, 0, sizeof(n));
        n.csid = csid;
    } else {
        n = *cs;
    }
    if (fmt < 3) {
        const uint8_t *m = h + blen;

        /* A new header while a message is still incomplete: the peer lost track. */
        if (n.in_msg)
            return ERR_PROTO;
        field = ext ? rtmp_chunk_be32(m + mlen) : rtmp_chunk_be24(m);
        if (fmt <= 1) {
            n.len = rtmp_chunk_be24(m + 3);
            if (n.len > r->lim.max_msg_size)
                return ERR_LIMIT;
            n.type = m[6];
        }
        if (fmt == 0) {
            /* SPEC: 5.3.1.2.1 -- absolute; the message stream id is little-endian. */
            n.stream_id = rtmp_chunk_le32(m + 7);
            n.ts64 = cs == NULL ? (int64_t)field : n.ts64 + (int32_t)(field - n.ts);
            n.ts = field;
        } else {
            n.ts += field;
            n.ts64 += (int32_t)field;
        }
        n.ts_field = field;
        n.ext = ext;
        n.ext_val = ext ? field : 0;
        n.in_msg = true;
        n.got = 0;
    } else if (n.in_msg) {
        /*
         * SPEC: 5.3.1.3 -- a continuation chunk repeats the extended
         * timestamp. Some encoders leave it out: when the four bytes are
         * not that value and the chunk holds at least four bytes, they are
         * payload (counted in ext_ts_missing).
         */
        if (ext && rtmp_chunk_be32(h + blen) != n.ext_val && !r->lim.strict_ext_ts) {
            uint32_t left = n.len - n.got;
            if ((left < r->chunk_size ? left : r->chunk_size) >= 4)
                prefix = 4;
        }
    } else {
        /* SPEC: 5.3.1.2.4 -- a type-3 new message reuses the previous delta. */
        field = ext ? rtmp_chunk_be32(h + blen) : n.ts_field;
        n.ts += field;
        n.ts64 += (int32_t)field;
        n.ts_field = field;
        if (ext)
            n.ext_val = field;
        n.in_msg = true;
        n.got = 0;
    }
    chunk = n.len - n.got;
    if (chunk > r->chunk_size)
        chunk = r->chunk_size;
    if (prefix > 0) {
        rc = rtmp_chunk_reserve(r, cs, n.got + prefix);
        if (rc != 0)
            return rc;
        n.buf = cs->buf;
        n.cap = cs->cap;
        memcpy(n.buf + n.got, h + blen, prefix);
        n.got += prefix;
        chunk -= prefix;
    }
    if (n.got == n.len) {
        rc = rtmp_chunk_validate(r, &n, msg, &ctl);
        if (rc != 0)
            return rc;
        n.in_msg = false;
        *complete = true;
    }
    /* Everything checked: commit. */
    if (cs == NULL) {
        cs = &r->streams[r->nstreams++];
    }
    *cs = n;
    if (prefix > 0)
        r->ext_ts_missing++;
    r->bytes_in += r->hdr_got;
    r->hdr_got = 0;
    r->hdr_need = 1;
    r->cur = cs;
    r->chunk_left = chunk;
    if (*complete) {
        msg->payload = cs->len > 0 ? cs->buf : msg->payload;
        rtmp_chunk_apply(r, &ctl);
    }
    r->state = r->chunk_left > 0 ? RTMP_CHUNK_S_PAYLOAD : RTMP_CHUNK_S_HEADER;
    return 0;
}

/* Copies up to len payload bytes of the current chunk; *complete when the message ended. */
static long
rtmp_chunk_payload(struct rtmp_chunk_reader *r, const uint8_t *p, size_t len, struct rtmp_msg *msg,
                   bool *complete)
{
    struct rtmp_chunk_stream *cs = r->cur;
    struct rtmp_control ctl;
    uint32_t n = r->chunk_left;
    int rc;

    *complete = false;
    if (n > len)
        n = (uint32_t)len;
    rc = rtmp_chunk_reserve(r, cs, cs->got + n);
    if (rc != 0)
        return rc;
    memcpy(cs->buf + cs->got, p, n);
    if (cs->got + n == cs->len) {
        struct rtmp_chunk_stream done = *cs;

        done.got = cs->len;
        rc = rtmp_chunk_validate(r, &done, msg, &ctl);
        if (rc != 0)
            return rc;
        *complete = true;
    }
    cs->got += n;
    r->chunk_left -= n;
    r->bytes_in += n;
    if (*complete) {
        cs->in_msg = false;
        rtmp_chunk_apply(r, &ctl);
    }
    if (r->chunk_left == 0)
        r->state = RTMP_CHUNK_S_HEADER;
    return n;
}

static long
rtmp_chunk_fail(struct rtmp_chunk_reader *r, int rc)
{
    r->state = RTMP_CHUNK_S_FAILED;
    r->error = rc;
    r->error_at = r->bytes_in;
    return rc;
}

long
rtmp_chunk_parse(struct rtmp_chunk_reader *r, const uint8_t *p, size_t len, struct rtmp_msg *msg)
{
    size_t off = 0;
    bool complete;
    long n;
    int rc;

    CHECK_OBJ_NOTNULL(r, RTMP_CHUNK_READER_MAGIC);
    DASSERT((rtmp_chunk_reader_check(r), 1));
    if (r->state == RTMP_CHUNK_S_FAILED)
        return r->error;
    while (off < len) {
        if (r->state == RTMP_CHUNK_S_PAYLOAD) {
            n = rtmp_chunk_payload(r, p + off, len - off, msg, &complete);
            if (n < 0)
                return rtmp_chunk_fail(r, (int)n);
            off += (size_t)n;
            if (complete)
                return (long)off;
            continue;
        }
        while (r->hdr_got < r->hdr_need && off < len)
            r->hdr[r->hdr_got++] = p[off++];
        if (r->hdr_got < r->hdr_need)
            break;
        rc = rtmp_chunk_header(r, msg, &complete);
        if (rc < 0) {
            /* The header bytes taken in this call go back: the cursor is unmoved. */
            return rtmp_chunk_fail(r, rc);
        }
        if (rc == 0 && complete)
            return (long)off;
    }
    return ERR_AGAIN;
}

bool
rtmp_chunk_ack_due(const struct rtmp_chunk_reader *r)
{
    return r->ack_window > 0 && r->bytes_in - r->ack_last >= r->ack_window;
}

uint32_t
rtmp_chunk_ack_take(struct rtmp_chunk_reader *r)
{
    r->ack_last = r->bytes_in;
    return (uint32_t)r->bytes_in;
}

void
rtmp_chunk_reader_check(const struct rtmp_chunk_reader *r)
{
    uint64_t sum = 0;
    uint32_t i, j;

    CHECK_OBJ_NOTNULL(r, RTMP_CHUNK_READER_MAGIC);
    AN(r->streams);
    assert(r->nstreams <= r->lim.max_streams);
    assert(r->lim.max_streams <= RTMP_CHUNK_MAX_STREAMS);
    assert(r->lim.max_msg_size <= RTMP_MSG_LEN_MAX);
    assert(r->chunk_size >= 1 && r->chunk_size <= r->lim.max_chunk_size);
    assert(r->hdr_need >= 1 && r->hdr_need <= RTMP_CHUNK_MAX_HEADER);
    assert(r->hdr_got <= r->hdr_need);
    for (i = 0; i < r->nstreams; i++) {
        const struct rtmp_chunk_stream *cs = &r->streams[i];

        assert(cs->csid >= RTMP_CSID_MIN && cs->csid <= RTMP_CSID_MAX);
        for (j = 0; j < i; j++)
            assert(r->streams[j].csid != cs->csid);
        assert(cs->len <= r->lim.max_msg_size);
        assert((cs->buf == NULL) == (cs->cap == 0));
        assert(cs->cap <= r->lim.max_msg_size);
        if (cs->in_msg) {
            assert(cs->got < cs->len);
            assert(cs->got <= cs->cap);
        } else {
            assert(cs->got == 0 || cs->got == cs->len);
        }
        assert(!cs->ext || cs->ext_val == cs->ts_field);
        sum += cs->cap;
    }
    assert(sum == r->buffered);
    assert(r->buffered <= r->lim.max_buffered);
    assert(r->ack_last <= r->bytes_in);
    switch (r->state) {
    case RTMP_CHUNK_S_HEADER:
        assert(r->hdr_got < r->hdr_need);
        assert(r->chunk_left == 0);
        break;
    case RTMP_CHUNK_S_PAYLOAD:
        AN(r->cur);
        assert(r->cur >= r->streams && r->cur < r->streams + r->nstreams);
        assert(r->cur->in_msg);
        assert(r->chunk_left > 0 && r->chunk_left <= r->chunk_size);
        assert(r->chunk_left <= r->cur->len - r->cur->got);
        assert(r->hdr_got == 0);
        break;
    case RTMP_CHUNK_S_FAILED:
        assert(r->error < 0);
        break;
    default:
        assert(0);
    }
}

/* ---- writer ---- */

void
rtmp_chunk_writer_init(struct rtmp_chunk_writer *w)
{
    w->magic = RTMP_CHUNK_WRITER_MAGIC;
    w->chunk_size = RTMP_CHUNK_DEFAULT_SIZE;
}

static uint32_t
rtmp_chunk_basic_len(uint32_t csid)
{
    return csid < 64 ? 1 : csid < 320 ? 2 : 3;
}

size_t
rtmp_chunk_write_size(const struct rtmp_chunk_writer *w, uint32_t csid, uint32_t ts, size_t len)
{
    size_t bh, ext, chunks;

    CHECK_OBJ_NOTNULL(w, RTMP_CHUNK_WRITER_MAGIC);
    if (csid < RTMP_CSID_MIN || csid > RTMP_CSID_MAX || len > RTMP_MSG_LEN_MAX)
        return 0;
    bh = rtmp_chunk_basic_len(csid);
    ext = ts >= RTMP_TS_EXTENDED ? 4 : 0;
    chunks = len == 0 ? 1 : (len + w->chunk_size - 1) / w->chunk_size;
    return bh + 11 + ext + len + (chunks - 1) * (bh + ext);
}

static uint8_t *
rtmp_chunk_put_basic(uint8_t *o, uint32_t fmt, uint32_t csid)
{
    if (csid < 64) {
        *o++ = (uint8_t)(fmt << 6 | csid);
    } else if (csid < 320) {
        *o++ = (uint8_t)(fmt << 6);
        *o++ = (uint8_t)(csid - 64);
    } else {
        *o++ = (uint8_t)(fmt << 6 | 1);
        *o++ = (uint8_t)((csid - 64) & 0xff);
        *o++ = (uint8_t)((csid - 64) >> 8);
    }
    return o;
}

long
rtmp_chunk_write(const struct rtmp_chunk_writer *w, uint32_t csid, uint8_t type, uint32_t stream_id,
                 uint32_t ts, const uint8_t *payload, size_t len, uint8_t *out, size_t cap)
{
    size_t need = rtmp_chunk_write_size(w, csid, ts, len), off = 0, n;
    bool ext = ts >= RTMP_TS_EXTENDED;
    uint8_t *o = out;

    if (need == 0)
        return ERR_INVAL;
    if (need > cap)
        return ERR_LIMIT;
    o = rtmp_chunk_put_basic(o, 0, csid);
    rtmp_chunk_put24(o, ext ? RTMP_TS_EXTENDED : ts);
    rtmp_chunk_put24(o + 3, (uint32_t)len);
    o[6] = type;
    o[7] = (uint8_t)stream_id;
    o[8] = (uint8_t)(stream_id >> 8);
    o[9] = (uint8_t)(stream_id >> 16);
    o[10] = (uint8_t)(stream_id >> 24);
    o += 11;
    if (ext) {
        rtmp_chunk_put32(o, ts);
        o += 4;
    }
    for (;;) {
        n = len - off;
        if (n > w->chunk_size)
            n = w->chunk_size;
        if (n > 0)
            memcpy(o, payload + off, n);
        o += n;
        off += n;
        if (off >= len)
            break;
        o = rtmp_chunk_put_basic(o, 3, csid);
        if (ext) {
            rtmp_chunk_put32(o, ts);
            o += 4;
        }
    }
    assert((size_t)(o - out) == need);
    return (long)need;
}

long
rtmp_chunk_write_set_chunk_size(struct rtmp_chunk_writer *w, uint32_t size, uint8_t *out,
                                size_t cap)
{
    uint8_t b[4];
    long n;

    if (size == 0 || size > RTMP_CHUNK_SIZE_MAX)
        return ERR_INVAL;
    rtmp_chunk_put32(b, size);
    n = rtmp_chunk_write(w, 2, RTMP_MSG_SET_CHUNK_SIZE, 0, 0, b, 4, out, cap);
    if (n > 0)
        w->chunk_size = size;
    return n;
}

long
rtmp_chunk_write_control32(const struct rtmp_chunk_writer *w, uint8_t type, uint32_t value,
                           uint8_t *out, size_t cap)
{
    uint8_t b[4];

    if (type != RTMP_MSG_ACK && type != RTMP_MSG_WINDOW_ACK_SIZE && type != RTMP_MSG_ABORT)
        return ERR_INVAL;
    rtmp_chunk_put32(b, value);
    return rtmp_chunk_write(w, 2, type, 0, 0, b, 4, out, cap);
}

long
rtmp_chunk_write_set_peer_bw(const struct rtmp_chunk_writer *w, uint32_t bw, uint8_t limit,
                             uint8_t *out, size_t cap)
{
    uint8_t b[5];

    if (limit > 2)
        return ERR_INVAL;
    rtmp_chunk_put32(b, bw);
    b[4] = limit;
    return rtmp_chunk_write(w, 2, RTMP_MSG_SET_PEER_BW, 0, 0, b, 5, out, cap);
}

long
rtmp_chunk_write_user_control(const struct rtmp_chunk_writer *w, uint16_t event, uint32_t data,
                              uint8_t *out, size_t cap)
{
    uint8_t b[6];

    b[0] = (uint8_t)(event >> 8);
    b[1] = (uint8_t)event;
    rtmp_chunk_put32(b + 2, data);
    return rtmp_chunk_write(w, 2, RTMP_MSG_USER_CONTROL, 0, 0, b, 6, out, cap);
}
