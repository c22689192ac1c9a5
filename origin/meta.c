/*
 * meta.c -- the metadata store's front: argument checks, then the
 * backend's operation.
 *
 * Every check that does not need the data happens here, once for both
 * backends: target names, user ids, UTF-8 and lengths, page sizes, batch
 * sizes. A backend can then trust its input (meta_int.h). User ids are
 * made here from getrandom(). The records both backends write are filled
 * here too: a new comment's row (meta_comment_add()) and each change's
 * event (meta_event_init()).
 *
 * Not here: storage (meta_lmdb.c, meta_pg.c), HTTP (social_api.c).
 */
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "meta_int.h"
#include "err.h"
#include "log.h"
#include "mem.h"
#include "compat.h"

#define META_USER_TRIES 4

int
meta_open(const struct meta_conf *c, struct meta **pm)
{
    struct meta *m;
    int rc;

    m = xcalloc(1, sizeof(*m));
    m->magic = META_MAGIC;
    m->events_keep = c->events_keep != 0 ? c->events_keep : META_EVENTS_KEEP_DEFAULT;
    switch (c->backend) {
    case META_BACKEND_LMDB:
        rc = meta_lmdb_open(m, c);
        break;
    case META_BACKEND_POSTGRES:
        rc = meta_pg_open(m, c);
        break;
    default:
        rc = ERR_CONF;
        break;
    }
    if (rc != 0) {
        FREE_OBJ(m);
        return rc;
    }
    AN(m->ops);
    *pm = m;
    return 0;
}

void
meta_close(struct meta **pm)
{
    struct meta *m = *pm;

    if (m == NULL)
        return;
    CHECK_OBJ(m, META_MAGIC);
    m->ops->close(m);
    FREE_OBJ(m);
    *pm = NULL;
}

const char *
meta_backend_name(const struct meta *m)
{
    CHECK_OBJ_NOTNULL(m, META_MAGIC);
    return m->ops->name;
}

int
meta_schema_version(struct meta *m)
{
    CHECK_OBJ_NOTNULL(m, META_MAGIC);
    return m->ops->schema_version(m);
}

void
meta_strlcpy(char *dst, const char *src, size_t max)
{
    size_t n = strnlen(src, max);

    memcpy(dst, src, n);
    dst[n] = '\0';
}

void
meta_event_init(struct meta_event *e, enum meta_event_type type, const struct meta_target *t,
                uint64_t ref, uint64_t value, const char *kind, int64_t created_ms)
{
    memset(e, 0, sizeof(*e));
    e->type = type;
    e->target = *t;
    e->ref = ref;
    e->value = value;
    if (kind != NULL)
        meta_strlcpy(e->kind, kind, META_KIND_MAX);
    e->created_ms = created_ms;
}

/* ---- validation ---- */

bool
meta_target_id_ok(const char *id, size_t len)
{
    size_t i;

    if (len == 0 || len > META_TARGET_ID_MAX)
        return false;
    for (i = 0; i < len; i++) {
        char ch = id[i];

        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '.' || ch == '_' || ch == '-'))
            return false;
    }
    /* "." and ".." name directories, not streams. */
    return !(id[0] == '.' && (len == 1 || (len == 2 && id[1] == '.')));
}

bool
meta_user_id_ok(const char *id, size_t len)
{
    size_t i;

    if (len != META_USER_ID_LEN)
        return false;
    for (i = 0; i < len; i++)
        if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f')))
            return false;
    return true;
}

/* SPEC: RFC 3629 4 -- the UTF-8 byte sequences; no overlongs, no
 * surrogates, nothing above U+10FFFF. */
bool
meta_utf8_ok(const char *str, size_t len, bool allow_newline)
{
    const uint8_t *s = (const uint8_t *)str;
    size_t i = 0;

    while (i < len) {
        uint32_t cp;
        size_t n, k;

        if (s[i] < 0x80) {
            if ((s[i] < 0x20 && !(allow_newline && s[i] == '\n')) || s[i] == 0x7f)
                return false;
            i++;
            continue;
        }
        if (s[i] >= 0xc2 && s[i] <= 0xdf) {
            n = 2;
            cp = s[i] & 0x1fu;
        } else if (s[i] >= 0xe0 && s[i] <= 0xef) {
            n = 3;
            cp = s[i] & 0x0fu;
        } else if (s[i] >= 0xf0 && s[i] <= 0xf4) {
            n = 4;
            cp = s[i] & 0x07u;
        } else {
            return false;
        }
        if (len - i < n)
            return false;
        for (k = 1; k < n; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + k] & 0x3fu);
        }
        if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10ffff ||
            (cp >= 0xd800 && cp <= 0xdfff) || (cp >= 0x80 && cp <= 0x9f))
            return false;
        i += n;
    }
    return true;
}

int
meta_target_check(const struct meta_target *t)
{
    if (t == NULL || (t->kind != 's' && t->kind != 'v'))
        return ERR_INVAL;
    if (!meta_target_id_ok(t->id, strnlen(t->id, META_TARGET_ID_MAX + 1)))
        return ERR_INVAL;
    return 0;
}

static bool
meta_user_arg_ok(const char *id)
{
    return id != NULL && meta_user_id_ok(id, strnlen(id, META_USER_ID_LEN + 1));
}

static bool
meta_kind_ok(const char *kind)
{
    size_t len = strnlen(kind, META_KIND_MAX + 1);
    size_t i;

    if (len == 0 || len > META_KIND_MAX || !meta_utf8_ok(kind, len, false))
        return false;
    for (i = 0; i < len; i++)
        if (kind[i] == ' ' || kind[i] == ',')
            return false;
    return true;
}

/* ---- users ---- */

static void
meta_user_id_new(char *out)
{
    static const char hex[] = "0123456789abcdef";
    uint8_t raw[META_USER_ID_LEN / 2];
    size_t i;

    /* getrandom() on a few bytes does not fail once the pool is ready. */
    if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw))
        abort();
    for (i = 0; i < sizeof(raw); i++) {
        out[2 * i] = hex[raw[i] >> 4];
        out[2 * i + 1] = hex[raw[i] & 15];
    }
    out[META_USER_ID_LEN] = '\0';
}

int
meta_user_create(struct meta *m, const char *name, enum meta_role role, int64_t now_ms,
                 struct meta_user *out)
{
    struct meta_user u;
    size_t len;
    int rc = ERR_EXISTS, i;

    CHECK_OBJ_NOTNULL(m, META_MAGIC);
    len = name != NULL ? strnlen(name, META_NAME_MAX + 1) : 0;
    if (len == 0 || len > META_NAME_MAX || !meta_utf8_ok(name, len, false))
        return ERR_INVAL;
    if (role != META_ROLE_USER && role != META_ROLE_MODERATOR && role != META_ROLE_EDGE)
        return ERR_INVAL;
    memset(&u, 0, sizeof(u));
    memcpy(u.name, name, len);
    u.role = role;
    u.created_ms = now_ms;
    /* 64 random bits: a collision is a curiosity, but never an overwrite. */
    for (i = 0; i < META_USER_TRIES && rc == ERR_EXISTS; i++) {
        meta_user_id_new(u.id);
        rc = m->ops->user_put(m, &u);
    }
    if (rc == 0)
        *out = u;
    return rc;
}

int
meta_user_get(struct meta *m, const char *id, struct meta_user *out)
{
    char copy[META_USER_ID_LEN + 1];

    CHECK_OBJ_NOTNULL(m, META_MAGIC);
    if (!meta_user_arg_ok(id))
        return ERR_NOTFOUND;
    memcpy(copy, id, sizeof(copy)); /* id may point into out */
    return m->ops->user_get(m, copy, out);
}

/* ---- comments ---- */

int
meta_comment_add(struct meta *m, const struct meta_target *target, uint64_t parent,
                 const char *author, const char *text, int64_t now_ms, struct meta_comment *out)
{
    size_t len;

    CHECK_OBJ_NOTNULL(m, META_MAGIC);
    if (meta_target_check(target) != 0 || text == NULL || parent > INT64_MAX)
        return ERR_INVAL;
    if (!meta_user_arg_ok(author))
        return ERR_NOTFOUND;
    len = strnlen(text, META_TEXT_MAX + 1);
    if (len == 0 || len > META_TEXT_MAX || !meta_utf8_ok(text, len, true))
        return ERR_INVAL;
    memset(out, 0, sizeof(*out));
    out->target = *target;
    out->parent = parent;
    meta_strlcpy(out->author_id, author, META_USER_ID_LEN);
    meta_strlcpy(out->text, text, META_TEXT_MAX);
    out->created_ms = now_ms;
    return m->ops->comment_add(m, out);
}

int
meta_comment_get(struct meta *m, uint64_t id, struct meta_comment *out)
{
    CHECK_OBJ_NOTNULL(m, META_MAGIC);
    if (id == 0 || id > INT64_MAX)
        return ERR_NOTFOUND;
    return m->ops->comment_get(m, id, out);
}

int
meta_comment_list(struct meta *m, const struct meta_target *target, uint64_t parent,
                  enum meta_order order, uint64_t cursor, unsigned limit,
                  struct meta_comment *items, unsigned *n, uint64_t *next)
{
    CHECK_OBJ_NOTNULL(m, META_MAGIC);
    *n = 0;
    *next = 0;
    if (meta_target_check(target) != 0 || limit == 0 || limit > META_PAGE_MAX ||
        (order != META_ORDER_NEWEST && order != META_ORDER_OLDEST) || parent > INT64_MAX ||
        cursor > INT64_MAX)
        return ERR_INVAL;
    return m->ops->comment_list(m, target, parent, order, cursor, limit, items, n, next);
}

int
meta_comment_delete(struct meta *m, uint64_t id, const char *by, bool moderator, int64_t now_ms)
{
    CHECK_OBJ_NOTNULL(m, META_MAGIC);
    if (id == 0 || id > INT64_MAX)
        return ERR_NOTFOUND;
    if (!meta_user_arg_ok(by))
        return ERR_AUTH;
    return m->ops->comment_delete(m, id, by, moderator, now_ms);
}

/* ---- likes ---- */

int
meta_like_set(struct meta *m, const struct meta_target *target, const char *user, bool like,
              int64_t now_ms, uint64_t *count)
{
    CHECK_OBJ_NOTNULL(m, META_MAGIC);
    if (meta_target_check(target) != 0)
        return ERR_INVAL;
    if (!meta_user_arg_ok(user))
        return ERR_NOTFOUND;
    return m->ops->like_set(m, target, user, like, now_ms, count);
}

int
meta_like_get(struct meta *m, const struct meta_target *target, const char *user, uint64_t *count,
              bool *liked)
{
    CHECK_OBJ_NOTNULL(m, META_MAGIC);
    if (meta_target_check(target) != 0)
        return ERR_INVAL;
    if (user != NULL && !meta_user_arg_ok(user))
        user = NULL; /* nobody we know: likes nothing */
    return m->ops->like_get(m, target, user, count, liked);
}

/* ---- reactions ---- */

int
meta_reaction_add(struct meta *m, const struct meta_delta *d, size_t n, const char *edge,
                  uint64_t seq, int64_t now_ms, bool *dup)
{
    size_t i;

    CHECK_OBJ_NOTNULL(m, META_MAGIC);
    *dup = false;
    if (n == 0 || n > META_BATCH_MAX)
        return ERR_INVAL;
    for (i = 0; i < n; i++)
        if (meta_target_check(&d[i].target) != 0 || !meta_kind_ok(d[i].kind) ||
            d[i].bucket_ms < 0 || d[i].count == 0 || d[i].count > META_DELTA_MAX)
            return ERR_INVAL;
    if (edge != NULL) {
        size_t len = strnlen(edge, META_EDGE_MAX + 1);

        if (len > META_EDGE_MAX || !meta_target_id_ok(edge, len) || seq == 0 || seq > INT64_MAX)
            return ERR_INVAL;
    }
    return m->ops->reaction_add(m, d, n, edge, seq, now_ms, dup);
}

int
meta_reaction_range(struct meta *m, const struct meta_target *target, int64_t from_ms,
                    int64_t to_ms, struct meta_bucket *out, size_t max, size_t *n)
{
    CHECK_OBJ_NOTNULL(m, META_MAGIC);
    *n = 0;
    if (meta_target_check(target) != 0 || from_ms < 0 || to_ms < from_ms)
        return ERR_INVAL;
    if (to_ms == from_ms)
        return 0;
    return m->ops->reaction_range(m, target, from_ms, to_ms, out, max, n);
}

/* ---- events ---- */

int
meta_events_after(struct meta *m, uint64_t after, struct meta_event *out, size_t max, size_t *n,
                  uint64_t *first, uint64_t *last)
{
    CHECK_OBJ_NOTNULL(m, META_MAGIC);
    *n = 0;
    *first = 0;
    *last = 0;
    if (after > INT64_MAX)
        return ERR_INVAL;
    return m->ops->events_after(m, after, out, max, n, first, last);
}
