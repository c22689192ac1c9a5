/*
 * meta.h -- the origin's metadata store: one interface, two backends.
 *
 * What the origin knows beyond media files sits behind this interface:
 * users and their sessions, comments with threaded replies, likes,
 * reactions counted in media-time buckets, and the event log that edges
 * follow (later also streams, videos, ads, flashes and transcode jobs).
 * Backends:
 *   lmdb      the embedded default: named key-value databases in an LMDB
 *             environment through store.c (meta_lmdb.c);
 *   postgres  PostgreSQL through libpq, so several origins share one
 *             database; the schema is created and migrated at open
 *             (meta_pg.c).
 * Both pass the same suite (tests/unit/test_meta.c); docs/social.md says
 * what each guarantees.
 *
 * Threads: every call may come from any thread and is synchronous (it may
 * block on disk or on the database): call it from a worker pool, never
 * from an event loop (social_api.c does that).
 *
 * Ids. A comment id is a positive integer; ids grow in commit order per
 * store, so a cursor (the last id seen) pages stably under concurrent
 * inserts. Targets are a stream or a video by name. User ids are 16 lower-
 * case hex characters made here.
 *
 * Not here: HTTP and JSON (social_api.c), tokens (token.c), bucket sizes
 * and allowed reaction kinds (policy: social_api.c checks them before).
 */
#ifndef CASCADE_ORIGIN_META_H
#define CASCADE_ORIGIN_META_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "miniobj.h"

struct meta;
struct store;

#define META_TARGET_ID_MAX 64   /* bytes of a stream or video name: [A-Za-z0-9._-] */
#define META_USER_ID_LEN 16     /* hex characters */
#define META_NAME_MAX 64        /* bytes of a display name (UTF-8, no controls) */
#define META_TEXT_MAX 2000      /* bytes of a comment (UTF-8) */
#define META_KIND_MAX 32        /* bytes of a reaction kind */
#define META_EDGE_MAX 64        /* bytes of an edge's name in a batch */
#define META_DEPTH_MAX 16       /* replies nest at most this deep (top level: 0) */
#define META_PAGE_MAX 100       /* comments per page */
#define META_BATCH_MAX 1024     /* reaction deltas per batch */
#define META_DELTA_MAX 1000000u /* a single delta's count */

enum meta_backend {
    META_BACKEND_LMDB = 0,
    META_BACKEND_POSTGRES = 1,
};

struct meta_conf {
    enum meta_backend backend;
    /* lmdb: either a store opened by the caller (borrowed; it must allow
     * META_LMDB_DBS more key-value databases) or a directory to open one
     * in (owned by the struct meta then). */
    struct store *store;
    const char *dir;   /* borrowed during meta_open() */
    uint64_t map_size; /* bytes; 0: 1 GiB */
    /* postgres */
    const char *pg_conninfo; /* borrowed during meta_open(); libpq's syntax */
    unsigned pg_pool;        /* connections kept; 0: 4 */
    /* both: events kept in the log for edges to catch up (0: 100000) */
    uint64_t events_keep;
};

/* Key-value databases the lmdb backend adds to a shared store. */
#define META_LMDB_DBS 8

enum meta_role {
    META_ROLE_USER = 0,
    META_ROLE_MODERATOR = 1,
    META_ROLE_EDGE = 2,
};

struct meta_target {
    char kind; /* 's' stream, 'v' video */
    char id[META_TARGET_ID_MAX + 1];
};

struct meta_user {
    char id[META_USER_ID_LEN + 1];
    char name[META_NAME_MAX + 1];
    enum meta_role role;
    int64_t created_ms;
};

struct meta_comment {
    uint64_t id;
    uint64_t parent; /* 0: top level */
    struct meta_target target;
    char author_id[META_USER_ID_LEN + 1];
    char author_name[META_NAME_MAX + 1];
    char text[META_TEXT_MAX + 1]; /* empty once deleted */
    int64_t created_ms;
    uint32_t depth;   /* 0: top level */
    uint32_t replies; /* direct replies, deleted ones included */
    bool deleted;
};

enum meta_order {
    META_ORDER_NEWEST = 0,
    META_ORDER_OLDEST = 1,
};

struct meta_delta {
    struct meta_target target;
    char kind[META_KIND_MAX + 1];
    int64_t bucket_ms; /* media time of the bucket's start, >= 0 */
    uint32_t count;    /* 1..META_DELTA_MAX */
};

struct meta_bucket {
    int64_t bucket_ms;
    char kind[META_KIND_MAX + 1];
    uint64_t count;
};

enum meta_event_type {
    META_EVENT_COMMENT = 1,   /* ref: the new comment's id */
    META_EVENT_DELETED = 2,   /* ref: the deleted comment's id */
    META_EVENT_LIKES = 3,     /* value: the video's like count now */
    META_EVENT_REACTIONS = 4, /* ref: bucket_ms; kind; value: the bucket's count now */
};

struct meta_event {
    uint64_t id; /* grows in commit order */
    enum meta_event_type type;
    struct meta_target target;
    uint64_t ref;
    uint64_t value;
    char kind[META_KIND_MAX + 1];
    int64_t created_ms;
};

/*
 * Opens the backend; postgres creates or migrates the schema. 0 and *pm;
 * ERR_CONF for a conf that names no usable backend, ERR_STORE when the
 * store or the database refuses (logged with the reason).
 */
int meta_open(const struct meta_conf *c, struct meta **pm) WARN_UNUSED;
/* No call may be running. */
void meta_close(struct meta **pm);
const char *meta_backend_name(const struct meta *m);
/* Schema version of the open store (1 today). */
int meta_schema_version(struct meta *m) WARN_UNUSED;

/* ---- validation, shared by the API and the backends ---- */

bool meta_target_id_ok(const char *id, size_t len);
/* Valid UTF-8, no C0 or C1 control but (allow_newline) LF, no NUL. */
bool meta_utf8_ok(const char *s, size_t len, bool allow_newline);
bool meta_user_id_ok(const char *id, size_t len);
/* 0 when t is a well-formed target; ERR_INVAL otherwise. */
int meta_target_check(const struct meta_target *t) WARN_UNUSED;

/* ---- users ---- */

/*
 * Creates a user with a fresh random id. ERR_INVAL for a bad name
 * (1..META_NAME_MAX bytes, meta_utf8_ok without newlines).
 */
int meta_user_create(struct meta *m, const char *name, enum meta_role role, int64_t now_ms,
                     struct meta_user *out) WARN_UNUSED;
int meta_user_get(struct meta *m, const char *id, struct meta_user *out) WARN_UNUSED;

/* ---- comments ---- */

/*
 * Adds a comment by author (a user id) on target, under parent (0: top
 * level), and logs a META_EVENT_COMMENT. ERR_NOTFOUND: no such author, or
 * no such parent on this target (a deleted parent still takes replies);
 * ERR_LIMIT: the parent is META_DEPTH_MAX deep; ERR_INVAL: bad text.
 */
int meta_comment_add(struct meta *m, const struct meta_target *target, uint64_t parent,
                     const char *author, const char *text, int64_t now_ms,
                     struct meta_comment *out) WARN_UNUSED;
int meta_comment_get(struct meta *m, uint64_t id, struct meta_comment *out) WARN_UNUSED;
/*
 * One page of the direct children of parent (0: the top level) on target,
 * in order, starting after cursor (0: from the first). Fills up to limit
 * (1..META_PAGE_MAX) items; *n says how many; *next is the cursor of the
 * next page, 0 when this page is the last.
 */
int meta_comment_list(struct meta *m, const struct meta_target *target, uint64_t parent,
                      enum meta_order order, uint64_t cursor, unsigned limit,
                      struct meta_comment *items, unsigned *n, uint64_t *next) WARN_UNUSED;
/*
 * Soft delete: the text is dropped, the comment stays in its thread marked
 * deleted, and a META_EVENT_DELETED is logged. By its author, or anyone
 * when moderator. 0 (also when already deleted: idempotent), ERR_NOTFOUND,
 * ERR_AUTH (someone else's comment).
 */
int meta_comment_delete(struct meta *m, uint64_t id, const char *by, bool moderator,
                        int64_t now_ms) WARN_UNUSED;

/* ---- likes (videos) ---- */

/*
 * Sets whether user likes target; idempotent. *count is the target's like
 * count afterwards. A change logs a META_EVENT_LIKES. ERR_NOTFOUND: no
 * such user.
 */
int meta_like_set(struct meta *m, const struct meta_target *target, const char *user, bool like,
                  int64_t now_ms, uint64_t *count) WARN_UNUSED;
/* The count, and whether user (may be NULL) likes it. */
int meta_like_get(struct meta *m, const struct meta_target *target, const char *user,
                  uint64_t *count, bool *liked) WARN_UNUSED;

/* ---- reactions ---- */

/*
 * Adds n (1..META_BATCH_MAX) deltas in one transaction and logs one
 * META_EVENT_REACTIONS per delta. With edge (1..META_EDGE_MAX bytes of
 * [A-Za-z0-9._-]) the batch is applied only if seq is above the last seq
 * applied for that edge: a retried batch sets *dup and changes nothing.
 * ERR_INVAL for a bad delta (nothing applied).
 */
int meta_reaction_add(struct meta *m, const struct meta_delta *d, size_t n, const char *edge,
                      uint64_t seq, int64_t now_ms, bool *dup) WARN_UNUSED;
/*
 * The non-zero counts of target in buckets [from_ms, to_ms), by bucket
 * then kind. Fills up to max; ERR_LIMIT when there are more (nothing is
 * returned then: ask for a shorter range).
 */
int meta_reaction_range(struct meta *m, const struct meta_target *target, int64_t from_ms,
                        int64_t to_ms, struct meta_bucket *out, size_t max, size_t *n) WARN_UNUSED;

/* ---- the event log ---- */

/*
 * Events with ids above after, oldest first, up to max. *last is the
 * newest id in the log (0: empty) and *first the oldest kept; an edge
 * whose after is below first - 1 missed events and must refetch state.
 */
int meta_events_after(struct meta *m, uint64_t after, struct meta_event *out, size_t max, size_t *n,
                      uint64_t *first, uint64_t *last) WARN_UNUSED;

#endif
