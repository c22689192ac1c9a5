/*
 * access_log.h -- the edge's JSON access log: one line per request, one
 * buffer and one file descriptor per worker.
 *
 *   {"time":"2026-01-02T03:04:05.678Z","client":"10.0.0.7:50122",
 *    "method":"GET","path":"/live/a/720p/1234.m4s","status":200,
 *    "bytes":171234,"cache":"hit","upstream_ms":null,"total_ms":0.21,
 *    "cmcd_sid":"6e2fb550-c457-11e9-bb97-0800200c9a66"}
 *
 * Lines are buffered and written with one write(2) of whole lines when the
 * buffer fills or every 250 ms, so a hit costs no system call of its own
 * here; O_APPEND keeps the workers' lines whole in one file. Every string
 * from a peer is JSON-escaped (bytes outside printable ASCII as \u00XX).
 *
 * Not here: the key=value event log (log.c).
 */
#ifndef CASCADE_ACCESS_LOG_H
#define CASCADE_ACCESS_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "miniobj.h"

struct event_base;
struct access_log;

struct access_log_entry {
    const char *client; /* "ip:port" */
    const char *method;
    const char *path; /* the target as sent */
    int status;
    uint64_t bytes;     /* body bytes queued */
    const char *cache;  /* "hit", "miss", "collapsed", "stale", "revalidated", "pass", ... */
    double upstream_ms; /* < 0: no upstream involved */
    double total_ms;
    const char *sid; /* CMCD session id, or NULL */
    size_t sid_len;
};

/*
 * A log for one worker writing to path (appended, created 0644), or one
 * that drops everything when path is "". 0, or -errno (logged) when the
 * file cannot be opened.
 */
int access_log_new(struct event_base *base, const char *path, struct access_log **pal) WARN_UNUSED;
/* Flushes, then writes to path from now on (reload: rotation, or a new path). */
int access_log_reopen(struct access_log *al, const char *path) WARN_UNUSED;
void access_log_write(struct access_log *al, const struct access_log_entry *e);
/* Whether lines go anywhere (skip building them when not). */
bool access_log_on(const struct access_log *al);
/* Writes what is buffered now. */
void access_log_flush(struct access_log *al);
/* Flushes and closes. */
void access_log_free(struct access_log **pal);

/*
 * The CMCD session id (CTA-5004 key "sid", a string) from the CMCD query
 * parameter (percent-encoded) or else the CMCD-Session header; written to
 * out[0..cap) without quotes. Returns its length, 0 when there is none.
 * Pure; fuzzed through fuzz_edge_obj's sibling target fuzz_cmcd_sid.
 */
size_t access_log_cmcd_sid(const char *query, const char *session_hdr, char *out, size_t cap);

#endif
