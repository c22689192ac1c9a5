/*
 * social_parse.c -- routes, query strings and JSON bodies of the
 * interactions API, checked field by field (limits in social_parse.h and
 * docs/social.md).
 *
 * JSON goes through jansson with JSON_REJECT_DUPLICATES and without
 * JSON_ALLOW_NUL, inside a body already capped by the caller; strings are
 * then checked again here (length, UTF-8 without control characters), so
 * the store never sees what the API would not echo back. Unknown fields
 * are ignored (clients may be newer than us); a known field of the wrong
 * type is an error, never coerced.
 *
 * Not here: HTTP and the store (social_api.c).
 */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "social_parse.h"
#include "err.h"
#include "mem.h"
#include "compat.h"

static int
social_fail(struct social_err *e, int status, const char *code, const char *fmt, const char *arg)
{
    e->status = status;
    e->code = code;
    e->allow = NULL;
    (void)snprintf(e->message, sizeof(e->message), fmt, arg != NULL ? arg : "");
    return ERR_INVAL;
}

uint64_t
social_id_parse(const char *s, size_t len)
{
    uint64_t v = 0;
    size_t i;

    if (len == 0 || len > 19 || s[0] == '0')
        return 0;
    for (i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    return v <= INT64_MAX ? v : 0;
}

/* A non-negative decimal up to max (no sign, no leading zero but "0"); -1 when not. */
static int64_t
social_num_parse(const char *s, size_t len, int64_t max)
{
    int64_t v = 0;
    size_t i;

    if (len == 0 || len > 19 || (s[0] == '0' && len > 1))
        return -1;
    for (i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        if (v > (max - (s[i] - '0')) / 10)
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

/* ---- routes ---- */

struct social_seg {
    const char *p;
    size_t len;
};

#define SOCIAL_SEGS_MAX 7

static size_t
social_split(const char *path, struct social_seg *seg, size_t max)
{
    size_t n = 0;
    const char *p = path;

    if (*p != '/')
        return 0;
    while (*p == '/') {
        const char *start = ++p;

        while (*p != '\0' && *p != '/')
            p++;
        if (n == max)
            return max + 1; /* too many: not a route of ours */
        seg[n].p = start;
        seg[n].len = (size_t)(p - start);
        n++;
    }
    return n;
}

static bool
social_seg_is(const struct social_seg *s, const char *word)
{
    return s->len == strlen(word) && memcmp(s->p, word, s->len) == 0;
}

/* Method check: 0 when allowed, else a 405 with the Allow list. */
static int
social_allow(const char *method, const char *allow, struct social_err *e)
{
    const char *p = allow;
    size_t ml = strlen(method);

    while (*p != '\0') {
        size_t n = strcspn(p, ",");

        if (n == ml && memcmp(p, method, n) == 0)
            return 0;
        p += n;
        while (*p == ',' || *p == ' ')
            p++;
    }
    (void)social_fail(e, 405, "method_not_allowed", "use one of: %s", allow);
    e->allow = allow;
    return ERR_INVAL;
}

/* /api/{streams|videos}/{id}/...: the target, or a 400. */
static int
social_route_target(const struct social_seg *kind, const struct social_seg *id,
                    struct meta_target *t, struct social_err *e)
{
    memset(t, 0, sizeof(*t));
    t->kind = social_seg_is(kind, "streams") ? 's' : 'v';
    if (!meta_target_id_ok(id->p, id->len))
        return social_fail(e, 400, "bad_id", "%s",
                           "stream and video names are 1-64 of A-Z a-z 0-9 . _ -");
    memcpy(t->id, id->p, id->len);
    return 0;
}

static int
social_route_target_ops(const char *m, const struct social_seg *seg, size_t n,
                        struct social_route *rt, struct social_err *e)
{
    bool video = social_seg_is(&seg[1], "videos");

    if (n == 4 && social_seg_is(&seg[3], "comments")) {
        if (social_allow(m, "GET, HEAD, POST", e) != 0)
            return 1;
        rt->op = strcmp(m, "POST") == 0 ? SOCIAL_OP_COMMENT_ADD : SOCIAL_OP_COMMENT_LIST;
    } else if ((n == 5 || n == 6) && social_seg_is(&seg[3], "comments")) {
        if (n == 6 && !social_seg_is(&seg[5], "replies"))
            return 0;
        rt->cid = social_id_parse(seg[4].p, seg[4].len);
        if (rt->cid == 0) {
            (void)social_fail(e, 400, "bad_id", "%s", "comment ids are positive decimal numbers");
            return 1;
        }
        if (n == 6) {
            if (social_allow(m, "GET, HEAD", e) != 0)
                return 1;
            rt->op = SOCIAL_OP_REPLY_LIST;
        } else {
            if (social_allow(m, "GET, HEAD, DELETE", e) != 0)
                return 1;
            rt->op = strcmp(m, "DELETE") == 0 ? SOCIAL_OP_COMMENT_DELETE : SOCIAL_OP_COMMENT_GET;
        }
    } else if (n == 4 && social_seg_is(&seg[3], "reactions")) {
        if (social_allow(m, "GET, HEAD, POST", e) != 0)
            return 1;
        rt->op = strcmp(m, "POST") == 0 ? SOCIAL_OP_REACTION_ADD : SOCIAL_OP_REACTION_RANGE;
    } else if (n == 4 && video && social_seg_is(&seg[3], "like")) {
        if (social_allow(m, "PUT, DELETE", e) != 0)
            return 1;
        rt->op = SOCIAL_OP_LIKE_SET;
        rt->like = strcmp(m, "PUT") == 0;
    } else if (n == 4 && video && social_seg_is(&seg[3], "likes")) {
        if (social_allow(m, "GET, HEAD", e) != 0)
            return 1;
        rt->op = SOCIAL_OP_LIKE_GET;
    } else {
        return 0;
    }
    if (social_route_target(&seg[1], &seg[2], &rt->target, e) != 0) {
        rt->op = SOCIAL_OP_NONE;
        return 1;
    }
    return 1;
}

int
social_route_parse(const char *method, const char *path, struct social_route *rt,
                   struct social_err *e)
{
    struct social_seg seg[SOCIAL_SEGS_MAX];
    const char *m = strcmp(method, "HEAD") == 0 ? "GET" : method;
    size_t n;
    int rc;

    memset(rt, 0, sizeof(*rt));
    memset(e, 0, sizeof(*e));
    n = social_split(path, seg, SOCIAL_SEGS_MAX);
    if (n < 2 || n > SOCIAL_SEGS_MAX || !social_seg_is(&seg[0], "api"))
        return 0;
    if (n == 2 && social_seg_is(&seg[1], "sessions")) {
        if (social_allow(m, "POST", e) == 0)
            rt->op = SOCIAL_OP_SESSION_NEW;
        return 1;
    }
    if (n == 2 && social_seg_is(&seg[1], "events")) {
        if (social_allow(m, "GET, HEAD", e) == 0)
            rt->op = SOCIAL_OP_EVENTS;
        return 1;
    }
    if (n == 3 && social_seg_is(&seg[1], "reactions") && social_seg_is(&seg[2], "batch")) {
        if (social_allow(m, "POST", e) == 0) {
            rt->op = SOCIAL_OP_REACTION_BATCH;
            rt->write = true;
        }
        return 1;
    }
    if (n < 4 || !(social_seg_is(&seg[1], "streams") || social_seg_is(&seg[1], "videos")))
        return 0;
    rc = social_route_target_ops(m, seg, n, rt, e);
    rt->write = rt->op == SOCIAL_OP_COMMENT_ADD || rt->op == SOCIAL_OP_COMMENT_DELETE ||
                rt->op == SOCIAL_OP_LIKE_SET || rt->op == SOCIAL_OP_REACTION_ADD;
    return rc;
}

/* ---- query strings ---- */

static int
social_query_bad(struct social_err *e, const char *key)
{
    return social_fail(e, 400, "bad_query", "bad value for %s", key);
}

int
social_query_parse(const char *query, struct social_query *q, struct social_err *e)
{
    const char *p = query;
    unsigned seen = 0;

    memset(q, 0, sizeof(*q));
    q->limit = SOCIAL_LIMIT_DEFAULT;
    while (p != NULL && *p != '\0') {
        size_t n = strcspn(p, "&"), kl = strcspn(p, "=&");
        const char *v = p + kl + (kl < n ? 1 : 0);
        size_t vl = kl < n ? n - kl - 1 : 0;
        static const char *const keys[] = {"cursor", "limit", "order", "from",
                                           "to",     "after", "wait"};
        unsigned k;
        int64_t num;

        for (k = 0; k < ARRAY_SIZE(keys); k++)
            if (kl == strlen(keys[k]) && memcmp(p, keys[k], kl) == 0)
                break;
        if (k < ARRAY_SIZE(keys)) {
            if (seen & (1u << k))
                return social_fail(e, 400, "bad_query", "%s given twice", keys[k]);
            seen |= 1u << k;
        }
        switch (k) {
        case 0: /* cursor: empty means the first page */
            if (vl > 0 && (q->cursor = social_id_parse(v, vl)) == 0)
                return social_query_bad(e, "cursor");
            break;
        case 1:
            num = social_num_parse(v, vl, META_PAGE_MAX);
            if (num < 1)
                return social_query_bad(e, "limit");
            q->limit = (unsigned)num;
            break;
        case 2:
            if (vl == 6 && memcmp(v, "newest", 6) == 0)
                q->order = META_ORDER_NEWEST;
            else if (vl == 6 && memcmp(v, "oldest", 6) == 0)
                q->order = META_ORDER_OLDEST;
            else
                return social_query_bad(e, "order");
            q->has_order = true;
            break;
        case 3:
        case 4:
            num = social_num_parse(v, vl, SOCIAL_MEDIA_MS_MAX);
            if (num < 0)
                return social_query_bad(e, keys[k]);
            if (k == 3) {
                q->from = num;
            } else {
                q->to = num;
                q->has_to = true;
            }
            break;
        case 5:
            num = social_num_parse(v, vl, INT64_MAX);
            if (num < 0)
                return social_query_bad(e, "after");
            q->after = (uint64_t)num;
            q->has_after = true;
            break;
        case 6:
            num = social_num_parse(v, vl, SOCIAL_WAIT_MAX_MS);
            if (num < 0)
                return social_query_bad(e, "wait");
            q->wait_ms = (uint32_t)num;
            break;
        default: /* not ours (a cache buster, say): ignored */
            break;
        }
        p += n;
        if (*p == '&')
            p++;
    }
    if (q->has_to && q->to < q->from)
        return social_fail(e, 400, "bad_query", "%s", "to is before from");
    return 0;
}

/* ---- reaction kinds ---- */

static bool
social_kind_ok(const char *s, size_t len)
{
    size_t i;

    if (len == 0 || len > META_KIND_MAX || !meta_utf8_ok(s, len, false))
        return false;
    for (i = 0; i < len; i++)
        if (s[i] == ' ' || s[i] == ',')
            return false;
    return true;
}

int
social_kinds_parse(const char *list, struct social_kinds *k)
{
    const char *p = list;

    memset(k, 0, sizeof(*k));
    for (;;) {
        size_t n = strcspn(p, ",");

        if (!social_kind_ok(p, n) || k->n == SOCIAL_KINDS_MAX)
            return ERR_CONF;
        memcpy(k->name[k->n], p, n);
        k->name[k->n][n] = '\0';
        if (social_kinds_has(k, k->name[k->n]))
            return ERR_CONF;
        k->n++;
        if (p[n] == '\0')
            return 0;
        p += n + 1;
    }
}

bool
social_kinds_has(const struct social_kinds *k, const char *kind)
{
    unsigned i;

    for (i = 0; i < k->n; i++)
        if (strcmp(k->name[i], kind) == 0)
            return true;
    return false;
}

/* ---- JSON fields ---- */

static json_t *
social_json_load(const void *buf, size_t len, struct social_err *e)
{
    json_error_t jerr;
    json_t *j;

    j = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
    if (j == NULL)
        (void)social_fail(e, 400, "bad_json", "%s", "the body is not valid JSON");
    return j;
}

/*
 * A string field: 1..max bytes of UTF-8 without controls (newlines too,
 * unless allowed). Absent: "" when optional, an error when required.
 */
static int
social_json_str(json_t *obj, const char *key, bool required, size_t max, bool newline, char *out,
                struct social_err *e)
{
    json_t *v = json_object_get(obj, key);
    size_t len;

    out[0] = '\0';
    if (v == NULL || (!required && json_is_null(v))) {
        if (required)
            return social_fail(e, 400, "missing_field", "%s is required", key);
        return 0;
    }
    if (!json_is_string(v))
        return social_fail(e, 400, "wrong_type", "%s must be a string", key);
    len = json_string_length(v);
    if (len == 0)
        return social_fail(e, 400, "bad_value", "%s must not be empty", key);
    if (len > max)
        return social_fail(e, 400, "too_long", "%s is too long", key);
    if (!meta_utf8_ok(json_string_value(v), len, newline))
        return social_fail(e, 400, "bad_value", "%s has control characters", key);
    memcpy(out, json_string_value(v), len);
    out[len] = '\0';
    return 0;
}

/* An integer field in [min, max] (never a real, a bool or a string). */
static int
social_json_int(json_t *obj, const char *key, int64_t min, int64_t max, int64_t *out,
                struct social_err *e)
{
    json_t *v = json_object_get(obj, key);

    if (v == NULL)
        return social_fail(e, 400, "missing_field", "%s is required", key);
    if (!json_is_integer(v))
        return social_fail(e, 400, "wrong_type", "%s must be an integer", key);
    if (json_integer_value(v) < min || json_integer_value(v) > max)
        return social_fail(e, 400, "bad_value", "%s is out of range", key);
    *out = json_integer_value(v);
    return 0;
}

static json_t *
social_json_object(const void *buf, size_t len, struct social_err *e)
{
    json_t *j = social_json_load(buf, len, e);

    if (j != NULL && !json_is_object(j)) {
        json_decref(j);
        (void)social_fail(e, 400, "bad_json", "%s", "the body must be a JSON object");
        return NULL;
    }
    return j;
}

int
social_body_session(const void *buf, size_t len, struct social_session_req *out,
                    struct social_err *e)
{
    json_t *j;
    int rc;

    memset(out, 0, sizeof(*out));
    j = social_json_object(buf, len, e);
    if (j == NULL)
        return ERR_INVAL;
    rc = social_json_str(j, "name", true, META_NAME_MAX, false, out->name, e);
    if (rc == 0)
        rc = social_json_str(j, "moderator_key", false, SOCIAL_KEY_MAX, false, out->moderator_key,
                             e);
    if (rc == 0)
        rc = social_json_str(j, "edge_key", false, SOCIAL_KEY_MAX, false, out->edge_key, e);
    json_decref(j);
    return rc;
}

int
social_body_comment(const void *buf, size_t len, struct social_comment_req *out,
                    struct social_err *e)
{
    json_t *j, *p;
    int rc;

    memset(out, 0, sizeof(*out));
    j = social_json_object(buf, len, e);
    if (j == NULL)
        return ERR_INVAL;
    rc = social_json_str(j, "text", true, META_TEXT_MAX, true, out->text, e);
    p = json_object_get(j, "parent");
    /* A parent is an id as we print it (a string), or as a plain number. */
    if (rc == 0 && p != NULL && !json_is_null(p)) {
        if (json_is_string(p))
            out->parent = social_id_parse(json_string_value(p), json_string_length(p));
        else if (json_is_integer(p) && json_integer_value(p) > 0)
            out->parent = (uint64_t)json_integer_value(p);
        else if (!json_is_integer(p))
            rc = social_fail(e, 400, "wrong_type", "%s", "parent must be a comment id");
        if (rc == 0 && out->parent == 0)
            rc = social_fail(e, 400, "bad_value", "%s", "parent must be a comment id");
    }
    json_decref(j);
    return rc;
}

int
social_body_reaction(const void *buf, size_t len, const struct social_kinds *k,
                     struct social_reaction_req *out, struct social_err *e)
{
    json_t *j;
    int rc;

    memset(out, 0, sizeof(*out));
    j = social_json_object(buf, len, e);
    if (j == NULL)
        return ERR_INVAL;
    rc = social_json_str(j, "kind", true, META_KIND_MAX, false, out->kind, e);
    if (rc == 0 && !social_kinds_has(k, out->kind))
        rc = social_fail(e, 400, "unknown_kind", "%s", "kind is not one of the reactions");
    if (rc == 0)
        rc = social_json_int(j, "t", 0, SOCIAL_MEDIA_MS_MAX, &out->t, e);
    json_decref(j);
    return rc;
}

void
social_batch_clear(struct social_batch_req *b)
{
    xfree(b->d);
    b->d = NULL;
    b->n = 0;
}

static int
social_batch_delta(json_t *o, const struct social_kinds *k, uint64_t bucket_ms,
                   struct meta_delta *d, struct social_err *e)
{
    char id[META_TARGET_ID_MAX + 1];
    const char *field = "stream";
    int64_t ws, count;
    int rc;

    if (!json_is_object(o))
        return social_fail(e, 400, "wrong_type", "%s", "each delta must be an object");
    if (json_object_get(o, "stream") == NULL && json_object_get(o, "video") != NULL)
        field = "video";
    rc = social_json_str(o, field, true, META_TARGET_ID_MAX, false, id, e);
    if (rc != 0)
        return rc;
    if (!meta_target_id_ok(id, strlen(id)))
        return social_fail(e, 400, "bad_id", "%s is not a valid name", field);
    d->target.kind = field[0] == 's' ? 's' : 'v';
    memcpy(d->target.id, id, sizeof(id));
    rc = social_json_str(o, "kind", true, META_KIND_MAX, false, d->kind, e);
    if (rc == 0 && !social_kinds_has(k, d->kind))
        rc = social_fail(e, 400, "unknown_kind", "%s", "kind is not one of the reactions");
    if (rc == 0)
        rc = social_json_int(o, "window_start", 0, SOCIAL_MEDIA_MS_MAX, &ws, e);
    if (rc == 0)
        rc = social_json_int(o, "count", 1, META_DELTA_MAX, &count, e);
    if (rc != 0)
        return rc;
    d->bucket_ms = ws - (int64_t)((uint64_t)ws % bucket_ms);
    d->count = (uint32_t)count;
    return 0;
}

int
social_body_batch(const void *buf, size_t len, const struct social_kinds *k, uint64_t bucket_ms,
                  struct social_batch_req *out, struct social_err *e)
{
    json_t *j, *arr;
    int64_t seq;
    size_t i;
    int rc = 0;

    memset(out, 0, sizeof(*out));
    AN(bucket_ms);
    j = social_json_load(buf, len, e);
    if (j == NULL)
        return ERR_INVAL;
    arr = j;
    if (json_is_object(j)) {
        arr = json_object_get(j, "deltas");
        rc = social_json_str(j, "edge", false, META_EDGE_MAX, false, out->edge, e);
        if (rc == 0 && out->edge[0] != '\0' && !meta_target_id_ok(out->edge, strlen(out->edge)))
            rc = social_fail(e, 400, "bad_value", "%s", "edge is 1-64 of A-Z a-z 0-9 . _ -");
        if (rc == 0 && out->edge[0] != '\0') {
            rc = social_json_int(j, "seq", 1, INT64_MAX, &seq, e);
            if (rc == 0)
                out->seq = (uint64_t)seq;
        }
        if (rc == 0 && arr == NULL)
            rc = social_fail(e, 400, "missing_field", "%s is required", "deltas");
    }
    if (rc == 0 && !json_is_array(arr))
        rc = social_fail(e, 400, "wrong_type", "%s", "deltas must be an array");
    if (rc == 0 && (json_array_size(arr) == 0 || json_array_size(arr) > META_BATCH_MAX))
        rc = social_fail(e, 400, "bad_value", "%s", "a batch holds 1 to 1024 deltas");
    if (rc == 0) {
        out->d = xcalloc(json_array_size(arr), sizeof(*out->d));
        for (i = 0; rc == 0 && i < json_array_size(arr); i++)
            rc = social_batch_delta(json_array_get(arr, i), k, bucket_ms, &out->d[i], e);
        out->n = i;
    }
    json_decref(j);
    if (rc != 0)
        social_batch_clear(out);
    return rc;
}
