/*
 * rtmp_ingest.h -- the origin's RTMP server: a libevent listener on
 * rtmp.listen whose connections each drive one pure rtmp_session
 * (shared/proto/rtmp_session.h) and hand the published tags to live.c.
 *
 * Per connection: bytes from the socket go into the session; its replies
 * go back out; a publish is checked against the stream keys (streams.h)
 * and the set of live streams (one publisher per stream) and answered
 * with onStatus NetStream.Publish.Start or an error; media and metadata
 * go to live_publish_tag(). Peers that break the protocol, stall, or send
 * a wrong key are counted (origin.rtmp.errors / origin.rtmp.refused, by
 * reason), logged rate-limited with their connection id, and closed;
 * other connections never notice.
 *
 * Read batching. A connection that publishes stops waking the loop for
 * each packet: with read_batch_ms set, one timer reads every publisher
 * in turn (recv until drained), feeds the sessions and flushes their
 * journals, so a hundred streams cost one wake-up per tick instead of
 * one per packet each, and one journal write per tick instead of one per
 * tag. Until the publish starts (handshake, commands) a connection is
 * read as its data arrives, so the replies an encoder waits for are not
 * delayed.
 *
 * Threads: everything runs on the event base given to rtmp_ingest_new()
 * (the ingest thread). Not here: the protocol (shared/proto/), packaging
 * (live.c), RTMPS (later: a TLS bufferevent in front of the same code).
 */
#ifndef CASCADE_RTMP_INGEST_H
#define CASCADE_RTMP_INGEST_H

#include <stdint.h>

#include "miniobj.h"

struct event_base;
struct live;
struct rtmp_ingest;
struct streams;

struct rtmp_ingest_conf {
    const char *listen;       /* "host:port"; borrowed during rtmp_ingest_new() */
    uint32_t timeout_ms;      /* a connection silent this long is closed */
    uint32_t max_connections; /* beyond it new connections are closed at once */
    uint32_t read_batch_ms;   /* publishers are read on this tick; 0 = as data arrives */
};

/* Binds and listens (SO_REUSEADDR, not SO_REUSEPORT: one ingest per port). 0 or -errno. */
int rtmp_ingest_new(struct event_base *base, const struct rtmp_ingest_conf *c, struct streams *st,
                    struct live *lv, struct rtmp_ingest **out) WARN_UNUSED;
/* Stops listening and closes every connection (publishers end as if they had left). */
void rtmp_ingest_free(struct rtmp_ingest **pi);
unsigned rtmp_ingest_conn_count(const struct rtmp_ingest *i);

#endif
