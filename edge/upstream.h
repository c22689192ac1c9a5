/*
 * upstream.h -- the upstreams of one edge worker: the configured shields or
 * origins by name or address (resolved with c-ares, kept fresh at DNS TTL
 * expiry), their health (passive: failures counted in a window; active:
 * periodic GET of a health path with rise/fall thresholds), and the order
 * in which a fetch tries them.
 *
 * Two ways to order: hash (an edge in front of a shield tier: the object's
 * normalized cache key picks its shield on the consistent-hash ring of
 * shield_pick.c, bounded loads, the next up shield on the ring after it)
 * and order (an origin group: the first up origin as configured, then the
 * next). A member marked down is left out of every order; only its probes
 * bring it back, never viewer traffic. With a single member nothing is
 * ever marked down and nothing is probed (there is nowhere else to go).
 *
 * One struct upstream_set per worker, on that worker's loop; it owns its
 * members, their DNS watches, probe timers and a small httpc of its own for
 * the probes. A reload builds a new set; fetches hold a struct
 * upstream_ticket whose generation tells a result for an old set apart.
 *
 * Not here: the request itself and its retries (edge_fetch.c), the ring
 * (shield_pick.c), resolution (shared/dns.c), loop detection (upstream_loop.c).
 */
#ifndef CASCADE_UPSTREAM_H
#define CASCADE_UPSTREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <event2/event.h>

#include "miniobj.h"
#include "shield_pick.h"

struct dns;
struct httpc;

/* Members of one set at most (the config's address-list cap). */
#define UPSTREAM_MAX 64
/* Addresses kept per member name. */
#define UPSTREAM_ADDRS_MAX 8

enum upstream_select {
    UPSTREAM_SELECT_AUTO = 0, /* hash for role edge, order for role shield */
    UPSTREAM_SELECT_HASH,
    UPSTREAM_SELECT_ORDER,
};

/* How a request to a member ended, for passive health and metrics. */
enum upstream_result {
    UPSTREAM_OK = 0,  /* a response below 500 */
    UPSTREAM_CONNECT, /* no connection, or closed before an answer */
    UPSTREAM_TIMEOUT, /* no head or body in time */
    UPSTREAM_5XX,     /* answered 5xx */
    UPSTREAM_BROKEN,  /* malformed or truncated answer */
    UPSTREAM_NEUTRAL, /* said nothing about the member (queue full, cancelled) */
};

struct upstream_conf {
    bool hash;                    /* hash (edge) or order (shield: origin group) */
    struct shield_pick_conf ring; /* hash only */
    uint32_t health_interval_ms;  /* active probes; 0 = none (a down member returns after
                                     fail_window_ms) */
    uint32_t health_timeout_ms;   /* a probe's connect + head deadline */
    const char *health_path;      /* borrowed for upstream_set_new(): "/healthz" */
    uint32_t rise;                /* good probes in a row that bring a member up */
    uint32_t fall;                /* bad probes in a row that take it down */
    uint32_t max_fails;           /* passive failures within fail_window_ms that take it down */
    uint32_t fail_window_ms;
    uint32_t max_idle; /* probe pool (the fetch pool is the worker's httpc) */
};

void upstream_conf_defaults(struct upstream_conf *c);

struct upstream_set;

/*
 * What a fetch holds while it uses a member: where to connect, and what to
 * hand back to upstream_done(). Filled by upstream_next().
 */
struct upstream_ticket {
    uint64_t gen; /* the set's generation */
    int member;   /* index in the set; -1 before the first pick */
    int ring_id;  /* shield_pick id acquired, or -1 */
    uint64_t start_ms;
    struct sockaddr_storage ss;
    socklen_t len;
    char name[64]; /* "host:port" as configured (for logs) */
    /* the try order, computed at the first upstream_next() */
    int order[UPSTREAM_MAX];
    unsigned norder, tried;
};

/*
 * A set for the comma-separated list "host:port,host:port" (names or
 * literal addresses). Names start resolving at once (dns may be NULL when
 * every member is a literal address). Returns 0 and *out, or ERR_CONF
 * (logged) when an item cannot be used.
 */
int upstream_set_new(struct event_base *base, struct dns *dns, const struct upstream_conf *conf,
                     const char *list, unsigned worker, struct upstream_set **out) WARN_UNUSED;
/*
 * After a reload: members of s that prev also has (same host:port) start
 * with prev's addresses (until their own watch answers) and, when prev
 * saw them down, down (until their probes bring them back), so a reload
 * neither drops requests while names resolve again nor sends viewer
 * traffic to a member known to be down.
 */
void upstream_set_inherit(struct upstream_set *s, const struct upstream_set *prev);
/* Cancels probes and watches. *ps becomes NULL. Run the loop once afterwards. */
void upstream_set_free(struct upstream_set **ps);

/* Members configured. */
unsigned upstream_count(const struct upstream_set *s);
/* The generation of this set (unique per process). */
uint64_t upstream_gen(const struct upstream_set *s);

/*
 * Fills t with the next member to try for key (the object's cache key;
 * any stable bytes for a request that is not cached). The first call
 * computes the try order; each later call moves to the next member in it.
 * Returns 0, or ERR_NOTFOUND when no member is left to try (all down,
 * unresolved or tried).
 */
int upstream_next(struct upstream_set *s, const void *key, size_t len,
                  struct upstream_ticket *t) WARN_UNUSED;

/*
 * The request on t's current member ended with result (passive health,
 * metrics, the ring's load). A ticket from an older set generation is
 * ignored. Call once per upstream_next() that returned 0.
 */
void upstream_done(struct upstream_set *s, struct upstream_ticket *t, enum upstream_result result);

/* Addresses member i has now (0 until its name resolved). */
unsigned upstream_naddrs(const struct upstream_set *s, unsigned i);
/* Whether member i is up (tests, metrics). */
bool upstream_is_up(const struct upstream_set *s, unsigned i);
const char *upstream_name(const struct upstream_set *s, unsigned i);

/* Asserts the set's invariants. */
void upstream_set_check(const struct upstream_set *s);

#endif
