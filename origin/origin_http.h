/*
 * origin_http.h -- serving /live/... from the data directory.
 *
 * The packager (live.c) writes every file of a live stream atomically
 * (write a hidden temporary, rename) and keeps a running stream's
 * manifests in memory (live_mem.h); this module only reads them, from any
 * HTTP worker thread: the in-memory manifest first, else the file. Per
 * class of file it sets the caching headers an edge and a player need
 * (docs/origin.md):
 *
 *   manifests  manifest.mpd master.m3u8 model.json {rep}/media.m3u8
 *              Cache-Control: public, max-age=1, stale-while-revalidate=2
 *   media      {rep}/init.mp4 {rep}/{t}.m4s
 *              Cache-Control: public, max-age=31536000, immutable
 *   missing    404 with Cache-Control: public, max-age=1 (a segment asked
 *              for just before it exists must not be cached for long)
 *
 * plus CORS for web players, a strong ETag and Last-Modified, conditional
 * GET (304), HEAD, one byte range (206/416), and OPTIONS preflights. Path
 * components are checked against a strict alphabet before any file is
 * opened, so no request escapes data.dir.
 *
 * Not here: writing the files (live.c), routing (origin_main.c).
 */
#ifndef CASCADE_ORIGIN_HTTP_H
#define CASCADE_ORIGIN_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "miniobj.h"

struct httpd_req;

#define ORIGIN_HTTP_NAME_MAX 64 /* one path component */

enum origin_http_kind {
    ORIGIN_HTTP_NONE = 0, /* not a file we publish: 404 */
    ORIGIN_HTTP_MANIFEST, /* short-lived */
    ORIGIN_HTTP_MEDIA,    /* immutable */
};

/*
 * Classifies a request path (without the query) under /live/. On success
 * returns the kind and writes the path relative to the data directory
 * ("live/a/v0/0.m4s") into rel (NUL-terminated) and the content type into
 * *ctype (static). ORIGIN_HTTP_NONE for anything else: other prefixes,
 * names outside [A-Za-z0-9._-], a leading '.', empty or long components,
 * percent escapes, file names we never write. Pure.
 */
enum origin_http_kind origin_http_classify(const char *path, char *rel, size_t relsz,
                                           const char **ctype);

/* A stream or representation name: 1..ORIGIN_HTTP_NAME_MAX of [A-Za-z0-9._-], no leading '.'. */
bool origin_http_name_ok(const char *s, size_t len);

/*
 * Parses a Range header value against a file of size bytes (SPEC: RFC
 * 9110 14.1.2). Returns 1 with *off and *len for one satisfiable byte
 * range; 0 when the header is to be ignored and the whole file sent
 * (another unit, several ranges, bad syntax); ERR_LIMIT when the range
 * cannot be satisfied (416). Pure.
 */
int origin_http_range_parse(const char *v, uint64_t size, uint64_t *off, uint64_t *len) WARN_UNUSED;

/* True when an If-None-Match value (a list, or "*") matches etag (weak comparison). */
bool origin_http_etag_match(const char *inm, const char *etag);

/*
 * Answers r, a request whose path starts with /live/, from
 * data_dir/live/... (GET, HEAD, OPTIONS; 405 otherwise). Blocking file
 * opens: the files are local and small.
 */
void origin_http_serve(struct httpd_req *r, const char *data_dir);

/* Registers the metrics; once, before the workers start. */
void origin_http_init(void);

/* CORS headers for a response to a web player (also used by the REST API). */
void origin_http_cors(struct httpd_req *r);

#endif
