/*
 * log.h -- one event per line, as key=value pairs.
 *
 *   ts=2026-11-24T03:04:05.123Z lvl=warn mod=store ev=put_failed conn=12 err=MDB_MAP_FULL
 *
 * Every line carries `conn=` or `stream=` (process-wide events use
 * `conn=0`), so one grep follows one session. Values that come from peers
 * go through log_sanitize() first. Lines are written with one write(2) each
 * so threads never interleave within a line. Not here: the JSON access log
 * (edge/access_log.c), metrics (metrics.c).
 */
#ifndef CASCADE_LOG_H
#define CASCADE_LOG_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "miniobj.h"

enum log_level {
    LOG_DEBUG = 0,
    LOG_INFO = 1,
    LOG_WARN = 2,
    LOG_ERR = 3,
    LOG_CRIT = 4,
};

/*
 * The threshold (default LOG_INFO) is read on every call, lock-free; an
 * atomic so that changing it at run time (SIGHUP) is not a data race.
 */
extern _Atomic int log_min_level;

/* Where lines go (default 2 = stderr). The fd is not owned. */
void log_set_fd(int fd);
void log_set_level(enum log_level lvl);
/* "debug" "info" "warn" "error" "crit" -> 0, or ERR_INVAL. */
int log_level_parse(const char *s, enum log_level *out) WARN_UNUSED;
/* The names above; "unknown" for a value outside the enum. */
const char *log_level_name(enum log_level lvl);

/*
 * Writes one line: ts, lvl, mod, ev, then the caller's `key=value ...`
 * text from fmt (nothing, not even a space, when that text is empty).
 * The whole line, its '\n' included, is at most LOG_LINE_MAX bytes: a
 * longer text is cut and ends in "...". A '\n' or '\r' inside the text
 * becomes a space, so one event is always one line. A failed write is
 * dropped: logging never fails its caller.
 */
#define LOG_LINE_MAX 2048
void log_emit(enum log_level lvl, const char *mod, const char *ev, const char *fmt, ...)
    PRINTFLIKE(4, 5);

#define LOG(lvl, mod, ev, ...)                                                                     \
    do {                                                                                           \
        if ((int)(lvl) >= log_min_level)                                                           \
            log_emit((lvl), (mod), (ev), __VA_ARGS__);                                             \
    } while (0)

/*
 * Rate limiting per call site: at most `burst` lines per one-second window
 * (a burst of 0 counts as 1); lines past that are counted, not written. The
 * next line written from that site ends in ` suppressed=N`. A struct log_rl
 * starts zeroed (a static per call site) and is guarded by one lock inside
 * log.c, so any thread may use any site; rate-limited lines are rare by
 * design, so the lock is never on a hot path.
 */
struct log_rl {
    int64_t window_start_ms; /* 0: no window yet */
    uint32_t in_window;
    uint32_t suppressed;
};
/* Returns 1 when a line may be written now; else counts it as suppressed. */
int log_rl_allow(struct log_rl *rl, uint32_t burst);
/* Suppressed count to report on this line, then reset (0 when none). */
uint32_t log_rl_take_suppressed(struct log_rl *rl);
/* log_emit() that appends ` suppressed=N` (from rl, then reset) when N > 0. */
void log_emit_rl(struct log_rl *rl, enum log_level lvl, const char *mod, const char *ev,
                 const char *fmt, ...) PRINTFLIKE(5, 6);

#define LOG_RL(lvl, mod, ev, burst, ...)                                                           \
    do {                                                                                           \
        static struct log_rl log_rl_site_;                                                         \
        if ((int)(lvl) >= log_min_level && log_rl_allow(&log_rl_site_, (burst)))                   \
            log_emit_rl(&log_rl_site_, (lvl), (mod), (ev), __VA_ARGS__);                           \
    } while (0)

/*
 * Tests only: a clock giving milliseconds since the Unix epoch, used for
 * both the ts= field and the rate-limit windows. NULL restores the real
 * clocks (CLOCK_REALTIME for ts=, CLOCK_MONOTONIC for windows).
 */
typedef int64_t log_clock_fn(void);
void log_test_set_clock(log_clock_fn *fn);

/*
 * Copies at most n bytes of peer input into dst (size dstsz, always
 * NUL-terminated) so it is safe inside a key=value line: bytes outside
 * printable ASCII, spaces, '"' and '\\' become \xHH; a cut is marked "...".
 * Returns dst.
 */
char *log_sanitize(char *dst, size_t dstsz, const void *src, size_t n);

#endif
