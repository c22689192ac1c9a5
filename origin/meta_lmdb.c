/*
 * meta_lmdb.c -- the embedded metadata backend: named key-value databases
 * in an LMDB environment, through store.c's key-value API.
 *
 * Databases and keys (tk = target key: kind byte, id length byte, id;
 * BE8 = a big-endian u64, so byte order is numeric order):
 *   social.info       "schema_version" -> BE4; "next.comment", "next.event",
 *                     "first.event" -> BE8; "edge/NAME" -> BE8 last seq
 *   social.users      user id -> user record
 *   social.comments   BE8 id -> comment record
 *   social.threads    tk BE8(parent) BE8(id) -> "" (children in id order)
 *   social.likes      tk user id -> ""
 *   social.counts     tk -> BE8 like count
 *   social.reactions  tk BE8(bucket_ms) kind -> BE8 count
 *   social.events     BE8 id -> event record
 * Records are small binary structs with a version byte, checked on every
 * read: a record that does not parse is ERR_STORE (logged), never trusted.
 *
 * Every operation is one transaction, so a comment, its parent's reply
 * count and its event appear together or not at all. LMDB has one writer:
 * ids are handed out inside the write transaction, so they grow in commit
 * order and cursors page stably.
 *
 * Not here: lmdb.h (store.c), argument checks (meta.c).
 */
#include <stdio.h>
#include <string.h>

#include "meta_int.h"
#include "err.h"
#include "log.h"
#include "mem.h"
#include "store.h"
#include "compat.h"

#define ML_TK_MAX (2 + META_TARGET_ID_MAX)
#define ML_KEY_MAX (ML_TK_MAX + 16 + META_KIND_MAX)
#define ML_COMMENT_HDR 30
#define ML_COMMENT_MAX                                                                             \
    (ML_COMMENT_HDR + META_TARGET_ID_MAX + META_USER_ID_LEN + META_NAME_MAX + META_TEXT_MAX)
#define ML_USER_HDR 11
#define ML_EVENT_HDR 29
#define ML_EVENT_MAX (ML_EVENT_HDR + META_TARGET_ID_MAX + META_KIND_MAX)
#define ML_RECORD_VERSION 1

enum {
    ML_DB_INFO,
    ML_DB_USERS,
    ML_DB_COMMENTS,
    ML_DB_THREADS,
    ML_DB_LIKES,
    ML_DB_COUNTS,
    ML_DB_REACTIONS,
    ML_DB_EVENTS,
    ML_NDB
};

static const char *const ml_db_names[ML_NDB] = {
    "social.info",  "social.users",  "social.comments",  "social.threads",
    "social.likes", "social.counts", "social.reactions", "social.events",
};

struct ml {
    unsigned magic;
#define ML_MAGIC 0x6d6c6d64U
    struct store *store; /* owned when own_store, else borrowed */
    bool own_store;
    unsigned db[ML_NDB];
};

/* ---- encoding ---- */

static void
ml_be64(uint8_t *p, uint64_t v)
{
    int i;

    for (i = 7; i >= 0; i--) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}

static uint64_t
ml_get64(const uint8_t *p)
{
    uint64_t v = 0;
    int i;

    for (i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

static size_t
ml_tk(uint8_t *out, const struct meta_target *t)
{
    size_t len = strlen(t->id);

    out[0] = (uint8_t)t->kind;
    out[1] = (uint8_t)len;
    memcpy(out + 2, t->id, len);
    return 2 + len;
}

static struct ml *
ml_of(struct meta *m)
{
    struct ml *l;

    CHECK_OBJ_NOTNULL(m, META_MAGIC);
    CAST_OBJ_NOTNULL(l, m->be, ML_MAGIC);
    return l;
}

static int
ml_corrupt(const char *what, uint64_t id)
{
    LOG(LOG_ERR, "meta", "record_corrupt", "conn=0 backend=lmdb db=%s id=%llu", what,
        (unsigned long long)id);
    return ERR_STORE;
}

/* A BE8 counter under key in db (0 when absent). */
static int
ml_get_u64(struct store_txn *t, unsigned db, const void *key, size_t klen, uint64_t *v)
{
    const void *val;
    size_t vlen;
    int rc;

    rc = store_kv_get(t, db, key, klen, &val, &vlen);
    if (rc == ERR_NOTFOUND) {
        *v = 0;
        return 0;
    }
    if (rc != 0)
        return rc;
    if (vlen != 8)
        return ml_corrupt("counter", 0);
    *v = ml_get64(val);
    return 0;
}

static int
ml_put_u64(struct store_txn *t, unsigned db, const void *key, size_t klen, uint64_t v)
{
    uint8_t b[8];

    ml_be64(b, v);
    return store_kv_put(t, db, key, klen, b, sizeof(b), 0);
}

static int
ml_info_get(struct ml *l, struct store_txn *t, const char *key, uint64_t *v)
{
    return ml_get_u64(t, l->db[ML_DB_INFO], key, strlen(key), v);
}

static int
ml_info_put(struct ml *l, struct store_txn *t, const char *key, uint64_t v)
{
    return ml_put_u64(t, l->db[ML_DB_INFO], key, strlen(key), v);
}

/* Ends t: commits when rc is 0, aborts otherwise; returns the result. */
static int
ml_end(struct store_txn **pt, int rc)
{
    if (rc != 0) {
        store_txn_abort(pt);
        return rc;
    }
    return store_txn_commit(pt);
}

/* ---- records ---- */

static size_t
ml_comment_encode(uint8_t *p, const struct meta_comment *c)
{
    size_t tl = strlen(c->target.id), al = strlen(c->author_id), nl = strlen(c->author_name),
           xl = strlen(c->text), o = ML_COMMENT_HDR;

    p[0] = ML_RECORD_VERSION;
    p[1] = c->deleted ? 1 : 0;
    p[2] = (uint8_t)c->depth;
    p[3] = 0;
    ml_be64(p + 4, c->parent);
    ml_be64(p + 12, (uint64_t)c->created_ms);
    p[20] = (uint8_t)(c->replies >> 24);
    p[21] = (uint8_t)(c->replies >> 16);
    p[22] = (uint8_t)(c->replies >> 8);
    p[23] = (uint8_t)c->replies;
    p[24] = (uint8_t)c->target.kind;
    p[25] = (uint8_t)tl;
    p[26] = (uint8_t)al;
    p[27] = (uint8_t)nl;
    p[28] = (uint8_t)(xl >> 8);
    p[29] = (uint8_t)xl;
    memcpy(p + o, c->target.id, tl);
    o += tl;
    memcpy(p + o, c->author_id, al);
    o += al;
    memcpy(p + o, c->author_name, nl);
    o += nl;
    memcpy(p + o, c->text, xl);
    return o + xl;
}

static int
ml_comment_decode(uint64_t id, const void *val, size_t len, struct meta_comment *c)
{
    const uint8_t *p = val;
    size_t tl, al, nl, xl, o = ML_COMMENT_HDR;

    if (len < ML_COMMENT_HDR || p[0] != ML_RECORD_VERSION || p[1] > 1)
        return ml_corrupt("comments", id);
    tl = p[25];
    al = p[26];
    nl = p[27];
    xl = ((size_t)p[28] << 8) | p[29];
    if (len != ML_COMMENT_HDR + tl + al + nl + xl || tl > META_TARGET_ID_MAX ||
        al != META_USER_ID_LEN || nl > META_NAME_MAX || xl > META_TEXT_MAX || p[2] > META_DEPTH_MAX)
        return ml_corrupt("comments", id);
    memset(c, 0, sizeof(*c));
    c->id = id;
    c->deleted = p[1] == 1;
    c->depth = p[2];
    c->parent = ml_get64(p + 4);
    c->created_ms = (int64_t)ml_get64(p + 12);
    c->replies = ((uint32_t)p[20] << 24) | ((uint32_t)p[21] << 16) | ((uint32_t)p[22] << 8) | p[23];
    c->target.kind = (char)p[24];
    memcpy(c->target.id, p + o, tl);
    o += tl;
    memcpy(c->author_id, p + o, al);
    o += al;
    memcpy(c->author_name, p + o, nl);
    o += nl;
    memcpy(c->text, p + o, xl);
    if (meta_target_check(&c->target) != 0)
        return ml_corrupt("comments", id);
    return 0;
}

static size_t
ml_user_encode(uint8_t *p, const struct meta_user *u)
{
    size_t nl = strlen(u->name);

    p[0] = ML_RECORD_VERSION;
    p[1] = (uint8_t)u->role;
    p[2] = (uint8_t)nl;
    ml_be64(p + 3, (uint64_t)u->created_ms);
    memcpy(p + ML_USER_HDR, u->name, nl);
    return ML_USER_HDR + nl;
}

static int
ml_user_decode(const char *id, const void *val, size_t len, struct meta_user *u)
{
    const uint8_t *p = val;

    if (len < ML_USER_HDR || p[0] != ML_RECORD_VERSION || p[1] > META_ROLE_EDGE ||
        p[2] > META_NAME_MAX || len != ML_USER_HDR + (size_t)p[2])
        return ml_corrupt("users", 0);
    memset(u, 0, sizeof(*u));
    meta_strlcpy(u->id, id, META_USER_ID_LEN);
    u->role = (enum meta_role)p[1];
    u->created_ms = (int64_t)ml_get64(p + 3);
    memcpy(u->name, p + ML_USER_HDR, p[2]);
    return 0;
}

static size_t
ml_event_encode(uint8_t *p, const struct meta_event *e)
{
    size_t tl = strlen(e->target.id), kl = strlen(e->kind);

    p[0] = ML_RECORD_VERSION;
    p[1] = (uint8_t)e->type;
    p[2] = (uint8_t)e->target.kind;
    p[3] = (uint8_t)tl;
    p[4] = (uint8_t)kl;
    ml_be64(p + 5, e->ref);
    ml_be64(p + 13, e->value);
    ml_be64(p + 21, (uint64_t)e->created_ms);
    memcpy(p + ML_EVENT_HDR, e->target.id, tl);
    memcpy(p + ML_EVENT_HDR + tl, e->kind, kl);
    return ML_EVENT_HDR + tl + kl;
}

static int
ml_event_decode(uint64_t id, const void *val, size_t len, struct meta_event *e)
{
    const uint8_t *p = val;

    if (len < ML_EVENT_HDR || p[0] != ML_RECORD_VERSION || p[1] < META_EVENT_COMMENT ||
        p[1] > META_EVENT_REACTIONS || p[3] > META_TARGET_ID_MAX || p[4] > META_KIND_MAX ||
        len != ML_EVENT_HDR + (size_t)p[3] + p[4])
        return ml_corrupt("events", id);
    memset(e, 0, sizeof(*e));
    e->id = id;
    e->type = (enum meta_event_type)p[1];
    e->target.kind = (char)p[2];
    e->ref = ml_get64(p + 5);
    e->value = ml_get64(p + 13);
    e->created_ms = (int64_t)ml_get64(p + 21);
    memcpy(e->target.id, p + ML_EVENT_HDR, p[3]);
    memcpy(e->kind, p + ML_EVENT_HDR + p[3], p[4]);
    if (meta_target_check(&e->target) != 0)
        return ml_corrupt("events", id);
    return 0;
}

/* Appends an event and trims the log to events_keep, in t. */
static int
ml_event_append(struct meta *m, struct ml *l, struct store_txn *t, struct meta_event *e)
{
    uint8_t key[8], rec[ML_EVENT_MAX];
    uint64_t next, first;
    size_t len;
    int rc;

    rc = ml_info_get(l, t, "next.event", &next);
    if (rc == 0)
        rc = ml_info_get(l, t, "first.event", &first);
    if (rc != 0)
        return rc;
    if (next == 0)
        next = 1;
    if (first == 0)
        first = next;
    e->id = next;
    ml_be64(key, next);
    len = ml_event_encode(rec, e);
    rc = store_kv_put(t, l->db[ML_DB_EVENTS], key, sizeof(key), rec, len, 0);
    next++;
    /* Each append trims what it pushed out, so the walk stays short. */
    while (rc == 0 && next - first > m->events_keep) {
        ml_be64(key, first);
        rc = store_kv_del(t, l->db[ML_DB_EVENTS], key, sizeof(key));
        if (rc == ERR_NOTFOUND)
            rc = 0;
        first++;
    }
    if (rc == 0)
        rc = ml_info_put(l, t, "next.event", next);
    if (rc == 0)
        rc = ml_info_put(l, t, "first.event", first);
    return rc;
}

/* ---- open ---- */

static int
ml_migrate(struct ml *l)
{
    struct store_txn *t = NULL;
    uint64_t v;
    int rc;

    rc = store_txn_begin(l->store, true, &t);
    if (rc != 0)
        return rc;
    rc = ml_info_get(l, t, "schema_version", &v);
    if (rc == 0 && v > META_SCHEMA_VERSION) {
        LOG(LOG_ERR, "meta", "schema_too_new", "conn=0 backend=lmdb have=%llu know=%d",
            (unsigned long long)v, META_SCHEMA_VERSION);
        rc = ERR_STORE;
    }
    /* Version 1 is the first: nothing to convert yet. */
    if (rc == 0 && v < META_SCHEMA_VERSION)
        rc = ml_info_put(l, t, "schema_version", META_SCHEMA_VERSION);
    return ml_end(&t, rc);
}

static void
ml_close(struct meta *m)
{
    struct ml *l = ml_of(m);

    if (l->own_store)
        store_close(&l->store);
    FREE_OBJ(l);
    m->be = NULL;
}

static int
ml_schema_version(struct meta *m)
{
    struct ml *l = ml_of(m);
    struct store_txn *t = NULL;
    uint64_t v;
    int rc;

    rc = store_txn_begin(l->store, false, &t);
    if (rc != 0)
        return rc;
    rc = ml_info_get(l, t, "schema_version", &v);
    store_txn_abort(&t);
    return rc != 0 ? rc : (int)v;
}

/* ---- users ---- */

static int
ml_user_put(struct meta *m, const struct meta_user *u)
{
    struct ml *l = ml_of(m);
    struct store_txn *t = NULL;
    uint8_t rec[ML_USER_HDR + META_NAME_MAX];
    size_t len = ml_user_encode(rec, u);
    int rc;

    rc = store_txn_begin(l->store, true, &t);
    if (rc != 0)
        return rc;
    rc = store_kv_put(t, l->db[ML_DB_USERS], u->id, strlen(u->id), rec, len, STORE_KV_NOOVERWRITE);
    return ml_end(&t, rc);
}

static int
ml_user_read(struct ml *l, struct store_txn *t, const char *id, struct meta_user *out)
{
    const void *val;
    size_t vlen;
    int rc;

    rc = store_kv_get(t, l->db[ML_DB_USERS], id, strlen(id), &val, &vlen);
    if (rc != 0)
        return rc;
    return ml_user_decode(id, val, vlen, out);
}

static int
ml_user_get(struct meta *m, const char *id, struct meta_user *out)
{
    struct ml *l = ml_of(m);
    struct store_txn *t = NULL;
    int rc;

    rc = store_txn_begin(l->store, false, &t);
    if (rc != 0)
        return rc;
    rc = ml_user_read(l, t, id, out);
    store_txn_abort(&t);
    return rc;
}

/* ---- comments ---- */

static int
ml_comment_read(struct ml *l, struct store_txn *t, uint64_t id, struct meta_comment *out)
{
    const void *val;
    uint8_t key[8];
    size_t vlen;
    int rc;

    ml_be64(key, id);
    rc = store_kv_get(t, l->db[ML_DB_COMMENTS], key, sizeof(key), &val, &vlen);
    if (rc != 0)
        return rc;
    return ml_comment_decode(id, val, vlen, out);
}

static int
ml_comment_write(struct ml *l, struct store_txn *t, const struct meta_comment *c)
{
    uint8_t key[8], *rec;
    size_t len;
    int rc;

    rec = xmalloc(ML_COMMENT_MAX);
    len = ml_comment_encode(rec, c);
    ml_be64(key, c->id);
    rc = store_kv_put(t, l->db[ML_DB_COMMENTS], key, sizeof(key), rec, len, 0);
    xfree(rec);
    return rc;
}

static int
ml_comment_add_txn(struct meta *m, struct ml *l, struct store_txn *t, struct meta_comment *c)
{
    struct meta_comment *parent = NULL;
    struct meta_user u;
    struct meta_event e;
    uint8_t key[ML_TK_MAX + 16];
    uint64_t next;
    size_t kl;
    int rc;

    rc = ml_user_read(l, t, c->author_id, &u);
    if (rc != 0)
        return rc;
    meta_strlcpy(c->author_name, u.name, META_NAME_MAX);
    if (c->parent != 0) {
        parent = xmalloc(sizeof(*parent));
        rc = ml_comment_read(l, t, c->parent, parent);
        if (rc == 0 &&
            (parent->target.kind != c->target.kind || strcmp(parent->target.id, c->target.id) != 0))
            rc = ERR_NOTFOUND;
        if (rc == 0 && parent->depth >= META_DEPTH_MAX)
            rc = ERR_LIMIT;
        if (rc == 0) {
            c->depth = parent->depth + 1;
            parent->replies++;
            rc = ml_comment_write(l, t, parent);
        }
        xfree(parent);
        if (rc != 0)
            return rc;
    }
    rc = ml_info_get(l, t, "next.comment", &next);
    if (rc != 0)
        return rc;
    c->id = next != 0 ? next : 1;
    rc = ml_info_put(l, t, "next.comment", c->id + 1);
    if (rc == 0)
        rc = ml_comment_write(l, t, c);
    if (rc != 0)
        return rc;
    kl = ml_tk(key, &c->target);
    ml_be64(key + kl, c->parent);
    ml_be64(key + kl + 8, c->id);
    rc = store_kv_put(t, l->db[ML_DB_THREADS], key, kl + 16, "", 0, 0);
    if (rc != 0)
        return rc;
    meta_event_init(&e, META_EVENT_COMMENT, &c->target, c->id, 0, NULL, c->created_ms);
    return ml_event_append(m, l, t, &e);
}

static int
ml_comment_add(struct meta *m, struct meta_comment *out)
{
    struct ml *l = ml_of(m);
    struct store_txn *t = NULL;
    int rc;

    rc = store_txn_begin(l->store, true, &t);
    if (rc != 0)
        return rc;
    rc = ml_comment_add_txn(m, l, t, out);
    return ml_end(&t, rc);
}

static int
ml_comment_get(struct meta *m, uint64_t id, struct meta_comment *out)
{
    struct ml *l = ml_of(m);
    struct store_txn *t = NULL;
    int rc;

    rc = store_txn_begin(l->store, false, &t);
    if (rc != 0)
        return rc;
    rc = ml_comment_read(l, t, id, out);
    store_txn_abort(&t);
    return rc;
}

struct ml_page {
    struct ml *l;
    struct store_txn *t;
    size_t prefix_len;
    struct meta_comment *items;
    unsigned limit, n;
    bool more; /* one beyond the page exists */
    int err;
};

static int
ml_page_cb(void *arg, const void *key, size_t klen, const void *val, size_t vlen)
{
    struct ml_page *pg = arg;
    uint64_t id;
    int rc;

    (void)val;
    (void)vlen;
    if (klen != pg->prefix_len + 8)
        return ml_corrupt("threads", 0);
    if (pg->n == pg->limit) {
        pg->more = true;
        return 1;
    }
    id = ml_get64((const uint8_t *)key + pg->prefix_len);
    rc = ml_comment_read(pg->l, pg->t, id, &pg->items[pg->n]);
    if (rc != 0)
        return rc == ERR_NOTFOUND ? ml_corrupt("threads", id) : rc;
    pg->n++;
    return 0;
}

static int
ml_comment_list(struct meta *m, const struct meta_target *tg, uint64_t parent,
                enum meta_order order, uint64_t cursor, unsigned limit, struct meta_comment *items,
                unsigned *n, uint64_t *next)
{
    struct ml *l = ml_of(m);
    struct ml_page pg;
    uint8_t prefix[ML_TK_MAX + 8], bound[ML_TK_MAX + 16];
    size_t pl;
    int rc;

    pl = ml_tk(prefix, tg);
    ml_be64(prefix + pl, parent);
    pl += 8;
    memcpy(bound, prefix, pl);
    ml_be64(bound + pl, cursor);
    memset(&pg, 0, sizeof(pg));
    pg.l = l;
    pg.prefix_len = pl;
    pg.items = items;
    pg.limit = limit;
    rc = store_txn_begin(l->store, false, &pg.t);
    if (rc != 0)
        return rc;
    if (order == META_ORDER_OLDEST)
        rc = store_kv_iter(pg.t, l->db[ML_DB_THREADS], prefix, pl, cursor != 0 ? bound : NULL,
                           pl + 8, ml_page_cb, &pg);
    else
        rc = store_kv_iter_rev(pg.t, l->db[ML_DB_THREADS], prefix, pl, cursor != 0 ? bound : NULL,
                               pl + 8, ml_page_cb, &pg);
    store_txn_abort(&pg.t);
    if (rc == 1)
        rc = 0;
    if (rc != 0)
        return rc;
    *n = pg.n;
    *next = pg.more && pg.n > 0 ? items[pg.n - 1].id : 0;
    return 0;
}

static int
ml_comment_delete(struct meta *m, uint64_t id, const char *by, bool moderator, int64_t now_ms)
{
    struct ml *l = ml_of(m);
    struct store_txn *t = NULL;
    struct meta_comment *c;
    struct meta_event e;
    int rc;

    c = xmalloc(sizeof(*c));
    rc = store_txn_begin(l->store, true, &t);
    if (rc != 0)
        goto out;
    rc = ml_comment_read(l, t, id, c);
    if (rc == 0 && !moderator && strcmp(c->author_id, by) != 0)
        rc = ERR_AUTH;
    if (rc == 0 && c->deleted) {
        store_txn_abort(&t); /* already gone: nothing to write */
        goto out;
    }
    if (rc == 0) {
        c->deleted = true;
        c->text[0] = '\0';
        rc = ml_comment_write(l, t, c);
    }
    if (rc == 0) {
        meta_event_init(&e, META_EVENT_DELETED, &c->target, id, 0, NULL, now_ms);
        rc = ml_event_append(m, l, t, &e);
    }
    rc = ml_end(&t, rc);
out:
    xfree(c);
    return rc;
}

/* ---- likes ---- */

static int
ml_like_set(struct meta *m, const struct meta_target *tg, const char *user, bool like,
            int64_t now_ms, uint64_t *count)
{
    struct ml *l = ml_of(m);
    struct store_txn *t = NULL;
    struct meta_user u;
    struct meta_event e;
    uint8_t key[ML_TK_MAX + META_USER_ID_LEN];
    size_t tl, kl;
    uint64_t c;
    int rc;

    tl = ml_tk(key, tg);
    memcpy(key + tl, user, META_USER_ID_LEN);
    kl = tl + META_USER_ID_LEN;
    rc = store_txn_begin(l->store, true, &t);
    if (rc != 0)
        return rc;
    rc = ml_user_read(l, t, user, &u);
    if (rc == 0)
        rc = ml_get_u64(t, l->db[ML_DB_COUNTS], key, tl, &c);
    if (rc != 0)
        return ml_end(&t, rc);
    if (like)
        rc = store_kv_put(t, l->db[ML_DB_LIKES], key, kl, "", 0, STORE_KV_NOOVERWRITE);
    else
        rc = store_kv_del(t, l->db[ML_DB_LIKES], key, kl);
    if (rc == ERR_EXISTS || rc == ERR_NOTFOUND) {
        /* Already so: idempotent, nothing to write. */
        store_txn_abort(&t);
        *count = c;
        return 0;
    }
    if (rc == 0) {
        c = like ? c + 1 : (c > 0 ? c - 1 : 0);
        rc = ml_put_u64(t, l->db[ML_DB_COUNTS], key, tl, c);
    }
    if (rc == 0) {
        meta_event_init(&e, META_EVENT_LIKES, tg, 0, c, NULL, now_ms);
        rc = ml_event_append(m, l, t, &e);
    }
    rc = ml_end(&t, rc);
    if (rc == 0)
        *count = c;
    return rc;
}

static int
ml_like_get(struct meta *m, const struct meta_target *tg, const char *user, uint64_t *count,
            bool *liked)
{
    struct ml *l = ml_of(m);
    struct store_txn *t = NULL;
    uint8_t key[ML_TK_MAX + META_USER_ID_LEN];
    const void *val;
    size_t tl, vlen;
    int rc;

    tl = ml_tk(key, tg);
    *liked = false;
    rc = store_txn_begin(l->store, false, &t);
    if (rc != 0)
        return rc;
    rc = ml_get_u64(t, l->db[ML_DB_COUNTS], key, tl, count);
    if (rc == 0 && user != NULL) {
        memcpy(key + tl, user, META_USER_ID_LEN);
        rc = store_kv_get(t, l->db[ML_DB_LIKES], key, tl + META_USER_ID_LEN, &val, &vlen);
        *liked = rc == 0;
        if (rc == ERR_NOTFOUND)
            rc = 0;
    }
    store_txn_abort(&t);
    return rc;
}

/* ---- reactions ---- */

static int
ml_reaction_one(struct meta *m, struct ml *l, struct store_txn *t, const struct meta_delta *d,
                int64_t now_ms)
{
    uint8_t key[ML_KEY_MAX];
    struct meta_event e;
    size_t kl, kindl = strlen(d->kind);
    uint64_t c;
    int rc;

    kl = ml_tk(key, &d->target);
    ml_be64(key + kl, (uint64_t)d->bucket_ms);
    kl += 8;
    memcpy(key + kl, d->kind, kindl);
    kl += kindl;
    rc = ml_get_u64(t, l->db[ML_DB_REACTIONS], key, kl, &c);
    if (rc != 0)
        return rc;
    c += d->count;
    rc = ml_put_u64(t, l->db[ML_DB_REACTIONS], key, kl, c);
    if (rc != 0)
        return rc;
    meta_event_init(&e, META_EVENT_REACTIONS, &d->target, (uint64_t)d->bucket_ms, c, d->kind,
                    now_ms);
    return ml_event_append(m, l, t, &e);
}

static int
ml_reaction_add(struct meta *m, const struct meta_delta *d, size_t n, const char *edge,
                uint64_t seq, int64_t now_ms, bool *dup)
{
    struct ml *l = ml_of(m);
    struct store_txn *t = NULL;
    char key[8 + META_EDGE_MAX + 1];
    uint64_t last;
    size_t i;
    int rc;

    rc = store_txn_begin(l->store, true, &t);
    if (rc != 0)
        return rc;
    if (edge != NULL) {
        (void)snprintf(key, sizeof(key), "edge/%s", edge);
        rc = ml_info_get(l, t, key, &last);
        if (rc == 0 && seq <= last) {
            store_txn_abort(&t);
            *dup = true;
            return 0;
        }
        if (rc == 0)
            rc = ml_info_put(l, t, key, seq);
    }
    for (i = 0; rc == 0 && i < n; i++)
        rc = ml_reaction_one(m, l, t, &d[i], now_ms);
    return ml_end(&t, rc);
}

struct ml_range {
    size_t tk_len;
    int64_t to_ms;
    struct meta_bucket *out;
    size_t max, n;
};

static int
ml_range_cb(void *arg, const void *key, size_t klen, const void *val, size_t vlen)
{
    struct ml_range *r = arg;
    const uint8_t *k = key;
    uint64_t b;
    size_t kindl;

    if (klen <= r->tk_len + 8 || klen > r->tk_len + 8 + META_KIND_MAX || vlen != 8)
        return ml_corrupt("reactions", 0);
    b = ml_get64(k + r->tk_len);
    if (b >= (uint64_t)r->to_ms)
        return 1;
    if (ml_get64(val) == 0)
        return 0;
    if (r->n == r->max)
        return ERR_LIMIT;
    kindl = klen - r->tk_len - 8;
    r->out[r->n].bucket_ms = (int64_t)b;
    memcpy(r->out[r->n].kind, k + r->tk_len + 8, kindl);
    r->out[r->n].kind[kindl] = '\0';
    r->out[r->n].count = ml_get64(val);
    r->n++;
    return 0;
}

static int
ml_reaction_range(struct meta *m, const struct meta_target *tg, int64_t from_ms, int64_t to_ms,
                  struct meta_bucket *out, size_t max, size_t *n)
{
    struct ml *l = ml_of(m);
    struct store_txn *t = NULL;
    struct ml_range r;
    uint8_t prefix[ML_TK_MAX], after[ML_TK_MAX + 8];
    size_t pl;
    int rc;

    pl = ml_tk(prefix, tg);
    memcpy(after, prefix, pl);
    ml_be64(after + pl, (uint64_t)from_ms);
    memset(&r, 0, sizeof(r));
    r.tk_len = pl;
    r.to_ms = to_ms;
    r.out = out;
    r.max = max;
    rc = store_txn_begin(l->store, false, &t);
    if (rc != 0)
        return rc;
    /* Keys of bucket from_ms are longer than `after`, so they sort after it. */
    rc = store_kv_iter(t, l->db[ML_DB_REACTIONS], prefix, pl, after, pl + 8, ml_range_cb, &r);
    store_txn_abort(&t);
    if (rc == 1)
        rc = 0;
    if (rc != 0)
        return rc;
    *n = r.n;
    return 0;
}

/* ---- events ---- */

struct ml_events {
    struct meta_event *out;
    size_t max, n;
};

static int
ml_events_cb(void *arg, const void *key, size_t klen, const void *val, size_t vlen)
{
    struct ml_events *ev = arg;
    int rc;

    if (klen != 8)
        return ml_corrupt("events", 0);
    if (ev->n == ev->max)
        return 1;
    rc = ml_event_decode(ml_get64(key), val, vlen, &ev->out[ev->n]);
    if (rc != 0)
        return rc;
    ev->n++;
    return 0;
}

static int
ml_events_after(struct meta *m, uint64_t after, struct meta_event *out, size_t max, size_t *n,
                uint64_t *first, uint64_t *last)
{
    struct ml *l = ml_of(m);
    struct store_txn *t = NULL;
    struct ml_events ev;
    uint8_t key[8];
    uint64_t next, f;
    int rc;

    memset(&ev, 0, sizeof(ev));
    ev.out = out;
    ev.max = max;
    rc = store_txn_begin(l->store, false, &t);
    if (rc != 0)
        return rc;
    rc = ml_info_get(l, t, "next.event", &next);
    if (rc == 0)
        rc = ml_info_get(l, t, "first.event", &f);
    if (rc == 0 && max > 0 && next > after + 1) {
        ml_be64(key, after);
        rc = store_kv_iter(t, l->db[ML_DB_EVENTS], NULL, 0, after != 0 ? key : NULL, 8,
                           ml_events_cb, &ev);
        if (rc == 1)
            rc = 0;
    }
    store_txn_abort(&t);
    if (rc != 0)
        return rc;
    *n = ev.n;
    *last = next > 0 ? next - 1 : 0;
    *first = next > f ? f : 0;
    return 0;
}

static const struct meta_ops ml_ops = {
    .name = "lmdb",
    .close = ml_close,
    .schema_version = ml_schema_version,
    .user_put = ml_user_put,
    .user_get = ml_user_get,
    .comment_add = ml_comment_add,
    .comment_get = ml_comment_get,
    .comment_list = ml_comment_list,
    .comment_delete = ml_comment_delete,
    .like_set = ml_like_set,
    .like_get = ml_like_get,
    .reaction_add = ml_reaction_add,
    .reaction_range = ml_reaction_range,
    .events_after = ml_events_after,
};

int
meta_lmdb_open(struct meta *m, const struct meta_conf *c)
{
    struct store_conf sc;
    struct ml *l;
    unsigned i;
    int rc = 0;

    if (c->store == NULL && (c->dir == NULL || c->dir[0] == '\0'))
        return ERR_CONF;
    l = xcalloc(1, sizeof(*l));
    l->magic = ML_MAGIC;
    if (c->store != NULL) {
        l->store = c->store;
    } else {
        store_conf_defaults(&sc);
        sc.dir = c->dir;
        sc.size = c->map_size != 0 ? c->map_size : 1ull << 30;
        /* One fdatasync per commit, the meta page with the next commit or
         * the store's sync interval: kill -9 loses nothing, a power loss
         * may undo the last commits, nothing is corrupted. FULL (two syncs
         * per commit) made each reaction batch wait for both on a busy
         * disk, the 5,000-viewer tail of bench/sse_load.py (docs/social.md). */
        sc.sync = STORE_SYNC_SAFE;
        sc.max_inflight_hits = 16;
        sc.evict_high_pct = 0;
        sc.evict_low_pct = 0;
        rc = store_open(&sc, &l->store);
        if (rc != 0) {
            LOG(LOG_ERR, "meta", "open_failed", "conn=0 backend=lmdb dir=%s err=%s", c->dir,
                err_name(rc));
            FREE_OBJ(l);
            return rc;
        }
        l->own_store = true;
    }
    for (i = 0; rc == 0 && i < ML_NDB; i++)
        rc = store_kv_db(l->store, ml_db_names[i], &l->db[i]);
    if (rc == 0)
        rc = ml_migrate(l);
    if (rc != 0) {
        LOG(LOG_ERR, "meta", "open_failed", "conn=0 backend=lmdb err=%s", err_name(rc));
        if (l->own_store)
            store_close(&l->store);
        FREE_OBJ(l);
        return rc;
    }
    m->be = l;
    m->ops = &ml_ops;
    return 0;
}
