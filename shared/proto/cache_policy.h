/*
 * cache_policy.h -- the HTTP caching rules of a shared cache (the edge and
 * the shield), as pure decisions: may this response be stored, for how
 * long is it fresh, may this stored response answer this request, what to
 * send when revalidating, how a 304 updates what is stored, how a
 * conditional or range request is answered from a stored response, and
 * what an unsafe request invalidates.
 *
 * SPEC: RFC 9111 (HTTP Caching), RFC 9110 (conditional requests 13, range
 * requests 14, status codes 15), RFC 9213 (targeted cache control), RFC
 * 5861 (stale-while-revalidate, stale-if-error), RFC 8246 (immutable).
 * docs/caching.md lists every rule with its section, the configurable
 * defaults, and the known deviations of nginx, Varnish and Traffic Server
 * that this module gets right.
 *
 * Pure: no I/O, no clock (every time is an argument, seconds since the
 * epoch), no libevent, no allocation. Inputs are borrowed header fields
 * (cache_fields.h); results are plain values or spans into those fields.
 * The usual flow in the proxy:
 *
 *   request   cache_req_parse()          once per request
 *   lookup    cache_key_build(), cache_key_vary() (cache_key.h)
 *   hit?      cache_policy_serve(req, stored meta, now)
 *   upstream  cache_policy_validators() when revalidating
 *   response  cache_resp_parse() then cache_policy_store() -> meta to keep
 *             (cache_policy_field_storable() filters the stored fields)
 *   304       cache_policy_304() then cache_policy_merge_304(), reparse
 *   failure   cache_policy_stale_on_error()
 *   client    cache_policy_conditional() -> 200 / 206 / 304 / 412 / 416
 *   unsafe    cache_policy_invalidations() after the response
 *
 * Not here: keys (cache_key.c), storage (store.c), the proxy itself.
 */
#ifndef CASCADE_CACHE_POLICY_H
#define CASCADE_CACHE_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../miniobj.h"
#include "cache_fields.h"

/* A time or a date that is absent (or, for dates, invalid). */
#define CACHE_TIME_NONE INT64_MIN
/* SPEC: RFC 9111 1.2.2 -- delta-seconds saturate at 2^31 ("infinity"). */
#define CACHE_DELTA_MAX 2147483648LL
/* A directive that is absent, and one whose argument is invalid. */
#define CACHE_DELTA_ABSENT (-1)
#define CACHE_DELTA_INVALID (-2)
/* Qualified no-cache / private field lists kept per directive. */
#define CACHE_CC_FIELDS_MAX 4
/* Longest targeted field (all its lines) parsed; longer is ignored. */
#define CACHE_TARGETED_MAX 2048

/* ---- configuration ---- */

enum cache_cookie_policy {
    CACHE_COOKIE_HIT_FOR_MISS = 0, /* never store; remember as uncacheable (default) */
    CACHE_COOKIE_STRIP,            /* store without its Set-Cookie fields */
    CACHE_COOKIE_STORE,            /* store as received (RFC 9111 7.3 allows it) */
};

enum cache_precond_mode {
    /* Evaluate If-Match / If-Unmodified-Since against the stored response,
     * as the gateway the edge is (SPEC: RFC 9110 3.7, 13.2.2): 412 */
    CACHE_PRECOND_EVALUATE = 0,
    /* Leave them to the origin (SPEC: RFC 9111 4.3.2): forward the request */
    CACHE_PRECOND_FORWARD,
};

struct cache_policy_conf {
    int64_t grace;              /* s: serve stale this long when the upstream fails */
    int64_t negative_ttl;       /* s: 404 / 410 without explicit freshness */
    int64_t hit_for_miss_ttl;   /* s: remember an uncacheable answer */
    int64_t heuristic_max;      /* s: cap of the Last-Modified heuristic */
    uint32_t heuristic_percent; /* % of (Date - Last-Modified); 0 turns it off */
    int64_t default_ttl;        /* s: lifetime when nothing else gives one; 0 = off */
    int64_t swr_default;        /* s: stale-while-revalidate when the response has none */
    enum cache_cookie_policy set_cookie;
    enum cache_precond_mode preconditions;
    bool request_directives; /* honour the request's no-cache, max-age, min-fresh, max-stale,
                                stale-if-error, Pragma */
    bool targeted;           /* Cascade-Cache-Control, CDN-Cache-Control (RFC 9213) */
    bool apparent_age;       /* RFC 9111 4.2.3 max(apparent, corrected); off: corrected */
};

/* The defaults docs/caching.md documents. */
extern const struct cache_policy_conf cache_policy_conf_default;

/* ---- directive lists (SPEC: RFC 9111 5.2, RFC 9213 2.1) ---- */

enum cache_cc_flag {
    CACHE_CC_NO_STORE = 1u << 0,
    CACHE_CC_NO_CACHE = 1u << 1,        /* unqualified: always revalidate */
    CACHE_CC_NO_CACHE_FIELDS = 1u << 2, /* qualified: these fields need revalidation */
    CACHE_CC_PRIVATE = 1u << 3,         /* unqualified: a shared cache must not store */
    CACHE_CC_PRIVATE_FIELDS = 1u << 4,  /* qualified: these fields must not be stored */
    CACHE_CC_PUBLIC = 1u << 5,
    CACHE_CC_MUST_REVALIDATE = 1u << 6,
    CACHE_CC_PROXY_REVALIDATE = 1u << 7,
    CACHE_CC_IMMUTABLE = 1u << 8,
    CACHE_CC_NO_TRANSFORM = 1u << 9,
    CACHE_CC_MUST_UNDERSTAND = 1u << 10,
    CACHE_CC_ONLY_IF_CACHED = 1u << 11,
    CACHE_CC_MALFORMED = 1u << 12, /* some element broke the list syntax */
};

/*
 * Directives from one field (Cache-Control, or one targeted field). Delta
 * values are seconds in [0, CACHE_DELTA_MAX], CACHE_DELTA_ABSENT, or
 * CACHE_DELTA_INVALID (a bad argument, or duplicates that disagree: SPEC:
 * RFC 9111 4.2.1). max_stale without a value is CACHE_DELTA_MAX.
 * Field-name lists borrow from the parsed field values.
 */
struct cache_cc {
    uint32_t flags;
    int64_t max_age;
    int64_t s_maxage;
    int64_t max_stale;
    int64_t min_fresh;
    int64_t swr; /* stale-while-revalidate */
    int64_t sie; /* stale-if-error */
    uint8_t n_no_cache_fields;
    uint8_t n_private_fields;
    struct cache_span no_cache_fields[CACHE_CC_FIELDS_MAX]; /* each a list of names */
    struct cache_span private_fields[CACHE_CC_FIELDS_MAX];
};

void cache_cc_init(struct cache_cc *cc);

/*
 * Adds the directives of one Cache-Control field line p[0..len) to cc.
 * Never fails: syntax errors set CACHE_CC_MALFORMED and the element is
 * ignored, except that a known delta directive caught in one becomes
 * CACHE_DELTA_INVALID (stale rather than fresh). Unknown directives are
 * ignored (SPEC: RFC 9111 5.2.3).
 */
void cache_cc_parse(struct cache_cc *cc, const char *p, size_t len);

/*
 * Parses a targeted field (all of its lines) as an RFC 8941 Dictionary
 * into cc. Returns 0, or ERR_PROTO when the field is empty, malformed or
 * longer than CACHE_TARGETED_MAX -- such a field MUST be ignored (SPEC:
 * RFC 9213 2.1); cc is then unchanged.
 */
int cache_cc_parse_targeted(struct cache_cc *cc, const struct cache_fields *f,
                            const char *name) WARN_UNUSED;

void cache_cc_check(const struct cache_cc *cc);

/* ---- dates and Age ---- */

/*
 * An HTTP-date (SPEC: RFC 9110 5.6.7, all three formats; names and "GMT"
 * case-insensitive as RFC 9111 4.2 allows), in seconds since the epoch;
 * CACHE_TIME_NONE when invalid. now resolves RFC 850 two-digit years.
 */
int64_t cache_date_parse(const char *p, size_t len, int64_t now);

/* Writes t as an IMF-fixdate (29 bytes, NUL-terminated); returns 29. */
size_t cache_date_format(char out[30], int64_t t);

/*
 * The Age value (SPEC: RFC 9111 5.1): the first list member, as
 * delta-seconds saturated at CACHE_DELTA_MAX; CACHE_DELTA_ABSENT when
 * absent or invalid (ignored).
 */
int64_t cache_age_parse(const char *p, size_t len);

/* ---- requests ---- */

enum cache_method {
    CACHE_M_GET = 0,
    CACHE_M_HEAD,
    CACHE_M_POST,
    CACHE_M_PUT,
    CACHE_M_DELETE,
    CACHE_M_PATCH,
    CACHE_M_OPTIONS,
    CACHE_M_TRACE,
    CACHE_M_CONNECT,
    CACHE_M_OTHER, /* any other token: forwarded; unsafe (its safety is unknown) */
};

enum cache_method cache_method_parse(const char *p, size_t len);

/* SPEC: RFC 9110 9.2.1 -- GET, HEAD, OPTIONS and TRACE are safe. */
bool cache_method_is_safe(enum cache_method m);

enum cache_req_flag {
    CACHE_REQ_AUTHORIZATION = 1u << 0,
    CACHE_REQ_PRAGMA_NO_CACHE = 1u << 1, /* and no Cache-Control: RFC 7234 5.4 */
    CACHE_REQ_RANGE = 1u << 2,
    CACHE_REQ_IF_MATCH = 1u << 3,
    CACHE_REQ_IF_NONE_MATCH = 1u << 4,
    CACHE_REQ_IF_MODIFIED_SINCE = 1u << 5, /* present, valid, single, GET/HEAD */
    CACHE_REQ_IF_UNMODIFIED_SINCE = 1u << 6,
    CACHE_REQ_IF_RANGE = 1u << 7,
};

/* What the policy reads from a request. Borrows from its fields. */
struct cache_req {
    enum cache_method method;
    uint32_t flags;
    struct cache_cc cc;
    int64_t if_modified_since;         /* CACHE_TIME_NONE unless the flag is set */
    int64_t if_unmodified_since;       /* likewise */
    const struct cache_fields *fields; /* borrowed: If-Match, If-None-Match, Range, If-Range */
};

void cache_req_parse(struct cache_req *q, const char *method, size_t method_len,
                     const struct cache_fields *f, int64_t now);

/* ---- responses ---- */

enum cache_cc_source {
    CACHE_SRC_NONE = 0,      /* no cache directives at all */
    CACHE_SRC_CACHE_CONTROL, /* Cache-Control (and Expires) */
    CACHE_SRC_CDN,           /* CDN-Cache-Control (RFC 9213 3) */
    CACHE_SRC_CASCADE,       /* Cascade-Cache-Control: ours, most specific */
};

enum cache_resp_flag {
    CACHE_RESP_DATE = 1u << 0,
    CACHE_RESP_EXPIRES = 1u << 1,         /* present and used */
    CACHE_RESP_EXPIRES_INVALID = 1u << 2, /* invalid or conflicting: already expired */
    CACHE_RESP_LAST_MODIFIED = 1u << 3,
    CACHE_RESP_ETAG = 1u << 4, /* a valid entity-tag */
    CACHE_RESP_ETAG_WEAK = 1u << 5,
    CACHE_RESP_VARY = 1u << 6,
    CACHE_RESP_VARY_STAR = 1u << 7, /* or a Vary that is not a list of names */
    CACHE_RESP_SET_COOKIE = 1u << 8,
    CACHE_RESP_AGE = 1u << 9,
    CACHE_RESP_CONTENT_RANGE = 1u << 10,
};

/* What the policy reads from a response. Borrows from its fields. */
struct cache_resp {
    uint16_t status;
    uint32_t flags;
    enum cache_cc_source src;
    struct cache_cc cc;    /* the directives in force: the targeted field, or Cache-Control */
    int64_t date;          /* CACHE_TIME_NONE when absent or invalid */
    int64_t expires;       /* valid when CACHE_RESP_EXPIRES */
    int64_t last_modified; /* CACHE_TIME_NONE when absent or invalid */
    int64_t age;           /* CACHE_DELTA_ABSENT when absent or invalid */
    struct cache_span etag;
    const struct cache_fields *fields; /* borrowed */
};

void cache_resp_parse(struct cache_resp *r, const struct cache_policy_conf *conf, uint16_t status,
                      const struct cache_fields *f, int64_t now);

/* ---- what is kept with a stored response ---- */

enum cache_meta_flag {
    CACHE_META_HIT_FOR_MISS = 1u << 0, /* a marker, not a response: pass until expiry */
    CACHE_META_NO_CACHE = 1u << 1,     /* validate before every use */
    CACHE_META_NO_STALE = 1u << 2,     /* must-revalidate, proxy-revalidate, s-maxage, no-cache */
    CACHE_META_IMMUTABLE = 1u << 3,
    CACHE_META_HEURISTIC = 1u << 4, /* the lifetime is a heuristic or configured one */
    CACHE_META_ETAG = 1u << 5,
    CACHE_META_LAST_MODIFIED = 1u << 6,
    CACHE_META_VARY = 1u << 7,
};

#define CACHE_META_VERSION 1

/*
 * The fixed-size facts a stored response is served by, computed once when
 * it is stored (or updated by a 304): no header is parsed on a hit. Plain
 * data with explicit widths, meant to be stored next to the header block.
 */
struct cache_meta {
    uint32_t version; /* CACHE_META_VERSION */
    uint16_t status;
    uint16_t flags;
    int64_t request_time;          /* our clock when the request was sent */
    int64_t response_time;         /* our clock when the response arrived (or the marker expires) */
    int64_t corrected_initial_age; /* SPEC: RFC 9111 4.2.3 */
    int64_t lifetime;              /* freshness lifetime, s */
    int64_t swr;                   /* stale-while-revalidate window, s; CACHE_DELTA_ABSENT */
    int64_t sie;                   /* stale-if-error window, s; CACHE_DELTA_ABSENT */
    int64_t date;                  /* Date, else response_time */
    int64_t last_modified;         /* CACHE_TIME_NONE */
};

void cache_meta_check(const struct cache_meta *m);

/* SPEC: RFC 9111 4.2.3 -- the current age of a stored response at now, s. */
int64_t cache_age_current(const struct cache_meta *m, int64_t now);

/* SPEC: RFC 9111 4.2 -- freshness_lifetime > current_age. */
bool cache_is_fresh(const struct cache_meta *m, int64_t now);

/* ---- storing ---- */

enum cache_store {
    CACHE_STORE_NO = 0,       /* do not store; nothing to remember */
    CACHE_STORE_YES,          /* store; meta filled */
    CACHE_STORE_HIT_FOR_MISS, /* do not store; keep the marker in meta briefly */
};

/* Why: the stable name is cache_why_str() ("no_store", "private", ...). */
enum cache_why {
    CACHE_WHY_OK = 0,
    CACHE_WHY_METHOD,       /* not GET (or HEAD for serving) */
    CACHE_WHY_STATUS,       /* status not storable (1xx, 206, 304, unknown, errors) */
    CACHE_WHY_NO_STORE,     /* response no-store */
    CACHE_WHY_REQ_NO_STORE, /* request no-store */
    CACHE_WHY_PRIVATE,
    CACHE_WHY_AUTHORIZATION, /* request had Authorization, response not marked shareable */
    CACHE_WHY_SET_COOKIE,
    CACHE_WHY_VARY_STAR,
    CACHE_WHY_NO_FRESHNESS, /* nothing makes it storable (RFC 9111 3) */
    CACHE_WHY_NO_VALIDATOR, /* no-cache without a validator: storing it is useless */
    CACHE_WHY_HIT_FOR_MISS, /* serve: a marker says pass */
    CACHE_WHY_FRESH,
    CACHE_WHY_STALE,
    CACHE_WHY_REQ_NO_CACHE,
    CACHE_WHY_REQ_MAX_AGE,
    CACHE_WHY_REQ_MIN_FRESH,
    CACHE_WHY_REQ_MAX_STALE,
    CACHE_WHY_SWR,
    CACHE_WHY_NO_CACHE, /* stored response says no-cache */
    CACHE_WHY_ONLY_IF_CACHED,
    CACHE_WHY_UNSAFE,       /* unsafe method: write through */
    CACHE_WHY_PRECONDITION, /* If-Match / If-Unmodified-Since left to the origin */
};

const char *cache_why_str(enum cache_why why);

struct cache_store_decision {
    enum cache_store what;
    enum cache_why why;
    bool strip_fields; /* filter fields with cache_policy_field_storable() */
};

/*
 * Whether response r to request q may be stored by a shared cache (SPEC:
 * RFC 9111 3, 3.5, 4.2.1, 4.2.2; RFC 9110 15.1), and if so the meta to
 * keep (times are our clock). For CACHE_STORE_HIT_FOR_MISS, meta is the
 * marker (kept conf->hit_for_miss_ttl). A response that arrives while
 * revalidating is decided the same way; a 5xx then is a failure first
 * (cache_policy_stale_on_error()).
 */
void cache_policy_store(const struct cache_policy_conf *conf, const struct cache_req *q,
                        const struct cache_resp *r, int64_t request_time, int64_t response_time,
                        struct cache_store_decision *d, struct cache_meta *meta);

/*
 * Whether a field of response r may be stored (SPEC: RFC 9111 3.1):
 * false for Connection and the fields it names, hop-by-hop fields,
 * Proxy-Authenticate, Proxy-Authentication-Info, Proxy-Authorization,
 * the fields a qualified private or no-cache names, and Set-Cookie under
 * CACHE_COOKIE_STRIP. Age is stored: the age calculation reads it.
 */
bool cache_policy_field_storable(const struct cache_policy_conf *conf, const struct cache_resp *r,
                                 const char *name, size_t len);

/* ---- serving ---- */

enum cache_serve {
    CACHE_SERVE_FRESH = 0,        /* serve it (Age: cache_age_current()) */
    CACHE_SERVE_STALE,            /* serve it stale, no validation (max-stale allowed it) */
    CACHE_SERVE_STALE_REVALIDATE, /* serve it stale now, revalidate in the background */
    CACHE_SERVE_REVALIDATE,       /* send a conditional request first (cache_policy_validators()) */
    CACHE_SERVE_MISS,             /* nothing usable: fetch (a marker has expired) */
    CACHE_SERVE_PASS, /* forward without the cache: unsafe method, marker, precondition */
    CACHE_SERVE_GATEWAY_TIMEOUT, /* only-if-cached and nothing servable: 504 */
};

struct cache_serve_decision {
    enum cache_serve what;
    enum cache_why why;
    int64_t age;         /* current age, s */
    int64_t staleness;   /* s past the lifetime; 0 when fresh */
    bool stale_on_error; /* if the upstream fails, this response may be served stale */
    bool store_response; /* what the upstream answers may be stored (request no-store: no) */
};

/*
 * What to do with request q given a stored response's meta (NULL: none
 * stored, or the Vary did not match) at now (SPEC: RFC 9111 4, 4.2.4,
 * 5.2.1; RFC 5861; RFC 8246). The caller has already matched the primary
 * and secondary keys.
 */
void cache_policy_serve(const struct cache_policy_conf *conf, const struct cache_req *q,
                        const struct cache_meta *m, int64_t now, struct cache_serve_decision *d);

/*
 * After the upstream failed (no connection, timeout, or a 5xx while
 * revalidating: SPEC: RFC 9111 4.3.3), whether the stored response may be
 * served stale: within its stale-if-error window, the request's, or
 * conf->grace (SPEC: RFC 9111 4.2.4 -- a disconnected cache), and never
 * when the response forbids stale (must-revalidate, proxy-revalidate,
 * s-maxage, no-cache: then 504). A fresh response is always servable.
 */
bool cache_policy_stale_on_error(const struct cache_policy_conf *conf, const struct cache_req *q,
                                 const struct cache_meta *m, int64_t now);

/* ---- revalidation ---- */

struct cache_validators {
    struct cache_span etag;          /* for If-None-Match (SPEC: RFC 9111 4.3.1 MUST) */
    struct cache_span last_modified; /* for If-Modified-Since (SHOULD) */
};

/* The validators of a stored response, borrowed from its fields. */
void cache_policy_validators(const struct cache_fields *stored, struct cache_validators *v);

enum cache_304 {
    CACHE_304_UPDATE = 0, /* update the stored headers (merge), then serve */
    CACHE_304_SERVE_ONLY, /* validated, but the 304 may not update (no validators) */
    CACHE_304_MISMATCH,   /* another representation: fetch unconditionally */
};

/*
 * Which stored response a 304 freshens (SPEC: RFC 9111 4.3.4): a strong
 * validator in the 304 must be one the stored response has.
 */
enum cache_304 cache_policy_304(const struct cache_fields *stored,
                                const struct cache_fields *resp304);

/*
 * The stored fields updated with a 304's (SPEC: RFC 9111 3.2): every field
 * of the 304 replaces the stored fields of that name, except
 * Content-Length, Content-Range and Content-Encoding (the stored body
 * depends on them) and, when !for_client, every field 3.1 or the policy
 * keeps out of storage (hop-by-hop, Proxy-*, qualified private/no-cache
 * names, Set-Cookie unless conf stores cookies). With for_client, the
 * result is the response for the client whose request caused the
 * validation: it may carry that client's Set-Cookie, never stored.
 * out[0..cap) borrows from both inputs; returns the count or ERR_LIMIT.
 * The body is kept. Re-parse the stored result and rebuild the meta with
 * the validation's request and response times.
 */
int cache_policy_merge_304(const struct cache_policy_conf *conf, const struct cache_fields *stored,
                           const struct cache_fields *resp304, bool for_client,
                           struct cache_field *out, size_t cap) WARN_UNUSED;

/*
 * SPEC: RFC 9111 4.3.5 -- a 200 to HEAD: true when it describes the stored
 * GET response (validators and Content-Length agree) and may update it;
 * false: the stored response should be considered stale.
 */
bool cache_policy_head_matches(const struct cache_fields *stored, const struct cache_fields *head);

/* ---- answering a client from a stored response ---- */

enum cache_cond {
    CACHE_COND_200 = 0, /* the stored response as is */
    CACHE_COND_206,     /* one byte range: first..last of length */
    CACHE_COND_304,
    CACHE_COND_412,
    CACHE_COND_416,     /* Content-Range: bytes * /length */
    CACHE_COND_FORWARD, /* preconditions left to the origin (CACHE_PRECOND_FORWARD) */
};

struct cache_cond_result {
    enum cache_cond what;
    uint64_t first, last;   /* 206: inclusive */
    uint64_t length;        /* the representation's length */
    char content_range[64]; /* 206 / 416: the Content-Range value; else "" */
};

/* Most ranges in one Range field; more and Range is ignored. */
#define CACHE_RANGES_MAX 32

/*
 * How to answer request q from a stored response (its fields, meta and
 * body length), SPEC: RFC 9110 13.2.2 order: If-Match, If-Unmodified-Since
 * (412), If-None-Match (weak comparison; 304 for GET/HEAD), If-Modified-
 * Since (304), If-Range (strong), then Range (single range: 206; several
 * that overlap or touch: coalesced; several apart: the first satisfiable,
 * as RFC 9110 15.3.7 allows a subset; none satisfiable: 416). Preconditions
 * are ignored when the stored status is not 2xx (SPEC: RFC 9110 13.2.1);
 * Range applies to GET of a stored 200 only.
 */
void cache_policy_conditional(const struct cache_policy_conf *conf, const struct cache_req *q,
                              const struct cache_fields *stored, const struct cache_meta *m,
                              uint64_t length, struct cache_cond_result *res);

/*
 * SPEC: RFC 9110 15.4.5 -- whether a stored field goes into a 304:
 * Cache-Control, Content-Location, Date, ETag, Expires, Vary, the targeted
 * fields, and Last-Modified when there is no ETag.
 */
bool cache_policy_field_in_304(const char *name, size_t len, bool has_etag);

/* ---- entity tags (SPEC: RFC 9110 8.8.3) ---- */

/* Strong comparison: neither weak, same opaque-tag. */
bool cache_etag_strong_eq(const char *a, size_t alen, const char *b, size_t blen);
/* Weak comparison: same opaque-tag, weakness ignored. */
bool cache_etag_weak_eq(const char *a, size_t alen, const char *b, size_t blen);
/* True when p[0..len) is exactly one valid entity-tag. */
bool cache_etag_valid(const char *p, size_t len);

/* ---- invalidation (SPEC: RFC 9111 4.4) ---- */

struct cache_invalidation {
    uint8_t n;
    struct {
        uint32_t off; /* in the caller's buffer */
        uint32_t len;
    } key[3]; /* primary keys: the target, then Location, Content-Location */
};

/*
 * After a response of status to a request with method m for (host,
 * target): the primary keys to invalidate, written into buf[0..cap).
 * None unless m is unsafe (unknown methods included) and status is 2xx or
 * 3xx. Location and Content-Location count only when their origin is the
 * target's (same scheme, host and port); relative references are resolved
 * against the target (RFC 3986 5.2); a URI no key can be built for
 * (malformed, or over CACHE_KEY_MAX) has nothing stored to invalidate.
 * Returns the number of keys, or ERR_LIMIT when buf is too small.
 */
int cache_policy_invalidations(enum cache_method m, uint16_t status, bool https, const char *host,
                               size_t host_len, const char *target, size_t target_len,
                               const struct cache_fields *resp, char *buf, size_t cap,
                               struct cache_invalidation *inv) WARN_UNUSED;

#endif
