/*
 * meta_pg.c -- the PostgreSQL metadata backend, through libpq: several
 * origins share one database.
 *
 * The only module that includes <libpq-fe.h>. Every statement that
 * carries data is a parameterized PQexecParams() call in text format: no
 * value is ever spliced into SQL. The schema is created and migrated here
 * at open, under an advisory lock, recorded in schema_version.
 *
 * Connections: a small pool (meta_conf.pg_pool), each used by one thread
 * at a time; a connection found broken is reset on its next use. Writes
 * run in READ COMMITTED transactions that first lock the "event" row of
 * the counters table: writers are serialized across every origin, so
 * comment and event ids grow in commit order (cursors and edges' `after`
 * never skip a row that commits late) and batches cannot deadlock.
 *
 * Not here: argument checks (meta.c), HTTP (social_api.c).
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "meta_int.h"
#include "err.h"
#include "log.h"
#include "mem.h"
#include "compat.h"

#define MP_POOL_DEFAULT 4
#define MP_POOL_MAX 64
#define MP_NUM 24                  /* digits of an int64 and a sign, NUL included */
#define MP_LOCK_MIGRATE 0x63617363 /* advisory lock key: "casc" */
#define MP_TRIM_EVERY 64           /* trim the event log every this many ids */

struct mp {
    unsigned magic;
#define MP_MAGIC 0x6d70676fU
    char *conninfo; /* owned */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    PGconn **conns; /* owned array of n; NULL until first used */
    bool *busy;     /* owned array of n, under mu */
    unsigned n;
};

/* One checked-out connection. */
struct mp_conn {
    struct mp *p;
    unsigned i;
    PGconn *c;
};

static const char *const mp_schema_v1[] = {
    "CREATE TABLE users (id text PRIMARY KEY, name text NOT NULL, role smallint NOT NULL,"
    " created_ms bigint NOT NULL)",
    "CREATE TABLE comments (id bigserial PRIMARY KEY, target_kind text NOT NULL,"
    " target_id text NOT NULL, parent bigint NOT NULL, depth integer NOT NULL,"
    " author_id text NOT NULL REFERENCES users (id), author_name text NOT NULL,"
    " body text NOT NULL, created_ms bigint NOT NULL, deleted boolean NOT NULL DEFAULT false,"
    " replies integer NOT NULL DEFAULT 0)",
    "CREATE INDEX comments_thread ON comments (target_kind, target_id, parent, id)",
    "CREATE TABLE likes (target_kind text NOT NULL, target_id text NOT NULL,"
    " user_id text NOT NULL REFERENCES users (id), created_ms bigint NOT NULL,"
    " PRIMARY KEY (target_kind, target_id, user_id))",
    "CREATE TABLE like_counts (target_kind text NOT NULL, target_id text NOT NULL,"
    " count bigint NOT NULL, PRIMARY KEY (target_kind, target_id))",
    "CREATE TABLE reactions (target_kind text NOT NULL, target_id text NOT NULL,"
    " bucket_ms bigint NOT NULL, kind text NOT NULL, count bigint NOT NULL,"
    " PRIMARY KEY (target_kind, target_id, bucket_ms, kind))",
    "CREATE TABLE edge_batches (edge text PRIMARY KEY, seq bigint NOT NULL)",
    "CREATE TABLE events (id bigint PRIMARY KEY, type smallint NOT NULL,"
    " target_kind text NOT NULL, target_id text NOT NULL, ref bigint NOT NULL,"
    " value bigint NOT NULL, kind text NOT NULL, created_ms bigint NOT NULL)",
    "CREATE TABLE counters (name text PRIMARY KEY, value bigint NOT NULL)",
    "INSERT INTO counters (name, value) VALUES ('event', 0)",
};

static struct mp *
mp_of(struct meta *m)
{
    struct mp *p;

    CHECK_OBJ_NOTNULL(m, META_MAGIC);
    CAST_OBJ_NOTNULL(p, m->be, MP_MAGIC);
    return p;
}

/* ---- errors and statements ---- */

static int
mp_fail(PGconn *c, const PGresult *res, const char *what)
{
    const char *state = res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *msg = res != NULL ? PQresultErrorMessage(res) : PQerrorMessage(c);
    char clean[256];
    size_t i, j = 0;

    if (state != NULL && strcmp(state, "23505") == 0)
        return ERR_EXISTS; /* unique_violation */
    if (state != NULL && strcmp(state, "23503") == 0)
        return ERR_NOTFOUND; /* foreign_key_violation: no such user */
    for (i = 0; msg != NULL && msg[i] != '\0' && j + 1 < sizeof(clean); i++) {
        /* One log line with balanced quotes. */
        if (msg[i] != '"' && (unsigned char)msg[i] >= 0x20)
            clean[j++] = msg[i];
        else
            clean[j++] = ' ';
    }
    clean[j] = '\0';
    LOG(LOG_ERR, "meta", "pg_failed", "conn=0 backend=postgres op=%s sqlstate=%s msg=\"%s\"", what,
        state != NULL ? state : "-", clean);
    return ERR_STORE;
}

/*
 * Runs sql with n text parameters. 0 with *out set (free with PQclear) or
 * a mapped error with nothing to free. out may be NULL for statements
 * whose result does not matter.
 */
static int
mp_exec(struct mp_conn *mc, const char *what, const char *sql, int n, const char *const *params,
        PGresult **out)
{
    PGresult *res = NULL;
    ExecStatusType st;
    int rc;

    if (out != NULL)
        *out = NULL;
    res = PQexecParams(mc->c, sql, n, NULL, params, NULL, NULL, 0);
    st = PQresultStatus(res);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        rc = mp_fail(mc->c, res, what);
        PQclear(res);
        return rc;
    }
    if (out != NULL)
        *out = res;
    else
        PQclear(res);
    return 0;
}

static int
mp_simple(struct mp_conn *mc, const char *sql)
{
    return mp_exec(mc, sql, sql, 0, NULL, NULL);
}

static void
mp_num(char *buf, int64_t v)
{
    (void)snprintf(buf, MP_NUM, "%" PRId64, v);
}

/* A bigint column (the server only sends digits there); 0 for NULL or no such row. */
static int64_t
mp_int(const PGresult *res, int row, int col)
{
    if (row >= PQntuples(res) || col >= PQnfields(res) || PQgetisnull(res, row, col))
        return 0;
    return strtoll(PQgetvalue(res, row, col), NULL, 10);
}

/* ---- the pool ---- */

static int
mp_connect(struct mp *p, PGconn **pc)
{
    PGconn *c;
    PGresult *res = NULL;

    c = PQconnectdb(p->conninfo);
    if (c == NULL || PQstatus(c) != CONNECTION_OK) {
        (void)mp_fail(c, NULL, "connect");
        if (c != NULL)
            PQfinish(c);
        return ERR_STORE;
    }
    /* Quiet NOTICEs (IF NOT EXISTS) and bound every statement. */
    res = PQexec(c, "SET client_min_messages = warning; SET statement_timeout = '30s'");
    PQclear(res);
    *pc = c;
    return 0;
}

static int
mp_get(struct mp *p, struct mp_conn *mc)
{
    unsigned i;
    int rc = 0;

    AZ(pthread_mutex_lock(&p->mu));
    for (;;) {
        for (i = 0; i < p->n && p->busy[i]; i++)
            ;
        if (i < p->n)
            break;
        AZ(pthread_cond_wait(&p->cv, &p->mu));
    }
    p->busy[i] = true;
    AZ(pthread_mutex_unlock(&p->mu));
    mc->p = p;
    mc->i = i;
    if (p->conns[i] != NULL && PQstatus(p->conns[i]) != CONNECTION_OK) {
        LOG(LOG_WARN, "meta", "pg_reconnect", "conn=0 backend=postgres slot=%u", i);
        PQfinish(p->conns[i]);
        p->conns[i] = NULL;
    }
    if (p->conns[i] == NULL)
        rc = mp_connect(p, &p->conns[i]);
    mc->c = p->conns[i];
    if (rc != 0) {
        AZ(pthread_mutex_lock(&p->mu));
        p->busy[i] = false;
        AZ(pthread_cond_signal(&p->cv));
        AZ(pthread_mutex_unlock(&p->mu));
    }
    return rc;
}

static void
mp_put(struct mp_conn *mc)
{
    struct mp *p = mc->p;

    /* A connection left inside a transaction (an error path) is rolled back. */
    if (PQtransactionStatus(mc->c) != PQTRANS_IDLE)
        PQclear(PQexec(mc->c, "ROLLBACK"));
    AZ(pthread_mutex_lock(&p->mu));
    p->busy[mc->i] = false;
    AZ(pthread_cond_signal(&p->cv));
    AZ(pthread_mutex_unlock(&p->mu));
    mc->c = NULL;
}

/* BEGIN, and for a writer, the global write lock. */
static int
mp_begin(struct mp_conn *mc, bool write)
{
    int rc;

    rc = mp_simple(mc, "BEGIN");
    if (rc == 0 && write)
        rc = mp_simple(mc, "SELECT value FROM counters WHERE name = 'event' FOR UPDATE");
    return rc;
}

/* COMMIT when rc is 0, ROLLBACK otherwise; returns the result. */
static int
mp_end(struct mp_conn *mc, int rc)
{
    if (rc != 0) {
        PQclear(PQexec(mc->c, "ROLLBACK"));
        return rc;
    }
    return mp_simple(mc, "COMMIT");
}

/* ---- schema ---- */

static int
mp_version(struct mp_conn *mc, int *v)
{
    PGresult *res = NULL;
    int rc;

    rc = mp_exec(mc, "schema_version", "SELECT coalesce(max(version), 0) FROM schema_version", 0,
                 NULL, &res);
    if (rc != 0)
        return rc;
    *v = (int)mp_int(res, 0, 0);
    PQclear(res);
    return 0;
}

static int
mp_migrate(struct mp_conn *mc)
{
    const char *params[1];
    char lock[MP_NUM];
    size_t i;
    int rc, v = 0;

    mp_num(lock, MP_LOCK_MIGRATE);
    params[0] = lock;
    rc = mp_simple(mc, "BEGIN");
    /* Two origins starting together: one migrates, the other waits and sees it done. */
    if (rc == 0)
        rc = mp_exec(mc, "migrate_lock", "SELECT pg_advisory_xact_lock($1::bigint)", 1, params,
                     NULL);
    if (rc == 0)
        rc = mp_simple(mc, "CREATE TABLE IF NOT EXISTS schema_version (version integer NOT NULL,"
                           " applied_ms bigint NOT NULL)");
    if (rc == 0)
        rc = mp_version(mc, &v);
    if (rc == 0 && v > META_SCHEMA_VERSION) {
        LOG(LOG_ERR, "meta", "schema_too_new", "conn=0 backend=postgres have=%d know=%d", v,
            META_SCHEMA_VERSION);
        rc = ERR_STORE;
    }
    if (rc == 0 && v < 1) {
        for (i = 0; rc == 0 && i < ARRAY_SIZE(mp_schema_v1); i++)
            rc = mp_simple(mc, mp_schema_v1[i]);
        if (rc == 0)
            rc = mp_simple(mc, "INSERT INTO schema_version (version, applied_ms) VALUES"
                               " (1, (extract(epoch FROM now()) * 1000)::bigint)");
        if (rc == 0)
            LOG(LOG_INFO, "meta", "schema_migrated", "conn=0 backend=postgres from=%d to=1", v);
    }
    /* Later versions: `if (v < 2) { ... }`, each in this transaction. */
    return mp_end(mc, rc);
}

static void
mp_free(struct mp *p)
{
    unsigned i;

    for (i = 0; i < p->n; i++)
        if (p->conns[i] != NULL)
            PQfinish(p->conns[i]);
    xfree(p->conns);
    xfree(p->busy);
    xfree(p->conninfo);
    AZ(pthread_mutex_destroy(&p->mu));
    AZ(pthread_cond_destroy(&p->cv));
    FREE_OBJ(p);
}

static void
mp_close(struct meta *m)
{
    mp_free(mp_of(m));
    m->be = NULL;
}

static int
mp_schema_version(struct meta *m)
{
    struct mp_conn mc;
    int rc, v = 0;

    rc = mp_get(mp_of(m), &mc);
    if (rc != 0)
        return rc;
    rc = mp_version(&mc, &v);
    mp_put(&mc);
    return rc != 0 ? rc : v;
}

/* ---- events ---- */

static int
mp_event_append(struct meta *m, struct mp_conn *mc, const struct meta_event *e)
{
    char id[MP_NUM], type[MP_NUM], kind[2] = {e->target.kind, '\0'}, ref[MP_NUM], value[MP_NUM],
                                   created[MP_NUM], keep[MP_NUM];
    const char *params[8];
    PGresult *res = NULL;
    int64_t next;
    int rc;

    /* The counter row is ours already (mp_begin): ids follow commit order. */
    rc = mp_exec(mc, "event_id",
                 "UPDATE counters SET value = value + 1 WHERE name = 'event' RETURNING value", 0,
                 NULL, &res);
    if (rc != 0)
        return rc;
    next = mp_int(res, 0, 0);
    PQclear(res);
    if (next <= 0)
        return mp_fail(mc->c, NULL, "event_id"); /* the counters row is gone */
    mp_num(id, next);
    mp_num(type, e->type);
    mp_num(ref, (int64_t)e->ref);
    mp_num(value, (int64_t)e->value);
    mp_num(created, e->created_ms);
    params[0] = id;
    params[1] = type;
    params[2] = kind;
    params[3] = e->target.id;
    params[4] = ref;
    params[5] = value;
    params[6] = e->kind;
    params[7] = created;
    rc = mp_exec(mc, "event_append",
                 "INSERT INTO events (id, type, target_kind, target_id, ref, value, kind,"
                 " created_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                 8, params, NULL);
    if (rc == 0 && next % MP_TRIM_EVERY == 0) {
        mp_num(keep, next - (int64_t)m->events_keep);
        params[0] = keep;
        rc = mp_exec(mc, "event_trim", "DELETE FROM events WHERE id <= $1", 1, params, NULL);
    }
    return rc;
}

static int
mp_events_after(struct meta *m, uint64_t after, struct meta_event *out, size_t max, size_t *n,
                uint64_t *first, uint64_t *last)
{
    char a[MP_NUM], lim[MP_NUM];
    const char *params[2] = {a, lim};
    struct mp_conn mc;
    PGresult *res = NULL;
    int64_t kept;
    int rc, i;

    rc = mp_get(mp_of(m), &mc);
    if (rc != 0)
        return rc;
    /* One snapshot for the bounds and the rows. */
    rc = mp_simple(&mc, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    if (rc == 0)
        rc = mp_exec(&mc, "events_bounds",
                     "SELECT (SELECT value FROM counters WHERE name = 'event'),"
                     " coalesce((SELECT min(id) FROM events), 0)",
                     0, NULL, &res);
    if (rc == 0) {
        *last = (uint64_t)mp_int(res, 0, 0);
        kept = mp_int(res, 0, 1);
        *first = kept > 0 ? (uint64_t)kept : 0;
        PQclear(res);
        mp_num(a, (int64_t)after);
        mp_num(lim, (int64_t)max);
        rc = mp_exec(&mc, "events_after",
                     "SELECT id, type, target_kind, target_id, ref, value, kind, created_ms"
                     " FROM events WHERE id > $1 ORDER BY id LIMIT $2",
                     2, params, &res);
    }
    if (rc == 0) {
        for (i = 0; i < PQntuples(res); i++) {
            struct meta_event *e = &out[i];

            memset(e, 0, sizeof(*e));
            e->id = (uint64_t)mp_int(res, i, 0);
            e->type = (enum meta_event_type)mp_int(res, i, 1);
            e->target.kind = PQgetvalue(res, i, 2)[0];
            meta_strlcpy(e->target.id, PQgetvalue(res, i, 3), META_TARGET_ID_MAX);
            e->ref = (uint64_t)mp_int(res, i, 4);
            e->value = (uint64_t)mp_int(res, i, 5);
            meta_strlcpy(e->kind, PQgetvalue(res, i, 6), META_KIND_MAX);
            e->created_ms = mp_int(res, i, 7);
        }
        *n = (size_t)PQntuples(res);
        PQclear(res);
    }
    rc = mp_end(&mc, rc);
    mp_put(&mc);
    return rc;
}

/* ---- users ---- */

static int
mp_user_put(struct meta *m, const struct meta_user *u)
{
    char role[MP_NUM], created[MP_NUM];
    const char *params[4] = {u->id, u->name, role, created};
    struct mp_conn mc;
    PGresult *res = NULL;
    int rc;

    mp_num(role, u->role);
    mp_num(created, u->created_ms);
    rc = mp_get(mp_of(m), &mc);
    if (rc != 0)
        return rc;
    rc = mp_exec(&mc, "user_put",
                 "INSERT INTO users (id, name, role, created_ms) VALUES ($1, $2, $3, $4)"
                 " ON CONFLICT (id) DO NOTHING RETURNING id",
                 4, params, &res);
    if (rc == 0) {
        rc = PQntuples(res) == 1 ? 0 : ERR_EXISTS;
        PQclear(res);
    }
    mp_put(&mc);
    return rc;
}

static int
mp_user_get(struct meta *m, const char *id, struct meta_user *out)
{
    const char *params[1] = {id};
    struct mp_conn mc;
    PGresult *res = NULL;
    int rc;

    rc = mp_get(mp_of(m), &mc);
    if (rc != 0)
        return rc;
    rc = mp_exec(&mc, "user_get", "SELECT name, role, created_ms FROM users WHERE id = $1", 1,
                 params, &res);
    if (rc == 0) {
        if (PQntuples(res) == 1) {
            memset(out, 0, sizeof(*out));
            meta_strlcpy(out->id, id, META_USER_ID_LEN);
            meta_strlcpy(out->name, PQgetvalue(res, 0, 0), META_NAME_MAX);
            out->role = (enum meta_role)mp_int(res, 0, 1);
            out->created_ms = mp_int(res, 0, 2);
        } else {
            rc = ERR_NOTFOUND;
        }
        PQclear(res);
    }
    mp_put(&mc);
    return rc;
}

/* ---- comments ---- */

#define MP_COMMENT_COLS                                                                            \
    "id, parent, target_kind, target_id, author_id, author_name, body, created_ms, depth,"         \
    " replies, deleted"

static void
mp_comment_row(const PGresult *res, int row, struct meta_comment *c)
{
    memset(c, 0, sizeof(*c));
    c->id = (uint64_t)mp_int(res, row, 0);
    c->parent = (uint64_t)mp_int(res, row, 1);
    c->target.kind = PQgetvalue(res, row, 2)[0];
    meta_strlcpy(c->target.id, PQgetvalue(res, row, 3), META_TARGET_ID_MAX);
    meta_strlcpy(c->author_id, PQgetvalue(res, row, 4), META_USER_ID_LEN);
    meta_strlcpy(c->author_name, PQgetvalue(res, row, 5), META_NAME_MAX);
    meta_strlcpy(c->text, PQgetvalue(res, row, 6), META_TEXT_MAX);
    c->created_ms = mp_int(res, row, 7);
    c->depth = (uint32_t)mp_int(res, row, 8);
    c->replies = (uint32_t)mp_int(res, row, 9);
    c->deleted = PQgetvalue(res, row, 10)[0] == 't';
}

static int
mp_comment_add_txn(struct meta *m, struct mp_conn *mc, struct meta_comment *c)
{
    char kind[2] = {c->target.kind, '\0'}, parent[MP_NUM], depth[MP_NUM], created[MP_NUM];
    const char *params[7];
    struct meta_event e;
    PGresult *res = NULL;
    int rc;

    mp_num(parent, (int64_t)c->parent);
    if (c->parent != 0) {
        mp_num(depth, META_DEPTH_MAX);
        params[0] = parent;
        params[1] = kind;
        params[2] = c->target.id;
        params[3] = depth;
        rc = mp_exec(mc, "comment_parent",
                     "UPDATE comments SET replies = replies + 1 WHERE id = $1 AND"
                     " target_kind = $2 AND target_id = $3 AND depth < $4 RETURNING depth",
                     4, params, &res);
        if (rc != 0)
            return rc;
        if (PQntuples(res) != 1) {
            PQclear(res);
            /* Absent, on another target, or too deep: say which. */
            rc = mp_exec(mc, "comment_parent",
                         "SELECT depth FROM comments WHERE id = $1 AND target_kind = $2 AND"
                         " target_id = $3",
                         3, params, &res);
            if (rc != 0)
                return rc;
            rc = PQntuples(res) == 1 ? ERR_LIMIT : ERR_NOTFOUND;
            PQclear(res);
            return rc;
        }
        c->depth = (uint32_t)mp_int(res, 0, 0) + 1;
        PQclear(res);
    }
    mp_num(depth, c->depth);
    mp_num(created, c->created_ms);
    params[0] = kind;
    params[1] = c->target.id;
    params[2] = parent;
    params[3] = depth;
    params[4] = c->author_id;
    params[5] = c->text;
    params[6] = created;
    rc = mp_exec(mc, "comment_add",
                 "INSERT INTO comments (target_kind, target_id, parent, depth, author_id,"
                 " author_name, body, created_ms) SELECT $1, $2, $3, $4, id, name, $6, $7"
                 " FROM users WHERE id = $5 RETURNING id, author_name",
                 7, params, &res);
    if (rc != 0)
        return rc;
    if (PQntuples(res) != 1) {
        PQclear(res);
        return ERR_NOTFOUND; /* no such author */
    }
    c->id = (uint64_t)mp_int(res, 0, 0);
    meta_strlcpy(c->author_name, PQgetvalue(res, 0, 1), META_NAME_MAX);
    PQclear(res);
    meta_event_init(&e, META_EVENT_COMMENT, &c->target, c->id, 0, NULL, c->created_ms);
    return mp_event_append(m, mc, &e);
}

static int
mp_comment_add(struct meta *m, struct meta_comment *out)
{
    struct mp_conn mc;
    int rc;

    rc = mp_get(mp_of(m), &mc);
    if (rc != 0)
        return rc;
    rc = mp_begin(&mc, true);
    if (rc == 0)
        rc = mp_comment_add_txn(m, &mc, out);
    rc = mp_end(&mc, rc);
    mp_put(&mc);
    return rc;
}

static int
mp_comment_get(struct meta *m, uint64_t id, struct meta_comment *out)
{
    char idbuf[MP_NUM];
    const char *params[1] = {idbuf};
    struct mp_conn mc;
    PGresult *res = NULL;
    int rc;

    mp_num(idbuf, (int64_t)id);
    rc = mp_get(mp_of(m), &mc);
    if (rc != 0)
        return rc;
    rc = mp_exec(&mc, "comment_get", "SELECT " MP_COMMENT_COLS " FROM comments WHERE id = $1", 1,
                 params, &res);
    if (rc == 0) {
        if (PQntuples(res) == 1)
            mp_comment_row(res, 0, out);
        else
            rc = ERR_NOTFOUND;
        PQclear(res);
    }
    mp_put(&mc);
    return rc;
}

static int
mp_comment_list(struct meta *m, const struct meta_target *tg, uint64_t parent,
                enum meta_order order, uint64_t cursor, unsigned limit, struct meta_comment *items,
                unsigned *n, uint64_t *next)
{
    char kind[2] = {tg->kind, '\0'}, par[MP_NUM], cur[MP_NUM], lim[MP_NUM];
    const char *params[5] = {kind, tg->id, par, cur, lim};
    struct mp_conn mc;
    PGresult *res = NULL;
    int rc, i, rows;

    mp_num(par, (int64_t)parent);
    /* No cursor: from the very first (oldest) or the very last (newest). */
    mp_num(cur, cursor != 0 ? (int64_t)cursor : (order == META_ORDER_OLDEST ? 0 : INT64_MAX));
    mp_num(lim, (int64_t)limit + 1); /* one more says whether a next page exists */
    rc = mp_get(mp_of(m), &mc);
    if (rc != 0)
        return rc;
    if (order == META_ORDER_OLDEST)
        rc = mp_exec(&mc, "comment_list",
                     "SELECT " MP_COMMENT_COLS " FROM comments WHERE target_kind = $1 AND"
                     " target_id = $2 AND parent = $3 AND id > $4 ORDER BY id LIMIT $5",
                     5, params, &res);
    else
        rc = mp_exec(&mc, "comment_list",
                     "SELECT " MP_COMMENT_COLS " FROM comments WHERE target_kind = $1 AND"
                     " target_id = $2 AND parent = $3 AND id < $4 ORDER BY id DESC LIMIT $5",
                     5, params, &res);
    mp_put(&mc);
    if (rc != 0)
        return rc;
    rows = PQntuples(res);
    for (i = 0; i < rows && i < (int)limit; i++)
        mp_comment_row(res, i, &items[i]);
    *n = (unsigned)i;
    *next = rows > (int)limit ? items[limit - 1].id : 0;
    PQclear(res);
    return 0;
}

static int
mp_comment_delete(struct meta *m, uint64_t id, const char *by, bool moderator, int64_t now_ms)
{
    char idbuf[MP_NUM];
    const char *params[1] = {idbuf};
    struct meta_comment c;
    struct meta_event e;
    struct mp_conn mc;
    PGresult *res = NULL;
    int rc;

    mp_num(idbuf, (int64_t)id);
    rc = mp_get(mp_of(m), &mc);
    if (rc != 0)
        return rc;
    rc = mp_begin(&mc, true);
    if (rc == 0)
        rc = mp_exec(&mc, "comment_delete",
                     "SELECT " MP_COMMENT_COLS " FROM comments WHERE id = $1 FOR UPDATE", 1, params,
                     &res);
    if (rc == 0) {
        if (PQntuples(res) == 1)
            mp_comment_row(res, 0, &c);
        else
            rc = ERR_NOTFOUND;
        PQclear(res);
    }
    if (rc == 0 && !moderator && strcmp(c.author_id, by) != 0)
        rc = ERR_AUTH;
    if (rc == 0 && c.deleted) {
        (void)mp_end(&mc, ERR_EXISTS); /* nothing to write: roll back */
        mp_put(&mc);
        return 0;
    }
    if (rc == 0)
        rc =
            mp_exec(&mc, "comment_delete",
                    "UPDATE comments SET deleted = true, body = '' WHERE id = $1", 1, params, NULL);
    if (rc == 0) {
        meta_event_init(&e, META_EVENT_DELETED, &c.target, id, 0, NULL, now_ms);
        rc = mp_event_append(m, &mc, &e);
    }
    rc = mp_end(&mc, rc);
    mp_put(&mc);
    return rc;
}

/* ---- likes ---- */

static int
mp_like_count(struct mp_conn *mc, const char *const *params, uint64_t *count)
{
    PGresult *res = NULL;
    int rc;

    rc = mp_exec(mc, "like_count",
                 "SELECT count FROM like_counts WHERE target_kind = $1 AND target_id = $2", 2,
                 params, &res);
    if (rc != 0)
        return rc;
    *count = PQntuples(res) == 1 ? (uint64_t)mp_int(res, 0, 0) : 0;
    PQclear(res);
    return 0;
}

static int
mp_like_set(struct meta *m, const struct meta_target *tg, const char *user, bool like,
            int64_t now_ms, uint64_t *count)
{
    char kind[2] = {tg->kind, '\0'}, created[MP_NUM], delta[MP_NUM];
    const char *params[4] = {kind, tg->id, user, created};
    struct meta_event e;
    struct mp_conn mc;
    PGresult *res = NULL;
    bool changed = false;
    int rc;

    mp_num(created, now_ms);
    rc = mp_get(mp_of(m), &mc);
    if (rc != 0)
        return rc;
    rc = mp_begin(&mc, true);
    if (rc == 0 && like)
        rc = mp_exec(&mc, "like_set",
                     "INSERT INTO likes (target_kind, target_id, user_id, created_ms)"
                     " VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING RETURNING user_id",
                     4, params, &res);
    else if (rc == 0)
        rc = mp_exec(&mc, "like_set",
                     "DELETE FROM likes WHERE target_kind = $1 AND target_id = $2 AND"
                     " user_id = $3 RETURNING user_id",
                     3, params, &res);
    if (rc == 0) {
        changed = PQntuples(res) == 1;
        PQclear(res);
    }
    if (rc == 0 && !like && !changed) {
        /* Unliking what was not liked: the user must still exist. */
        params[0] = user;
        rc = mp_exec(&mc, "like_user", "SELECT 1 FROM users WHERE id = $1", 1, params, &res);
        if (rc == 0) {
            rc = PQntuples(res) == 1 ? 0 : ERR_NOTFOUND;
            PQclear(res);
        }
        params[0] = kind;
    }
    if (rc == 0 && changed) {
        mp_num(delta, like ? 1 : -1);
        params[2] = delta;
        rc = mp_exec(&mc, "like_count",
                     "INSERT INTO like_counts (target_kind, target_id, count) VALUES ($1, $2,"
                     " greatest($3::bigint, 0)) ON CONFLICT (target_kind, target_id) DO UPDATE"
                     " SET count = greatest(like_counts.count + $3::bigint, 0)",
                     3, params, NULL);
    }
    if (rc == 0)
        rc = mp_like_count(&mc, params, count);
    if (rc == 0 && changed) {
        meta_event_init(&e, META_EVENT_LIKES, tg, 0, *count, NULL, now_ms);
        rc = mp_event_append(m, &mc, &e);
    }
    rc = mp_end(&mc, rc);
    mp_put(&mc);
    return rc;
}

static int
mp_like_get(struct meta *m, const struct meta_target *tg, const char *user, uint64_t *count,
            bool *liked)
{
    char kind[2] = {tg->kind, '\0'};
    const char *params[3] = {kind, tg->id, user};
    struct mp_conn mc;
    PGresult *res = NULL;
    int rc;

    *liked = false;
    rc = mp_get(mp_of(m), &mc);
    if (rc != 0)
        return rc;
    rc = mp_like_count(&mc, params, count);
    if (rc == 0 && user != NULL) {
        rc = mp_exec(&mc, "like_get",
                     "SELECT 1 FROM likes WHERE target_kind = $1 AND target_id = $2 AND"
                     " user_id = $3",
                     3, params, &res);
        if (rc == 0) {
            *liked = PQntuples(res) == 1;
            PQclear(res);
        }
    }
    mp_put(&mc);
    return rc;
}

/* ---- reactions ---- */

static int
mp_reaction_one(struct meta *m, struct mp_conn *mc, const struct meta_delta *d, int64_t now_ms)
{
    char kind[2] = {d->target.kind, '\0'}, bucket[MP_NUM], count[MP_NUM];
    const char *params[5] = {kind, d->target.id, bucket, d->kind, count};
    struct meta_event e;
    PGresult *res = NULL;
    int rc;

    mp_num(bucket, d->bucket_ms);
    mp_num(count, d->count);
    rc = mp_exec(mc, "reaction_add",
                 "INSERT INTO reactions (target_kind, target_id, bucket_ms, kind, count)"
                 " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (target_kind, target_id, bucket_ms,"
                 " kind) DO UPDATE SET count = reactions.count + EXCLUDED.count RETURNING count",
                 5, params, &res);
    if (rc != 0)
        return rc;
    meta_event_init(&e, META_EVENT_REACTIONS, &d->target, (uint64_t)d->bucket_ms,
                    (uint64_t)mp_int(res, 0, 0), d->kind, now_ms);
    PQclear(res);
    return mp_event_append(m, mc, &e);
}

static int
mp_reaction_add(struct meta *m, const struct meta_delta *d, size_t n, const char *edge,
                uint64_t seq, int64_t now_ms, bool *dup)
{
    char seqbuf[MP_NUM];
    const char *params[2] = {edge, seqbuf};
    struct mp_conn mc;
    PGresult *res = NULL;
    size_t i;
    int rc;

    rc = mp_get(mp_of(m), &mc);
    if (rc != 0)
        return rc;
    rc = mp_begin(&mc, true);
    if (rc == 0 && edge != NULL) {
        mp_num(seqbuf, (int64_t)seq);
        rc = mp_exec(&mc, "edge_seq",
                     "INSERT INTO edge_batches (edge, seq) VALUES ($1, $2) ON CONFLICT (edge)"
                     " DO UPDATE SET seq = EXCLUDED.seq WHERE edge_batches.seq < EXCLUDED.seq"
                     " RETURNING seq",
                     2, params, &res);
        if (rc == 0) {
            *dup = PQntuples(res) == 0;
            PQclear(res);
        }
        if (rc == 0 && *dup) {
            (void)mp_end(&mc, ERR_EXISTS); /* a retry: roll back */
            mp_put(&mc);
            return 0;
        }
    }
    for (i = 0; rc == 0 && i < n; i++)
        rc = mp_reaction_one(m, &mc, &d[i], now_ms);
    rc = mp_end(&mc, rc);
    mp_put(&mc);
    return rc;
}

static int
mp_reaction_range(struct meta *m, const struct meta_target *tg, int64_t from_ms, int64_t to_ms,
                  struct meta_bucket *out, size_t max, size_t *n)
{
    char kind[2] = {tg->kind, '\0'}, from[MP_NUM], to[MP_NUM], lim[MP_NUM];
    const char *params[5] = {kind, tg->id, from, to, lim};
    struct mp_conn mc;
    PGresult *res = NULL;
    int rc, i, rows;

    mp_num(from, from_ms);
    mp_num(to, to_ms);
    mp_num(lim, (int64_t)max + 1);
    rc = mp_get(mp_of(m), &mc);
    if (rc != 0)
        return rc;
    /* COLLATE "C": kinds sort by bytes, as in the lmdb backend. */
    rc = mp_exec(&mc, "reaction_range",
                 "SELECT bucket_ms, kind, count FROM reactions WHERE target_kind = $1 AND"
                 " target_id = $2 AND bucket_ms >= $3 AND bucket_ms < $4 AND count > 0"
                 " ORDER BY bucket_ms, kind COLLATE \"C\" LIMIT $5",
                 5, params, &res);
    mp_put(&mc);
    if (rc != 0)
        return rc;
    rows = PQntuples(res);
    if (rows > (int)max) {
        PQclear(res);
        return ERR_LIMIT;
    }
    for (i = 0; i < rows; i++) {
        out[i].bucket_ms = mp_int(res, i, 0);
        meta_strlcpy(out[i].kind, PQgetvalue(res, i, 1), META_KIND_MAX);
        out[i].count = (uint64_t)mp_int(res, i, 2);
    }
    *n = (size_t)rows;
    PQclear(res);
    return 0;
}

static const struct meta_ops mp_ops = {
    .name = "postgres",
    .close = mp_close,
    .schema_version = mp_schema_version,
    .user_put = mp_user_put,
    .user_get = mp_user_get,
    .comment_add = mp_comment_add,
    .comment_get = mp_comment_get,
    .comment_list = mp_comment_list,
    .comment_delete = mp_comment_delete,
    .like_set = mp_like_set,
    .like_get = mp_like_get,
    .reaction_add = mp_reaction_add,
    .reaction_range = mp_reaction_range,
    .events_after = mp_events_after,
};

int
meta_pg_open(struct meta *m, const struct meta_conf *c)
{
    struct mp_conn mc;
    struct mp *p;
    int rc;

    if (c->pg_conninfo == NULL || c->pg_conninfo[0] == '\0')
        return ERR_CONF;
    if (PQisthreadsafe() == 0) {
        LOG(LOG_ERR, "meta", "pg_not_threadsafe", "conn=0 backend=postgres");
        return ERR_CONF;
    }
    p = xcalloc(1, sizeof(*p));
    p->magic = MP_MAGIC;
    p->conninfo = xstrdup(c->pg_conninfo);
    p->n = c->pg_pool != 0 ? c->pg_pool : MP_POOL_DEFAULT;
    if (p->n > MP_POOL_MAX)
        p->n = MP_POOL_MAX;
    p->conns = xcalloc(p->n, sizeof(PGconn *));
    p->busy = xcalloc(p->n, sizeof(*p->busy));
    AZ(pthread_mutex_init(&p->mu, NULL));
    AZ(pthread_cond_init(&p->cv, NULL));
    rc = mp_get(p, &mc);
    if (rc == 0) {
        rc = mp_migrate(&mc);
        mp_put(&mc);
    }
    if (rc != 0) {
        LOG(LOG_ERR, "meta", "open_failed", "conn=0 backend=postgres err=%s", err_name(rc));
        mp_free(p);
        return rc;
    }
    m->be = p;
    m->ops = &mp_ops;
    return 0;
}
