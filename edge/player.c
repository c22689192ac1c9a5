/*
 * player.c -- serves the viewer page's files from two directories: the page (web/)
 * and dash.js (npm's dist directory). See player.h for the URL rules.
 *
 * A request is answered in the call: the name is mapped and checked by pure code
 * (edge_player_map(), fuzzed), the file is opened, fstat()ed and read whole into a
 * buffer that the response then references (freed when the bytes have left). The
 * files are small and in the page cache, so the read does not hold the loop long;
 * reading each time, rather than caching, means a deploy of web/ shows at once.
 * Not here: routing (edge_main.c calls this first), proxied objects (the cache).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "player.h"
#include "err.h"
#include "httpd.h"
#include "log.h"
#include "mem.h"
#include "proto/cache_policy.h"
#include "proto/hex.h"
#include "compat.h"

#define PLAYER_PATH "/player"
#define PLAYER_PREFIX "/player/"
#define PLAYER_VENDOR "vendor/"
#define PLAYER_INDEX "index.html"

/* The page may change with a deploy: browsers revalidate it after a minute (the ETag
 * makes that a 304). dash.js changes only with package-lock.json. */
#define PLAYER_CC_WEB "public, max-age=60"
#define PLAYER_CC_VENDOR "public, max-age=86400"

/*
 * Scripts, styles and the player's own requests come from this edge only; media may
 * come from wherever the manifest points (another edge after a redirect), and blob:
 * is how Media Source Extensions feed the video element.
 */
#define PLAYER_CSP                                                                                 \
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "              \
    "media-src 'self' blob:; connect-src 'self' http: https:; object-src 'none'; "                 \
    "base-uri 'none'; frame-ancestors 'self'"

struct player_type {
    const char *ext;
    const char *type;
};

static const struct player_type player_types[] = {
    {".html", "text/html; charset=utf-8"},
    {".js", "text/javascript; charset=utf-8"},
    {".mjs", "text/javascript; charset=utf-8"},
    {".css", "text/css; charset=utf-8"},
    {".json", "application/json"},
    {".map", "application/json"},
    {".txt", "text/plain; charset=utf-8"},
    {".svg", "image/svg+xml"},
    {".png", "image/png"},
    {".ico", "image/x-icon"},
    {".webp", "image/webp"},
    {".woff2", "font/woff2"},
};

/* ---- the pure part ---- */

/* RFC 3986 unreserved characters: nothing that means something to a file system. */
static bool
edge_player_name_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '~' || c == '-';
}

bool
edge_player_name_check(const char *name)
{
    size_t i, n = strlen(name);
    bool seg_start = true;

    if (n == 0 || n > EDGE_PLAYER_NAME_MAX)
        return false;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];

        if (c == '/') {
            if (seg_start) /* leading '/' or "//" */
                return false;
            seg_start = true;
            continue;
        }
        /* A segment starting with '.' is ".", ".." or a hidden file. */
        if (!edge_player_name_char(c) || (seg_start && c == '.'))
            return false;
        seg_start = false;
    }
    return !seg_start; /* no trailing '/' */
}

int
edge_player_map(const char *path, char *out, size_t cap, enum edge_player_root *root)
{
    const size_t vlen = sizeof(PLAYER_VENDOR) - 1;
    size_t n = 0, lim;
    const char *p;

    AN(out);
    assert(cap > 0);
    if (strncmp(path, PLAYER_PREFIX, sizeof(PLAYER_PREFIX) - 1) != 0)
        return ERR_NOTFOUND;
    lim = cap - 1 < EDGE_PLAYER_NAME_MAX ? cap - 1 : EDGE_PLAYER_NAME_MAX;
    p = path + sizeof(PLAYER_PREFIX) - 1;
    /* SPEC: RFC 3986 2.1 -- decode, then judge the bytes the file system would see. */
    while (*p != '\0') {
        unsigned char c = (unsigned char)*p;
        int hi, lo;

        if (c == '%') {
            hi = hex_digit((unsigned char)p[1]);
            lo = hi < 0 ? -1 : hex_digit((unsigned char)p[2]);
            if (hi < 0 || lo < 0)
                return ERR_PROTO;
            c = (unsigned char)(hi * 16 + lo);
            p += 3;
        } else {
            p++;
        }
        if (c != '/' && !edge_player_name_char(c))
            return ERR_PROTO; /* NUL, '\\', controls, spaces, non-ASCII, ... */
        if (n >= lim)
            return ERR_LIMIT;
        out[n++] = (char)c;
    }
    out[n] = '\0';
    *root = EDGE_PLAYER_ROOT_WEB;
    if (n == 0) {
        if (sizeof(PLAYER_INDEX) > cap)
            return ERR_LIMIT;
        memcpy(out, PLAYER_INDEX, sizeof(PLAYER_INDEX));
        return (int)(sizeof(PLAYER_INDEX) - 1);
    }
    if (n >= vlen && memcmp(out, PLAYER_VENDOR, vlen) == 0) {
        *root = EDGE_PLAYER_ROOT_VENDOR;
        n -= vlen;
        memmove(out, out + vlen, n + 1);
        if (n == 0)
            return ERR_NOTFOUND; /* the vendor directory itself: no listings */
    }
    if (!edge_player_name_check(out))
        return ERR_PROTO;
    return (int)n;
}

/* Optional whitespace (SPEC: RFC 9110 5.6.3). */
static const char *
edge_player_ows(const char *p)
{
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

bool
edge_player_etag_match(const char *inm, const char *etag)
{
    const char *p = edge_player_ows(inm), *start;
    size_t elen = strlen(etag);

    /* SPEC: RFC 9110 13.1.2 -- If-None-Match = "*" / #entity-tag */
    if (*p == '*')
        return *edge_player_ows(p + 1) == '\0';
    for (;;) {
        while (*p == ',' || *p == ' ' || *p == '\t')
            p++;
        if (*p == '\0')
            return false;
        start = p;
        if (p[0] == 'W' && p[1] == '/')
            p += 2;
        if (*p != '"')
            return false;
        for (p++; *p != '"'; p++) {
            unsigned char c = (unsigned char)*p;

            if (c < 0x21 || c == 0x7f) /* etagc; NUL ends the field unclosed */
                return false;
        }
        p++;
        if (cache_etag_weak_eq(start, (size_t)(p - start), etag, elen))
            return true;
        p = edge_player_ows(p);
        if (*p != ',' && *p != '\0')
            return false;
    }
}

static const char *
edge_player_type(const char *name)
{
    const char *dot = strrchr(name, '.');
    size_t i;

    if (dot != NULL && strchr(dot, '/') == NULL)
        for (i = 0; i < ARRAY_SIZE(player_types); i++)
            if (strcmp(dot, player_types[i].ext) == 0)
                return player_types[i].type;
    return "application/octet-stream";
}

/* ---- serving ---- */

static void
edge_player_free_cb(const void *data, size_t len, void *arg)
{
    (void)len;
    (void)arg;
    xfree((void *)(uintptr_t)data);
}

static void
edge_player_redirect(struct httpd_req *r)
{
    const char *q = httpd_req_query(r);
    char loc[2048];
    int n;

    n = snprintf(loc, sizeof(loc), "%s%s%s", PLAYER_PREFIX, q != NULL ? "?" : "",
                 q != NULL ? q : "");
    if (n < 0 || (size_t)n >= sizeof(loc)) {
        httpd_resp_error(r, 414, "uri_too_long", "the query is too long to redirect");
        return;
    }
    AZ(httpd_resp_header(r, "Location", loc));
    AZ(httpd_resp_header(r, "Cache-Control", PLAYER_CC_WEB));
    httpd_resp_send(r, 301, "text/plain; charset=utf-8", "/player/\n", 9);
}

/* Reads len bytes from fd into a new buffer; NULL (logged) when the file changed size
 * under us or the read failed. */
static char *
edge_player_read(int fd, size_t len, const char *name)
{
    char *buf = xmalloc(len > 0 ? len : 1);
    size_t got = 0;
    ssize_t n;

    while (got < len) {
        n = pread(fd, buf + got, len - got, (off_t)got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            LOG(LOG_WARN, "player", "read_failed", "conn=0 name=%s err=%s", name,
                n < 0 ? err_name(-errno) : "short_read");
            xfree(buf);
            return NULL;
        }
        got += (size_t)n;
    }
    return buf;
}

/* Opens root/name as a regular file of at most EDGE_PLAYER_FILE_MAX bytes; the fd, or
 * -1 after answering r. */
static int
edge_player_open(struct httpd_req *r, const char *root, const char *name, struct stat *st)
{
    char full[4096];
    int fd, n;

    if (root == NULL || root[0] == '\0') {
        httpd_resp_error(r, 404, "not_found", "no such file");
        return -1;
    }
    n = snprintf(full, sizeof(full), "%s/%s", root, name);
    if (n < 0 || (size_t)n >= sizeof(full)) {
        httpd_resp_error(r, 404, "not_found", "no such file");
        return -1;
    }
    fd = open(full, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        if (errno != ENOENT && errno != ENOTDIR)
            LOG(LOG_WARN, "player", "open_failed", "conn=%" PRIu64 " name=%s err=%s",
                httpd_req_conn_id(r), name, err_name(-errno));
        httpd_resp_error(r, 404, "not_found", "no such file");
        return -1;
    }
    if (fstat(fd, st) != 0)
        st->st_mode = 0;
    if (!S_ISREG(st->st_mode) || st->st_size < 0 || (uint64_t)st->st_size > EDGE_PLAYER_FILE_MAX) {
        if (S_ISREG(st->st_mode))
            LOG(LOG_WARN, "player", "too_large", "conn=%" PRIu64 " name=%s size=%jd",
                httpd_req_conn_id(r), name, (intmax_t)st->st_size);
        close(fd);
        httpd_resp_error(r, 404, "not_found", "no such file");
        return -1;
    }
    return fd;
}

static void
edge_player_file(struct httpd_req *r, enum edge_player_root which, const char *root,
                 const char *name)
{
    const char *inm = httpd_req_header(r, "If-None-Match");
    const char *type = edge_player_type(name);
    char *body = NULL;
    bool not_modified;
    char etag[80];
    struct stat st;
    size_t len;
    int fd;

    fd = edge_player_open(r, root, name, &st);
    if (fd < 0)
        return;
    len = (size_t)st.st_size;
    (void)snprintf(etag, sizeof(etag), "\"%jx-%jx-%jx\"", (uintmax_t)st.st_size,
                   (uintmax_t)st.st_mtim.tv_sec * 1000000000u + (uintmax_t)st.st_mtim.tv_nsec,
                   (uintmax_t)st.st_ino);
    /* SPEC: RFC 9110 13.1.2 -- a match on GET or HEAD is 304, with no body to read. */
    not_modified = inm != NULL && edge_player_etag_match(inm, etag);

    if (!not_modified && httpd_req_method(r) == HTTP1_M_GET && len > 0) {
        body = edge_player_read(fd, len, name);
        if (body == NULL) {
            close(fd);
            httpd_resp_error(r, 500, "read_failed", "the file could not be read");
            return;
        }
    }
    close(fd);
    AZ(httpd_resp_header(r, "ETag", etag));
    AZ(httpd_resp_header(r, "Cache-Control",
                         which == EDGE_PLAYER_ROOT_VENDOR ? PLAYER_CC_VENDOR : PLAYER_CC_WEB));
    AZ(httpd_resp_header(r, "X-Content-Type-Options", "nosniff"));
    if (not_modified) {
        httpd_resp_start(r, 304, -1);
        httpd_resp_end(r);
        return;
    }
    AZ(httpd_resp_header(r, "Content-Type", type));
    if (strcmp(type, player_types[0].type) == 0)
        AZ(httpd_resp_header(r, "Content-Security-Policy", PLAYER_CSP));
    httpd_resp_start(r, 200, (int64_t)len);
    if (body != NULL && httpd_resp_add_reference(r, body, len, edge_player_free_cb, NULL) != 0)
        xfree(body); /* the client is gone; end() below is then a no-op */
    httpd_resp_end(r);
}

bool
edge_player_serve(struct httpd_req *r, const char *web_root, const char *vendor_root)
{
    const char *path = httpd_req_path(r);
    enum http1_method m = httpd_req_method(r);
    enum edge_player_root which;
    char name[EDGE_PLAYER_NAME_MAX + 1], sample[96];
    int rc;

    if (strcmp(path, PLAYER_PATH) != 0 &&
        strncmp(path, PLAYER_PREFIX, sizeof(PLAYER_PREFIX) - 1) != 0)
        return false;
    if (m != HTTP1_M_GET && m != HTTP1_M_HEAD) {
        AZ(httpd_resp_header(r, "Allow", "GET, HEAD"));
        httpd_resp_error(r, 405, "method_not_allowed", "the player's files are GET and HEAD only");
        return true;
    }
    if (strcmp(path, PLAYER_PATH) == 0) {
        edge_player_redirect(r);
        return true;
    }
    rc = edge_player_map(path, name, sizeof(name), &which);
    if (rc == ERR_PROTO) {
        LOG(LOG_DEBUG, "player", "bad_path", "conn=%" PRIu64 " path=%s", httpd_req_conn_id(r),
            log_sanitize(sample, sizeof(sample), path, strlen(path)));
        httpd_resp_error(r, 400, "bad_path", "that is not a file name of the player");
        return true;
    }
    if (rc < 0) {
        httpd_resp_error(r, 404, "not_found", "no such file");
        return true;
    }
    edge_player_file(r, which, which == EDGE_PLAYER_ROOT_VENDOR ? vendor_root : web_root, name);
    return true;
}
