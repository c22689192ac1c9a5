/*
 * rtmp_ingest.c -- accept RTMP connections, feed each one's bytes to its
 * rtmp_session, send the replies, act on the events.
 *
 * A struct rtmp_conn lives from accept to close; it owns its bufferevent
 * and session, and, while publishing, the struct live_stream handle. It is
 * freed from a zero-timeout event, never inside its own callbacks. A
 * refused publish flushes the onStatus error before the close; a
 * protocol error closes at once.
 *
 * Every byte of an event's body is borrowed from the session or from the
 * input buffer, so an event is handled before the input is drained.
 */
#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/util.h>

#include "rtmp_ingest.h"
#include "err.h"
#include "live.h"
#include "log.h"
#include "mem.h"
#include "metrics.h"
#include "proto/flv.h"
#include "proto/rtmp_session.h"
#include "streams.h"
#include "compat.h"

#define RTMP_INGEST_APP "live"
#define RTMP_INGEST_OUT_HIGH (1u << 20) /* pending output past which we stop reading */
#define RTMP_INGEST_RECV (128u << 10)   /* one recv() of a batched read */

enum rtmp_ingest_reason {
    RTMP_R_HANDSHAKE = 0, /* bad or truncated handshake */
    RTMP_R_PROTOCOL,      /* broken chunk stream or commands */
    RTMP_R_LIMIT,         /* a cap: message size, chunk size, streams, output */
    RTMP_R_TIMEOUT,       /* silent for timeout_ms */
    RTMP_R_CUT,           /* the connection dropped while publishing */
    RTMP_R_MAX,
};

static const char *const rtmp_ingest_reason_names[RTMP_R_MAX] = {"handshake", "protocol", "limit",
                                                                 "timeout", "cut"};

enum rtmp_ingest_refusal {
    RTMP_F_BAD_KEY = 0, /* no stream has this key */
    RTMP_F_BUSY,        /* the stream already has a publisher */
    RTMP_F_BAD_APP,     /* not rtmp://host/live/... */
    RTMP_F_INTERNAL,    /* journal or store failure */
    RTMP_F_FULL,        /* max_connections */
    RTMP_F_MAX,
};

static const char *const rtmp_ingest_refusal_names[RTMP_F_MAX] = {"bad_key", "busy", "bad_app",
                                                                  "internal", "full"};

struct rtmp_ingest {
    unsigned magic;
#define RTMP_INGEST_MAGIC 0x72696e67U
    struct event_base *base;      /* borrowed */
    struct evconnlistener *lev;   /* owned */
    struct streams *streams;      /* borrowed */
    struct live *live;            /* borrowed */
    struct rtmp_ingest_conf conf; /* listen is not kept */
    struct rtmp_conn *conns;      /* every open connection */
    unsigned nconns;
    struct event *tick; /* owned: the batched read, pending while nbatched > 0 */
    struct timeval tick_tv;
    unsigned nbatched;
    uint8_t *rbuf; /* owned: RTMP_INGEST_RECV bytes for batched reads */
    uint64_t next_id;
    struct metric *accepted, *active, *publishes;
    struct metric *errors[RTMP_R_MAX];
    struct metric *refused[RTMP_F_MAX];
};

struct rtmp_conn {
    unsigned magic;
#define RTMP_CONN_MAGIC 0x72636f6eU
    struct rtmp_ingest *ing;   /* borrowed */
    struct bufferevent *bev;   /* owned */
    struct rtmp_session *sess; /* owned */
    struct live_stream *ls;    /* owned handle while publishing, else NULL */
    struct event *free_ev;     /* owned: the deferred free */
    uint64_t id;
    char peer[INET6_ADDRSTRLEN + 8];
    char stream[STREAMS_NAME_MAX + 1];
    bool closing;        /* no more input is handled */
    bool close_flushed;  /* close once the output is sent */
    bool batched;        /* read by the tick, not by its bufferevent */
    uint64_t last_rx_ms; /* batched: when input last came */
    struct rtmp_conn *prev, *next;
};

static uint64_t
rtmp_ingest_mono_ms(void)
{
    struct timespec ts;

    AZ(clock_gettime(CLOCK_MONOTONIC, &ts));
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---- closing ---- */

static void
rtmp_ingest_unbatch(struct rtmp_conn *c)
{
    struct rtmp_ingest *ing = c->ing;

    assert(c->batched && ing->nbatched > 0);
    c->batched = false;
    if (--ing->nbatched == 0)
        AZ(event_del(ing->tick));
}

static void
rtmp_conn_free(struct rtmp_conn *c)
{
    struct rtmp_ingest *ing = c->ing;

    if (c->ls != NULL)
        live_publish_end(c->ls);
    c->ls = NULL;
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        ing->conns = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    ing->nconns--;
    if (c->batched)
        rtmp_ingest_unbatch(c);
    metric_gauge_add(ing->active, -1);
    bufferevent_free(c->bev);
    rtmp_session_free(&c->sess);
    event_free(c->free_ev);
    FREE_OBJ(c);
}

static void
rtmp_conn_free_cb(evutil_socket_t fd, short what, void *arg)
{
    struct rtmp_conn *c;

    (void)fd;
    (void)what;
    CAST_OBJ_NOTNULL(c, arg, RTMP_CONN_MAGIC);
    rtmp_conn_free(c);
}

/* Stops input and frees c from the loop, now or once its output is sent. */
static void
rtmp_conn_close(struct rtmp_conn *c, bool flush)
{
    static const struct timeval zero = {0, 0};

    c->closing = true;
    if (c->batched)
        rtmp_ingest_unbatch(c);
    /* The publisher is gone the moment we stop reading it. */
    if (c->ls != NULL) {
        live_publish_end(c->ls);
        c->ls = NULL;
    }
    bufferevent_disable(c->bev, EV_READ);
    if (flush && evbuffer_get_length(bufferevent_get_output(c->bev)) > 0) {
        c->close_flushed = true;
        return; /* the write callback closes */
    }
    bufferevent_disable(c->bev, EV_WRITE);
    AZ(event_add(c->free_ev, &zero));
}

static void
rtmp_conn_fail(struct rtmp_conn *c, enum rtmp_ingest_reason why, int err)
{
    metric_inc(c->ing->errors[why]);
    LOG_RL(LOG_INFO, "rtmp", "conn_failed", 20,
           "conn=%" PRIu64 " peer=%s stream=%s reason=%s err=%s", c->id, c->peer,
           c->stream[0] ? c->stream : "-", rtmp_ingest_reason_names[why], err_name(err));
    rtmp_conn_close(c, false);
}

static void
rtmp_conn_flush(struct rtmp_conn *c)
{
    const uint8_t *out;
    size_t len;

    out = rtmp_session_output(c->sess, &len);
    if (out == NULL || len == 0)
        return;
    if (bufferevent_write(c->bev, out, len) != 0) {
        rtmp_conn_fail(c, RTMP_R_LIMIT, -ENOMEM);
        return;
    }
    rtmp_session_output_consume(c->sess, len);
}

/* ---- events ---- */

static void
rtmp_conn_refuse(struct rtmp_conn *c, enum rtmp_ingest_refusal why, const char *code,
                 const char *desc)
{
    metric_inc(c->ing->refused[why]);
    LOG_RL(LOG_INFO, "rtmp", "publish_refused", 20, "conn=%" PRIu64 " peer=%s stream=%s reason=%s",
           c->id, c->peer, c->stream[0] ? c->stream : "-", rtmp_ingest_refusal_names[why]);
    if (rtmp_session_publish_reject(c->sess, code, desc) != 0) {
        rtmp_conn_close(c, false);
        return;
    }
    rtmp_conn_flush(c);
    rtmp_conn_close(c, true);
}

static void rtmp_conn_pull(struct rtmp_conn *c, uint64_t now_ms);

/*
 * A publisher that reconnects at once can find its old connection still
 * holding the stream: a batched connection's end is only seen at the next
 * read batch, up to rtmp.read_batch later. Reads that connection now;
 * true when that showed it had ended, so the stream is free.
 */
static bool
rtmp_ingest_reap_publisher(struct rtmp_ingest *ing, const char *stream)
{
    struct rtmp_conn *o;

    for (o = ing->conns; o != NULL; o = o->next)
        if (o->ls != NULL && o->batched && !o->closing && strcmp(o->stream, stream) == 0) {
            rtmp_conn_pull(o, rtmp_ingest_mono_ms());
            return o->ls == NULL;
        }
    return false;
}

static void
rtmp_conn_on_publish(struct rtmp_conn *c, const struct rtmp_session_event *ev)
{
    char key[RTMP_SESSION_MAX_NAME];
    char *q;
    int rc;

    if (strcmp(ev->app, RTMP_INGEST_APP) != 0) {
        rtmp_conn_refuse(c, RTMP_F_BAD_APP, "NetStream.Publish.BadName",
                         "publish to rtmp://HOST:PORT/live/STREAM_KEY");
        return;
    }
    /* Some encoders append ?query parameters to the key. */
    (void)snprintf(key, sizeof(key), "%s", ev->stream_key);
    q = strchr(key, '?');
    if (q != NULL)
        *q = '\0';
    rc = streams_key_lookup(c->ing->streams, key, c->stream, sizeof(c->stream));
    if (rc == ERR_NOTFOUND) {
        c->stream[0] = '\0';
        rtmp_conn_refuse(c, RTMP_F_BAD_KEY, "NetStream.Publish.BadName", "unknown stream key");
        return;
    }
    if (rc != 0) {
        c->stream[0] = '\0';
        rtmp_conn_refuse(c, RTMP_F_INTERNAL, "NetStream.Publish.Failed", "metadata store failed");
        return;
    }
    rc = live_publish_begin(c->ing->live, c->stream, &c->ls);
    /* Not from inside a batch: the pull reads into the batch's buffer. */
    if (rc == ERR_EXISTS && !c->batched && rtmp_ingest_reap_publisher(c->ing, c->stream))
        rc = live_publish_begin(c->ing->live, c->stream, &c->ls);
    if (rc == ERR_EXISTS) {
        rtmp_conn_refuse(c, RTMP_F_BUSY, "NetStream.Publish.BadName",
                         "this stream already has a publisher");
        return;
    }
    if (rc != 0) {
        rtmp_conn_refuse(c, RTMP_F_INTERNAL, "NetStream.Publish.Failed",
                         "the stream's journal could not be opened");
        return;
    }
    rc = rtmp_session_publish_accept(c->sess);
    if (rc != 0) {
        rtmp_conn_fail(c, RTMP_R_LIMIT, rc);
        return;
    }
    metric_inc(c->ing->publishes);
    LOG(LOG_INFO, "rtmp", "publish", "conn=%" PRIu64 " peer=%s stream=%s", c->id, c->peer,
        c->stream);
}

static void
rtmp_conn_on_event(struct rtmp_conn *c, const struct rtmp_session_event *ev)
{
    uint8_t type;
    int rc;

    switch (ev->type) {
    case RTMP_SEV_PUBLISH:
        rtmp_conn_on_publish(c, ev);
        return;
    case RTMP_SEV_AUDIO:
    case RTMP_SEV_VIDEO:
    case RTMP_SEV_METADATA:
        if (c->ls == NULL)
            return;
        type = ev->type == RTMP_SEV_AUDIO   ? FLV_TAG_AUDIO
               : ev->type == RTMP_SEV_VIDEO ? FLV_TAG_VIDEO
                                            : FLV_TAG_SCRIPT;
        rc = live_publish_tag(c->ls, type, ev->dts_ms, ev->data, ev->len);
        if (rc != 0) {
            /* counted and logged in live.c; the journal has the tag, the
             * publisher goes on (a new codec configuration may fix it) */
        }
        return;
    case RTMP_SEV_UNPUBLISH:
        if (c->ls != NULL) {
            LOG(LOG_INFO, "rtmp", "unpublish", "conn=%" PRIu64 " stream=%s", c->id, c->stream);
            live_publish_end(c->ls);
            c->ls = NULL;
        }
        return;
    case RTMP_SEV_CONNECT:
    case RTMP_SEV_NONE:
        return;
    }
}

/*
 * Feeds p[0..n) to the session and acts on each event it yields. Returns
 * false once the connection is closing (the rest of the input is dropped).
 * Events borrow from p, so p stays put until this returns.
 */
static bool
rtmp_conn_feed(struct rtmp_conn *c, const uint8_t *p, size_t n)
{
    struct rtmp_session_event ev;
    long r;

    while (!c->closing && n > 0) {
        memset(&ev, 0, sizeof(ev));
        r = rtmp_session_feed(c->sess, p, n, &ev);
        if (r == ERR_AGAIN)
            return true; /* all of it taken, no event yet */
        if (r < 0) {
            rtmp_conn_flush(c);
            rtmp_conn_fail(c,
                           c->sess->state == RTMP_SESSION_HANDSHAKE || c->sess->hs.error != 0
                               ? RTMP_R_HANDSHAKE
                           : r == ERR_LIMIT ? RTMP_R_LIMIT
                                            : RTMP_R_PROTOCOL,
                           (int)r);
            return false;
        }
        rtmp_conn_on_event(c, &ev);
        if (c->closing)
            return false;
        assert((size_t)r <= n);
        p += r;
        n -= (size_t)r;
        rtmp_conn_flush(c);
    }
    return !c->closing;
}

static void rtmp_conn_event_cb(struct bufferevent *bev, short what, void *arg);

/* After a batch of input: replies out, journal written, output bounded. */
static void
rtmp_conn_input_done(struct rtmp_conn *c)
{
    if (c->closing)
        return;
    rtmp_conn_flush(c);
    if (c->ls != NULL)
        live_publish_flush(c->ls);
    if (evbuffer_get_length(bufferevent_get_output(c->bev)) > RTMP_INGEST_OUT_HIGH)
        rtmp_conn_fail(c, RTMP_R_LIMIT, ERR_LIMIT); /* a client that never reads */
}

static void
rtmp_conn_read_cb(struct bufferevent *bev, void *arg)
{
    struct evbuffer *in = bufferevent_get_input(bev);
    struct evbuffer_iovec v;
    struct rtmp_conn *c;
    struct rtmp_ingest *ing;

    CAST_OBJ_NOTNULL(c, arg, RTMP_CONN_MAGIC);
    ing = c->ing;
    while (!c->closing && evbuffer_get_length(in) > 0) {
        if (evbuffer_peek(in, -1, NULL, &v, 1) < 1 || v.iov_len == 0)
            break;
        if (!rtmp_conn_feed(c, v.iov_base, v.iov_len))
            return;
        AZ(evbuffer_drain(in, v.iov_len));
    }
    rtmp_conn_input_done(c);
    /* Publishing now: from here on the tick reads this connection. */
    if (!c->closing && c->ls != NULL && ing->conf.read_batch_ms > 0 && !c->batched) {
        bufferevent_disable(bev, EV_READ);
        c->batched = true;
        c->last_rx_ms = rtmp_ingest_mono_ms();
        if (ing->nbatched++ == 0)
            AZ(event_add(ing->tick, &ing->tick_tv));
    }
}

/*
 * One batched read of c: recv() until the socket is drained (a short read
 * means it is), each chunk fed straight from the ingest's buffer. End of
 * stream, errors and silence become the events its bufferevent would
 * have reported.
 */
static void
rtmp_conn_pull(struct rtmp_conn *c, uint64_t now_ms)
{
    struct rtmp_ingest *ing = c->ing;
    int fd = bufferevent_getfd(c->bev);
    bool got = false;

    for (;;) {
        ssize_t r = recv(fd, ing->rbuf, RTMP_INGEST_RECV, 0);

        if (r > 0) {
            got = true;
            if (!rtmp_conn_feed(c, ing->rbuf, (size_t)r))
                return;
            if ((size_t)r < RTMP_INGEST_RECV)
                break;
            continue;
        }
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        rtmp_conn_input_done(c); /* what came before the end is kept */
        if (!c->closing)
            rtmp_conn_event_cb(c->bev, r == 0 ? BEV_EVENT_EOF : BEV_EVENT_ERROR, c);
        return;
    }
    if (got)
        c->last_rx_ms = now_ms;
    rtmp_conn_input_done(c);
    if (!c->closing && now_ms - c->last_rx_ms >= ing->conf.timeout_ms)
        rtmp_conn_event_cb(c->bev, BEV_EVENT_READING | BEV_EVENT_TIMEOUT, c);
}

static void
rtmp_ingest_tick_cb(evutil_socket_t fd, short what, void *arg)
{
    struct rtmp_ingest *ing;
    struct rtmp_conn *c, *next;
    uint64_t now_ms = rtmp_ingest_mono_ms();

    (void)fd;
    (void)what;
    CAST_OBJ_NOTNULL(ing, arg, RTMP_INGEST_MAGIC);
    /* Connections are freed from their own deferred event, never in here. */
    for (c = ing->conns; c != NULL; c = next) {
        next = c->next;
        if (c->batched && !c->closing)
            rtmp_conn_pull(c, now_ms);
    }
}

static void
rtmp_conn_write_cb(struct bufferevent *bev, void *arg)
{
    static const struct timeval zero = {0, 0};
    struct rtmp_conn *c;

    (void)bev;
    CAST_OBJ_NOTNULL(c, arg, RTMP_CONN_MAGIC);
    if (c->close_flushed) {
        c->close_flushed = false;
        bufferevent_disable(c->bev, EV_WRITE);
        AZ(event_add(c->free_ev, &zero));
    }
}

static void
rtmp_conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
    struct rtmp_conn *c;
    int rc;

    (void)bev;
    CAST_OBJ_NOTNULL(c, arg, RTMP_CONN_MAGIC);
    if (c->closing) {
        if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT)) {
            static const struct timeval zero = {0, 0};

            c->close_flushed = false;
            AZ(event_add(c->free_ev, &zero));
        }
        return;
    }
    if (what & BEV_EVENT_TIMEOUT) {
        rtmp_conn_fail(c,
                       c->sess->state == RTMP_SESSION_HANDSHAKE ? RTMP_R_HANDSHAKE : RTMP_R_TIMEOUT,
                       ERR_TIMEOUT);
        return;
    }
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
        rc = rtmp_session_eof(c->sess);
        if (c->sess->state == RTMP_SESSION_HANDSHAKE)
            rtmp_conn_fail(c, RTMP_R_HANDSHAKE, rc != 0 ? rc : ERR_CLOSED);
        else if (c->ls != NULL)
            rtmp_conn_fail(c, RTMP_R_CUT, rc != 0 ? rc : ERR_CLOSED);
        else {
            LOG(LOG_DEBUG, "rtmp", "closed", "conn=%" PRIu64 " peer=%s", c->id, c->peer);
            rtmp_conn_close(c, false);
        }
    }
}

/* ---- accepting ---- */

static void
rtmp_ingest_accept_cb(struct evconnlistener *lev, evutil_socket_t fd, struct sockaddr *sa,
                      int salen, void *arg)
{
    struct rtmp_session_conf sc;
    struct rtmp_ingest *ing;
    struct rtmp_conn *c;
    struct timeval tv;
    char host[INET6_ADDRSTRLEN];
    uint16_t port = 0;
    int one = 1;

    (void)lev;
    (void)salen;
    CAST_OBJ_NOTNULL(ing, arg, RTMP_INGEST_MAGIC);
    metric_inc(ing->accepted);
    if (ing->nconns >= ing->conf.max_connections) {
        metric_inc(ing->refused[RTMP_F_FULL]);
        evutil_closesocket(fd);
        return;
    }
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    c = xcalloc(1, sizeof(*c));
    c->magic = RTMP_CONN_MAGIC;
    c->ing = ing;
    c->id = ++ing->next_id;
    host[0] = '\0';
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in4 = (const struct sockaddr_in *)(const void *)sa;

        (void)inet_ntop(AF_INET, &in4->sin_addr, host, sizeof(host));
        port = ntohs(in4->sin_port);
        (void)snprintf(c->peer, sizeof(c->peer), "%s:%u", host, port);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;

        (void)inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
        port = ntohs(in6->sin6_port);
        (void)snprintf(c->peer, sizeof(c->peer), "[%s]:%u", host, port);
    }
    memset(&sc, 0, sizeof(sc));
    sc.time_ms = (uint32_t)rtmp_ingest_mono_ms();
    if (getrandom(&sc.seed, sizeof(sc.seed), GRND_NONBLOCK) != (ssize_t)sizeof(sc.seed))
        sc.seed = rtmp_ingest_mono_ms() ^ c->id;
    c->sess = rtmp_session_new(&sc);
    c->bev = bufferevent_socket_new(ing->base, fd, BEV_OPT_CLOSE_ON_FREE);
    AN(c->bev);
    c->free_ev = evtimer_new(ing->base, rtmp_conn_free_cb, c);
    AN(c->free_ev);
    bufferevent_setcb(c->bev, rtmp_conn_read_cb, rtmp_conn_write_cb, rtmp_conn_event_cb, c);
    tv.tv_sec = ing->conf.timeout_ms / 1000;
    tv.tv_usec = (long)(ing->conf.timeout_ms % 1000) * 1000;
    bufferevent_set_timeouts(c->bev, &tv, &tv);
    AZ(bufferevent_enable(c->bev, EV_READ | EV_WRITE));
    c->next = ing->conns;
    if (ing->conns != NULL)
        ing->conns->prev = c;
    ing->conns = c;
    ing->nconns++;
    metric_gauge_add(ing->active, 1);
    LOG(LOG_DEBUG, "rtmp", "accepted", "conn=%" PRIu64 " peer=%s", c->id, c->peer);
}

static void
rtmp_ingest_accept_error_cb(struct evconnlistener *lev, void *arg)
{
    int err = EVUTIL_SOCKET_ERROR();

    (void)lev;
    (void)arg;
    LOG_RL(LOG_WARN, "rtmp", "accept_failed", 5, "conn=0 err=%s", err_name(-err));
}

int
rtmp_ingest_new(struct event_base *base, const struct rtmp_ingest_conf *c, struct streams *st,
                struct live *lv, struct rtmp_ingest **out)
{
    struct sockaddr_storage ss;
    struct rtmp_ingest *ing;
    int sslen = sizeof(ss), i;

    memset(&ss, 0, sizeof(ss));
    if (evutil_parse_sockaddr_port(c->listen, (struct sockaddr *)&ss, &sslen) != 0)
        return ERR_INVAL;
    ing = xcalloc(1, sizeof(*ing));
    ing->magic = RTMP_INGEST_MAGIC;
    ing->base = base;
    ing->streams = st;
    ing->live = lv;
    ing->conf = *c;
    ing->conf.listen = NULL;
    if (ing->conf.max_connections == 0)
        ing->conf.max_connections = 1;
    ing->lev =
        evconnlistener_new_bind(base, rtmp_ingest_accept_cb, ing,
                                LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC,
                                128, (struct sockaddr *)&ss, sslen);
    if (ing->lev == NULL) {
        int err = -errno;

        LOG(LOG_ERR, "rtmp", "listen_failed", "conn=0 addr=%s err=%s", c->listen,
            err_name(err != 0 ? err : -EADDRINUSE));
        FREE_OBJ(ing);
        return err != 0 ? err : -EADDRINUSE;
    }
    evconnlistener_set_error_cb(ing->lev, rtmp_ingest_accept_error_cb);
    if (ing->conf.read_batch_ms > 0) {
        ing->tick = event_new(base, -1, EV_PERSIST, rtmp_ingest_tick_cb, ing);
        AN(ing->tick);
        ing->tick_tv.tv_sec = ing->conf.read_batch_ms / 1000;
        ing->tick_tv.tv_usec = (suseconds_t)(ing->conf.read_batch_ms % 1000) * 1000;
        ing->rbuf = xmalloc(RTMP_INGEST_RECV);
    }
    ing->accepted = metrics_counter("origin.rtmp.connections", "RTMP connections accepted.");
    ing->active = metrics_gauge("origin.rtmp.active", "RTMP connections open now.");
    ing->publishes = metrics_counter("origin.rtmp.publishes", "Publishes accepted.");
    for (i = 0; i < RTMP_R_MAX; i++)
        ing->errors[i] = metrics_counter_l("origin.rtmp.errors",
                                           "RTMP connections ended by a peer error, by reason.",
                                           "reason", rtmp_ingest_reason_names[i]);
    for (i = 0; i < RTMP_F_MAX; i++)
        ing->refused[i] =
            metrics_counter_l("origin.rtmp.refused", "Publishes or connections refused, by reason.",
                              "reason", rtmp_ingest_refusal_names[i]);
    LOG(LOG_INFO, "rtmp", "listening", "conn=0 addr=%s", c->listen);
    *out = ing;
    return 0;
}

void
rtmp_ingest_free(struct rtmp_ingest **pi)
{
    struct rtmp_ingest *ing = *pi;

    if (ing == NULL)
        return;
    CHECK_OBJ(ing, RTMP_INGEST_MAGIC);
    evconnlistener_free(ing->lev);
    while (ing->conns != NULL)
        rtmp_conn_free(ing->conns);
    if (ing->tick != NULL)
        event_free(ing->tick);
    xfree(ing->rbuf);
    FREE_OBJ(ing);
    *pi = NULL;
}

unsigned
rtmp_ingest_conn_count(const struct rtmp_ingest *i)
{
    CHECK_OBJ_NOTNULL(i, RTMP_INGEST_MAGIC);
    return i->nconns;
}
