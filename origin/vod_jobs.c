/*
 * vod_jobs.c -- VOD records and the transcode job queue on the shared
 * key-value store (store.h: LMDB), as vod_jobs.h describes.
 *
 * Every operation is one transaction. A walk first copies the matching
 * records out (parsed JSON), then calls back and writes the changed ones,
 * so no cursor is open while the transaction writes.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "vod_jobs.h"
#include "err.h"
#include "log.h"
#include "mem.h"
#include "store.h"
#include "compat.h"

struct vod_db {
    unsigned magic;
#define VOD_DB_MAGIC 0x766f6462U
#define VOD_JOBS_KEY_MAX 160 /* "j:" + a job id */
    struct store *store;     /* owned */
    unsigned kv;
};

int
vod_db_open(const char *dir, uint64_t map_size, struct vod_db **out)
{
    struct store_conf sc;
    struct vod_db *db;
    int rc;

    db = xcalloc(1, sizeof(*db));
    db->magic = VOD_DB_MAGIC;
    store_conf_defaults(&sc);
    sc.dir = dir;
    sc.size = map_size;
    sc.sync = STORE_SYNC_FULL;
    sc.max_inflight_hits = 16;
    sc.evict_high_pct = 0;
    sc.evict_low_pct = 0;
    rc = store_open(&sc, &db->store);
    if (rc == 0)
        rc = store_kv_db(db->store, "vod", &db->kv);
    if (rc != 0) {
        LOG(LOG_ERR, "vod", "db_open_failed", "conn=0 dir=%s err=%s", dir, err_name(rc));
        if (db->store != NULL)
            store_close(&db->store);
        FREE_OBJ(db);
        return rc;
    }
    *out = db;
    return 0;
}

void
vod_db_close(struct vod_db **pdb)
{
    struct vod_db *db = *pdb;

    if (db == NULL)
        return;
    CHECK_OBJ(db, VOD_DB_MAGIC);
    store_close(&db->store);
    FREE_OBJ(db);
    *pdb = NULL;
}

static json_t *
vod_db_parse(const void *val, size_t len)
{
    return json_loadb(val, len, 0, NULL);
}

int
vod_db_get(struct vod_db *db, const char *key, json_t **out)
{
    struct store_txn *t = NULL;
    const void *val;
    size_t len;
    int rc;

    CHECK_OBJ_NOTNULL(db, VOD_DB_MAGIC);
    *out = NULL;
    rc = store_txn_begin(db->store, false, &t);
    if (rc != 0)
        return rc;
    rc = store_kv_get(t, db->kv, key, strlen(key), &val, &len);
    if (rc == 0) {
        *out = vod_db_parse(val, len);
        if (*out == NULL)
            rc = ERR_STORE;
    }
    store_txn_abort(&t);
    return rc;
}

static int
vod_db_put_txn(struct vod_db *db, struct store_txn *t, const char *key, json_t *v)
{
    char *s = json_dumps(v, JSON_COMPACT);
    int rc;

    if (s == NULL)
        return ERR_INVAL;
    rc = store_kv_put(t, db->kv, key, strlen(key), s, strlen(s), 0);
    free(s); /* jansson's allocator */
    return rc;
}

int
vod_db_put(struct vod_db *db, const char *key, json_t *v)
{
    struct store_txn *t = NULL;
    int rc;

    CHECK_OBJ_NOTNULL(db, VOD_DB_MAGIC);
    rc = store_txn_begin(db->store, true, &t);
    if (rc != 0)
        return rc;
    rc = vod_db_put_txn(db, t, key, v);
    if (rc != 0) {
        store_txn_abort(&t);
        return rc;
    }
    return store_txn_commit(&t);
}

struct vod_db_rec {
    char *key; /* owned */
    json_t *v; /* owned */
};

struct vod_db_walk {
    struct vod_db_rec *recs; /* owned */
    size_t n, cap;
};

static int
vod_db_collect(void *arg, const void *key, size_t key_len, const void *val, size_t val_len)
{
    struct vod_db_walk *w = arg;
    json_t *v = vod_db_parse(val, val_len);

    if (v == NULL)
        return 0; /* a record we cannot read is skipped */
    if (w->n == w->cap) {
        w->cap = w->cap ? 2 * w->cap : 64;
        w->recs = xrealloc(w->recs, w->cap * sizeof(*w->recs));
    }
    w->recs[w->n].key = xstrndup(key, key_len);
    w->recs[w->n].v = v;
    w->n++;
    return 0;
}

int
vod_db_each(struct vod_db *db, const char *prefix, bool write, vod_db_each_fn *fn, void *arg)
{
    struct vod_db_walk w = {NULL, 0, 0};
    struct store_txn *t = NULL;
    bool dirty = false;
    size_t i;
    int rc, r;

    CHECK_OBJ_NOTNULL(db, VOD_DB_MAGIC);
    rc = store_txn_begin(db->store, write, &t);
    if (rc != 0)
        return rc;
    rc = store_kv_iter(t, db->kv, prefix, strlen(prefix), NULL, 0, vod_db_collect, &w);
    for (i = 0; rc == 0 && i < w.n; i++) {
        r = fn(arg, w.recs[i].key, w.recs[i].v);
        if (write && (r & VOD_DB_WRITE)) {
            rc = vod_db_put_txn(db, t, w.recs[i].key, w.recs[i].v);
            dirty = true;
        }
        if (r & VOD_DB_STOP)
            break;
    }
    for (i = 0; i < w.n; i++) {
        xfree(w.recs[i].key);
        json_decref(w.recs[i].v);
    }
    xfree(w.recs);
    if (rc != 0 || !dirty) {
        store_txn_abort(&t);
        return rc;
    }
    return store_txn_commit(&t);
}

/* ---- the queue ---- */

static const char *
vod_jobs_str(json_t *j, const char *k)
{
    const char *s = json_string_value(json_object_get(j, k));

    return s != NULL ? s : "";
}

static uint64_t
vod_jobs_u64(json_t *j, const char *k)
{
    json_int_t v = json_integer_value(json_object_get(j, k));

    return v > 0 ? (uint64_t)v : 0;
}

static void
vod_jobs_set_str(json_t *j, const char *k, const char *v)
{
    AZ(json_object_set_new(j, k, json_string(v)));
}

static void
vod_jobs_set_u64(json_t *j, const char *k, uint64_t v)
{
    AZ(json_object_set_new(j, k, json_integer((json_int_t)v)));
}

static uint64_t
vod_jobs_backoff(const struct vod_queue_params *p, uint64_t attempts)
{
    uint64_t shift = attempts > 0 ? attempts - 1 : 0;

    if (shift > 4)
        shift = 4;
    return p->backoff_ms << shift;
}

/* A failed or expired attempt: back to the queue, or failed for good. */
static void
vod_jobs_attempt_failed(json_t *j, const struct vod_queue_params *p, const char *reason,
                        uint64_t now_ms)
{
    uint64_t attempts = vod_jobs_u64(j, "attempts");

    vod_jobs_set_str(j, "reason", reason);
    vod_jobs_set_str(j, "lease", "");
    if (attempts >= p->max_attempts) {
        vod_jobs_set_str(j, "state", "failed");
        return;
    }
    vod_jobs_set_str(j, "state", "queued");
    vod_jobs_set_u64(j, "not_before", now_ms + vod_jobs_backoff(p, attempts));
}

static bool
vod_jobs_expired(json_t *j, uint64_t now_ms)
{
    return strcmp(vod_jobs_str(j, "state"), "leased") == 0 &&
           vod_jobs_u64(j, "lease_until") <= now_ms;
}

struct vod_jobs_claim_arg {
    const struct vod_queue_params *p;
    const char *worker;
    uint64_t now;
    json_t *out;
    unsigned reaped;
    /* the pick: the longest due job of the first video that has one */
    char best[VOD_JOBS_KEY_MAX];
    char video[VOD_JOBS_KEY_MAX];
    uint64_t best_ms;
};

static bool
vod_jobs_due(json_t *j, uint64_t now_ms)
{
    return strcmp(vod_jobs_str(j, "state"), "queued") == 0 &&
           vod_jobs_u64(j, "not_before") <= now_ms;
}

/* Re-queues expired leases, and notes which job to lease. */
static int
vod_jobs_claim_fn(void *arg, const char *key, json_t *j)
{
    struct vod_jobs_claim_arg *a = arg;
    const char *video;
    uint64_t ms;
    int ret = 0;

    if (vod_jobs_expired(j, a->now)) {
        LOG(LOG_INFO, "vod", "lease_expired", "conn=0 job=%s worker=%s", key,
            vod_jobs_str(j, "worker"));
        vod_jobs_attempt_failed(j, a->p, "lease expired", a->now);
        a->reaped++;
        ret = VOD_DB_WRITE;
    }
    if (a->worker == NULL || !vod_jobs_due(j, a->now))
        return ret;
    video = vod_jobs_str(j, "video");
    ms = vod_jobs_u64(json_object_get(j, "spec"), "duration_ms");
    if (a->best[0] == '\0' || (strcmp(video, a->video) == 0 && ms > a->best_ms)) {
        (void)snprintf(a->best, sizeof(a->best), "%s", key);
        (void)snprintf(a->video, sizeof(a->video), "%s", video);
        a->best_ms = ms;
    }
    return ret;
}

/* Leases the picked job, if it is still due. */
static int
vod_jobs_lease_fn(void *arg, const char *key, json_t *j)
{
    struct vod_jobs_claim_arg *a = arg;
    char lease[17];
    uint64_t r;

    if (strcmp(key, a->best) != 0)
        return 0;
    if (!vod_jobs_due(j, a->now))
        return VOD_DB_STOP;
    if (getrandom(&r, sizeof(r), 0) != (ssize_t)sizeof(r))
        r = a->now * 2654435761u;
    (void)snprintf(lease, sizeof(lease), "%016" PRIx64, r);
    vod_jobs_set_str(j, "state", "leased");
    vod_jobs_set_str(j, "lease", lease);
    vod_jobs_set_str(j, "worker", a->worker);
    vod_jobs_set_u64(j, "lease_until", a->now + a->p->lease_ms);
    vod_jobs_set_u64(j, "attempts", vod_jobs_u64(j, "attempts") + 1);
    vod_jobs_set_u64(j, "started_ms", a->now);
    vod_jobs_set_str(j, "key", key);
    a->out = json_deep_copy(j);
    return VOD_DB_WRITE | VOD_DB_STOP;
}

int
vod_jobs_claim(struct vod_db *db, const struct vod_queue_params *p, const char *worker,
               uint64_t now_ms, json_t **job)
{
    struct vod_jobs_claim_arg a;
    int rc = 0;

    *job = NULL;
    /* Pick in one transaction, lease in a second that checks the pick is
     * still due; another claim in between (LMDB has one writer) makes
     * this one pick again. */
    for (int tries = 0; tries < 8 && rc == 0; tries++) {
        memset(&a, 0, sizeof(a));
        a.p = p;
        a.worker = worker;
        a.now = now_ms;
        rc = vod_db_each(db, "j:", true, vod_jobs_claim_fn, &a);
        if (rc != 0 || a.best[0] == '\0')
            break;
        rc = vod_db_each(db, a.best, true, vod_jobs_lease_fn, &a);
        if (a.out != NULL)
            break;
    }
    if (rc != 0) {
        json_decref(a.out);
        return rc;
    }
    if (a.out == NULL)
        return ERR_NOTFOUND;
    *job = a.out;
    return 0;
}

int
vod_jobs_reap(struct vod_db *db, const struct vod_queue_params *p, uint64_t now_ms)
{
    struct vod_jobs_claim_arg a;
    int rc;

    memset(&a, 0, sizeof(a));
    a.p = p;
    a.now = now_ms;
    rc = vod_db_each(db, "j:", true, vod_jobs_claim_fn, &a);
    return rc != 0 ? rc : (int)a.reaped;
}

enum vod_jobs_op { VOD_JOBS_RENEW, VOD_JOBS_FINISH, VOD_JOBS_FAIL };

struct vod_jobs_op_arg {
    enum vod_jobs_op op;
    const struct vod_queue_params *p;
    const char *key;
    const char *lease;
    const char *reason;
    json_t *result;
    uint64_t now;
    int rc;
};

static int
vod_jobs_op_fn(void *arg, const char *key, json_t *j)
{
    struct vod_jobs_op_arg *a = arg;

    if (strcmp(key, a->key) != 0)
        return 0;
    if (strcmp(vod_jobs_str(j, "state"), "leased") != 0 ||
        strcmp(vod_jobs_str(j, "lease"), a->lease) != 0) {
        a->rc = ERR_EXISTS;
        return VOD_DB_STOP;
    }
    a->rc = 0;
    switch (a->op) {
    case VOD_JOBS_RENEW:
        vod_jobs_set_u64(j, "lease_until", a->now + a->p->lease_ms);
        break;
    case VOD_JOBS_FINISH:
        vod_jobs_set_str(j, "state", "done");
        vod_jobs_set_str(j, "lease", "");
        AZ(json_object_set(j, "result", a->result));
        break;
    case VOD_JOBS_FAIL:
        vod_jobs_attempt_failed(j, a->p, a->reason, a->now);
        break;
    }
    return VOD_DB_WRITE | VOD_DB_STOP;
}

static int
vod_jobs_op(struct vod_db *db, struct vod_jobs_op_arg *a)
{
    int rc;

    a->rc = ERR_NOTFOUND;
    rc = vod_db_each(db, a->key, true, vod_jobs_op_fn, a);
    return rc != 0 ? rc : a->rc;
}

int
vod_jobs_renew(struct vod_db *db, const struct vod_queue_params *p, const char *key,
               const char *lease, uint64_t now_ms)
{
    struct vod_jobs_op_arg a = {VOD_JOBS_RENEW, p, key, lease, NULL, NULL, now_ms, 0};

    return vod_jobs_op(db, &a);
}

int
vod_jobs_finish(struct vod_db *db, const char *key, const char *lease, json_t *result)
{
    struct vod_jobs_op_arg a = {VOD_JOBS_FINISH, NULL, key, lease, NULL, result, 0, 0};

    return vod_jobs_op(db, &a);
}

int
vod_jobs_fail(struct vod_db *db, const struct vod_queue_params *p, const char *key,
              const char *lease, const char *reason, uint64_t now_ms)
{
    struct vod_jobs_op_arg a = {VOD_JOBS_FAIL, p, key, lease, reason, NULL, now_ms, 0};

    return vod_jobs_op(db, &a);
}
