/*
 * test_ladder_worker.c -- the transcoder process layer: the -progress
 * parser (blocks, N/A values, split input, overlong lines) and a real child
 * (sh) with an input pipe, two output pipes, the progress pipe, end of input
 * and the exit callback, on a libevent loop.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include <event2/event.h>

#include "unit.h"
#include "../../origin/ladder_worker.c"

struct got {
    struct ladder_progress last;
    unsigned blocks;
};

static void
got_block(void *arg, const struct ladder_progress *pr)
{
    struct got *g = arg;

    g->last = *pr;
    g->blocks++;
}

static void
test_progress_blocks(void **state)
{
    static const char text[] = "frame=12\nfps=0.00\nout_time_us=N/A\nspeed=N/A\nprogress=continue\n"
                               "frame=60\nout_time_us=2000000\nspeed=1.02x\nprogress=continue\n"
                               "frame=61\r\nout_time_us=2033333\r\nspeed= 0.5x\r\nprogress=end\r\n";
    struct ladder_progress_parser pp;
    int64_t live = mem_live();
    struct got g;
    size_t i;

    (void)state;
    /* Whole, then byte by byte: the same blocks. */
    for (int pass = 0; pass < 2; pass++) {
        memset(&g, 0, sizeof(g));
        ladder_progress_init(&pp);
        if (pass == 0) {
            assert_int_equal(3, ladder_progress_feed(&pp, text, sizeof(text) - 1, got_block, &g));
        } else {
            for (i = 0; i + 1 < sizeof(text); i++)
                (void)ladder_progress_feed(&pp, text + i, 1, got_block, &g);
        }
        ladder_progress_check(&pp);
        assert_int_equal(3, g.blocks);
        assert_int_equal(2033333, g.last.out_time_us);
        assert_int_equal(61, g.last.frame);
        assert_true(g.last.speed > 0.49 && g.last.speed < 0.51);
        assert_int_equal(1, g.last.end);
    }
    UNIT_END(live);
}

static void
test_progress_bad_lines(void **state)
{
    static const char rest[] = "\nout_time_us=-5\nspeed=fast\nframe=99999999999999999999\n"
                               "no equals sign\nprogress=continue\n";
    char big[LADDER_PROGRESS_LINE_MAX * 3];
    struct ladder_progress_parser pp;
    int64_t live = mem_live();
    struct got g;

    (void)state;
    memset(&g, 0, sizeof(g));
    ladder_progress_init(&pp);
    /* An overlong line is skipped whole, including a "progress=" inside it. */
    memset(big, 'x', sizeof(big));
    memcpy(big + 300, "\0progress=end", 13);
    (void)ladder_progress_feed(&pp, big, sizeof(big), got_block, &g);
    (void)ladder_progress_feed(&pp, rest, sizeof(rest) - 1, got_block, &g);
    ladder_progress_check(&pp);
    assert_int_equal(1, g.blocks);
    assert_int_equal(-1, g.last.out_time_us);
    assert_int_equal(-1, g.last.frame);
    assert_true(g.last.speed == 0);
    assert_int_equal(0, g.last.end);
    UNIT_END(live);
}

struct run {
    char out[2][64];
    size_t outlen[2];
    struct got g;
    int exited;
    int status;
    struct event_base *base;
};

static void
run_out(void *arg, unsigned idx, const uint8_t *p, size_t len)
{
    struct run *r = arg;

    assert_true(idx < 2);
    assert_true(r->outlen[idx] + len <= sizeof(r->out[idx]));
    memcpy(r->out[idx] + r->outlen[idx], p, len);
    r->outlen[idx] += len;
}

static void
run_progress(void *arg, const struct ladder_progress *pr)
{
    struct run *r = arg;

    got_block(&r->g, pr);
}

static void
run_exited(void *arg, int status)
{
    struct run *r = arg;

    r->exited++;
    r->status = status;
    (void)event_base_loopbreak(r->base);
}

static void
test_worker_pipes_and_exit(void **state)
{
    /* The child copies its input to fd 4, writes "two" to fd 5 and a progress block to fd 3. */
    static const char *const argv[] = {
        "sh", "-c", "cat >&4; printf two >&5; printf 'out_time_us=7\\nprogress=end\\n' >&3; exit 3",
        NULL};
    struct ladder_worker_params wp = {argv, 2, 5, "t"};
    struct ladder_worker_cbs cbs = {run_out, run_progress, run_exited, NULL};
    struct ladder_worker *w = NULL;
    int64_t live = mem_live();
    struct run r;

    (void)state;
    memset(&r, 0, sizeof(r));
    r.base = event_base_new();
    cbs.arg = &r;
    assert_int_equal(0, ladder_worker_start(r.base, &wp, &cbs, &w));
    assert_true(ladder_worker_pid(w) > 0);
    assert_int_equal(0, ladder_worker_write(w, "hello ", 6));
    assert_int_equal(0, ladder_worker_write(w, "world", 5));
    ladder_worker_close_input(w);
    assert_int_equal(ERR_CLOSED, ladder_worker_write(w, "x", 1));
    assert_int_equal(0, event_base_dispatch(r.base));
    assert_int_equal(1, r.exited);
    assert_true(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 3);
    assert_int_equal(11, r.outlen[0]);
    assert_memory_equal("hello world", r.out[0], 11);
    assert_int_equal(3, r.outlen[1]);
    assert_int_equal(1, r.g.blocks);
    assert_int_equal(7, r.g.last.out_time_us);
    assert_int_equal(0, ladder_worker_pid(w));
    ladder_worker_free(&w);
    assert_null(w);
    UNIT_END_LOOP(r.base, live);
    event_base_free(r.base);
}

static void
test_worker_free_kills_stopped_child(void **state)
{
    static const char *const argv[] = {"sleep", "30", NULL};
    struct ladder_worker_params wp = {argv, 1, 0, "t"};
    struct ladder_worker_cbs cbs = {NULL, NULL, NULL, NULL};
    struct ladder_worker *w = NULL;
    int64_t live = mem_live();
    struct event_base *base = event_base_new();
    pid_t pid;

    (void)state;
    assert_int_equal(0, ladder_worker_start(base, &wp, &cbs, &w));
    pid = ladder_worker_pid(w);
    ladder_worker_kill(w, SIGSTOP);
    ladder_worker_free(&w); /* SIGKILL + SIGCONT + reap: returns, leaves no zombie */
    assert_int_equal(-1, kill(pid, 0));
    UNIT_END_LOOP(base, live);
    event_base_free(base);
}

static void
test_worker_bad_program(void **state)
{
    static const char *const argv[] = {"/nonexistent/ffmpeg", NULL};
    struct ladder_worker_params wp = {argv, 1, 0, "t"};
    struct ladder_worker_cbs cbs = {NULL, NULL, run_exited, NULL};
    struct ladder_worker *w = NULL;
    int64_t live = mem_live();
    struct run r;

    (void)state;
    memset(&r, 0, sizeof(r));
    r.base = event_base_new();
    cbs.arg = &r;
    wp.nout = 0;
    assert_int_equal(ERR_INVAL, ladder_worker_start(r.base, &wp, &cbs, &w));
    wp.nout = 1;
    assert_int_equal(0, ladder_worker_start(r.base, &wp, &cbs, &w));
    assert_int_equal(0, event_base_dispatch(r.base));
    assert_int_equal(1, r.exited);
    assert_true(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 127);
    ladder_worker_free(&w);
    UNIT_END_LOOP(r.base, live);
    event_base_free(r.base);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_progress_blocks),
        cmocka_unit_test(test_progress_bad_lines),
        cmocka_unit_test(test_worker_pipes_and_exit),
        cmocka_unit_test(test_worker_free_kills_stopped_child),
        cmocka_unit_test(test_worker_bad_program),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
