/*
 * httpc.h -- the HTTP/1.1 client the edge uses toward shields and origins.
 *
 * One struct httpc per event loop. It keeps keep-alive connection pools per
 * upstream address, bounded in size and idle time, and runs requests whose
 * response bodies are streamed to the caller as they arrive, with
 * pause/resume so a slow consumer stops the upstream read (backpressure)
 * instead of buffering without bound. Responses are parsed with
 * proto/http1.c; anything malformed ends the request with ERR_UPSTREAM and
 * the connection is never reused.
 *
 * Callbacks run from the loop, never from inside httpc_request(). After
 * on_done or httpc_req_cancel() no callback runs and the req is gone.
 * Not here: choosing the upstream (edge/upstream.c), retries, caching.
 */
#ifndef CASCADE_HTTPC_H
#define CASCADE_HTTPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <event2/event.h>

#include "miniobj.h"
#include "proto/http1.h"

struct httpc;
struct httpc_req;

struct httpc_conf {
    struct http1_limits limits;
    uint32_t connect_timeout_ms;
    uint32_t header_timeout_ms; /* from request sent to the end of the response head */
    uint32_t body_timeout_ms;   /* max gap between body reads */
    uint32_t idle_timeout_ms;   /* pooled connection lifetime when unused */
    uint32_t max_idle_per_host;
    uint32_t max_conns_per_host; /* requests past it wait in a bounded queue */
    uint32_t max_queue_per_host;
    uint64_t max_body;       /* 0 = unlimited */
    uint32_t body_watermark; /* streamed request body bytes queued before
                              * httpc_req_body_writable() says no */
};

void httpc_conf_defaults(struct httpc_conf *c);

struct httpc_cbs {
    /* The head arrived: status and fields are readable from now on. */
    void (*on_head)(struct httpc_req *r, void *arg);
    /* Body bytes (dechunked), borrowed for the call. */
    void (*on_body)(struct httpc_req *r, const void *data, size_t len, void *arg);
    /* 0 when the whole response arrived; else ERR_UPSTREAM, ERR_TIMEOUT, ERR_PROTO, ERR_LIMIT. */
    void (*on_done)(struct httpc_req *r, int err, void *arg);
    /* Streamed request bodies only (may be NULL): the bytes queued toward
     * the upstream fell to half the watermark after
     * httpc_req_body_writable() had said false. */
    void (*on_writable)(struct httpc_req *r, void *arg);
};

struct httpc *httpc_new(struct event_base *base, const struct httpc_conf *conf);
void httpc_set_conf(struct httpc *c, const struct httpc_conf *conf);
/* Requests still pending are dropped without a callback. Run the loop once
 * afterwards (libevent finishes bufferevents from the loop). */
void httpc_free(struct httpc **pc);

/*
 * Starts a request. headers is a NULL-terminated list of name, value pairs
 * (copied; Host -- the numeric address -- and Content-Length are added when
 * missing; Transfer-Encoding is refused). body may be NULL; it is copied.
 * addr is IPv4 or IPv6. Returns NULL only on invalid arguments. A full
 * queue fails from the loop with ERR_LIMIT (retryable).
 */
struct httpc_req *httpc_request(struct httpc *c, const struct sockaddr *addr, socklen_t addrlen,
                                const char *method, const char *target, const char *const *headers,
                                const void *body, size_t body_len, const struct httpc_cbs *cbs,
                                void *arg);
/*
 * Starts a request whose body (body_len bytes, declared as Content-Length)
 * the caller streams with httpc_req_body_write() and httpc_req_body_end().
 * The head goes out at once; body bytes are queued behind it, so they may
 * be written before the connection is up. Backpressure: when
 * httpc_req_body_writable() is false, stop producing until on_writable.
 * The connection is reused only when the whole body went out; a producer
 * that fails midway cancels the request (the connection closes). Such a
 * request is never retryable once a body byte was written (the bytes are
 * gone). Same arguments and results as httpc_request() otherwise.
 */
struct httpc_req *httpc_request_stream(struct httpc *c, const struct sockaddr *addr,
                                       socklen_t addrlen, const char *method, const char *target,
                                       const char *const *headers, uint64_t body_len,
                                       const struct httpc_cbs *cbs, void *arg);
/* Queues len body bytes (copied). ERR_LIMIT when it would pass the declared
 * length (nothing queued); ERR_PROTO when r is not streaming or its body
 * ended. Never runs a callback. */
int httpc_req_body_write(struct httpc_req *r, const void *data, size_t len) WARN_UNUSED;
/* The producer is done: ERR_PROTO when fewer bytes than declared were
 * written (the caller then cancels). Switches the deadline from the body
 * gap to the header timeout. */
int httpc_req_body_end(struct httpc_req *r) WARN_UNUSED;
/* True while the queued, unsent request bytes are under the watermark. */
bool httpc_req_body_writable(struct httpc_req *r);
/* Request body bytes written so far and still queued (not yet sent). */
uint64_t httpc_req_body_written(const struct httpc_req *r);
size_t httpc_req_body_queued(const struct httpc_req *r);

/*
 * Stops the request; no callback runs afterwards. Sets *pr to NULL. May be
 * called from the request's own on_head/on_body; inside on_done it only
 * clears *pr. A request already sent takes its connection down with it.
 */
void httpc_req_cancel(struct httpc_req **pr);
/* Stop or restart reading the response body (backpressure). Bytes already
 * buffered are delivered from the loop after the restart. */
void httpc_req_pause(struct httpc_req *r, bool pause);

int httpc_resp_status(const struct httpc_req *r);
/* First value of the named response field, or NULL; valid until on_done returns. */
const char *httpc_resp_header(const struct httpc_req *r, const char *name);
size_t httpc_resp_header_count(const struct httpc_req *r);
void httpc_resp_header_at(const struct httpc_req *r, size_t i, const char **name,
                          const char **value);
/* -1 when the response is chunked or close-delimited. */
int64_t httpc_resp_content_length(const struct httpc_req *r);
/*
 * True when the request failed before any byte of it could have been
 * processed by the upstream (connect failed, or a reused connection was
 * closed before any response byte): safe to retry elsewhere.
 */
bool httpc_req_retryable(const struct httpc_req *r);

/* Pool numbers for /metrics. */
unsigned httpc_idle_count(const struct httpc *c);
unsigned httpc_active_count(const struct httpc *c);

#endif
