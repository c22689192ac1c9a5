/*
 * test_vod_jobs.c -- the VOD job queue on LMDB: a claim leases the first
 * due job with a fresh lease id; renew, finish and fail need that id; an
 * expired lease re-queues the job (the attempt counts) with backoff; past
 * max_attempts the job fails; records survive a reopen.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"
#include "err.h"
#include "../../origin/vod_jobs.c"

static void
t_add(struct vod_db *db, const char *id)
{
    char key[64];
    json_t *j = json_object();

    (void)snprintf(key, sizeof(key), "j:%s", id);
    assert_int_equal(0, json_object_set_new(j, "id", json_string(id)));
    assert_int_equal(0, json_object_set_new(j, "state", json_string("queued")));
    assert_int_equal(0, vod_db_put(db, key, j));
    json_decref(j);
}

static const char *
t_str(json_t *j, const char *k)
{
    return json_string_value(json_object_get(j, k));
}

static void
test_vod_jobs_lease_cycle(void **state)
{
    int64_t live = mem_live();
    struct vod_queue_params qp = {1000, 2, 100};
    char dir[64], lease[40];
    struct vod_db *db = NULL;
    json_t *a, *b, *c, *res;

    (void)state;
    unit_tmpdir(dir, sizeof(dir), "vodjobs");
    assert_int_equal(0, vod_db_open(dir, 16 << 20, &db));
    t_add(db, "v.v00000");
    t_add(db, "v.v00001");

    /* Two claims take the two jobs in key order, each with its own lease. */
    assert_int_equal(0, vod_jobs_claim(db, &qp, "w1", 10000, &a));
    assert_int_equal(0, vod_jobs_claim(db, &qp, "w2", 10000, &b));
    assert_int_equal(ERR_NOTFOUND, vod_jobs_claim(db, &qp, "w3", 10000, &c));
    assert_string_equal("v.v00000", t_str(a, "id"));
    assert_string_equal("v.v00001", t_str(b, "id"));
    assert_string_not_equal(t_str(a, "lease"), t_str(b, "lease"));
    assert_int_equal(1, json_integer_value(json_object_get(a, "attempts")));

    /* Only the holder of the lease may act. */
    assert_int_equal(ERR_EXISTS, vod_jobs_renew(db, &qp, "j:v.v00000", "bogus", 10100));
    assert_int_equal(ERR_NOTFOUND, vod_jobs_renew(db, &qp, "j:v.nope", "x", 10100));
    assert_int_equal(0, vod_jobs_renew(db, &qp, "j:v.v00000", t_str(a, "lease"), 10500));
    res = json_object();
    assert_int_equal(0, vod_jobs_finish(db, "j:v.v00000", t_str(a, "lease"), res));
    assert_int_equal(ERR_EXISTS, vod_jobs_finish(db, "j:v.v00000", t_str(a, "lease"), res));
    json_decref(res);

    /* w2 vanishes: at 11000 its lease has run out; the job waits 100 ms, then w3 gets it. */
    (void)snprintf(lease, sizeof(lease), "%s", t_str(b, "lease"));
    assert_int_equal(1, vod_jobs_reap(db, &qp, 11000));
    assert_int_equal(ERR_NOTFOUND, vod_jobs_claim(db, &qp, "w3", 11050, &c));
    assert_int_equal(0, vod_jobs_claim(db, &qp, "w3", 11100, &c));
    assert_string_equal("v.v00001", t_str(c, "id"));
    assert_int_equal(2, json_integer_value(json_object_get(c, "attempts")));
    /* The dead worker's lease is no good any more. */
    assert_int_equal(ERR_EXISTS, vod_jobs_renew(db, &qp, "j:v.v00001", lease, 11200));
    /* A second failure is the last allowed: the job fails for good. */
    assert_int_equal(0, vod_jobs_fail(db, &qp, "j:v.v00001", t_str(c, "lease"), "bad", 11300));
    json_decref(c);
    assert_int_equal(ERR_NOTFOUND, vod_jobs_claim(db, &qp, "w3", 99999, &c));
    vod_db_close(&db);

    /* Reopened: the states are as left. */
    assert_int_equal(0, vod_db_open(dir, 16 << 20, &db));
    assert_int_equal(0, vod_db_get(db, "j:v.v00000", &c));
    assert_string_equal("done", t_str(c, "state"));
    json_decref(c);
    assert_int_equal(0, vod_db_get(db, "j:v.v00001", &c));
    assert_string_equal("failed", t_str(c, "state"));
    assert_string_equal("bad", t_str(c, "reason"));
    json_decref(c);
    vod_db_close(&db);
    json_decref(a);
    json_decref(b);
    unit_rm_rf(dir);
    UNIT_END(live);
}

/* The store registers its metrics (process-wide, never freed) on first open. */
static int
t_setup(void **state)
{
    char dir[64] = "/tmp/cascade-vodjobs-XXXXXX";
    struct vod_db *db = NULL;

    (void)state;
    if (mkdtemp(dir) == NULL || vod_db_open(dir, 16 << 20, &db) != 0)
        return -1;
    vod_db_close(&db);
    unit_rm_rf(dir);
    return 0;
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vod_jobs_lease_cycle),
    };

    return cmocka_run_group_tests(tests, t_setup, NULL);
}
