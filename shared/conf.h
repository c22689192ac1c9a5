/*
 * conf.h -- configuration: one key table per binary, a small text syntax,
 * validation at load with file:line errors, dump, and reload rules.
 *
 * The syntax (docs/config.md) is one `key value` per line, `#` comments,
 * values optionally in double quotes:
 *
 *     listen      127.0.0.1:8081
 *     cache.size  64G         # sizes: K M G T (powers of 1024)
 *     http.idle_timeout 60s   # durations: ms s m h
 *
 * A binary declares every key once (name, type, offsetof target, default,
 * min, max, reloadable, help) in a `struct conf_key` table; parsing fills a
 * plain struct the binary defines. That struct, once loaded, is a frozen
 * snapshot: the hot path reads it, never the text. Reload builds a new
 * snapshot, refuses it if a non-reloadable key changed, and the binary
 * swaps it in.
 */
#ifndef CASCADE_CONF_H
#define CASCADE_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "miniobj.h"

enum conf_type {
    CONF_BOOL = 1,   /* bool: on off yes no true false */
    CONF_INT,        /* int64_t within [min, max] */
    CONF_SIZE,       /* uint64_t bytes; suffixes K M G T */
    CONF_DURATION,   /* uint64_t milliseconds; suffixes ms s m h */
    CONF_STRING,     /* char * (owned by the struct; conf_free releases) */
    CONF_ENUM,       /* int index into values[] */
    CONF_ADDR,       /* char * "host:port" or "[v6]:port", validated */
    CONF_ADDR_LIST,  /* char * comma-separated addresses, validated */
};

struct conf_key {
    const char *name;          /* "cache.size" */
    enum conf_type type;
    size_t offset;             /* offsetof(struct edge_conf, cache_size) */
    const char *def;           /* default, as it would be written in a file */
    int64_t min, max;          /* CONF_INT, CONF_SIZE, CONF_DURATION (0,0 = unbounded) */
    const char *const *values; /* CONF_ENUM: NULL-terminated */
    bool reloadable;
    const char *help;          /* one line, written as a comment by conf_dump */
};

struct conf_table {
    const char *binary; /* "cascade-edge" */
    const struct conf_key *keys;
    size_t nkeys;
    size_t size; /* sizeof the binary's struct */
};

/* Error text: "FILE:LINE: message" (or "--key: message" for overrides). */
#define CONF_ERR_MAX 512
struct conf_err {
    char msg[CONF_ERR_MAX];
};

/* Fill conf (size t->size, zeroed by the caller) with every default. */
int conf_defaults(const struct conf_table *t, void *conf, struct conf_err *err) WARN_UNUSED;

/*
 * Parse text (name is used in error messages) on top of what conf holds.
 * Unknown keys, duplicate keys, bad values and out-of-range values are
 * errors. Pure: no I/O; the fuzzer drives it.
 */
int conf_parse(const struct conf_table *t, void *conf, const char *name, const char *text,
               size_t len, struct conf_err *err) WARN_UNUSED;

/* Read path (max 1 MiB) and conf_parse() it. */
int conf_load_file(const struct conf_table *t, void *conf, const char *path,
                   struct conf_err *err) WARN_UNUSED;

/* Set one key from the command line (--cache-size 64G -> "cache.size", "64G"). */
int conf_set(const struct conf_table *t, void *conf, const char *key, const char *value,
             struct conf_err *err) WARN_UNUSED;

/*
 * The whole configuration as text in the file syntax, every key in table
 * order with its help as a comment above it: what --dump-config prints and
 * what conf/<binary>.conf holds. Caller xfree()s.
 */
char *conf_dump(const struct conf_table *t, const void *conf);

/* ERR_CONF, with the key named in err, when a non-reloadable key differs. */
int conf_reload_check(const struct conf_table *t, const void *old_conf, const void *new_conf,
                      struct conf_err *err) WARN_UNUSED;

/* Deep copy (strings duplicated) and release of a snapshot's strings. */
void conf_copy(const struct conf_table *t, void *dst, const void *src);
void conf_free(const struct conf_table *t, void *conf);

/* Parse helpers, also used for command-line values. */
int conf_parse_size(const char *s, uint64_t *out) WARN_UNUSED;
int conf_parse_duration(const char *s, uint64_t *out) WARN_UNUSED;
/* "host:port" / "[v6]:port" -> host (copied into host, hostsz) and port. */
int conf_split_addr(const char *s, char *host, size_t hostsz, uint16_t *port) WARN_UNUSED;

#endif
