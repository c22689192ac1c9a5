/*
 * httpc.c -- the HTTP/1.1 client toward shields and origins (SPEC: RFC 9112).
 *
 * One struct httpc per event loop. Upstream addresses are struct
 * httpc_host entries, each with a LIFO pool of idle keep-alive connections
 * (the most recently used is the least likely to have been closed by the
 * peer), a count of open connections bounded by max_conns_per_host, and a
 * FIFO of requests waiting for one, bounded by max_queue_per_host.
 *
 * A connection carries one request at a time (no pipelining: a reused
 * connection that turns out dead can then be retried safely). Its one
 * timer is, by state, the connect, header, body-gap or pool idle deadline.
 * The response head is parsed with http1_parse_head() over an
 * evbuffer_pullup() bounded by the head limit; the body is delivered run
 * by run straight from the input chains, without a copy. Reading is our
 * own recv() into the bufferevent's input buffer (16 KiB, growing to
 * 256 KiB while reads fill it); the bufferevent connects and writes.
 * Pausing a body stops the read event, so TCP pushes back upstream.
 *
 * Streamed request bodies (httpc_request_stream()) are queued behind the
 * head, in the request's own buffer while it waits for a connection and in
 * the bufferevent's output after; the producer asks
 * httpc_req_body_writable() (queued bytes under conf.body_watermark) and
 * is called back through on_writable when the output drains to half of it
 * (the bufferevent's write low watermark). Until the last body byte is
 * given, the deadline is the body gap, not the header timeout. A response
 * that ends before the body was all sent closes the connection.
 *
 * Lifetime. httpc owns every struct httpc_req until on_done returns or
 * httpc_req_cancel() is called. User callbacks run from the loop only
 * (I/O callbacks, or the async event for failures known at once); a cancel
 * from inside a callback only marks the request, and the frame that called
 * the user cleans up. Connections and empty hosts are freed from the async
 * event, never inside their own callbacks.
 *
 * Not here: choosing upstreams, retries, caching (edge/).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/event_struct.h>

#include "err.h"
#include "fault.h"
#include "httpc.h"
#include "log.h"
#include "mem.h"
#include "metrics.h"
#include "compat.h"

enum httpc_cstate {
    HTTPC_C_CONNECTING = 1,
    HTTPC_C_ACTIVE, /* connected, carrying conn->req (or about to be pooled) */
    HTTPC_C_IDLE,   /* in the host's pool */
    HTTPC_C_DEAD,   /* on the async list to be freed */
};

enum httpc_rstate {
    HTTPC_R_NEW = 0,
    HTTPC_R_QUEUED, /* waiting for a connection slot */
    HTTPC_R_HEAD,   /* sent (or being sent): waiting for the response head */
    HTTPC_R_BODY,   /* head delivered, body streaming */
    HTTPC_R_FAILED, /* on the async list: on_done(err) pending */
};

#define HTTPC_ASYNC_RESUME 0x01
#define HTTPC_ASYNC_FREE 0x02
/* Items the async event handles per run before yielding to I/O. */
#define HTTPC_ASYNC_BATCH 256
#define HTTPC_HOSTPORT_MAX 56
/* recv() sizes: the first read of a connection, and the most it grows to
 * while reads keep filling the buffer (large bodies). */
#define HTTPC_READ_MIN (16u << 10)
#define HTTPC_READ_MAX (256u << 10)

enum httpc_err {
    HTTPC_ERR_CONNECT = 0,
    HTTPC_ERR_TIMEOUT_CONNECT,
    HTTPC_ERR_TIMEOUT_HEADER,
    HTTPC_ERR_TIMEOUT_BODY,
    HTTPC_ERR_BAD_RESPONSE,
    HTTPC_ERR_BODY_TOO_LARGE,
    HTTPC_ERR_CLOSED,
    HTTPC_ERR_QUEUE_FULL,
    HTTPC_ERR__N,
};

static const char *const httpc_err_names[HTTPC_ERR__N] = {
    "connect",      "timeout_connect", "timeout_header", "timeout_body",
    "bad_response", "body_too_large",  "closed",         "queue_full",
};

static struct {
    struct metric *requests;
    struct metric *opened;
    struct metric *reused;
    struct metric *bytes_in;
    struct metric *errors[HTTPC_ERR__N];
} httpc_m;

static pthread_once_t httpc_m_once = PTHREAD_ONCE_INIT;

struct httpc_field {
    const char *name;  /* in r->head */
    const char *value; /* in r->head */
};

struct httpc_host {
    unsigned magic;
#define HTTPC_HOST_MAGIC 0x68636873U
    struct httpc *c; /* borrowed: the owner */
    struct sockaddr_storage addr;
    socklen_t addrlen;
    char hostport[HTTPC_HOSTPORT_MAX]; /* default Host field */
    TAILQ_HEAD(, httpc_conn) idle;     /* borrowed from c->conns; MRU first */
    TAILQ_HEAD(, httpc_req) queue;     /* borrowed from c->reqs */
    unsigned nidle;
    unsigned nconns; /* open: connecting, active or idle */
    unsigned nqueue;
    unsigned nreqs; /* requests that name this host (they pin it) */
    TAILQ_ENTRY(httpc_host) link;
};

struct httpc_conn {
    unsigned magic;
#define HTTPC_CONN_MAGIC 0x6863636eU
    struct httpc *c;                    /* borrowed: the owner */
    struct httpc_host *host;            /* borrowed: pinned by nconns */
    struct bufferevent *bev;            /* owned */
    evutil_socket_t fd;                 /* owned */
    struct httpc_req *req;              /* borrowed: the request it carries, or NULL */
    struct event timer;                 /* connect, header, body or idle deadline */
    struct event ev_read;               /* our own reads (the bufferevent only writes) */
    uint32_t rsize;                     /* next recv() size */
    bool read_armed;                    /* ev_read is added */
    uint8_t state;                      /* enum httpc_cstate */
    uint8_t async;                      /* HTTPC_ASYNC_* */
    uint32_t nreqs;                     /* requests carried so far */
    bool eof;                           /* the upstream closed its side */
    TAILQ_ENTRY(httpc_conn) link;       /* c->conns */
    TAILQ_ENTRY(httpc_conn) idle_link;  /* host->idle */
    TAILQ_ENTRY(httpc_conn) async_link; /* c->async_conns */
};

struct httpc_req {
    unsigned magic;
#define HTTPC_REQ_MAGIC 0x68637271U
    struct httpc *c;          /* borrowed: the owner */
    struct httpc_host *host;  /* borrowed: pinned by nreqs */
    struct httpc_conn *conn;  /* borrowed: while it is carried */
    struct evbuffer *out;     /* owned: the serialized request until sent */
    enum http1_method method; /* decides the response's body mode (HEAD) */
    struct httpc_cbs cbs;
    void *arg; /* borrowed */

    struct http1_msg msg; /* the response head parser, then its results */
    struct http1_body body;
    enum http1_body_mode body_mode;
    char *head; /* owned: the response head, NUL-patched */
    uint32_t head_len;
    struct httpc_field *fields; /* owned */
    uint16_t nfields;

    uint8_t state; /* enum httpc_rstate */
    int err;       /* HTTPC_R_FAILED: for on_done */
    bool paused;
    bool retryable;
    bool got_bytes; /* a response byte arrived */
    bool in_cb;     /* a user callback of this request is running */
    bool in_done;
    bool canceled;                /* cancelled from inside its own callback */
    bool stream;                  /* the body comes through httpc_req_body_write() */
    bool want_writable;           /* httpc_req_body_writable() said false */
    uint64_t body_len;            /* stream: declared length */
    uint64_t body_written;        /* stream: bytes the producer gave */
    TAILQ_ENTRY(httpc_req) link;  /* c->reqs */
    TAILQ_ENTRY(httpc_req) qlink; /* host->queue or c->async_reqs */
};

struct httpc {
    unsigned magic;
#define HTTPC_MAGIC 0x68747063U
    struct event_base *base; /* borrowed */
    struct httpc_conf conf;
    TAILQ_HEAD(, httpc_host) hosts;       /* owned */
    TAILQ_HEAD(, httpc_conn) conns;       /* owned: every connection */
    TAILQ_HEAD(, httpc_req) reqs;         /* owned: every request */
    TAILQ_HEAD(, httpc_req) async_reqs;   /* borrowed: on_done pending */
    TAILQ_HEAD(, httpc_conn) async_conns; /* borrowed: resume or free */
    struct event *ev_async;               /* owned */
    unsigned nidle, nactive;
};

static void httpc_conn_close(struct httpc_conn *k);
static void httpc_conn_process(struct httpc_conn *k);
static void httpc_req_dispatch(struct httpc_req *r);

static void
httpc_metrics_init(void)
{
    size_t i;

    httpc_m.requests = metrics_counter("httpc.requests", "Upstream requests started");
    httpc_m.opened = metrics_counter("httpc.connections.opened", "Upstream connections opened");
    httpc_m.reused = metrics_counter("httpc.connections.reused", "Requests on a pooled connection");
    httpc_m.bytes_in = metrics_counter("httpc.bytes.in", "Upstream response bytes consumed");
    for (i = 0; i < HTTPC_ERR__N; i++)
        httpc_m.errors[i] = metrics_counter_l("httpc.errors", "Upstream requests that failed",
                                              "code", httpc_err_names[i]);
}

void
httpc_conf_defaults(struct httpc_conf *conf)
{
    memset(conf, 0, sizeof(*conf));
    conf->limits = http1_default_limits;
    conf->connect_timeout_ms = 3000;
    conf->header_timeout_ms = 10000;
    conf->body_timeout_ms = 10000;
    conf->idle_timeout_ms = 30000;
    conf->max_idle_per_host = 32;
    conf->max_conns_per_host = 256;
    conf->max_queue_per_host = 1024;
    conf->max_body = 0;
    conf->body_watermark = 64u << 10;
}

static void
httpc_timer(struct event *ev, uint32_t ms)
{
    struct timeval tv;

    if (ms == 0) {
        event_del(ev);
        return;
    }
    tv.tv_sec = ms / 1000;
    tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
    event_add(ev, &tv);
}

/* While a streamed body is still being produced, the deadline is the gap
 * between body writes; after it, the wait for the response head. */
static void
httpc_req_wait_timer(struct httpc_conn *k, const struct httpc_req *r)
{
    if (r->stream && r->body_written < r->body_len)
        httpc_timer(&k->timer, k->c->conf.body_timeout_ms);
    else
        httpc_timer(&k->timer, k->c->conf.header_timeout_ms);
}

static void
httpc_async_wake(struct httpc *c)
{
    event_active(c->ev_async, EV_TIMEOUT, 0);
}

static void
httpc_conn_async(struct httpc_conn *k, uint8_t what)
{
    if (k->async == 0)
        TAILQ_INSERT_TAIL(&k->c->async_conns, k, async_link);
    k->async |= what;
    httpc_async_wake(k->c);
}

/* Reading is on for connected connections not paused and not at EOF. */
static void
httpc_conn_read_on(struct httpc_conn *k, bool on)
{
    on = on && !k->eof && k->state != HTTPC_C_DEAD && k->state != HTTPC_C_CONNECTING;
    if (on == k->read_armed)
        return;
    k->read_armed = on;
    if (on)
        AZ(event_add(&k->ev_read, NULL));
    else
        AZ(event_del(&k->ev_read));
}

/* Invariants of a connection and its request; checked by debug builds. */
static bool
httpc_conn_check(const struct httpc_conn *k)
{
    CHECK_OBJ_NOTNULL(k, HTTPC_CONN_MAGIC);
    CHECK_OBJ_NOTNULL(k->host, HTTPC_HOST_MAGIC);
    assert(k->state >= HTTPC_C_CONNECTING && k->state <= HTTPC_C_DEAD);
    if (k->req != NULL) {
        CHECK_OBJ(k->req, HTTPC_REQ_MAGIC);
        assert(k->req->conn == k);
        assert(k->req->state == HTTPC_R_HEAD || k->req->state == HTTPC_R_BODY);
        assert(k->state == HTTPC_C_CONNECTING || k->state == HTTPC_C_ACTIVE);
    }
    if (k->state == HTTPC_C_IDLE || k->state == HTTPC_C_DEAD)
        assert(k->req == NULL);
    assert(k->read_armed == (event_pending(&k->ev_read, EV_READ, NULL) != 0));
    if (k->read_armed)
        assert(!k->eof && k->state != HTTPC_C_CONNECTING && k->state != HTTPC_C_DEAD);
    assert(k->host->nidle <= k->host->nconns);
    return true;
}

/* ---- requests ---- */

static void
httpc_req_free(struct httpc_req *r)
{
    struct httpc *c = r->c;

    assert(r->conn == NULL);
    TAILQ_REMOVE(&c->reqs, r, link);
    r->host->nreqs--;
    if (r->host->nreqs == 0 && r->host->nconns == 0)
        httpc_async_wake(c); /* the host may go */
    if (r->out != NULL)
        evbuffer_free(r->out);
    xfree(r->head);
    xfree(r->fields);
    FREE_OBJ(r);
}

/* The request is detached from everything: tell the user, then free it. */
static void
httpc_req_finish(struct httpc_req *r, int err)
{
    assert(r->conn == NULL);
    if (err != 0)
        LOG(LOG_DEBUG, "httpc", "req_failed", "conn=0 upstream=%s err=%s retryable=%d",
            r->host->hostport, err_name(err), r->retryable);
    r->in_cb = true;
    r->in_done = true;
    r->cbs.on_done(r, err, r->arg);
    httpc_req_free(r);
}

/* Fails r from the loop, not from the caller's stack. */
static void
httpc_req_fail_async(struct httpc_req *r, int err, bool retryable, int code)
{
    metric_inc(httpc_m.errors[code]);
    r->state = HTTPC_R_FAILED;
    r->err = err;
    r->retryable = retryable;
    TAILQ_INSERT_TAIL(&r->c->async_reqs, r, qlink);
    httpc_async_wake(r->c);
}

/* ---- connections ---- */

static void
httpc_conn_unbind(struct httpc_conn *k)
{
    struct httpc_req *r = k->req;

    if (r != NULL) {
        r->conn = NULL;
        k->req = NULL;
    }
}

/* The request on k failed: the connection cannot be trusted any more. */
static void
httpc_conn_fail(struct httpc_conn *k, int err, int code)
{
    struct httpc_req *r = k->req;

    metric_inc(httpc_m.errors[code]);
    httpc_conn_unbind(k);
    httpc_conn_close(k);
    if (r != NULL)
        httpc_req_finish(r, err);
}

static void
httpc_conn_attach(struct httpc_conn *k, struct httpc_req *r)
{
    struct httpc *c = k->c;

    assert(k->req == NULL);
    k->req = r;
    r->conn = k;
    r->state = HTTPC_R_HEAD;
    r->retryable = false;
    k->nreqs++;
    AZ(evbuffer_add_buffer(bufferevent_get_output(k->bev), r->out));
    if (k->state == HTTPC_C_ACTIVE)
        httpc_req_wait_timer(k, r);
    (void)c;
}

/* k carries nothing now: give it to a waiting request, pool it or close it. */
static void
httpc_conn_release(struct httpc_conn *k)
{
    struct httpc *c = k->c;
    struct httpc_host *h = k->host;
    struct httpc_req *next;

    assert(k->req == NULL && k->state == HTTPC_C_ACTIVE);
    next = TAILQ_FIRST(&h->queue);
    if (next != NULL) {
        TAILQ_REMOVE(&h->queue, next, qlink);
        h->nqueue--;
        metric_inc(httpc_m.reused);
        httpc_conn_attach(k, next);
        httpc_conn_read_on(k, true);
        return;
    }
    if (h->nidle >= c->conf.max_idle_per_host || c->conf.idle_timeout_ms == 0) {
        httpc_conn_close(k);
        return;
    }
    k->state = HTTPC_C_IDLE;
    TAILQ_INSERT_HEAD(&h->idle, k, idle_link);
    h->nidle++;
    c->nidle++;
    c->nactive--;
    /* Reading stays on: an EOF or stray bytes while pooled close it. */
    httpc_conn_read_on(k, true);
    httpc_timer(&k->timer, c->conf.idle_timeout_ms);
}

static void
httpc_conn_close(struct httpc_conn *k)
{
    struct httpc *c = k->c;
    struct httpc_host *h = k->host;
    struct httpc_req *next;

    if (k->state == HTTPC_C_DEAD)
        return;
    assert(k->req == NULL);
    if (k->state == HTTPC_C_IDLE) {
        TAILQ_REMOVE(&h->idle, k, idle_link);
        h->nidle--;
        c->nidle--;
    } else {
        c->nactive--;
    }
    k->state = HTTPC_C_DEAD;
    event_del(&k->timer);
    httpc_conn_read_on(k, false);
    bufferevent_disable(k->bev, EV_READ | EV_WRITE);
    bufferevent_setcb(k->bev, NULL, NULL, NULL, NULL);
    h->nconns--;
    httpc_conn_async(k, HTTPC_ASYNC_FREE);
    /* A slot opened: the first waiting request may connect. */
    next = TAILQ_FIRST(&h->queue);
    if (next != NULL) {
        TAILQ_REMOVE(&h->queue, next, qlink);
        h->nqueue--;
        next->state = HTTPC_R_NEW;
        httpc_req_dispatch(next);
    }
}

static void
httpc_conn_free(struct httpc_conn *k)
{
    struct httpc *c = k->c;

    assert(k->state == HTTPC_C_DEAD && k->req == NULL);
    event_del(&k->timer);
    event_del(&k->ev_read);
    bufferevent_free(k->bev);
    evutil_closesocket(k->fd);
    TAILQ_REMOVE(&c->conns, k, link);
    FREE_OBJ(k);
}

/* A user callback of r has returned: did it cancel r? Then drop it. */
static bool
httpc_req_after_cb(struct httpc_conn *k, struct httpc_req *r)
{
    r->in_cb = false;
    if (!r->canceled)
        return false;
    httpc_conn_unbind(k);
    httpc_conn_close(k); /* mid-response: the connection cannot be reused */
    httpc_req_free(r);
    return true;
}

static void
httpc_req_fields(struct httpc_req *r)
{
    struct http1_msg *m = &r->msg;
    struct http1_span s;
    size_t i, j;
    char *p;

    r->nfields = m->nhdrs;
    r->fields = xcalloc(m->nhdrs ? m->nhdrs : 1, sizeof(*r->fields));
    for (i = 0; i < m->nhdrs; i++) {
        for (j = 0; j < 2; j++) {
            s = j == 0 ? m->hdrs[i].name : m->hdrs[i].value;
            p = r->head + s.off;
            /* The byte after a name is ':'; after a value, OWS or CR/LF:
             * NUL-terminate in place. */
            if (s.len == 0)
                p = (char *)"";
            else
                p[s.len] = '\0';
            if (j == 0)
                r->fields[i].name = p;
            else
                r->fields[i].value = p;
        }
    }
}

/* Parses the response head. Returns true when something changed. */
static bool
httpc_conn_head(struct httpc_conn *k, struct httpc_req *r)
{
    struct httpc *c = k->c;
    struct evbuffer *in = bufferevent_get_input(k->bev);
    size_t len = evbuffer_get_length(in), n;
    uint32_t max_head = r->msg.lim.max_head;
    unsigned char *p;
    long rc;

    if (len == 0)
        return false;
    r->got_bytes = true;
    n = len < max_head ? len : max_head;
    p = evbuffer_pullup(in, (ev_ssize_t)n);
    AN(p);
    rc = http1_parse_head(&r->msg, p, n);
    if (rc == ERR_AGAIN && n < max_head)
        return false;
    if (rc < 0) {
        LOG_RL(LOG_INFO, "httpc", "bad_response", 10, "conn=0 upstream=%s code=%s",
               k->host->hostport, http1_error_code(r->msg.error));
        httpc_conn_fail(k, ERR_UPSTREAM, HTTPC_ERR_BAD_RESPONSE);
        return true;
    }
    if (r->msg.status < 200) {
        /* SPEC: RFC 9110 15.2 -- interim responses are skipped; we never
         * ask to switch protocols. */
        if (r->msg.status == 101) {
            httpc_conn_fail(k, ERR_UPSTREAM, HTTPC_ERR_BAD_RESPONSE);
            return true;
        }
        AZ(evbuffer_drain(in, (size_t)rc));
        metric_add(httpc_m.bytes_in, (uint64_t)rc);
        http1_msg_init(&r->msg, HTTP1_RESPONSE, &c->conf.limits);
        return true;
    }
    r->head_len = (uint32_t)rc;
    r->head = xmalloc((size_t)rc + 1);
    AN(evbuffer_remove(in, r->head, (size_t)rc) == (int)rc);
    r->head[rc] = '\0';
    metric_add(httpc_m.bytes_in, (uint64_t)rc);
    httpc_req_fields(r);
    r->body_mode = http1_body_mode(&r->msg, r->method);
    http1_body_init(&r->body, r->body_mode, r->msg.content_length, c->conf.max_body);
    if (r->body.error == HTTP1_E_BODY_TOO_LARGE) {
        httpc_conn_fail(k, ERR_LIMIT, HTTPC_ERR_BODY_TOO_LARGE);
        return true;
    }
    r->state = HTTPC_R_BODY;
    httpc_timer(&k->timer, c->conf.body_timeout_ms);
    if (r->cbs.on_head != NULL) {
        r->in_cb = true;
        r->cbs.on_head(r, r->arg);
        if (httpc_req_after_cb(k, r))
            return true;
    }
    return true;
}

/* The whole response arrived. */
static void
httpc_conn_complete(struct httpc_conn *k)
{
    struct httpc_req *r = k->req;
    bool reuse;

    /* An answer that came before the whole streamed body went out leaves
     * the connection's framing unknown. */
    reuse = (!r->stream || r->body_written == r->body_len) && r->msg.keep_alive &&
            r->body_mode != HTTP1_BODY_EOF &&
            evbuffer_get_length(bufferevent_get_input(k->bev)) == 0 && k->state == HTTPC_C_ACTIVE;
    event_del(&k->timer);
    httpc_conn_unbind(k);
    if (reuse)
        httpc_conn_release(k);
    else
        httpc_conn_close(k);
    httpc_req_finish(r, 0);
}

/* Feeds the response body. Returns true when something changed. */
static bool
httpc_conn_body(struct httpc_conn *k, struct httpc_req *r)
{
    struct evbuffer *in = bufferevent_get_input(k->bev);
    struct evbuffer_iovec v;
    size_t off, dlen;
    long rc;

    if (r->body_mode == HTTP1_BODY_NONE || r->body.done) {
        httpc_conn_complete(k);
        return true;
    }
    if (evbuffer_peek(in, -1, NULL, &v, 1) < 1 || v.iov_len == 0)
        return false;
    rc = http1_body_parse(&r->body, v.iov_base, v.iov_len, &off, &dlen);
    if (rc < 0) {
        if (rc == ERR_LIMIT && r->body.error == HTTP1_E_BODY_TOO_LARGE)
            httpc_conn_fail(k, ERR_LIMIT, HTTPC_ERR_BODY_TOO_LARGE);
        else
            httpc_conn_fail(k, ERR_UPSTREAM, HTTPC_ERR_BAD_RESPONSE);
        return true;
    }
    if (rc == 0)
        return false;
    if (dlen != 0 && r->cbs.on_body != NULL) {
        r->in_cb = true;
        r->cbs.on_body(r, (const char *)v.iov_base + off, dlen, r->arg);
        if (httpc_req_after_cb(k, r))
            return true;
    }
    AZ(evbuffer_drain(in, (size_t)rc));
    metric_add(httpc_m.bytes_in, (uint64_t)rc);
    if (!r->body.done && !r->paused)
        httpc_timer(&k->timer, k->c->conf.body_timeout_ms);
    return true;
}

static void
httpc_conn_process(struct httpc_conn *k)
{
    struct httpc_req *r;

    for (;;) {
        r = k->req;
        if (r == NULL || k->state != HTTPC_C_ACTIVE || r->paused)
            return;
        if (r->state == HTTPC_R_HEAD) {
            if (!httpc_conn_head(k, r))
                return;
        } else if (r->state == HTTPC_R_BODY) {
            if (!httpc_conn_body(k, r))
                return;
        } else {
            return;
        }
    }
}

/* The upstream closed or reset while k carried a request. */
static void
httpc_conn_closed(struct httpc_conn *k)
{
    struct httpc_req *r = k->req;

    /* SPEC: RFC 9112 9.3.1 -- a reused connection may have been closed by
     * the server just as we sent: nothing was processed, retry is safe. */
    r->retryable = k->nreqs > 1 && !r->got_bytes;
    httpc_conn_fail(k, ERR_UPSTREAM, HTTPC_ERR_CLOSED);
}

/* The upstream sent EOF: that ends a close-delimited body, else it is an
 * early close. Buffered bytes a paused reader has not taken go first. */
static void
httpc_conn_eof(struct httpc_conn *k)
{
    struct httpc_req *r = k->req;

    httpc_conn_process(k);
    if (k->req != r || r == NULL)
        return;
    if (r->paused && evbuffer_get_length(bufferevent_get_input(k->bev)) != 0)
        return; /* the resume comes back here */
    if (r->state == HTTPC_R_BODY && r->body_mode == HTTP1_BODY_EOF &&
        http1_body_eof(&r->body) == 0) {
        httpc_conn_complete(k);
        return;
    }
    httpc_conn_closed(k);
}

/* The upstream closed (eof) or reset the connection. */
static void
httpc_conn_lost(struct httpc_conn *k, bool eof)
{
    if (k->req == NULL) {
        httpc_conn_close(k);
        return;
    }
    if (!eof) {
        httpc_conn_closed(k);
        return;
    }
    k->eof = true;
    httpc_conn_read_on(k, false);
    httpc_conn_eof(k);
}

/*
 * Reads with one recv() straight into the input buffer, growing the size
 * while reads fill it. (evbuffer_read() would ask ioctl(FIONREAD) first and
 * read at most 4 KiB: for a 2 MB segment, 1000 system calls instead of ~10.)
 */
static void
httpc_conn_readable_cb(evutil_socket_t fd, short what, void *arg)
{
    struct httpc_conn *k;
    struct evbuffer *in;
    struct evbuffer_iovec v;
    ssize_t n;
    int e;

    (void)what;
    CAST_OBJ_NOTNULL(k, arg, HTTPC_CONN_MAGIC);
    DASSERT(httpc_conn_check(k));
    in = bufferevent_get_input(k->bev);
    evbuffer_unfreeze(in, 0);
    AN(evbuffer_reserve_space(in, (ev_ssize_t)k->rsize, &v, 1) == 1);
    if (FAULT("httpc.recv")) {
        n = -1;
        errno = ECONNRESET;
    } else {
        n = recv(fd, v.iov_base, k->rsize, 0);
    }
    e = errno;
    if (n > 0) {
        v.iov_len = (size_t)n;
        AZ(evbuffer_commit_space(in, &v, 1));
        if ((size_t)n == k->rsize && k->rsize < HTTPC_READ_MAX)
            k->rsize *= 2;
    } else if (evbuffer_get_length(in) == 0) {
        AZ(evbuffer_drain(in, 0)); /* frees the chain reserved for nothing */
    }
    evbuffer_freeze(in, 0);
    if (n < 0) {
        if (e != EAGAIN && e != EWOULDBLOCK && e != EINTR)
            httpc_conn_lost(k, false);
        return;
    }
    if (n == 0) {
        httpc_conn_lost(k, true);
        return;
    }
    if (k->state == HTTPC_C_IDLE) {
        /* Bytes nobody asked for: the connection's framing is lost. */
        AZ(evbuffer_drain(in, evbuffer_get_length(in)));
        httpc_conn_close(k);
        return;
    }
    httpc_conn_process(k);
}

/* The output fell to half the body watermark: a paused producer may go on. */
static void
httpc_conn_write_cb(struct bufferevent *bev, void *arg)
{
    struct httpc_conn *k;
    struct httpc_req *r;

    CAST_OBJ_NOTNULL(k, arg, HTTPC_CONN_MAGIC);
    assert(k->bev == bev);
    r = k->req;
    if (r == NULL || !r->stream || k->state != HTTPC_C_ACTIVE)
        return;
    if (r->state == HTTPC_R_HEAD)
        httpc_req_wait_timer(k, r); /* the upstream is taking the body */
    if (!r->want_writable || !httpc_req_body_writable(r))
        return;
    r->want_writable = false;
    if (r->cbs.on_writable == NULL)
        return;
    r->in_cb = true;
    r->cbs.on_writable(r, r->arg);
    (void)httpc_req_after_cb(k, r);
}

static void
httpc_conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
    struct httpc_conn *k;
    struct httpc_req *r;

    CAST_OBJ_NOTNULL(k, arg, HTTPC_CONN_MAGIC);
    assert(k->bev == bev);
    DASSERT(httpc_conn_check(k));
    r = k->req;
    if (what & BEV_EVENT_CONNECTED) {
        assert(k->state == HTTPC_C_CONNECTING);
        k->state = HTTPC_C_ACTIVE;
        if (r == NULL) {
            event_del(&k->timer);
            httpc_conn_release(k);
            return;
        }
        httpc_conn_read_on(k, !r->paused);
        httpc_req_wait_timer(k, r);
        return;
    }
    if (!(what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)))
        return;
    if (r == NULL) {
        httpc_conn_close(k);
        return;
    }
    if (k->state == HTTPC_C_CONNECTING) {
        LOG(LOG_DEBUG, "httpc", "connect_failed", "conn=0 upstream=%s err=%s", k->host->hostport,
            err_name(-EVUTIL_SOCKET_ERROR()));
        r->retryable = true;
        httpc_conn_fail(k, ERR_UPSTREAM, HTTPC_ERR_CONNECT);
        return;
    }
    httpc_conn_lost(k, !(what & BEV_EVENT_ERROR)); /* (seen by a write) */
}

static void
httpc_conn_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    struct httpc_conn *k;
    struct httpc_req *r;

    (void)fd;
    (void)what;
    CAST_OBJ_NOTNULL(k, arg, HTTPC_CONN_MAGIC);
    DASSERT(httpc_conn_check(k));
    r = k->req;
    if (r == NULL) {
        httpc_conn_close(k); /* pool idle timeout (or a cancelled connect) */
        return;
    }
    if (k->state == HTTPC_C_CONNECTING) {
        r->retryable = true;
        httpc_conn_fail(k, ERR_TIMEOUT, HTTPC_ERR_TIMEOUT_CONNECT);
    } else if (r->state == HTTPC_R_HEAD) {
        httpc_conn_fail(k, ERR_TIMEOUT, HTTPC_ERR_TIMEOUT_HEADER);
    } else {
        httpc_conn_fail(k, ERR_TIMEOUT, HTTPC_ERR_TIMEOUT_BODY);
    }
}

/* setsockopt(TCP_NODELAY): 0, or -1 with errno set. */
static int
httpc_conn_nodelay(evutil_socket_t fd)
{
    int one = 1;

    if (FAULT("httpc.nodelay")) {
        errno = ENOBUFS;
        return -1;
    }
    return setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

/* Opens a connection to h; NULL (errno set) when no socket could be made
 * or set up. */
static struct httpc_conn *
httpc_conn_new(struct httpc_host *h)
{
    struct httpc *c = h->c;
    struct httpc_conn *k;
    struct bufferevent *bev;
    evutil_socket_t fd;
    int e;

    if (FAULT("httpc.connect")) {
        errno = ECONNREFUSED;
        return NULL;
    }
    fd = socket(h->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return NULL;
    /* Without TCP_NODELAY a request's head and body could sit out Nagle's
     * delay; on a fresh socket it fails only when the kernel is out of
     * memory, so this attempt fails like a refused connect (retryable). */
    if (h->addr.ss_family != AF_UNIX && httpc_conn_nodelay(fd) != 0) {
        e = errno;
        LOG(LOG_DEBUG, "httpc", "sockopt_failed", "conn=0 upstream=%s opt=TCP_NODELAY err=%s",
            h->hostport, err_name(-e));
        evutil_closesocket(fd);
        errno = e;
        return NULL;
    }
    bev = bufferevent_socket_new(c->base, fd, 0);
    if (bev == NULL) {
        evutil_closesocket(fd);
        errno = ENOMEM;
        return NULL;
    }
    k = xcalloc(1, sizeof(*k));
    k->magic = HTTPC_CONN_MAGIC;
    k->c = c;
    k->host = h;
    k->bev = bev;
    k->fd = fd;
    k->state = HTTPC_C_CONNECTING;
    AZ(event_assign(&k->timer, c->base, -1, 0, httpc_conn_timer_cb, k));
    AZ(event_assign(&k->ev_read, c->base, fd, EV_READ | EV_PERSIST, httpc_conn_readable_cb, k));
    k->rsize = HTTPC_READ_MIN;
    bufferevent_setcb(bev, NULL, httpc_conn_write_cb, httpc_conn_event_cb, k);
    bufferevent_setwatermark(bev, EV_WRITE, c->conf.body_watermark / 2, 0);
    TAILQ_INSERT_TAIL(&c->conns, k, link);
    h->nconns++;
    c->nactive++;
    if (bufferevent_socket_connect(bev, (struct sockaddr *)&h->addr, (int)h->addrlen) != 0) {
        /* Refused at once (bad address family, no route): closed through
         * the normal path so the counts stay right. */
        k->state = HTTPC_C_ACTIVE;
        httpc_conn_close(k);
        errno = ECONNREFUSED;
        return NULL;
    }
    AZ(bufferevent_enable(bev, EV_WRITE));
    metric_inc(httpc_m.opened);
    httpc_timer(&k->timer, c->conf.connect_timeout_ms);
    return k;
}

static void
httpc_req_dispatch(struct httpc_req *r)
{
    struct httpc *c = r->c;
    struct httpc_host *h = r->host;
    struct httpc_conn *k;

    k = TAILQ_FIRST(&h->idle);
    if (k != NULL) {
        TAILQ_REMOVE(&h->idle, k, idle_link);
        h->nidle--;
        c->nidle--;
        c->nactive++;
        k->state = HTTPC_C_ACTIVE;
        metric_inc(httpc_m.reused);
        httpc_conn_attach(k, r);
        return;
    }
    if (c->conf.max_conns_per_host == 0 || h->nconns < c->conf.max_conns_per_host) {
        k = httpc_conn_new(h);
        if (k == NULL) {
            httpc_req_fail_async(r, ERR_UPSTREAM, true, HTTPC_ERR_CONNECT);
            return;
        }
        httpc_conn_attach(k, r);
        return;
    }
    if (h->nqueue < c->conf.max_queue_per_host) {
        r->state = HTTPC_R_QUEUED;
        TAILQ_INSERT_TAIL(&h->queue, r, qlink);
        h->nqueue++;
        return;
    }
    httpc_req_fail_async(r, ERR_LIMIT, true, HTTPC_ERR_QUEUE_FULL);
}

/* ---- hosts ---- */

static void
httpc_hostport_format(char *dst, size_t dstsz, const struct sockaddr *sa)
{
    char ip[INET6_ADDRSTRLEN];
    const struct sockaddr_in *s4;
    const struct sockaddr_in6 *s6;

    if (sa->sa_family == AF_INET) {
        s4 = (const struct sockaddr_in *)(const void *)sa;
        if (inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof(ip)) != NULL) {
            snprintf(dst, dstsz, "%s:%u", ip, (unsigned)ntohs(s4->sin_port));
            return;
        }
    } else if (sa->sa_family == AF_INET6) {
        s6 = (const struct sockaddr_in6 *)(const void *)sa;
        if (inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof(ip)) != NULL) {
            snprintf(dst, dstsz, "[%s]:%u", ip, (unsigned)ntohs(s6->sin6_port));
            return;
        }
    }
    snprintf(dst, dstsz, "localhost");
}

static struct httpc_host *
httpc_host_get(struct httpc *c, const struct sockaddr *addr, socklen_t addrlen)
{
    struct httpc_host *h;

    TAILQ_FOREACH(h, &c->hosts, link)
    if (h->addrlen == addrlen && memcmp(&h->addr, addr, addrlen) == 0)
        return h;
    h = xcalloc(1, sizeof(*h));
    h->magic = HTTPC_HOST_MAGIC;
    h->c = c;
    memcpy(&h->addr, addr, addrlen);
    h->addrlen = addrlen;
    httpc_hostport_format(h->hostport, sizeof(h->hostport), addr);
    TAILQ_INIT(&h->idle);
    TAILQ_INIT(&h->queue);
    TAILQ_INSERT_TAIL(&c->hosts, h, link);
    return h;
}

static void
httpc_host_free(struct httpc_host *h)
{
    assert(h->nconns == 0 && h->nreqs == 0 && h->nqueue == 0 && h->nidle == 0);
    TAILQ_REMOVE(&h->c->hosts, h, link);
    FREE_OBJ(h);
}

/* ---- the async event ---- */

static void
httpc_async_cb(evutil_socket_t fd, short what, void *arg)
{
    struct httpc *c;
    struct httpc_conn *k;
    struct httpc_req *r;
    struct httpc_host *h, *hn;
    uint8_t flags;
    int budget = HTTPC_ASYNC_BATCH;

    (void)fd;
    (void)what;
    CAST_OBJ_NOTNULL(c, arg, HTTPC_MAGIC);
    while (budget-- > 0 && (k = TAILQ_FIRST(&c->async_conns)) != NULL) {
        TAILQ_REMOVE(&c->async_conns, k, async_link);
        flags = k->async;
        k->async = 0;
        if (flags & HTTPC_ASYNC_FREE)
            httpc_conn_free(k);
        else if (flags & HTTPC_ASYNC_RESUME) {
            httpc_conn_process(k);
            if (k->eof && k->req != NULL && !k->req->paused)
                httpc_conn_eof(k);
        }
    }
    while (budget-- > 0 && (r = TAILQ_FIRST(&c->async_reqs)) != NULL) {
        TAILQ_REMOVE(&c->async_reqs, r, qlink);
        httpc_req_finish(r, r->err);
    }
    if (!TAILQ_EMPTY(&c->async_conns) || !TAILQ_EMPTY(&c->async_reqs)) {
        httpc_async_wake(c);
        return;
    }
    for (h = TAILQ_FIRST(&c->hosts); h != NULL; h = hn) {
        hn = TAILQ_NEXT(h, link);
        if (h->nconns == 0 && h->nreqs == 0)
            httpc_host_free(h);
    }
}

/* ---- public ---- */

struct httpc *
httpc_new(struct event_base *base, const struct httpc_conf *conf)
{
    struct httpc *c;

    AN(base);
    AZ(pthread_once(&httpc_m_once, httpc_metrics_init));
    c = xcalloc(1, sizeof(*c));
    c->magic = HTTPC_MAGIC;
    c->base = base;
    if (conf != NULL)
        c->conf = *conf;
    else
        httpc_conf_defaults(&c->conf);
    TAILQ_INIT(&c->hosts);
    TAILQ_INIT(&c->conns);
    TAILQ_INIT(&c->reqs);
    TAILQ_INIT(&c->async_reqs);
    TAILQ_INIT(&c->async_conns);
    c->ev_async = event_new(base, -1, 0, httpc_async_cb, c);
    AN(c->ev_async);
    return c;
}

void
httpc_set_conf(struct httpc *c, const struct httpc_conf *conf)
{
    CHECK_OBJ_NOTNULL(c, HTTPC_MAGIC);
    c->conf = *conf;
}

void
httpc_free(struct httpc **pc)
{
    struct httpc *c = *pc;
    struct httpc_conn *k;
    struct httpc_req *r;
    struct httpc_host *h;

    if (c == NULL)
        return;
    *pc = NULL;
    CHECK_OBJ(c, HTTPC_MAGIC);
    /* Pending requests are dropped without a callback. */
    while ((k = TAILQ_FIRST(&c->conns)) != NULL) {
        httpc_conn_unbind(k);
        if (k->state == HTTPC_C_IDLE) {
            TAILQ_REMOVE(&k->host->idle, k, idle_link);
            k->host->nidle--;
        }
        if (k->async != 0)
            TAILQ_REMOVE(&c->async_conns, k, async_link);
        if (k->state != HTTPC_C_DEAD)
            k->host->nconns--;
        k->state = HTTPC_C_DEAD;
        bufferevent_setcb(k->bev, NULL, NULL, NULL, NULL);
        httpc_conn_free(k);
    }
    while ((r = TAILQ_FIRST(&c->reqs)) != NULL) {
        if (r->state == HTTPC_R_QUEUED) {
            TAILQ_REMOVE(&r->host->queue, r, qlink);
            r->host->nqueue--;
        } else if (r->state == HTTPC_R_FAILED) {
            TAILQ_REMOVE(&c->async_reqs, r, qlink);
        }
        httpc_req_free(r);
    }
    while ((h = TAILQ_FIRST(&c->hosts)) != NULL)
        httpc_host_free(h);
    event_free(c->ev_async);
    FREE_OBJ(c);
}

static bool
httpc_token_ok(const char *s)
{
    const char *p;

    if (s == NULL || s[0] == '\0')
        return false;
    for (p = s; *p != '\0'; p++) {
        unsigned char ch = (unsigned char)*p;
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              strchr("!#$%&'*+-.^_`|~", ch) != NULL))
            return false;
    }
    return true;
}

static bool
httpc_text_ok(const char *s, bool allow_space)
{
    const unsigned char *p;

    for (p = (const unsigned char *)s; *p != '\0'; p++)
        if (*p == '\r' || *p == '\n' || (!allow_space && (*p == ' ' || *p == '\t')) || *p < 0x09 ||
            *p == 0x7f)
            return false;
    return true;
}

static enum http1_method
httpc_method_enum(const char *m)
{
    static const struct {
        const char *name;
        enum http1_method m;
    } tab[] = {
        {"GET", HTTP1_M_GET},     {"HEAD", HTTP1_M_HEAD},     {"POST", HTTP1_M_POST},
        {"PUT", HTTP1_M_PUT},     {"DELETE", HTTP1_M_DELETE}, {"OPTIONS", HTTP1_M_OPTIONS},
        {"PATCH", HTTP1_M_PATCH}, {"PURGE", HTTP1_M_PURGE},   {"CONNECT", HTTP1_M_CONNECT},
        {"TRACE", HTTP1_M_TRACE},
    };
    size_t i;

    for (i = 0; i < ARRAY_SIZE(tab); i++)
        if (strcmp(m, tab[i].name) == 0)
            return tab[i].m;
    return HTTP1_M_OTHER;
}

static struct httpc_req *
httpc_request_new(struct httpc *c, const struct sockaddr *addr, socklen_t addrlen,
                  const char *method, const char *target, const char *const *headers,
                  const void *body, uint64_t body_len, bool stream, const struct httpc_cbs *cbs,
                  void *arg)
{
    struct httpc_req *r;
    struct evbuffer *out;
    bool has_host = false, has_cl = false;
    size_t i;

    CHECK_OBJ_NOTNULL(c, HTTPC_MAGIC);
    if (addr == NULL || addrlen == 0 || addrlen > sizeof(struct sockaddr_storage) ||
        (addr->sa_family != AF_INET && addr->sa_family != AF_INET6) || cbs == NULL ||
        cbs->on_done == NULL || !httpc_token_ok(method) || target == NULL || target[0] == '\0' ||
        !httpc_text_ok(target, false) || (!stream && body == NULL && body_len != 0))
        return NULL;
    for (i = 0; headers != NULL && headers[i] != NULL; i += 2) {
        if (headers[i + 1] == NULL || !httpc_token_ok(headers[i]) ||
            !httpc_text_ok(headers[i + 1], true))
            return NULL;
        /* Request bodies are sent with a length; no chunked coding yet. */
        if (strcasecmp(headers[i], "Transfer-Encoding") == 0)
            return NULL;
        if (strcasecmp(headers[i], "Host") == 0)
            has_host = true;
        else if (strcasecmp(headers[i], "Content-Length") == 0)
            has_cl = true;
    }
    if (stream && has_cl)
        return NULL; /* the declared length is ours to write */

    out = evbuffer_new();
    AN(out);
    AZ(evbuffer_add_printf(out, "%s %s HTTP/1.1\r\n", method, target) < 0);
    for (i = 0; headers != NULL && headers[i] != NULL; i += 2)
        AZ(evbuffer_add_printf(out, "%s: %s\r\n", headers[i], headers[i + 1]) < 0);
    r = xcalloc(1, sizeof(*r));
    r->magic = HTTPC_REQ_MAGIC;
    r->c = c;
    r->host = httpc_host_get(c, addr, addrlen);
    r->host->nreqs++;
    if (!has_host)
        AZ(evbuffer_add_printf(out, "Host: %s\r\n", r->host->hostport) < 0);
    /* SPEC: RFC 9110 8.6 -- a length for any body, and for methods that
     * expect one even when empty. */
    if (!has_cl && (body_len != 0 || stream || strcmp(method, "POST") == 0 ||
                    strcmp(method, "PUT") == 0 || strcmp(method, "PATCH") == 0))
        AZ(evbuffer_add_printf(out, "Content-Length: %" PRIu64 "\r\n", body_len) < 0);
    AZ(evbuffer_add(out, "\r\n", 2));
    if (!stream && body_len != 0)
        AZ(evbuffer_add(out, body, (size_t)body_len));
    r->stream = stream;
    if (stream)
        r->body_len = body_len;
    r->out = out;
    r->method = httpc_method_enum(method);
    r->cbs = *cbs;
    r->arg = arg;
    http1_msg_init(&r->msg, HTTP1_RESPONSE, &c->conf.limits);
    TAILQ_INSERT_TAIL(&c->reqs, r, link);
    metric_inc(httpc_m.requests);
    httpc_req_dispatch(r);
    return r;
}

struct httpc_req *
httpc_request(struct httpc *c, const struct sockaddr *addr, socklen_t addrlen, const char *method,
              const char *target, const char *const *headers, const void *body, size_t body_len,
              const struct httpc_cbs *cbs, void *arg)
{
    if (body == NULL && body_len != 0)
        return NULL;
    return httpc_request_new(c, addr, addrlen, method, target, headers, body, body_len, false, cbs,
                             arg);
}

struct httpc_req *
httpc_request_stream(struct httpc *c, const struct sockaddr *addr, socklen_t addrlen,
                     const char *method, const char *target, const char *const *headers,
                     uint64_t body_len, const struct httpc_cbs *cbs, void *arg)
{
    return httpc_request_new(c, addr, addrlen, method, target, headers, NULL, body_len, true, cbs,
                             arg);
}

/* The buffer a streamed body byte goes to now: the connection's output
 * once the request is carried, else the request's own buffer. */
static struct evbuffer *
httpc_req_outbuf(const struct httpc_req *r)
{
    if (r->conn != NULL)
        return bufferevent_get_output(r->conn->bev);
    return r->out;
}

size_t
httpc_req_body_queued(const struct httpc_req *r)
{
    CHECK_OBJ_NOTNULL(r, HTTPC_REQ_MAGIC);
    if (r->state == HTTPC_R_FAILED || httpc_req_outbuf(r) == NULL)
        return 0;
    return evbuffer_get_length(httpc_req_outbuf(r));
}

uint64_t
httpc_req_body_written(const struct httpc_req *r)
{
    CHECK_OBJ_NOTNULL(r, HTTPC_REQ_MAGIC);
    return r->body_written;
}

bool
httpc_req_body_writable(struct httpc_req *r)
{
    bool ok;

    CHECK_OBJ_NOTNULL(r, HTTPC_REQ_MAGIC);
    ok = httpc_req_body_queued(r) < r->c->conf.body_watermark;
    if (!ok)
        r->want_writable = true; /* on_writable is owed */
    return ok;
}

int
httpc_req_body_write(struct httpc_req *r, const void *data, size_t len)
{
    struct httpc_conn *k;

    CHECK_OBJ_NOTNULL(r, HTTPC_REQ_MAGIC);
    if (!r->stream || r->in_done)
        return ERR_PROTO;
    if (len > r->body_len - r->body_written)
        return ERR_LIMIT;
    r->body_written += len;
    if (r->state == HTTPC_R_FAILED || len == 0)
        return 0; /* on_done is on its way; the bytes have nowhere to go */
    AZ(evbuffer_add(httpc_req_outbuf(r), data, len));
    k = r->conn;
    if (k != NULL && k->state == HTTPC_C_ACTIVE && r->state == HTTPC_R_HEAD)
        httpc_req_wait_timer(k, r);
    return 0;
}

int
httpc_req_body_end(struct httpc_req *r)
{
    struct httpc_conn *k;

    CHECK_OBJ_NOTNULL(r, HTTPC_REQ_MAGIC);
    if (!r->stream || r->body_written != r->body_len)
        return ERR_PROTO;
    k = r->conn;
    if (k != NULL && k->state == HTTPC_C_ACTIVE && r->state == HTTPC_R_HEAD)
        httpc_req_wait_timer(k, r);
    return 0;
}

void
httpc_req_cancel(struct httpc_req **pr)
{
    struct httpc_req *r = *pr;
    struct httpc_conn *k;

    *pr = NULL;
    if (r == NULL)
        return;
    CHECK_OBJ(r, HTTPC_REQ_MAGIC);
    if (r->in_done)
        return; /* freed when on_done returns */
    if (r->in_cb) {
        r->canceled = true; /* the frame that called the user drops it */
        return;
    }
    switch (r->state) {
    case HTTPC_R_QUEUED:
        TAILQ_REMOVE(&r->host->queue, r, qlink);
        r->host->nqueue--;
        break;
    case HTTPC_R_FAILED:
        TAILQ_REMOVE(&r->c->async_reqs, r, qlink);
        break;
    case HTTPC_R_HEAD:
    case HTTPC_R_BODY:
        /* Part of the request may be out already: the connection's
         * framing is unknown, so it is closed, never pooled. */
        k = r->conn;
        AN(k);
        httpc_conn_unbind(k);
        httpc_conn_close(k);
        break;
    default:
        break;
    }
    httpc_req_free(r);
}

void
httpc_req_pause(struct httpc_req *r, bool pause)
{
    struct httpc_conn *k;

    CHECK_OBJ_NOTNULL(r, HTTPC_REQ_MAGIC);
    if (r->paused == pause)
        return;
    r->paused = pause;
    k = r->conn;
    if (k == NULL || k->state == HTTPC_C_DEAD)
        return;
    if (pause) {
        httpc_conn_read_on(k, false);
        if (r->state == HTTPC_R_BODY)
            event_del(&k->timer);
        return;
    }
    httpc_conn_read_on(k, true);
    if (r->state == HTTPC_R_BODY)
        httpc_timer(&k->timer, k->c->conf.body_timeout_ms);
    /* Buffered bytes are delivered from the loop, not from this call. */
    httpc_conn_async(k, HTTPC_ASYNC_RESUME);
}

int
httpc_resp_status(const struct httpc_req *r)
{
    CHECK_OBJ_NOTNULL(r, HTTPC_REQ_MAGIC);
    return r->head != NULL ? r->msg.status : 0;
}

const char *
httpc_resp_header(const struct httpc_req *r, const char *name)
{
    size_t i;

    CHECK_OBJ_NOTNULL(r, HTTPC_REQ_MAGIC);
    for (i = 0; i < r->nfields; i++)
        if (strcasecmp(r->fields[i].name, name) == 0)
            return r->fields[i].value;
    return NULL;
}

size_t
httpc_resp_header_count(const struct httpc_req *r)
{
    CHECK_OBJ_NOTNULL(r, HTTPC_REQ_MAGIC);
    return r->nfields;
}

void
httpc_resp_header_at(const struct httpc_req *r, size_t i, const char **name, const char **value)
{
    CHECK_OBJ_NOTNULL(r, HTTPC_REQ_MAGIC);
    assert(i < r->nfields);
    *name = r->fields[i].name;
    *value = r->fields[i].value;
}

int64_t
httpc_resp_content_length(const struct httpc_req *r)
{
    CHECK_OBJ_NOTNULL(r, HTTPC_REQ_MAGIC);
    if (r->head == NULL || r->msg.chunked)
        return -1;
    return r->msg.content_length;
}

bool
httpc_req_retryable(const struct httpc_req *r)
{
    CHECK_OBJ_NOTNULL(r, HTTPC_REQ_MAGIC);
    /* streamed body bytes already given cannot be sent again */
    return r->retryable && !(r->stream && r->body_written > 0);
}

unsigned
httpc_idle_count(const struct httpc *c)
{
    CHECK_OBJ_NOTNULL(c, HTTPC_MAGIC);
    return c->nidle;
}

unsigned
httpc_active_count(const struct httpc *c)
{
    CHECK_OBJ_NOTNULL(c, HTTPC_MAGIC);
    return c->nactive;
}
