/*
 * httpd.h -- the HTTP/1.1 server both binaries use, on libevent bufferevents.
 *
 * One struct httpd per event loop (worker thread); it owns its listener and
 * its connections. Requests on one connection are answered strictly in
 * order (pipelining-safe: the next request is not parsed until the current
 * response has been queued in full). Limits and timeouts come from struct
 * httpd_conf: head size (431), line (414), body (413), header timeout
 * against slowloris, idle keep-alive timeout, send timeout against clients
 * that stop reading, and high/low watermarks for backpressure.
 *
 * Lifetime of a request: the handler is called once the head is parsed. The
 * struct httpd_req stays valid until the response ends (httpd_resp_end() or
 * httpd_resp_send() returns) or until the close callback runs, whichever is
 * first; after either, the producer must not touch it. Producers that answer
 * later (a cache fill, an upstream fetch) register httpd_req_on_close().
 *
 * Not here: routing (each binary's handler), caching, TLS (later: tls.c
 * gives a bufferevent factory).
 */
#ifndef CASCADE_HTTPD_H
#define CASCADE_HTTPD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>
#include <event2/util.h>

#include "miniobj.h"
#include "proto/http1.h"

struct httpd;
struct httpd_req;
struct evbuffer;

struct httpd_conf {
    struct http1_limits limits;
    uint64_t max_body;           /* request body bytes; 413 past it; 0 = unlimited */
    /* A head must arrive within this (slowloris): a deadline from accept (first
     * request) or from its first byte, never extended by later bytes; 408. */
    uint32_t header_timeout_ms;
    uint32_t idle_timeout_ms;    /* keep-alive wait for the next request */
    uint32_t body_timeout_ms;    /* max gap between request body reads */
    uint32_t send_timeout_ms;    /* max time without the client taking bytes (reset) */
    uint32_t max_connections;    /* per httpd; past it new connections are closed at once */
    uint32_t max_requests_per_conn; /* 0 = unlimited */
    size_t out_high_watermark;   /* above it httpd_resp_writable() is false */
    size_t out_low_watermark;    /* below it the writable callback runs */
    const char *server;          /* Server header value; borrowed for the httpd's life */
};

/*
 * Defaults: 32 KiB head, 8 KiB line, 100 fields, 1 MiB body, 10 s header,
 * 60 s idle, 30 s body gap, 30 s send, 16384 connections, 10000 requests
 * per connection, 512/128 KiB watermarks, Server "cascade" (docs/http.md).
 */
void httpd_conf_defaults(struct httpd_conf *c);

typedef void httpd_handler_fn(struct httpd_req *req, void *arg);
typedef void httpd_req_cb(struct httpd_req *req, void *arg);
typedef void httpd_done_cb(void *arg);

struct httpd *httpd_new(struct event_base *base, const struct httpd_conf *conf,
                        httpd_handler_fn *handler, void *arg);
/*
 * Accept on fd (already bound and listening; the httpd takes ownership, and
 * closes it on failure too). One listener per httpd: ERR_EXISTS after that.
 * TCP_NODELAY is set on fd; accepted sockets inherit it (Linux).
 */
int httpd_listen_fd(struct httpd *h, evutil_socket_t fd) WARN_UNUSED;
/* New limits for connections and requests from now on (SIGHUP reload).
 * Timeouts and watermarks already set on open connections stay. */
void httpd_set_conf(struct httpd *h, const struct httpd_conf *conf);
/*
 * Graceful drain: stop accepting, close idle keep-alive connections, let
 * in-flight requests finish (answering them with Connection: close), then
 * call done from the loop. Connections still open after timeout_ms are
 * closed (their on_close runs). done may call httpd_free().
 */
void httpd_drain(struct httpd *h, uint32_t timeout_ms, httpd_done_cb *done, void *arg);
/*
 * Closes everything at once; on_close runs for requests still open. Must
 * not be called from an httpd callback other than drain's done. Run the
 * loop once afterwards: libevent finishes bufferevents (and releases
 * evbuffer references) from the loop.
 */
void httpd_free(struct httpd **ph);
unsigned httpd_conn_count(const struct httpd *h);
/*
 * Resets connection conn_id (httpd_req_conn_id()) of h at once: its
 * request, if one is in flight, sees on_close; its output is dropped (so
 * references in it are released) and the peer gets a RST. For owners of
 * resources a slow client must not hold for ever. ERR_NOTFOUND when h
 * has no such open connection.
 */
int httpd_conn_reset(struct httpd *h, uint64_t conn_id) WARN_UNUSED;
struct event_base *httpd_base(const struct httpd *h);

/*
 * ---- the request (borrowed strings live as long as the request) ----
 * The path is the target's path as sent (not percent-decoded; for an
 * absolute-form target, the part after the authority).
 */

enum http1_method httpd_req_method(const struct httpd_req *r);
const char *httpd_req_method_str(const struct httpd_req *r);
const char *httpd_req_target(const struct httpd_req *r); /* as sent */
const char *httpd_req_path(const struct httpd_req *r);   /* target without the query */
const char *httpd_req_query(const struct httpd_req *r);  /* after '?', or NULL */
int httpd_req_version_minor(const struct httpd_req *r);
/* First value of the named field (case-insensitive), or NULL. */
const char *httpd_req_header(const struct httpd_req *r, const char *name);
size_t httpd_req_header_count(const struct httpd_req *r);
void httpd_req_header_at(const struct httpd_req *r, size_t i, const char **name,
                         const char **value);
const char *httpd_req_peer(const struct httpd_req *r); /* "127.0.0.1:5555", "[::1]:5555" */
uint64_t httpd_req_conn_id(const struct httpd_req *r);
/* Monotonic ms when the head was complete (for access logs). */
uint64_t httpd_req_start_ms(const struct httpd_req *r);

/*
 * Request bodies are streamed: on_data gets each run as it arrives (data
 * borrowed for the call); end runs once with 0 or a negative error
 * (ERR_LIMIT past max_body, ERR_PROTO, ERR_CLOSED, ERR_TIMEOUT). Neither
 * runs inside httpd_req_read_body(). After an error the connection closes
 * once the response (which the handler still sends, e.g. 413 or 400) is
 * out; after ERR_CLOSED or ERR_TIMEOUT on_close follows and httpd answers
 * 408 itself when no response was started. If a handler does not read the
 * body, it is discarded after the response before the next request is
 * parsed; with Expect: 100-continue unanswered, the connection closes
 * instead. At most one call per request.
 */
typedef void httpd_body_data_cb(struct httpd_req *r, const void *data, size_t len, void *arg);
typedef void httpd_body_end_cb(struct httpd_req *r, int err, void *arg);
void httpd_req_read_body(struct httpd_req *r, httpd_body_data_cb *on_data,
                         httpd_body_end_cb *on_end, void *arg);
/*
 * Per-request body cap, for the few routes that take large uploads (VOD):
 * when set, fn runs once each request head is parsed (path and fields are
 * readable), before the 413 check, and returns the cap for that request
 * (0 = unlimited) in place of conf_max (the httpd's max_body). Process-wide:
 * set it once before any httpd serves; NULL restores the default.
 */
typedef uint64_t httpd_body_cap_fn(const struct httpd_req *r, uint64_t conf_max);
void httpd_set_body_cap(httpd_body_cap_fn *fn);

/* Pause or resume reading the request body (backpressure toward the client). */
void httpd_req_body_pause(struct httpd_req *r, bool pause);

/*
 * The client went away or the request was aborted (send, body or drain
 * timeout) before the response ended. Inside cb every httpd_resp_*() is a
 * no-op (writes return ERR_CLOSED); after it returns r is gone.
 */
void httpd_req_on_close(struct httpd_req *r, httpd_req_cb *cb, void *arg);

/* ---- the response ---- */

/*
 * Adds a field to the response head; CR, LF and NUL are refused (ERR_INVAL),
 * as are a name that is not a token, Content-Length and Transfer-Encoding
 * (framing follows httpd_resp_start()), and any call after the start.
 * Connection is httpd's: "close" in it is honoured, the field is not copied.
 * Date and Server replace httpd's own. ERR_CLOSED once the request aborted.
 */
int httpd_resp_header(struct httpd_req *r, const char *name, const char *value) WARN_UNUSED;
/*
 * httpd_resp_header() for fields the caller knows are valid (constant
 * names, values it formatted itself): the only failure left is a client
 * that went away, which the response's end handles, so there is nothing
 * to return. A refused field is a bug here: asserted.
 */
void httpd_resp_set(struct httpd_req *r, const char *name, const char *value);
/*
 * httpd_resp_set() for a field already checked by the caller: name[0..nlen)
 * a token, value[0..vlen) free of CR, LF and NUL and NUL-terminated at vlen
 * (a cache hit's stored fields, parsed and checked on every open). Debug
 * builds check again; release builds trust the caller (the hit path).
 */
void httpd_resp_set_n(struct httpd_req *r, const char *name, size_t nlen, const char *value,
                      size_t vlen);
/*
 * Sends the head. content_length < 0 means unknown: chunked for HTTP/1.1,
 * close-delimited for HTTP/1.0. For HEAD requests the head is sent with the
 * given length and no body bytes are ever written; 204 and 304 carry no
 * body and no framing fields. status is 200..999 (asserted).
 */
void httpd_resp_start(struct httpd_req *r, int status, int64_t content_length);
/* Copies len bytes. ERR_INVAL before the start or past the declared length;
 * ERR_CLOSED once aborted; 0 (bytes dropped) for HEAD, 204 and 304. */
int httpd_resp_write(struct httpd_req *r, const void *data, size_t len) WARN_UNUSED;
/*
 * Zero-copy: cleanup(data, len, arg) runs exactly once when the bytes have
 * left (or on close) -- before this returns when nothing will be sent (HEAD,
 * 204, 304, len 0). When an error is returned, cleanup never runs.
 */
typedef void httpd_ref_cleanup_cb(const void *data, size_t len, void *arg);
int httpd_resp_add_reference(struct httpd_req *r, const void *data, size_t len,
                             httpd_ref_cleanup_cb *cleanup, void *arg) WARN_UNUSED;
/* Moves all of buf's bytes into the response. */
int httpd_resp_add_buffer(struct httpd_req *r, struct evbuffer *buf) WARN_UNUSED;
/*
 * Ends the response; r is invalid afterwards. Fewer body bytes than the
 * declared Content-Length close the connection (http.errors short_response);
 * no httpd_resp_start() at all answers 500.
 */
void httpd_resp_end(struct httpd_req *r);
/*
 * Ends a response that cannot be completed (its source failed midway):
 * the connection closes once what was queued has gone out, without the
 * last chunk, so the client sees a truncated message, never one that looks
 * complete (http.errors short_response). Before httpd_resp_start() the
 * connection closes with no response at all. r is invalid afterwards.
 */
void httpd_resp_abort(struct httpd_req *r);
/* start + write + end in one call. */
void httpd_resp_send(struct httpd_req *r, int status, const char *content_type, const void *body,
                     size_t len);
/* {"error":{"code":code,"message":message}} with the given status. */
void httpd_resp_error(struct httpd_req *r, int status, const char *code, const char *message);
/* Output below the high watermark? (true once the request is closed) */
bool httpd_resp_writable(const struct httpd_req *r);
/*
 * Runs when output falls below the low watermark (once per registration),
 * from the loop; at once (from the loop) if it already is.
 */
void httpd_req_on_writable(struct httpd_req *r, httpd_req_cb *cb, void *arg);
/* Bytes of body queued so far (for access logs). */
uint64_t httpd_resp_bytes(const struct httpd_req *r);
int httpd_resp_status(const struct httpd_req *r);

#endif
