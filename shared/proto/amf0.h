/*
 * amf0.h -- AMF0 decoding into a bounded value tree, and the encoder for
 * the commands an RTMP server sends (SPEC: Adobe AMF0 File Format
 * Specification, 2.x; RTMP 1.0 7.2 for the commands).
 *
 * AMF0 arrives inside complete RTMP messages (the chunk layer reassembles
 * them), so the decoder works on one whole payload: it is not incremental,
 * but it never allocates, never reads past len, caps node count and depth,
 * checks every length against the bytes left before using it, and on
 * failure leaves the tree as it was before the failing top-level value.
 *
 * The tree (struct amf0_doc) is a fixed array of nodes; strings are spans
 * (offsets) into the payload, which the caller keeps alive while reading
 * the tree. Not supported: AMF3 (marker 0x11 is refused), movieclip and
 * recordset (reserved markers, refused). References, unsupported, XML
 * documents and typed objects are decoded as the spec lays them out.
 */
#ifndef CASCADE_AMF0_H
#define CASCADE_AMF0_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../miniobj.h"

enum amf0_type {
    AMF0_NUMBER = 0x00,
    AMF0_BOOLEAN = 0x01,
    AMF0_STRING = 0x02,
    AMF0_OBJECT = 0x03,
    AMF0_MOVIECLIP = 0x04, /* reserved: refused */
    AMF0_NULL = 0x05,
    AMF0_UNDEFINED = 0x06,
    AMF0_REFERENCE = 0x07,
    AMF0_ECMA_ARRAY = 0x08,
    AMF0_OBJECT_END = 0x09, /* only as a terminator: refused as a value */
    AMF0_STRICT_ARRAY = 0x0a,
    AMF0_DATE = 0x0b,
    AMF0_LONG_STRING = 0x0c,
    AMF0_UNSUPPORTED = 0x0d,
    AMF0_RECORDSET = 0x0e, /* reserved: refused */
    AMF0_XML_DOCUMENT = 0x0f,
    AMF0_TYPED_OBJECT = 0x10,
    AMF0_AVMPLUS = 0x11, /* switch to AMF3: refused */
};

#define AMF0_DOC_MAX_NODES 256 /* hard cap; conf may lower it */
#define AMF0_MAX_DEPTH 32      /* hard cap; conf may lower it */
#define AMF0_NONE UINT32_MAX   /* "no node" in the index fields */

struct amf0_node {
    uint8_t type;     /* enum amf0_type, the wire marker */
    uint8_t depth;    /* 0 for top-level values */
    int16_t tz;       /* DATE: time zone in minutes (ignored by players) */
    uint32_t key_off; /* member of an object / ECMA array: the name, else len 0 */
    uint32_t key_len;
    uint32_t str_off; /* STRING, LONG_STRING, XML_DOCUMENT; TYPED_OBJECT: class name */
    uint32_t str_len;
    uint32_t parent; /* index, AMF0_NONE for top-level values */
    uint32_t next;   /* next sibling, AMF0_NONE for the last */
    uint32_t first;  /* first child (containers), AMF0_NONE when empty */
    uint32_t count;  /* children (containers) */
    double num;      /* NUMBER, DATE (ms since epoch), BOOLEAN (0/1), REFERENCE */
};

struct amf0_doc {
    unsigned magic;
#define AMF0_DOC_MAGIC 0x616d6630U
    uint32_t max_nodes;  /* <= AMF0_DOC_MAX_NODES */
    uint32_t max_depth;  /* <= AMF0_MAX_DEPTH */
    const uint8_t *base; /* borrowed: the payload last parsed */
    size_t len;
    uint32_t count;     /* nodes in use */
    uint32_t ntop;      /* top-level values */
    uint32_t top_first; /* first top-level node */
    uint32_t top_last;  /* last top-level node */
    size_t err_off;     /* on failure: offset of the value that failed */
    struct amf0_node nodes[AMF0_DOC_MAX_NODES];
};

/* max_nodes / max_depth 0 mean the hard caps. */
void amf0_doc_init(struct amf0_doc *d, uint32_t max_nodes, uint32_t max_depth);

/*
 * Decodes every value in p[0..len) (a command is a sequence of values).
 * Returns len, or ERR_PROTO (malformed, truncated or refused marker) or
 * ERR_LIMIT (node or depth cap), with d->err_off set and the tree holding
 * the top-level values decoded before the failing one. p is borrowed
 * until the next parse.
 */
long amf0_doc_parse(struct amf0_doc *d, const uint8_t *p, size_t len) WARN_UNUSED;

/* The i-th top-level value, or NULL. */
const struct amf0_node *amf0_doc_top(const struct amf0_doc *d, uint32_t i);
/* The i-th child of a container node, or NULL. */
const struct amf0_node *amf0_doc_child(const struct amf0_doc *d, const struct amf0_node *n,
                                       uint32_t i);
/* The first member named key of an OBJECT / ECMA_ARRAY / TYPED_OBJECT, or NULL. */
const struct amf0_node *amf0_doc_get(const struct amf0_doc *d, const struct amf0_node *obj,
                                     const char *key);
const struct amf0_node *amf0_doc_next(const struct amf0_doc *d, const struct amf0_node *n);

/* Strings: true and the span when n is a string type. */
bool amf0_node_str(const struct amf0_doc *d, const struct amf0_node *n, const uint8_t **s,
                   size_t *len);
bool amf0_node_str_eq(const struct amf0_doc *d, const struct amf0_node *n, const char *lit);
/*
 * Copies a string node into dst (NUL-terminated). Returns its length,
 * ERR_INVAL when n is NULL or not a string or holds a NUL byte, ERR_LIMIT
 * when it does not fit.
 */
long amf0_node_cstr(const struct amf0_doc *d, const struct amf0_node *n, char *dst,
                    size_t dstsz) WARN_UNUSED;
bool amf0_node_num(const struct amf0_node *n, double *out);

void amf0_doc_check(const struct amf0_doc *d);

/* ---- encoder ---- */

/*
 * Writes into a caller buffer. Overflow is sticky: once a put does not
 * fit, o->err is ERR_LIMIT and later puts do nothing, so a reply can be
 * built with plain calls and checked once with amf0_out_finish().
 */
struct amf0_out {
    uint8_t *buf; /* borrowed */
    size_t cap;
    size_t len;
    int err;
};

void amf0_out_init(struct amf0_out *o, uint8_t *buf, size_t cap);
/* Bytes written, or ERR_LIMIT when something did not fit. */
long amf0_out_finish(const struct amf0_out *o) WARN_UNUSED;

void amf0_put_number(struct amf0_out *o, double v);
void amf0_put_bool(struct amf0_out *o, bool v);
void amf0_put_string(struct amf0_out *o, const char *s);
void amf0_put_string_n(struct amf0_out *o, const void *s, size_t n); /* long string past 65535 */
void amf0_put_null(struct amf0_out *o);
void amf0_put_undefined(struct amf0_out *o);
void amf0_put_object_begin(struct amf0_out *o);
void amf0_put_ecma_begin(struct amf0_out *o, uint32_t count);
void amf0_put_key(struct amf0_out *o, const char *key); /* inside an object / ECMA array */
void amf0_put_object_end(struct amf0_out *o);           /* ends objects and ECMA arrays */
void amf0_put_strict_array_begin(struct amf0_out *o, uint32_t count);
void amf0_put_date(struct amf0_out *o, double ms, int16_t tz);
void amf0_put_prop_string(struct amf0_out *o, const char *key, const char *v);
void amf0_put_prop_number(struct amf0_out *o, const char *key, double v);
void amf0_put_prop_bool(struct amf0_out *o, const char *key, bool v);

/*
 * Server replies (SPEC: RTMP 1.0 7.2.1.1, 7.2.1.3, 7.2.2). Each writes a
 * whole command message body.
 *   _result for connect: properties {fmsVer, capabilities, mode} and
 *   information {level "status", code "NetConnection.Connect.Success",
 *   description, objectEncoding}.
 */
void amf0_put_connect_result(struct amf0_out *o, double txn, double object_encoding);
/* "_result", txn, null, then the number when has_value, else undefined. */
void amf0_put_result(struct amf0_out *o, double txn, bool has_value, double value);
/* "_error", txn, null, {level "error", code, description}. */
void amf0_put_error(struct amf0_out *o, double txn, const char *code, const char *description);
/* "onStatus", 0, null, {level, code, description[, details]} (details may be NULL). */
void amf0_put_on_status(struct amf0_out *o, const char *level, const char *code,
                        const char *description, const char *details);
/* "onBWDone", 0, null, 8192 (the bandwidth figure clients ignore). */
void amf0_put_on_bw_done(struct amf0_out *o);
/* "onFCPublish" / "onFCUnpublish", 0, null, {code, description}. */
void amf0_put_on_fc(struct amf0_out *o, const char *name, const char *code,
                    const char *description);

#endif
