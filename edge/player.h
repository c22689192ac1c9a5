/*
 * player.h -- the viewer page's files, as an edge serves them: /player/ and its
 * assets from web_root (the repository's web/), /player/vendor/ from vendor_root
 * (dash.js from npm: node_modules/dashjs/dist/modern/umd).
 *
 * The router calls edge_player_serve() for every request; it answers the ones under
 * /player and returns false for the rest. Not here: the page itself (web/, described
 * in docs/player.md), caching policy of proxied objects (cache_policy.c).
 */
#ifndef CASCADE_EDGE_PLAYER_H
#define CASCADE_EDGE_PLAYER_H

#include <stdbool.h>
#include <stddef.h>

#include "miniobj.h"

struct httpd_req;

/* Longest file name below a root that is served (decoded bytes). */
#define EDGE_PLAYER_NAME_MAX 255
/* Largest file served; dash.js is under 1 MiB. */
#define EDGE_PLAYER_FILE_MAX (16u << 20)

enum edge_player_root {
    EDGE_PLAYER_ROOT_WEB = 0,    /* web_root: the page, its modules and style */
    EDGE_PLAYER_ROOT_VENDOR = 1, /* vendor_root: /player/vendor/... */
};

/*
 * Answers r when its path is /player or below it and returns true; returns false,
 * touching nothing, for any other path.
 *   GET/HEAD /player             301 to /player/ (query kept)
 *   GET/HEAD /player/            web_root/index.html
 *   GET/HEAD /player/NAME        web_root/NAME
 *   GET/HEAD /player/vendor/NAME vendor_root/NAME
 * NAME is percent-decoded, then must be segments of [A-Za-z0-9._~-] that do not start
 * with '.' (so no "..", no hidden files, no NUL, no absolute path, no backslash); else
 * 400 bad_path. Only regular files are served (symbolic links are not followed); a
 * missing one is 404 not_found; other methods 405. Answers carry Content-Type from the
 * extension, a strong ETag from size, mtime and inode (If-None-Match gives 304),
 * Cache-Control (60 s for the page's own files, a day for vendor files), and
 * X-Content-Type-Options: nosniff; HTML also gets a Content-Security-Policy that
 * allows scripts from this edge only. The roots are borrowed for the call.
 */
bool edge_player_serve(struct httpd_req *r, const char *web_root, const char *vendor_root);

/*
 * The pure part, for tests and the fuzzer: maps a request path (as sent, with no
 * query) to a root and a decoded file name written to out[0..cap) with a NUL.
 * Returns the name's length; ERR_NOTFOUND when the path is not /player/...; ERR_PROTO
 * for a name refused by the rules above; ERR_LIMIT when the name is longer than
 * EDGE_PLAYER_NAME_MAX or cap - 1. "/player" itself is ERR_NOTFOUND (the redirect is
 * edge_player_serve()'s).
 */
int edge_player_map(const char *path, char *out, size_t cap,
                    enum edge_player_root *root) WARN_UNUSED;

/* Whether name (a result of edge_player_map()) obeys the rules: asserted by the fuzzer. */
bool edge_player_name_check(const char *name);

/*
 * SPEC: RFC 9110 13.1.2 -- whether an If-None-Match value matches etag ("*" matches
 * any; weak comparison). A malformed list matches nothing.
 */
bool edge_player_etag_match(const char *if_none_match, const char *etag);

#endif
