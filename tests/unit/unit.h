/*
 * unit.h -- what every cmocka unit test includes.
 *
 * cmocka's assert_int_equal() and friends already print both values on
 * failure (libuv's ASSERT_EQ). What this adds is the end-of-test check
 * that STYLE asks for: no object made through xmalloc() is still alive,
 * and, for tests with a loop, nothing is left pending on it.
 *
 *   static void test_x(void **state) { int64_t live = mem_live(); ... UNIT_END(live); }
 *   static void test_y(void **state) { ... UNIT_END_LOOP(base, live); }
 */
#ifndef CASCADE_UNIT_H
#define CASCADE_UNIT_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

#include "mem.h"

/* live: mem_live() taken when the test started. */
#define UNIT_END(live) assert_int_equal((live), mem_live())

/* Nothing pending: event_base_loop() returns 1 when no events are left. */
#define UNIT_END_LOOP(base, live)                                                                  \
    do {                                                                                           \
        assert_int_equal(1, event_base_loop((base), EVLOOP_NONBLOCK));                             \
        UNIT_END(live);                                                                            \
    } while (0)

/*
 * Scratch directories for tests that need files: unit_tmpdir() makes a
 * fresh /tmp/cascade-<tag>-XXXXXX in dir (n bytes), unit_rm_rf() removes
 * it with all it holds. Both assert. (Headers only: CMake builds each
 * tests/unit/test_*.c alone, so there is no unit.c to link.)
 */
static inline void
unit_tmpdir(char *dir, size_t n, const char *tag)
{
    int len = snprintf(dir, n, "/tmp/cascade-%s-XXXXXX", tag);

    assert_true(len > 0 && (size_t)len < n);
    assert_non_null(mkdtemp(dir));
}

static inline void
unit_rm_rf(const char *dir)
{
    char cmd[512];
    int len = snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);

    assert_true(len > 0 && (size_t)len < sizeof(cmd));
    assert_int_equal(0, system(cmd));
}

#endif
