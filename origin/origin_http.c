/*
 * origin_http.c -- GET/HEAD/OPTIONS of /live/... from data.dir, with the
 * caching, CORS, validator and range rules of origin_http.h.
 *
 * A manifest of a running live stream comes from memory (live_mem.h): the
 * response holds a ref on that version of it, so it is sent whole even if
 * the ingest replaces it meanwhile. Anything else opens its file,
 * fstat()s it and hands the descriptor to libevent (evbuffer_add_file:
 * sendfile where the socket allows it), so a file being replaced by a
 * rename while it is sent is read whole from the old inode. Nothing else
 * is cached in memory here: the page cache does it.
 *
 * Not here: writing files (live.c), the REST API (streams.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>

#include "origin_http.h"
#include "err.h"
#include "httpd.h"
#include "live_mem.h"
#include "log.h"
#include "metrics.h"
#include "compat.h"

#define ORIGIN_HTTP_CC_MANIFEST "public, max-age=1, stale-while-revalidate=2"
#define ORIGIN_HTTP_CC_MEDIA "public, max-age=31536000, immutable"
#define ORIGIN_HTTP_CC_MISSING "public, max-age=1"
#define ORIGIN_HTTP_ETAG_MAX 64
#define ORIGIN_HTTP_DATE_MAX 40
#define ORIGIN_HTTP_PATH_MAX 1024

/* Registered once by origin_http_init(), before any worker runs. */
static struct {
    struct metric *served_manifest, *served_media, *not_found, *not_modified, *ranges, *recovering;
} origin_http_m;

void
origin_http_init(void)
{
    origin_http_m.served_manifest =
        metrics_counter_l("origin.http.served", "Files served under /live/.", "kind", "manifest");
    origin_http_m.served_media =
        metrics_counter_l("origin.http.served", "Files served under /live/.", "kind", "media");
    origin_http_m.not_found = metrics_counter(
        "origin.http.not_found", "Requests under /live/ for a file that does not exist (yet).");
    origin_http_m.not_modified =
        metrics_counter("origin.http.not_modified", "304 answers under /live/.");
    origin_http_m.ranges = metrics_counter("origin.http.ranges", "206 answers under /live/.");
    origin_http_m.recovering = metrics_counter(
        "origin.http.recovering", "503s for live manifests while the journals are replayed.");
}

bool
origin_http_name_ok(const char *s, size_t len)
{
    size_t i;

    if (len == 0 || len > ORIGIN_HTTP_NAME_MAX || s[0] == '.')
        return false;
    for (i = 0; i < len; i++) {
        char c = s[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return false;
    }
    return true;
}

static bool
origin_http_is_digits(const char *s, size_t len)
{
    size_t i;

    if (len == 0 || len > 20)
        return false;
    for (i = 0; i < len; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    /* One spelling per segment: no leading zeros, so one file has one URL. */
    return !(len > 1 && s[0] == '0');
}

static bool
origin_http_ends(const char *s, size_t len, const char *suffix)
{
    size_t n = strlen(suffix);

    return len >= n && memcmp(s + len - n, suffix, n) == 0;
}

enum origin_http_kind
origin_http_classify(const char *path, char *rel, size_t relsz, const char **ctype)
{
    const char *comp[3];
    size_t clen[3];
    size_t n = 0;
    const char *p, *slash;
    enum origin_http_kind kind = ORIGIN_HTTP_NONE;
    int w;

    *ctype = NULL;
    /* VOD files share the live layout: /vod/{video}/... (docs/vod.md). */
    if (strncmp(path, "/live/", 6) == 0)
        p = path + 6;
    else if (strncmp(path, "/vod/", 5) == 0)
        p = path + 5;
    else
        return ORIGIN_HTTP_NONE;
    for (;;) {
        if (n == 3)
            return ORIGIN_HTTP_NONE;
        slash = strchr(p, '/');
        comp[n] = p;
        clen[n] = slash != NULL ? (size_t)(slash - p) : strlen(p);
        if (!origin_http_name_ok(comp[n], clen[n]))
            return ORIGIN_HTTP_NONE;
        n++;
        if (slash == NULL)
            break;
        p = slash + 1;
    }
    if (n == 2) {
        if (clen[1] == 12 && memcmp(comp[1], "manifest.mpd", 12) == 0) {
            kind = ORIGIN_HTTP_MANIFEST;
            *ctype = "application/dash+xml";
        } else if (clen[1] == 11 && memcmp(comp[1], "master.m3u8", 11) == 0) {
            kind = ORIGIN_HTTP_MANIFEST;
            *ctype = "application/vnd.apple.mpegurl";
        } else if (clen[1] == 10 && memcmp(comp[1], "model.json", 10) == 0) {
            kind = ORIGIN_HTTP_MANIFEST;
            *ctype = "application/json";
        }
    } else if (n == 3) {
        bool audio = comp[1][0] == 'a';

        if (clen[2] == 10 && memcmp(comp[2], "media.m3u8", 10) == 0) {
            kind = ORIGIN_HTTP_MANIFEST;
            *ctype = "application/vnd.apple.mpegurl";
        } else if (clen[2] == 8 && memcmp(comp[2], "init.mp4", 8) == 0) {
            kind = ORIGIN_HTTP_MEDIA;
            *ctype = audio ? "audio/mp4" : "video/mp4";
        } else if (origin_http_ends(comp[2], clen[2], ".m4s") &&
                   origin_http_is_digits(comp[2], clen[2] - 4)) {
            kind = ORIGIN_HTTP_MEDIA;
            *ctype = audio ? "audio/mp4" : "video/mp4";
        }
    }
    if (kind == ORIGIN_HTTP_NONE)
        return kind;
    w = snprintf(rel, relsz, "%s", path + 1);
    if (w < 0 || (size_t)w >= relsz) {
        *ctype = NULL;
        return ORIGIN_HTTP_NONE;
    }
    return kind;
}

static const char *
origin_http_skip_ws(const char *p)
{
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

/* Decimal digits into *v; the end, or NULL on no digits or overflow. */
static const char *
origin_http_u64(const char *p, uint64_t *v)
{
    uint64_t x = 0;
    const char *start = p;

    while (*p >= '0' && *p <= '9') {
        unsigned d = (unsigned)(*p - '0');

        if (x > (UINT64_MAX - d) / 10)
            return NULL;
        x = x * 10 + d;
        p++;
    }
    if (p == start)
        return NULL;
    *v = x;
    return p;
}

int
origin_http_range_parse(const char *v, uint64_t size, uint64_t *off, uint64_t *len)
{
    const char *p;
    uint64_t first, last;

    if (strncasecmp(v, "bytes=", 6) != 0)
        return 0;
    p = origin_http_skip_ws(v + 6);
    if (*p == '-') {
        /* SPEC: RFC 9110 14.1.2 -- a suffix range: the last N bytes. */
        p = origin_http_u64(p + 1, &last);
        if (p == NULL)
            return 0;
        p = origin_http_skip_ws(p);
        if (*p != '\0')
            return 0;
        if (last == 0 || size == 0)
            return ERR_LIMIT;
        if (last > size)
            last = size;
        *off = size - last;
        *len = last;
        return 1;
    }
    p = origin_http_u64(p, &first);
    if (p == NULL || *p != '-')
        return 0;
    p++;
    if (*p >= '0' && *p <= '9') {
        p = origin_http_u64(p, &last);
        if (p == NULL || last < first)
            return 0;
    } else {
        last = UINT64_MAX;
    }
    p = origin_http_skip_ws(p);
    if (*p != '\0')
        return 0; /* several ranges (or junk): the whole file is a valid answer */
    if (first >= size)
        return ERR_LIMIT;
    if (last >= size)
        last = size - 1;
    *off = first;
    *len = last - first + 1;
    return 1;
}

bool
origin_http_etag_match(const char *inm, const char *etag)
{
    const char *p = inm;
    size_t elen;

    /* Weak comparison (RFC 9110 13.1.2): W/ prefixes are ignored. */
    if (etag[0] == 'W' && etag[1] == '/')
        etag += 2;
    elen = strlen(etag);
    for (;;) {
        const char *start, *end;

        p = origin_http_skip_ws(p);
        if (*p == '\0')
            return false;
        if (*p == '*')
            return true;
        if (p[0] == 'W' && p[1] == '/')
            p += 2;
        start = p;
        if (*p != '"')
            return false;
        end = strchr(p + 1, '"');
        if (end == NULL)
            return false;
        end++;
        if ((size_t)(end - start) == elen && memcmp(start, etag, elen) == 0)
            return true;
        p = origin_http_skip_ws(end);
        if (*p != ',')
            return false;
        p++;
    }
}

void
origin_http_cors(struct httpd_req *r)
{
    /* SPEC: Fetch standard, CORS protocol -- a web player reads manifests,
     * segments and the Date of responses from another origin. */
    if (httpd_resp_header(r, "Access-Control-Allow-Origin", "*") != 0 ||
        httpd_resp_header(r, "Access-Control-Expose-Headers",
                          "Content-Length, Content-Range, Date, ETag, Last-Modified, Age") != 0 ||
        httpd_resp_header(r, "Timing-Allow-Origin", "*") != 0)
        XXX_HANDLE(0);
}

static void
origin_http_preflight(struct httpd_req *r)
{
    origin_http_cors(r);
    if (httpd_resp_header(r, "Access-Control-Allow-Methods", "GET, HEAD, OPTIONS") != 0 ||
        httpd_resp_header(r, "Access-Control-Allow-Headers",
                          "Range, If-None-Match, If-Modified-Since, CMCD-Request, CMCD-Object, "
                          "CMCD-Status, CMCD-Session") != 0 ||
        httpd_resp_header(r, "Access-Control-Max-Age", "86400") != 0 ||
        httpd_resp_header(r, "Allow", "GET, HEAD, OPTIONS") != 0)
        XXX_HANDLE(0);
    httpd_resp_start(r, 204, 0);
    httpd_resp_end(r);
}

static void
origin_http_http_date(time_t t, char *out, size_t outsz)
{
    struct tm tm;

    AN(gmtime_r(&t, &tm));
    if (strftime(out, outsz, "%a, %d %b %Y %H:%M:%S GMT", &tm) == 0)
        out[0] = '\0';
}

/* An HTTP-date (IMF-fixdate only, which is what we send) -> Unix seconds, or -1. */
static time_t
origin_http_parse_date(const char *s)
{
    struct tm tm;
    const char *end;

    memset(&tm, 0, sizeof(tm));
    end = strptime(s, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    if (end == NULL || *end != '\0')
        return (time_t)-1;
    return timegm(&tm);
}

static void
origin_http_not_found(struct httpd_req *r)
{
    metric_inc(origin_http_m.not_found);
    origin_http_cors(r);
    if (httpd_resp_header(r, "Cache-Control", ORIGIN_HTTP_CC_MISSING) != 0)
        XXX_HANDLE(0);
    httpd_resp_error(r, 404, "not_found", "no such file (yet)");
}

/* A live manifest asked for while the journals are replayed (live_mem.h). */
static void
origin_http_recovering(struct httpd_req *r)
{
    metric_inc(origin_http_m.recovering);
    origin_http_cors(r);
    httpd_resp_set(r, "Cache-Control", "no-store");
    httpd_resp_set(r, "Retry-After", "1");
    httpd_resp_error(r, 503, "recovering", "the origin is replaying its journals; retry");
}

static bool
origin_http_not_modified(struct httpd_req *r, const char *etag, time_t mtime)
{
    const char *inm = httpd_req_header(r, "If-None-Match");
    const char *ims;
    time_t t;

    /* SPEC: RFC 9110 13.2.2 -- If-None-Match wins over If-Modified-Since. */
    if (inm != NULL)
        return origin_http_etag_match(inm, etag);
    ims = httpd_req_header(r, "If-Modified-Since");
    if (ims == NULL)
        return false;
    t = origin_http_parse_date(ims);
    return t != (time_t)-1 && mtime <= t;
}

/* If-Range names this representation (strong ETag or the exact date)? */
static bool
origin_http_if_range_ok(struct httpd_req *r, const char *etag, const char *lastmod)
{
    const char *ir = httpd_req_header(r, "If-Range");

    if (ir == NULL)
        return true;
    if (ir[0] == '"')
        return strcmp(ir, etag) == 0;
    return strcmp(ir, lastmod) == 0;
}

/* What a response's body comes from: a file (fd >= 0) or an in-memory manifest. */
struct origin_http_src {
    int fd;                   /* owned, or -1 */
    struct live_mem_doc *doc; /* ref, or NULL */
    uint64_t size;
    time_t mtime;
    char etag[ORIGIN_HTTP_ETAG_MAX];
};

static void
origin_http_src_drop(struct origin_http_src *s)
{
    if (s->fd >= 0)
        (void)close(s->fd);
    s->fd = -1;
    live_mem_doc_unref(&s->doc);
}

/* evbuffer cleanup: the response no longer needs the document's bytes. */
static void
origin_http_doc_release_cb(const void *data, size_t len, void *arg)
{
    struct live_mem_doc *d;

    (void)data;
    (void)len;
    CAST_OBJ_NOTNULL(d, arg, LIVE_MEM_DOC_MAGIC);
    live_mem_doc_unref(&d);
}

/* Adds len bytes of s from off to body; s's fd or ref passes to body whatever happens. */
static int
origin_http_src_add(struct evbuffer *body, struct origin_http_src *s, uint64_t off, uint64_t len)
{
    struct live_mem_doc *d = s->doc;
    int rc;

    if (s->doc == NULL) {
        /* evbuffer_add_file() owns fd from here, whatever it returns. */
        rc = evbuffer_add_file(body, s->fd, (ev_off_t)off, (ev_off_t)len);
        s->fd = -1;
        return rc;
    }
    s->doc = NULL;
    rc = evbuffer_add_reference(body, d->data + off, (size_t)len, origin_http_doc_release_cb, d);
    if (rc != 0)
        live_mem_doc_unref(&d); /* libevent skips the cleanup when the add fails */
    return rc;
}

static void
origin_http_send(struct httpd_req *r, struct origin_http_src *s, enum origin_http_kind kind,
                 const char *ctype)
{
    char lastmod[ORIGIN_HTTP_DATE_MAX], crange[80];
    uint64_t size = s->size, off = 0, len = size;
    struct evbuffer *body;
    const char *rv;
    int status = 200, rc;

    origin_http_http_date(s->mtime, lastmod, sizeof(lastmod));
    origin_http_cors(r);
    if (httpd_resp_header(r, "Cache-Control",
                          kind == ORIGIN_HTTP_MEDIA ? ORIGIN_HTTP_CC_MEDIA
                                                    : ORIGIN_HTTP_CC_MANIFEST) != 0 ||
        httpd_resp_header(r, "ETag", s->etag) != 0 ||
        (lastmod[0] != '\0' && httpd_resp_header(r, "Last-Modified", lastmod) != 0) ||
        httpd_resp_header(r, "Accept-Ranges", "bytes") != 0 ||
        httpd_resp_header(r, "Content-Type", ctype) != 0)
        XXX_HANDLE(0);
    metric_inc(kind == ORIGIN_HTTP_MEDIA ? origin_http_m.served_media
                                         : origin_http_m.served_manifest);

    if (origin_http_not_modified(r, s->etag, s->mtime)) {
        metric_inc(origin_http_m.not_modified);
        origin_http_src_drop(s);
        httpd_resp_start(r, 304, 0);
        httpd_resp_end(r);
        return;
    }
    rv = httpd_req_header(r, "Range");
    if (rv != NULL && origin_http_if_range_ok(r, s->etag, lastmod)) {
        rc = origin_http_range_parse(rv, size, &off, &len);
        if (rc == ERR_LIMIT) {
            origin_http_src_drop(s);
            (void)snprintf(crange, sizeof(crange), "bytes */%" PRIu64, size);
            if (httpd_resp_header(r, "Content-Range", crange) != 0)
                XXX_HANDLE(0);
            httpd_resp_start(r, 416, 0);
            httpd_resp_end(r);
            return;
        }
        if (rc == 1) {
            metric_inc(origin_http_m.ranges);
            status = 206;
            (void)snprintf(crange, sizeof(crange), "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64, off,
                           off + len - 1, size);
            if (httpd_resp_header(r, "Content-Range", crange) != 0)
                XXX_HANDLE(0);
        }
    }
    httpd_resp_start(r, status, (int64_t)len);
    if (len == 0 || httpd_req_method(r) == HTTP1_M_HEAD) {
        origin_http_src_drop(s);
        httpd_resp_end(r);
        return;
    }
    body = evbuffer_new();
    AN(body);
    if (origin_http_src_add(body, s, off, len) != 0 || httpd_resp_add_buffer(r, body) != 0) {
        LOG(LOG_WARN, "origin_http", "send_failed", "conn=%" PRIu64 " path=%s",
            httpd_req_conn_id(r), httpd_req_path(r));
    }
    evbuffer_free(body);
    httpd_resp_end(r);
}

void
origin_http_serve(struct httpd_req *r, const char *data_dir)
{
    char rel[ORIGIN_HTTP_PATH_MAX], full[ORIGIN_HTTP_PATH_MAX + 512];
    enum origin_http_kind kind;
    enum http1_method m = httpd_req_method(r);
    struct origin_http_src src;
    const char *ctype;
    struct stat st;
    int fd, w;

    if (m == HTTP1_M_OPTIONS) {
        origin_http_preflight(r);
        return;
    }
    if (m != HTTP1_M_GET && m != HTTP1_M_HEAD) {
        origin_http_cors(r);
        if (httpd_resp_header(r, "Allow", "GET, HEAD, OPTIONS") != 0)
            XXX_HANDLE(0);
        httpd_resp_error(r, 405, "method_not_allowed", "live files are read-only");
        return;
    }
    kind = origin_http_classify(httpd_req_path(r), rel, sizeof(rel), &ctype);
    if (kind == ORIGIN_HTTP_NONE) {
        origin_http_not_found(r);
        return;
    }
    w = snprintf(full, sizeof(full), "%s/%s", data_dir, rel);
    if (w < 0 || (size_t)w >= sizeof(full)) {
        origin_http_not_found(r);
        return;
    }
    memset(&src, 0, sizeof(src));
    src.fd = -1;
    /* A running live stream's manifests are in memory (live_mem.h), not on disk. */
    if (kind == ORIGIN_HTTP_MANIFEST && (src.doc = live_mem_get(full)) != NULL) {
        src.size = src.doc->len;
        src.mtime = (time_t)(src.doc->mtime_ms / 1000u);
        (void)snprintf(src.etag, sizeof(src.etag), "%s", src.doc->etag);
        origin_http_send(r, &src, kind, ctype);
        return;
    }
    if (kind == ORIGIN_HTTP_MANIFEST && strncmp(rel, "live/", 5) == 0 && live_mem_recovering()) {
        origin_http_recovering(r);
        return;
    }
    /* The alphabet check keeps us under data_dir; O_NOFOLLOW keeps a planted
     * symlink from leading out of it. */
    fd = open(full, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0) {
        if (errno != ENOENT && errno != ENOTDIR)
            LOG_RL(LOG_WARN, "origin_http", "open_failed", 5, "conn=%" PRIu64 " path=%s err=%s",
                   httpd_req_conn_id(r), rel, err_name(-errno));
        origin_http_not_found(r);
        return;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        (void)close(fd);
        origin_http_not_found(r);
        return;
    }
    src.fd = fd;
    src.size = (uint64_t)st.st_size;
    src.mtime = st.st_mtim.tv_sec;
    (void)snprintf(src.etag, sizeof(src.etag), "\"%" PRIx64 "-%" PRIx64 "-%" PRIx64 "\"",
                   (uint64_t)st.st_ino, src.size,
                   (uint64_t)st.st_mtim.tv_sec * 1000000000u + (uint64_t)st.st_mtim.tv_nsec);
    origin_http_send(r, &src, kind, ctype);
}
