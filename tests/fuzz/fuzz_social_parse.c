/*
 * fuzz_social_parse.c -- the interactions API's input parsers on arbitrary
 * bytes. The first byte picks the parser (route, query, session, comment,
 * reaction or batch body); the rest is its input. Checks after each: a
 * failure carries a 4xx and a code; a success holds only what the limits
 * allow (valid names, UTF-8 text within size, known kinds, buckets).
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "../../origin/meta.c"
#include "../../origin/social_parse.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* meta.c's backends are not linked here. */
int
meta_lmdb_open(struct meta *m, const struct meta_conf *c)
{
    (void)m;
    (void)c;
    return ERR_CONF;
}

int
meta_pg_open(struct meta *m, const struct meta_conf *c)
{
    (void)m;
    (void)c;
    return ERR_CONF;
}

static void
fuzz_check_err(const struct social_err *e)
{
    if (e->status < 400 || e->status > 499 || e->code == NULL)
        abort();
}

static void
fuzz_check_text(const char *s, size_t max, bool newline)
{
    size_t len = strlen(s);

    if (len > max || !meta_utf8_ok(s, len, newline))
        abort();
}

static char *
fuzz_cstr(const uint8_t *data, size_t size)
{
    char *s = xmalloc(size + 1);

    memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

static void
fuzz_route(const uint8_t *data, size_t size)
{
    static const char *const methods[] = {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH"};
    struct social_route rt;
    struct social_err e;
    char *path;

    if (size == 0)
        return;
    path = fuzz_cstr(data + 1, size - 1);
    if (social_route_parse(methods[data[0] % ARRAY_SIZE(methods)], path, &rt, &e) == 1) {
        if (rt.op == SOCIAL_OP_NONE)
            fuzz_check_err(&e);
        else if (rt.target.kind != 0 && meta_target_check(&rt.target) != 0)
            abort();
    }
    xfree(path);
}

static void
fuzz_query(const uint8_t *data, size_t size)
{
    struct social_query q;
    struct social_err e;
    char *s = fuzz_cstr(data, size);

    if (social_query_parse(s, &q, &e) != 0)
        fuzz_check_err(&e);
    else if (q.limit < 1 || q.limit > META_PAGE_MAX || q.cursor > INT64_MAX || q.from < 0 ||
             (q.has_to && q.to < q.from) || q.wait_ms > SOCIAL_WAIT_MAX_MS)
        abort();
    xfree(s);
}

static void
fuzz_bodies(uint8_t which, const uint8_t *data, size_t size)
{
    static struct social_kinds kinds;
    struct social_session_req *sr = xmalloc(sizeof(*sr));
    struct social_comment_req *cr = xmalloc(sizeof(*cr));
    struct social_reaction_req rr;
    struct social_batch_req b;
    struct social_err e;
    size_t i;

    if (kinds.n == 0 && social_kinds_parse("like,love,\xf0\x9f\x94\xa5", &kinds) != 0)
        abort();
    switch (which) {
    case 0:
        if (social_body_session(data, size, sr, &e) != 0)
            fuzz_check_err(&e);
        else
            fuzz_check_text(sr->name, META_NAME_MAX, false);
        break;
    case 1:
        if (social_body_comment(data, size, cr, &e) != 0)
            fuzz_check_err(&e);
        else if (cr->text[0] == '\0' || cr->parent > INT64_MAX)
            abort();
        else
            fuzz_check_text(cr->text, META_TEXT_MAX, true);
        break;
    case 2:
        if (social_body_reaction(data, size, &kinds, &rr, &e) != 0)
            fuzz_check_err(&e);
        else if (!social_kinds_has(&kinds, rr.kind) || rr.t < 0)
            abort();
        break;
    default:
        if (social_body_batch(data, size, &kinds, 250, &b, &e) != 0) {
            fuzz_check_err(&e);
            if (b.d != NULL)
                abort();
            break;
        }
        if (b.n == 0 || b.n > META_BATCH_MAX)
            abort();
        for (i = 0; i < b.n; i++)
            if (meta_target_check(&b.d[i].target) != 0 || b.d[i].bucket_ms % 250 != 0 ||
                b.d[i].count == 0 || !social_kinds_has(&kinds, b.d[i].kind))
                abort();
        social_batch_clear(&b);
        break;
    }
    xfree(sr);
    xfree(cr);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0 || size > SOCIAL_BATCH_BODY_MAX)
        return 0;
    switch (data[0] % 6) {
    case 0:
        fuzz_route(data + 1, size - 1);
        break;
    case 1:
        fuzz_query(data + 1, size - 1);
        break;
    default:
        fuzz_bodies((uint8_t)(data[0] % 6 - 2), data + 1, size - 1);
        break;
    }
    return 0;
}
