/*
 * log.c -- key=value event lines, one write(2) each.
 *
 * A line is built in a stack buffer of LOG_LINE_MAX bytes and handed to
 * the kernel in one write(2), so lines from different threads never mix
 * (for a pipe, writes up to PIPE_BUF are atomic, and LOG_LINE_MAX is
 * below it). Nothing here allocates, so logging works out of memory.
 *
 * Owns: the output fd number (not the fd), the level threshold, and the
 * lock that guards every struct log_rl. Not here: the JSON access log
 * (edge/access_log.c), metrics (metrics.c).
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "log.h"
#include "compat.h"

_Atomic int log_min_level = LOG_INFO;

/* Longest suffix log_vemit() keeps whole (" suppressed=4294967295" is 22). */
#define LOG_SFX_MAX 32

static _Atomic int log_fd = 2;
static _Atomic(log_clock_fn *) log_clock;
static pthread_mutex_t log_rl_mu = PTHREAD_MUTEX_INITIALIZER;

static const char *const log_level_names[] = {
    [LOG_DEBUG] = "debug", [LOG_INFO] = "info", [LOG_WARN] = "warn",
    [LOG_ERR] = "error",   [LOG_CRIT] = "crit",
};

void
log_set_fd(int fd)
{
    atomic_store_explicit(&log_fd, fd, memory_order_relaxed);
}

void
log_set_level(enum log_level lvl)
{
    log_min_level = (int)lvl;
}

int
log_level_parse(const char *s, enum log_level *out)
{
    size_t i;

    for (i = 0; i < ARRAY_SIZE(log_level_names); i++) {
        if (strcmp(s, log_level_names[i]) == 0) {
            *out = (enum log_level)i;
            return 0;
        }
    }
    return ERR_INVAL;
}

const char *
log_level_name(enum log_level lvl)
{
    if ((unsigned)lvl >= ARRAY_SIZE(log_level_names))
        return "unknown";
    return log_level_names[lvl];
}

void
log_test_set_clock(log_clock_fn *fn)
{
    atomic_store(&log_clock, fn);
}

static int64_t
log_clock_ms(clockid_t id)
{
    log_clock_fn *fn = atomic_load_explicit(&log_clock, memory_order_relaxed);
    struct timespec ts;

    if (fn != NULL)
        return fn();
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int
log_rl_allow(struct log_rl *rl, uint32_t burst)
{
    int64_t now = log_clock_ms(CLOCK_MONOTONIC);
    int ok;

    if (burst == 0)
        burst = 1;
    pthread_mutex_lock(&log_rl_mu);
    if (rl->window_start_ms == 0 || now < rl->window_start_ms ||
        now - rl->window_start_ms >= 1000) {
        rl->window_start_ms = now;
        rl->in_window = 0;
    }
    ok = rl->in_window < burst;
    if (ok)
        rl->in_window++;
    else if (rl->suppressed < UINT32_MAX)
        rl->suppressed++;
    pthread_mutex_unlock(&log_rl_mu);
    return ok;
}

uint32_t
log_rl_take_suppressed(struct log_rl *rl)
{
    uint32_t n;

    pthread_mutex_lock(&log_rl_mu);
    n = rl->suppressed;
    rl->suppressed = 0;
    pthread_mutex_unlock(&log_rl_mu);
    return n;
}

/* Clamps an snprintf() result to what was really written into room bytes. */
static size_t
log_clamp(int r, size_t room)
{
    if (r < 0)
        return 0;
    if (room == 0)
        return 0;
    return (size_t)r < room ? (size_t)r : room - 1;
}

static void
log_write_all(const char *p, size_t len)
{
    int fd = atomic_load_explicit(&log_fd, memory_order_relaxed);
    ssize_t w;

    while (len > 0) {
        w = write(fd, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return; /* nowhere to report it: the line is dropped */
        p += w;
        len -= (size_t)w;
    }
}

/*
 * Builds and writes one line; sfx (may be empty) is kept whole and the
 * caller's text is cut to make room for it.
 */
static void
log_vemit(enum log_level lvl, const char *mod, const char *ev, const char *sfx, const char *fmt,
          va_list ap)
{
    char line[LOG_LINE_MAX + 1]; /* + 1: the NUL vsnprintf() insists on */
    size_t sfxlen = strlen(sfx);
    size_t limit; /* the text ends here; then sfx and '\n' */
    size_t pos, body, room, n, i;
    struct tm tm;
    int64_t ms;
    time_t sec;
    int cut, r;

    if (sfxlen > LOG_SFX_MAX) /* never: sfx is ours; tells the compiler limit > 0 */
        sfxlen = LOG_SFX_MAX;
    limit = LOG_LINE_MAX - 1 - sfxlen;
    ms = log_clock_ms(CLOCK_REALTIME);
    sec = (time_t)(ms / 1000);
    gmtime_r(&sec, &tm);
    r = snprintf(line, limit + 1, "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03dZ lvl=%s mod=%s ev=%s",
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                 (int)(ms % 1000), log_level_name(lvl), mod, ev);
    pos = log_clamp(r, limit + 1);
    cut = r > 0 && (size_t)r > pos;
    if (!cut && pos < limit) {
        room = limit - pos; /* after the space: room - 1 bytes and the NUL */
        line[pos] = ' ';
        body = pos + 1;
        r = vsnprintf(line + body, room, fmt, ap);
        n = log_clamp(r, room);
        if (n > 0) { /* else no text: the space is dropped */
            pos = body + n;
            cut = (size_t)r > n;
            for (i = body; i < pos; i++)
                if (line[i] == '\n' || line[i] == '\r')
                    line[i] = ' ';
        }
    }
    if (cut)
        memcpy(line + pos - 3, "...", 3);
    memcpy(line + pos, sfx, sfxlen);
    pos += sfxlen;
    line[pos++] = '\n';
    log_write_all(line, pos);
}

void
log_emit(enum log_level lvl, const char *mod, const char *ev, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    log_vemit(lvl, mod, ev, "", fmt, ap);
    va_end(ap);
}

void
log_emit_rl(struct log_rl *rl, enum log_level lvl, const char *mod, const char *ev, const char *fmt,
            ...)
{
    char sfx[LOG_SFX_MAX] = "";
    uint32_t n = log_rl_take_suppressed(rl);
    va_list ap;

    if (n > 0)
        snprintf(sfx, sizeof(sfx), " suppressed=%u", n);
    va_start(ap, fmt);
    log_vemit(lvl, mod, ev, sfx, fmt, ap);
    va_end(ap);
}

char *
log_sanitize(char *dst, size_t dstsz, const void *src, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *s = src;
    size_t need = 0, room, i, o = 0;
    int cut;

    if (dstsz == 0)
        return dst;
    for (i = 0; i < n; i++)
        need += (s[i] > 0x20 && s[i] < 0x7f && s[i] != '"' && s[i] != '\\') ? 1 : 4;
    cut = need > dstsz - 1;
    room = dstsz - 1;
    if (cut)
        room = room >= 3 ? room - 3 : 0;
    for (i = 0; i < n; i++) {
        unsigned char c = s[i];

        if (c > 0x20 && c < 0x7f && c != '"' && c != '\\') {
            if (o + 1 > room)
                break;
            dst[o++] = (char)c;
        } else {
            if (o + 4 > room)
                break;
            dst[o++] = '\\';
            dst[o++] = 'x';
            dst[o++] = hex[c >> 4];
            dst[o++] = hex[c & 0xf];
        }
    }
    if (cut)
        for (i = 0; i < 3 && o < dstsz - 1; i++)
            dst[o++] = '.';
    dst[o] = '\0';
    return dst;
}
