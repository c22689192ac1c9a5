/*
 * test_fault.c -- fault points: counting, arming, the spec text, the
 * environment, and threads.
 *
 * main() sets CASCADE_FAULT before the first call into fault.c, so the
 * environment test sees it read once. The table-full test runs last
 * because it fills the table for good.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "unit.h"
#include "err.h"
#include "fault.h"
#include "compat.h"

static int
reset(void **state)
{
    (void)state;
    fault_reset();
    return 0;
}

static void
test_fault_env(void **state)
{
    int64_t live = mem_live();

    (void)state;
    /* CASCADE_FAULT="env.a=2,env.b=1+" was read on the first call (in main). */
    assert_false(fault_hit("env.a"));
    assert_true(fault_hit("env.a"));
    assert_false(fault_hit("env.a"));
    assert_true(fault_hit("env.b"));
    assert_true(fault_hit("env.b"));
    assert_int_equal(1, fault_fired("env.a"));
    assert_int_equal(2, fault_fired("env.b"));
    UNIT_END(live);
}

static void
test_fault_counts_unarmed(void **state)
{
    int64_t live = mem_live();
    int i;

    (void)state;
    assert_int_equal(0, fault_hits("c.never"));
    assert_int_equal(0, fault_fired("c.never"));
    for (i = 0; i < 5; i++)
        assert_false(fault_hit("c.plain"));
    assert_int_equal(5, fault_hits("c.plain"));
    assert_int_equal(0, fault_fired("c.plain"));
    UNIT_END(live);
}

static void
test_fault_nth(void **state)
{
    int64_t live = mem_live();

    (void)state;
    assert_int_equal(0, fault_arm("n.a", 3, false));
    assert_false(fault_hit("n.a"));
    assert_false(fault_hit("n.a"));
    assert_true(fault_hit("n.a"));
    assert_false(fault_hit("n.a"));
    assert_int_equal(4, fault_hits("n.a"));
    assert_int_equal(1, fault_fired("n.a"));

    /* nth counts from the arming, not from the first hit ever. */
    assert_int_equal(0, fault_arm("n.a", 1, false));
    assert_true(fault_hit("n.a"));
    assert_false(fault_hit("n.a"));
    assert_int_equal(6, fault_hits("n.a"));
    UNIT_END(live);
}

static void
test_fault_sticky(void **state)
{
    int64_t live = mem_live();
    int i;

    (void)state;
    assert_int_equal(0, fault_arm("s.a", 2, true));
    assert_false(fault_hit("s.a"));
    for (i = 0; i < 10; i++)
        assert_true(fault_hit("s.a"));
    assert_int_equal(10, fault_fired("s.a"));
    fault_disarm_all();
    assert_false(fault_hit("s.a"));
    assert_int_equal(12, fault_hits("s.a"));
    fault_reset();
    assert_int_equal(0, fault_hits("s.a"));
    assert_int_equal(0, fault_fired("s.a"));
    UNIT_END(live);
}

static void
test_fault_arm_invalid(void **state)
{
    int64_t live = mem_live();
    char longname[FAULT_NAME_MAX + 2];

    (void)state;
    assert_int_equal(ERR_INVAL, fault_arm("x.a", 0, false));
    assert_int_equal(ERR_INVAL, fault_arm("x a", 1, false));
    assert_int_equal(ERR_INVAL, fault_arm("", 1, false));
    memset(longname, 'l', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    assert_int_equal(ERR_INVAL, fault_arm(longname, 1, false));
    assert_int_equal(0, fault_hits(longname));
    longname[FAULT_NAME_MAX] = '\0'; /* exactly the maximum */
    assert_int_equal(0, fault_arm(longname, 1, false));
    assert_true(fault_hit(longname));
    UNIT_END(live);
}

static void
test_fault_spec(void **state)
{
    int64_t live = mem_live();

    (void)state;
    assert_int_equal(0, fault_arm_spec(""));
    assert_int_equal(0, fault_arm_spec("p.a=2,p.b=1+,P-c_9=1"));
    assert_false(fault_hit("p.a"));
    assert_true(fault_hit("p.a"));
    assert_true(fault_hit("p.b"));
    assert_true(fault_hit("p.b"));
    assert_true(fault_hit("P-c_9"));
    assert_false(fault_hit("P-c_9"));
    UNIT_END(live);
}

static void
test_fault_spec_invalid(void **state)
{
    static const char *const bad[] = {
        "a",
        "a=",
        "a=0",
        "a=1,",
        ",a=1",
        "a=1+x",
        "a b=1",
        "=1",
        "a=-1",
        "a=+1",
        "a=1++",
        "a=1,,b=2",
        "a = 1",
        "a=1 ",
        "a=x",
        "a=1;b=2",
        "a=99999999999999999999",
        "a=1152921504606846977",                              /* 2^60 + 1 */
        "abcdefghijabcdefghijabcdefghijabcdefghijabcdefgh=1", /* 48 chars */
    };
    int64_t live = mem_live();
    size_t i;

    (void)state;
    for (i = 0; i < ARRAY_SIZE(bad); i++) {
        if (fault_arm_spec(bad[i]) != ERR_INVAL)
            fail_msg("spec \"%s\" was accepted", bad[i]);
    }
    /* A bad spec arms nothing, even its good items. */
    assert_int_equal(ERR_INVAL, fault_arm_spec("q.good=1,bad"));
    assert_false(fault_hit("q.good"));
    assert_int_equal(0, fault_arm_spec("q.max=1152921504606846976")); /* 2^60 */
    UNIT_END(live);
}

static void
test_fault_macro(void **state)
{
    int64_t live = mem_live();
    bool failed;

    (void)state;
    assert_int_equal(0, fault_arm("m.x", 1, false));
    failed = FAULT("m.x");
#ifdef CASCADE_FAULTS
    assert_true(fault_enabled());
    assert_true(failed);
    assert_int_equal(1, fault_hits("m.x"));
#else
    assert_false(fault_enabled());
    assert_false(failed);
    assert_int_equal(0, fault_hits("m.x"));
#endif
    UNIT_END(live);
}

#define THREADS 4
#define THREAD_HITS 100000

static void *
thread_hitter(void *arg)
{
    int i, *fired = arg;

    for (i = 0; i < THREAD_HITS; i++)
        if (fault_hit("t.x"))
            (*fired)++;
    return NULL;
}

static void
test_fault_threads(void **state)
{
    int64_t live = mem_live();
    pthread_t th[THREADS];
    int fired[THREADS] = {0}, total = 0, i;

    (void)state;
    assert_int_equal(0, fault_arm("t.x", 12345, false));
    for (i = 0; i < THREADS; i++)
        assert_int_equal(0, pthread_create(&th[i], NULL, thread_hitter, &fired[i]));
    for (i = 0; i < THREADS; i++) {
        assert_int_equal(0, pthread_join(th[i], NULL));
        total += fired[i];
    }
    assert_int_equal(1, total); /* exactly one hit was number 12345 */
    assert_int_equal(THREADS * THREAD_HITS, fault_hits("t.x"));
    assert_int_equal(1, fault_fired("t.x"));
    UNIT_END(live);
}

/* A malformed CASCADE_FAULT aborts at the first call (in a fresh process). */
static void
test_fault_bad_env_aborts(void **state)
{
    int64_t live = mem_live();
    int status;
    pid_t pid;

    (void)state;
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        char *argv[] = {"test_fault", "--bad-env-child", NULL};
        char *envp[] = {"CASCADE_FAULT=store.put=3,=1", "ASAN_OPTIONS=detect_leaks=0", NULL};

        close(2); /* the child's crit line is expected; keep the output clean */
        execve("/proc/self/exe", argv, envp);
        _exit(99);
    }
    assert_int_equal(pid, waitpid(pid, &status, 0));
    assert_true(WIFSIGNALED(status));
    assert_int_equal(SIGABRT, WTERMSIG(status));
    UNIT_END(live);
}

/* Runs last: fills the table, then every new name is ERR_LIMIT. */
static void
test_fault_table_full(void **state)
{
    int64_t live = mem_live();
    char name[32];
    int i, rc = 0;

    (void)state;
    for (i = 0; i <= FAULT_MAX_POINTS && rc == 0; i++) {
        snprintf(name, sizeof(name), "full.%d", i);
        rc = fault_arm(name, 1, false);
    }
    assert_int_equal(ERR_LIMIT, rc);
    assert_true(i <= FAULT_MAX_POINTS);
    assert_int_equal(ERR_LIMIT, fault_arm_spec("full.more=1"));
    /* Known points still work. */
    assert_int_equal(0, fault_arm("n.a", 1, false));
    assert_true(fault_hit("n.a"));
    UNIT_END(live);
}

int
main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fault_env),
        cmocka_unit_test_setup(test_fault_counts_unarmed, reset),
        cmocka_unit_test_setup(test_fault_nth, reset),
        cmocka_unit_test_setup(test_fault_sticky, reset),
        cmocka_unit_test_setup(test_fault_arm_invalid, reset),
        cmocka_unit_test_setup(test_fault_spec, reset),
        cmocka_unit_test_setup(test_fault_spec_invalid, reset),
        cmocka_unit_test_setup(test_fault_macro, reset),
        cmocka_unit_test_setup(test_fault_threads, reset),
        cmocka_unit_test_setup(test_fault_bad_env_aborts, reset),
        cmocka_unit_test_setup(test_fault_table_full, reset),
    };

    if (argc == 2 && strcmp(argv[1], "--bad-env-child") == 0)
        return fault_hits("x") == 0 ? 0 : 1; /* must abort before returning */
    assert_int_equal(0, setenv("CASCADE_FAULT", "env.a=2,env.b=1+", 1));
    return cmocka_run_group_tests(tests, NULL, NULL);
}
