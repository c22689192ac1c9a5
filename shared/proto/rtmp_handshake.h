/*
 * rtmp_handshake.h -- the server side of the RTMP handshake, as a pure
 * byte-in/bytes-out state machine (SPEC: Adobe RTMP 1.0, 5.2).
 *
 * The client sends C0 (one version byte) and C1 (1536 bytes); we answer
 * S0 S1 S2 in one go as soon as C1 is complete, then wait for C2 (1536
 * bytes). Bytes after C2 belong to the chunk stream and are not consumed.
 *
 * Two answers exist. The simple one (the spec's): S1 carries our time, a
 * zero version and random bytes; S2 echoes C1. The digest ("complex")
 * one, which Flash Player and librtmp built with SWF verification send:
 * C1 carries a non-zero version and an HMAC-SHA256 digest at one of two
 * positions; we then answer an S1 that carries our own digest and an S2
 * signed with a key derived from the client's digest. In the default mode
 * we answer the digest form exactly when C1 holds a valid client digest,
 * and the simple form otherwise; see docs/rtmp.md for what OBS, librtmp and
 * ffmpeg check. C2 is read and not checked: no client relies on that and
 * encoders differ in what they put there.
 *
 * Not here: RTMPE (C0 = 6, 8 or 9) is refused; RTMPS is TLS below us.
 * No I/O, no allocation: the struct holds C1 and the answer.
 */
#ifndef CASCADE_RTMP_HANDSHAKE_H
#define CASCADE_RTMP_HANDSHAKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../miniobj.h"

#define RTMP_HANDSHAKE_SIZE 1536 /* C1, C2, S1, S2 */
#define RTMP_HANDSHAKE_VERSION 3 /* the only C0 we accept */
#define RTMP_HANDSHAKE_OUT_SIZE (1 + 2 * RTMP_HANDSHAKE_SIZE)
#define RTMP_HANDSHAKE_DIGEST_LEN 32

enum rtmp_handshake_state {
    RTMP_HS_S_C0 = 0, /* waiting for the version byte */
    RTMP_HS_S_C1,     /* collecting C1 */
    RTMP_HS_S_C2,     /* S0 S1 S2 are ready; collecting C2 */
    RTMP_HS_S_DONE,   /* finished: the rest of the input is chunk stream */
    RTMP_HS_S_FAILED, /* refused; hs->error says why */
};

enum rtmp_handshake_mode {
    RTMP_HS_MODE_AUTO = 0, /* digest answer when C1 has a valid digest, simple otherwise */
    RTMP_HS_MODE_SIMPLE,   /* always the spec's simple answer */
};

enum rtmp_handshake_kind {
    RTMP_HS_KIND_NONE = 0, /* not decided yet */
    RTMP_HS_KIND_SIMPLE,
    RTMP_HS_KIND_DIGEST,
};

enum rtmp_handshake_error {
    RTMP_HS_E_NONE = 0,
    RTMP_HS_E_VERSION,   /* C0 is not 3 (and not an RTMPE type) */
    RTMP_HS_E_ENCRYPTED, /* C0 asks for RTMPE (6, 8 or 9): not supported */
    RTMP_HS_E_TRUNCATED, /* the peer closed before C2 was complete */
};

struct rtmp_handshake_conf {
    enum rtmp_handshake_mode mode;
    uint32_t time_ms; /* our epoch for S1's time field (e.g. uptime in ms) */
    uint64_t seed;    /* seeds S1's and S2's filler bytes; any value works */
};

struct rtmp_handshake {
    unsigned magic;
#define RTMP_HANDSHAKE_MAGIC 0x72686e64U
    enum rtmp_handshake_state state;
    enum rtmp_handshake_error error;
    enum rtmp_handshake_kind kind;
    enum rtmp_handshake_mode mode;
    uint32_t got;            /* bytes of C1 or C2 received so far */
    uint32_t time_ms;        /* from the conf */
    uint64_t rng;            /* filler generator state */
    uint8_t c0;              /* the version byte the client sent */
    int digest_scheme;       /* 0 or 1 when kind is DIGEST, else -1 */
    uint32_t client_version; /* C1 bytes 4..7, big-endian */
    uint32_t client_time;    /* C1 bytes 0..3 */
    uint8_t c1[RTMP_HANDSHAKE_SIZE];
    uint8_t out[RTMP_HANDSHAKE_OUT_SIZE]; /* S0 S1 S2 once state >= C2 */
    bool out_taken;                       /* the caller took the answer */
};

void rtmp_handshake_init(struct rtmp_handshake *hs, const struct rtmp_handshake_conf *conf);

/*
 * Feeds p[0..len). Returns:
 *   > 0        bytes consumed, and something happened: the answer became
 *              ready (state C2) or the handshake finished (state DONE; the
 *              bytes after the returned count are chunk stream);
 *   ERR_AGAIN  all of len was consumed and more input is needed;
 *   ERR_PROTO  refused (hs->error says why); nothing of p was consumed.
 * A failed handshake stays failed.
 */
long rtmp_handshake_parse(struct rtmp_handshake *hs, const uint8_t *p, size_t len) WARN_UNUSED;

/*
 * The answer S0 S1 S2 (RTMP_HANDSHAKE_OUT_SIZE bytes), borrowed until
 * rtmp_handshake_init(); NULL before C1 is complete or once taken.
 */
const uint8_t *rtmp_handshake_output(const struct rtmp_handshake *hs, size_t *len);
/* The caller copied the answer out: rtmp_handshake_output() now gives NULL. */
void rtmp_handshake_output_taken(struct rtmp_handshake *hs);

/* The peer closed: 0 when the handshake had finished, else ERR_PROTO (TRUNCATED). */
int rtmp_handshake_eof(struct rtmp_handshake *hs) WARN_UNUSED;

bool rtmp_handshake_done(const struct rtmp_handshake *hs);
const char *rtmp_handshake_error_str(enum rtmp_handshake_error e);

/* Invariants; the fuzzers assert them after every step. */
void rtmp_handshake_check(const struct rtmp_handshake *hs);

/*
 * The digest helpers, exposed so tests can play a Flash-style client:
 * the digest offset of scheme 0 or 1 inside a 1536-byte C1/S1, and the
 * HMAC-SHA256 of that packet without its digest under the given key.
 */
uint32_t rtmp_handshake_digest_pos(const uint8_t *pkt, int scheme);
void rtmp_handshake_digest_calc(const uint8_t *pkt, uint32_t pos, const uint8_t *key, size_t keylen,
                                uint8_t out[RTMP_HANDSHAKE_DIGEST_LEN]);
void rtmp_handshake_hmac_sha256(const uint8_t *key, size_t keylen, const uint8_t *msg,
                                size_t msglen, uint8_t out[RTMP_HANDSHAKE_DIGEST_LEN]);

/* The well-known keys (public constants of the protocol). */
extern const uint8_t rtmp_handshake_fp_key[62];  /* first 30 bytes: client digest key */
extern const uint8_t rtmp_handshake_fms_key[68]; /* first 36 bytes: server digest key */

#endif
