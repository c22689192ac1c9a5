/*
 * httpd_int.h -- the server's private structures, shared by httpd.c and its
 * unit test (which measures what an idle connection costs). Nothing else
 * may include it: callers use httpd.h.
 *
 * Ownership: a struct httpd owns its listener, its events, every struct
 * httpd_conn and the cache of request blocks. A connection owns its
 * bufferevent and its socket, and the current struct httpd_req (NULL
 * between requests, so an idle keep-alive connection holds no parse state
 * and no arena). A request owns its arena chunks; every string the request
 * API hands out lives in that arena.
 */
#ifndef CASCADE_HTTPD_INT_H
#define CASCADE_HTTPD_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include <event2/event.h>
#include <event2/event_struct.h>

#include "httpd.h"
#include "proto/http1.h"

/* One allocation holds the struct httpd_req and the first arena run. */
#define HTTPD_REQ_BLOCK 8192
/* Request blocks kept for reuse per httpd (no malloc per request). */
#define HTTPD_REQ_CACHE 64
/* Overflow arena chunks are at least this big. */
#define HTTPD_ARENA_CHUNK 4096
/* "[ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255]:65535" and a NUL. */
#define HTTPD_PEER_MAX 56
/* How long a lingering close keeps reading after our last byte (ms). */
#define HTTPD_LINGER_MS 2000
/* Largest single write the bufferevent may issue once it owns flushing. */
#define HTTPD_MAX_SINGLE_WRITE (4u << 20)
/* Input read ahead past the head limit (pipelined bytes, body runs). */
#define HTTPD_IN_SLACK (16u << 10)
/* Largest single recv(). */
#define HTTPD_READ_MAX (16u << 10)

enum httpd_cstate {
    HTTPD_C_IDLE = 0, /* no request: waiting for the first byte of one */
    HTTPD_C_HEAD,     /* a request head is arriving (req allocated) */
    HTTPD_C_REQ,      /* the handler owns the request until the response ends */
    HTTPD_C_DISCARD,  /* response ended; dropping the rest of the request body */
    HTTPD_C_CLOSING,  /* flushing the last bytes, then close (or linger) */
    HTTPD_C_LINGER,   /* write side shut; reading and dropping until EOF or timer */
    HTTPD_C_DEAD,     /* waiting on the async list to be freed */
};

/* Work queued on the httpd's async event (bits of conn->async). */
#define HTTPD_ASYNC_RUN 0x01  /* re-run the state machine and flush */
#define HTTPD_ASYNC_FREE 0x02 /* free the connection */

enum httpd_body_state {
    HTTPD_BODY_UNREAD = 0, /* the handler has not asked for it (yet) */
    HTTPD_BODY_READING,    /* delivering to on_data / on_end */
    HTTPD_BODY_ENDED,      /* on_end ran; nothing more is delivered */
    HTTPD_BODY_DISCARD,    /* dropped as it arrives (response ended first) */
};

enum httpd_resp_mode {
    HTTPD_RESP_NONE = 0, /* not started */
    HTTPD_RESP_NOBODY,   /* HEAD, 204, 304: the head only */
    HTTPD_RESP_LENGTH,   /* Content-Length */
    HTTPD_RESP_CHUNKED,  /* Transfer-Encoding: chunked */
    HTTPD_RESP_EOF,      /* HTTP/1.0, unknown length: until close */
};

struct httpd_chunk {
    struct httpd_chunk *next; /* owned */
    size_t size;
    /* data follows, aligned */
};

struct httpd_field {
    const char *name;  /* arena */
    const char *value; /* arena */
};

struct httpd_req {
    unsigned magic;
#define HTTPD_REQ_MAGIC 0x68647271U
    struct httpd_conn *conn; /* borrowed: the connection this request arrived on */

    /* arena: a bump allocator, freed in one go with the request */
    char *ap;                   /* next free byte */
    size_t aleft;               /* bytes left at ap */
    struct httpd_chunk *chunks; /* owned: overflow chunks */

    /* the head; msg is scratch for the parser (strings below replace it) */
    struct http1_msg msg;
    uint32_t head_len;
    char *head; /* arena: copy of the head, NUL-patched in place */
    const char *method_s;
    const char *target;
    const char *path;
    const char *query;          /* NULL when the target has no '?' */
    struct httpd_field *fields; /* arena */
    uint16_t nfields;
    uint8_t version_minor;
    enum http1_method method;
    bool head_timed; /* the head's deadline is armed (HTTPD_C_HEAD) */
    uint64_t start_ms;

    /* the request body */
    struct http1_body body;
    uint64_t max_body;  /* this request's cap: conf.max_body or the body-cap hook's */
    uint8_t body_state; /* enum httpd_body_state */
    bool body_done;     /* framing says the body is complete */
    bool body_paused;
    bool body_err; /* the body's framing failed: the connection cannot be reused */
    bool sent_100;
    bool expect_100;
    httpd_body_data_cb *on_data;
    httpd_body_end_cb *on_end;
    void *body_arg; /* borrowed */

    httpd_req_cb *on_close;
    void *close_arg;
    httpd_req_cb *on_writable;
    void *writable_arg;

    /* the response */
    char *rh; /* arena: extra header lines, "Name: value\r\n"... */
    size_t rh_len, rh_cap;
    int status;
    int64_t resp_cl;     /* declared Content-Length, -1 when none */
    uint64_t resp_bytes; /* body bytes queued */
    uint8_t resp_mode;   /* enum httpd_resp_mode */
    bool has_date, has_server;
    bool want_close; /* the handler asked for Connection: close */
    bool keep;       /* decided at start: the connection stays open after */
    bool ended;      /* httpd_resp_end() ran: the producer is done with r */
    bool closed;     /* aborted: on_close ran (or would have) */
};

struct httpd_conn {
    unsigned magic;
#define HTTPD_CONN_MAGIC 0x6864636eU
    struct httpd *h;                /* borrowed: the owner */
    struct bufferevent *bev;        /* owned */
    evutil_socket_t fd;             /* owned (closed after bufferevent_free) */
    struct httpd_req *req;          /* owned; NULL between requests */
    struct httpd_conn *prev, *next; /* h->conns */
    struct httpd_conn *async_next;  /* h->async list, while async != 0 */
    struct event timer;             /* header, idle, body and linger deadlines */
    struct event ev_read;           /* our own reads (the bufferevent only writes) */
    uint64_t id;
    uint64_t m_in, m_out; /* bytes not yet added to http.bytes.in/out */
    uint32_t nreqs;       /* requests started on this connection */
    uint32_t in_cap;      /* input bytes read ahead at most */
    uint8_t state;        /* enum httpd_cstate */
    uint8_t async;        /* HTTPD_ASYNC_* */
    uint8_t in_cb;        /* httpd frames for this conn on the stack */
    bool write_on;        /* EV_WRITE enabled: the bufferevent owns flushing */
    bool read_want;       /* the state machine wants input */
    bool read_armed;      /* ev_read is added */
    bool eof;             /* the client shut its side */
    bool linger;          /* CLOSING: linger once the output is flushed */
    bool again;           /* the outermost leave must run the state machine again */
    char peer[HTTPD_PEER_MAX];
};

struct httpd_req_block {
    struct httpd_req_block *next;
};

struct httpd {
    unsigned magic;
#define HTTPD_MAGIC 0x68747064U
    struct event_base *base; /* borrowed */
    struct httpd_conf conf;  /* copy; conf.server borrowed */
    httpd_handler_fn *handler;
    void *arg;                     /* borrowed */
    struct evconnlistener *lev;    /* owned (and the listening socket) */
    struct event *ev_async;        /* owned: deferred work and frees */
    struct event *ev_drain;        /* owned: drain deadline */
    struct event *ev_accept_retry; /* owned: re-enables accept after EMFILE */
    struct httpd_conn *conns;      /* owned, doubly linked */
    struct httpd_conn *async_head; /* borrowed from conns */
    struct httpd_conn *async_tail;
    unsigned nconns;
    struct httpd_req_block *req_cache; /* owned */
    unsigned nreq_cache;
    bool draining;
    bool drain_timed_out;
    bool freeing; /* inside httpd_free(): no more async work */
    httpd_done_cb *drain_cb;
    void *drain_arg;
    time_t date_sec;
    char date_line[48]; /* "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n" */
    size_t date_len;
};

#endif
