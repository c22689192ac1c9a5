/*
 * purge.c -- PURGE and POST /admin/purge (purge.h).
 *
 * A struct purge_req lives from the request until the store has answered
 * every removal it queued: the client may leave before (on_close clears
 * its pointer), the store's callbacks never miss it. URLs are turned into
 * keys the way requests are (cache_key_build(), no host); a URL purges
 * its object and every Vary variant of it (the prefix key + separator).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/buffer.h>
#include <jansson.h>

#include "access_log.h"
#include "err.h"
#include "httpd.h"
#include "log.h"
#include "mem.h"
#include "metrics.h"
#include "purge.h"
#include "store.h"
#include "compat.h"

/* Largest JSON body accepted, and most URLs/prefixes in one. */
#define PURGE_BODY_MAX (64u * 1024)
#define PURGE_ITEMS_MAX 1000

struct purge_req {
    unsigned magic;
#define PURGE_REQ_MAGIC 0x70757267U
    struct edge_worker *w; /* borrowed */
    struct httpd_req *r;   /* borrowed; NULL once the client left */
    struct evbuffer *body; /* owned (admin) */
    unsigned pending;      /* store operations not answered yet */
    uint64_t purged;
    bool failed;
    bool queued; /* everything is queued: the last answer may reply */
    uint64_t start_ms;
};

static void
purge_log(struct purge_req *p, struct httpd_req *r)
{
    struct access_log_entry le;
    struct timespec ts;

    memset(&le, 0, sizeof(le));
    le.client = httpd_req_peer(r);
    le.method = httpd_req_method_str(r);
    le.path = httpd_req_target(r);
    le.status = httpd_resp_status(r);
    le.bytes = httpd_resp_bytes(r);
    le.cache = "purge";
    le.upstream_ms = -1;
    AZ(clock_gettime(CLOCK_MONOTONIC, &ts));
    le.total_ms = (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6 - (double)p->start_ms;
    access_log_write(p->w->alog, &le);
}

static void
purge_reply(struct purge_req *p, struct httpd_req *r, int status, const char *body)
{
    size_t n = strlen(body);

    httpd_resp_set(r, "Content-Type", "application/json");
    httpd_resp_set(r, "Cache-Control", "no-store");
    if (status == 401)
        httpd_resp_set(r, "WWW-Authenticate", "Bearer realm=\"cascade\"");
    httpd_resp_start(r, status, (int64_t)n);
    if (httpd_resp_write(r, body, n) != 0) {
        /* the client is gone: logging and ending are all that is left */
    }
    purge_log(p, r);
    httpd_resp_end(r);
}

static void
purge_free(struct purge_req *p)
{
    if (p->r != NULL)
        httpd_req_on_close(p->r, NULL, NULL);
    if (p->body != NULL)
        evbuffer_free(p->body);
    FREE_OBJ(p);
}

static void
purge_on_close(struct httpd_req *r, void *arg)
{
    struct purge_req *p;

    (void)r;
    CAST_OBJ_NOTNULL(p, arg, PURGE_REQ_MAGIC);
    p->r = NULL;
    if (p->pending == 0)
        purge_free(p);
}

/* Answers and frees p once every queued removal is done. */
static void
purge_maybe_finish(struct purge_req *p)
{
    struct httpd_req *r = p->r;
    char body[64];

    if (!p->queued || p->pending > 0)
        return;
    if (r != NULL) {
        p->r = NULL;
        httpd_req_on_close(r, NULL, NULL);
        if (p->failed) {
            purge_reply(p, r, 503,
                        "{\"error\":{\"code\":\"store_busy\",\"message\":\"the "
                        "purge could not be queued\"}}\n");
        } else {
            (void)snprintf(body, sizeof(body), "{\"purged\":%" PRIu64 "}\n", p->purged);
            purge_reply(p, r, 200, body);
        }
    }
    purge_free(p);
}

static void
purge_done_cb(void *arg, int rc, uint64_t n)
{
    struct purge_req *p;

    CAST_OBJ_NOTNULL(p, arg, PURGE_REQ_MAGIC);
    assert(p->pending > 0);
    p->pending--;
    if (rc != 0)
        p->failed = true;
    p->purged += n;
    metric_add(edge_g.m.purged, n);
    purge_maybe_finish(p);
}

/* Turns a URL (origin-form, or absolute: the authority is dropped) into a key. */
static int
purge_key(const char *url, size_t len, char *out, size_t cap)
{
    const char *p;

    if (len > 8 && (strncasecmp(url, "http://", 7) == 0 || strncasecmp(url, "https://", 8) == 0)) {
        p = memchr(url + 8, '/', len - 8);
        if (p == NULL)
            return cache_key_build(out, cap, "", 0, 0, "/", 1);
        len -= (size_t)(p - url);
        url = p;
    }
    if (len == 0 || url[0] != '/')
        return ERR_PROTO;
    return cache_key_build(out, cap, "", 0, 0, url, len);
}

static void
purge_queue_rc(struct purge_req *p, int rc)
{
    if (rc == 0)
        p->pending++;
    else
        p->failed = true;
}

/* Queues the removal of one URL (and its variants), or of a prefix. */
static int
purge_queue(struct purge_req *p, const char *s, size_t len, bool prefix)
{
    struct edge_worker *w = p->w;
    char key[EDGE_KEY_MAX + 1];
    int klen;

    if (prefix && len == 0) {
        purge_queue_rc(p, store_purge_prefix(edge_g.store, "", 0, w->sl, purge_done_cb, p));
        return 0;
    }
    klen = purge_key(s, len, key, EDGE_KEY_MAX);
    if (klen == ERR_PROTO || (klen < 0 && !prefix))
        return ERR_PROTO;
    if (klen < 0) {
        /* a prefix need not be a whole key: use it as it is */
        if (len > EDGE_KEY_MAX || s[0] != '/')
            return ERR_PROTO;
        memcpy(key, s, len);
        klen = (int)len;
    }
    if (prefix) {
        purge_queue_rc(
            p, store_purge_prefix(edge_g.store, key, (size_t)klen, w->sl, purge_done_cb, p));
        return 0;
    }
    purge_queue_rc(p, store_purge(edge_g.store, key, (size_t)klen, w->sl, purge_done_cb, p));
    if ((size_t)klen < EDGE_KEY_MAX) {
        key[klen] = EDGE_OBJ_VARY_SEP;
        purge_queue_rc(
            p, store_purge_prefix(edge_g.store, key, (size_t)klen + 1, w->sl, purge_done_cb, p));
    }
    return 0;
}

/* SPEC: RFC 6750 2.1 -- "Bearer" token; compared in constant time. */
static int
purge_auth(const struct edge_worker *w, struct httpd_req *r)
{
    const char *token = w->conf->admin_token, *h = httpd_req_header(r, "Authorization");
    size_t tl = strlen(token), hl, i;
    unsigned char diff = 0;

    if (tl == 0)
        return 403; /* the admin endpoints are off */
    if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0)
        return 401;
    h += 7;
    while (*h == ' ')
        h++;
    hl = strlen(h);
    while (hl > 0 && h[hl - 1] == ' ')
        hl--;
    diff = (unsigned char)(hl != tl);
    for (i = 0; i < tl; i++)
        diff |= (unsigned char)(token[i] ^ (i < hl ? h[i] : 0));
    return diff == 0 ? 0 : 403;
}

static int
purge_json_item(struct purge_req *p, json_t *v, bool prefix)
{
    if (!json_is_string(v))
        return ERR_PROTO;
    return purge_queue(p, json_string_value(v), json_string_length(v), prefix);
}

/* {"url":..} {"prefix":..} {"urls":[..]} {"prefixes":[..]}, any mix. */
static int
purge_json(struct purge_req *p, const char *text, size_t len)
{
    static const char *const keys[] = {"url", "prefix", "urls", "prefixes"};
    json_error_t jerr;
    json_t *root, *v, *item;
    size_t k, i, n = 0;
    int rc = 0;

    root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL || !json_is_object(root)) {
        json_decref(root);
        return ERR_PROTO;
    }
    for (k = 0; k < ARRAY_SIZE(keys) && rc == 0; k++) {
        v = json_object_get(root, keys[k]);
        if (v == NULL)
            continue;
        if (k < 2) {
            rc = purge_json_item(p, v, k == 1);
            n++;
            continue;
        }
        if (!json_is_array(v) || json_array_size(v) > PURGE_ITEMS_MAX) {
            rc = ERR_PROTO;
            break;
        }
        json_array_foreach(v, i, item)
        {
            rc = purge_json_item(p, item, k == 3);
            if (rc != 0)
                break;
            n++;
        }
    }
    json_decref(root);
    return rc == 0 && n == 0 ? ERR_PROTO : rc;
}

static void
purge_body_data(struct httpd_req *r, const void *data, size_t len, void *arg)
{
    struct purge_req *p;

    (void)r;
    CAST_OBJ_NOTNULL(p, arg, PURGE_REQ_MAGIC);
    if (evbuffer_get_length(p->body) + len <= PURGE_BODY_MAX)
        AZ(evbuffer_add(p->body, data, len));
    else
        p->failed = true; /* too large: 413 at the end */
}

static void
purge_body_end(struct httpd_req *r, int err, void *arg)
{
    struct purge_req *p;
    size_t len;
    int rc;

    CAST_OBJ_NOTNULL(p, arg, PURGE_REQ_MAGIC);
    if (err == ERR_CLOSED || err == ERR_TIMEOUT)
        return; /* on_close follows */
    if (err == ERR_LIMIT || p->failed) {
        p->r = NULL;
        httpd_req_on_close(r, NULL, NULL);
        purge_reply(p, r, 413,
                    "{\"error\":{\"code\":\"body_too_large\",\"message\":\"purge "
                    "lists are at most 64 KiB\"}}\n");
        purge_free(p);
        return;
    }
    len = evbuffer_get_length(p->body);
    rc = err != 0 ? err : purge_json(p, (const char *)evbuffer_pullup(p->body, -1), len);
    if (rc != 0 && p->pending == 0) {
        p->r = NULL;
        httpd_req_on_close(r, NULL, NULL);
        purge_reply(p, r, 400,
                    "{\"error\":{\"code\":\"bad_purge\",\"message\":\"expected "
                    "{\\\"url\\\": \\\"/path\\\"} or {\\\"prefix\\\": "
                    "\\\"/path/\\\"}\"}}\n");
        purge_free(p);
        return;
    }
    p->queued = true;
    purge_maybe_finish(p);
}

void
purge_handle(struct edge_worker *w, struct httpd_req *r, bool admin)
{
    struct purge_req *p;
    const char *how, *target;
    int auth, rc;

    CHECK_OBJ_NOTNULL(w, EDGE_WORKER_MAGIC);
    metric_inc(edge_g.m.purges);
    p = xcalloc(1, sizeof(*p));
    p->magic = PURGE_REQ_MAGIC;
    p->w = w;
    p->start_ms = httpd_req_start_ms(r);
    auth = purge_auth(w, r);
    if (auth != 0) {
        purge_reply(p, r, auth,
                    auth == 401 ? "{\"error\":{\"code\":\"unauthorized\",\"message\":\"send "
                                  "Authorization: Bearer <admin.token>\"}}\n"
                    : w->conf->admin_token[0] == '\0'
                        ? "{\"error\":{\"code\":\"admin_disabled\",\"message\":\"admin.token "
                          "is not set\"}}\n"
                        : "{\"error\":{\"code\":\"forbidden\",\"message\":\"wrong token\"}}\n");
        purge_free(p);
        return;
    }
    if (admin && httpd_req_method(r) != HTTP1_M_POST) {
        httpd_resp_set(r, "Allow", "POST");
        purge_reply(p, r, 405,
                    "{\"error\":{\"code\":\"method_not_allowed\",\"message\":\"POST "
                    "a JSON purge list\"}}\n");
        purge_free(p);
        return;
    }
    p->r = r;
    httpd_req_on_close(r, purge_on_close, p);
    if (admin) {
        p->body = evbuffer_new();
        AN(p->body);
        httpd_req_read_body(r, purge_body_data, purge_body_end, p);
        return;
    }
    how = httpd_req_header(r, "Cascade-Purge");
    target = httpd_req_target(r);
    rc = purge_queue(p, target, strlen(target), how != NULL && strcasecmp(how, "prefix") == 0);
    if (rc != 0 && p->pending == 0) {
        p->r = NULL;
        httpd_req_on_close(r, NULL, NULL);
        purge_reply(p, r, 400,
                    "{\"error\":{\"code\":\"bad_target\",\"message\":\"not a URL "
                    "the cache keeps\"}}\n");
        purge_free(p);
        return;
    }
    p->queued = true;
    purge_maybe_finish(p);
}
