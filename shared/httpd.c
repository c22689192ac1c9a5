/*
 * httpd.c -- the HTTP/1.1 server on libevent bufferevents (SPEC: RFC 9112).
 *
 * One struct httpd per event loop owns its listener and connections. A
 * connection is a small state machine (enum httpd_cstate in httpd_int.h):
 * IDLE -> HEAD -> REQ -> (DISCARD) -> IDLE ..., or CLOSING -> (LINGER) ->
 * DEAD. A request is only parsed once the previous response was queued in
 * full and the output is under the high watermark, so pipelined requests
 * are answered strictly in order and a client that does not read stops
 * being read.
 *
 * Re-entrancy. Every way into a connection (bufferevent callbacks, its
 * timer, the httpd's async event) is bracketed by httpd_conn_enter() and
 * httpd_conn_leave(); only the outermost leave runs the state machine and
 * writes. Calls from a producer outside those frames (an upstream callback
 * writing body bytes) queue the connection on the async event instead, so
 * user code never re-enters the state machine and many writes in one loop
 * turn leave as one writev(). Connections are freed from the async event
 * only (STYLE 6: never free an object inside its own callback).
 *
 * Writes. EV_WRITE stays disabled while the output is empty; the outermost
 * leave writes the output directly with evbuffer_write(). Only when the
 * socket would block is EV_WRITE enabled, and the bufferevent takes over
 * (its write timeout is the send timeout) until the output is empty again.
 * A keep-alive response thus costs one writev() and no epoll_ctl().
 *
 * Memory. An idle connection holds its struct httpd_conn and the
 * bufferevent only: the request (parser state, head copy, arena) is one
 * block taken at the first byte of a request and given back to a per-httpd
 * cache when the response is done.
 *
 * Not here: routing (the handler), TLS, the parser (proto/http1.c).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "proto/cache_fields.h"
#include "err.h"
#include "fault.h"
#include "httpd.h"
#include "httpd_int.h"
#include "log.h"
#include "mem.h"
#include "metrics.h"
#include "compat.h"

_Static_assert(sizeof(struct httpd_req) + 2048 <= HTTPD_REQ_BLOCK,
               "the first arena run must hold a typical head");

/* ---- metrics (process-wide; registered once) ---- */

enum httpd_err {
    HTTPD_ERR_TIMEOUT_HEADER = 0,
    HTTPD_ERR_TIMEOUT_BODY,
    HTTPD_ERR_TIMEOUT_SEND,
    HTTPD_ERR_CLIENT_RESET,
    HTTPD_ERR_SHORT_RESPONSE,
    HTTPD_ERR_DRAIN_TIMEOUT,
    HTTPD_ERR__N,
};

static const char *const httpd_err_names[HTTPD_ERR__N] = {
    "timeout_header", "timeout_body",   "timeout_send",
    "client_reset",   "short_response", "drain_timeout",
};

#define HTTPD_HTTP1_ERRS (HTTP1_E_TRUNCATED + 1)

static struct {
    struct metric *accepted;
    struct metric *refused;
    struct metric *open;
    struct metric *requests;
    struct metric *bytes_in;
    struct metric *bytes_out;
    struct metric *responses[6]; /* index status / 100; [0] unused */
    struct metric *errors_http1[HTTPD_HTTP1_ERRS];
    struct metric *errors[HTTPD_ERR__N];
} httpd_m;

/* Process-wide per-request body cap (httpd_set_body_cap); NULL: conf.max_body. */
static httpd_body_cap_fn *httpd_body_cap;

void
httpd_set_body_cap(httpd_body_cap_fn *fn)
{
    httpd_body_cap = fn;
}

static pthread_once_t httpd_m_once = PTHREAD_ONCE_INIT;
static _Atomic uint64_t httpd_next_conn_id = 1;

static void
httpd_metrics_init(void)
{
    static const char *const classes[6] = {NULL, "1xx", "2xx", "3xx", "4xx", "5xx"};
    const char *eh = "Requests that failed, by code";
    size_t i;

    httpd_m.accepted = metrics_counter("http.connections.accepted", "Connections accepted");
    httpd_m.refused =
        metrics_counter("http.connections.refused", "Connections closed at once: max_connections");
    httpd_m.open = metrics_gauge("http.connections.open", "Client connections open");
    httpd_m.requests = metrics_counter("http.requests", "Request heads parsed");
    httpd_m.bytes_in = metrics_counter("http.bytes.in", "Request bytes consumed");
    httpd_m.bytes_out = metrics_counter("http.bytes.out", "Response bytes queued");
    for (i = 1; i < 6; i++)
        httpd_m.responses[i] =
            metrics_counter_l("http.responses", "Responses by status class", "class", classes[i]);
    for (i = 1; i < HTTPD_HTTP1_ERRS; i++)
        httpd_m.errors_http1[i] =
            metrics_counter_l("http.errors", eh, "code", http1_error_code((enum http1_error)i));
    for (i = 0; i < HTTPD_ERR__N; i++)
        httpd_m.errors[i] = metrics_counter_l("http.errors", eh, "code", httpd_err_names[i]);
}

static void
httpd_count_status(int status)
{
    int cls = status / 100;

    if (cls >= 1 && cls <= 5)
        metric_inc(httpd_m.responses[cls]);
}

static void
httpd_count_http1(enum http1_error e)
{
    if ((int)e > 0 && (int)e < HTTPD_HTTP1_ERRS)
        metric_inc(httpd_m.errors_http1[e]);
}

/* ---- small helpers ---- */

static uint64_t
httpd_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static size_t
httpd_fmt_u64(char *dst, uint64_t v)
{
    char tmp[24];
    size_t n = 0, i;

    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    for (i = 0; i < n; i++)
        dst[i] = tmp[n - 1 - i];
    return n;
}

static size_t
httpd_fmt_hex(char *dst, uint64_t v)
{
    static const char hex[] = "0123456789abcdef";
    char tmp[20];
    size_t n = 0, i;

    do {
        tmp[n++] = hex[v & 15];
        v >>= 4;
    } while (v != 0);
    for (i = 0; i < n; i++)
        dst[i] = tmp[n - 1 - i];
    return n;
}

static const char *
httpd_reason(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 202:
        return "Accepted";
    case 204:
        return "No Content";
    case 206:
        return "Partial Content";
    case 301:
        return "Moved Permanently";
    case 302:
        return "Found";
    case 303:
        return "See Other";
    case 304:
        return "Not Modified";
    case 307:
        return "Temporary Redirect";
    case 308:
        return "Permanent Redirect";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 406:
        return "Not Acceptable";
    case 408:
        return "Request Timeout";
    case 409:
        return "Conflict";
    case 410:
        return "Gone";
    case 411:
        return "Length Required";
    case 412:
        return "Precondition Failed";
    case 413:
        return "Content Too Large";
    case 414:
        return "URI Too Long";
    case 415:
        return "Unsupported Media Type";
    case 416:
        return "Range Not Satisfiable";
    case 417:
        return "Expectation Failed";
    case 422:
        return "Unprocessable Content";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 451:
        return "Unavailable For Legal Reasons";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    case 505:
        return "HTTP Version Not Supported";
    default:
        return "";
    }
}

/* SPEC: RFC 9110 5.6.7 -- IMF-fixdate, always in English. */
static void
httpd_date_refresh(struct httpd *h)
{
    static const char *const wday[7] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char *const mon[12] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    struct timeval tv;
    struct tm tm;
    int n;

    if (event_base_gettimeofday_cached(h->base, &tv) != 0)
        gettimeofday(&tv, NULL);
    if (h->date_len != 0 && tv.tv_sec == h->date_sec)
        return;
    h->date_sec = tv.tv_sec;
    gmtime_r(&h->date_sec, &tm);
    n = snprintf(h->date_line, sizeof(h->date_line),
                 "Date: %s, %02d %s %04d %02d:%02d:%02d GMT\r\n", wday[tm.tm_wday % 7], tm.tm_mday,
                 mon[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
    assert(n > 0 && (size_t)n < sizeof(h->date_line));
    h->date_len = (size_t)n;
}

/* ---- the request arena ---- */

static void *
httpd_arena_alloc(struct httpd_req *r, size_t n)
{
    struct httpd_chunk *ch;
    size_t sz;
    void *p;

    n = (n + 7) & ~(size_t)7;
    if (n > r->aleft) {
        sz = n > HTTPD_ARENA_CHUNK ? n : HTTPD_ARENA_CHUNK;
        ch = xmalloc(sizeof(*ch) + sz);
        ch->next = r->chunks;
        ch->size = sz;
        r->chunks = ch;
        r->ap = (char *)(ch + 1);
        r->aleft = sz;
    }
    p = r->ap;
    r->ap += n;
    r->aleft -= n;
    return p;
}

static char *
httpd_arena_strndup(struct httpd_req *r, const char *s, size_t n)
{
    char *d = httpd_arena_alloc(r, n + 1);

    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

static struct httpd_req *
httpd_req_new(struct httpd_conn *c)
{
    struct httpd *h = c->h;
    struct httpd_req *r;
    size_t first = (sizeof(*r) + 15) & ~(size_t)15;
    size_t hdrs_off = offsetof(struct httpd_req, msg) + offsetof(struct http1_msg, hdrs);
    size_t hdrs_end = hdrs_off + sizeof(r->msg.hdrs);

    if (h->req_cache != NULL) {
        r = (struct httpd_req *)(void *)h->req_cache;
        h->req_cache = h->req_cache->next;
        h->nreq_cache--;
    } else {
        r = xmalloc(HTTPD_REQ_BLOCK);
    }
    /* All but the parser's field table (1.6 KB that http1_msg_init() leaves
     * alone and the parser fills as it goes). */
    memset(r, 0, hdrs_off);
    memset((char *)r + hdrs_end, 0, sizeof(*r) - hdrs_end);
    r->magic = HTTPD_REQ_MAGIC;
    r->conn = c;
    r->ap = (char *)r + first;
    r->aleft = HTTPD_REQ_BLOCK - first;
    r->resp_cl = -1;
    http1_msg_init(&r->msg, HTTP1_REQUEST, &h->conf.limits);
    return r;
}

/* Gives the request block back; the conn has no request afterwards. */
static void
httpd_req_release(struct httpd_conn *c)
{
    struct httpd *h = c->h;
    struct httpd_req *r = c->req;
    struct httpd_chunk *ch, *next;
    struct httpd_req_block *b;

    if (r == NULL)
        return;
    CHECK_OBJ(r, HTTPD_REQ_MAGIC);
    c->req = NULL;
    for (ch = r->chunks; ch != NULL; ch = next) {
        next = ch->next;
        xfree(ch);
    }
    r->magic = 0;
    if (h->nreq_cache < HTTPD_REQ_CACHE) {
        b = (struct httpd_req_block *)(void *)r;
        b->next = h->req_cache;
        h->req_cache = b;
        h->nreq_cache++;
    } else {
        xfree(r);
    }
}

/* ---- connection plumbing ---- */

static void httpd_conn_run(struct httpd_conn *c);
static void httpd_conn_flush(struct httpd_conn *c);
static void httpd_conn_closing(struct httpd_conn *c, bool linger);
static void httpd_conn_read_arm(struct httpd_conn *c);

static void
httpd_async_add(struct httpd_conn *c, uint8_t what)
{
    struct httpd *h = c->h;

    if (h->freeing)
        return; /* httpd_free() frees every connection itself */
    if (c->async == 0) {
        c->async_next = NULL;
        if (h->async_tail != NULL)
            h->async_tail->async_next = c;
        else
            h->async_head = c;
        h->async_tail = c;
    }
    c->async |= what;
    event_active(h->ev_async, EV_TIMEOUT, 0);
}

/* Something changed for c outside the state machine: have it looked at. */
static void
httpd_conn_kick(struct httpd_conn *c)
{
    if (c->state == HTTPD_C_DEAD)
        return;
    if (c->in_cb == 0)
        httpd_async_add(c, HTTPD_ASYNC_RUN);
}

/* Byte counts go to the process-wide counters once per frame, not per write. */
static void
httpd_conn_metrics_flush(struct httpd_conn *c)
{
    if (c->m_in != 0)
        metric_add(httpd_m.bytes_in, c->m_in);
    if (c->m_out != 0)
        metric_add(httpd_m.bytes_out, c->m_out);
    c->m_in = c->m_out = 0;
}

/* Invariants of a connection; debug builds check them on every entry. */
static bool
httpd_conn_check(const struct httpd_conn *c)
{
    CHECK_OBJ_NOTNULL(c, HTTPD_CONN_MAGIC);
    CHECK_OBJ_NOTNULL(c->h, HTTPD_MAGIC);
    assert(c->state <= HTTPD_C_DEAD);
    if (c->state == HTTPD_C_IDLE)
        assert(c->req == NULL);
    if (c->state == HTTPD_C_HEAD || c->state == HTTPD_C_REQ || c->state == HTTPD_C_DISCARD) {
        CHECK_OBJ_NOTNULL(c->req, HTTPD_REQ_MAGIC);
        assert(c->req->conn == c);
        assert(c->req->aleft < HTTPD_REQ_BLOCK || c->req->chunks != NULL);
    }
    if (c->state == HTTPD_C_DISCARD)
        assert(c->req->ended && c->req->body_state == HTTPD_BODY_DISCARD);
    assert(c->read_armed == (event_pending(&c->ev_read, EV_READ, NULL) != 0));
    if (c->state == HTTPD_C_DEAD)
        assert(!c->read_armed && c->async != 0);
    if (c->write_on)
        assert(c->state != HTTPD_C_DEAD);
    return true;
}

static void
httpd_conn_enter(struct httpd_conn *c)
{
    DASSERT(httpd_conn_check(c));
    c->in_cb++;
}

static void
httpd_conn_leave(struct httpd_conn *c)
{
    int round;

    assert(c->in_cb > 0);
    if (c->in_cb > 1) {
        c->in_cb--;
        return;
    }
    /* Outermost frame: settle the state machine, then write what it queued.
     * A writable callback may queue more, hence the (bounded) loop. */
    for (round = 0; round < 8 && c->state != HTTPD_C_DEAD; round++) {
        c->again = false;
        httpd_conn_run(c);
        if (c->state == HTTPD_C_DEAD)
            break;
        httpd_conn_flush(c);
        if (!c->again)
            break;
    }
    if (round == 8 && c->state != HTTPD_C_DEAD)
        httpd_async_add(c, HTTPD_ASYNC_RUN);
    if (c->state != HTTPD_C_DEAD)
        httpd_conn_read_arm(c); /* the input may be under its cap again */
    httpd_conn_metrics_flush(c);
    c->in_cb--;
}

static void
httpd_conn_timer(struct httpd_conn *c, uint32_t ms)
{
    struct timeval tv;

    if (ms == 0) {
        event_del(&c->timer);
        return;
    }
    tv.tv_sec = ms / 1000;
    tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
    event_add(&c->timer, &tv);
}

static struct evbuffer *
httpd_conn_out(const struct httpd_conn *c)
{
    return bufferevent_get_output(c->bev);
}

static struct evbuffer *
httpd_conn_in(const struct httpd_conn *c)
{
    return bufferevent_get_input(c->bev);
}

/* Reading is on when wanted, possible, and the input is under its cap. */
static void
httpd_conn_read_arm(struct httpd_conn *c)
{
    bool on = c->read_want && !c->eof && c->state != HTTPD_C_DEAD &&
              evbuffer_get_length(httpd_conn_in(c)) < c->in_cap;

    if (on == c->read_armed)
        return;
    c->read_armed = on;
    if (on)
        AZ(event_add(&c->ev_read, NULL));
    else
        AZ(event_del(&c->ev_read));
}

static void
httpd_conn_read_on(struct httpd_conn *c, bool on)
{
    c->read_want = on;
    httpd_conn_read_arm(c);
}

/* Terminal: no callback runs for c any more; the async event frees it. */
static void
httpd_conn_close(struct httpd_conn *c)
{
    if (c->state == HTTPD_C_DEAD)
        return;
    c->state = HTTPD_C_DEAD;
    event_del(&c->timer);
    httpd_conn_read_arm(c);
    bufferevent_disable(c->bev, EV_READ | EV_WRITE);
    bufferevent_setcb(c->bev, NULL, NULL, NULL, NULL);
    httpd_async_add(c, HTTPD_ASYNC_FREE);
}

/*
 * The request dies before its response ended: tell the producer (on_end for
 * a body being read, then on_close). r stays allocated until the conn is
 * freed, and every httpd_resp_*() on it is a no-op from here on.
 */
static void
httpd_req_notify_close(struct httpd_conn *c, int err)
{
    struct httpd_req *r = c->req;
    httpd_body_end_cb *end_cb;
    httpd_req_cb *close_cb;

    if (r == NULL || c->state != HTTPD_C_REQ || r->ended || r->closed)
        return;
    r->closed = true;
    r->on_writable = NULL;
    if (r->body_state == HTTPD_BODY_READING) {
        r->body_state = HTTPD_BODY_ENDED;
        end_cb = r->on_end;
        r->on_end = NULL;
        r->on_data = NULL;
        if (end_cb != NULL)
            end_cb(r, err, r->body_arg);
    }
    close_cb = r->on_close;
    r->on_close = NULL;
    if (close_cb != NULL)
        close_cb(r, r->close_arg);
}

static void
httpd_conn_abort(struct httpd_conn *c, int err, int code, bool reset)
{
    struct linger lg = {1, 0};

    if (c->state == HTTPD_C_DEAD)
        return;
    if (code >= 0)
        metric_inc(httpd_m.errors[code]);
    LOG(LOG_DEBUG, "httpd", "conn_abort", "conn=%" PRIu64 " peer=%s state=%d err=%s", c->id,
        c->peer, c->state, err_name(err));
    httpd_req_notify_close(c, err);
    /* Resetting frees the kernel's send buffer at once (the client is not
     * reading it anyway). */
    if (reset && setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)) != 0)
        LOG(LOG_DEBUG, "httpd", "linger_failed", "conn=%" PRIu64 " err=%s", c->id,
            err_name(-errno)); /* a plain close instead of a reset: still a close */
    httpd_conn_close(c);
}

static bool
httpd_conn_in_flight(const struct httpd_conn *c)
{
    return c->state == HTTPD_C_HEAD || (c->state == HTTPD_C_REQ && !c->req->ended);
}

/* ---- writing ---- */

/*
 * Writes an error response that httpd itself answers (parse errors, 413,
 * 408) and closes afterwards. The body is {"error":{"code":..,"message":..}}.
 */
static void
httpd_conn_reply_error(struct httpd_conn *c, int status, const char *code, const char *message,
                       bool linger)
{
    struct httpd *h = c->h;
    char body[256], head[512];
    int blen, hlen;

    httpd_date_refresh(h);
    blen = snprintf(body, sizeof(body), "{\"error\":{\"code\":\"%s\",\"message\":\"%s\"}}\n", code,
                    message);
    assert(blen > 0 && (size_t)blen < sizeof(body));
    hlen = snprintf(head, sizeof(head),
                    "HTTP/1.1 %d %s\r\n%.*sServer: %.64s\r\nContent-Type: application/json\r\n"
                    "Content-Length: %d\r\nConnection: close\r\n\r\n",
                    status, httpd_reason(status), (int)h->date_len, h->date_line,
                    h->conf.server != NULL ? h->conf.server : "cascade", blen);
    assert(hlen > 0 && (size_t)hlen < sizeof(head));
    AZ(evbuffer_add(httpd_conn_out(c), head, (size_t)hlen));
    AZ(evbuffer_add(httpd_conn_out(c), body, (size_t)blen));
    c->m_out += (uint64_t)hlen + (uint64_t)blen;
    httpd_count_status(status);
    httpd_req_release(c);
    httpd_conn_closing(c, linger);
}

/* The output is empty or below the low watermark: what may proceed now. */
static void
httpd_conn_after_write(struct httpd_conn *c, size_t outlen)
{
    struct httpd *h = c->h;
    struct httpd_req *r = c->req;
    httpd_req_cb *cb;
    int how;

    if (c->state == HTTPD_C_CLOSING) {
        if (outlen != 0)
            return;
        if (!c->linger) {
            httpd_conn_close(c);
            return;
        }
        /* Lingering close: stop sending, keep reading (and dropping) for a
         * while, so what the client is still sending does not turn our last
         * response into a reset before it has read it. */
        how = shutdown(c->fd, SHUT_WR);
        if (how != 0 || c->eof) {
            httpd_conn_close(c);
            return;
        }
        c->state = HTTPD_C_LINGER;
        httpd_conn_timer(c, HTTPD_LINGER_MS);
        httpd_conn_read_on(c, true);
        c->again = true;
        return;
    }
    if (outlen > h->conf.out_low_watermark)
        return;
    if (r != NULL && c->state == HTTPD_C_REQ && r->on_writable != NULL && !r->ended && !r->closed) {
        cb = r->on_writable;
        r->on_writable = NULL;
        cb(r, r->writable_arg);
        c->again = true;
    }
    if (c->state == HTTPD_C_IDLE && evbuffer_get_length(httpd_conn_in(c)) != 0)
        c->again = true; /* a pipelined request waited for the output to drain */
}

static void
httpd_conn_flush(struct httpd_conn *c)
{
    struct evbuffer *out = httpd_conn_out(c);
    size_t len = evbuffer_get_length(out);
    int n, e;

    if (len != 0 && !c->write_on) {
        /* The bufferevent keeps its output frozen at the front; it does the
         * same around its own writes. */
        evbuffer_unfreeze(out, 1);
        n = evbuffer_write(out, c->fd);
        evbuffer_freeze(out, 1);
        if (n < 0) {
            e = evutil_socket_geterror(c->fd);
            if (e != EAGAIN && e != EWOULDBLOCK && e != EINTR) {
                httpd_conn_abort(c, ERR_CLOSED,
                                 httpd_conn_in_flight(c) ? HTTPD_ERR_CLIENT_RESET : -1, false);
                return;
            }
        }
        len = evbuffer_get_length(out);
        if (len != 0) {
            c->write_on = true;
            bufferevent_enable(c->bev, EV_WRITE);
        }
    }
    httpd_conn_after_write(c, len);
}

/* ---- the state machine ---- */

static void
httpd_conn_closing(struct httpd_conn *c, bool linger)
{
    if (c->state == HTTPD_C_DEAD || c->state == HTTPD_C_CLOSING || c->state == HTTPD_C_LINGER)
        return;
    c->state = HTTPD_C_CLOSING;
    c->linger = linger;
    event_del(&c->timer);
    httpd_conn_read_on(c, false);
    c->again = true;
}

static void
httpd_conn_to_idle(struct httpd_conn *c)
{
    if (c->h->draining) {
        httpd_conn_closing(c, evbuffer_get_length(httpd_conn_in(c)) != 0);
        return;
    }
    c->state = HTTPD_C_IDLE;
    httpd_conn_read_on(c, true);
    httpd_conn_timer(c, c->h->conf.idle_timeout_ms);
}

/* NUL-terminates the span s of the head copy in place when the byte after
 * it is a delimiter; else copies it into the arena. */
static const char *
httpd_req_span_str(struct httpd_req *r, struct http1_span s, const char *delims)
{
    char *p = r->head + s.off;
    char end;

    if (s.len == 0)
        return "";
    end = p[s.len];
    if (s.off + s.len < r->head_len && end != '\0' && strchr(delims, end) != NULL) {
        p[s.len] = '\0';
        return p;
    }
    return httpd_arena_strndup(r, p, s.len);
}

/* SPEC: RFC 9112 3.2 -- origin-form, absolute-form, authority-form, asterisk-form. */
static void
httpd_req_split_target(struct httpd_req *r)
{
    const char *t = r->target, *path = t, *q, *s;

    if (t[0] != '/' && t[0] != '*') {
        s = strstr(t, "://");
        if (s != NULL && (size_t)(s - t) < 16) {
            path = strchr(s + 3, '/');
            if (path == NULL) {
                q = strchr(s + 3, '?');
                r->path = "/";
                r->query = q != NULL ? q + 1 : NULL;
                return;
            }
        }
    }
    q = strchr(path, '?');
    if (q == NULL) {
        r->path = path;
        r->query = NULL;
        return;
    }
    r->path = httpd_arena_strndup(r, path, (size_t)(q - path));
    r->query = q + 1;
}

/* The head is complete (head_len bytes at the front of the input). */
static void
httpd_req_setup(struct httpd_conn *c, long head_len)
{
    struct httpd *h = c->h;
    struct httpd_req *r = c->req;
    struct http1_msg *m = &r->msg;
    enum http1_body_mode mode;
    size_t i;

    r->head_len = (uint32_t)head_len;
    r->head = httpd_arena_alloc(r, (size_t)head_len + 1);
    AN(evbuffer_remove(httpd_conn_in(c), r->head, (size_t)head_len) == (int)head_len);
    r->head[head_len] = '\0';
    c->m_in += (uint64_t)head_len;

    r->method = m->method;
    r->version_minor = m->version_minor;
    r->method_s = httpd_req_span_str(r, m->method_tok, " ");
    r->target = httpd_req_span_str(r, m->target, " ");
    r->nfields = m->nhdrs;
    r->fields = httpd_arena_alloc(r, sizeof(*r->fields) * (m->nhdrs ? m->nhdrs : 1));
    for (i = 0; i < m->nhdrs; i++) {
        r->fields[i].name = httpd_req_span_str(r, m->hdrs[i].name, ":");
        r->fields[i].value = httpd_req_span_str(r, m->hdrs[i].value, " \t\r\n");
    }
    httpd_req_split_target(r);
    r->start_ms = httpd_now_ms();
    c->nreqs++;
    metric_inc(httpd_m.requests);

    r->max_body = h->conf.max_body;
    if (httpd_body_cap != NULL)
        r->max_body = httpd_body_cap(r, h->conf.max_body);
    mode = http1_body_mode(m, r->method);
    http1_body_init(&r->body, mode, m->content_length, r->max_body);
    r->body_done = mode == HTTP1_BODY_NONE || (mode == HTTP1_BODY_LENGTH && m->content_length == 0);
    r->expect_100 = m->expect_continue && m->version_minor >= 1 && !r->body_done;
}

static bool
httpd_conn_idle_step(struct httpd_conn *c)
{
    struct httpd *h = c->h;

    if (evbuffer_get_length(httpd_conn_in(c)) == 0)
        return false;
    if (h->draining) {
        httpd_conn_closing(c, true);
        return true;
    }
    /* Strict order and backpressure: no new request while the output of
     * the previous ones is above the high watermark. */
    if (evbuffer_get_length(httpd_conn_out(c)) > h->conf.out_high_watermark)
        return false;
    c->req = httpd_req_new(c);
    c->state = HTTPD_C_HEAD;
    /* The first request's deadline runs from accept; later ones from their
     * first byte, armed by the head step in this same run only when the
     * head is not complete yet (most heads come whole: no timer churn).
     * Either way it is not extended by further bytes. */
    c->req->head_timed = c->nreqs == 0;
    return true;
}

static bool
httpd_conn_head_step(struct httpd_conn *c)
{
    struct httpd *h = c->h;
    struct httpd_req *r = c->req;
    struct evbuffer *in = httpd_conn_in(c);
    size_t len = evbuffer_get_length(in), n;
    uint32_t max_head = r->msg.lim.max_head;
    enum http1_error e;
    unsigned char *p;
    long rc;

    if (len == 0)
        return false;
    n = len < max_head ? len : max_head;
    p = evbuffer_pullup(in, (ev_ssize_t)n);
    AN(p);
    rc = http1_parse_head(&r->msg, p, n);
    if (rc == ERR_AGAIN && n < max_head) {
        if (!r->head_timed) {
            r->head_timed = true;
            httpd_conn_timer(c, h->conf.header_timeout_ms);
        }
        return false;
    }
    if (rc < 0) {
        e = rc == ERR_AGAIN ? HTTP1_E_HEAD_TOO_LARGE : r->msg.error;
        if (e == HTTP1_E_NONE)
            e = HTTP1_E_START_LINE;
        httpd_count_http1(e);
        LOG_RL(LOG_INFO, "httpd", "bad_request", 10, "conn=%" PRIu64 " peer=%s code=%s", c->id,
               c->peer, http1_error_code(e));
        httpd_conn_reply_error(c, http1_error_status(e), http1_error_code(e),
                               "the request could not be parsed", true);
        return true;
    }
    httpd_req_setup(c, rc);
    event_del(&c->timer); /* the head made its deadline */
    if (r->body.error == HTTP1_E_BODY_TOO_LARGE ||
        (r->max_body != 0 && r->msg.content_length > 0 &&
         (uint64_t)r->msg.content_length > r->max_body)) {
        httpd_count_http1(HTTP1_E_BODY_TOO_LARGE);
        httpd_conn_reply_error(c, 413, http1_error_code(HTTP1_E_BODY_TOO_LARGE),
                               "the request body is larger than allowed", true);
        return true;
    }
    c->state = HTTPD_C_REQ;
    h->handler(r, h->arg);
    return true;
}

/*
 * Feeds the request body from the input: to the handler (deliver) or to
 * nowhere (discard). Returns whether anything happened.
 */
static bool
httpd_conn_body_feed(struct httpd_conn *c, bool deliver)
{
    struct httpd_req *r = c->req;
    struct evbuffer *in = httpd_conn_in(c);
    struct evbuffer_iovec v;
    size_t off, dlen;
    bool progress = false;
    long rc;

    while (!r->body_done) {
        if (deliver && (r->body_paused || r->ended || r->closed))
            break;
        if (evbuffer_peek(in, -1, NULL, &v, 1) < 1 || v.iov_len == 0)
            break;
        rc = http1_body_parse(&r->body, v.iov_base, v.iov_len, &off, &dlen);
        if (rc < 0) {
            httpd_count_http1(r->body.error);
            r->body_err = true;
            LOG_RL(LOG_INFO, "httpd", "bad_body", 10, "conn=%" PRIu64 " peer=%s code=%s", c->id,
                   c->peer, http1_error_code(r->body.error));
            if (!deliver) {
                httpd_conn_closing(c, true);
                return true;
            }
            r->body_state = HTTPD_BODY_ENDED;
            event_del(&c->timer);
            httpd_conn_read_on(c, false);
            if (r->on_end != NULL)
                r->on_end(r, rc == ERR_LIMIT ? ERR_LIMIT : ERR_PROTO, r->body_arg);
            return true;
        }
        if (rc == 0)
            break;
        progress = true;
        if (deliver && dlen != 0 && r->on_data != NULL)
            r->on_data(r, (const char *)v.iov_base + off, dlen, r->body_arg);
        AZ(evbuffer_drain(in, (size_t)rc));
        c->m_in += (uint64_t)rc;
        if (r->body.done)
            r->body_done = true;
    }
    if (r->body_done)
        event_del(&c->timer);
    else if (progress && c->state != HTTPD_C_DEAD && !r->body_paused)
        httpd_conn_timer(c, c->h->conf.body_timeout_ms);
    return progress;
}

/* The producer ended the response: what happens to the connection. */
static void
httpd_conn_req_finish(struct httpd_conn *c)
{
    struct httpd_req *r = c->req;
    bool keep, linger;

    keep = r->keep && !r->body_err && !c->eof && !c->h->draining;
    if (!keep) {
        linger = !r->body_done || evbuffer_get_length(httpd_conn_in(c)) != 0;
        httpd_req_release(c);
        httpd_conn_closing(c, linger && !c->eof);
        return;
    }
    if (!r->body_done) {
        /* The handler did not want (all of) the body: drop the rest so the
         * next request can be read. Bounded by max_body. */
        r->body_state = HTTPD_BODY_DISCARD;
        r->on_data = NULL;
        r->on_end = NULL;
        c->state = HTTPD_C_DISCARD;
        httpd_conn_read_on(c, true);
        httpd_conn_timer(c, c->h->conf.body_timeout_ms);
        return;
    }
    httpd_req_release(c);
    httpd_conn_to_idle(c);
}

static bool
httpd_conn_req_step(struct httpd_conn *c)
{
    struct httpd_req *r = c->req;
    httpd_body_end_cb *end_cb;

    if (r->ended) {
        httpd_conn_req_finish(c);
        return true;
    }
    if (r->closed || r->body_state != HTTPD_BODY_READING || r->body_paused)
        return false;
    if (!r->body_done && httpd_conn_body_feed(c, true))
        return true;
    if (r->body_done && r->body_state == HTTPD_BODY_READING) {
        r->body_state = HTTPD_BODY_ENDED;
        end_cb = r->on_end;
        r->on_end = NULL;
        r->on_data = NULL;
        if (end_cb != NULL)
            end_cb(r, 0, r->body_arg);
        return true;
    }
    return false;
}

static bool
httpd_conn_discard_step(struct httpd_conn *c)
{
    bool progress = httpd_conn_body_feed(c, false);

    if (c->state != HTTPD_C_DISCARD)
        return true;
    if (c->req->body_done) {
        httpd_req_release(c);
        httpd_conn_to_idle(c);
        return true;
    }
    return progress;
}

static void
httpd_conn_run(struct httpd_conn *c)
{
    struct evbuffer *in;
    size_t n;

    for (;;) {
        switch (c->state) {
        case HTTPD_C_IDLE:
            if (!httpd_conn_idle_step(c))
                return;
            break;
        case HTTPD_C_HEAD:
            if (!httpd_conn_head_step(c))
                return;
            break;
        case HTTPD_C_REQ:
            if (!httpd_conn_req_step(c))
                return;
            break;
        case HTTPD_C_DISCARD:
            if (!httpd_conn_discard_step(c))
                return;
            break;
        case HTTPD_C_LINGER:
            in = httpd_conn_in(c);
            n = evbuffer_get_length(in);
            if (n != 0) {
                AZ(evbuffer_drain(in, n));
                c->m_in += n;
            }
            return;
        default:
            return;
        }
    }
}

/* ---- bufferevent and timer callbacks ---- */

/* The client shut its side. */
static void
httpd_conn_on_eof(struct httpd_conn *c)
{
    c->eof = true;
    httpd_conn_read_arm(c);
    switch (c->state) {
    case HTTPD_C_IDLE:
        if (evbuffer_get_length(httpd_conn_out(c)) == 0)
            httpd_conn_close(c);
        else
            httpd_conn_closing(c, false);
        break;
    case HTTPD_C_REQ:
        if (!c->req->ended)
            httpd_conn_abort(c, ERR_CLOSED, HTTPD_ERR_CLIENT_RESET, false);
        break; /* else the finish sees eof and closes after the flush */
    case HTTPD_C_CLOSING:
        break; /* keep flushing: a half-closed client may still read */
    default:
        httpd_conn_close(c);
        break;
    }
}

/*
 * Reads with one recv() straight into the input buffer. (evbuffer_read()
 * would ask ioctl(FIONREAD) first and read at most 4 KiB: two system calls
 * where one does.)
 */
static void
httpd_conn_readable_cb(evutil_socket_t fd, short what, void *arg)
{
    struct httpd_conn *c;
    struct evbuffer *in;
    struct evbuffer_iovec v;
    size_t len, want;
    ssize_t n;
    int e;

    (void)what;
    CAST_OBJ_NOTNULL(c, arg, HTTPD_CONN_MAGIC);
    httpd_conn_enter(c);
    in = httpd_conn_in(c);
    len = evbuffer_get_length(in);
    if (len < c->in_cap) {
        want = c->in_cap - len < HTTPD_READ_MAX ? c->in_cap - len : HTTPD_READ_MAX;
        evbuffer_unfreeze(in, 0);
        AN(evbuffer_reserve_space(in, (ev_ssize_t)want, &v, 1) == 1);
        n = recv(fd, v.iov_base, want, 0);
        if (n > 0) {
            v.iov_len = (size_t)n;
            AZ(evbuffer_commit_space(in, &v, 1));
        } else if (len == 0) {
            AZ(evbuffer_drain(in, 0)); /* frees the chain reserved for nothing */
        }
        evbuffer_freeze(in, 0);
        if (n == 0) {
            httpd_conn_on_eof(c);
        } else if (n < 0) {
            e = errno;
            if (e != EAGAIN && e != EWOULDBLOCK && e != EINTR)
                httpd_conn_abort(c, ERR_CLOSED,
                                 httpd_conn_in_flight(c) ? HTTPD_ERR_CLIENT_RESET : -1, false);
        }
    }
    httpd_conn_leave(c);
}

static void
httpd_conn_write_cb(struct bufferevent *bev, void *arg)
{
    struct httpd_conn *c;
    size_t len;

    CAST_OBJ_NOTNULL(c, arg, HTTPD_CONN_MAGIC);
    httpd_conn_enter(c);
    len = evbuffer_get_length(bufferevent_get_output(bev));
    if (len == 0 && c->write_on) {
        /* Back to direct writes for the next response. */
        bufferevent_disable(bev, EV_WRITE);
        c->write_on = false;
    }
    httpd_conn_after_write(c, len);
    httpd_conn_leave(c);
}

static void
httpd_conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
    struct httpd_conn *c;

    CAST_OBJ_NOTNULL(c, arg, HTTPD_CONN_MAGIC);
    assert(c->bev == bev);
    httpd_conn_enter(c);
    if (what & BEV_EVENT_TIMEOUT) {
        /* The write timeout: the client took no byte for send_timeout_ms. */
        LOG(LOG_DEBUG, "httpd", "send_timeout", "conn=%" PRIu64 " peer=%s", c->id, c->peer);
        httpd_conn_abort(c, ERR_TIMEOUT, HTTPD_ERR_TIMEOUT_SEND, true);
    } else if (what & BEV_EVENT_ERROR) {
        httpd_conn_abort(c, ERR_CLOSED, httpd_conn_in_flight(c) ? HTTPD_ERR_CLIENT_RESET : -1,
                         false);
    } else if (what & BEV_EVENT_EOF) {
        httpd_conn_on_eof(c); /* (a write that saw the close) */
    }
    httpd_conn_leave(c);
}

static void
httpd_conn_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    struct httpd_conn *c;
    struct httpd_req *r;

    (void)fd;
    (void)what;
    CAST_OBJ_NOTNULL(c, arg, HTTPD_CONN_MAGIC);
    httpd_conn_enter(c);
    r = c->req;
    switch (c->state) {
    case HTTPD_C_IDLE:
        if (c->nreqs == 0)
            metric_inc(httpd_m.errors[HTTPD_ERR_TIMEOUT_HEADER]);
        httpd_conn_close(c);
        break;
    case HTTPD_C_HEAD:
        metric_inc(httpd_m.errors[HTTPD_ERR_TIMEOUT_HEADER]);
        LOG(LOG_DEBUG, "httpd", "header_timeout", "conn=%" PRIu64 " peer=%s", c->id, c->peer);
        httpd_conn_reply_error(c, 408, "timeout_header", "the request head took too long", false);
        break;
    case HTTPD_C_REQ:
        /* Armed only while the body is read: the client stalled. */
        metric_inc(httpd_m.errors[HTTPD_ERR_TIMEOUT_BODY]);
        LOG(LOG_DEBUG, "httpd", "body_timeout", "conn=%" PRIu64 " peer=%s", c->id, c->peer);
        httpd_req_notify_close(c, ERR_TIMEOUT);
        if (r->resp_mode == HTTPD_RESP_NONE)
            httpd_conn_reply_error(c, 408, "timeout_body", "the request body stalled", false);
        else
            httpd_conn_close(c);
        break;
    case HTTPD_C_DISCARD:
        metric_inc(httpd_m.errors[HTTPD_ERR_TIMEOUT_BODY]);
        httpd_conn_close(c);
        break;
    default:
        httpd_conn_close(c);
        break;
    }
    httpd_conn_leave(c);
}

static void
httpd_conn_free(struct httpd_conn *c)
{
    struct httpd *h = c->h;

    assert(c->state == HTTPD_C_DEAD);
    httpd_conn_metrics_flush(c);
    httpd_req_release(c);
    event_del(&c->timer);
    event_del(&c->ev_read);
    /* The bufferevent finishes (and runs evbuffer reference cleanups) from
     * the loop; its events are already gone from epoll, so the fd can go. */
    bufferevent_free(c->bev);
    evutil_closesocket(c->fd);
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        h->conns = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    h->nconns--;
    metric_gauge_add(httpd_m.open, -1);
    FREE_OBJ(c);
}

/* ---- the httpd ---- */

static void
httpd_async_cb(evutil_socket_t fd, short what, void *arg)
{
    struct httpd *h;
    struct httpd_conn *c, *list;
    httpd_done_cb *done;
    uint8_t flags;

    (void)fd;
    (void)what;
    CAST_OBJ_NOTNULL(h, arg, HTTPD_MAGIC);
    list = h->async_head;
    h->async_head = h->async_tail = NULL;
    while (list != NULL) {
        c = list;
        list = c->async_next;
        c->async_next = NULL;
        flags = c->async;
        c->async = 0;
        if (flags & HTTPD_ASYNC_FREE) {
            httpd_conn_free(c);
        } else if (c->state != HTTPD_C_DEAD) {
            httpd_conn_enter(c);
            httpd_conn_leave(c);
        }
    }
    /* Last, because done may free h. */
    if (h->draining && h->drain_cb != NULL && h->nconns == 0) {
        done = h->drain_cb;
        h->drain_cb = NULL;
        event_del(h->ev_drain);
        done(h->drain_arg);
    }
}

static void
httpd_drain_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    struct httpd *h;
    struct httpd_conn *c;

    (void)fd;
    (void)what;
    CAST_OBJ_NOTNULL(h, arg, HTTPD_MAGIC);
    h->drain_timed_out = true;
    for (c = h->conns; c != NULL; c = c->next) {
        if (c->state == HTTPD_C_DEAD)
            continue;
        httpd_conn_enter(c);
        httpd_conn_abort(c, ERR_CLOSED, HTTPD_ERR_DRAIN_TIMEOUT, false);
        httpd_conn_leave(c);
    }
    event_active(h->ev_async, EV_TIMEOUT, 0);
}

static void
httpd_peer_format(char *dst, size_t dstsz, const struct sockaddr *sa)
{
    char ip[INET6_ADDRSTRLEN];
    const struct sockaddr_in *s4;
    const struct sockaddr_in6 *s6;

    if (sa != NULL && sa->sa_family == AF_INET) {
        s4 = (const struct sockaddr_in *)(const void *)sa;
        if (inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof(ip)) != NULL) {
            snprintf(dst, dstsz, "%s:%u", ip, (unsigned)ntohs(s4->sin_port));
            return;
        }
    } else if (sa != NULL && sa->sa_family == AF_INET6) {
        s6 = (const struct sockaddr_in6 *)(const void *)sa;
        if (inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof(ip)) != NULL) {
            snprintf(dst, dstsz, "[%s]:%u", ip, (unsigned)ntohs(s6->sin6_port));
            return;
        }
    } else if (sa != NULL && sa->sa_family == AF_UNIX) {
        snprintf(dst, dstsz, "unix");
        return;
    }
    snprintf(dst, dstsz, "unknown");
}

static void
httpd_accept_cb(struct evconnlistener *lev, evutil_socket_t fd, struct sockaddr *sa, int salen,
                void *arg)
{
    struct httpd *h;
    struct httpd_conn *c;
    struct bufferevent *bev;
    struct timeval tv;

    (void)lev;
    (void)salen;
    CAST_OBJ_NOTNULL(h, arg, HTTPD_MAGIC);
    metric_inc(httpd_m.accepted);
    if (h->draining || (h->conf.max_connections != 0 && h->nconns >= h->conf.max_connections) ||
        FAULT("httpd.accept")) {
        metric_inc(httpd_m.refused);
        LOG_RL(LOG_INFO, "httpd", "conn_refused", 1, "conn=0 open=%u max=%u", h->nconns,
               h->conf.max_connections);
        evutil_closesocket(fd);
        return;
    }
    bev = bufferevent_socket_new(h->base, fd, 0);
    if (bev == NULL) {
        LOG_RL(LOG_WARN, "httpd", "bufferevent_failed", 1, "conn=0");
        evutil_closesocket(fd);
        return;
    }
    c = xcalloc(1, sizeof(*c));
    c->magic = HTTPD_CONN_MAGIC;
    c->h = h;
    c->bev = bev;
    c->fd = fd;
    c->id = atomic_fetch_add_explicit(&httpd_next_conn_id, 1, memory_order_relaxed);
    httpd_peer_format(c->peer, sizeof(c->peer), sa);
    AZ(event_assign(&c->timer, h->base, -1, 0, httpd_conn_timer_cb, c));
    AZ(event_assign(&c->ev_read, h->base, fd, EV_READ | EV_PERSIST, httpd_conn_readable_cb, c));
    c->in_cap = h->conf.limits.max_head + HTTPD_IN_SLACK;
    bufferevent_setcb(bev, NULL, httpd_conn_write_cb, httpd_conn_event_cb, c);
    if (h->conf.send_timeout_ms != 0) {
        tv.tv_sec = h->conf.send_timeout_ms / 1000;
        tv.tv_usec = (suseconds_t)(h->conf.send_timeout_ms % 1000) * 1000;
        AZ(bufferevent_set_timeouts(bev, NULL, &tv));
    }
    bufferevent_setwatermark(bev, EV_WRITE, h->conf.out_low_watermark, 0);
    AZ(bufferevent_set_max_single_write(bev, HTTPD_MAX_SINGLE_WRITE));
    bufferevent_disable(bev, EV_READ | EV_WRITE);
    c->next = h->conns;
    if (h->conns != NULL)
        h->conns->prev = c;
    h->conns = c;
    h->nconns++;
    metric_gauge_add(httpd_m.open, 1);
    c->state = HTTPD_C_IDLE;
    httpd_conn_read_on(c, true);
    httpd_conn_timer(c, h->conf.header_timeout_ms);
}

static void
httpd_accept_retry_cb(evutil_socket_t fd, short what, void *arg)
{
    struct httpd *h;

    (void)fd;
    (void)what;
    CAST_OBJ_NOTNULL(h, arg, HTTPD_MAGIC);
    if (h->lev != NULL && !h->draining)
        AZ(evconnlistener_enable(h->lev));
}

static void
httpd_accept_error_cb(struct evconnlistener *lev, void *arg)
{
    struct httpd *h;
    struct timeval tv = {0, 100 * 1000};
    int e = EVUTIL_SOCKET_ERROR();

    CAST_OBJ_NOTNULL(h, arg, HTTPD_MAGIC);
    LOG_RL(LOG_WARN, "httpd", "accept_failed", 1, "conn=0 err=%s", err_name(-e));
    /* Out of fds or memory: back off instead of spinning on the listener. */
    AZ(evconnlistener_disable(lev));
    event_add(h->ev_accept_retry, &tv);
}

void
httpd_conf_defaults(struct httpd_conf *c)
{
    memset(c, 0, sizeof(*c));
    c->limits = http1_default_limits;
    c->max_body = 1u << 20;
    c->header_timeout_ms = 10000;
    c->idle_timeout_ms = 60000;
    c->body_timeout_ms = 30000;
    c->send_timeout_ms = 30000;
    c->max_connections = 16384;
    c->max_requests_per_conn = 10000;
    c->out_high_watermark = 512u << 10;
    c->out_low_watermark = 128u << 10;
    c->server = "cascade";
}

static void
httpd_conf_check(const struct httpd_conf *c)
{
    assert(c->limits.max_head > 0 && c->limits.max_line > 0 && c->limits.max_field > 0);
    assert(c->limits.max_headers > 0 && c->limits.max_headers <= HTTP1_MAX_HEADERS);
    assert(c->out_low_watermark <= c->out_high_watermark);
}

struct httpd *
httpd_new(struct event_base *base, const struct httpd_conf *conf, httpd_handler_fn *handler,
          void *arg)
{
    struct httpd *h;

    AN(base);
    AN(handler);
    AZ(pthread_once(&httpd_m_once, httpd_metrics_init));
    h = xcalloc(1, sizeof(*h));
    h->magic = HTTPD_MAGIC;
    h->base = base;
    if (conf != NULL)
        h->conf = *conf;
    else
        httpd_conf_defaults(&h->conf);
    httpd_conf_check(&h->conf);
    h->handler = handler;
    h->arg = arg;
    h->ev_async = event_new(base, -1, 0, httpd_async_cb, h);
    h->ev_drain = event_new(base, -1, 0, httpd_drain_timer_cb, h);
    h->ev_accept_retry = event_new(base, -1, 0, httpd_accept_retry_cb, h);
    AN(h->ev_async);
    AN(h->ev_drain);
    AN(h->ev_accept_retry);
    return h;
}

int
httpd_listen_fd(struct httpd *h, evutil_socket_t fd)
{
    int one = 1, rc;

    CHECK_OBJ_NOTNULL(h, HTTPD_MAGIC);
    if (h->lev != NULL) {
        evutil_closesocket(fd);
        return ERR_EXISTS;
    }
    /* Accepted sockets inherit TCP_NODELAY from the listener on Linux: one
     * setsockopt() here instead of one per connection. */
    if (evutil_make_socket_nonblocking(fd) != 0 ||
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) != 0) {
        rc = -errno;
        evutil_closesocket(fd);
        return rc;
    }
    h->lev = evconnlistener_new(h->base, httpd_accept_cb, h,
                                LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 0, fd);
    if (h->lev == NULL) {
        rc = errno != 0 ? -errno : ERR_INVAL;
        evutil_closesocket(fd);
        return rc;
    }
    evconnlistener_set_error_cb(h->lev, httpd_accept_error_cb);
    if (h->draining)
        AZ(evconnlistener_disable(h->lev));
    return 0;
}

void
httpd_set_conf(struct httpd *h, const struct httpd_conf *conf)
{
    CHECK_OBJ_NOTNULL(h, HTTPD_MAGIC);
    httpd_conf_check(conf);
    h->conf = *conf;
}

void
httpd_drain(struct httpd *h, uint32_t timeout_ms, httpd_done_cb *done, void *arg)
{
    struct httpd_conn *c;
    struct timeval tv;

    CHECK_OBJ_NOTNULL(h, HTTPD_MAGIC);
    h->draining = true;
    h->drain_cb = done;
    h->drain_arg = arg;
    /* Close the listening socket, not just stop accepting: a socket left
     * listening still completes handshakes into its backlog, so clients
     * would connect and hang instead of being refused (and a load balancer
     * would not see the node leave). */
    if (h->lev != NULL) {
        evconnlistener_free(h->lev);
        h->lev = NULL;
    }
    event_del(h->ev_accept_retry);
    for (c = h->conns; c != NULL; c = c->next) {
        if (c->state != HTTPD_C_IDLE)
            continue;
        httpd_conn_enter(c);
        httpd_conn_closing(c, evbuffer_get_length(httpd_conn_in(c)) != 0);
        httpd_conn_leave(c);
    }
    if (timeout_ms != 0) {
        tv.tv_sec = timeout_ms / 1000;
        tv.tv_usec = (suseconds_t)(timeout_ms % 1000) * 1000;
        event_add(h->ev_drain, &tv);
    }
    event_active(h->ev_async, EV_TIMEOUT, 0);
}

void
httpd_free(struct httpd **ph)
{
    struct httpd *h = *ph;
    struct httpd_conn *c;
    struct httpd_req_block *b;

    if (h == NULL)
        return;
    *ph = NULL;
    CHECK_OBJ(h, HTTPD_MAGIC);
    h->freeing = true;
    h->async_head = h->async_tail = NULL;
    if (h->lev != NULL)
        evconnlistener_free(h->lev);
    h->lev = NULL;
    while ((c = h->conns) != NULL) {
        if (c->state != HTTPD_C_DEAD) {
            c->in_cb++; /* user callbacks below must not queue work */
            httpd_req_notify_close(c, ERR_CLOSED);
            httpd_conn_close(c);
        }
        c->async = 0;
        httpd_conn_free(c);
    }
    event_free(h->ev_async);
    event_free(h->ev_drain);
    event_free(h->ev_accept_retry);
    while ((b = h->req_cache) != NULL) {
        h->req_cache = b->next;
        xfree(b);
    }
    FREE_OBJ(h);
}

int
httpd_conn_reset(struct httpd *h, uint64_t conn_id)
{
    struct httpd_conn *c;

    CHECK_OBJ_NOTNULL(h, HTTPD_MAGIC);
    for (c = h->conns; c != NULL; c = c->next) {
        if (c->id == conn_id && c->state != HTTPD_C_DEAD) {
            httpd_conn_abort(c, ERR_TIMEOUT, -1, true);
            return 0;
        }
    }
    return ERR_NOTFOUND;
}

unsigned
httpd_conn_count(const struct httpd *h)
{
    CHECK_OBJ_NOTNULL(h, HTTPD_MAGIC);
    return h->nconns;
}

struct event_base *
httpd_base(const struct httpd *h)
{
    CHECK_OBJ_NOTNULL(h, HTTPD_MAGIC);
    return h->base;
}

/* ---- the request ---- */

enum http1_method
httpd_req_method(const struct httpd_req *r)
{
    CHECK_OBJ_NOTNULL(r, HTTPD_REQ_MAGIC);
    return r->method;
}

const char *
httpd_req_method_str(const struct httpd_req *r)
{
    CHECK_OBJ_NOTNULL(r, HTTPD_REQ_MAGIC);
    return r->method_s;
}

const char *
httpd_req_target(const struct httpd_req *r)
{
    CHECK_OBJ_NOTNULL(r, HTTPD_REQ_MAGIC);
    return r->target;
}

const char *
httpd_req_path(const struct httpd_req *r)
{
    CHECK_OBJ_NOTNULL(r, HTTPD_REQ_MAGIC);
    return r->path;
}

const char *
httpd_req_query(const struct httpd_req *r)
{
    CHECK_OBJ_NOTNULL(r, HTTPD_REQ_MAGIC);
    return r->query;
}

int
httpd_req_version_minor(const struct httpd_req *r)
{
    CHECK_OBJ_NOTNULL(r, HTTPD_REQ_MAGIC);
    return r->version_minor;
}

const char *
httpd_req_header(const struct httpd_req *r, const char *name)
{
    size_t i;

    CHECK_OBJ_NOTNULL(r, HTTPD_REQ_MAGIC);
    for (i = 0; i < r->nfields; i++)
        if (strcasecmp(r->fields[i].name, name) == 0)
            return r->fields[i].value;
    return NULL;
}

size_t
httpd_req_header_count(const struct httpd_req *r)
{
    CHECK_OBJ_NOTNULL(r, HTTPD_REQ_MAGIC);
    return r->nfields;
}

void
httpd_req_header_at(const struct httpd_req *r, size_t i, const char **name, const char **value)
{
    CHECK_OBJ_NOTNULL(r, HTTPD_REQ_MAGIC);
    assert(i < r->nfields);
    *name = r->fields[i].name;
    *value = r->fields[i].value;
}

const char *
httpd_req_peer(const struct httpd_req *r)
{
    CHECK_OBJ_NOTNULL(r, HTTPD_REQ_MAGIC);
    return r->conn->peer;
}

uint64_t
httpd_req_conn_id(const struct httpd_req *r)
{
    CHECK_OBJ_NOTNULL(r, HTTPD_REQ_MAGIC);
    return r->conn->id;
}

uint64_t
httpd_req_start_ms(const struct httpd_req *r)
{
    CHECK_OBJ_NOTNULL(r, HTTPD_REQ_MAGIC);
    return r->start_ms;
}

void
httpd_req_read_body(struct httpd_req *r, httpd_body_data_cb *on_data, httpd_body_end_cb *on_end,
                    void *arg)
{
    struct httpd_conn *c;
    static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";

    CHECK_OBJ_NOTNULL(r, HTTPD_REQ_MAGIC);
    c = r->conn;
    assert(r->body_state == HTTPD_BODY_UNREAD);
    if (r->closed || r->ended)
        return;
    r->on_data = on_data;
    r->on_end = on_end;
    r->body_arg = arg;
    r->body_state = HTTPD_BODY_READING;
    /* SPEC: RFC 9110 10.1.1 -- 100 Continue only when the body is wanted
     * and no final status has been sent. */
    if (r->expect_100 && !r->sent_100 && r->resp_mode == HTTPD_RESP_NONE) {
        AZ(evbuffer_add(httpd_conn_out(c), cont, sizeof(cont) - 1));
        c->m_out += sizeof(cont) - 1;
        httpd_count_status(100);
        r->sent_100 = true;
    }
    if (!r->body_done && !r->body_paused)
        httpd_conn_timer(c, c->h->conf.body_timeout_ms);
    httpd_conn_kick(c);
}

void
httpd_req_body_pause(struct httpd_req *r, bool pause)
{
    struct httpd_conn *c;

    CHECK_OBJ_NOTNULL(r, HTTPD_REQ_MAGIC);
    c = r->conn;
    if (r->closed || r->ended || r->body_paused == pause)
        return;
    r->body_paused = pause;
    if (pause) {
        httpd_conn_read_on(c, false);
        if (r->body_state == HTTPD_BODY_READING)
            event_del(&c->timer);
        return;
    }
    httpd_conn_read_on(c, true);
    if (r->body_state == HTTPD_BODY_READING && !r->body_done)
        httpd_conn_timer(c, c->h->conf.body_timeout_ms);
    httpd_conn_kick(c);
}

void
httpd_req_on_close(struct httpd_req *r, httpd_req_cb *cb, void *arg)
{
    CHECK_OBJ_NOTNULL(r, HTTPD_REQ_MAGIC);
    r->on_close = cb;
    r->close_arg = arg;
}

/* ---- the response ---- */

/* Does the comma-separated list v hold token tok (case-insensitive)? */
static bool
httpd_has_token(const char *v, const char *tok)
{
    size_t tl = strlen(tok), n;
    const char *e;

    for (;;) {
        while (*v == ' ' || *v == '\t' || *v == ',')
            v++;
        if (*v == '\0')
            return false;
        e = v;
        while (*e != '\0' && *e != ',')
            e++;
        n = (size_t)(e - v);
        while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
            n--;
        if (n == tl && strncasecmp(v, tok, tl) == 0)
            return true;
        v = e;
    }
}

/* A field value: no CR, LF or NUL (SPEC: RFC 9110 5.5). */
static bool
httpd_value_ok(const char *v, size_t len)
{
    size_t i;

    for (i = 0; i < len; i++)
        if (v[i] == '\r' || v[i] == '\n' || v[i] == '\0')
            return false;
    return true;
}

static bool
httpd_name_ok(const char *name, size_t len)
{
    size_t i;

    if (len == 0)
        return false;
    for (i = 0; i < len; i++)
        if (!cache_tchar[(unsigned char)name[i]])
            return false;
    return true;
}

/* The response field names httpd treats specially. */
enum httpd_name_kind {
    HTTPD_NAME_OTHER = 0,
    HTTPD_NAME_FRAMING,    /* Content-Length, Transfer-Encoding: httpd's */
    HTTPD_NAME_CONNECTION, /* httpd's to write; "close" is honoured */
    HTTPD_NAME_DATE,       /* replaces httpd's own */
    HTTPD_NAME_SERVER,     /* replaces httpd's own */
};

/* By length first: most names are compared with nothing. */
static enum httpd_name_kind
httpd_name_kind(const char *name, size_t len)
{
    switch (len) {
    case 4:
        return strncasecmp(name, "Date", 4) == 0 ? HTTPD_NAME_DATE : HTTPD_NAME_OTHER;
    case 6:
        return strncasecmp(name, "Server", 6) == 0 ? HTTPD_NAME_SERVER : HTTPD_NAME_OTHER;
    case 10:
        return strncasecmp(name, "Connection", 10) == 0 ? HTTPD_NAME_CONNECTION : HTTPD_NAME_OTHER;
    case 14:
        return strncasecmp(name, "Content-Length", 14) == 0 ? HTTPD_NAME_FRAMING : HTTPD_NAME_OTHER;
    case 17:
        return strncasecmp(name, "Transfer-Encoding", 17) == 0 ? HTTPD_NAME_FRAMING
                                                               : HTTPD_NAME_OTHER;
    default:
        return HTTPD_NAME_OTHER;
    }
}

/* Appends "name: value\r\n" to the handler's fields. */
static void
httpd_rh_put(struct httpd_req *r, const char *name, size_t nlen, const char *value, size_t vlen)
{
    size_t n = nlen + vlen + 4, cap;
    char *p;

    if (r->rh_len + n > r->rh_cap) {
        cap = r->rh_cap != 0 ? r->rh_cap * 2 : 512;
        while (cap < r->rh_len + n)
            cap *= 2;
        p = httpd_arena_alloc(r, cap);
        if (r->rh_len != 0)
            memcpy(p, r->rh, r->rh_len);
        r->rh = p;
        r->rh_cap = cap;
    }
    p = r->rh + r->rh_len;
    memcpy(p, name, nlen);
    p[nlen] = ':';
    p[nlen + 1] = ' ';
    memcpy(p + nlen + 2, value, vlen);
    p[nlen + 2 + vlen] = '\r';
    p[nlen + 3 + vlen] = '\n';
    r->rh_len += n;
}

/* httpd_resp_header() once name and value are known to be well-formed. */
static int
httpd_resp_field(struct httpd_req *r, const char *name, size_t nlen, const char *value, size_t vlen)
{
    enum httpd_name_kind k = httpd_name_kind(name, nlen);

    /* Framing is httpd's: it follows resp_start's content_length. */
    if (k == HTTPD_NAME_FRAMING)
        return ERR_INVAL;
    if (r->closed)
        return ERR_CLOSED;
    if (k == HTTPD_NAME_CONNECTION) {
        /* Hop-by-hop and httpd's to write; "close" is honoured. */
        if (httpd_has_token(value, "close"))
            r->want_close = true;
        return 0;
    }
    if (k == HTTPD_NAME_DATE)
        r->has_date = true;
    else if (k == HTTPD_NAME_SERVER)
        r->has_server = true;
    httpd_rh_put(r, name, nlen, value, vlen);
    return 0;
}

int
httpd_resp_header(struct httpd_req *r, const char *name, const char *value)
{
    size_t nlen, vlen;

    CHECK_OBJ_NOTNULL(r, HTTPD_REQ_MAGIC);
    AN(name);
    AN(value);
    if (r->resp_mode != HTTPD_RESP_NONE || r->ended)
        return ERR_INVAL;
    nlen = strlen(name);
    vlen = strlen(value);
    if (!httpd_name_ok(name, nlen) || !httpd_value_ok(value, vlen))
        return ERR_INVAL;
    return httpd_resp_field(r, name, nlen, value, vlen);
}

void
httpd_resp_set_n(struct httpd_req *r, const char *name, size_t nlen, const char *value, size_t vlen)
{
    int rc;

    CHECK_OBJ_NOTNULL(r, HTTPD_REQ_MAGIC);
    assert(r->resp_mode == HTTPD_RESP_NONE && !r->ended);
    assert(value[vlen] == '\0');
    DASSERT(httpd_name_ok(name, nlen) && httpd_value_ok(value, vlen));
    rc = httpd_resp_field(r, name, nlen, value, vlen);
    assert(rc == 0 || rc == ERR_CLOSED);
    (void)rc;
}

static bool
httpd_req_keep(const struct httpd_req *r, uint8_t mode)
{
    const struct httpd_conn *c = r->conn;
    const struct httpd *h = c->h;

    if (!r->msg.keep_alive || r->want_close || h->draining || c->eof || r->body_err)
        return false;
    if (h->conf.max_requests_per_conn != 0 && c->nreqs >= h->conf.max_requests_per_conn)
        return false;
    if (mode == HTTPD_RESP_EOF)
        return false;
    /* The client may or may not send a body it was not invited to send:
     * the connection's framing is unknown. */
    if (r->expect_100 && !r->sent_100 && !r->body_done)
        return false;
    return true;
}

void
httpd_resp_start(struct httpd_req *r, int status, int64_t content_length)
{
    struct httpd_conn *c;
    struct httpd *h;
    struct evbuffer *out;
    struct evbuffer_iovec v;
    const char *reason, *server;
    char num[24], *p;
    size_t rlen, slen = 0, nlen = 0, total;
    bool nobody, len_hdr, te_hdr;
    uint8_t mode;

    CHECK_OBJ_NOTNULL(r, HTTPD_REQ_MAGIC);
    assert(r->resp_mode == HTTPD_RESP_NONE && !r->ended);
    assert(status >= 200 && status <= 999);
    c = r->conn;
    h = c->h;
    r->status = status;
    if (r->closed)
        return; /* writes answer ERR_CLOSED; nothing reaches the client */
    nobody = r->method == HTTP1_M_HEAD || status == 204 || status == 304;
    if (nobody)
        mode = HTTPD_RESP_NOBODY;
    else if (content_length >= 0)
        mode = HTTPD_RESP_LENGTH;
    else if (r->version_minor >= 1)
        mode = HTTPD_RESP_CHUNKED;
    else
        mode = HTTPD_RESP_EOF;
    r->resp_mode = mode;
    r->resp_cl = mode == HTTPD_RESP_LENGTH ? content_length : -1;
    r->keep = httpd_req_keep(r, mode);

    /* SPEC: RFC 9110 8.6 and 9112 6.1 -- a HEAD answer carries the framing
     * a GET would have had; 204 and 304 carry none. */
    len_hdr = (mode == HTTPD_RESP_LENGTH) ||
              (r->method == HTTP1_M_HEAD && content_length >= 0 && status != 204 && status != 304);
    te_hdr =
        (mode == HTTPD_RESP_CHUNKED) || (r->method == HTTP1_M_HEAD && content_length < 0 &&
                                         r->version_minor >= 1 && status != 204 && status != 304);
    if (len_hdr)
        nlen = httpd_fmt_u64(num, (uint64_t)content_length);

    httpd_date_refresh(h);
    reason = httpd_reason(status);
    rlen = strlen(reason);
    server = r->has_server ? NULL : h->conf.server;
    if (server != NULL && server[0] != '\0')
        slen = strlen(server);
    total = 9 + 4 + rlen + 2;               /* "HTTP/1.1 200 OK\r\n" */
    total += r->has_date ? 0 : h->date_len; /* Date */
    total += slen != 0 ? 8 + slen + 2 : 0;  /* Server */
    total += r->rh_len;                     /* the handler's fields */
    total += len_hdr ? 16 + nlen + 2 : 0;   /* Content-Length */
    total += te_hdr ? 28 : 0;               /* Transfer-Encoding */
    total += 24;                            /* Connection (either) */
    total += 2;

    out = httpd_conn_out(c);
    AN(evbuffer_reserve_space(out, (ev_ssize_t)total, &v, 1) == 1);
    assert(v.iov_len >= total);
    p = v.iov_base;
    memcpy(p, "HTTP/1.1 ", 9);
    p += 9;
    p[0] = (char)('0' + status / 100 % 10);
    p[1] = (char)('0' + status / 10 % 10);
    p[2] = (char)('0' + status % 10);
    p[3] = ' ';
    p += 4;
    memcpy(p, reason, rlen);
    p += rlen;
    memcpy(p, "\r\n", 2);
    p += 2;
    if (!r->has_date) {
        memcpy(p, h->date_line, h->date_len);
        p += h->date_len;
    }
    if (slen != 0) {
        memcpy(p, "Server: ", 8);
        memcpy(p + 8, server, slen);
        memcpy(p + 8 + slen, "\r\n", 2);
        p += 8 + slen + 2;
    }
    if (r->rh_len != 0) {
        memcpy(p, r->rh, r->rh_len);
        p += r->rh_len;
    }
    if (len_hdr) {
        memcpy(p, "Content-Length: ", 16);
        memcpy(p + 16, num, nlen);
        memcpy(p + 16 + nlen, "\r\n", 2);
        p += 16 + nlen + 2;
    }
    if (te_hdr) {
        memcpy(p, "Transfer-Encoding: chunked\r\n", 28);
        p += 28;
    }
    if (!r->keep) {
        memcpy(p, "Connection: close\r\n", 19);
        p += 19;
    } else if (r->version_minor == 0) {
        memcpy(p, "Connection: keep-alive\r\n", 24);
        p += 24;
    }
    memcpy(p, "\r\n", 2);
    p += 2;
    v.iov_len = (size_t)(p - (char *)v.iov_base);
    assert(v.iov_len <= total);
    AZ(evbuffer_commit_space(out, &v, 1));
    c->m_out += v.iov_len;
    httpd_count_status(status);
    httpd_conn_kick(c);
}

/* Checks a body write and adds the chunk-size line; 1 when the bytes must
 * be dropped (HEAD, 204, 304), 0 when they go out, or an error. */
static int
httpd_resp_prepare(struct httpd_req *r, size_t len)
{
    char line[24];
    size_t n;

    if (r->closed)
        return ERR_CLOSED;
    if (r->resp_mode == HTTPD_RESP_NONE || r->ended)
        return ERR_INVAL;
    if (r->resp_mode == HTTPD_RESP_NOBODY || len == 0)
        return 1;
    if (r->resp_mode == HTTPD_RESP_LENGTH && r->resp_bytes + len > (uint64_t)r->resp_cl)
        return ERR_INVAL;
    if (r->resp_mode == HTTPD_RESP_CHUNKED) {
        n = httpd_fmt_hex(line, len);
        line[n++] = '\r';
        line[n++] = '\n';
        AZ(evbuffer_add(httpd_conn_out(r->conn), line, n));
        r->conn->m_out += n;
    }
    return 0;
}

static void
httpd_resp_added(struct httpd_req *r, size_t len)
{
    if (r->resp_mode == HTTPD_RESP_CHUNKED) {
        AZ(evbuffer_add(httpd_conn_out(r->conn), "\r\n", 2));
        r->conn->m_out += 2;
    }
    r->resp_bytes += len;
    r->conn->m_out += len;
    httpd_conn_kick(r->conn);
}

int
httpd_resp_write(struct httpd_req *r, const void *data, size_t len)
{
    int rc;

    CHECK_OBJ_NOTNULL(r, HTTPD_REQ_MAGIC);
    rc = httpd_resp_prepare(r, len);
    if (rc != 0)
        return rc < 0 ? rc : 0;
    AZ(evbuffer_add(httpd_conn_out(r->conn), data, len));
    httpd_resp_added(r, len);
    return 0;
}

int
httpd_resp_add_reference(struct httpd_req *r, const void *data, size_t len,
                         httpd_ref_cleanup_cb *cleanup, void *arg)
{
    int rc;

    CHECK_OBJ_NOTNULL(r, HTTPD_REQ_MAGIC);
    rc = httpd_resp_prepare(r, len);
    if (rc < 0)
        return rc;
    if (rc == 1) {
        /* Nothing will be sent: the bytes are released right away. */
        if (cleanup != NULL)
            cleanup(data, len, arg);
        return 0;
    }
    AZ(evbuffer_add_reference(httpd_conn_out(r->conn), data, len, cleanup, arg));
    httpd_resp_added(r, len);
    return 0;
}

int
httpd_resp_add_buffer(struct httpd_req *r, struct evbuffer *buf)
{
    size_t len;
    int rc;

    CHECK_OBJ_NOTNULL(r, HTTPD_REQ_MAGIC);
    AN(buf);
    len = evbuffer_get_length(buf);
    rc = httpd_resp_prepare(r, len);
    if (rc < 0)
        return rc;
    if (rc == 1) {
        AZ(evbuffer_drain(buf, len));
        return 0;
    }
    AZ(evbuffer_add_buffer(httpd_conn_out(r->conn), buf));
    httpd_resp_added(r, len);
    return 0;
}

void
httpd_resp_set(struct httpd_req *r, const char *name, const char *value)
{
    int rc = httpd_resp_header(r, name, value);

    assert(rc == 0 || rc == ERR_CLOSED);
    (void)rc;
}

void
httpd_resp_end(struct httpd_req *r)
{
    struct httpd_conn *c;
    char path[128];

    CHECK_OBJ_NOTNULL(r, HTTPD_REQ_MAGIC);
    assert(!r->ended);
    c = r->conn;
    if (r->resp_mode == HTTPD_RESP_NONE && !r->closed) {
        /* A handler bug: the client still gets an answer, and we a log line. */
        LOG(LOG_WARN, "httpd", "end_without_start", "conn=%" PRIu64 " path=%s", c->id,
            log_sanitize(path, sizeof(path), r->path, strlen(r->path)));
        httpd_resp_start(r, 500, 0);
    }
    r->ended = true;
    r->on_writable = NULL;
    r->on_close = NULL;
    r->on_data = NULL;
    r->on_end = NULL;
    if (r->closed)
        return;
    if (r->resp_mode == HTTPD_RESP_CHUNKED) {
        AZ(evbuffer_add(httpd_conn_out(c), "0\r\n\r\n", 5));
        c->m_out += 5;
    } else if (r->resp_mode == HTTPD_RESP_LENGTH && r->resp_bytes < (uint64_t)r->resp_cl) {
        /* The client waits for bytes that never come: only a close tells it. */
        metric_inc(httpd_m.errors[HTTPD_ERR_SHORT_RESPONSE]);
        LOG(LOG_INFO, "httpd", "short_response",
            "conn=%" PRIu64 " path=%s sent=%" PRIu64 " declared=%" PRId64, c->id,
            log_sanitize(path, sizeof(path), r->path, strlen(r->path)), r->resp_bytes, r->resp_cl);
        r->keep = false;
    }
    httpd_conn_kick(c);
}

void
httpd_resp_abort(struct httpd_req *r)
{
    struct httpd_conn *c;
    char path[128];

    CHECK_OBJ_NOTNULL(r, HTTPD_REQ_MAGIC);
    assert(!r->ended);
    c = r->conn;
    r->ended = true;
    r->keep = false;
    r->on_writable = NULL;
    r->on_close = NULL;
    r->on_data = NULL;
    r->on_end = NULL;
    if (r->closed)
        return;
    metric_inc(httpd_m.errors[HTTPD_ERR_SHORT_RESPONSE]);
    LOG(LOG_INFO, "httpd", "response_aborted",
        "conn=%" PRIu64 " path=%s sent=%" PRIu64 " declared=%" PRId64, c->id,
        log_sanitize(path, sizeof(path), r->path, strlen(r->path)), r->resp_bytes, r->resp_cl);
    httpd_conn_kick(c);
}

void
httpd_resp_send(struct httpd_req *r, int status, const char *content_type, const void *body,
                size_t len)
{
    CHECK_OBJ_NOTNULL(r, HTTPD_REQ_MAGIC);
    if (content_type != NULL && httpd_resp_header(r, "Content-Type", content_type) != 0) {
        /* closed, or a type with CR/LF: sent without one */
    }
    httpd_resp_start(r, status, (int64_t)len);
    if (len != 0 && httpd_resp_write(r, body, len) != 0) {
        /* closed: httpd_resp_end() below only releases r */
    }
    httpd_resp_end(r);
}

/* JSON string body, escaped (SPEC: RFC 8259 7). */
static size_t
httpd_json_escape(char *dst, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    size_t n = 0;
    unsigned char ch;

    for (; *s != '\0'; s++) {
        ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\') {
            dst[n++] = '\\';
            dst[n++] = (char)ch;
        } else if (ch < 0x20) {
            memcpy(dst + n, "\\u00", 4);
            dst[n + 4] = hex[ch >> 4];
            dst[n + 5] = hex[ch & 15];
            n += 6;
        } else {
            dst[n++] = (char)ch;
        }
    }
    return n;
}

void
httpd_resp_error(struct httpd_req *r, int status, const char *code, const char *message)
{
    char *body;
    size_t n = 0;

    CHECK_OBJ_NOTNULL(r, HTTPD_REQ_MAGIC);
    AN(code);
    if (message == NULL)
        message = "";
    body = httpd_arena_alloc(r, 32 + 6 * (strlen(code) + strlen(message)));
    memcpy(body, "{\"error\":{\"code\":\"", 18);
    n = 18;
    n += httpd_json_escape(body + n, code);
    memcpy(body + n, "\",\"message\":\"", 13);
    n += 13;
    n += httpd_json_escape(body + n, message);
    memcpy(body + n, "\"}}\n", 4);
    n += 4;
    httpd_resp_send(r, status, "application/json", body, n);
}

bool
httpd_resp_writable(const struct httpd_req *r)
{
    CHECK_OBJ_NOTNULL(r, HTTPD_REQ_MAGIC);
    if (r->closed || r->ended)
        return true;
    return evbuffer_get_length(httpd_conn_out(r->conn)) < r->conn->h->conf.out_high_watermark;
}

void
httpd_req_on_writable(struct httpd_req *r, httpd_req_cb *cb, void *arg)
{
    CHECK_OBJ_NOTNULL(r, HTTPD_REQ_MAGIC);
    if (r->closed || r->ended)
        return;
    r->on_writable = cb;
    r->writable_arg = arg;
    if (cb != NULL)
        httpd_conn_kick(r->conn);
}

uint64_t
httpd_resp_bytes(const struct httpd_req *r)
{
    CHECK_OBJ_NOTNULL(r, HTTPD_REQ_MAGIC);
    return r->resp_bytes;
}

int
httpd_resp_status(const struct httpd_req *r)
{
    CHECK_OBJ_NOTNULL(r, HTTPD_REQ_MAGIC);
    return r->status;
}
