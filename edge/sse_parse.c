/*
 * sse_parse.c -- the origin's event-log answers, decoded (sse_parse.h).
 *
 * {"events":[...], "first":N, "last":N, "reset":bool}: every event needs
 * an id (growing), a type and a target; a type this edge does not know,
 * or a target that is not a stream or video with a valid name, is
 * skipped (its id still counts, so the follower moves past it). Each
 * kept event's object is kept as compact ASCII JSON for the SSE data
 * line. Not here: what the hub does with them (sse.c).
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "sse_parse.h"
#include "err.h"
#include "mem.h"
#include "compat.h"

static bool
sse_id_ok(const char *id)
{
    size_t n = strlen(id);

    if (n == 0 || n > SSE_ID_MAX || strcmp(id, ".") == 0 || strcmp(id, "..") == 0)
        return false;
    return strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == n;
}

void
sse_batch_clear(struct sse_batch *b)
{
    size_t i;

    for (i = 0; i < b->n; i++)
        xfree(b->ev[i].json);
    memset(b, 0, sizeof(*b));
}

static int
sse_uint(json_t *o, const char *key, uint64_t *out)
{
    json_t *v = json_object_get(o, key);

    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return ERR_PROTO;
    *out = (uint64_t)json_integer_value(v);
    return 0;
}

/* One event object into e; 1 when it is to be skipped, ERR_PROTO when bad. */
static int
sse_ev_decode(json_t *o, struct sse_ev *e)
{
    static const char *const types[] = {"", "comment", "comment_deleted", "likes", "reactions"};
    const char *type, *tk, *tid, *kind;
    json_t *t;
    char *text;
    size_t i;

    if (!json_is_object(o) || sse_uint(o, "id", &e->id) != 0 || e->id == 0)
        return ERR_PROTO;
    type = json_string_value(json_object_get(o, "type"));
    t = json_object_get(o, "target");
    if (type == NULL || !json_is_object(t))
        return ERR_PROTO;
    for (i = 1; i < ARRAY_SIZE(types); i++)
        if (strcmp(type, types[i]) == 0)
            break;
    if (i == ARRAY_SIZE(types))
        return 1; /* a newer origin's type: not ours to show */
    e->type = (enum sse_ev_type)i;
    tk = json_string_value(json_object_get(t, "kind"));
    tid = json_string_value(json_object_get(t, "id"));
    if (tk == NULL || tid == NULL || !sse_id_ok(tid))
        return 1;
    if (strcmp(tk, "stream") == 0)
        e->tkind = 's';
    else if (strcmp(tk, "video") == 0)
        e->tkind = 'v';
    else
        return 1;
    memcpy(e->tid, tid, strlen(tid) + 1);
    if (e->type == SSE_EV_REACTIONS) {
        kind = json_string_value(json_object_get(o, "kind"));
        if (kind == NULL || strlen(kind) == 0 || strlen(kind) > SSE_KIND_MAX ||
            !json_is_integer(json_object_get(o, "bucket_ms")) ||
            sse_uint(o, "count", &e->count) != 0)
            return ERR_PROTO;
        memcpy(e->kind, kind, strlen(kind) + 1);
        e->bucket_ms = (int64_t)json_integer_value(json_object_get(o, "bucket_ms"));
        if (e->bucket_ms < 0)
            return ERR_PROTO;
    }
    text = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII);
    if (text == NULL)
        return ERR_PROTO;
    e->json_len = strlen(text);
    if (e->json_len > SSE_MSG_MAX) {
        free(text); /* jansson's malloc */
        return ERR_LIMIT;
    }
    e->json = xstrndup(text, e->json_len);
    free(text);
    return 0;
}

int
sse_batch_decode(const char *p, size_t len, struct sse_batch *b)
{
    json_t *root, *arr;
    size_t i;
    uint64_t prev = 0;
    int rc = 0;

    memset(b, 0, sizeof(*b));
    if (len > SSE_BODY_MAX)
        return ERR_LIMIT;
    root = json_loadb(p, len, JSON_REJECT_DUPLICATES, NULL);
    if (root == NULL)
        return ERR_PROTO;
    arr = json_object_get(root, "events");
    if (!json_is_object(root) || !json_is_array(arr) || sse_uint(root, "last", &b->last) != 0 ||
        sse_uint(root, "first", &b->first) != 0 ||
        !json_is_boolean(json_object_get(root, "reset"))) {
        rc = ERR_PROTO;
        goto out;
    }
    b->reset = json_is_true(json_object_get(root, "reset"));
    if (json_array_size(arr) > SSE_BATCH_EVENTS_MAX) {
        rc = ERR_LIMIT;
        goto out;
    }
    for (i = 0; i < json_array_size(arr); i++) {
        struct sse_ev *e = &b->ev[b->n];

        memset(e, 0, sizeof(*e));
        rc = sse_ev_decode(json_array_get(arr, i), e);
        if (rc >= 0 && e->id <= prev) {
            xfree(e->json);
            rc = ERR_PROTO; /* ids only grow */
        }
        if (rc < 0)
            goto out;
        prev = e->id;
        b->upto = e->id;
        if (rc == 1) {
            rc = 0;
            continue;
        }
        b->n++;
    }
    if (b->upto > b->last)
        rc = ERR_PROTO;
out:
    json_decref(root);
    if (rc != 0)
        sse_batch_clear(b);
    return rc;
}

void
sse_batch_check(const struct sse_batch *b)
{
    size_t i;

    assert(b->n <= SSE_BATCH_EVENTS_MAX);
    for (i = 0; i < b->n; i++) {
        assert(b->ev[i].id > 0 && b->ev[i].id <= b->upto && b->upto <= b->last);
        assert(i == 0 || b->ev[i].id > b->ev[i - 1].id);
        assert(b->ev[i].json != NULL && strlen(b->ev[i].json) == b->ev[i].json_len);
        assert(b->ev[i].tkind == 's' || b->ev[i].tkind == 'v');
        assert(sse_id_ok(b->ev[i].tid));
        assert(b->ev[i].type >= SSE_EV_COMMENT && b->ev[i].type <= SSE_EV_REACTIONS);
    }
}

int
sse_last_id_parse(const char *s, uint64_t *out)
{
    uint64_t v = 0;
    size_t i;

    for (i = 0; s[i] != '\0'; i++) {
        if (s[i] < '0' || s[i] > '9' || i >= 20)
            return ERR_PROTO;
        if (v > (UINT64_MAX - (uint64_t)(s[i] - '0')) / 10)
            return ERR_PROTO;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    if (i == 0)
        return ERR_PROTO;
    *out = v;
    return 0;
}

bool
sse_target_id_ok(const char *id)
{
    return sse_id_ok(id);
}
