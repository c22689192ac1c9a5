/*
 * dns.c -- asynchronous name resolution with c-ares on a libevent loop.
 *
 * The only module that includes <ares.h>: c-ares status codes are turned
 * into ours here and never travel up. One ares channel per struct dns.
 * c-ares tells us which sockets it wants watched (ARES_OPT_SOCK_STATE_CB);
 * each gets a slot with an embedded event, and one timer follows
 * ares_timeout() so retransmissions and query timeouts happen on time.
 * c-ares allocates through xmalloc()/xfree(), so a unit test's live count
 * covers its memory too.
 *
 * A struct dns_entry is the cache of one name, shared by every watch of
 * that name. Its life: created by the first watch and resolved at once;
 * re-resolved by its refresh timer (after the TTL, or after a back-off
 * when the last attempt failed) while it has watches; killed once it has
 * no watch, no query in flight and nothing left to deliver, then freed
 * from the resolver's reap event (never inside one of its own callbacks).
 *
 * A c-ares callback only records the result on the entry (e->pend) and
 * activates the entry's notify event: c-ares may call back from inside
 * ares_getaddrinfo() (a hosts-file answer), and user code must never run
 * inside c-ares or inside dns_watch_new(). The notify event applies the
 * result (so an answer only changes right before its callbacks) and calls
 * every watch whose last delivered version is older.
 *
 * Owns: the ares channel, socket slots, entries and watches' memory.
 * Not here: choosing among the addresses, connecting, health (edge/).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <ares.h>
#include <event2/event.h>
#include <event2/event_struct.h>

#include "dns.h"
#include "err.h"
#include "fault.h"
#include "log.h"
#include "mem.h"
#include "metrics.h"
#include "compat.h"

struct dns_sock {
    unsigned magic;
#define DNS_SOCK_MAGIC 0x646e736bU
    struct dns *d;   /* borrowed: the owner */
    int fd;          /* -1: the slot is free */
    short what;      /* EV_READ|EV_WRITE as registered */
    struct event ev; /* added while fd != -1 */
};

struct dns_pend {
    struct dns_addr *addrs; /* owned */
    size_t n;
    int err;
    uint32_t ttl_ms;
};

struct dns_entry {
    unsigned magic;
#define DNS_ENTRY_MAGIC 0x646e7365U
    struct dns *d;             /* borrowed: the owner */
    struct dns_entry *next;    /* in d->entries, or in d->dead once killed */
    char *name;                /* owned; normalized */
    struct dns_watch *watches; /* the watches (each holds the entry) */
    unsigned nwatch;
    struct dns_watch *notify_next; /* cursor while notifying (a freed watch advances it) */
    bool notifying;
    bool inflight; /* an ares_getaddrinfo() runs with this entry as arg */
    bool has_pend; /* pend holds a result the notify event has not applied */
    bool dead;
    struct dns_pend pend;
    struct dns_addr *addrs;   /* owned; ans.addrs */
    struct dns_answer ans;    /* meaningful once ans.version > 0 */
    uint32_t retry_ms;        /* wait before the retry after the next failure */
    struct event *notify_ev;  /* owned */
    struct event *refresh_ev; /* owned */
};

struct dns_watch {
    unsigned magic;
#define DNS_WATCH_MAGIC 0x646e7377U
    struct dns_entry *e;           /* ref: keeps the entry */
    struct dns_watch *prev, *next; /* in e->watches */
    dns_watch_cb *cb;
    void *arg;
    uint64_t seen; /* e->ans.version delivered; 0: nothing yet */
};

struct dns {
    unsigned magic;
#define DNS_MAGIC 0x646e7320U
    struct event_base *base; /* borrowed */
    ares_channel channel;    /* owned */
    struct dns_conf conf;    /* servers is NULL here */
    struct dns_entry *entries;
    struct dns_entry *dead;  /* killed, waiting for the reap event */
    struct dns_sock **socks; /* owned slots (never moved while their event is added) */
    size_t nsocks;
    struct event *timer_ev; /* owned: c-ares timeouts */
    struct event *reap_ev;  /* owned: frees d->dead */
    bool closing;           /* inside dns_free(): c-ares calls back with EDESTRUCTION */
    struct metric *m_ok, *m_failed, *m_stale;
};

/* STYLE 5: the invariants are walked on entry in debug builds. */
#ifdef CASCADE_DEBUG
#define DNS_DCHECK(d) dns_check(d)
#else
#define DNS_DCHECK(d) ((void)0)
#endif

static pthread_once_t dns_lib_once = PTHREAD_ONCE_INIT;
static int dns_lib_rc;

static void
dns_lib_init(void)
{
    dns_lib_rc = ares_library_init_mem(ARES_LIB_INIT_ALL, xmalloc, xfree, xrealloc);
}

/* ---- helpers ---- */

void
dns_conf_defaults(struct dns_conf *c)
{
    memset(c, 0, sizeof(*c));
    c->servers = NULL;
    c->timeout_ms = 2000;
    c->tries = 2;
    c->ttl_min_ms = 1000;
    c->ttl_max_ms = 3600 * 1000;
    c->retry_min_ms = 1000;
    c->retry_max_ms = 30 * 1000;
}

/* c-ares status names for logs (ares_strerror() text has spaces). */
static const char *
dns_ares_name(int status)
{
    switch (status) {
    case ARES_SUCCESS:
        return "SUCCESS";
    case ARES_ENODATA:
        return "ENODATA";
    case ARES_EFORMERR:
        return "EFORMERR";
    case ARES_ESERVFAIL:
        return "ESERVFAIL";
    case ARES_ENOTFOUND:
        return "ENOTFOUND";
    case ARES_ENOTIMP:
        return "ENOTIMP";
    case ARES_EREFUSED:
        return "EREFUSED";
    case ARES_EBADNAME:
        return "EBADNAME";
    case ARES_EBADRESP:
        return "EBADRESP";
    case ARES_ECONNREFUSED:
        return "ECONNREFUSED";
    case ARES_ETIMEOUT:
        return "ETIMEOUT";
    case ARES_ENOMEM:
        return "ENOMEM";
    case ARES_EDESTRUCTION:
        return "EDESTRUCTION";
    case ARES_ECANCELLED:
        return "ECANCELLED";
    case ARES_EBADSTR:
        return "EBADSTR";
    case ARES_ENONAME:
        return "ENONAME";
    case ARES_EBADQUERY:
        return "EBADQUERY";
    case ARES_EFILE:
        return "EFILE";
    case ARES_EOF:
        return "EOF";
    default:
        return "EOTHER";
    }
}

/* The one place c-ares status becomes one of our codes. */
static int
dns_ares_err(int status)
{
    switch (status) {
    case ARES_SUCCESS:
        return 0;
    case ARES_ENODATA:
    case ARES_ENOTFOUND:
    case ARES_ENONAME:
        return ERR_NOTFOUND;
    case ARES_ETIMEOUT:
        return ERR_TIMEOUT;
    case ARES_ENOMEM:
        return -ENOMEM;
    case ARES_EBADNAME:
    case ARES_EBADSTR:
        return ERR_INVAL;
    case ARES_EDESTRUCTION:
    case ARES_ECANCELLED:
        return ERR_CLOSED;
    default: /* ESERVFAIL, EREFUSED, EFORMERR, EBADRESP, ECONNREFUSED, ... */
        return ERR_UPSTREAM;
    }
}

static uint32_t
dns_clamp_u32(uint64_t v, uint32_t lo, uint32_t hi)
{
    if (v < lo)
        return lo;
    if (v > hi)
        return hi;
    return (uint32_t)v;
}

static bool
dns_addr_same(const struct dns_addr *a, const struct dns_addr *b)
{
    if (a->sa.ss_family != b->sa.ss_family)
        return false;
    if (a->sa.ss_family == AF_INET)
        return memcmp(&((const struct sockaddr_in *)&a->sa)->sin_addr,
                      &((const struct sockaddr_in *)&b->sa)->sin_addr, sizeof(struct in_addr)) == 0;
    return memcmp(&((const struct sockaddr_in6 *)&a->sa)->sin6_addr,
                  &((const struct sockaddr_in6 *)&b->sa)->sin6_addr, sizeof(struct in6_addr)) == 0;
}

static const struct dns_addr *
dns_addr_find(const struct dns_addr *set, size_t n, const struct dns_addr *a)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (dns_addr_same(&set[i], a))
            return &set[i];
    return NULL;
}

/* Same addresses, in any order (answers rotate; that is not a change). */
static bool
dns_addr_set_equal(const struct dns_addr *a, size_t na, const struct dns_addr *b, size_t nb)
{
    size_t i;

    if (na != nb)
        return false;
    for (i = 0; i < na; i++)
        if (dns_addr_find(b, nb, &a[i]) == NULL)
            return false;
    return true;
}

/* Fills a from a sockaddr of family AF_INET/AF_INET6 (port cleared). */
static void
dns_addr_fill(struct dns_addr *a, const struct sockaddr *sa, uint32_t ttl_s)
{
    memset(a, 0, sizeof(*a));
    if (sa->sa_family == AF_INET) {
        memcpy(&a->sa, sa, sizeof(struct sockaddr_in));
        ((struct sockaddr_in *)&a->sa)->sin_port = 0;
        a->len = sizeof(struct sockaddr_in);
    } else {
        memcpy(&a->sa, sa, sizeof(struct sockaddr_in6));
        ((struct sockaddr_in6 *)&a->sa)->sin6_port = 0;
        a->len = sizeof(struct sockaddr_in6);
    }
    a->ttl_s = ttl_s;
}

socklen_t
dns_addr_with_port(const struct dns_addr *a, uint16_t port, struct sockaddr_storage *out)
{
    *out = a->sa;
    if (a->sa.ss_family == AF_INET)
        ((struct sockaddr_in *)out)->sin_port = htons(port);
    else
        ((struct sockaddr_in6 *)out)->sin6_port = htons(port);
    return a->len;
}

const char *
dns_addr_str(const struct dns_addr *a, char *buf, size_t bufsz)
{
    const void *src;

    if (a->sa.ss_family == AF_INET)
        src = &((const struct sockaddr_in *)&a->sa)->sin_addr;
    else
        src = &((const struct sockaddr_in6 *)&a->sa)->sin6_addr;
    if (inet_ntop(a->sa.ss_family, src, buf, (socklen_t)bufsz) == NULL)
        snprintf(buf, bufsz, "?");
    return buf;
}

/*
 * Lower-cases host into out (DNS_NAME_MAX + 1 bytes) without a final dot.
 * Letters, digits, '-' and '_', labels of 1..63 bytes (RFC 1035 2.3.4;
 * '_' for service-style names). 0 or ERR_INVAL.
 */
static int
dns_name_normalize(const char *host, char *out)
{
    size_t len = strnlen(host, DNS_NAME_MAX + 2), i, label = 0;
    char c;

    if (len > 0 && host[len - 1] == '.')
        len--;
    if (len == 0 || len > DNS_NAME_MAX)
        return ERR_INVAL;
    for (i = 0; i < len; i++) {
        c = host[i];
        if (c == '.') {
            if (label == 0)
                return ERR_INVAL;
            label = 0;
        } else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_') {
            label++;
        } else if (c >= 'A' && c <= 'Z') {
            c = (char)(c - 'A' + 'a');
            label++;
        } else {
            return ERR_INVAL;
        }
        if (label > 63)
            return ERR_INVAL;
        out[i] = c;
    }
    out[len] = '\0';
    return 0;
}

/* ---- c-ares sockets and timer on the loop ---- */

static void
dns_timer_update(struct dns *d)
{
    struct timeval tv, *tvp;

    if (d->closing)
        return;
    tvp = ares_timeout(d->channel, NULL, &tv);
    if (tvp == NULL)
        AZ(event_del(d->timer_ev));
    else
        AZ(event_add(d->timer_ev, tvp));
}

static void
dns_sock_cb(evutil_socket_t fd, short what, void *arg)
{
    struct dns_sock *s;
    struct dns *d;

    CAST_OBJ_NOTNULL(s, arg, DNS_SOCK_MAGIC);
    d = s->d;
    /* c-ares may close this socket in here; the slot stays, only its event is deleted. */
    ares_process_fd(d->channel, (what & EV_READ) ? fd : ARES_SOCKET_BAD,
                    (what & EV_WRITE) ? fd : ARES_SOCKET_BAD);
    dns_timer_update(d);
}

static void
dns_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    struct dns *d;

    (void)fd;
    (void)what;
    CAST_OBJ_NOTNULL(d, arg, DNS_MAGIC);
    ares_process_fd(d->channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
    dns_timer_update(d);
}

static struct dns_sock *
dns_sock_slot(struct dns *d, int fd)
{
    struct dns_sock *s, *free_slot = NULL;
    size_t i;

    for (i = 0; i < d->nsocks; i++) {
        s = d->socks[i];
        if (s->fd == fd)
            return s;
        if (s->fd == -1 && free_slot == NULL)
            free_slot = s;
    }
    if (free_slot != NULL)
        return free_slot;
    s = xcalloc(1, sizeof(*s));
    s->magic = DNS_SOCK_MAGIC;
    s->d = d;
    s->fd = -1;
    d->socks = xrealloc(d->socks, (d->nsocks + 1) * sizeof(*d->socks));
    d->socks[d->nsocks++] = s;
    return s;
}

/* c-ares: watch fd for reading and/or writing; (0, 0) when it closes fd. */
static void
dns_sock_state_cb(void *data, ares_socket_t fd, int readable, int writable)
{
    struct dns *d;
    struct dns_sock *s;
    short what;

    CAST_OBJ_NOTNULL(d, data, DNS_MAGIC);
    what = (short)((readable ? EV_READ : 0) | (writable ? EV_WRITE : 0));
    if (what == 0) {
        s = NULL;
        for (size_t i = 0; i < d->nsocks; i++)
            if (d->socks[i]->fd == fd)
                s = d->socks[i];
        if (s != NULL) {
            AZ(event_del(&s->ev));
            s->fd = -1;
            s->what = 0;
        }
        return;
    }
    if (d->closing)
        return;
    s = dns_sock_slot(d, fd);
    if (s->fd == fd && s->what == what)
        return;
    if (s->fd != -1)
        AZ(event_del(&s->ev));
    s->fd = fd;
    s->what = what;
    AZ(event_assign(&s->ev, d->base, fd, (short)(what | EV_PERSIST), dns_sock_cb, s));
    AZ(event_add(&s->ev, NULL));
}

/* ---- entries ---- */

static void dns_reap_cb(evutil_socket_t fd, short what, void *arg);

static void
dns_entry_free(struct dns_entry *e)
{
    CHECK_OBJ_NOTNULL(e, DNS_ENTRY_MAGIC);
    assert(e->nwatch == 0 && !e->inflight);
    event_free(e->notify_ev);
    event_free(e->refresh_ev);
    xfree(e->pend.addrs);
    xfree(e->addrs);
    xfree(e->name);
    FREE_OBJ(e);
}

/* Unlinks e once nothing needs it; the reap event frees it. */
static void
dns_entry_maybe_kill(struct dns_entry *e)
{
    struct dns *d = e->d;
    struct dns_entry **pp;

    if (e->nwatch > 0 || e->inflight || e->notifying || e->has_pend || e->dead)
        return;
    for (pp = &d->entries; *pp != e; pp = &(*pp)->next)
        AN(*pp);
    *pp = e->next;
    e->dead = true;
    e->next = d->dead;
    d->dead = e;
    AZ(event_del(e->notify_ev));
    AZ(event_del(e->refresh_ev));
    if (!d->closing)
        event_active(d->reap_ev, 0, 0);
}

static void
dns_reap_cb(evutil_socket_t fd, short what, void *arg)
{
    struct dns *d;
    struct dns_entry *e;

    (void)fd;
    (void)what;
    CAST_OBJ_NOTNULL(d, arg, DNS_MAGIC);
    while ((e = d->dead) != NULL) {
        d->dead = e->next;
        dns_entry_free(e);
    }
}

static void
dns_entry_schedule(struct dns_entry *e, uint32_t ms)
{
    struct timeval tv;

    tv.tv_sec = (time_t)(ms / 1000);
    tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
    AZ(evtimer_add(e->refresh_ev, &tv));
}

/* Collects the addresses of ai into e->pend (deduplicated, capped). */
static void
dns_entry_collect(struct dns_entry *e, const struct ares_addrinfo *ai)
{
    const struct ares_addrinfo_node *nd;
    const struct ares_addrinfo_cname *cn;
    struct dns_addr a;
    uint32_t ttl, min_ttl = UINT32_MAX;
    size_t dropped = 0;

    e->pend.addrs = xcalloc(DNS_MAX_ADDRS, sizeof(*e->pend.addrs));
    e->pend.n = 0;
    for (nd = ai->nodes; nd != NULL; nd = nd->ai_next) {
        if (nd->ai_addr == NULL || (nd->ai_family != AF_INET && nd->ai_family != AF_INET6) ||
            nd->ai_addr->sa_family != nd->ai_family)
            continue;
        /* SPEC: RFC 2181 8 -- a TTL with the top bit set is read as 0. */
        ttl = nd->ai_ttl < 0 ? 0 : (uint32_t)nd->ai_ttl;
        dns_addr_fill(&a, nd->ai_addr, ttl);
        if (dns_addr_find(e->pend.addrs, e->pend.n, &a) != NULL)
            continue;
        if (e->pend.n == DNS_MAX_ADDRS) {
            dropped++;
            continue;
        }
        e->pend.addrs[e->pend.n++] = a;
        if (ttl < min_ttl)
            min_ttl = ttl;
    }
    /* A CNAME on the way expires the answer as well. */
    for (cn = ai->cnames; cn != NULL; cn = cn->next) {
        ttl = cn->ttl < 0 ? 0 : (uint32_t)cn->ttl;
        if (ttl < min_ttl)
            min_ttl = ttl;
    }
    if (dropped > 0)
        LOG(LOG_DEBUG, "dns", "addrs_dropped", "conn=0 host=%s dropped=%zu max=%d", e->name,
            dropped, DNS_MAX_ADDRS);
    if (e->pend.n == 0) {
        e->pend.err = ERR_NOTFOUND;
        return;
    }
    e->pend.ttl_ms =
        dns_clamp_u32((uint64_t)min_ttl * 1000, e->d->conf.ttl_min_ms, e->d->conf.ttl_max_ms);
}

/* c-ares: the lookup of e finished. Records it; the notify event applies it. */
static void
dns_entry_ares_cb(void *arg, int status, int timeouts, struct ares_addrinfo *ai)
{
    struct dns_entry *e;

    (void)timeouts;
    CAST_OBJ_NOTNULL(e, arg, DNS_ENTRY_MAGIC);
    assert(e->inflight && !e->has_pend);
    e->inflight = false;
    if (e->d->closing) {
        if (ai != NULL)
            ares_freeaddrinfo(ai);
        return;
    }
    memset(&e->pend, 0, sizeof(e->pend));
    if (status == ARES_SUCCESS && ai != NULL) {
        dns_entry_collect(e, ai);
    } else {
        e->pend.err = dns_ares_err(status);
        LOG(LOG_DEBUG, "dns", "lookup_error", "conn=0 host=%s ares=%s", e->name,
            dns_ares_name(status));
    }
    if (ai != NULL)
        ares_freeaddrinfo(ai);
    if (e->pend.err == 0 && FAULT("dns.resolve")) {
        xfree(e->pend.addrs);
        memset(&e->pend, 0, sizeof(e->pend));
        e->pend.err = ERR_FAULT;
    }
    if (e->pend.err != 0) {
        xfree(e->pend.addrs);
        e->pend.addrs = NULL;
        e->pend.n = 0;
    }
    e->has_pend = true;
    event_active(e->notify_ev, 0, 0);
}

static void
dns_entry_resolve(struct dns_entry *e)
{
    struct ares_addrinfo_hints hints;

    assert(!e->inflight && !e->has_pend);
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC; /* A and AAAA */
    e->inflight = true;
    /* May call dns_entry_ares_cb() before returning (hosts file, bad name). */
    ares_getaddrinfo(e->d->channel, e->name, NULL, &hints, dns_entry_ares_cb, e);
    dns_timer_update(e->d);
}

static void
dns_entry_refresh_cb(evutil_socket_t fd, short what, void *arg)
{
    struct dns_entry *e;

    (void)fd;
    (void)what;
    CAST_OBJ_NOTNULL(e, arg, DNS_ENTRY_MAGIC);
    if (e->nwatch > 0 && !e->inflight && !e->has_pend)
        dns_entry_resolve(e);
}

/* A successful answer: adopt it, or only refresh TTLs when the set is the same. */
static bool
dns_entry_apply_ok(struct dns_entry *e, uint32_t *next_ms)
{
    struct dns_pend *p = &e->pend;
    struct dns_addr *old;
    const struct dns_addr *na;
    bool changed;
    char buf[INET6_ADDRSTRLEN];
    size_t i;

    metric_inc(e->d->m_ok);
    changed = e->ans.version == 0 || e->ans.err != 0 ||
              !dns_addr_set_equal(e->addrs, e->ans.n, p->addrs, p->n);
    if (e->addrs != NULL && dns_addr_set_equal(e->addrs, e->ans.n, p->addrs, p->n)) {
        /* Keep the array watches may hold; only the TTLs move. */
        for (i = 0; i < e->ans.n; i++) {
            na = dns_addr_find(p->addrs, p->n, &e->addrs[i]);
            e->addrs[i].ttl_s = na->ttl_s;
        }
        xfree(p->addrs);
    } else {
        old = e->addrs;
        e->addrs = p->addrs;
        e->ans.n = p->n;
        xfree(old);
    }
    p->addrs = NULL;
    e->ans.addrs = e->addrs;
    e->ans.err = 0;
    e->ans.stale = false;
    e->ans.ttl_ms = p->ttl_ms;
    e->retry_ms = e->d->conf.retry_min_ms;
    *next_ms = p->ttl_ms;
    if (changed)
        LOG(LOG_INFO, "dns", "resolved", "conn=0 host=%s n=%zu first=%s ttl_ms=%" PRIu32, e->name,
            e->ans.n, dns_addr_str(&e->addrs[0], buf, sizeof(buf)), e->ans.ttl_ms);
    return changed;
}

/* A failed resolution: keep the last good addresses, if any, and back off. */
static bool
dns_entry_apply_fail(struct dns_entry *e, uint32_t *next_ms)
{
    int err = e->pend.err;
    bool changed;

    if (e->ans.n > 0) {
        metric_inc(e->d->m_stale);
        changed = !e->ans.stale || e->ans.err != err;
        e->ans.stale = true;
        LOG(LOG_WARN, "dns", "resolve_failed",
            "conn=0 host=%s err=%s result=stale_kept kept=%zu retry_ms=%" PRIu32, e->name,
            err_name(err), e->ans.n, e->retry_ms);
    } else {
        metric_inc(e->d->m_failed);
        changed = e->ans.version == 0 || e->ans.err != err;
        LOG(LOG_WARN, "dns", "resolve_failed",
            "conn=0 host=%s err=%s result=failed retry_ms=%" PRIu32, e->name, err_name(err),
            e->retry_ms);
    }
    e->ans.err = err;
    *next_ms = e->retry_ms;
    e->retry_ms =
        dns_clamp_u32((uint64_t)e->retry_ms * 2, e->d->conf.retry_min_ms, e->d->conf.retry_max_ms);
    return changed;
}

static void
dns_entry_apply(struct dns_entry *e)
{
    uint32_t next_ms = 0;
    bool changed;

    assert(e->has_pend);
    if (e->pend.err == 0)
        changed = dns_entry_apply_ok(e, &next_ms);
    else
        changed = dns_entry_apply_fail(e, &next_ms);
    e->has_pend = false;
    memset(&e->pend, 0, sizeof(e->pend));
    if (changed)
        e->ans.version++;
    if (e->nwatch > 0)
        dns_entry_schedule(e, next_ms);
}

static void
dns_entry_notify_cb(evutil_socket_t fd, short what, void *arg)
{
    struct dns_entry *e;
    struct dns_watch *w;

    (void)fd;
    (void)what;
    CAST_OBJ_NOTNULL(e, arg, DNS_ENTRY_MAGIC);
    assert(!e->dead);
    if (e->has_pend)
        dns_entry_apply(e);
    if (e->ans.version > 0) {
        e->notifying = true;
        for (w = e->watches; w != NULL; w = e->notify_next) {
            CHECK_OBJ(w, DNS_WATCH_MAGIC);
            e->notify_next = w->next; /* dns_watch_free() advances it past a freed watch */
            if (w->seen == e->ans.version)
                continue;
            w->seen = e->ans.version;
            w->cb(w, &e->ans, w->arg);
        }
        e->notify_next = NULL;
        e->notifying = false;
    }
    dns_entry_maybe_kill(e);
    DNS_DCHECK(e->d);
}

static struct dns_entry *
dns_entry_new(struct dns *d, const char *name)
{
    struct dns_entry *e;

    e = xcalloc(1, sizeof(*e));
    e->magic = DNS_ENTRY_MAGIC;
    e->d = d;
    e->name = xstrdup(name);
    e->retry_ms = d->conf.retry_min_ms;
    e->notify_ev = event_new(d->base, -1, 0, dns_entry_notify_cb, e);
    e->refresh_ev = event_new(d->base, -1, 0, dns_entry_refresh_cb, e);
    AN(e->notify_ev);
    AN(e->refresh_ev);
    e->next = d->entries;
    d->entries = e;
    return e;
}

/* An entry for a literal address: answered for good, never refreshed. */
static void
dns_entry_set_literal(struct dns_entry *e, const struct sockaddr *sa)
{
    e->addrs = xcalloc(1, sizeof(*e->addrs));
    dns_addr_fill(&e->addrs[0], sa, 0);
    e->ans.addrs = e->addrs;
    e->ans.n = 1;
    e->ans.literal = true;
    e->ans.ttl_ms = 0;
    e->ans.version = 1;
}

/* Literal IPv4/IPv6 text into sa; true when host is one (key gets its canonical text). */
static bool
dns_literal_parse(const char *host, struct sockaddr_storage *ss, char *key, size_t keysz)
{
    struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

    memset(ss, 0, sizeof(*ss));
    if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
        s4->sin_family = AF_INET;
        AN(inet_ntop(AF_INET, &s4->sin_addr, key, (socklen_t)keysz));
        return true;
    }
    if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
        s6->sin6_family = AF_INET6;
        AN(inet_ntop(AF_INET6, &s6->sin6_addr, key, (socklen_t)keysz));
        return true;
    }
    return false;
}

/* ---- public ---- */

int
dns_watch_new(struct dns *d, const char *host, dns_watch_cb *cb, void *arg, struct dns_watch **out)
{
    char key[DNS_NAME_MAX + 1];
    struct sockaddr_storage ss;
    struct dns_entry *e;
    struct dns_watch *w;
    bool literal;
    int rc;

    CHECK_OBJ_NOTNULL(d, DNS_MAGIC);
    AN(cb);
    assert(!d->closing);
    DNS_DCHECK(d);
    literal = dns_literal_parse(host, &ss, key, sizeof(key));
    if (!literal) {
        rc = dns_name_normalize(host, key);
        if (rc != 0)
            return rc;
    }
    for (e = d->entries; e != NULL; e = e->next)
        if (strcmp(e->name, key) == 0)
            break;

    w = xcalloc(1, sizeof(*w));
    w->magic = DNS_WATCH_MAGIC;
    w->cb = cb;
    w->arg = arg;
    if (e == NULL) {
        e = dns_entry_new(d, key);
        if (literal)
            dns_entry_set_literal(e, (const struct sockaddr *)&ss);
    }
    w->e = e;
    w->next = e->watches;
    if (w->next != NULL)
        w->next->prev = w;
    e->watches = w;
    e->nwatch++;

    if (e->ans.version > 0 && !e->has_pend)
        event_active(e->notify_ev, 0, 0); /* deliver what is known */
    else if (!e->inflight && !e->has_pend)
        dns_entry_resolve(e);
    /* else: the running lookup's notify will reach this watch too. */
    *out = w;
    return 0;
}

void
dns_watch_free(struct dns_watch **pw)
{
    struct dns_watch *w;
    struct dns_entry *e;

    w = *pw;
    if (w == NULL)
        return;
    *pw = NULL;
    CHECK_OBJ(w, DNS_WATCH_MAGIC);
    e = w->e;
    CHECK_OBJ_NOTNULL(e, DNS_ENTRY_MAGIC);
    if (e->notify_next == w)
        e->notify_next = w->next;
    if (w->prev != NULL)
        w->prev->next = w->next;
    else
        e->watches = w->next;
    if (w->next != NULL)
        w->next->prev = w->prev;
    assert(e->nwatch > 0);
    e->nwatch--;
    FREE_OBJ(w);
    /* The refresh timer stays: should a watch come back before the entry
     * dies, it is still due at the TTL. The refresh skips unwatched entries. */
    if (e->nwatch == 0)
        dns_entry_maybe_kill(e);
    DNS_DCHECK(e->d);
}

const struct dns_answer *
dns_watch_peek(const struct dns_watch *w)
{
    CHECK_OBJ_NOTNULL(w, DNS_WATCH_MAGIC);
    if (w->seen == 0)
        return NULL;
    return &w->e->ans;
}

const char *
dns_watch_host(const struct dns_watch *w)
{
    CHECK_OBJ_NOTNULL(w, DNS_WATCH_MAGIC);
    return w->e->name;
}

int
dns_new(struct event_base *base, const struct dns_conf *conf, struct dns **out)
{
    struct ares_options opt;
    struct dns_conf defaults;
    struct dns *d;
    int optmask, status;

    AN(base);
    if (conf == NULL) {
        dns_conf_defaults(&defaults);
        conf = &defaults;
    }
    AZ(pthread_once(&dns_lib_once, dns_lib_init));
    if (dns_lib_rc != ARES_SUCCESS) {
        LOG(LOG_ERR, "dns", "init_failed", "conn=0 ares=%s", dns_ares_name(dns_lib_rc));
        return ERR_CONF;
    }
    d = xcalloc(1, sizeof(*d));
    d->magic = DNS_MAGIC;
    d->base = base;
    d->conf = *conf;
    d->conf.servers = NULL;
    if (d->conf.ttl_max_ms < d->conf.ttl_min_ms)
        d->conf.ttl_max_ms = d->conf.ttl_min_ms;
    if (d->conf.retry_min_ms == 0)
        d->conf.retry_min_ms = 1;
    if (d->conf.retry_max_ms < d->conf.retry_min_ms)
        d->conf.retry_max_ms = d->conf.retry_min_ms;

    memset(&opt, 0, sizeof(opt));
    opt.timeout = (int)(conf->timeout_ms > 0 ? conf->timeout_ms : 1);
    opt.tries = (int)(conf->tries > 0 ? conf->tries : 1);
    opt.sock_state_cb = dns_sock_state_cb;
    opt.sock_state_cb_data = d;
    /* No search domains: an upstream name is used as written (and
     * ares_getaddrinfo() in c-ares 1.18 ignores ARES_FLAG_NOSEARCH). */
    opt.domains = NULL;
    opt.ndomains = 0;
    optmask = ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_SOCK_STATE_CB | ARES_OPT_DOMAINS;
    status = ares_init_options(&d->channel, &opt, optmask);
    if (status != ARES_SUCCESS) {
        LOG(LOG_ERR, "dns", "init_failed", "conn=0 ares=%s", dns_ares_name(status));
        FREE_OBJ(d);
        return status == ARES_ENOMEM ? -ENOMEM : ERR_CONF;
    }
    if (conf->servers != NULL) {
        status = ares_set_servers_ports_csv(d->channel, conf->servers);
        if (status != ARES_SUCCESS) {
            char safe[128];

            LOG(LOG_ERR, "dns", "bad_servers", "conn=0 servers=%s ares=%s",
                log_sanitize(safe, sizeof(safe), conf->servers, strlen(conf->servers)),
                dns_ares_name(status));
            ares_destroy(d->channel);
            FREE_OBJ(d);
            return ERR_CONF;
        }
    }
    d->timer_ev = event_new(base, -1, 0, dns_timer_cb, d);
    d->reap_ev = event_new(base, -1, 0, dns_reap_cb, d);
    AN(d->timer_ev);
    AN(d->reap_ev);
    d->m_ok =
        metrics_counter_l("dns.lookups", "Upstream name resolutions, by result", "result", "ok");
    d->m_failed = metrics_counter_l("dns.lookups", "Upstream name resolutions, by result", "result",
                                    "failed");
    d->m_stale = metrics_counter_l("dns.lookups", "Upstream name resolutions, by result", "result",
                                   "stale_kept");
    *out = d;
    return 0;
}

void
dns_free(struct dns **pd)
{
    struct dns *d;
    struct dns_entry *e;
    size_t i;

    d = *pd;
    if (d == NULL)
        return;
    *pd = NULL;
    CHECK_OBJ(d, DNS_MAGIC);
    for (e = d->entries; e != NULL; e = e->next)
        assert(e->nwatch == 0); /* the caller frees its watches first */
    d->closing = true;
    /* Calls back every query in flight with ARES_EDESTRUCTION and closes the sockets. */
    ares_destroy(d->channel);
    while ((e = d->entries) != NULL) {
        d->entries = e->next;
        e->has_pend = false;
        dns_entry_free(e);
    }
    while ((e = d->dead) != NULL) {
        d->dead = e->next;
        dns_entry_free(e);
    }
    for (i = 0; i < d->nsocks; i++) {
        if (d->socks[i]->fd != -1)
            AZ(event_del(&d->socks[i]->ev));
        FREE_OBJ(d->socks[i]);
    }
    xfree(d->socks);
    event_free(d->timer_ev);
    event_free(d->reap_ev);
    FREE_OBJ(d);
}

void
dns_check(const struct dns *d)
{
    const struct dns_entry *e, *f;
    const struct dns_watch *w;
    unsigned n;
    size_t i;

    CHECK_OBJ_NOTNULL(d, DNS_MAGIC);
    for (e = d->entries; e != NULL; e = e->next) {
        CHECK_OBJ(e, DNS_ENTRY_MAGIC);
        assert(!e->dead && e->d == d);
        assert(!(e->inflight && e->has_pend));
        assert(e->ans.n <= DNS_MAX_ADDRS);
        assert(e->ans.n == 0 || e->ans.addrs == e->addrs);
        assert(!e->ans.stale || (e->ans.err != 0 && e->ans.n > 0));
        /* An answered name is kept fresh while watched. */
        if (e->nwatch > 0 && e->ans.version > 0 && !e->ans.literal && !e->inflight && !e->has_pend)
            assert(evtimer_pending(e->refresh_ev, NULL));
        /* A live entry is needed by someone. */
        assert(e->nwatch > 0 || e->inflight || e->has_pend || e->notifying);
        for (f = e->next; f != NULL; f = f->next)
            assert(strcmp(e->name, f->name) != 0);
        n = 0;
        for (w = e->watches; w != NULL; w = w->next) {
            CHECK_OBJ(w, DNS_WATCH_MAGIC);
            assert(w->e == e);
            assert(w->next == NULL || w->next->prev == w);
            assert(w->seen <= e->ans.version);
            n++;
        }
        assert(n == e->nwatch);
    }
    for (e = d->dead; e != NULL; e = e->next)
        assert(e->dead && e->nwatch == 0 && !e->inflight);
    for (i = 0; i < d->nsocks; i++) {
        CHECK_OBJ(d->socks[i], DNS_SOCK_MAGIC);
        assert((d->socks[i]->fd == -1) == (d->socks[i]->what == 0));
    }
}
