/*
 * test_player.c -- the viewer page's files (edge/player.c): the name rules and the
 * If-None-Match matcher as pure functions, then a real httpd on 127.0.0.1 serving a
 * temporary directory: types, ETag and 304, HEAD, cache lifetimes, the redirect of
 * /player, 404 and 405 as JSON, paths that are not the player's left to the router,
 * and every kind of path escape refused without touching the file outside the roots.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "http_test.h"
#include "err.h"
#include "httpd.h"
#include "../../edge/player.c" /* static helpers; it includes compat.h */

/* atoi() is poisoned (compat.h). */
#define atoi_safe(s) ((int)strtol((s), NULL, 10))

#define INDEX_BODY "<!doctype html><title>t</title>\n"
#define JS_BODY "export const x = 1;\n"
#define VENDOR_BODY "var dashjs = {};\n"
#define SECRET_BODY "top secret\n"

static struct {
    struct event_base *base;
    struct httpd *h;
    uint16_t port;
    char dir[64];
    char web[96];
    char vendor[96];
    int others; /* requests edge_player_serve() left to the router */
    char text[65536];
} T;

/* ---- the temporary site ---- */

static void
tp_write(const char *rel, const char *body)
{
    char path[256];
    FILE *f;

    (void)snprintf(path, sizeof(path), "%s/%s", T.dir, rel);
    f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(strlen(body), fwrite(body, 1, strlen(body), f));
    assert_int_equal(0, fclose(f));
}

static void
tp_mkdir(const char *rel)
{
    char path[256];

    (void)snprintf(path, sizeof(path), "%s/%s", T.dir, rel);
    assert_int_equal(0, mkdir(path, 0755));
}

static void
tp_remove(const char *rel, bool dir)
{
    char path[256];

    (void)snprintf(path, sizeof(path), "%s/%s", T.dir, rel);
    assert_int_equal(0, dir ? rmdir(path) : unlink(path));
}

static const char *const tp_files[] = {
    "secret.txt",    "web/index.html", "web/player.js", "web/.hidden",    "web/sub/page.css",
    "web/empty.txt", "web/data.bin",   "web/link.js",   "vendor/dash.js", "vendor/dash.js.map",
};

static void
tp_site_new(void)
{
    char path[256];

    (void)snprintf(T.dir, sizeof(T.dir), "/tmp/cascade-player-XXXXXX");
    assert_non_null(mkdtemp(T.dir));
    tp_mkdir("web");
    tp_mkdir("web/sub");
    tp_mkdir("vendor");
    tp_write("secret.txt", SECRET_BODY);
    tp_write("web/index.html", INDEX_BODY);
    tp_write("web/player.js", JS_BODY);
    tp_write("web/.hidden", SECRET_BODY);
    tp_write("web/sub/page.css", "body{}\n");
    tp_write("web/empty.txt", "");
    tp_write("web/data.bin", "\x01\x02");
    tp_write("vendor/dash.js", VENDOR_BODY);
    tp_write("vendor/dash.js.map", "{}\n");
    /* An operator's symbolic link inside a root is followed (player.h). */
    (void)snprintf(path, sizeof(path), "%s/web/link.js", T.dir);
    assert_int_equal(0, symlink("player.js", path));
    (void)snprintf(T.web, sizeof(T.web), "%s/web", T.dir);
    (void)snprintf(T.vendor, sizeof(T.vendor), "%s/vendor", T.dir);
}

static void
tp_site_free(void)
{
    size_t i;

    for (i = 0; i < ARRAY_SIZE(tp_files); i++)
        tp_remove(tp_files[i], false);
    tp_remove("web/sub", true);
    tp_remove("web", true);
    tp_remove("vendor", true);
    assert_int_equal(0, rmdir(T.dir));
}

/* ---- the server ---- */

static void
tp_handler(struct httpd_req *r, void *arg)
{
    (void)arg;
    if (edge_player_serve(r, T.web, T.vendor))
        return;
    T.others++;
    httpd_resp_send(r, 418, "text/plain", "router\n", 7);
}

static void
tp_start(void)
{
    int fd;

    T.base = event_base_new();
    assert_non_null(T.base);
    T.h = httpd_new(T.base, NULL, tp_handler, NULL);
    assert_non_null(T.h);
    fd = ht_listen(&T.port, 64);
    assert_int_equal(0, httpd_listen_fd(T.h, fd));
    T.others = 0;
}

static void
tp_stop(int64_t live)
{
    httpd_free(&T.h);
    ht_settle(T.base);
    UNIT_END_LOOP(T.base, live);
    event_base_free(T.base);
    T.base = NULL;
}

/*
 * Sends one request (the head without its final CRLF) with Connection: close and
 * returns everything that came back, up to the server's close.
 */
static const char *
tp_request(const char *head)
{
    struct ht_client *c = ht_client_new(T.base, T.port, 0);
    char req[2048];

    (void)snprintf(req, sizeof(req), "%sHost: edge.test\r\nConnection: close\r\n\r\n", head);
    ht_client_send(c, req);
    HT_WAIT(T.base, c->eof || c->err, 2000);
    assert_true(c->eof);
    (void)snprintf(T.text, sizeof(T.text), "%s", ht_client_text(c));
    ht_client_free(&c);
    return T.text;
}

static const char *
tp_get(const char *target)
{
    char head[1024];

    (void)snprintf(head, sizeof(head), "GET %s HTTP/1.1\r\n", target);
    return tp_request(head);
}

static int
tp_status(const char *t)
{
    assert_true(strncmp(t, "HTTP/1.1 ", 9) == 0);
    return atoi_safe(t + 9);
}

static const char *
tp_body(const char *t)
{
    const char *b = strstr(t, "\r\n\r\n");

    assert_non_null(b);
    return b + 4;
}

/* The value of a response header (first match, case as sent), copied into out. */
static bool
tp_header(const char *t, const char *name, char *out, size_t cap)
{
    char key[80];
    const char *p, *end;
    size_t n;

    (void)snprintf(key, sizeof(key), "\r\n%s: ", name);
    p = strstr(t, key);
    if (p == NULL || p > strstr(t, "\r\n\r\n"))
        return false;
    p += strlen(key);
    end = strstr(p, "\r\n");
    n = (size_t)(end - p);
    assert_true(n < cap);
    memcpy(out, p, n);
    out[n] = '\0';
    return true;
}

/* ---- pure tests ---- */

static void
test_player_map(void **state)
{
    static const struct {
        const char *path;
        int rc; /* length, or an error */
        const char *name;
        enum edge_player_root root;
    } cases[] = {
        {"/player/", 10, "index.html", EDGE_PLAYER_ROOT_WEB},
        {"/player/player.js", 9, "player.js", EDGE_PLAYER_ROOT_WEB},
        {"/player/features/ticker.js", 18, "features/ticker.js", EDGE_PLAYER_ROOT_WEB},
        {"/player/vendor/dash.mediaplayer.min.js", 23, "dash.mediaplayer.min.js",
         EDGE_PLAYER_ROOT_VENDOR},
        {"/player/%76endor/dash.js", 7, "dash.js", EDGE_PLAYER_ROOT_VENDOR},
        {"/player/a%2Fb.js", 6, "a/b.js", EDGE_PLAYER_ROOT_WEB},
        {"/player/x~y_z-1.css", 11, "x~y_z-1.css", EDGE_PLAYER_ROOT_WEB},
        {"/player/vendor", 6, "vendor", EDGE_PLAYER_ROOT_WEB},
        {"/player/vendor/", ERR_NOTFOUND, NULL, 0},
        {"/player", ERR_NOTFOUND, NULL, 0},
        {"/playerx/a.js", ERR_NOTFOUND, NULL, 0},
        {"/live/a/manifest.mpd", ERR_NOTFOUND, NULL, 0},
        {"/player/../secret.txt", ERR_PROTO, NULL, 0},
        {"/player/..", ERR_PROTO, NULL, 0},
        {"/player/.", ERR_PROTO, NULL, 0},
        {"/player/%2e%2e/secret.txt", ERR_PROTO, NULL, 0},
        {"/player/%2E%2E%2Fsecret.txt", ERR_PROTO, NULL, 0},
        {"/player/.%2e/secret.txt", ERR_PROTO, NULL, 0},
        {"/player/vendor/../../secret.txt", ERR_PROTO, NULL, 0},
        {"/player/vendor/%2e%2e/web/index.html", ERR_PROTO, NULL, 0},
        {"/player/sub/../../secret.txt", ERR_PROTO, NULL, 0},
        {"/player//etc/passwd", ERR_PROTO, NULL, 0},
        {"/player/%2Fetc/passwd", ERR_PROTO, NULL, 0},
        {"/player/a%00.js", ERR_PROTO, NULL, 0},
        {"/player/a%5C..%5Csecret", ERR_PROTO, NULL, 0},
        {"/player/a\\b", ERR_PROTO, NULL, 0},
        {"/player/.hidden", ERR_PROTO, NULL, 0},
        {"/player/sub/", ERR_PROTO, NULL, 0},
        {"/player/a%", ERR_PROTO, NULL, 0},
        {"/player/a%2", ERR_PROTO, NULL, 0},
        {"/player/a%zz", ERR_PROTO, NULL, 0},
        {"/player/a%20b", ERR_PROTO, NULL, 0},
        {"/player/caf%C3%A9.js", ERR_PROTO, NULL, 0},
        {"/player/a:b", ERR_PROTO, NULL, 0},
    };
    char out[EDGE_PLAYER_NAME_MAX + 1], small[4], path[600];
    enum edge_player_root root;
    int64_t live = mem_live();
    size_t i;
    int rc;

    (void)state;
    for (i = 0; i < ARRAY_SIZE(cases); i++) {
        root = (enum edge_player_root)99;
        rc = edge_player_map(cases[i].path, out, sizeof(out), &root);
        if (rc != cases[i].rc)
            fail_msg("%s: rc %d, want %d", cases[i].path, rc, cases[i].rc);
        if (rc >= 0) {
            assert_string_equal(cases[i].name, out);
            assert_int_equal(cases[i].root, root);
            assert_true(edge_player_name_check(out));
        }
    }
    /* Longer than the name limit, or than the caller's buffer. */
    memset(path, 'a', sizeof(path) - 1);
    path[sizeof(path) - 1] = '\0';
    memcpy(path, "/player/", 8);
    assert_int_equal(ERR_LIMIT, edge_player_map(path, out, sizeof(out), &root));
    assert_int_equal(ERR_LIMIT, edge_player_map("/player/abcd.js", small, sizeof(small), &root));
    assert_int_equal(ERR_LIMIT, edge_player_map("/player/", small, sizeof(small), &root));
    assert_int_equal(3, edge_player_map("/player/abc", small, sizeof(small), &root));
    UNIT_END(live);
}

static void
test_player_etag_match(void **state)
{
    static const struct {
        const char *inm;
        bool match;
    } cases[] = {
        {"\"1-2-3\"", true},
        {"W/\"1-2-3\"", true},
        {"*", true},
        {"  * ", true},
        {"\"x\", \"1-2-3\"", true},
        {"\"x\",W/\"1-2-3\" , \"y\"", true},
        {", ,\"1-2-3\"", true},
        {"\"1-2-4\"", false},
        {"1-2-3", false},
        {"\"1-2-3", false},
        {"\"x\" \"1-2-3\"", false},
        {"*, \"1-2-3\"", false},
        {"w/\"1-2-3\"", false},
        {"", false},
        {"\"a b\", \"1-2-3\"", false},
    };
    int64_t live = mem_live();
    size_t i;

    (void)state;
    for (i = 0; i < ARRAY_SIZE(cases); i++)
        if (edge_player_etag_match(cases[i].inm, "\"1-2-3\"") != cases[i].match)
            fail_msg("If-None-Match %s: want %d", cases[i].inm, cases[i].match);
    UNIT_END(live);
}

/* ---- over the wire ---- */

static void
test_player_serves_files(void **state)
{
    int64_t live = mem_live();
    char v[256], etag[128];
    const char *t;

    (void)state;
    tp_start();
    t = tp_get("/player/?stream=a");
    assert_int_equal(200, tp_status(t));
    assert_string_equal(INDEX_BODY, tp_body(t));
    assert_true(tp_header(t, "Content-Type", v, sizeof(v)));
    assert_string_equal("text/html; charset=utf-8", v);
    assert_true(tp_header(t, "Cache-Control", v, sizeof(v)));
    assert_string_equal("public, max-age=60", v);
    assert_true(tp_header(t, "X-Content-Type-Options", v, sizeof(v)));
    assert_true(tp_header(t, "Content-Security-Policy", v, sizeof(v)));
    assert_non_null(strstr(v, "script-src 'self'"));
    assert_true(tp_header(t, "Content-Length", v, sizeof(v)));
    assert_int_equal(strlen(INDEX_BODY), atoi_safe(v));
    assert_true(tp_header(t, "ETag", etag, sizeof(etag)));
    assert_int_equal('"', etag[0]);

    t = tp_get("/player/index.html");
    assert_int_equal(200, tp_status(t));
    assert_true(tp_header(t, "ETag", v, sizeof(v)));
    assert_string_equal(etag, v);

    t = tp_get("/player/player.js");
    assert_int_equal(200, tp_status(t));
    assert_string_equal(JS_BODY, tp_body(t));
    assert_true(tp_header(t, "Content-Type", v, sizeof(v)));
    assert_string_equal("text/javascript; charset=utf-8", v);
    assert_false(tp_header(t, "Content-Security-Policy", v, sizeof(v)));

    t = tp_get("/player/link.js");
    assert_int_equal(200, tp_status(t));
    assert_string_equal(JS_BODY, tp_body(t));

    t = tp_get("/player/sub/page.css");
    assert_int_equal(200, tp_status(t));
    assert_true(tp_header(t, "Content-Type", v, sizeof(v)));
    assert_string_equal("text/css; charset=utf-8", v);

    t = tp_get("/player/data.bin");
    assert_int_equal(200, tp_status(t));
    assert_true(tp_header(t, "Content-Type", v, sizeof(v)));
    assert_string_equal("application/octet-stream", v);

    t = tp_get("/player/empty.txt");
    assert_int_equal(200, tp_status(t));
    assert_string_equal("", tp_body(t));
    assert_true(tp_header(t, "Content-Length", v, sizeof(v)));
    assert_string_equal("0", v);

    t = tp_get("/player/vendor/dash.js");
    assert_int_equal(200, tp_status(t));
    assert_string_equal(VENDOR_BODY, tp_body(t));
    assert_true(tp_header(t, "Cache-Control", v, sizeof(v)));
    assert_string_equal("public, max-age=86400", v);
    assert_true(tp_header(t, "Content-Type", v, sizeof(v)));
    assert_string_equal("text/javascript; charset=utf-8", v);

    t = tp_get("/player/vendor/dash.js.map");
    assert_true(tp_header(t, "Content-Type", v, sizeof(v)));
    assert_string_equal("application/json", v);
    assert_int_equal(0, T.others);
    tp_stop(live);
}

static void
test_player_conditional_and_head(void **state)
{
    int64_t live = mem_live();
    char v[256], etag[128], head[512];
    const char *t;

    (void)state;
    tp_start();
    t = tp_get("/player/vendor/dash.js");
    assert_true(tp_header(t, "ETag", etag, sizeof(etag)));

    (void)snprintf(head, sizeof(head),
                   "GET /player/vendor/dash.js HTTP/1.1\r\n"
                   "If-None-Match: \"other\", W/%s\r\n",
                   etag);
    t = tp_request(head);
    assert_int_equal(304, tp_status(t));
    assert_string_equal("", tp_body(t));
    assert_true(tp_header(t, "ETag", v, sizeof(v)));
    assert_string_equal(etag, v);
    assert_true(tp_header(t, "Cache-Control", v, sizeof(v)));
    assert_string_equal("public, max-age=86400", v);
    assert_false(tp_header(t, "Content-Length", v, sizeof(v)));

    t = tp_request("GET /player/vendor/dash.js HTTP/1.1\r\nIf-None-Match: \"stale\"\r\n");
    assert_int_equal(200, tp_status(t));
    assert_string_equal(VENDOR_BODY, tp_body(t));

    t = tp_request("GET /player/ HTTP/1.1\r\nIf-None-Match: *\r\n");
    assert_int_equal(304, tp_status(t));

    t = tp_request("HEAD /player/player.js HTTP/1.1\r\n");
    assert_int_equal(200, tp_status(t));
    assert_string_equal("", tp_body(t));
    assert_true(tp_header(t, "Content-Length", v, sizeof(v)));
    assert_int_equal(strlen(JS_BODY), atoi_safe(v));
    assert_true(tp_header(t, "ETag", v, sizeof(v)));

    /* A new version of the file is a new tag: the old one no longer matches. */
    tp_write("web/player.js", JS_BODY "export const y = 2;\n");
    (void)snprintf(head, sizeof(head), "GET /player/player.js HTTP/1.1\r\nIf-None-Match: %s\r\n",
                   v);
    t = tp_request(head);
    assert_int_equal(200, tp_status(t));
    assert_string_equal(JS_BODY "export const y = 2;\n", tp_body(t));
    tp_write("web/player.js", JS_BODY);
    tp_stop(live);
}

static void
test_player_redirect_errors_and_others(void **state)
{
    int64_t live = mem_live();
    const char *t;
    char v[256];

    (void)state;
    tp_start();
    t = tp_get("/player?stream=a&stats=1");
    assert_int_equal(301, tp_status(t));
    assert_true(tp_header(t, "Location", v, sizeof(v)));
    assert_string_equal("/player/?stream=a&stats=1", v);
    t = tp_get("/player");
    assert_true(tp_header(t, "Location", v, sizeof(v)));
    assert_string_equal("/player/", v);

    t = tp_get("/player/missing.js");
    assert_int_equal(404, tp_status(t));
    assert_true(tp_header(t, "Content-Type", v, sizeof(v)));
    assert_string_equal("application/json", v);
    assert_non_null(strstr(tp_body(t), "\"code\":\"not_found\""));
    assert_int_equal(404, tp_status(tp_get("/player/sub")));         /* a directory */
    assert_int_equal(404, tp_status(tp_get("/player/vendor/")));     /* no listings */
    assert_int_equal(404, tp_status(tp_get("/player/vendor")));      /* a directory */
    assert_int_equal(404, tp_status(tp_get("/player/vendor/x.js"))); /* missing */

    t = tp_request("POST /player/ HTTP/1.1\r\nContent-Length: 0\r\n");
    assert_int_equal(405, tp_status(t));
    assert_true(tp_header(t, "Allow", v, sizeof(v)));
    assert_string_equal("GET, HEAD", v);
    assert_non_null(strstr(tp_body(t), "\"code\":\"method_not_allowed\""));

    assert_int_equal(0, T.others);
    t = tp_get("/live/a/manifest.mpd");
    assert_int_equal(418, tp_status(t));
    t = tp_get("/playerx");
    assert_int_equal(418, tp_status(t));
    t = tp_get("/");
    assert_int_equal(418, tp_status(t));
    assert_int_equal(3, T.others);
    tp_stop(live);
}

static void
test_player_refuses_path_escapes(void **state)
{
    static const char *const escapes[] = {
        "/player/../secret.txt",
        "/player/%2e%2e/secret.txt",
        "/player/%2E%2E/secret.txt",
        "/player/%2e%2e%2fsecret.txt",
        "/player/.%2E/secret.txt",
        "/player/vendor/../../secret.txt",
        "/player/vendor/%2e%2e/%2e%2e/secret.txt",
        "/player/sub/..%2f..%2fsecret.txt",
        "/player//tmp/secret.txt",
        "/player/%2ftmp/secret.txt",
        "/player/secret.txt%00.js",
        "/player/..%5c..%5csecret.txt",
        "/player/.hidden",
        "/player/%2ehidden",
        "/player/vendor/.%2e/.%2e/secret.txt",
    };
    int64_t live = mem_live();
    const char *t;
    char target[256];
    size_t i;
    int n;

    (void)state;
    tp_start();
    for (i = 0; i < ARRAY_SIZE(escapes); i++) {
        t = tp_get(escapes[i]);
        if (tp_status(t) != 400)
            fail_msg("%s: status %d, want 400", escapes[i], tp_status(t));
        assert_null(strstr(t, "top secret"));
        assert_non_null(strstr(tp_body(t), "\"code\":\"bad_path\""));
    }
    /* An absolute path to the file, inside the player's prefix, is a relative name. */
    n = snprintf(target, sizeof(target), "/player/%s/secret.txt", T.dir + 1);
    assert_true(n > 0 && (size_t)n < sizeof(target));
    t = tp_get(target);
    assert_int_equal(404, tp_status(t));
    assert_null(strstr(t, "top secret"));
    assert_int_equal(0, T.others);
    tp_stop(live);
}

static void
test_player_missing_roots(void **state)
{
    int64_t live = mem_live();
    char web[sizeof(T.web)], vendor[sizeof(T.vendor)];

    (void)state;
    memcpy(web, T.web, sizeof(web));
    memcpy(vendor, T.vendor, sizeof(vendor));
    T.web[0] = '\0';
    (void)snprintf(T.vendor, sizeof(T.vendor), "%s/nowhere", T.dir);
    tp_start();
    assert_int_equal(404, tp_status(tp_get("/player/")));
    assert_int_equal(404, tp_status(tp_get("/player/vendor/dash.js")));
    tp_stop(live);
    memcpy(T.web, web, sizeof(web));
    memcpy(T.vendor, vendor, sizeof(vendor));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_player_map),
        cmocka_unit_test(test_player_etag_match),
        cmocka_unit_test(test_player_serves_files),
        cmocka_unit_test(test_player_conditional_and_head),
        cmocka_unit_test(test_player_redirect_errors_and_others),
        cmocka_unit_test(test_player_refuses_path_escapes),
        cmocka_unit_test(test_player_missing_roots),
    };
    struct event_base *base;
    struct httpd *h;
    int rc;

    signal(SIGPIPE, SIG_IGN);
    tp_site_new();
    /* Register the process-wide metrics before any test counts allocations. */
    base = event_base_new();
    h = httpd_new(base, NULL, tp_handler, NULL);
    httpd_free(&h);
    event_base_free(base);
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    tp_site_free();
    return rc;
}
