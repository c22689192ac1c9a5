/*
 * test_meta.c -- the metadata store, one suite run against both backends:
 * users, comments and threaded replies, cursor pages (also under
 * concurrent inserts), soft delete, likes, reactions in media-time
 * buckets and edge batches, the event log, reopening and the schema.
 *
 * The lmdb group runs in a temp dir. The postgres group starts Debian's
 * server in a temp dir on a free port (tests/pg_tmp.sh) and is skipped
 * only when the server binaries are not installed; the API scenario test
 * (tests/scenario/test_social_api.py) fails in that case instead.
 */
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "unit.h"
#include "err.h"
#include "log.h"
#include "../../origin/meta.c"
#include "../../origin/meta_lmdb.c"
#include "../../origin/meta_pg.c"

struct t_env {
    enum meta_backend backend;
    char dir[256];      /* lmdb: the store; postgres: the server's */
    char conninfo[256]; /* postgres */
    unsigned reopens;   /* lmdb: each extra store gets a fresh dir */
    struct meta *m;
};

static struct t_env t_lmdb = {.backend = META_BACKEND_LMDB};
static struct t_env t_pg = {.backend = META_BACKEND_POSTGRES};

static int
t_open(struct t_env *e, uint64_t events_keep, struct meta **pm)
{
    struct meta_conf c;
    char dir[300];

    memset(&c, 0, sizeof(c));
    c.backend = e->backend;
    c.events_keep = events_keep;
    c.map_size = 64ull << 20;
    c.pg_conninfo = e->conninfo;
    c.pg_pool = 4;
    if (e->backend == META_BACKEND_LMDB) {
        /* The first store lives in dir/meta; later ones (other settings) beside it. */
        (void)snprintf(dir, sizeof(dir), "%s/meta%u", e->dir, events_keep == 0 ? 0 : ++e->reopens);
        c.dir = dir;
    }
    return meta_open(&c, pm);
}

static unsigned
t_free_port(void)
{
    struct sockaddr_in sa;
    socklen_t len = sizeof(sa);
    int fd;

    fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(0, bind(fd, (struct sockaddr *)&sa, sizeof(sa)));
    assert_int_equal(0, getsockname(fd, (struct sockaddr *)&sa, &len));
    (void)close(fd);
    return ntohs(sa.sin_port);
}

static int
t_setup_lmdb(void **state)
{
    (void)snprintf(t_lmdb.dir, sizeof(t_lmdb.dir), "/tmp/cascade-meta-XXXXXX");
    if (mkdtemp(t_lmdb.dir) == NULL)
        return -1;
    if (t_open(&t_lmdb, 0, &t_lmdb.m) != 0)
        return -1;
    *state = &t_lmdb;
    return 0;
}

static const char *
t_script(void)
{
    static char path[512];
    const char *src = getenv("CASCADE_SOURCE_DIR");

    (void)snprintf(path, sizeof(path), "%s/tests/pg_tmp.sh", src != NULL ? src : "../..");
    return path;
}

static int
t_setup_pg(void **state)
{
    char cmd[1024];
    FILE *f;
    int st;

    (void)snprintf(t_pg.dir, sizeof(t_pg.dir), "/tmp/cascade-pg-XXXXXX");
    if (mkdtemp(t_pg.dir) == NULL)
        return -1;
    (void)snprintf(cmd, sizeof(cmd), "sh '%s' start '%s' %u", t_script(), t_pg.dir, t_free_port());
    f = popen(cmd, "r");
    if (f == NULL)
        return -1;
    if (fgets(t_pg.conninfo, sizeof(t_pg.conninfo), f) == NULL)
        t_pg.conninfo[0] = '\0';
    st = pclose(f);
    if (WIFEXITED(st) && WEXITSTATUS(st) == 77) {
        /* Not installed: skip here; the scenario test fails instead. */
        print_message("postgres server binaries missing: group skipped\n");
        t_pg.m = NULL;
        *state = &t_pg;
        return 0;
    }
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0 || t_pg.conninfo[0] == '\0') {
        print_message("pg_tmp.sh start failed (status %d)\n", st);
        return -1;
    }
    t_pg.conninfo[strcspn(t_pg.conninfo, "\n")] = '\0';
    if (t_open(&t_pg, 0, &t_pg.m) != 0)
        return -1;
    *state = &t_pg;
    return 0;
}

static int
t_teardown(void **state)
{
    struct t_env *e = *state;
    char cmd[1024];

    if (e == NULL)
        return 0;
    meta_close(&e->m);
    if (e->backend == META_BACKEND_POSTGRES) {
        (void)snprintf(cmd, sizeof(cmd), "sh '%s' stop '%s'", t_script(), e->dir);
        if (system(cmd) != 0)
            return -1;
    }
    unit_rm_rf(e->dir);
    return 0;
}

/* The store of this group, or a skip when the backend is not there. */
static struct meta *
t_meta(void **state)
{
    struct t_env *e = *state;

    if (e->m == NULL)
        skip();
    return e->m;
}

static struct meta_target
t_target(char kind, const char *id)
{
    struct meta_target t;

    memset(&t, 0, sizeof(t));
    t.kind = kind;
    meta_strlcpy(t.id, id, META_TARGET_ID_MAX);
    return t;
}

static void
t_user(struct meta *m, const char *name, enum meta_role role, struct meta_user *u)
{
    assert_int_equal(0, meta_user_create(m, name, role, 1000, u));
}

/* ---- tests ---- */

static void
test_meta_schema(void **state)
{
    struct meta *m = t_meta(state), *again = NULL;
    struct t_env *e = *state;
    int64_t live = mem_live();

    assert_int_equal(META_SCHEMA_VERSION, meta_schema_version(m));
    if (e->backend == META_BACKEND_POSTGRES) {
        /* A second origin on the same database: no migration, same version. */
        assert_int_equal(0, t_open(e, 0, &again));
        assert_string_equal("postgres", meta_backend_name(again));
        assert_int_equal(META_SCHEMA_VERSION, meta_schema_version(again));
        meta_close(&again);
    } else {
        assert_string_equal("lmdb", meta_backend_name(m));
    }
    UNIT_END(live);
}

static void
test_meta_users(void **state)
{
    struct meta *m = t_meta(state);
    int64_t live = mem_live();
    struct meta_user a, b, got;
    char longname[META_NAME_MAX + 2];

    t_user(m, "Ann", META_ROLE_USER, &a);
    t_user(m, "Ann", META_ROLE_MODERATOR, &b);
    assert_true(meta_user_id_ok(a.id, strlen(a.id)));
    assert_string_not_equal(a.id, b.id);
    assert_int_equal(0, meta_user_get(m, b.id, &got));
    assert_string_equal("Ann", got.name);
    assert_int_equal(META_ROLE_MODERATOR, got.role);
    assert_int_equal(1000, got.created_ms);
    /* UTF-8 names round-trip; controls, bad UTF-8 and long names do not get in. */
    t_user(m, "Zo\xc3\xab \xf0\x9f\x8e\xac", META_ROLE_USER, &a);
    assert_int_equal(0, meta_user_get(m, a.id, &got));
    assert_string_equal("Zo\xc3\xab \xf0\x9f\x8e\xac", got.name);
    assert_int_equal(ERR_INVAL, meta_user_create(m, "", META_ROLE_USER, 1, &got));
    assert_int_equal(ERR_INVAL, meta_user_create(m, "a\nb", META_ROLE_USER, 1, &got));
    assert_int_equal(ERR_INVAL, meta_user_create(m, "\xc0\xaf", META_ROLE_USER, 1, &got));
    assert_int_equal(ERR_INVAL, meta_user_create(m, "\xed\xa0\x80", META_ROLE_USER, 1, &got));
    memset(longname, 'x', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    assert_int_equal(ERR_INVAL, meta_user_create(m, longname, META_ROLE_USER, 1, &got));
    longname[META_NAME_MAX] = '\0';
    assert_int_equal(0, meta_user_create(m, longname, META_ROLE_USER, 1, &got));
    /* Unknown and malformed ids; SQL in an id is just a wrong id. */
    assert_int_equal(ERR_NOTFOUND, meta_user_get(m, "0000000000000000", &got));
    assert_int_equal(ERR_NOTFOUND, meta_user_get(m, "' OR '1'='1", &got));
    assert_int_equal(ERR_NOTFOUND, meta_user_get(m, "", &got));
    UNIT_END(live);
}

static void
test_meta_comments(void **state)
{
    struct meta *m = t_meta(state);
    int64_t live = mem_live();
    struct meta_target s = t_target('s', "comments"), v = t_target('v', "comments");
    struct meta_comment c1, c2, r1, rr, got, *page;
    struct meta_user u;
    uint64_t next;
    unsigned n;

    page = xcalloc(META_PAGE_MAX, sizeof(*page));
    t_user(m, "Bo", META_ROLE_USER, &u);
    assert_int_equal(0, meta_comment_add(m, &s, 0, u.id, "first", 10, &c1));
    assert_int_equal(0, meta_comment_add(m, &s, 0, u.id, "second\nline", 20, &c2));
    assert_true(c2.id > c1.id);
    assert_string_equal("Bo", c1.author_name);
    assert_int_equal(0, c1.depth);
    /* Replies, and replies to replies. */
    assert_int_equal(0, meta_comment_add(m, &s, c1.id, u.id, "re", 30, &r1));
    assert_int_equal(1, r1.depth);
    assert_int_equal(c1.id, r1.parent);
    assert_int_equal(0, meta_comment_add(m, &s, r1.id, u.id, "re re", 40, &rr));
    assert_int_equal(2, rr.depth);
    assert_int_equal(0, meta_comment_get(m, c1.id, &got));
    assert_int_equal(1, got.replies);
    assert_string_equal("first", got.text);
    assert_int_equal('s', got.target.kind);
    assert_string_equal("comments", got.target.id);
    assert_int_equal(10, got.created_ms);

    /* The top level holds c1 and c2, not the replies; a video of the same name is apart. */
    assert_int_equal(0, meta_comment_list(m, &s, 0, META_ORDER_NEWEST, 0, 10, page, &n, &next));
    assert_int_equal(2, n);
    assert_int_equal(0, next);
    assert_int_equal(c2.id, page[0].id);
    assert_int_equal(c1.id, page[1].id);
    assert_string_equal("second\nline", page[0].text);
    assert_int_equal(0, meta_comment_list(m, &s, 0, META_ORDER_OLDEST, 0, 10, page, &n, &next));
    assert_int_equal(c1.id, page[0].id);
    assert_int_equal(0, meta_comment_list(m, &s, c1.id, META_ORDER_OLDEST, 0, 10, page, &n, &next));
    assert_int_equal(1, n);
    assert_int_equal(r1.id, page[0].id);
    assert_int_equal(0, meta_comment_list(m, &v, 0, META_ORDER_NEWEST, 0, 10, page, &n, &next));
    assert_int_equal(0, n);

    /* A parent must exist on the same target. */
    assert_int_equal(ERR_NOTFOUND, meta_comment_add(m, &v, c1.id, u.id, "x", 1, &got));
    assert_int_equal(ERR_NOTFOUND, meta_comment_add(m, &s, 999999999, u.id, "x", 1, &got));
    assert_int_equal(ERR_NOTFOUND, meta_comment_add(m, &s, 0, "0000000000000000", "x", 1, &got));
    assert_int_equal(ERR_NOTFOUND, meta_comment_get(m, 999999999, &got));
    assert_int_equal(ERR_NOTFOUND, meta_comment_get(m, 0, &got));
    /* Bad text and targets. */
    assert_int_equal(ERR_INVAL, meta_comment_add(m, &s, 0, u.id, "", 1, &got));
    assert_int_equal(ERR_INVAL, meta_comment_add(m, &s, 0, u.id, "\x01", 1, &got));
    assert_int_equal(ERR_INVAL, meta_comment_add(m, &s, 0, u.id, "\xff", 1, &got));
    got.target = t_target('s', "a/b");
    assert_int_equal(ERR_INVAL, meta_comment_add(m, &got.target, 0, u.id, "x", 1, &got));
    got.target = t_target('x', "a");
    assert_int_equal(ERR_INVAL, meta_comment_add(m, &got.target, 0, u.id, "x", 1, &got));
    assert_int_equal(ERR_INVAL,
                     meta_comment_list(m, &s, 0, META_ORDER_NEWEST, 0, 0, page, &n, &next));
    assert_int_equal(ERR_INVAL, meta_comment_list(m, &s, 0, META_ORDER_NEWEST, 0, META_PAGE_MAX + 1,
                                                  page, &n, &next));
    /* Text that looks like SQL or JSON is stored as it is. */
    assert_int_equal(0,
                     meta_comment_add(m, &v, 0, u.id, "'); DROP TABLE comments; --\"}", 5, &got));
    assert_int_equal(0, meta_comment_get(m, got.id, &got));
    assert_string_equal("'); DROP TABLE comments; --\"}", got.text);
    xfree(page);
    UNIT_END(live);
}

static void
test_meta_depth(void **state)
{
    struct meta *m = t_meta(state);
    int64_t live = mem_live();
    struct meta_target s = t_target('v', "deep");
    struct meta_comment c;
    struct meta_user u;
    uint64_t parent = 0;
    int i;

    t_user(m, "Deep", META_ROLE_USER, &u);
    for (i = 0; i <= META_DEPTH_MAX; i++) {
        assert_int_equal(0, meta_comment_add(m, &s, parent, u.id, "down", i, &c));
        assert_int_equal(i, c.depth);
        parent = c.id;
    }
    assert_int_equal(ERR_LIMIT, meta_comment_add(m, &s, parent, u.id, "too deep", 99, &c));
    UNIT_END(live);
}

static void
test_meta_pages(void **state)
{
    struct meta *m = t_meta(state);
    int64_t live = mem_live();
    struct meta_target s = t_target('s', "pages");
    struct meta_comment c, *page;
    struct meta_user u;
    uint64_t ids[25], next, cursor;
    unsigned n, seen, i;

    page = xcalloc(META_PAGE_MAX, sizeof(*page));
    t_user(m, "Pager", META_ROLE_USER, &u);
    for (i = 0; i < ARRAY_SIZE(ids); i++) {
        assert_int_equal(0, meta_comment_add(m, &s, 0, u.id, "p", i, &c));
        ids[i] = c.id;
    }
    /* Oldest first, 10 at a time: 10, 10, 5. */
    for (cursor = 0, seen = 0;;) {
        assert_int_equal(
            0, meta_comment_list(m, &s, 0, META_ORDER_OLDEST, cursor, 10, page, &n, &next));
        for (i = 0; i < n; i++)
            assert_int_equal(ids[seen + i], page[i].id);
        seen += n;
        if (next == 0)
            break;
        assert_int_equal(10, n);
        cursor = next;
    }
    assert_int_equal(25, seen);
    /* Newest first. An exact multiple of the page ends without an empty page. */
    for (cursor = 0, seen = 0;;) {
        assert_int_equal(
            0, meta_comment_list(m, &s, 0, META_ORDER_NEWEST, cursor, 5, page, &n, &next));
        for (i = 0; i < n; i++)
            assert_int_equal(ids[24 - seen - i], page[i].id);
        seen += n;
        assert_int_equal(5, n);
        if (next == 0)
            break;
        cursor = next;
    }
    assert_int_equal(25, seen);
    /* A cursor from elsewhere pages from where it points. */
    assert_int_equal(0,
                     meta_comment_list(m, &s, 0, META_ORDER_NEWEST, ids[3], 10, page, &n, &next));
    assert_int_equal(3, n);
    assert_int_equal(ids[2], page[0].id);
    xfree(page);
    UNIT_END(live);
}

struct t_writer {
    struct meta *m;
    struct meta_target t;
    char user[META_USER_ID_LEN + 1];
    int n;
};

static void *
t_writer_main(void *arg)
{
    struct t_writer *w = arg;
    struct meta_comment c;
    int i;

    for (i = 0; i < w->n; i++)
        if (meta_comment_add(w->m, &w->t, 0, w->user, "concurrent", i, &c) != 0)
            return (void *)1;
    return NULL;
}

static void
test_meta_pages_concurrent(void **state)
{
    struct meta *m = t_meta(state);
    int64_t live = mem_live();
    struct meta_target s = t_target('s', "busy");
    struct t_writer w[3];
    pthread_t th[3];
    struct meta_comment c, *page;
    struct meta_user u;
    uint64_t first[20], cursor, next, prev;
    unsigned n, i, seen = 0, k;
    void *ret;

    page = xcalloc(META_PAGE_MAX, sizeof(*page));
    t_user(m, "Busy", META_ROLE_USER, &u);
    for (i = 0; i < ARRAY_SIZE(first); i++) {
        assert_int_equal(0, meta_comment_add(m, &s, 0, u.id, "before", i, &c));
        first[i] = c.id;
    }
    for (i = 0; i < ARRAY_SIZE(w); i++) {
        w[i].m = m;
        w[i].t = s;
        memcpy(w[i].user, u.id, sizeof(w[i].user));
        w[i].n = 30;
        assert_int_equal(0, pthread_create(&th[i], NULL, t_writer_main, &w[i]));
    }
    /*
     * Newest first while others insert: pages never repeat or skip a comment
     * that existed when paging began, and ids only go down.
     */
    cursor = 0;
    prev = UINT64_MAX;
    for (;;) {
        assert_int_equal(
            0, meta_comment_list(m, &s, 0, META_ORDER_NEWEST, cursor, 3, page, &n, &next));
        for (i = 0; i < n; i++) {
            assert_true(page[i].id < prev);
            prev = page[i].id;
            for (k = 0; k < ARRAY_SIZE(first); k++)
                if (first[k] == page[i].id)
                    seen++;
        }
        if (next == 0)
            break;
        cursor = next;
    }
    assert_int_equal(ARRAY_SIZE(first), seen);
    for (i = 0; i < ARRAY_SIZE(w); i++) {
        assert_int_equal(0, pthread_join(th[i], &ret));
        assert_null(ret);
    }
    /* Oldest first afterwards sees every comment once, in id order. */
    cursor = 0;
    prev = 0;
    seen = 0;
    do {
        assert_int_equal(
            0, meta_comment_list(m, &s, 0, META_ORDER_OLDEST, cursor, 7, page, &n, &next));
        for (i = 0; i < n; i++) {
            assert_true(page[i].id > prev);
            prev = page[i].id;
        }
        seen += n;
        cursor = next;
    } while (next != 0);
    assert_int_equal(ARRAY_SIZE(first) + 3 * 30, seen);
    xfree(page);
    UNIT_END(live);
}

static void
test_meta_delete(void **state)
{
    struct meta *m = t_meta(state);
    int64_t live = mem_live();
    struct meta_target s = t_target('v', "delete");
    struct meta_comment c, r, got;
    struct meta_user a, b, mod;

    t_user(m, "Author", META_ROLE_USER, &a);
    t_user(m, "Other", META_ROLE_USER, &b);
    t_user(m, "Mod", META_ROLE_MODERATOR, &mod);
    assert_int_equal(0, meta_comment_add(m, &s, 0, a.id, "mine", 1, &c));
    assert_int_equal(0, meta_comment_add(m, &s, c.id, b.id, "reply", 2, &r));
    /* Someone else may not; the author may, twice (idempotent). */
    assert_int_equal(ERR_AUTH, meta_comment_delete(m, c.id, b.id, false, 3));
    assert_int_equal(0, meta_comment_delete(m, c.id, a.id, false, 3));
    assert_int_equal(0, meta_comment_delete(m, c.id, a.id, false, 4));
    assert_int_equal(0, meta_comment_get(m, c.id, &got));
    assert_true(got.deleted);
    assert_string_equal("", got.text);
    assert_int_equal(1, got.replies);
    /* The thread stays: a deleted comment still takes replies. */
    assert_int_equal(0, meta_comment_add(m, &s, c.id, b.id, "still", 5, &got));
    /* A moderator may delete anyone's. */
    assert_int_equal(0, meta_comment_delete(m, r.id, mod.id, true, 6));
    assert_int_equal(0, meta_comment_get(m, r.id, &got));
    assert_true(got.deleted);
    assert_int_equal(ERR_NOTFOUND, meta_comment_delete(m, 999999999, a.id, false, 7));
    UNIT_END(live);
}

static void
test_meta_likes(void **state)
{
    struct meta *m = t_meta(state);
    int64_t live = mem_live();
    struct meta_target v = t_target('v', "liked"), w = t_target('v', "other");
    struct meta_user a, b;
    uint64_t count;
    bool liked;

    t_user(m, "A", META_ROLE_USER, &a);
    t_user(m, "B", META_ROLE_USER, &b);
    assert_int_equal(0, meta_like_get(m, &v, a.id, &count, &liked));
    assert_int_equal(0, count);
    assert_false(liked);
    assert_int_equal(0, meta_like_set(m, &v, a.id, true, 1, &count));
    assert_int_equal(1, count);
    assert_int_equal(0, meta_like_set(m, &v, a.id, true, 2, &count)); /* again: no change */
    assert_int_equal(1, count);
    assert_int_equal(0, meta_like_set(m, &v, b.id, true, 3, &count));
    assert_int_equal(2, count);
    assert_int_equal(0, meta_like_get(m, &v, a.id, &count, &liked));
    assert_int_equal(2, count);
    assert_true(liked);
    assert_int_equal(0, meta_like_get(m, &v, NULL, &count, &liked));
    assert_false(liked);
    assert_int_equal(0, meta_like_get(m, &w, a.id, &count, &liked));
    assert_int_equal(0, count);
    assert_false(liked);
    assert_int_equal(0, meta_like_set(m, &v, a.id, false, 4, &count));
    assert_int_equal(1, count);
    assert_int_equal(0, meta_like_set(m, &v, a.id, false, 5, &count)); /* again */
    assert_int_equal(1, count);
    assert_int_equal(0, meta_like_get(m, &v, a.id, &count, &liked));
    assert_false(liked);
    assert_int_equal(ERR_NOTFOUND, meta_like_set(m, &v, "0000000000000000", true, 6, &count));
    assert_int_equal(ERR_NOTFOUND, meta_like_set(m, &v, "0000000000000000", false, 6, &count));
    UNIT_END(live);
}

static struct meta_delta
t_delta(const char *stream, const char *kind, int64_t bucket, uint32_t count)
{
    struct meta_delta d;

    memset(&d, 0, sizeof(d));
    d.target = t_target('s', stream);
    meta_strlcpy(d.kind, kind, META_KIND_MAX);
    d.bucket_ms = bucket;
    d.count = count;
    return d;
}

static void
test_meta_reactions(void **state)
{
    struct meta *m = t_meta(state);
    int64_t live = mem_live();
    struct meta_target s = t_target('s', "react");
    struct meta_delta d[4];
    struct meta_bucket b[8];
    size_t n;
    bool dup;

    d[0] = t_delta("react", "like", 0, 2);
    d[1] = t_delta("react", "fire", 0, 1);
    d[2] = t_delta("react", "like", 1000, 5);
    d[3] = t_delta("react", "\xf0\x9f\x94\xa5", 5000, 1);
    assert_int_equal(0, meta_reaction_add(m, d, 4, NULL, 0, 1, &dup));
    assert_false(dup);
    assert_int_equal(0, meta_reaction_add(m, d, 1, NULL, 0, 1, &dup));
    assert_int_equal(0, meta_reaction_range(m, &s, 0, 10000, b, ARRAY_SIZE(b), &n));
    assert_int_equal(4, n);
    assert_int_equal(0, b[0].bucket_ms);
    assert_string_equal("fire", b[0].kind);
    assert_int_equal(1, b[0].count);
    assert_string_equal("like", b[1].kind);
    assert_int_equal(4, b[1].count);
    assert_int_equal(1000, b[2].bucket_ms);
    assert_int_equal(5, b[2].count);
    assert_int_equal(5000, b[3].bucket_ms);
    assert_string_equal("\xf0\x9f\x94\xa5", b[3].kind);
    /* [from, to): the bucket at `to` is out. */
    assert_int_equal(0, meta_reaction_range(m, &s, 1000, 5000, b, ARRAY_SIZE(b), &n));
    assert_int_equal(1, n);
    assert_int_equal(1000, b[0].bucket_ms);
    assert_int_equal(0, meta_reaction_range(m, &s, 1, 1000, b, ARRAY_SIZE(b), &n));
    assert_int_equal(0, n);
    assert_int_equal(ERR_LIMIT, meta_reaction_range(m, &s, 0, 10000, b, 3, &n));
    assert_int_equal(ERR_INVAL, meta_reaction_range(m, &s, 10, 5, b, 3, &n));

    /* Edge batches: a retried seq changes nothing. */
    d[0] = t_delta("react", "like", 9000, 10);
    assert_int_equal(0, meta_reaction_add(m, d, 1, "edge-1", 1, 2, &dup));
    assert_false(dup);
    assert_int_equal(0, meta_reaction_add(m, d, 1, "edge-1", 1, 2, &dup));
    assert_true(dup);
    assert_int_equal(0, meta_reaction_add(m, d, 1, "edge-2", 1, 2, &dup));
    assert_false(dup);
    assert_int_equal(0, meta_reaction_add(m, d, 1, "edge-1", 2, 2, &dup));
    assert_false(dup);
    assert_int_equal(0, meta_reaction_range(m, &s, 9000, 9001, b, ARRAY_SIZE(b), &n));
    assert_int_equal(1, n);
    assert_int_equal(30, b[0].count);

    /* A bad delta anywhere: nothing of the batch is applied. */
    d[0] = t_delta("react", "like", 20000, 1);
    d[1] = t_delta("react", "bad kind", 20000, 1);
    assert_int_equal(ERR_INVAL, meta_reaction_add(m, d, 2, NULL, 0, 3, &dup));
    d[1] = t_delta("react", "like", -1, 1);
    assert_int_equal(ERR_INVAL, meta_reaction_add(m, d, 2, NULL, 0, 3, &dup));
    d[1] = t_delta("react", "like", 1, 0);
    assert_int_equal(ERR_INVAL, meta_reaction_add(m, d, 2, NULL, 0, 3, &dup));
    d[1] = t_delta("react", "like", 1, META_DELTA_MAX + 1);
    assert_int_equal(ERR_INVAL, meta_reaction_add(m, d, 2, NULL, 0, 3, &dup));
    d[1] = t_delta("react", "like", 1, 1);
    d[1].target.kind = 'q';
    assert_int_equal(ERR_INVAL, meta_reaction_add(m, d, 2, NULL, 0, 3, &dup));
    assert_int_equal(ERR_INVAL, meta_reaction_add(m, d, 1, "bad edge", 1, 3, &dup));
    assert_int_equal(ERR_INVAL, meta_reaction_add(m, d, 1, "edge-1", 0, 3, &dup));
    assert_int_equal(ERR_INVAL, meta_reaction_add(m, d, 0, NULL, 0, 3, &dup));
    assert_int_equal(0, meta_reaction_range(m, &s, 20000, 20001, b, ARRAY_SIZE(b), &n));
    assert_int_equal(0, n);
    UNIT_END(live);
}

static void
test_meta_events(void **state)
{
    struct meta *m = t_meta(state);
    int64_t live = mem_live();
    struct meta_target v = t_target('v', "events");
    struct meta_event ev[8];
    struct meta_comment c;
    struct meta_delta d;
    struct meta_user u;
    uint64_t first, last, start, count;
    size_t n;
    bool dup;

    t_user(m, "Ev", META_ROLE_USER, &u);
    assert_int_equal(0, meta_events_after(m, 0, ev, 0, &n, &first, &last));
    start = last;
    assert_int_equal(0, meta_comment_add(m, &v, 0, u.id, "hello", 11, &c));
    assert_int_equal(0, meta_like_set(m, &v, u.id, true, 12, &count));
    assert_int_equal(0, meta_like_set(m, &v, u.id, true, 12, &count)); /* no change: no event */
    d = t_delta("events", "wow", 3000, 4);
    d.target.kind = 'v';
    assert_int_equal(0, meta_reaction_add(m, &d, 1, NULL, 0, 13, &dup));
    assert_int_equal(0, meta_comment_delete(m, c.id, u.id, false, 14));

    assert_int_equal(0, meta_events_after(m, start, ev, ARRAY_SIZE(ev), &n, &first, &last));
    assert_int_equal(4, n);
    assert_int_equal(start + 4, last);
    assert_true(first >= 1 && first <= start + 1);
    assert_int_equal(start + 1, ev[0].id);
    assert_int_equal(META_EVENT_COMMENT, ev[0].type);
    assert_int_equal(c.id, ev[0].ref);
    assert_int_equal('v', ev[0].target.kind);
    assert_string_equal("events", ev[0].target.id);
    assert_int_equal(11, ev[0].created_ms);
    assert_int_equal(META_EVENT_LIKES, ev[1].type);
    assert_int_equal(1, ev[1].value);
    assert_int_equal(META_EVENT_REACTIONS, ev[2].type);
    assert_int_equal(3000, ev[2].ref);
    assert_int_equal(4, ev[2].value);
    assert_string_equal("wow", ev[2].kind);
    assert_int_equal(META_EVENT_DELETED, ev[3].type);
    assert_int_equal(c.id, ev[3].ref);
    /* Paging through the log: max bounds a read. */
    assert_int_equal(0, meta_events_after(m, start + 1, ev, 2, &n, &first, &last));
    assert_int_equal(2, n);
    assert_int_equal(start + 2, ev[0].id);
    assert_int_equal(0, meta_events_after(m, last, ev, ARRAY_SIZE(ev), &n, &first, &last));
    assert_int_equal(0, n);
    UNIT_END(live);
}

/* Runs last in its group: it trims the event log the other tests read. */
static void
test_meta_events_trim(void **state)
{
    struct meta *m = t_meta(state), *small = NULL;
    struct t_env *e = *state;
    int64_t live = mem_live();
    struct meta_event ev[4];
    struct meta_delta d;
    uint64_t first, last;
    size_t n;
    bool dup;
    int i;

    (void)m;
    assert_int_equal(0, t_open(e, 10, &small));
    d = t_delta("trim", "like", 0, 1);
    for (i = 0; i < 200; i++)
        assert_int_equal(0, meta_reaction_add(small, &d, 1, NULL, 0, i, &dup));
    assert_int_equal(0, meta_events_after(small, 0, ev, ARRAY_SIZE(ev), &n, &first, &last));
    /* Kept: at least the last 10; trimmed in steps, never more than a step behind. */
    assert_true(first > 1);
    assert_true(last - first + 1 >= 10);
    assert_true(last - first + 1 <= 10 + MP_TRIM_EVERY);
    assert_int_equal(first, ev[0].id);
    meta_close(&small);
    UNIT_END(live);
}

static void
test_meta_reopen(void **state)
{
    struct t_env *e = *state;
    struct meta *m = t_meta(state);
    int64_t live = mem_live();
    struct meta_target s = t_target('s', "reopen");
    struct meta_comment c, got;
    struct meta_user u;

    t_user(m, "Again", META_ROLE_USER, &u);
    assert_int_equal(0, meta_comment_add(m, &s, 0, u.id, "kept", 1, &c));
    meta_close(&e->m);
    assert_int_equal(0, t_open(e, 0, &e->m));
    m = e->m;
    assert_int_equal(0, meta_comment_get(m, c.id, &got));
    assert_string_equal("kept", got.text);
    assert_int_equal(0, meta_user_get(m, u.id, &u));
    /* Ids go on growing after a reopen. */
    assert_int_equal(0, meta_comment_add(m, &s, 0, u.id, "more", 2, &got));
    assert_true(got.id > c.id);
    /* The reopened store holds what the first one did. */
    UNIT_END(live);
}

static void
test_meta_validate(void **state)
{
    int64_t live = mem_live();

    (void)state;
    assert_true(meta_target_id_ok("live_1.a-b", 10));
    assert_false(meta_target_id_ok("", 0));
    assert_false(meta_target_id_ok("..", 2));
    assert_false(meta_target_id_ok("a b", 3));
    assert_false(meta_target_id_ok("a%00", 4));
    assert_true(meta_utf8_ok("h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80", 15, false));
    assert_false(meta_utf8_ok("\xe2\x82", 2, false));         /* truncated */
    assert_false(meta_utf8_ok("\xf4\x90\x80\x80", 4, false)); /* above U+10FFFF */
    assert_false(meta_utf8_ok("\xe0\x80\xaf", 3, false));     /* overlong */
    assert_false(meta_utf8_ok("\xc2\x85", 2, false));         /* C1 control */
    assert_false(meta_utf8_ok("\x7f", 1, false));
    assert_false(meta_utf8_ok("a\nb", 3, false));
    assert_true(meta_utf8_ok("a\nb", 3, true));
    assert_false(meta_utf8_ok("a\rb", 3, true));
    assert_false(meta_utf8_ok("a\0b", 3, true));
    assert_true(meta_user_id_ok("0123456789abcdef", 16));
    assert_false(meta_user_id_ok("0123456789ABCDEF", 16));
    assert_false(meta_user_id_ok("0123456789abcde", 15));
    UNIT_END(live);
}

#define T_SUITE                                                                                    \
    cmocka_unit_test(test_meta_schema), cmocka_unit_test(test_meta_users),                         \
        cmocka_unit_test(test_meta_comments), cmocka_unit_test(test_meta_depth),                   \
        cmocka_unit_test(test_meta_pages), cmocka_unit_test(test_meta_pages_concurrent),           \
        cmocka_unit_test(test_meta_delete), cmocka_unit_test(test_meta_likes),                     \
        cmocka_unit_test(test_meta_reactions), cmocka_unit_test(test_meta_events),                 \
        cmocka_unit_test(test_meta_reopen), cmocka_unit_test(test_meta_events_trim)

int
main(void)
{
    const struct CMUnitTest pure[] = {cmocka_unit_test(test_meta_validate)};
    const struct CMUnitTest lmdb[] = {T_SUITE};
    const struct CMUnitTest pg[] = {T_SUITE};
    int fails = 0;

    log_set_level(LOG_WARN);
    fails += cmocka_run_group_tests_name("meta", pure, NULL, NULL);
    fails += cmocka_run_group_tests_name("meta.lmdb", lmdb, t_setup_lmdb, t_teardown);
    fails += cmocka_run_group_tests_name("meta.postgres", pg, t_setup_pg, t_teardown);
    return fails;
}
