/*
 * cache_fields.h -- the header fields the cache policy and the cache key
 * read, as borrowed (pointer, length) pairs.
 *
 * The proxy fills an array of struct cache_field from whatever it holds:
 * a parsed request or response (cache_fields_from_http1() turns the
 * parser's offsets into pointers without copying a byte) or a stored
 * header block read back from LMDB. Nothing here allocates or copies;
 * every pointer is borrowed from the caller's buffers and must stay valid
 * for as long as the structures that were filled from it (struct
 * cache_req, struct cache_resp, spans in results) are used.
 *
 * Names compare case-insensitively (SPEC: RFC 9110 5.1). Several field
 * lines with one name form one comma-separated list (SPEC: RFC 9110 5.3);
 * the iterators here walk such lists across lines and honour quoted
 * strings, so a comma inside quotes never splits an element.
 *
 * Not here: what the fields mean (cache_policy.c), keys (cache_key.c).
 */
#ifndef CASCADE_CACHE_FIELDS_H
#define CASCADE_CACHE_FIELDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../miniobj.h"

struct http1_msg;

/* One field line; leading and trailing whitespace already trimmed. */
struct cache_field {
    const char *name;  /* borrowed */
    const char *value; /* borrowed */
    uint32_t name_len;
    uint32_t value_len;
};

struct cache_fields {
    const struct cache_field *v; /* borrowed; n entries */
    size_t n;
};

/* A borrowed piece of a field value. p is NULL when the piece is absent. */
struct cache_span {
    const char *p;
    uint32_t len;
};

/*
 * Points out[0..cap) at the header fields of a parsed message whose head
 * starts at base. Returns the number of fields, or ERR_LIMIT when more
 * than cap were parsed (out is then filled up to cap). Copies nothing:
 * out borrows from base.
 */
int cache_fields_from_http1(struct cache_field *out, size_t cap, const struct http1_msg *m,
                            const uint8_t *base) WARN_UNUSED;

/* Case-insensitive ASCII compare of p[0..len) with the NUL-terminated lit. */
bool cache_name_eq(const char *p, size_t len, const char *lit);

/*
 * The first field named name after `after` (NULL: from the start), or
 * NULL. Pass the previous answer as `after` to visit every line.
 */
const struct cache_field *cache_fields_find(const struct cache_fields *f, const char *name,
                                            const struct cache_field *after);

/* The same, for a name given as (name, len). */
const struct cache_field *cache_fields_find_n(const struct cache_fields *f, const char *name,
                                              size_t len, const struct cache_field *after);

/* Case-insensitive ASCII compare of two names. */
bool cache_name_eq_n(const char *a, size_t alen, const char *b, size_t blen);

/* Number of field lines named name. */
size_t cache_fields_count(const struct cache_fields *f, const char *name);

/*
 * Iterates the list elements of every field line named name, in order:
 * empty elements are skipped, elements are trimmed of OWS, commas inside
 * quoted strings do not split. Start with *line = NULL and *pos = 0;
 * returns false when there are no more elements (and keeps returning
 * false).
 */
bool cache_fields_list_next(const struct cache_fields *f, const char *name,
                            const struct cache_field **line, uint32_t *pos,
                            struct cache_span *elem);

bool cache_fields_list_next_n(const struct cache_fields *f, const char *name, size_t name_len,
                              const struct cache_field **line, uint32_t *pos,
                              struct cache_span *elem);

/*
 * True when some list element of a field named name equals token
 * (case-insensitively): "Connection: close, Upgrade" has "upgrade".
 */
bool cache_fields_has_token(const struct cache_fields *f, const char *name, const char *token);

/* True when token (p, len) is one of the comma-separated names in list. */
bool cache_list_has_name(const char *list, size_t list_len, const char *p, size_t len);

/* SPEC: RFC 9110 5.6.2 -- tchar: cache_tchar[c] is true for a token character. */
extern const bool cache_tchar[256];
bool cache_is_tchar(unsigned char c);

#endif
