/*
 * meta_int.h -- what meta.c shares with its backends (meta_lmdb.c,
 * meta_pg.c): the operations table and the struct meta that carries it.
 *
 * meta.c validates arguments and dispatches; a backend receives only
 * well-formed input (targets, user ids, lengths, limits already checked)
 * and answers with the codes meta.h documents.
 */
#ifndef CASCADE_ORIGIN_META_INT_H
#define CASCADE_ORIGIN_META_INT_H

#include "meta.h"

struct meta_ops {
    const char *name;
    void (*close)(struct meta *m);
    int (*schema_version)(struct meta *m);
    int (*user_put)(struct meta *m, const struct meta_user *u);
    int (*user_get)(struct meta *m, const char *id, struct meta_user *out);
    /* c: the new row as meta.c filled it (target, parent, author_id,
     * text, created_ms); the backend sets id, depth and author_name. */
    int (*comment_add)(struct meta *m, struct meta_comment *c);
    int (*comment_get)(struct meta *m, uint64_t id, struct meta_comment *out);
    int (*comment_list)(struct meta *m, const struct meta_target *t, uint64_t parent,
                        enum meta_order order, uint64_t cursor, unsigned limit,
                        struct meta_comment *items, unsigned *n, uint64_t *next);
    int (*comment_delete)(struct meta *m, uint64_t id, const char *by, bool moderator,
                          int64_t now_ms);
    int (*like_set)(struct meta *m, const struct meta_target *t, const char *user, bool like,
                    int64_t now_ms, uint64_t *count);
    int (*like_get)(struct meta *m, const struct meta_target *t, const char *user, uint64_t *count,
                    bool *liked);
    int (*reaction_add)(struct meta *m, const struct meta_delta *d, size_t n, const char *edge,
                        uint64_t seq, int64_t now_ms, bool *dup);
    int (*reaction_range)(struct meta *m, const struct meta_target *t, int64_t from_ms,
                          int64_t to_ms, struct meta_bucket *out, size_t max, size_t *n);
    int (*events_after)(struct meta *m, uint64_t after, struct meta_event *out, size_t max,
                        size_t *n, uint64_t *first, uint64_t *last);
};

struct meta {
    unsigned magic;
#define META_MAGIC 0x6d657461U
    const struct meta_ops *ops; /* static */
    void *be;                   /* owned by the backend: its state */
    uint64_t events_keep;
};

#define META_SCHEMA_VERSION 1
#define META_EVENTS_KEEP_DEFAULT 100000u

int meta_lmdb_open(struct meta *m, const struct meta_conf *c) WARN_UNUSED;
int meta_pg_open(struct meta *m, const struct meta_conf *c) WARN_UNUSED;

/* Copies a NUL-terminated string of at most max bytes into dst (max + 1). */
void meta_strlcpy(char *dst, const char *src, size_t max);
/* The event record a backend appends for a change (e->id is the
 * backend's to set); kind may be NULL (only reactions carry one). */
void meta_event_init(struct meta_event *e, enum meta_event_type type, const struct meta_target *t,
                     uint64_t ref, uint64_t value, const char *kind, int64_t created_ms);

#endif
