/*
 * amf0.c -- AMF0 value tree decoder and command encoder.
 *
 * The decoder recurses once per nesting level, bounded by max_depth
 * (<= AMF0_MAX_DEPTH), so the stack it uses is bounded too. Nodes come
 * from the fixed array in struct amf0_doc. Not here: AMF3, RTMP framing.
 */
#include <stdint.h>
#include <string.h>

#include "amf0.h"
#include "../err.h"
#include "../compat.h"

void
amf0_doc_init(struct amf0_doc *d, uint32_t max_nodes, uint32_t max_depth)
{
    d->magic = AMF0_DOC_MAGIC;
    d->max_nodes =
        (max_nodes == 0 || max_nodes > AMF0_DOC_MAX_NODES) ? AMF0_DOC_MAX_NODES : max_nodes;
    d->max_depth = (max_depth == 0 || max_depth > AMF0_MAX_DEPTH) ? AMF0_MAX_DEPTH : max_depth;
    d->base = NULL;
    d->len = 0;
    d->count = 0;
    d->ntop = 0;
    d->top_first = AMF0_NONE;
    d->top_last = AMF0_NONE;
    d->err_off = 0;
}

static uint16_t
amf0_get16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t
amf0_get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static double
amf0_getdouble(const uint8_t *p)
{
    uint64_t u = (uint64_t)amf0_get32(p) << 32 | amf0_get32(p + 4);
    double v;

    memcpy(&v, &u, sizeof(v));
    return v;
}

struct amf0_parse_ctx {
    struct amf0_doc *d;
    const uint8_t *p;
    size_t len;
    size_t off;
};

static int amf0_parse_value(struct amf0_parse_ctx *c, uint32_t parent, uint32_t depth,
                            uint32_t key_off, uint32_t key_len, uint32_t *idx);

static int
amf0_node_new(struct amf0_parse_ctx *c, uint8_t type, uint32_t parent, uint32_t depth,
              uint32_t *idx)
{
    struct amf0_node *n;

    if (c->d->count >= c->d->max_nodes)
        return ERR_LIMIT;
    if (depth >= c->d->max_depth)
        return ERR_LIMIT;
    *idx = c->d->count++;
    n = &c->d->nodes[*idx];
    memset(n, 0, sizeof(*n));
    n->type = type;
    n->depth = (uint8_t)depth;
    n->parent = parent;
    n->next = AMF0_NONE;
    n->first = AMF0_NONE;
    return 0;
}

/* Links child after *last under parent. */
static void
amf0_link(struct amf0_doc *d, uint32_t parent, uint32_t *last, uint32_t child)
{
    if (*last == AMF0_NONE)
        d->nodes[parent].first = child;
    else
        d->nodes[*last].next = child;
    *last = child;
    d->nodes[parent].count++;
}

/* Members up to the empty-name + OBJECT_END terminator (objects, ECMA arrays). */
static int
amf0_parse_members(struct amf0_parse_ctx *c, uint32_t parent, uint32_t depth)
{
    uint32_t last = AMF0_NONE, child, klen;
    int rc;

    for (;;) {
        if (c->len - c->off < 2)
            return ERR_PROTO;
        klen = amf0_get16(c->p + c->off);
        if (klen == 0 && c->len - c->off >= 3 && c->p[c->off + 2] == AMF0_OBJECT_END) {
            c->off += 3;
            return 0;
        }
        if (c->len - c->off - 2 < klen)
            return ERR_PROTO;
        c->off += 2;
        rc = amf0_parse_value(c, parent, depth + 1, (uint32_t)c->off, klen, &child);
        if (rc != 0)
            return rc;
        amf0_link(c->d, parent, &last, child);
    }
}

static int
amf0_parse_string(struct amf0_parse_ctx *c, struct amf0_node *n, size_t lenbytes)
{
    size_t slen;

    if (c->len - c->off < lenbytes)
        return ERR_PROTO;
    slen = lenbytes == 2 ? amf0_get16(c->p + c->off) : amf0_get32(c->p + c->off);
    c->off += lenbytes;
    if (c->len - c->off < slen)
        return ERR_PROTO;
    n->str_off = (uint32_t)c->off;
    n->str_len = (uint32_t)slen;
    c->off += slen;
    return 0;
}

/*
 * One value at c->off. For members, the name (key_len bytes at key_off)
 * has not been skipped yet: the value starts after it.
 */
static int
amf0_parse_value(struct amf0_parse_ctx *c, uint32_t parent, uint32_t depth, uint32_t key_off,
                 uint32_t key_len, uint32_t *idx)
{
    struct amf0_node *n;
    uint32_t i, cnt, last, child;
    uint8_t type;
    int rc;

    c->off += key_len;
    if (c->off >= c->len)
        return ERR_PROTO;
    type = c->p[c->off];
    switch (type) {
    case AMF0_MOVIECLIP:
    case AMF0_OBJECT_END:
    case AMF0_RECORDSET:
    case AMF0_AVMPLUS:
        return ERR_PROTO;
    default:
        if (type > AMF0_AVMPLUS)
            return ERR_PROTO;
    }
    rc = amf0_node_new(c, type, parent, depth, idx);
    if (rc != 0)
        return rc;
    n = &c->d->nodes[*idx];
    n->key_off = key_off;
    n->key_len = key_len;
    c->off++;
    switch (type) {
    case AMF0_NUMBER:
        if (c->len - c->off < 8)
            return ERR_PROTO;
        n->num = amf0_getdouble(c->p + c->off);
        c->off += 8;
        return 0;
    case AMF0_BOOLEAN:
        if (c->len - c->off < 1)
            return ERR_PROTO;
        n->num = c->p[c->off] != 0;
        c->off += 1;
        return 0;
    case AMF0_STRING:
        return amf0_parse_string(c, n, 2);
    case AMF0_LONG_STRING:
    case AMF0_XML_DOCUMENT:
        return amf0_parse_string(c, n, 4);
    case AMF0_NULL:
    case AMF0_UNDEFINED:
    case AMF0_UNSUPPORTED:
        return 0;
    case AMF0_REFERENCE:
        if (c->len - c->off < 2)
            return ERR_PROTO;
        n->num = amf0_get16(c->p + c->off);
        c->off += 2;
        return 0;
    case AMF0_DATE:
        if (c->len - c->off < 10)
            return ERR_PROTO;
        n->num = amf0_getdouble(c->p + c->off);
        n->tz = (int16_t)amf0_get16(c->p + c->off + 8);
        c->off += 10;
        return 0;
    case AMF0_TYPED_OBJECT:
        rc = amf0_parse_string(c, n, 2);
        if (rc != 0)
            return rc;
        return amf0_parse_members(c, *idx, depth);
    case AMF0_OBJECT:
        return amf0_parse_members(c, *idx, depth);
    case AMF0_ECMA_ARRAY:
        /* SPEC: AMF0 2.10 -- the count is a hint; the terminator ends it. */
        if (c->len - c->off < 4)
            return ERR_PROTO;
        c->off += 4;
        return amf0_parse_members(c, *idx, depth);
    case AMF0_STRICT_ARRAY:
        if (c->len - c->off < 4)
            return ERR_PROTO;
        cnt = amf0_get32(c->p + c->off);
        c->off += 4;
        /* Every value takes at least one byte: cap the count before looping. */
        if (cnt > c->len - c->off)
            return ERR_PROTO;
        last = AMF0_NONE;
        for (i = 0; i < cnt; i++) {
            rc = amf0_parse_value(c, *idx, depth + 1, 0, 0, &child);
            if (rc != 0)
                return rc;
            amf0_link(c->d, *idx, &last, child);
        }
        return 0;
    default:
        assert(0);
        return ERR_PROTO;
    }
}

long
amf0_doc_parse(struct amf0_doc *d, const uint8_t *p, size_t len)
{
    struct amf0_parse_ctx c = {.d = d, .p = p, .len = len, .off = 0};
    uint32_t idx, saved;
    int rc;

    CHECK_OBJ_NOTNULL(d, AMF0_DOC_MAGIC);
    d->base = p;
    d->len = len;
    d->count = 0;
    d->ntop = 0;
    d->top_first = AMF0_NONE;
    d->top_last = AMF0_NONE;
    d->err_off = 0;
    if (len > UINT32_MAX)
        return ERR_LIMIT;
    while (c.off < len) {
        size_t start = c.off;

        saved = d->count;
        rc = amf0_parse_value(&c, AMF0_NONE, 0, 0, 0, &idx);
        if (rc != 0) {
            d->count = saved; /* the tree stays as before this value */
            d->err_off = start;
            return rc;
        }
        if (d->top_last == AMF0_NONE)
            d->top_first = idx;
        else
            d->nodes[d->top_last].next = idx;
        d->top_last = idx;
        d->ntop++;
    }
    return (long)len;
}

const struct amf0_node *
amf0_doc_top(const struct amf0_doc *d, uint32_t i)
{
    uint32_t idx = d->top_first;

    while (idx != AMF0_NONE && i > 0) {
        idx = d->nodes[idx].next;
        i--;
    }
    return idx == AMF0_NONE ? NULL : &d->nodes[idx];
}

const struct amf0_node *
amf0_doc_next(const struct amf0_doc *d, const struct amf0_node *n)
{
    if (n == NULL || n->next == AMF0_NONE)
        return NULL;
    return &d->nodes[n->next];
}

const struct amf0_node *
amf0_doc_child(const struct amf0_doc *d, const struct amf0_node *n, uint32_t i)
{
    uint32_t idx;

    if (n == NULL)
        return NULL;
    idx = n->first;
    while (idx != AMF0_NONE && i > 0) {
        idx = d->nodes[idx].next;
        i--;
    }
    return idx == AMF0_NONE ? NULL : &d->nodes[idx];
}

const struct amf0_node *
amf0_doc_get(const struct amf0_doc *d, const struct amf0_node *obj, const char *key)
{
    size_t klen = strlen(key);
    uint32_t idx;

    if (obj == NULL || (obj->type != AMF0_OBJECT && obj->type != AMF0_ECMA_ARRAY &&
                        obj->type != AMF0_TYPED_OBJECT))
        return NULL;
    for (idx = obj->first; idx != AMF0_NONE; idx = d->nodes[idx].next) {
        const struct amf0_node *m = &d->nodes[idx];
        if (m->key_len == klen && memcmp(d->base + m->key_off, key, klen) == 0)
            return m;
    }
    return NULL;
}

bool
amf0_node_str(const struct amf0_doc *d, const struct amf0_node *n, const uint8_t **s, size_t *len)
{
    if (n == NULL ||
        (n->type != AMF0_STRING && n->type != AMF0_LONG_STRING && n->type != AMF0_XML_DOCUMENT))
        return false;
    *s = d->base + n->str_off;
    *len = n->str_len;
    return true;
}

bool
amf0_node_str_eq(const struct amf0_doc *d, const struct amf0_node *n, const char *lit)
{
    const uint8_t *s;
    size_t len;

    if (!amf0_node_str(d, n, &s, &len))
        return false;
    return len == strlen(lit) && memcmp(s, lit, len) == 0;
}

long
amf0_node_cstr(const struct amf0_doc *d, const struct amf0_node *n, char *dst, size_t dstsz)
{
    const uint8_t *s;
    size_t len;

    if (dstsz > 0)
        dst[0] = '\0';
    if (!amf0_node_str(d, n, &s, &len))
        return ERR_INVAL;
    if (memchr(s, 0, len) != NULL)
        return ERR_INVAL;
    if (len >= dstsz)
        return ERR_LIMIT;
    memcpy(dst, s, len);
    dst[len] = '\0';
    return (long)len;
}

bool
amf0_node_num(const struct amf0_node *n, double *out)
{
    if (n == NULL || n->type != AMF0_NUMBER)
        return false;
    *out = n->num;
    return true;
}

void
amf0_doc_check(const struct amf0_doc *d)
{
    uint32_t i, seen = 0, idx;

    CHECK_OBJ_NOTNULL(d, AMF0_DOC_MAGIC);
    assert(d->max_nodes >= 1 && d->max_nodes <= AMF0_DOC_MAX_NODES);
    assert(d->max_depth >= 1 && d->max_depth <= AMF0_MAX_DEPTH);
    assert(d->count <= d->max_nodes);
    assert(d->ntop <= d->count);
    assert((d->ntop == 0) == (d->top_first == AMF0_NONE));
    for (idx = d->top_first; idx != AMF0_NONE; idx = d->nodes[idx].next) {
        assert(idx < d->count);
        assert(d->nodes[idx].parent == AMF0_NONE);
        seen++;
    }
    assert(seen == d->ntop);
    for (i = 0; i < d->count; i++) {
        const struct amf0_node *n = &d->nodes[i];
        uint32_t kids = 0;

        assert(n->depth < d->max_depth);
        assert((uint64_t)n->key_off + n->key_len <= d->len);
        assert((uint64_t)n->str_off + n->str_len <= d->len);
        if (n->parent != AMF0_NONE) {
            assert(n->parent < i); /* parents are made before their children */
            assert(d->nodes[n->parent].depth + 1 == n->depth);
        } else {
            assert(n->depth == 0);
        }
        for (idx = n->first; idx != AMF0_NONE; idx = d->nodes[idx].next) {
            assert(idx > i && idx < d->count);
            assert(d->nodes[idx].parent == i);
            kids++;
        }
        assert(kids == n->count);
    }
}

/* ---- encoder ---- */

void
amf0_out_init(struct amf0_out *o, uint8_t *buf, size_t cap)
{
    o->buf = buf;
    o->cap = cap;
    o->len = 0;
    o->err = 0;
}

long
amf0_out_finish(const struct amf0_out *o)
{
    if (o->err != 0)
        return o->err;
    return (long)o->len;
}

static uint8_t *
amf0_out_reserve(struct amf0_out *o, size_t n)
{
    uint8_t *p;

    if (o->err != 0)
        return NULL;
    if (o->cap - o->len < n) {
        o->err = ERR_LIMIT;
        return NULL;
    }
    p = o->buf + o->len;
    o->len += n;
    return p;
}

static void
amf0_put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static void
amf0_putdouble(uint8_t *p, double v)
{
    uint64_t u;

    memcpy(&u, &v, sizeof(u));
    amf0_put32(p, (uint32_t)(u >> 32));
    amf0_put32(p + 4, (uint32_t)u);
}

void
amf0_put_number(struct amf0_out *o, double v)
{
    uint8_t *p = amf0_out_reserve(o, 9);

    if (p == NULL)
        return;
    p[0] = AMF0_NUMBER;
    amf0_putdouble(p + 1, v);
}

void
amf0_put_bool(struct amf0_out *o, bool v)
{
    uint8_t *p = amf0_out_reserve(o, 2);

    if (p == NULL)
        return;
    p[0] = AMF0_BOOLEAN;
    p[1] = v ? 1 : 0;
}

void
amf0_put_string_n(struct amf0_out *o, const void *s, size_t n)
{
    uint8_t *p;

    if (n > UINT32_MAX) {
        o->err = ERR_LIMIT;
        return;
    }
    if (n <= UINT16_MAX) {
        p = amf0_out_reserve(o, 3 + n);
        if (p == NULL)
            return;
        p[0] = AMF0_STRING;
        p[1] = (uint8_t)(n >> 8);
        p[2] = (uint8_t)n;
        memcpy(p + 3, s, n);
    } else {
        p = amf0_out_reserve(o, 5 + n);
        if (p == NULL)
            return;
        p[0] = AMF0_LONG_STRING;
        amf0_put32(p + 1, (uint32_t)n);
        memcpy(p + 5, s, n);
    }
}

void
amf0_put_string(struct amf0_out *o, const char *s)
{
    amf0_put_string_n(o, s, strlen(s));
}

void
amf0_put_null(struct amf0_out *o)
{
    uint8_t *p = amf0_out_reserve(o, 1);

    if (p != NULL)
        p[0] = AMF0_NULL;
}

void
amf0_put_undefined(struct amf0_out *o)
{
    uint8_t *p = amf0_out_reserve(o, 1);

    if (p != NULL)
        p[0] = AMF0_UNDEFINED;
}

void
amf0_put_object_begin(struct amf0_out *o)
{
    uint8_t *p = amf0_out_reserve(o, 1);

    if (p != NULL)
        p[0] = AMF0_OBJECT;
}

void
amf0_put_ecma_begin(struct amf0_out *o, uint32_t count)
{
    uint8_t *p = amf0_out_reserve(o, 5);

    if (p == NULL)
        return;
    p[0] = AMF0_ECMA_ARRAY;
    amf0_put32(p + 1, count);
}

void
amf0_put_strict_array_begin(struct amf0_out *o, uint32_t count)
{
    uint8_t *p = amf0_out_reserve(o, 5);

    if (p == NULL)
        return;
    p[0] = AMF0_STRICT_ARRAY;
    amf0_put32(p + 1, count);
}

void
amf0_put_key(struct amf0_out *o, const char *key)
{
    size_t n = strlen(key);
    uint8_t *p;

    if (n == 0 || n > UINT16_MAX) { /* an empty name would read as the terminator */
        o->err = ERR_INVAL;
        return;
    }
    p = amf0_out_reserve(o, 2 + n);
    if (p == NULL)
        return;
    p[0] = (uint8_t)(n >> 8);
    p[1] = (uint8_t)n;
    memcpy(p + 2, key, n);
}

void
amf0_put_object_end(struct amf0_out *o)
{
    uint8_t *p = amf0_out_reserve(o, 3);

    if (p == NULL)
        return;
    p[0] = 0;
    p[1] = 0;
    p[2] = AMF0_OBJECT_END;
}

void
amf0_put_date(struct amf0_out *o, double ms, int16_t tz)
{
    uint8_t *p = amf0_out_reserve(o, 11);

    if (p == NULL)
        return;
    p[0] = AMF0_DATE;
    amf0_putdouble(p + 1, ms);
    p[9] = (uint8_t)((uint16_t)tz >> 8);
    p[10] = (uint8_t)tz;
}

void
amf0_put_prop_string(struct amf0_out *o, const char *key, const char *v)
{
    amf0_put_key(o, key);
    amf0_put_string(o, v);
}

void
amf0_put_prop_number(struct amf0_out *o, const char *key, double v)
{
    amf0_put_key(o, key);
    amf0_put_number(o, v);
}

void
amf0_put_prop_bool(struct amf0_out *o, const char *key, bool v)
{
    amf0_put_key(o, key);
    amf0_put_bool(o, v);
}

void
amf0_put_connect_result(struct amf0_out *o, double txn, double object_encoding)
{
    amf0_put_string(o, "_result");
    amf0_put_number(o, txn);
    /* The values FMS 3 answered; encoders only log them. */
    amf0_put_object_begin(o);
    amf0_put_prop_string(o, "fmsVer", "FMS/3,0,1,123");
    amf0_put_prop_number(o, "capabilities", 31);
    amf0_put_prop_number(o, "mode", 1);
    amf0_put_object_end(o);
    amf0_put_object_begin(o);
    amf0_put_prop_string(o, "level", "status");
    amf0_put_prop_string(o, "code", "NetConnection.Connect.Success");
    amf0_put_prop_string(o, "description", "Connection succeeded.");
    amf0_put_prop_number(o, "objectEncoding", object_encoding);
    amf0_put_object_end(o);
}

void
amf0_put_result(struct amf0_out *o, double txn, bool has_value, double value)
{
    amf0_put_string(o, "_result");
    amf0_put_number(o, txn);
    amf0_put_null(o);
    if (has_value)
        amf0_put_number(o, value);
    else
        amf0_put_undefined(o);
}

void
amf0_put_error(struct amf0_out *o, double txn, const char *code, const char *description)
{
    amf0_put_string(o, "_error");
    amf0_put_number(o, txn);
    amf0_put_null(o);
    amf0_put_object_begin(o);
    amf0_put_prop_string(o, "level", "error");
    amf0_put_prop_string(o, "code", code);
    amf0_put_prop_string(o, "description", description);
    amf0_put_object_end(o);
}

void
amf0_put_on_status(struct amf0_out *o, const char *level, const char *code, const char *description,
                   const char *details)
{
    amf0_put_string(o, "onStatus");
    amf0_put_number(o, 0);
    amf0_put_null(o);
    amf0_put_object_begin(o);
    amf0_put_prop_string(o, "level", level);
    amf0_put_prop_string(o, "code", code);
    amf0_put_prop_string(o, "description", description);
    if (details != NULL)
        amf0_put_prop_string(o, "details", details);
    amf0_put_object_end(o);
}

void
amf0_put_on_bw_done(struct amf0_out *o)
{
    amf0_put_string(o, "onBWDone");
    amf0_put_number(o, 0);
    amf0_put_null(o);
    amf0_put_number(o, 8192);
}

void
amf0_put_on_fc(struct amf0_out *o, const char *name, const char *code, const char *description)
{
    amf0_put_string(o, name);
    amf0_put_number(o, 0);
    amf0_put_null(o);
    amf0_put_object_begin(o);
    amf0_put_prop_string(o, "code", code);
    amf0_put_prop_string(o, "description", description);
    amf0_put_object_end(o);
}
