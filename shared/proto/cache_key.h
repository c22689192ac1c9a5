/*
 * cache_key.h -- the keys a stored response is found by: the primary key
 * (the normalized URL) and the secondary key (the request's values of the
 * fields the response's Vary names).
 *
 * Primary key, SPEC: RFC 9111 2 and 4 (method + target URI; we store GET
 * responses only, so the method is implied), with the equivalences of
 * RFC 3986 6.2.2 that are safe for any origin:
 *   - host lowercased, the default port dropped (RFC 3986 6.2.3);
 *   - percent-encodings of unreserved characters decoded, other
 *     percent-encodings' hex digits uppercased (RFC 3986 6.2.2.1-2);
 *   - dot-segments removed from the path (RFC 3986 5.2.4); a path whose
 *     ".." would climb above the root is refused (ERR_PROTO: answer 400);
 *   - the CMCD query parameter (CTA-5004 query mode) removed: it differs
 *     per player and per request, and never selects a different object;
 *   - the remaining query parameters sorted by name, stably (parameters
 *     with one name keep their relative order, as origins may read them as
 *     an ordered array); empty parameters dropped.
 * Everything else (case of the path, '+' versus %20, empty path segments,
 * reserved characters and their encodings) is kept as received: those are
 * not equivalences an origin is bound by. The result is bounded by
 * CACHE_KEY_MAX; a longer key is ERR_LIMIT (the proxy passes the request
 * through uncached). The proxy still forwards the target as received: the
 * key only finds stored responses.
 *
 * Secondary key, SPEC: RFC 9111 4.1: for every field name in Vary (sorted,
 * deduplicated, lowercased) the request's value, with the normalizations
 * 4.1 allows (whitespace where the list syntax allows it, several field
 * lines combined), and absence kept distinct from an empty value.
 *
 * Pure: no I/O, no allocation (a bounded scratch sits on the stack).
 * Not here: whether a response may be stored or served (cache_policy.c).
 */
#ifndef CASCADE_CACHE_KEY_H
#define CASCADE_CACHE_KEY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../miniobj.h"
#include "cache_fields.h"

/* Longest primary key, bytes, including the host. */
#define CACHE_KEY_MAX 4096
/* Most query parameters a key keeps; more is ERR_LIMIT. */
#define CACHE_KEY_PARAMS_MAX 64
/* Longest secondary key, bytes. */
#define CACHE_VARY_MAX 2048
/* Most distinct field names a Vary may nominate; more is ERR_LIMIT. */
#define CACHE_VARY_FIELDS_MAX 16

/*
 * Writes the primary key for a request into out[0..cap) (not
 * NUL-terminated) and returns its length. host (may be empty) is the
 * request's Host value; default_port (80, 443, or 0 for none) is dropped
 * from it. target is the request-target in origin-form ("/p?q") or
 * absolute-form ("http://h/p?q", whose authority then replaces host).
 * The key is "<host><path>[?<query>]".
 * ERR_PROTO: not an origin- or absolute-form target, userinfo in the
 * authority, a malformed percent-encoding, a fragment, or a path that
 * escapes the root. ERR_LIMIT: longer than cap or CACHE_KEY_MAX, or more
 * than CACHE_KEY_PARAMS_MAX query parameters.
 */
int cache_key_build(char *out, size_t cap, const char *host, size_t host_len, uint16_t default_port,
                    const char *target, size_t target_len) WARN_UNUSED;

/*
 * The secondary key of a request for a stored response: out[0..cap) gets
 * one line per nominated field, "name:value\n" (present) or "name\n"
 * (absent), in name order; returns its length (0 when the response has no
 * Vary). ERR_PROTO: the Vary holds "*" or something that is not a field
 * name -- such a response can never be served from the cache. ERR_LIMIT:
 * over cap, CACHE_VARY_MAX or CACHE_VARY_FIELDS_MAX.
 */
int cache_key_vary(char *out, size_t cap, const struct cache_fields *resp,
                   const struct cache_fields *req) WARN_UNUSED;

/*
 * Asserts what every key built above satisfies: within CACHE_KEY_MAX, a
 * path that starts with '/' and holds no dot-segment, percent-encodings
 * well-formed with uppercase hex and never of an unreserved character, no
 * CMCD parameter, parameters sorted.
 */
void cache_key_check(const char *key, size_t len);

#endif
