/*
 * dns.h -- upstream host names resolved asynchronously (c-ares), kept fresh.
 *
 * One struct dns per event loop. A caller that needs a name's addresses
 * holds a struct dns_watch on it: the name is resolved (A and AAAA) on the
 * loop, re-resolved whenever its DNS TTL runs out, and every watch of the
 * name is told through its callback when the address set first becomes
 * known and whenever it changes. Watches of one name share one cache entry
 * and one resolution. When a resolution fails after an earlier one
 * succeeded, the last good addresses are kept (stale) and the failure is
 * logged and counted: dns.lookups{result=ok|failed|stale_kept}. A literal
 * IPv4 or IPv6 address never goes to DNS.
 *
 * Nothing here blocks and no thread is started: c-ares sockets and
 * timeouts are driven by libevent events. Callbacks always run from the
 * loop, never from inside dns_watch_new() or dns_watch_free().
 *
 * Not here: picking one address or one upstream (edge/upstream.c, edge/
 * shield_pick.c), connecting (httpc.c). docs/upstreams.md describes the
 * behaviour (TTL floor and cap, failure back-off, stale-keep).
 */
#ifndef CASCADE_DNS_H
#define CASCADE_DNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <event2/event.h>

#include "miniobj.h"

/* At most this many addresses are kept per name; later ones are dropped. */
#define DNS_MAX_ADDRS 32
/* The longest name accepted (RFC 1035 2.3.4, without the final dot). */
#define DNS_NAME_MAX 253

struct dns_conf {
    /*
     * DNS servers as "host[:port][,host[:port]...]" (IPv6 as [addr]:port);
     * NULL uses /etc/resolv.conf. Borrowed for the dns_new() call only.
     * Tests point this at a server on a loopback port.
     */
    const char *servers;
    uint32_t timeout_ms;   /* per try, before the next server or try */
    uint32_t tries;        /* per query */
    uint32_t ttl_min_ms;   /* a shorter TTL (0 included) is raised to this */
    uint32_t ttl_max_ms;   /* a longer TTL is cut to this */
    uint32_t retry_min_ms; /* first retry after a failed resolution */
    uint32_t retry_max_ms; /* the retry interval doubles up to this */
};

/* timeout 2 s x 2 tries, TTL kept within [1 s, 1 h], retries 1 s .. 30 s. */
void dns_conf_defaults(struct dns_conf *c);

struct dns_addr {
    struct sockaddr_storage sa; /* AF_INET or AF_INET6; port 0 */
    socklen_t len;
    uint32_t ttl_s; /* the record's TTL as answered (0 for a literal) */
};

/* What a watch sees: the current addresses and how they were obtained. */
struct dns_answer {
    const struct dns_addr *addrs; /* borrowed: see dns_watch_peek() */
    size_t n;                     /* 0 only when no resolution ever succeeded */
    /*
     * 0 when the last resolution succeeded, else its error: ERR_NOTFOUND
     * (NXDOMAIN, or no A/AAAA record), ERR_TIMEOUT (no server answered),
     * ERR_UPSTREAM (SERVFAIL, REFUSED, a malformed answer), ERR_FAULT
     * (the fault point dns.resolve, test builds).
     */
    int err;
    bool stale;       /* err != 0 and addrs are the last good set */
    bool literal;     /* the name was an IP address; never refreshed */
    uint32_t ttl_ms;  /* the TTL in use for the current addrs (floor/cap applied) */
    uint64_t version; /* bumped every time a callback is due for this answer */
};

struct dns;
struct dns_watch;

/*
 * Called from the loop when the watch's answer is first known, and after
 * each resolution that changed it (addresses, err or stale). The answer is
 * the one dns_watch_peek() returns. The callback may free this watch or
 * any other, and may create watches.
 */
typedef void dns_watch_cb(struct dns_watch *w, const struct dns_answer *a, void *arg);

/*
 * A resolver on base. 0 and *out on success; ERR_CONF when conf->servers
 * cannot be parsed or c-ares cannot start (both logged), -ENOMEM.
 */
int dns_new(struct event_base *base, const struct dns_conf *conf, struct dns **out) WARN_UNUSED;

/*
 * Cancels what is in flight and releases every event on the loop. All
 * watches must have been freed before (asserted), and it must not be
 * called from inside a watch callback. *pd becomes NULL.
 */
void dns_free(struct dns **pd);

/*
 * Watches host (a DNS name, matched case-insensitively, an optional final
 * dot ignored; or a literal IPv4/IPv6 address). A new name starts
 * resolving now; cb runs later from the loop, never before this returns.
 * 0 and *out, or ERR_INVAL for a host that is neither a valid name nor an
 * address.
 */
int dns_watch_new(struct dns *d, const char *host, dns_watch_cb *cb, void *arg,
                  struct dns_watch **out) WARN_UNUSED;

/* Stops watching; no callback runs for it afterwards. *pw becomes NULL. */
void dns_watch_free(struct dns_watch **pw);

/*
 * The current answer, or NULL before the first callback of this watch.
 * Borrowed until this watch's next callback or dns_watch_free(): an answer
 * only changes right before a callback is due.
 */
const struct dns_answer *dns_watch_peek(const struct dns_watch *w);

/* The host as normalized for the cache (lower case, no final dot). */
const char *dns_watch_host(const struct dns_watch *w);

/* Copies a with port set (host order) into out; returns the length to connect() with. */
socklen_t dns_addr_with_port(const struct dns_addr *a, uint16_t port, struct sockaddr_storage *out);

/* Formats a's address (no port) into buf; returns buf. */
const char *dns_addr_str(const struct dns_addr *a, char *buf, size_t bufsz);

/* Asserts the resolver's invariants (entries, watches, socket events). */
void dns_check(const struct dns *d);

#endif
