/*
 * social_parse.h -- the pure half of the interactions API: routes, query
 * strings and JSON bodies turned into checked requests, or into a 4xx with
 * a machine-readable code.
 *
 * Nothing here does I/O or touches an event loop, so a fuzzer links it
 * alone (tests/fuzz/fuzz_social_parse.c). Every field has a size limit;
 * every failure fills a struct social_err: the HTTP status, a code from
 * docs/social.md and a short message that never echoes the input.
 *
 * Not here: HTTP, threads and the store (social_api.c).
 */
#ifndef CASCADE_ORIGIN_SOCIAL_PARSE_H
#define CASCADE_ORIGIN_SOCIAL_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "meta.h"
#include "miniobj.h"

#define SOCIAL_BODY_MAX (16u * 1024)           /* every body but a batch */
#define SOCIAL_BATCH_BODY_MAX (256u * 1024)    /* POST /api/reactions/batch */
#define SOCIAL_KINDS_MAX 32                    /* reaction kinds configured */
#define SOCIAL_LIMIT_DEFAULT 20                /* comments per page */
#define SOCIAL_EVENTS_MAX 100                  /* events per answer */
#define SOCIAL_WAIT_MAX_MS 25000               /* longest long-poll of /api/events */
#define SOCIAL_RANGE_BUCKETS_MAX 3600          /* buckets in one GET .../reactions */
#define SOCIAL_MEDIA_MS_MAX 9007199254740991LL /* 2^53 - 1: exact in every JSON reader */
#define SOCIAL_KEY_MAX 256                     /* moderator_key, edge_key */

enum social_op {
    SOCIAL_OP_NONE = 0,
    SOCIAL_OP_SESSION_NEW,    /* POST /api/sessions */
    SOCIAL_OP_COMMENT_ADD,    /* POST /api/{streams|videos}/{id}/comments */
    SOCIAL_OP_COMMENT_LIST,   /* GET  .../comments */
    SOCIAL_OP_COMMENT_GET,    /* GET  .../comments/{cid} */
    SOCIAL_OP_COMMENT_DELETE, /* DELETE .../comments/{cid} */
    SOCIAL_OP_REPLY_LIST,     /* GET  .../comments/{cid}/replies */
    SOCIAL_OP_LIKE_SET,       /* PUT or DELETE /api/videos/{id}/like */
    SOCIAL_OP_LIKE_GET,       /* GET  /api/videos/{id}/likes */
    SOCIAL_OP_REACTION_ADD,   /* POST .../reactions */
    SOCIAL_OP_REACTION_RANGE, /* GET  .../reactions */
    SOCIAL_OP_REACTION_BATCH, /* POST /api/reactions/batch */
    SOCIAL_OP_EVENTS,         /* GET  /api/events */
};

struct social_err {
    int status;       /* 400, 401, 403, 404, 405, 409, 413, 415, 503, ... */
    const char *code; /* static: "bad_json", "too_large", ... */
    char message[128];
    const char *allow; /* static: the Allow field of a 405 */
};

struct social_route {
    enum social_op op;
    struct meta_target target; /* kind 0 for /api/sessions, /batch, /events */
    uint64_t cid;              /* comment id, or 0 */
    bool like;                 /* LIKE_SET: PUT (true) or DELETE */
    bool write;                /* needs a token */
};

struct social_query {
    uint64_t cursor; /* 0: none */
    unsigned limit;  /* 1..META_PAGE_MAX */
    enum meta_order order;
    bool has_order;
    int64_t from, to; /* media ms; has_to false: from + the longest range */
    bool has_to;
    uint64_t after; /* /api/events */
    bool has_after;
    uint32_t wait_ms; /* /api/events long-poll, 0..SOCIAL_WAIT_MAX_MS */
};

struct social_kinds {
    char name[SOCIAL_KINDS_MAX][META_KIND_MAX + 1];
    unsigned n;
};

/*
 * Classifies a request. 0: not ours (the caller routes it elsewhere:
 * /api/streams and /api/streams/{name} are the streams module's). 1: ours,
 * with *rt filled, or with *e filled (404 unknown_route, 405
 * method_not_allowed with e->allow, 400 bad_id). method is the request's
 * method token; HEAD is taken as GET.
 */
int social_route_parse(const char *method, const char *path, struct social_route *rt,
                       struct social_err *e) WARN_UNUSED;

/* query may be NULL. 0, or ERR_INVAL with *e (400 bad_query). */
int social_query_parse(const char *query, struct social_query *q, struct social_err *e) WARN_UNUSED;

/* "like,love,..." -> kinds. ERR_CONF for an empty, duplicate, or bad kind, or too many. */
int social_kinds_parse(const char *list, struct social_kinds *k) WARN_UNUSED;
bool social_kinds_has(const struct social_kinds *k, const char *kind);

/* ---- bodies: 0, or ERR_INVAL with *e (400 or 422 with a code) ---- */

struct social_session_req {
    char name[META_NAME_MAX + 1];
    char moderator_key[SOCIAL_KEY_MAX + 1]; /* "" when absent */
    char edge_key[SOCIAL_KEY_MAX + 1];      /* "" when absent */
};
int social_body_session(const void *buf, size_t len, struct social_session_req *out,
                        struct social_err *e) WARN_UNUSED;

struct social_comment_req {
    char text[META_TEXT_MAX + 1];
    uint64_t parent; /* 0: top level */
};
int social_body_comment(const void *buf, size_t len, struct social_comment_req *out,
                        struct social_err *e) WARN_UNUSED;

struct social_reaction_req {
    char kind[META_KIND_MAX + 1];
    int64_t t; /* media ms */
};
int social_body_reaction(const void *buf, size_t len, const struct social_kinds *k,
                         struct social_reaction_req *out, struct social_err *e) WARN_UNUSED;

struct social_batch_req {
    struct meta_delta *d; /* owned: xcalloc'd, n entries; free with social_batch_clear() */
    size_t n;
    char edge[META_EDGE_MAX + 1]; /* "" when the batch carries no edge/seq */
    uint64_t seq;
};
/*
 * A bare array of deltas, or {"edge", "seq", "deltas": [...]}; each delta
 * {"stream"|"video", "kind", "window_start", "count"}; window_start is
 * rounded down to a multiple of bucket_ms.
 */
int social_body_batch(const void *buf, size_t len, const struct social_kinds *k, uint64_t bucket_ms,
                      struct social_batch_req *out, struct social_err *e) WARN_UNUSED;
void social_batch_clear(struct social_batch_req *b);

/* Parses a decimal id (1..INT64_MAX, no sign, no leading zero); 0 when it is not one. */
uint64_t social_id_parse(const char *s, size_t len);

#endif
