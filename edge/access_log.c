/*
 * access_log.c -- the JSON access log (access_log.h).
 *
 * Owns its file descriptor and a fixed buffer; lives on one worker's
 * thread. A line that does not fit the buffer forces a flush first; a line
 * longer than the whole buffer is cut (its strings are bounded anyway).
 */
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "access_log.h"
#include "err.h"
#include "log.h"
#include "mem.h"
#include "proto/hex.h"
#include "compat.h"

#define ACCESS_LOG_BUF (64u * 1024)
#define ACCESS_LOG_FLUSH_AT (48u * 1024)
#define ACCESS_LOG_LINE_MAX 8192
#define ACCESS_LOG_FLUSH_MS 250
/* Longest path logged, before escaping. */
#define ACCESS_LOG_PATH_MAX 1024

struct access_log {
    unsigned magic;
#define ACCESS_LOG_MAGIC 0x61636c67U
    int fd;              /* owned; -1: no log */
    struct event *timer; /* owned */
    bool armed;
    size_t len;
    time_t sec; /* the second time_str is for */
    char time_str[24];
    char buf[ACCESS_LOG_BUF];
};

static int
access_log_open_fd(const char *path)
{
    int fd;

    if (path == NULL || path[0] == '\0')
        return -1;
    fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        LOG(LOG_ERR, "edge", "access_log_open_failed", "conn=0 path=%s err=%s", path,
            err_name(-errno));
        return -errno;
    }
    return fd;
}

static void
access_log_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    struct access_log *al;

    (void)fd;
    (void)what;
    CAST_OBJ_NOTNULL(al, arg, ACCESS_LOG_MAGIC);
    al->armed = false;
    access_log_flush(al);
}

int
access_log_new(struct event_base *base, const char *path, struct access_log **pal)
{
    struct access_log *al;
    int fd;

    *pal = NULL;
    fd = access_log_open_fd(path);
    if (fd < -1)
        return fd;
    al = xcalloc(1, sizeof(*al));
    al->magic = ACCESS_LOG_MAGIC;
    al->fd = fd;
    al->timer = evtimer_new(base, access_log_timer_cb, al);
    AN(al->timer);
    *pal = al;
    return 0;
}

bool
access_log_on(const struct access_log *al)
{
    CHECK_OBJ_NOTNULL(al, ACCESS_LOG_MAGIC);
    return al->fd >= 0;
}

void
access_log_flush(struct access_log *al)
{
    size_t off = 0;
    ssize_t n;

    CHECK_OBJ_NOTNULL(al, ACCESS_LOG_MAGIC);
    while (al->fd >= 0 && off < al->len) {
        n = write(al->fd, al->buf + off, al->len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            LOG_RL(LOG_WARN, "edge", "access_log_write_failed", 1, "conn=0 err=%s",
                   err_name(n < 0 ? -errno : ERR_CLOSED));
            break;
        }
        off += (size_t)n;
    }
    al->len = 0;
}

int
access_log_reopen(struct access_log *al, const char *path)
{
    int fd;

    CHECK_OBJ_NOTNULL(al, ACCESS_LOG_MAGIC);
    access_log_flush(al);
    fd = access_log_open_fd(path);
    if (fd < -1)
        return fd; /* keep the old file */
    if (al->fd >= 0)
        (void)close(al->fd);
    al->fd = fd;
    return 0;
}

void
access_log_free(struct access_log **pal)
{
    struct access_log *al = *pal;

    if (al == NULL)
        return;
    CHECK_OBJ(al, ACCESS_LOG_MAGIC);
    access_log_flush(al);
    if (al->fd >= 0)
        (void)close(al->fd);
    event_free(al->timer);
    FREE_OBJ(al);
    *pal = NULL;
}

/* Appends s[0..len) JSON-escaped (SPEC: RFC 8259 7) to dst; returns bytes written. */
static size_t
access_log_esc(char *dst, size_t cap, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    size_t n = 0, i;
    unsigned char c;

    for (i = 0; i < len; i++) {
        c = (unsigned char)s[i];
        if (n + 6 >= cap)
            break;
        if (c == '"' || c == '\\') {
            dst[n++] = '\\';
            dst[n++] = (char)c;
        } else if (c < 0x20 || c >= 0x7f) {
            memcpy(dst + n, "\\u00", 4);
            dst[n + 4] = hex[c >> 4];
            dst[n + 5] = hex[c & 15];
            n += 6;
        } else {
            dst[n++] = (char)c;
        }
    }
    return n;
}

static void
access_log_time(struct access_log *al, char out[32])
{
    struct timespec ts;
    struct tm tm;

    AZ(clock_gettime(CLOCK_REALTIME_COARSE, &ts));
    if (ts.tv_sec != al->sec || al->time_str[0] == '\0') {
        AN(gmtime_r(&ts.tv_sec, &tm));
        (void)strftime(al->time_str, sizeof(al->time_str), "%Y-%m-%dT%H:%M:%S", &tm);
        al->sec = ts.tv_sec;
    }
    (void)snprintf(out, 32, "%.19s.%03uZ", al->time_str, (unsigned)(ts.tv_nsec / 1000000) % 1000);
}

void
access_log_write(struct access_log *al, const struct access_log_entry *e)
{
    char line[ACCESS_LOG_LINE_MAX], t[32], num[32];
    size_t n = 0, plen;
    struct timeval tv = {0, ACCESS_LOG_FLUSH_MS * 1000};

    CHECK_OBJ_NOTNULL(al, ACCESS_LOG_MAGIC);
    if (al->fd < 0)
        return;
    access_log_time(al, t);
#define ACCESS_LOG_LIT(s)                                                                          \
    do {                                                                                           \
        size_t l_ = strlen(s);                                                                     \
        if (n + l_ < sizeof(line)) {                                                               \
            memcpy(line + n, (s), l_);                                                             \
            n += l_;                                                                               \
        }                                                                                          \
    } while (0)
#define ACCESS_LOG_STR(s, len) (n += access_log_esc(line + n, sizeof(line) - n - 64, (s), (len)))
    ACCESS_LOG_LIT("{\"time\":\"");
    ACCESS_LOG_LIT(t);
    ACCESS_LOG_LIT("\",\"client\":\"");
    ACCESS_LOG_STR(e->client, strlen(e->client));
    ACCESS_LOG_LIT("\",\"method\":\"");
    ACCESS_LOG_STR(e->method, strlen(e->method));
    ACCESS_LOG_LIT("\",\"path\":\"");
    plen = strlen(e->path);
    ACCESS_LOG_STR(e->path, plen > ACCESS_LOG_PATH_MAX ? ACCESS_LOG_PATH_MAX : plen);
    (void)snprintf(num, sizeof(num), "\",\"status\":%d", e->status);
    ACCESS_LOG_LIT(num);
    (void)snprintf(num, sizeof(num), ",\"bytes\":%llu", (unsigned long long)e->bytes);
    ACCESS_LOG_LIT(num);
    ACCESS_LOG_LIT(",\"cache\":\"");
    ACCESS_LOG_LIT(e->cache);
    if (e->upstream_ms >= 0)
        (void)snprintf(num, sizeof(num), "\",\"upstream_ms\":%.3f", e->upstream_ms);
    else
        (void)snprintf(num, sizeof(num), "\",\"upstream_ms\":null");
    ACCESS_LOG_LIT(num);
    (void)snprintf(num, sizeof(num), ",\"total_ms\":%.3f", e->total_ms);
    ACCESS_LOG_LIT(num);
    if (e->sid != NULL && e->sid_len > 0) {
        ACCESS_LOG_LIT(",\"cmcd_sid\":\"");
        ACCESS_LOG_STR(e->sid, e->sid_len);
        ACCESS_LOG_LIT("\"");
    }
    ACCESS_LOG_LIT("}\n");
#undef ACCESS_LOG_LIT
#undef ACCESS_LOG_STR
    if (al->len + n > sizeof(al->buf))
        access_log_flush(al);
    memcpy(al->buf + al->len, line, n);
    al->len += n;
    if (al->len >= ACCESS_LOG_FLUSH_AT)
        access_log_flush(al);
    else if (!al->armed) {
        al->armed = true;
        AZ(evtimer_add(al->timer, &tv));
    }
}

/*
 * SPEC: CTA-5004 3.3 -- keys separated by ',', a string value in double
 * quotes; finds sid in p[0..len).
 */
static size_t
access_log_sid_in(const char *p, size_t len, char *out, size_t cap)
{
    size_t i = 0, n;

    while (i < len) {
        while (i < len && p[i] == ' ')
            i++;
        if (len - i > 5 && memcmp(p + i, "sid=\"", 5) == 0) {
            i += 5;
            n = 0;
            while (i < len && p[i] != '"') {
                if (p[i] == '\\' && i + 1 < len)
                    i++;
                if (n + 1 < cap)
                    out[n++] = p[i];
                i++;
            }
            return i < len ? n : 0; /* unterminated: none */
        }
        /* skip this key (and a quoted value, whose commas do not count) */
        while (i < len && p[i] != ',') {
            if (p[i] == '"') {
                for (i++; i < len && p[i] != '"'; i++)
                    if (p[i] == '\\')
                        i++;
            }
            if (i < len)
                i++;
        }
        i++;
    }
    return 0;
}

size_t
access_log_cmcd_sid(const char *query, const char *session_hdr, char *out, size_t cap)
{
    char dec[1024];
    const char *p, *v;
    size_t n = 0;
    int hi, lo;

    if (cap == 0)
        return 0;
    for (p = query; p != NULL && *p != '\0';) {
        if (strncmp(p, "CMCD=", 5) == 0) {
            for (v = p + 5; *v != '\0' && *v != '&' && n < sizeof(dec); v++) {
                if (*v == '%' && (hi = hex_digit((unsigned char)v[1])) >= 0 &&
                    (lo = hex_digit((unsigned char)v[2])) >= 0) {
                    dec[n++] = (char)(hi << 4 | lo);
                    v += 2;
                } else {
                    dec[n++] = *v == '+' ? ' ' : *v;
                }
            }
            return access_log_sid_in(dec, n, out, cap);
        }
        p = strchr(p, '&');
        if (p != NULL)
            p++;
    }
    if (session_hdr != NULL)
        return access_log_sid_in(session_hdr, strlen(session_hdr), out, cap);
    return 0;
}
