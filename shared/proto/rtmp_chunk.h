/*
 * rtmp_chunk.h -- the RTMP chunk stream: an incremental reader that turns
 * bytes into whole messages, and a writer that cuts messages into chunks
 * (SPEC: Adobe RTMP 1.0, 5.3 chunking, 5.4 protocol control messages,
 * 6.2 user control messages).
 *
 * Reader. Feed it whatever bytes arrived; it returns as soon as one message
 * is complete, with the count consumed, so a bufferevent read callback
 * loops:
 *
 *     for (;;) {
 *         n = rtmp_chunk_parse(r, p, len, &msg);
 *         if (n == ERR_AGAIN) break;          -- all of len consumed
 *         if (n < 0) goto protocol_error;
 *         handle(&msg);                        -- msg.payload borrowed until next parse
 *         p += n; len -= n;
 *     }
 *     if (rtmp_chunk_ack_due(r)) send rtmp_chunk_ack_take(r);
 *
 * It applies Set Chunk Size, Abort Message and Window Acknowledgement Size
 * itself (and still returns them, so the caller can log); everything else
 * is the caller's. Header bytes are collected in the reader (at most 18),
 * payload is copied once into a per-chunk-stream reassembly buffer that
 * grows with the bytes actually received (xrealloc, never per byte),
 * bounded by the message-size cap and by a cap on all buffers together.
 *
 * Errors leave the reader failed (sticky) with nothing of the failing token
 * committed: a chunk header is validated whole before it changes any
 * state, and the piece of payload that completes a message is validated
 * (control messages) before it counts. r->error_at is the stream offset of
 * the failing token, i.e. the cursor stays where it was.
 *
 * Timestamps: each message carries the 32-bit timestamp of the wire
 * (absolute for type 0, previous + delta for types 1, 2 and a type 3 that
 * starts a message; arithmetic mod 2^32) and a 64-bit timeline per chunk
 * stream that survives the wrap (SPEC: 5.3.1.3 serial-number arithmetic).
 *
 * Not here: AMF, commands, handshake, sockets.
 */
#ifndef CASCADE_RTMP_CHUNK_H
#define CASCADE_RTMP_CHUNK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../miniobj.h"

#define RTMP_CHUNK_DEFAULT_SIZE 128 /* SPEC: 5.4.1 -- until Set Chunk Size */
#define RTMP_CHUNK_SIZE_MAX 0x7fffffffU
#define RTMP_CSID_MIN 2
#define RTMP_CSID_MAX 65599
#define RTMP_CHUNK_MAX_STREAMS 256 /* hard cap on live chunk streams */
#define RTMP_CHUNK_MAX_HEADER 18   /* 3 basic + 11 message + 4 extended timestamp */
#define RTMP_MSG_LEN_MAX 0xffffffU /* the 24-bit length field */
#define RTMP_TS_EXTENDED 0xffffffU

enum rtmp_msg_type {
    RTMP_MSG_SET_CHUNK_SIZE = 1,
    RTMP_MSG_ABORT = 2,
    RTMP_MSG_ACK = 3,
    RTMP_MSG_USER_CONTROL = 4,
    RTMP_MSG_WINDOW_ACK_SIZE = 5,
    RTMP_MSG_SET_PEER_BW = 6,
    RTMP_MSG_AUDIO = 8,
    RTMP_MSG_VIDEO = 9,
    RTMP_MSG_DATA_AMF3 = 15,
    RTMP_MSG_SHARED_OBJECT_AMF3 = 16,
    RTMP_MSG_COMMAND_AMF3 = 17,
    RTMP_MSG_DATA_AMF0 = 18,
    RTMP_MSG_SHARED_OBJECT_AMF0 = 19,
    RTMP_MSG_COMMAND_AMF0 = 20,
    RTMP_MSG_AGGREGATE = 22,
};

/* SPEC: 6.2 (and 7.1.7) -- user control event types. */
enum rtmp_user_control {
    RTMP_UC_STREAM_BEGIN = 0,
    RTMP_UC_STREAM_EOF = 1,
    RTMP_UC_STREAM_DRY = 2,
    RTMP_UC_SET_BUFFER_LENGTH = 3,
    RTMP_UC_STREAM_IS_RECORDED = 4,
    RTMP_UC_PING_REQUEST = 6,
    RTMP_UC_PING_RESPONSE = 7,
};

struct rtmp_chunk_limits {
    uint32_t max_msg_size;   /* default 8 MiB; over it: ERR_LIMIT */
    uint32_t max_chunk_size; /* default 16 MiB; a larger Set Chunk Size: ERR_LIMIT */
    uint32_t max_streams;    /* live chunk streams, default 32, <= RTMP_CHUNK_MAX_STREAMS */
    uint64_t max_buffered;   /* reassembly buffers together, default 32 MiB */
    bool strict_ext_ts;      /* see docs/rtmp.md: no tolerance for a missing extended ts */
};

extern const struct rtmp_chunk_limits rtmp_chunk_default_limits;

struct rtmp_msg {
    uint32_t csid;
    uint8_t type;        /* enum rtmp_msg_type (others are passed through) */
    uint32_t stream_id;  /* message stream id */
    uint32_t timestamp;  /* as on the wire, mod 2^32 */
    int64_t timestamp64; /* the chunk stream's unwrapped timeline */
    uint32_t len;
    const uint8_t *payload; /* borrowed until the next rtmp_chunk_parse() */
};

/* One chunk stream's state (private). */
struct rtmp_chunk_stream {
    uint32_t csid;
    uint8_t type;
    uint32_t stream_id;
    uint32_t len;      /* length of the current (or last) message */
    uint32_t ts;       /* timestamp of the current (or last) message */
    uint32_t ts_field; /* last timestamp field: what a type-3 new message adds */
    int64_t ts64;
    uint32_t ext_val; /* value of the last extended timestamp */
    bool ext;         /* the last type 0/1/2 header used an extended timestamp */
    bool in_msg;      /* a message is being reassembled */
    uint32_t got;     /* its payload bytes so far */
    uint8_t *buf;     /* owned; capacity cap */
    uint32_t cap;
};

enum rtmp_chunk_state {
    RTMP_CHUNK_S_HEADER = 0, /* collecting a chunk header into hdr[] */
    RTMP_CHUNK_S_PAYLOAD,    /* copying a chunk's payload */
    RTMP_CHUNK_S_FAILED,
};

struct rtmp_chunk_reader {
    unsigned magic;
#define RTMP_CHUNK_READER_MAGIC 0x72636872U
    struct rtmp_chunk_limits lim;
    enum rtmp_chunk_state state;
    int error;           /* sticky, once failed */
    uint64_t error_at;   /* stream offset of the chunk header that failed */
    uint32_t chunk_size; /* the peer's, from Set Chunk Size */
    uint8_t hdr[RTMP_CHUNK_MAX_HEADER];
    uint32_t hdr_got;
    uint32_t hdr_need;             /* grows as the header reveals its form */
    struct rtmp_chunk_stream *cur; /* the stream whose payload is being copied */
    uint32_t chunk_left;           /* payload bytes left in the current chunk */
    uint32_t nstreams;
    struct rtmp_chunk_stream *streams; /* owned, lim.max_streams entries */
    uint64_t buffered;                 /* sum of stream buffer capacities */
    uint64_t bytes_in;                 /* every byte consumed (the caller may preset it) */
    uint64_t ack_last;                 /* bytes_in at the last ack taken */
    uint32_t ack_window;               /* from the peer's Window Ack Size; 0 = none */
    uint32_t peer_acked;               /* the peer's last Acknowledgement */
    uint64_t ext_ts_missing;           /* type-3 chunks that lacked the extended timestamp */
};

/* lim may be NULL for the defaults; zero fields take their default. */
void rtmp_chunk_reader_init(struct rtmp_chunk_reader *r, const struct rtmp_chunk_limits *lim);
void rtmp_chunk_reader_fini(struct rtmp_chunk_reader *r);

/*
 * Consumes p[0..len) until one message is complete. Returns the bytes
 * consumed (> 0) with *msg filled; ERR_AGAIN when all of len was consumed
 * and no message completed; ERR_PROTO or ERR_LIMIT when the peer broke the
 * protocol or a cap (see above: sticky, nothing of the bad chunk committed).
 */
long rtmp_chunk_parse(struct rtmp_chunk_reader *r, const uint8_t *p, size_t len,
                      struct rtmp_msg *msg) WARN_UNUSED;

/* An acknowledgement is due (SPEC: 5.4.3): the window was crossed. */
bool rtmp_chunk_ack_due(const struct rtmp_chunk_reader *r);
/* The sequence number to send (bytes received mod 2^32); resets the window. */
uint32_t rtmp_chunk_ack_take(struct rtmp_chunk_reader *r);

void rtmp_chunk_reader_check(const struct rtmp_chunk_reader *r);

/* ---- protocol control and user control payloads ---- */

struct rtmp_control {
    uint8_t type;         /* the message type */
    uint32_t value;       /* chunk size, csid (abort), sequence (ack), window, bandwidth */
    uint8_t limit_type;   /* SET_PEER_BW: 0 hard, 1 soft, 2 dynamic */
    uint16_t event;       /* USER_CONTROL: enum rtmp_user_control */
    uint32_t event_data;  /* USER_CONTROL: stream id or timestamp */
    uint32_t event_data2; /* USER_CONTROL SET_BUFFER_LENGTH: buffer length in ms */
};

/*
 * Decodes a protocol control (types 1, 2, 3, 5, 6) or user control (4)
 * message. 0, ERR_PROTO for a short or invalid payload (Set Chunk Size 0
 * or with the top bit set), ERR_INVAL for any other message type.
 */
int rtmp_control_parse(const struct rtmp_msg *m, struct rtmp_control *c) WARN_UNUSED;

/* ---- writer ---- */

struct rtmp_chunk_writer {
    unsigned magic;
#define RTMP_CHUNK_WRITER_MAGIC 0x72636877U
    uint32_t chunk_size; /* ours, announced with Set Chunk Size */
};

void rtmp_chunk_writer_init(struct rtmp_chunk_writer *w);

/* Bytes rtmp_chunk_write() needs for this message, or 0 for invalid arguments. */
size_t rtmp_chunk_write_size(const struct rtmp_chunk_writer *w, uint32_t csid, uint32_t ts,
                             size_t len);

/*
 * Writes one message as chunks into out: a type-0 header, then type-3
 * continuation headers (repeating the extended timestamp when there is
 * one). Returns the bytes written; ERR_LIMIT when cap is too small (nothing
 * useful written); ERR_INVAL for a csid outside 2..65599 or len > 2^24-1.
 */
long rtmp_chunk_write(const struct rtmp_chunk_writer *w, uint32_t csid, uint8_t type,
                      uint32_t stream_id, uint32_t ts, const uint8_t *payload, size_t len,
                      uint8_t *out, size_t cap) WARN_UNUSED;

/*
 * Control messages on chunk stream 2, message stream 0 (SPEC: 5.4).
 * Set Chunk Size also switches the writer to the new size, for the chunks
 * after it. Same returns as rtmp_chunk_write().
 */
long rtmp_chunk_write_set_chunk_size(struct rtmp_chunk_writer *w, uint32_t size, uint8_t *out,
                                     size_t cap) WARN_UNUSED;
long rtmp_chunk_write_control32(const struct rtmp_chunk_writer *w, uint8_t type, uint32_t value,
                                uint8_t *out,
                                size_t cap) WARN_UNUSED; /* ACK, WINDOW_ACK_SIZE, ABORT */
long rtmp_chunk_write_set_peer_bw(const struct rtmp_chunk_writer *w, uint32_t bw, uint8_t limit,
                                  uint8_t *out, size_t cap) WARN_UNUSED;
long rtmp_chunk_write_user_control(const struct rtmp_chunk_writer *w, uint16_t event, uint32_t data,
                                   uint8_t *out, size_t cap) WARN_UNUSED;

#endif
