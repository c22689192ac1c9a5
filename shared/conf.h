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
 *     admin.token "two words" # quotes: \" and \\ are the only escapes
 *
 * A `#` starts a comment where a token could start (line start, or after
 * blanks); inside an unquoted value it is part of the value. An unquoted
 * value is one token: blanks, quotes and backslashes need the quoted form.
 * Lines end in LF or CRLF; a line holds at most CONF_LINE_MAX bytes, a file
 * at most CONF_FILE_MAX; NUL and control bytes other than tab are refused.
 * Every key may appear once per file.
 *
 * A binary declares every key once (name, type, offsetof target, default,
 * min, max, reloadable, help) in a `struct conf_key` table; parsing fills a
 * plain struct the binary defines. That struct, once loaded, is a frozen
 * snapshot: the hot path reads it, never the text. Reload builds a new
 * snapshot, refuses it if a non-reloadable key changed, and the binary
 * swaps it in.
 *
 * Ownership: string fields (CONF_STRING, CONF_ADDR, CONF_ADDR_LIST) are
 * owned by the struct and are never NULL once conf_defaults() returned;
 * conf_free() releases them. Every function here is pure (no I/O, no
 * logging) except conf_load_file(), which reads the file.
 */
#ifndef CASCADE_CONF_H
#define CASCADE_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "miniobj.h"

#define CONF_LINE_MAX 4096    /* bytes per line, without its LF or CRLF */
#define CONF_FILE_MAX 1048576 /* bytes per file (1 MiB) */
#define CONF_ADDR_LIST_MAX 64 /* addresses in one CONF_ADDR_LIST value */
#define CONF_HOST_MAX 254     /* a host without brackets: a DNS name may end in a dot */

enum conf_type {
    CONF_BOOL = 1,  /* bool: on off yes no true false; dumped as on/off */
    CONF_INT,       /* int64_t within [min, max] */
    CONF_SIZE,      /* uint64_t bytes; plain bytes or K M G T (1024-based, any case) */
    CONF_DURATION,  /* uint64_t milliseconds; a unit is required: ms s m h */
    CONF_STRING,    /* char * (owned by the struct; conf_free releases) */
    CONF_ENUM,      /* int index into values[] */
    CONF_ADDR,      /* char * "host:port" or "[v6]:port", validated */
    CONF_ADDR_LIST, /* char * comma-separated addresses, validated, stored as "a:1,b:2" */
};

struct conf_key {
    const char *name; /* "cache.size" */
    enum conf_type type;
    size_t offset;   /* offsetof(struct edge_conf, cache_size) */
    const char *def; /* default, as it would be written in a file */
    /*
     * CONF_INT, CONF_SIZE, CONF_DURATION: the accepted range. min = max = 0
     * means unbounded; max = 0 alone means no upper bound. Sizes and
     * durations are never negative and never above INT64_MAX.
     */
    int64_t min, max;
    const char *const *values; /* CONF_ENUM: NULL-terminated */
    bool reloadable;
    const char *help; /* one line, written as a comment by conf_dump */
};

/* Error text: "FILE:LINE: key: message", "FILE: message" or "--option: message". */
#define CONF_ERR_MAX 512
struct conf_err {
    char msg[CONF_ERR_MAX];
};

/*
 * Rules between keys (a low watermark below the high one). Runs on a
 * complete snapshot; writes a message without prefix and returns ERR_CONF.
 */
typedef int conf_validate_fn(const void *conf, struct conf_err *err);

struct conf_table {
    const char *binary; /* "cascade-edge" */
    const struct conf_key *keys;
    size_t nkeys;
    size_t size;                /* sizeof the binary's struct */
    conf_validate_fn *validate; /* NULL when there is no cross-key rule */
};

/*
 * Fill conf (size t->size, zeroed by the caller) with every default. A
 * default that does not parse is a bug in the table: ERR_CONF naming it.
 * On error conf holds no strings.
 */
int conf_defaults(const struct conf_table *t, void *conf, struct conf_err *err) WARN_UNUSED;

/*
 * Parse text (name is used in error messages) on top of what conf holds
 * (conf_defaults() first). Unknown keys, duplicate keys, bad values and
 * out-of-range values are errors (ERR_CONF, err says FILE:LINE). All or
 * nothing: on error conf is unchanged. Each key is checked alone; rules
 * between keys are conf_validate()'s. Pure: no I/O; the fuzzer drives it.
 */
int conf_parse(const struct conf_table *t, void *conf, const char *name, const char *text,
               size_t len, struct conf_err *err) WARN_UNUSED;

/* Read path (max CONF_FILE_MAX bytes) and conf_parse() it. */
int conf_load_file(const struct conf_table *t, void *conf, const char *path,
                   struct conf_err *err) WARN_UNUSED;

/*
 * Set one key from the command line (--cache-size 64G -> "cache.size",
 * "64G"). source prefixes error messages ("--cache-size"); NULL uses the
 * key's name. On error conf is unchanged.
 */
int conf_set(const struct conf_table *t, void *conf, const char *key, const char *value,
             const char *source, struct conf_err *err) WARN_UNUSED;

/*
 * Run the table's cross-key rules on a complete snapshot. source prefixes
 * the message (the file name, or the binary's name when there is none).
 */
int conf_validate(const struct conf_table *t, const void *conf, const char *source,
                  struct conf_err *err) WARN_UNUSED;

/*
 * The whole configuration as text in the file syntax, every key in table
 * order with its help as a comment above it: what --dump-config prints and
 * what conf/<binary>.conf holds. Values are quoted only when needed; sizes
 * and durations use the largest exact unit (64G, 1536, 500ms, 90s). Caller
 * xfree()s.
 */
char *conf_dump(const struct conf_table *t, const void *conf);

/* The key list as a Markdown table (docs/config.md). Caller xfree()s. */
char *conf_doc(const struct conf_table *t);

/* ERR_CONF, with the key named in err, when a non-reloadable key differs. */
int conf_reload_check(const struct conf_table *t, const void *old_conf, const void *new_conf,
                      struct conf_err *err) WARN_UNUSED;

/*
 * Deep copy (strings duplicated) and release of a snapshot's strings. dst
 * must hold no strings (zeroed, or conf_free()d). conf_free leaves the
 * string fields NULL; calling it twice is harmless.
 */
void conf_copy(const struct conf_table *t, void *dst, const void *src);
void conf_free(const struct conf_table *t, void *conf);

/* Asserts every value is one conf_set() could have stored (the fuzzer's _check). */
void conf_check(const struct conf_table *t, const void *conf);

/* The key called name, or NULL. */
const struct conf_key *conf_key_find(const struct conf_table *t, const char *name);

/* The nearest key name to a misspelt one, or NULL when nothing is close. */
const char *conf_key_suggest(const struct conf_table *t, const char *name);

/* Edit distance (insert, delete, substitute, swap), capped: names over 64 bytes give 64+. */
unsigned conf_distance(const char *a, const char *b);

/*
 * Parse helpers, also used for command-line values. They return 0 or
 * ERR_INVAL; sizes and durations above INT64_MAX are ERR_INVAL.
 */
int conf_parse_size(const char *s, uint64_t *out) WARN_UNUSED;
int conf_parse_duration(const char *s, uint64_t *out) WARN_UNUSED;
/*
 * "host:port" / "[v6]:port" -> host (copied into host, hostsz, without
 * brackets) and port (1..65535). host is a DNS name (letters, digits, '-',
 * '_', dots) or an IPv4/IPv6 literal; an IPv6 literal needs brackets.
 * ERR_INVAL on bad text, ERR_LIMIT when host does not fit in hostsz.
 */
int conf_split_addr(const char *s, char *host, size_t hostsz, uint16_t *port) WARN_UNUSED;

#endif
