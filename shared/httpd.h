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
    uint64_t max_body;           /* request body bytes; 413 past it */
    uint32_t header_timeout_ms;  /* a head must arrive within this (slowloris) */
    uint32_t idle_timeout_ms;    /* keep-alive wait for the next request */
    uint32_t body_timeout_ms;    /* max gap between request body reads */
    uint32_t send_timeout_ms;    /* max time without the client taking bytes */
    uint32_t max_connections;    /* per httpd; past it new connections are closed at once */
    uint32_t max_requests_per_conn; /* 0 = unlimited */
    size_t out_high_watermark;   /* above it httpd_resp_writable() is false */
    size_t out_low_watermark;    /* below it the writable callback runs */
    const char *server;          /* Server header value; borrowed for the httpd's life */
};

/* Defaults: 32 KiB head, 8 KiB line, 100 fields, 1 MiB body, 10 s header, 60 s idle, ... */
void httpd_conf_defaults(struct httpd_conf *c);

typedef void httpd_handler_fn(struct httpd_req *req, void *arg);
typedef void httpd_req_cb(struct httpd_req *req, void *arg);
typedef void httpd_done_cb(void *arg);

struct httpd *httpd_new(struct event_base *base, const struct httpd_conf *conf,
                        httpd_handler_fn *handler, void *arg);
/* Accept on fd (already bound and listening; the httpd takes ownership). */
int httpd_listen_fd(struct httpd *h, evutil_socket_t fd) WARN_UNUSED;
/* New limits for connections and requests from now on (SIGHUP reload). */
void httpd_set_conf(struct httpd *h, const struct httpd_conf *conf);
/*
 * Graceful drain: stop accepting, close idle keep-alive connections, let
 * in-flight requests finish (answering them with Connection: close), then
 * call done from the loop. Connections still open after timeout_ms are
 * closed.
 */
void httpd_drain(struct httpd *h, uint32_t timeout_ms, httpd_done_cb *done, void *arg);
void httpd_free(struct httpd **ph);
unsigned httpd_conn_count(const struct httpd *h);
struct event_base *httpd_base(const struct httpd *h);

/* ---- the request (borrowed strings live as long as the request) ---- */

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
 * (ERR_LIMIT past max_body, ERR_PROTO, ERR_CLOSED). If a handler does not
 * read the body, it is discarded before the next request is parsed.
 */
typedef void httpd_body_data_cb(struct httpd_req *r, const void *data, size_t len, void *arg);
typedef void httpd_body_end_cb(struct httpd_req *r, int err, void *arg);
void httpd_req_read_body(struct httpd_req *r, httpd_body_data_cb *on_data,
                         httpd_body_end_cb *on_end, void *arg);
/* Pause or resume reading the request body (backpressure toward the client). */
void httpd_req_body_pause(struct httpd_req *r, bool pause);

/* The client went away or the request was aborted before the response ended. */
void httpd_req_on_close(struct httpd_req *r, httpd_req_cb *cb, void *arg);

/* ---- the response ---- */

/* Adds a field to the response head; CR, LF and NUL are refused (ERR_INVAL). */
int httpd_resp_header(struct httpd_req *r, const char *name, const char *value) WARN_UNUSED;
/*
 * Sends the head. content_length < 0 means unknown: chunked for HTTP/1.1,
 * close-delimited for HTTP/1.0. For HEAD requests the head is sent with the
 * given length and no body bytes are ever written.
 */
void httpd_resp_start(struct httpd_req *r, int status, int64_t content_length);
int httpd_resp_write(struct httpd_req *r, const void *data, size_t len) WARN_UNUSED;
/* Zero-copy: cleanup(data, len, arg) runs when the bytes have left (or on close). */
typedef void httpd_ref_cleanup_cb(const void *data, size_t len, void *arg);
int httpd_resp_add_reference(struct httpd_req *r, const void *data, size_t len,
                             httpd_ref_cleanup_cb *cleanup, void *arg) WARN_UNUSED;
/* Moves all of buf's bytes into the response. */
int httpd_resp_add_buffer(struct httpd_req *r, struct evbuffer *buf) WARN_UNUSED;
/* Ends the response; r is invalid afterwards. */
void httpd_resp_end(struct httpd_req *r);
/* start + write + end in one call. */
void httpd_resp_send(struct httpd_req *r, int status, const char *content_type, const void *body,
                     size_t len);
/* {"error":{"code":code,"message":message}} with the given status. */
void httpd_resp_error(struct httpd_req *r, int status, const char *code, const char *message);
/* Output below the high watermark? */
bool httpd_resp_writable(const struct httpd_req *r);
/* Runs when output falls below the low watermark (once per registration). */
void httpd_req_on_writable(struct httpd_req *r, httpd_req_cb *cb, void *arg);
/* Bytes of body queued so far (for access logs). */
uint64_t httpd_resp_bytes(const struct httpd_req *r);
int httpd_resp_status(const struct httpd_req *r);

#endif
