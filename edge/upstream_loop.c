/*
 * upstream_loop.c -- the CDN-Loop scanner (upstream_loop.h).
 *
 * SPEC: RFC 8586 2 -- CDN-Loop = #cdn-info
 *   cdn-info = cdn-id *( OWS ";" OWS parameter )
 *   cdn-id   = ( uri-host [ ":" port ] ) / pseudonym
 * SPEC: RFC 9110 5.6.1 -- empty list elements are ignored; a parameter
 * value may be a quoted-string, whose commas do not end the element.
 */
#include <assert.h>
#include <stddef.h>

#include "upstream_loop.h"
#include "compat.h"

static int
upstream_loop_lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

static bool
upstream_loop_eq(const char *a, size_t alen, const char *b, size_t blen)
{
    size_t i;

    if (alen != blen)
        return false;
    for (i = 0; i < alen; i++)
        if (upstream_loop_lower((unsigned char)a[i]) != upstream_loop_lower((unsigned char)b[i]))
            return false;
    return true;
}

void
upstream_loop_scan(struct upstream_loop_scan *st, const char *v, size_t len, const char *id,
                   size_t id_len)
{
    size_t i = 0, start;
    bool quoted;

    while (i < len) {
        while (i < len && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
            i++;
        if (i == len)
            break;
        /* the cdn-id */
        start = i;
        while (i < len && v[i] != ' ' && v[i] != '\t' && v[i] != ';' && v[i] != ',')
            i++;
        if (i > start) {
            st->entries++;
            if (id_len > 0 && upstream_loop_eq(v + start, i - start, id, id_len))
                st->seen = true;
        }
        /* the rest of the element: parameters, up to a comma outside quotes */
        quoted = false;
        while (i < len) {
            if (quoted && v[i] == '\\') {
                i += i + 1 < len ? 2 : 1;
                continue;
            }
            if (v[i] == '"')
                quoted = !quoted;
            else if (!quoted && v[i] == ',')
                break;
            i++;
        }
    }
}

void
upstream_loop_check(const struct upstream_loop_scan *st, size_t len)
{
    /* every counted element took at least one byte, and a separator between two */
    assert(st->entries <= (len + 1) / 2 + 1);
}
