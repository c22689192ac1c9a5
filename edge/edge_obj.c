/*
 * edge_obj.c -- the header block codec (edge_obj.h). Pure: it reads and
 * writes caller buffers only. The parser trusts nothing: a block comes
 * back from disk (checksummed by the store, but a different version of
 * the edge may have written it), so every count and byte is checked and
 * the meta must satisfy cache_meta_check()'s invariants.
 */
#include <string.h>

#include "proto/cache_fields.h"
#include "edge_obj.h"
#include "err.h"
#include "compat.h"

static void
edge_obj_put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static void
edge_obj_put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void
edge_obj_put64(uint8_t *p, int64_t s)
{
    uint64_t v = (uint64_t)s;

    edge_obj_put32(p, (uint32_t)v);
    edge_obj_put32(p + 4, (uint32_t)(v >> 32));
}

static uint32_t
edge_obj_get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint16_t
edge_obj_get16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static int64_t
edge_obj_get64(const uint8_t *p)
{
    uint64_t v = (uint64_t)edge_obj_get32(p) | (uint64_t)edge_obj_get32(p + 4) << 32;

    return (int64_t)v;
}

static bool
edge_obj_name_ok(const char *p, size_t len)
{
    size_t i;

    if (len == 0)
        return false;
    for (i = 0; i < len; i++)
        if (!cache_tchar[(unsigned char)p[i]])
            return false;
    return true;
}

static bool
edge_obj_value_ok(const char *p, size_t len)
{
    return memchr(p, '\0', len) == NULL && memchr(p, '\r', len) == NULL &&
           memchr(p, '\n', len) == NULL;
}

size_t
edge_obj_size(const struct cache_field *f, size_t n)
{
    size_t i, total = EDGE_OBJ_FIXED;

    for (i = 0; i < n; i++)
        total += (size_t)f[i].name_len + f[i].value_len + 2;
    return total;
}

static void
edge_obj_meta_put(uint8_t *p, const struct cache_meta *m)
{
    edge_obj_put32(p, m->version);
    edge_obj_put16(p + 4, m->status);
    edge_obj_put16(p + 6, m->flags);
    edge_obj_put64(p + 8, m->request_time);
    edge_obj_put64(p + 16, m->response_time);
    edge_obj_put64(p + 24, m->corrected_initial_age);
    edge_obj_put64(p + 32, m->lifetime);
    edge_obj_put64(p + 40, m->swr);
    edge_obj_put64(p + 48, m->sie);
    edge_obj_put64(p + 56, m->date);
    edge_obj_put64(p + 64, m->last_modified);
}

static void
edge_obj_meta_get(const uint8_t *p, struct cache_meta *m)
{
    memset(m, 0, sizeof(*m));
    m->version = edge_obj_get32(p);
    m->status = edge_obj_get16(p + 4);
    m->flags = edge_obj_get16(p + 6);
    m->request_time = edge_obj_get64(p + 8);
    m->response_time = edge_obj_get64(p + 16);
    m->corrected_initial_age = edge_obj_get64(p + 24);
    m->lifetime = edge_obj_get64(p + 32);
    m->swr = edge_obj_get64(p + 40);
    m->sie = edge_obj_get64(p + 48);
    m->date = edge_obj_get64(p + 56);
    m->last_modified = edge_obj_get64(p + 64);
}

/* The invariants cache_meta_check() asserts, as a test. */
static bool
edge_obj_meta_ok(const struct cache_meta *m)
{
    if (m->version != CACHE_META_VERSION)
        return false;
    if (m->corrected_initial_age < 0 || m->corrected_initial_age > CACHE_DELTA_MAX)
        return false;
    if (m->lifetime < 0 || m->lifetime > CACHE_DELTA_MAX)
        return false;
    if (m->swr != CACHE_DELTA_ABSENT && (m->swr < 0 || m->swr > CACHE_DELTA_MAX))
        return false;
    if (m->sie != CACHE_DELTA_ABSENT && (m->sie < 0 || m->sie > CACHE_DELTA_MAX))
        return false;
    if (m->flags & CACHE_META_HIT_FOR_MISS)
        return true;
    if (m->status < 200 || m->status > 599 || m->request_time > m->response_time)
        return false;
    if ((m->flags & CACHE_META_NO_CACHE) && !(m->flags & CACHE_META_NO_STALE))
        return false;
    return true;
}

int
edge_obj_build(uint8_t *out, size_t cap, enum edge_obj_kind kind, uint16_t status,
               const struct cache_meta *meta, const struct cache_field *f, size_t n)
{
    size_t i, need, off;

    AN(meta);
    assert(kind == EDGE_OBJ_RESPONSE || kind == EDGE_OBJ_VARY || kind == EDGE_OBJ_HFM);
    if (n > EDGE_OBJ_FIELDS_MAX)
        return ERR_LIMIT;
    if (!edge_obj_meta_ok(meta))
        return ERR_INVAL;
    for (i = 0; i < n; i++)
        if (!edge_obj_name_ok(f[i].name, f[i].name_len) ||
            !edge_obj_value_ok(f[i].value, f[i].value_len))
            return ERR_INVAL;
    need = edge_obj_size(f, n);
    if (need > cap || need - EDGE_OBJ_FIXED > UINT32_MAX)
        return ERR_LIMIT;
    edge_obj_put32(out, EDGE_OBJ_MAGIC);
    out[4] = (uint8_t)kind;
    out[5] = 0;
    edge_obj_put16(out + 6, status);
    edge_obj_put32(out + 8, (uint32_t)n);
    edge_obj_put32(out + 12, (uint32_t)(need - EDGE_OBJ_FIXED));
    edge_obj_meta_put(out + 16, meta);
    off = EDGE_OBJ_FIXED;
    for (i = 0; i < n; i++) {
        memcpy(out + off, f[i].name, f[i].name_len);
        off += f[i].name_len;
        out[off++] = '\0';
        memcpy(out + off, f[i].value, f[i].value_len);
        off += f[i].value_len;
        out[off++] = '\0';
    }
    assert(off == need);
    return (int)need;
}

/* The NUL ending a non-empty token that starts at s, or NULL. */
static const char *
edge_obj_name_end(const char *s, const char *end)
{
    const char *p = s;

    while (p < end && cache_tchar[(unsigned char)*p])
        p++; /* NUL is no tchar: the loop stops there */
    return p != s && p < end && *p == '\0' ? p : NULL;
}

/* Has v a zero byte? (Exact: no false positives, so no byte is skipped wrongly.) */
static uint64_t
edge_obj_zero_byte(uint64_t v)
{
    return (v - 0x0101010101010101ull) & ~v & 0x8080808080808080ull;
}

/* The NUL ending a value that starts at s, or NULL (none, or CR or LF first). */
static const char *
edge_obj_value_end(const char *s, const char *end)
{
    uint64_t w;

    /* Eight bytes at a time up to the word holding a NUL, CR or LF. */
    while (end - s >= 8) {
        memcpy(&w, s, 8);
        if (edge_obj_zero_byte(w) | edge_obj_zero_byte(w ^ 0x0d0d0d0d0d0d0d0dull) |
            edge_obj_zero_byte(w ^ 0x0a0a0a0a0a0a0a0aull))
            break;
        s += 8;
    }
    for (; s < end; s++) {
        if (*s == '\0')
            return s;
        if (*s == '\r' || *s == '\n')
            return NULL;
    }
    return NULL;
}

int
edge_obj_parse(const uint8_t *p, size_t len, struct edge_obj *o)
{
    const char *s, *end, *nul;
    uint32_t nfields, flen, i;

    memset(o, 0, sizeof(*o));
    if (len < EDGE_OBJ_FIXED || edge_obj_get32(p) != EDGE_OBJ_MAGIC || p[5] != 0)
        return ERR_PROTO;
    if (p[4] != EDGE_OBJ_RESPONSE && p[4] != EDGE_OBJ_VARY && p[4] != EDGE_OBJ_HFM)
        return ERR_PROTO;
    nfields = edge_obj_get32(p + 8);
    flen = edge_obj_get32(p + 12);
    if (nfields > EDGE_OBJ_FIELDS_MAX || flen != len - EDGE_OBJ_FIXED)
        return ERR_PROTO;
    edge_obj_meta_get(p + 16, &o->meta);
    if (!edge_obj_meta_ok(&o->meta))
        return ERR_PROTO;
    s = (const char *)p + EDGE_OBJ_FIXED;
    end = s + flen;
    /* One pass per field: every hit parses its block. */
    for (i = 0; i < nfields; i++) {
        nul = edge_obj_name_end(s, end);
        if (nul == NULL)
            return ERR_PROTO;
        nul = edge_obj_value_end(nul + 1, end);
        if (nul == NULL)
            return ERR_PROTO;
        s = nul + 1;
    }
    if (s != end)
        return ERR_PROTO;
    o->kind = (enum edge_obj_kind)p[4];
    o->status = edge_obj_get16(p + 6);
    o->nfields = nfields;
    o->fields = (const char *)p + EDGE_OBJ_FIXED;
    o->fields_len = flen;
    return 0;
}

bool
edge_obj_next(const struct edge_obj *o, size_t *pos, const char **name, size_t *name_len,
              const char **value, size_t *value_len)
{
    size_t n;

    if (*pos >= o->fields_len)
        return false;
    *name = o->fields + *pos;
    n = strlen(*name);
    *name_len = n;
    *value = *name + n + 1;
    *value_len = strlen(*value);
    *pos += n + 1 + *value_len + 1;
    assert(*pos <= o->fields_len);
    return true;
}

size_t
edge_obj_fields(const struct edge_obj *o, struct cache_field *out, size_t cap)
{
    const char *name, *value;
    size_t pos = 0, nlen, vlen, n = 0;

    while (n < cap && edge_obj_next(o, &pos, &name, &nlen, &value, &vlen)) {
        out[n].name = name;
        out[n].name_len = (uint32_t)nlen;
        out[n].value = value;
        out[n].value_len = (uint32_t)vlen;
        n++;
    }
    return n;
}

void
edge_obj_check(const struct edge_obj *o)
{
    const char *name, *value;
    size_t pos = 0, nlen, vlen;
    uint32_t n = 0;

    assert(o->kind == EDGE_OBJ_RESPONSE || o->kind == EDGE_OBJ_VARY || o->kind == EDGE_OBJ_HFM);
    assert(o->nfields <= EDGE_OBJ_FIELDS_MAX);
    cache_meta_check(&o->meta);
    while (edge_obj_next(o, &pos, &name, &nlen, &value, &vlen)) {
        assert(edge_obj_name_ok(name, nlen));
        assert(edge_obj_value_ok(value, vlen));
        n++;
    }
    assert(n == o->nfields);
    assert(pos == o->fields_len);
}
