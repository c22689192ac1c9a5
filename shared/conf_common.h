/*
 * conf_common.h -- configuration keys both binaries have: the http.* group
 * (limits and timeouts of the HTTP server) and the log level names.
 *
 * A binary embeds `struct conf_http http;` in its conf struct and puts
 * CONF_HTTP_KEYS(struct its_conf, http) in its key table, so the keys,
 * defaults, ranges and help are written once. conf_http_fill() turns the
 * group into the struct httpd_conf the server takes; the table ranges are
 * what guarantee every value fits its narrower field there.
 *
 * Not here: the keys of one binary (edge/edge_conf.c, origin/origin_conf.c).
 */
#ifndef CASCADE_CONF_COMMON_H
#define CASCADE_CONF_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf.h"
#include "proto/http1.h"

struct httpd_conf;

struct conf_http {
    uint64_t max_head;  /* bytes: request line + fields (431 past it) */
    uint64_t max_line;  /* bytes: request line (414 past it) */
    uint64_t max_field; /* bytes: one field line (431 past it) */
    int64_t max_headers;
    uint64_t max_body;       /* bytes (413 past it) */
    uint64_t header_timeout; /* ms */
    uint64_t idle_timeout;   /* ms */
    uint64_t body_timeout;   /* ms */
    uint64_t send_timeout;   /* ms */
    int64_t max_connections;
    int64_t max_requests_per_conn; /* 0 = unlimited */
    uint64_t out_high_watermark;   /* bytes */
    uint64_t out_low_watermark;    /* bytes */
};

#define CONF_KIB 1024LL
#define CONF_MIB (1024LL * 1024)
#define CONF_GIB (1024LL * 1024 * 1024)
#define CONF_SEC 1000LL
#define CONF_HOUR (3600LL * 1000)

/*
 * The http.* keys, for a table whose struct has a `struct conf_http` member
 * m. Every key reloads: httpd_set_conf() applies it to new requests.
 */
/* clang-format off */
#define CONF_HTTP_KEY(type, m, name, ctype, field, def, min, max, help) \
    {name, ctype, offsetof(type, m.field), def, min, max, NULL, true, help}
#define CONF_HTTP_KEYS(type, m) \
    CONF_HTTP_KEY(type, m, "http.max_head", CONF_SIZE, max_head, "32K", CONF_KIB, CONF_MIB, \
        "Largest request head (request line and fields); past it: 431."), \
    CONF_HTTP_KEY(type, m, "http.max_line", CONF_SIZE, max_line, "8K", 256, CONF_MIB, \
        "Longest request line; past it: 414."), \
    CONF_HTTP_KEY(type, m, "http.max_field", CONF_SIZE, max_field, "8K", 256, CONF_MIB, \
        "Longest header field line; past it: 431."), \
    CONF_HTTP_KEY(type, m, "http.max_headers", CONF_INT, max_headers, "100", 1, HTTP1_MAX_HEADERS, \
        "Most header fields in a request; past it: 431."), \
    CONF_HTTP_KEY(type, m, "http.max_body", CONF_SIZE, max_body, "1M", 0, 0, \
        "Largest request body; past it: 413."), \
    CONF_HTTP_KEY(type, m, "http.header_timeout", CONF_DURATION, header_timeout, "10s", 100, CONF_HOUR, \
        "Time a client has to send a whole request head (slowloris)."), \
    CONF_HTTP_KEY(type, m, "http.idle_timeout", CONF_DURATION, idle_timeout, "60s", 100, CONF_HOUR, \
        "Time a keep-alive connection may wait for its next request."), \
    CONF_HTTP_KEY(type, m, "http.body_timeout", CONF_DURATION, body_timeout, "30s", 100, CONF_HOUR, \
        "Longest gap between two reads of a request body."), \
    CONF_HTTP_KEY(type, m, "http.send_timeout", CONF_DURATION, send_timeout, "60s", 100, CONF_HOUR, \
        "Longest time a client may take no response bytes."), \
    CONF_HTTP_KEY(type, m, "http.max_connections", CONF_INT, max_connections, "20000", 1, 1000000, \
        "Open client connections per worker; past it new ones are closed at once."), \
    CONF_HTTP_KEY(type, m, "http.max_requests_per_conn", CONF_INT, max_requests_per_conn, "0", 0, \
        1000000000, "Requests served on one connection before it is closed; 0 = no limit."), \
    CONF_HTTP_KEY(type, m, "http.out_high_watermark", CONF_SIZE, out_high_watermark, "1M", \
        4 * CONF_KIB, CONF_GIB, "Queued response bytes above which a connection stops reading its source."), \
    CONF_HTTP_KEY(type, m, "http.out_low_watermark", CONF_SIZE, out_low_watermark, "256K", 0, \
        CONF_GIB, "Queued response bytes below which reading the source resumes.")
/* clang-format on */

/* debug info warn error crit: the index is the enum log_level value (log.h). */
extern const char *const conf_log_levels[];

/*
 * Rules between http.* keys (low watermark below the high one, line and
 * field limits within the head limit). 0, or ERR_CONF with a message.
 */
int conf_http_validate(const struct conf_http *c, struct conf_err *err) WARN_UNUSED;

/* Every field of h from c; server is borrowed by h (a string literal, say). */
void conf_http_fill(const struct conf_http *c, const char *server, struct httpd_conf *h);

#endif
