/*
 * cache_fields.c -- borrowed header field views for the cache policy and
 * the cache key (SPEC: RFC 9110 5.1-5.6).
 *
 * Pure: no I/O, no allocation. Owns nothing; every result points into the
 * caller's buffers. Not here: the meaning of any field (cache_policy.c).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "../err.h"
#include "cache_fields.h"
#include "http1.h"
#include "../compat.h"

static inline unsigned char
cache_fields_lower(unsigned char c)
{
    return (unsigned char)(c + ((unsigned)(c - 'A') < 26u ? 32 : 0));
}

/* SPEC: RFC 9110 5.6.2 -- tchar, as a table (the hit path and httpd check every name byte). */
const bool cache_tchar[256] = {
    ['!'] = 1, ['#'] = 1, ['$'] = 1, ['%'] = 1, ['&'] = 1, ['\''] = 1, ['*'] = 1, ['+'] = 1,
    ['-'] = 1, ['.'] = 1, ['^'] = 1, ['_'] = 1, ['`'] = 1, ['|'] = 1,  ['~'] = 1, ['0'] = 1,
    ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1,  ['7'] = 1, ['8'] = 1,
    ['9'] = 1, ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1,  ['F'] = 1, ['G'] = 1,
    ['H'] = 1, ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1, ['M'] = 1,  ['N'] = 1, ['O'] = 1,
    ['P'] = 1, ['Q'] = 1, ['R'] = 1, ['S'] = 1, ['T'] = 1, ['U'] = 1,  ['V'] = 1, ['W'] = 1,
    ['X'] = 1, ['Y'] = 1, ['Z'] = 1, ['a'] = 1, ['b'] = 1, ['c'] = 1,  ['d'] = 1, ['e'] = 1,
    ['f'] = 1, ['g'] = 1, ['h'] = 1, ['i'] = 1, ['j'] = 1, ['k'] = 1,  ['l'] = 1, ['m'] = 1,
    ['n'] = 1, ['o'] = 1, ['p'] = 1, ['q'] = 1, ['r'] = 1, ['s'] = 1,  ['t'] = 1, ['u'] = 1,
    ['v'] = 1, ['w'] = 1, ['x'] = 1, ['y'] = 1, ['z'] = 1,
};

bool
cache_is_tchar(unsigned char c)
{
    return cache_tchar[c];
}

int
cache_fields_from_http1(struct cache_field *out, size_t cap, const struct http1_msg *m,
                        const uint8_t *base)
{
    size_t i, n;

    AN(m);
    n = m->nhdrs;
    for (i = 0; i < n && i < cap; i++) {
        out[i].name = (const char *)base + m->hdrs[i].name.off;
        out[i].name_len = m->hdrs[i].name.len;
        out[i].value = (const char *)base + m->hdrs[i].value.off;
        out[i].value_len = m->hdrs[i].value.len;
    }
    if (n > cap)
        return ERR_LIMIT;
    return (int)n;
}

bool
cache_name_eq(const char *p, size_t len, const char *lit)
{
    size_t i;

    for (i = 0; i < len; i++) {
        if (lit[i] == '\0')
            return false;
        if (cache_fields_lower((unsigned char)p[i]) != cache_fields_lower((unsigned char)lit[i]))
            return false;
    }
    return lit[len] == '\0';
}

bool
cache_name_eq_n(const char *a, size_t alen, const char *b, size_t blen)
{
    size_t i;

    if (alen != blen)
        return false;
    for (i = 0; i < alen; i++)
        if (cache_fields_lower((unsigned char)a[i]) != cache_fields_lower((unsigned char)b[i]))
            return false;
    return true;
}

const struct cache_field *
cache_fields_find_n(const struct cache_fields *f, const char *name, size_t len,
                    const struct cache_field *after)
{
    size_t i;

    i = after == NULL ? 0 : (size_t)(after - f->v) + 1;
    for (; i < f->n; i++)
        if (cache_name_eq_n(f->v[i].name, f->v[i].name_len, name, len))
            return &f->v[i];
    return NULL;
}

const struct cache_field *
cache_fields_find(const struct cache_fields *f, const char *name, const struct cache_field *after)
{
    return cache_fields_find_n(f, name, strlen(name), after);
}

size_t
cache_fields_count(const struct cache_fields *f, const char *name)
{
    const struct cache_field *h = NULL;
    size_t n = 0;

    while ((h = cache_fields_find(f, name, h)) != NULL)
        n++;
    return n;
}

/*
 * The next element of one field line from *pos: returns false at the end
 * of the line. A quoted string runs to its closing quote (a backslash
 * escapes the next byte); an unterminated one runs to the end of the line.
 */
static bool
cache_fields_elem_next(const char *v, uint32_t len, uint32_t *pos, struct cache_span *elem)
{
    uint32_t i = *pos, start, end;
    bool quoted;

    for (;;) {
        while (i < len && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
            i++;
        if (i >= len) {
            *pos = len;
            return false;
        }
        start = i;
        quoted = false;
        while (i < len) {
            if (quoted) {
                if (v[i] == '\\' && i + 1 < len)
                    i++;
                else if (v[i] == '"')
                    quoted = false;
            } else if (v[i] == '"') {
                quoted = true;
            } else if (v[i] == ',') {
                break;
            }
            i++;
        }
        end = i;
        while (end > start && (v[end - 1] == ' ' || v[end - 1] == '\t'))
            end--;
        *pos = i;
        if (end > start) {
            elem->p = v + start;
            elem->len = end - start;
            return true;
        }
    }
}

bool
cache_fields_list_next_n(const struct cache_fields *f, const char *name, size_t name_len,
                         const struct cache_field **line, uint32_t *pos, struct cache_span *elem)
{
    if (*line == NULL) {
        if (*pos == UINT32_MAX)
            return false; /* already at the end */
        *line = cache_fields_find_n(f, name, name_len, NULL);
        *pos = 0;
    }
    while (*line != NULL) {
        if (cache_fields_elem_next((*line)->value, (*line)->value_len, pos, elem))
            return true;
        *line = cache_fields_find_n(f, name, name_len, *line);
        *pos = 0;
    }
    *pos = UINT32_MAX;
    return false;
}

bool
cache_fields_list_next(const struct cache_fields *f, const char *name,
                       const struct cache_field **line, uint32_t *pos, struct cache_span *elem)
{
    return cache_fields_list_next_n(f, name, strlen(name), line, pos, elem);
}

bool
cache_fields_has_token(const struct cache_fields *f, const char *name, const char *token)
{
    const struct cache_field *line = NULL;
    uint32_t pos = 0;
    struct cache_span e;

    while (cache_fields_list_next(f, name, &line, &pos, &e))
        if (cache_name_eq(e.p, e.len, token))
            return true;
    return false;
}

bool
cache_list_has_name(const char *list, size_t list_len, const char *p, size_t len)
{
    uint32_t pos = 0;
    struct cache_span e;
    size_t i;

    if (list_len > UINT32_MAX)
        return false;
    while (cache_fields_elem_next(list, (uint32_t)list_len, &pos, &e)) {
        if (e.len != len)
            continue;
        for (i = 0; i < len; i++)
            if (cache_fields_lower((unsigned char)e.p[i]) !=
                cache_fields_lower((unsigned char)p[i]))
                break;
        if (i == len)
            return true;
    }
    return false;
}
