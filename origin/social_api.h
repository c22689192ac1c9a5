/*
 * social_api.h -- the origin's interactions API under /api/: sessions,
 * comments with threaded replies, likes, reactions in media time, edges'
 * reaction batches and the event log edges follow (docs/social.md).
 *
 * One struct origin_social per process, shared by every HTTP worker. The
 * store (meta.h) is synchronous, so requests never touch it on an event
 * loop: the loop routes, checks the token and reads the body, then hands
 * the request to a small pool of store threads; the answer comes back to
 * the request's own loop through an event. A full queue answers 503.
 *
 * Wiring (origin_main.c): make the store and this at start, free this
 * then the store at stop (after the loops have ended, before node_free),
 * and in the handler, before other /api/ routes:
 *     if (origin_api_social_handle(r, social, node_worker_base(arg)))
 *         return;
 *
 * Not here: parsing (social_parse.c), tokens (token.c), storage (meta.c).
 */
#ifndef CASCADE_ORIGIN_SOCIAL_API_H
#define CASCADE_ORIGIN_SOCIAL_API_H

#include <stdint.h>

#include "miniobj.h"

struct event_base;
struct httpd_req;
struct meta;
struct origin_social;

struct social_conf {
    struct meta *meta;         /* borrowed: must outlive the struct origin_social */
    const char *token_secret;  /* borrowed during new; "" or NULL: a random key */
    uint64_t token_ttl_ms;     /* 0: 24 h */
    const char *moderator_key; /* borrowed during new; "" or NULL: no moderators */
    const char *edge_key;      /* borrowed during new; "" or NULL: no edge sessions */
    const char *reactions;     /* borrowed during new; kinds, comma-separated; NULL: default */
    uint64_t bucket_ms;        /* reaction bucket, 0: 1000 */
    unsigned threads;          /* store threads, 0: 4 */
    unsigned queue_max;        /* requests waiting for a store thread, 0: 1024 */
};

#define SOCIAL_REACTIONS_DEFAULT "like,love,haha,wow,sad,fire"

/*
 * Starts the store threads. 0 and *ps; ERR_CONF (logged) for a bad
 * secret, key or reaction list.
 */
int origin_social_new(const struct social_conf *c, struct origin_social **ps) WARN_UNUSED;
/*
 * Stops the store threads and frees every request still owned. Call it
 * when no loop runs any more but before the loops' bases are freed.
 */
void origin_social_free(struct origin_social **ps);

/*
 * Answers r when its path is one of this API's (returns 1; the answer may
 * come later, on base, which must be the loop r belongs to); returns 0
 * without touching r otherwise.
 */
int origin_api_social_handle(struct httpd_req *r, struct origin_social *s,
                             struct event_base *base) WARN_UNUSED;

#endif
