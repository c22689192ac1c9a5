/*
 * err.h -- Cascade's error codes.
 *
 * Fallible functions return 0 (or a count) on success and a negative code
 * on failure: either -errno or one of the codes below. Ours sit below -1000
 * so the two never collide. Foreign codes (LMDB rc, AVERROR, c-ares status,
 * OpenSSL queue) are translated in their wrapper module and never travel up.
 */
#ifndef CASCADE_ERR_H
#define CASCADE_ERR_H

enum {
    ERR_AGAIN = -1000,    /* need more input: a normal result */
    ERR_PROTO = -1001,    /* the peer broke the protocol */
    ERR_LIMIT = -1002,    /* a configured cap was hit */
    ERR_NOTFOUND = -1003, /* no such object */
    ERR_STORE = -1004,    /* LMDB failed; details were logged in store.c */
    ERR_UPSTREAM = -1005, /* the upstream failed or misbehaved */
    ERR_CONF = -1006,     /* configuration is invalid; details were logged */
    ERR_EXISTS = -1007,   /* the object already exists */
    ERR_TIMEOUT = -1008,  /* a deadline passed */
    ERR_CLOSED = -1009,   /* the peer or the object went away */
    ERR_FAULT = -1010,    /* an injected fault (test builds only) */
    ERR_INVAL = -1011,    /* a caller passed an invalid argument */
    ERR_MEDIA = -1012,    /* the media could not be parsed or packaged */
    ERR_AUTH = -1013,     /* authentication or authorization failed */
};

/* Text for one of our codes or for -errno; never NULL, never allocates. */
const char *err_str(int err);

/* Short machine name ("ERR_LIMIT", "ENOENT"), for key=value logs. */
const char *err_name(int err);

#endif
