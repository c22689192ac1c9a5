/*
 * test_log.c -- the log line format, cutting, sanitizing, rate limiting.
 *
 * Lines go to a pipe (or, for the thread test, an O_APPEND temp file) and
 * are compared byte for byte; a fake clock fixes ts= and drives the
 * rate-limit windows.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "unit.h"
#include "err.h"
#include "log.h"
#include "compat.h"

/* 2026-11-24T03:04:05.123Z */
#define T0_MS INT64_C(1795489445123)
#define T0_TS "ts=2026-11-24T03:04:05.123Z"

static _Atomic int64_t fake_ms = T0_MS;
static int pipe_fd[2];

static int64_t
fake_clock(void)
{
    return atomic_load(&fake_ms);
}

/* Everything written to the pipe so far, NUL-terminated, into buf. */
static size_t
drain(char *buf, size_t size)
{
    size_t len = 0;
    ssize_t n;

    while (len + 1 < size) {
        n = read(pipe_fd[0], buf + len, size - 1 - len);
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    buf[len] = '\0';
    return len;
}

static int
setup(void **state)
{
    (void)state;
    assert_int_equal(0, pipe2(pipe_fd, O_NONBLOCK));
    log_set_fd(pipe_fd[1]);
    log_set_level(LOG_DEBUG);
    atomic_store(&fake_ms, T0_MS);
    log_test_set_clock(fake_clock);
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    log_test_set_clock(NULL);
    log_set_fd(2);
    log_set_level(LOG_INFO);
    close(pipe_fd[0]);
    close(pipe_fd[1]);
    return 0;
}

static void
test_log_line_exact(void **state)
{
    int64_t live = mem_live();
    char buf[4096];

    (void)state;
    log_emit(LOG_WARN, "store", "put_failed", "conn=12 err=%s key=%s", "MDB_MAP_FULL",
             "/live/a/seg-812.m4s");
    drain(buf, sizeof(buf));
    assert_string_equal(T0_TS " lvl=warn mod=store ev=put_failed conn=12 err=MDB_MAP_FULL "
                              "key=/live/a/seg-812.m4s\n",
                        buf);

    atomic_store(&fake_ms, INT64_C(7)); /* 1970, 7 ms: zero padding */
    log_emit(LOG_CRIT, "m", "e", "conn=0");
    drain(buf, sizeof(buf));
    assert_string_equal("ts=1970-01-01T00:00:00.007Z lvl=crit mod=m ev=e conn=0\n", buf);
    UNIT_END(live);
}

static void
test_log_empty_text_and_newlines(void **state)
{
    int64_t live = mem_live();
    char buf[4096];

    (void)state;
    log_emit(LOG_INFO, "a", "b", "%s", "");
    drain(buf, sizeof(buf));
    assert_string_equal(T0_TS " lvl=info mod=a ev=b\n", buf);

    log_emit(LOG_DEBUG, "a", "b", "conn=1 msg=%s", "two\nlines\r\n");
    drain(buf, sizeof(buf));
    assert_string_equal(T0_TS " lvl=debug mod=a ev=b conn=1 msg=two lines  \n", buf);
    UNIT_END(live);
}

static void
test_log_level_filter(void **state)
{
    int64_t live = mem_live();
    char buf[4096];

    (void)state;
    log_set_level(LOG_WARN);
    LOG(LOG_INFO, "a", "hidden", "conn=0");
    LOG(LOG_DEBUG, "a", "hidden", "conn=0");
    assert_int_equal(0, drain(buf, sizeof(buf)));
    LOG(LOG_ERR, "a", "shown", "conn=%d", 3);
    drain(buf, sizeof(buf));
    assert_string_equal(T0_TS " lvl=error mod=a ev=shown conn=3\n", buf);
    UNIT_END(live);
}

static void
test_log_level_parse_name(void **state)
{
    static const char *const names[] = {"debug", "info", "warn", "error", "crit"};
    static const char *const bad[] = {"", "WARN", "warning", "err", "info ", "5"};
    int64_t live = mem_live();
    enum log_level lvl;
    size_t i;

    (void)state;
    for (i = 0; i < ARRAY_SIZE(names); i++) {
        assert_int_equal(0, log_level_parse(names[i], &lvl));
        assert_int_equal((int)i, (int)lvl);
        assert_string_equal(names[i], log_level_name(lvl));
    }
    for (i = 0; i < ARRAY_SIZE(bad); i++)
        assert_int_equal(ERR_INVAL, log_level_parse(bad[i], &lvl));
    assert_string_equal("unknown", log_level_name((enum log_level)99));
    assert_string_equal("unknown", log_level_name((enum log_level) - 1));
    UNIT_END(live);
}

static void
test_log_cut(void **state)
{
    int64_t live = mem_live();
    static char big[3 * LOG_LINE_MAX], buf[4 * LOG_LINE_MAX];
    const char *prefix = T0_TS " lvl=info mod=a ev=b x=";
    size_t len, plen = strlen(prefix), i, fit;

    (void)state;
    memset(big, 'v', sizeof(big) - 1);
    log_emit(LOG_INFO, "a", "b", "x=%s", big);
    len = drain(buf, sizeof(buf));
    assert_int_equal(LOG_LINE_MAX, len);
    assert_memory_equal(prefix, buf, plen);
    for (i = plen; i < len - 4; i++)
        assert_int_equal('v', buf[i]);
    assert_string_equal("...\n", buf + len - 4);

    /* The longest text that fits is written whole, without "...". */
    fit = LOG_LINE_MAX - 1 - plen;
    big[fit] = '\0';
    log_emit(LOG_INFO, "a", "b", "x=%s", big);
    len = drain(buf, sizeof(buf));
    assert_int_equal(LOG_LINE_MAX, len);
    assert_string_equal("vvv\n", buf + len - 4);
    big[fit] = 'v';
    big[fit + 1] = '\0'; /* one byte more: cut */
    log_emit(LOG_INFO, "a", "b", "x=%s", big);
    len = drain(buf, sizeof(buf));
    assert_int_equal(LOG_LINE_MAX, len);
    assert_string_equal("...\n", buf + len - 4);
    UNIT_END(live);
}

static void
test_log_sanitize(void **state)
{
    int64_t live = mem_live();
    char out[64];

    (void)state;
    assert_string_equal("GET\\x20/a\\x20b\\x22\\x5c\\x01\\xff\\x0a",
                        log_sanitize(out, sizeof(out), "GET /a b\"\\\x01\xff\n", 13));
    assert_string_equal("", log_sanitize(out, sizeof(out), "", 0));
    /* n bounds the input, NULs included */
    assert_string_equal("a\\x00b", log_sanitize(out, sizeof(out), "a\0b", 3));
    /* exact fit: 5 bytes + NUL, no cut mark */
    assert_string_equal("abcde", log_sanitize(out, 6, "abcde", 5));
    /* one more: cut, "..." inside the same size */
    assert_string_equal("ab...", log_sanitize(out, 6, "abcdef", 6));
    /* an escape is never split */
    assert_string_equal("a...", log_sanitize(out, 8, "a\x01\x02", 3));
    assert_string_equal("..", log_sanitize(out, 3, "abcdef", 6));
    assert_string_equal("", log_sanitize(out, 1, "abc", 3));
    out[0] = 'Z';
    log_sanitize(out, 0, "abc", 3); /* writes nothing */
    assert_int_equal('Z', out[0]);
    UNIT_END(live);
}

/* One call site, so one struct log_rl, called as often as the test likes. */
static void
rl_site(int i)
{
    LOG_RL(LOG_INFO, "rl", "flood", 3, "conn=%d", i);
}

static void
test_log_rate_limit(void **state)
{
    int64_t live = mem_live();
    char buf[8192];
    int i;

    (void)state;
    for (i = 0; i < 10; i++)
        rl_site(i);
    drain(buf, sizeof(buf));
    assert_string_equal(T0_TS " lvl=info mod=rl ev=flood conn=0\n" T0_TS
                              " lvl=info mod=rl ev=flood conn=1\n" T0_TS
                              " lvl=info mod=rl ev=flood conn=2\n",
                        buf);

    atomic_store(&fake_ms, T0_MS + 999); /* same window */
    rl_site(10);
    assert_int_equal(0, drain(buf, sizeof(buf)));

    atomic_store(&fake_ms, T0_MS + 1000); /* next window: 8 were dropped */
    rl_site(11);
    rl_site(12);
    drain(buf, sizeof(buf));
    assert_string_equal("ts=2026-11-24T03:04:06.123Z lvl=info mod=rl ev=flood conn=11 "
                        "suppressed=8\n"
                        "ts=2026-11-24T03:04:06.123Z lvl=info mod=rl ev=flood conn=12\n",
                        buf);

    /* A clock that steps back starts a new window rather than stalling. */
    atomic_store(&fake_ms, T0_MS - 5000);
    rl_site(13);
    drain(buf, sizeof(buf));
    assert_non_null(strstr(buf, "conn=13\n"));
    UNIT_END(live);
}

static void
test_log_rl_struct(void **state)
{
    struct log_rl rl = {0};
    int64_t live = mem_live();

    (void)state;
    assert_int_equal(1, log_rl_allow(&rl, 0)); /* burst 0 counts as 1 */
    assert_int_equal(0, log_rl_allow(&rl, 0));
    assert_int_equal(0, log_rl_allow(&rl, 0));
    assert_int_equal(2, log_rl_take_suppressed(&rl));
    assert_int_equal(0, log_rl_take_suppressed(&rl));
    UNIT_END(live);
}

static void
test_log_rl_suffix_survives_cut(void **state)
{
    static char big[2 * LOG_LINE_MAX], buf[4 * LOG_LINE_MAX];
    struct log_rl rl = {0};
    int64_t live = mem_live();
    size_t len;

    (void)state;
    assert_int_equal(1, log_rl_allow(&rl, 1));
    assert_int_equal(0, log_rl_allow(&rl, 1));
    memset(big, 'v', sizeof(big) - 1);
    log_emit_rl(&rl, LOG_WARN, "a", "b", "x=%s", big);
    len = drain(buf, sizeof(buf));
    assert_int_equal(LOG_LINE_MAX, len);
    assert_string_equal("vv... suppressed=1\n", buf + len - 19);

    /* Nothing suppressed since: no suffix. */
    log_emit_rl(&rl, LOG_WARN, "a", "b", "x=1");
    drain(buf, sizeof(buf));
    assert_string_equal(T0_TS " lvl=warn mod=a ev=b x=1\n", buf);
    UNIT_END(live);
}

#define THREADS 4
#define THREAD_LINES 2000

static char thread_pad[1500];

static void *
thread_logger(void *arg)
{
    int id = (int)(intptr_t)arg, i;

    for (i = 0; i < THREAD_LINES; i++)
        log_emit(LOG_INFO, "t", "line", "conn=%d seq=%d pad=%s end=1", id, i, thread_pad);
    return NULL;
}

/* Long lines from 4 threads into one O_APPEND file: every line whole. */
static void
test_log_threads_whole_lines(void **state)
{
    char path[] = "/tmp/test_log_XXXXXX";
    int seen[THREADS] = {0};
    pthread_t th[THREADS];
    int64_t live = mem_live();
    char *text, *line, *nl;
    int fd, i, id, seq;
    off_t size;
    size_t lines = 0;

    (void)state;
    memset(thread_pad, 'p', sizeof(thread_pad) - 1);
    fd = mkstemp(path);
    assert_true(fd >= 0);
    unlink(path);
    assert_int_equal(0, fcntl(fd, F_SETFL, O_APPEND));
    log_set_fd(fd);
    for (i = 0; i < THREADS; i++)
        assert_int_equal(0, pthread_create(&th[i], NULL, thread_logger, (void *)(intptr_t)i));
    for (i = 0; i < THREADS; i++)
        assert_int_equal(0, pthread_join(th[i], NULL));
    log_set_fd(pipe_fd[1]);

    size = lseek(fd, 0, SEEK_END);
    text = xmalloc((size_t)size + 1);
    assert_int_equal(size, pread(fd, text, (size_t)size, 0));
    text[size] = '\0';
    close(fd);
    for (line = text; *line != '\0'; line = nl + 1) {
        nl = strchr(line, '\n');
        assert_non_null(nl);
        assert_int_equal(0, strncmp(line, T0_TS " lvl=info mod=t ev=line conn=", 56));
        assert_int_equal(2, sscanf(line + 56, "%d seq=%d", &id, &seq));
        assert_true(id >= 0 && id < THREADS);
        assert_int_equal(seen[id], seq); /* in order per thread, none lost */
        seen[id]++;
        assert_int_equal(0, strncmp(nl - 6, " end=1", 6));
        lines++;
    }
    assert_int_equal(THREADS * THREAD_LINES, lines);
    xfree(text);
    UNIT_END(live);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_log_line_exact, setup, teardown),
        cmocka_unit_test_setup_teardown(test_log_empty_text_and_newlines, setup, teardown),
        cmocka_unit_test_setup_teardown(test_log_level_filter, setup, teardown),
        cmocka_unit_test_setup_teardown(test_log_level_parse_name, setup, teardown),
        cmocka_unit_test_setup_teardown(test_log_cut, setup, teardown),
        cmocka_unit_test_setup_teardown(test_log_sanitize, setup, teardown),
        cmocka_unit_test_setup_teardown(test_log_rate_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_log_rl_struct, setup, teardown),
        cmocka_unit_test_setup_teardown(test_log_rl_suffix_survives_cut, setup, teardown),
        cmocka_unit_test_setup_teardown(test_log_threads_whole_lines, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
