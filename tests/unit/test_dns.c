/*
 * test_dns.c -- shared/dns.c against a DNS server the test controls.
 *
 * The server is a UDP socket on 127.0.0.1 in the test's own event loop
 * that answers A and AAAA queries from a small table, with the TTL the
 * test chooses, NXDOMAIN for names it does not know, or nothing at all
 * when told to be silent; its replies are a few bytes of DNS wire format
 * written by hand (SPEC: RFC 1035 4.1). dns.c is pointed at it through
 * dns_conf.servers. The last test does the same against Debian's dnsmasq
 * on a loopback port when it is installed (the shield scenario's DNS).
 */
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "http_test.h"
#include "dns.h"
#include "err.h"
#include "fault.h"
#include "log.h"
#include "metrics.h"
#include "compat.h"

#define FAKE_MAX_NAMES 8

struct fake_name {
    char name[64];
    uint8_t a[4][4];
    int na;
    uint8_t aaaa[2][16];
    int naaaa;
    uint32_t ttl;
    int rcode; /* 0, or answer this rcode (2 SERVFAIL) with no records */
};

static struct {
    struct event_base *base;
    int fd;
    uint16_t port;
    struct event *ev;
    char servers[64];
    struct fake_name names[FAKE_MAX_NAMES];
    int nnames;
    bool silent;
    int queries, q_a, q_aaaa;
} S;

/* What one watch saw. */
struct rec {
    int calls;
    struct dns_answer last;
    struct dns_addr addrs[DNS_MAX_ADDRS];
    char first[64];
    uint64_t at_ms;               /* when the last call came */
    struct dns_watch **free_self; /* free this watch from its callback */
    struct dns_watch **free_other;
};

/* ---- the fake server ---- */

static struct fake_name *
fake_find(const char *name)
{
    int i;

    for (i = 0; i < S.nnames; i++)
        if (strcmp(S.names[i].name, name) == 0)
            return &S.names[i];
    return NULL;
}

static struct fake_name *
fake_set_a(const char *name, const char *ip, uint32_t ttl)
{
    struct fake_name *n = fake_find(name);

    if (n == NULL) {
        assert_true(S.nnames < FAKE_MAX_NAMES);
        n = &S.names[S.nnames++];
        memset(n, 0, sizeof(*n));
        snprintf(n->name, sizeof(n->name), "%s", name);
    }
    n->na = 1;
    assert_int_equal(1, inet_pton(AF_INET, ip, n->a[0]));
    n->ttl = ttl;
    return n;
}

static void
fake_put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void
fake_put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* One resource record pointing at the question's name (offset 12). */
static size_t
fake_put_rr(uint8_t *p, uint16_t type, uint32_t ttl, const uint8_t *rdata, uint16_t rdlen)
{
    fake_put16(p, 0xc00c); /* SPEC: RFC 1035 4.1.4 -- compression pointer */
    fake_put16(p + 2, type);
    fake_put16(p + 4, 1); /* IN */
    fake_put32(p + 6, ttl);
    fake_put16(p + 10, rdlen);
    memcpy(p + 12, rdata, rdlen);
    return 12u + rdlen;
}

/* Answers one query in q (n bytes) into out; 0 to stay silent. */
static size_t
fake_answer(const uint8_t *q, size_t n, uint8_t *out)
{
    char name[256];
    size_t pos = 12, nl = 0, qend, len;
    uint16_t qtype, an = 0;
    struct fake_name *fn;
    int rcode = 0, i;

    if (n < 12 || q[4] != 0 || q[5] != 1)
        return 0;
    while (pos < n && q[pos] != 0) {
        len = q[pos];
        if ((len & 0xc0) != 0 || pos + 1 + len >= n || nl + len + 1 >= sizeof(name))
            return 0;
        if (nl > 0)
            name[nl++] = '.';
        for (i = 0; i < (int)len; i++) {
            char c = (char)q[pos + 1 + (size_t)i];
            name[nl++] = (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
        }
        pos += 1 + len;
    }
    name[nl] = '\0';
    if (pos + 5 > n)
        return 0;
    qtype = (uint16_t)(q[pos + 1] << 8 | q[pos + 2]);
    qend = pos + 5;
    S.queries++;
    if (qtype == 1)
        S.q_a++;
    if (qtype == 28)
        S.q_aaaa++;
    if (S.silent)
        return 0;

    memcpy(out, q, 2);                     /* ID */
    out[2] = (uint8_t)(0x84 | (q[2] & 1)); /* QR, AA, RD as asked */
    memcpy(out + 12, q + 12, qend - 12);   /* the question */
    len = qend;
    fn = fake_find(name);
    if (fn == NULL) {
        rcode = 3; /* NXDOMAIN */
    } else if (fn->rcode != 0) {
        rcode = fn->rcode;
    } else if (qtype == 1) {
        for (i = 0; i < fn->na; i++, an++)
            len += fake_put_rr(out + len, 1, fn->ttl, fn->a[i], 4);
    } else if (qtype == 28) {
        for (i = 0; i < fn->naaaa; i++, an++)
            len += fake_put_rr(out + len, 28, fn->ttl, fn->aaaa[i], 16);
    }
    out[3] = (uint8_t)(0x80 | rcode); /* RA */
    fake_put16(out + 4, 1);
    fake_put16(out + 6, an);
    fake_put16(out + 8, 0);
    fake_put16(out + 10, 0);
    return len;
}

static void
fake_read_cb(evutil_socket_t fd, short what, void *arg)
{
    uint8_t q[512], out[1024];
    struct sockaddr_storage from;
    socklen_t flen;
    ssize_t n;
    size_t len;

    (void)what;
    (void)arg;
    for (;;) {
        flen = sizeof(from);
        n = recvfrom(fd, q, sizeof(q), 0, (struct sockaddr *)&from, &flen);
        if (n < 0)
            return;
        len = fake_answer(q, (size_t)n, out);
        if (len > 0)
            assert_int_equal((ssize_t)len, sendto(fd, out, len, 0, (struct sockaddr *)&from, flen));
    }
}

static void
fake_start(void)
{
    struct sockaddr_in sin;
    socklen_t len = sizeof(sin);

    memset(&S, 0, sizeof(S));
    S.base = event_base_new();
    assert_non_null(S.base);
    S.fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    assert_true(S.fd >= 0);
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(0, bind(S.fd, (struct sockaddr *)&sin, sizeof(sin)));
    assert_int_equal(0, getsockname(S.fd, (struct sockaddr *)&sin, &len));
    S.port = ntohs(sin.sin_port);
    snprintf(S.servers, sizeof(S.servers), "127.0.0.1:%u", (unsigned)S.port);
    S.ev = event_new(S.base, S.fd, EV_READ | EV_PERSIST, fake_read_cb, NULL);
    assert_non_null(S.ev);
    assert_int_equal(0, event_add(S.ev, NULL));
}

static void
fake_stop(int64_t live)
{
    event_free(S.ev);
    close(S.fd);
    UNIT_END_LOOP(S.base, live);
    event_base_free(S.base);
    S.base = NULL;
}

/* ---- helpers ---- */

static void
rec_cb(struct dns_watch *w, const struct dns_answer *a, void *arg)
{
    struct rec *r = arg;

    assert_ptr_equal(a, dns_watch_peek(w));
    r->calls++;
    r->last = *a;
    assert_true(a->n <= DNS_MAX_ADDRS);
    if (a->n > 0)
        memcpy(r->addrs, a->addrs, a->n * sizeof(*a->addrs));
    r->last.addrs = r->addrs;
    r->first[0] = '\0';
    if (a->n > 0)
        dns_addr_str(&a->addrs[0], r->first, sizeof(r->first));
    r->at_ms = ht_now_ms();
    if (r->free_other != NULL)
        dns_watch_free(r->free_other);
    if (r->free_self != NULL) {
        assert_ptr_equal(*r->free_self, w);
        dns_watch_free(r->free_self);
    }
}

static struct dns *
dns_for_test(uint32_t timeout_ms, uint32_t retry_ms)
{
    struct dns_conf c;
    struct dns *d = NULL;

    dns_conf_defaults(&c);
    c.servers = S.servers;
    c.timeout_ms = timeout_ms;
    c.tries = 1;
    c.retry_min_ms = retry_ms;
    c.retry_max_ms = retry_ms * 4;
    assert_int_equal(0, dns_new(S.base, &c, &d));
    assert_non_null(d);
    return d;
}

static int64_t
lookups(const char *result)
{
    return metric_value(
        metrics_counter_l("dns.lookups", "Upstream name resolutions, by result", "result", result));
}

static bool
rec_has_addr(const struct rec *r, int family, const char *ip)
{
    char buf[64];
    size_t i;

    for (i = 0; i < r->last.n; i++)
        if (r->addrs[i].sa.ss_family == family &&
            strcmp(dns_addr_str(&r->addrs[i], buf, sizeof(buf)), ip) == 0)
            return true;
    return false;
}

/* ---- tests ---- */

static void
test_dns_first_answer(void **state)
{
    int64_t live = mem_live(), ok0 = lookups("ok");
    struct rec r = {0};
    struct dns_watch *w = NULL;
    struct sockaddr_storage ss;
    struct dns *d;

    (void)state;
    fake_start();
    fake_set_a("up.cascade.test", "127.0.0.2", 60);
    d = dns_for_test(1000, 100);
    assert_int_equal(0, dns_watch_new(d, "Up.Cascade.Test.", rec_cb, &r, &w));
    /* Never from inside the call that starts the lookup. */
    assert_int_equal(0, r.calls);
    assert_null(dns_watch_peek(w));
    assert_string_equal("up.cascade.test", dns_watch_host(w));
    HT_WAIT(S.base, r.calls == 1, 3000);
    assert_int_equal(1, r.calls);
    assert_int_equal(0, r.last.err);
    assert_int_equal(1, r.last.n);
    assert_string_equal("127.0.0.2", r.first);
    assert_int_equal(60, r.addrs[0].ttl_s);
    assert_int_equal(60000, r.last.ttl_ms);
    assert_false(r.last.stale);
    assert_false(r.last.literal);
    assert_int_equal(1, S.q_a);
    assert_int_equal(1, S.q_aaaa);
    assert_int_equal(ok0 + 1, lookups("ok"));
    assert_int_equal(sizeof(struct sockaddr_in), dns_addr_with_port(&r.addrs[0], 8080, &ss));
    assert_int_equal(8080, ntohs(((struct sockaddr_in *)&ss)->sin_port));
    dns_check(d);

    /* No more callbacks while nothing changes. */
    ht_spin(S.base, 100);
    assert_int_equal(1, r.calls);
    dns_watch_free(&w);
    assert_null(w);
    dns_free(&d);
    assert_null(d);
    fake_stop(live);
}

static void
test_dns_ttl_expiry_picks_up_change(void **state)
{
    int64_t live = mem_live();
    struct rec r = {0};
    struct dns_watch *w = NULL;
    struct dns *d;
    uint64_t t0;
    int q;

    (void)state;
    fake_start();
    fake_set_a("up.cascade.test", "127.0.0.2", 1);
    d = dns_for_test(1000, 100);
    assert_int_equal(0, dns_watch_new(d, "up.cascade.test", rec_cb, &r, &w));
    HT_WAIT(S.base, r.calls == 1, 3000);
    assert_string_equal("127.0.0.2", r.first);
    assert_int_equal(1000, r.last.ttl_ms);
    t0 = r.at_ms;

    fake_set_a("up.cascade.test", "127.0.0.3", 1);
    HT_WAIT(S.base, r.calls == 2, 5000);
    assert_int_equal(2, r.calls);
    assert_string_equal("127.0.0.3", r.first);
    assert_int_equal(0, r.last.err);
    /* Not re-resolved before the TTL ran out, and soon after it. */
    assert_true(r.at_ms - t0 >= 950);
    assert_true(r.at_ms - t0 < 3000);
    printf("# ttl 1 s: change seen after %" PRIu64 " ms\n", r.at_ms - t0);

    /* The same answer again is a refresh, not a change: no callback. */
    q = S.q_a;
    HT_WAIT(S.base, S.q_a >= q + 1, 3000);
    ht_spin(S.base, 50);
    assert_true(S.q_a >= q + 1);
    assert_int_equal(2, r.calls);
    dns_watch_free(&w);
    dns_free(&d);
    fake_stop(live);
}

static void
test_dns_silent_server_keeps_last_good(void **state)
{
    int64_t live = mem_live(), stale0 = lookups("stale_kept");
    struct rec r = {0};
    struct dns_watch *w = NULL;
    struct dns *d;
    int q;

    (void)state;
    fake_start();
    fake_set_a("up.cascade.test", "127.0.0.2", 1);
    d = dns_for_test(100, 100);
    assert_int_equal(0, dns_watch_new(d, "up.cascade.test", rec_cb, &r, &w));
    HT_WAIT(S.base, r.calls == 1, 3000);
    assert_string_equal("127.0.0.2", r.first);

    S.silent = true;
    HT_WAIT(S.base, r.calls == 2, 5000);
    assert_int_equal(2, r.calls);
    assert_int_equal(ERR_TIMEOUT, r.last.err);
    assert_true(r.last.stale);
    assert_int_equal(1, r.last.n);
    assert_string_equal("127.0.0.2", r.first);
    assert_true(lookups("stale_kept") >= stale0 + 1);

    /* Retried on the back-off while failing, without a callback per failure. */
    q = S.queries;
    HT_WAIT(S.base, S.queries >= q + 4, 3000);
    assert_true(S.queries >= q + 4);
    assert_int_equal(2, r.calls);
    assert_true(lookups("stale_kept") >= stale0 + 2);

    /* The server is back: not stale any more, same address. */
    S.silent = false;
    HT_WAIT(S.base, r.calls == 3, 3000);
    assert_int_equal(3, r.calls);
    assert_int_equal(0, r.last.err);
    assert_false(r.last.stale);
    assert_string_equal("127.0.0.2", r.first);
    dns_watch_free(&w);
    dns_free(&d);
    fake_stop(live);
}

static void
test_dns_nxdomain_then_created(void **state)
{
    int64_t live = mem_live(), failed0 = lookups("failed");
    struct rec r = {0};
    struct dns_watch *w = NULL;
    struct dns *d;

    (void)state;
    fake_start();
    d = dns_for_test(1000, 100);
    assert_int_equal(0, dns_watch_new(d, "nope.cascade.test", rec_cb, &r, &w));
    HT_WAIT(S.base, r.calls == 1, 3000);
    assert_int_equal(1, r.calls);
    assert_int_equal(ERR_NOTFOUND, r.last.err);
    assert_int_equal(0, r.last.n);
    assert_false(r.last.stale);
    assert_int_equal(failed0 + 1, lookups("failed"));

    /* Retried: the record appears and is picked up. */
    fake_set_a("nope.cascade.test", "127.0.0.4", 30);
    HT_WAIT(S.base, r.calls == 2, 3000);
    assert_int_equal(2, r.calls);
    assert_int_equal(0, r.last.err);
    assert_string_equal("127.0.0.4", r.first);
    dns_watch_free(&w);
    dns_free(&d);
    fake_stop(live);
}

static void
test_dns_servfail_and_nxdomain_keep_last_good(void **state)
{
    int64_t live = mem_live();
    struct rec r = {0};
    struct dns_watch *w = NULL;
    struct fake_name *fn;
    struct dns *d;

    (void)state;
    fake_start();
    fn = fake_set_a("up.cascade.test", "127.0.0.2", 1);
    d = dns_for_test(1000, 100);
    assert_int_equal(0, dns_watch_new(d, "up.cascade.test", rec_cb, &r, &w));
    HT_WAIT(S.base, r.calls == 1, 3000);
    fn->rcode = 2; /* SERVFAIL */
    HT_WAIT(S.base, r.calls == 2, 5000);
    assert_int_equal(ERR_UPSTREAM, r.last.err);
    assert_true(r.last.stale);
    assert_string_equal("127.0.0.2", r.first);
    /* A record that disappears is a failure too: the last good set stays. */
    S.nnames = 0;
    HT_WAIT(S.base, r.calls == 3, 3000);
    assert_int_equal(ERR_NOTFOUND, r.last.err);
    assert_true(r.last.stale);
    assert_string_equal("127.0.0.2", r.first);
    dns_watch_free(&w);
    dns_free(&d);
    fake_stop(live);
}

static void
test_dns_literal_bypasses_dns(void **state)
{
    int64_t live = mem_live(), ok0 = lookups("ok"), failed0 = lookups("failed");
    struct rec r4 = {0}, r6 = {0};
    struct dns_watch *w4 = NULL, *w6 = NULL;
    struct dns *d;

    (void)state;
    fake_start();
    d = dns_for_test(1000, 100);
    assert_int_equal(0, dns_watch_new(d, "127.0.0.9", rec_cb, &r4, &w4));
    assert_int_equal(0, dns_watch_new(d, "0:0::1", rec_cb, &r6, &w6));
    assert_int_equal(0, r4.calls);
    assert_string_equal("::1", dns_watch_host(w6));
    HT_WAIT(S.base, r4.calls == 1 && r6.calls == 1, 1000);
    assert_int_equal(1, r4.calls);
    assert_true(r4.last.literal);
    assert_int_equal(1, r4.last.n);
    assert_string_equal("127.0.0.9", r4.first);
    assert_int_equal(AF_INET6, r6.addrs[0].sa.ss_family);
    assert_string_equal("::1", r6.first);
    ht_spin(S.base, 50);
    assert_int_equal(0, S.queries);
    assert_int_equal(ok0, lookups("ok"));
    assert_int_equal(failed0, lookups("failed"));
    dns_watch_free(&w4);
    dns_watch_free(&w6);
    dns_free(&d);
    fake_stop(live);
}

static void
test_dns_a_and_aaaa(void **state)
{
    int64_t live = mem_live();
    struct rec r = {0};
    struct dns_watch *w = NULL;
    struct fake_name *fn;
    struct dns *d;

    (void)state;
    fake_start();
    fn = fake_set_a("dual.cascade.test", "127.0.0.2", 300);
    fn->na = 2;
    assert_int_equal(1, inet_pton(AF_INET, "127.0.0.3", fn->a[1]));
    fn->naaaa = 1;
    assert_int_equal(1, inet_pton(AF_INET6, "2001:db8::7", fn->aaaa[0]));
    d = dns_for_test(1000, 100);
    assert_int_equal(0, dns_watch_new(d, "dual.cascade.test", rec_cb, &r, &w));
    HT_WAIT(S.base, r.calls == 1, 3000);
    assert_int_equal(3, r.last.n);
    assert_true(rec_has_addr(&r, AF_INET, "127.0.0.2"));
    assert_true(rec_has_addr(&r, AF_INET, "127.0.0.3"));
    assert_true(rec_has_addr(&r, AF_INET6, "2001:db8::7"));
    assert_int_equal(300000, r.last.ttl_ms);
    dns_watch_free(&w);
    dns_free(&d);
    fake_stop(live);
}

static void
test_dns_watches_share_one_lookup(void **state)
{
    int64_t live = mem_live();
    struct rec r1 = {0}, r2 = {0}, r3 = {0};
    struct dns_watch *w1 = NULL, *w2 = NULL, *w3 = NULL;
    struct dns *d;

    (void)state;
    fake_start();
    fake_set_a("up.cascade.test", "127.0.0.2", 60);
    d = dns_for_test(1000, 100);
    assert_int_equal(0, dns_watch_new(d, "up.cascade.test", rec_cb, &r1, &w1));
    assert_int_equal(0, dns_watch_new(d, "UP.cascade.test.", rec_cb, &r2, &w2));
    /* Whichever runs first frees the other, then itself: both must be safe. */
    r1.free_other = &w2;
    r1.free_self = &w1;
    r2.free_other = &w1;
    r2.free_self = &w2;
    HT_WAIT(S.base, r1.calls + r2.calls == 1, 3000);
    assert_int_equal(1, r1.calls + r2.calls);
    assert_null(w1);
    assert_null(w2);
    assert_int_equal(1, S.q_a);

    /* The entry died with its last watch; a new watch resolves again. */
    ht_spin(S.base, 20);
    assert_int_equal(0, dns_watch_new(d, "up.cascade.test", rec_cb, &r3, &w3));
    HT_WAIT(S.base, r3.calls == 1, 3000);
    assert_int_equal(2, S.q_a);
    /* A second watch on a resolved name is answered from the cache. */
    memset(&r1, 0, sizeof(r1));
    assert_int_equal(0, dns_watch_new(d, "up.cascade.test", rec_cb, &r1, &w1));
    assert_int_equal(0, r1.calls);
    HT_WAIT(S.base, r1.calls == 1, 1000);
    assert_int_equal(1, r1.calls);
    assert_string_equal("127.0.0.2", r1.first);
    assert_int_equal(2, S.q_a);
    assert_int_equal(1, r3.calls);
    dns_check(d);
    dns_watch_free(&w1);
    dns_watch_free(&w3);
    dns_free(&d);
    fake_stop(live);
}

static void
test_dns_teardown_in_flight(void **state)
{
    int64_t live = mem_live();
    struct rec r = {0};
    struct dns_watch *w = NULL, *w2 = NULL;
    struct dns *d;
    int q;

    (void)state;
    fake_start();
    S.silent = true;
    /* Torn down at once, the query still in flight and never run by the loop. */
    d = dns_for_test(5000, 100);
    assert_int_equal(0, dns_watch_new(d, "slow.cascade.test", rec_cb, &r, &w));
    dns_watch_free(&w);
    dns_free(&d);
    assert_int_equal(live, mem_live());
    ht_spin(S.base, 20); /* its queries reach the server anyway */
    q = S.queries;

    d = dns_for_test(5000, 100);
    /* Freed before anything was answered; the loop keeps nothing of it. */
    assert_int_equal(0, dns_watch_new(d, "slow.cascade.test", rec_cb, &r, &w));
    dns_watch_free(&w);
    assert_int_equal(0, dns_watch_new(d, "slow2.cascade.test", rec_cb, &r, &w2));
    HT_WAIT(S.base, S.queries >= q + 4, 2000);
    assert_int_equal(q + 4, S.queries);
    dns_check(d);
    dns_watch_free(&w2);
    dns_free(&d);
    assert_int_equal(0, r.calls);
    fake_stop(live);
}

static void
test_dns_invalid_input(void **state)
{
    int64_t live = mem_live();
    struct dns_watch *w = NULL;
    struct dns_conf c;
    struct dns *d = NULL;
    char longlabel[80], longname[300];
    struct rec r = {0};

    (void)state;
    fake_start();
    d = dns_for_test(1000, 100);
    memset(longlabel, 'a', 64);
    longlabel[64] = '\0';
    memset(longname, 'a', sizeof(longname));
    for (size_t i = 10; i < 254; i += 10)
        longname[i] = '.';
    longname[254] = '\0';
    assert_int_equal(ERR_INVAL, dns_watch_new(d, "", rec_cb, &r, &w));
    assert_int_equal(ERR_INVAL, dns_watch_new(d, ".", rec_cb, &r, &w));
    assert_int_equal(ERR_INVAL, dns_watch_new(d, "a..b", rec_cb, &r, &w));
    assert_int_equal(ERR_INVAL, dns_watch_new(d, "a b", rec_cb, &r, &w));
    assert_int_equal(ERR_INVAL, dns_watch_new(d, "[::1]", rec_cb, &r, &w));
    assert_int_equal(ERR_INVAL, dns_watch_new(d, "host:80", rec_cb, &r, &w));
    assert_int_equal(ERR_INVAL, dns_watch_new(d, longlabel, rec_cb, &r, &w));
    assert_int_equal(ERR_INVAL, dns_watch_new(d, longname, rec_cb, &r, &w));
    assert_null(w);
    dns_free(&d);

    dns_conf_defaults(&c);
    c.servers = "not a server list";
    assert_int_equal(ERR_CONF, dns_new(S.base, &c, &d));
    assert_null(d);
    fake_stop(live);
}

static void
test_dns_fault_point(void **state)
{
    int64_t live = mem_live();
    struct rec r = {0};
    struct dns_watch *w = NULL;
    struct dns *d;

    (void)state;
    if (!fault_enabled())
        skip();
    fake_start();
    fake_set_a("up.cascade.test", "127.0.0.2", 1);
    d = dns_for_test(1000, 100);
    fault_reset();
    assert_int_equal(0, fault_arm("dns.resolve", 2, false));
    assert_int_equal(0, dns_watch_new(d, "up.cascade.test", rec_cb, &r, &w));
    HT_WAIT(S.base, r.calls == 2, 5000);
    assert_int_equal(ERR_FAULT, r.last.err);
    assert_true(r.last.stale);
    HT_WAIT(S.base, r.calls == 3, 3000);
    assert_int_equal(0, r.last.err);
    fault_reset();
    dns_watch_free(&w);
    dns_free(&d);
    fake_stop(live);
}

/* ---- against Debian's dnsmasq, when installed ---- */

#define DNSMASQ "/usr/sbin/dnsmasq"

static void
dq_write_hosts(const char *path, const char *ip)
{
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    fprintf(f, "%s up.cascade.test\n", ip);
    assert_int_equal(0, fclose(f));
}

/* The running dnsmasq and its directory: dq_teardown() removes both, whatever happened. */
static pid_t dq_pid = -1;
static char dq_dir[64];

/* A loopback port free for both UDP and TCP (dnsmasq listens on both). */
static uint16_t
dq_free_port(void)
{
    struct sockaddr_in sin;
    socklen_t len;
    int u, t, i;

    for (i = 0; i < 50; i++) {
        u = socket(AF_INET, SOCK_DGRAM, 0);
        t = socket(AF_INET, SOCK_STREAM, 0);
        assert_true(u >= 0 && t >= 0);
        memset(&sin, 0, sizeof(sin));
        sin.sin_family = AF_INET;
        sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        len = sizeof(sin);
        assert_int_equal(0, bind(u, (struct sockaddr *)&sin, sizeof(sin)));
        assert_int_equal(0, getsockname(u, (struct sockaddr *)&sin, &len));
        if (bind(t, (struct sockaddr *)&sin, sizeof(sin)) == 0) {
            close(u);
            close(t);
            return ntohs(sin.sin_port);
        }
        close(u);
        close(t);
    }
    fail_msg("no free loopback port");
    return 0;
}

static void
dq_start(const char *dir, uint16_t port)
{
    char a_hosts[300], a_port[32], a_pid[300], a_log[300], a_user[300], a_group[300];
    struct passwd *pw = getpwuid(getuid());
    struct group *gr = getgrgid(getgid());
    pid_t pid;

    assert_non_null(pw);
    assert_non_null(gr);
    snprintf(a_hosts, sizeof(a_hosts), "--addn-hosts=%s/hosts", dir);
    snprintf(a_port, sizeof(a_port), "--port=%u", (unsigned)port);
    snprintf(a_pid, sizeof(a_pid), "--pid-file=%s/pid", dir);
    snprintf(a_log, sizeof(a_log), "--log-facility=%s/log", dir);
    /* Stay this user, so a SIGHUP can re-read the hosts file in our 0700 dir. */
    snprintf(a_user, sizeof(a_user), "--user=%s", pw->pw_name);
    snprintf(a_group, sizeof(a_group), "--group=%s", gr->gr_name);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGTERM); /* never outlives the test */
        execl(DNSMASQ, DNSMASQ, "--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv",
              "--no-hosts", a_hosts, "--listen-address=127.0.0.1", "--bind-interfaces", a_port,
              "--local-ttl=1", a_pid, a_log, a_user, a_group, "--log-queries", (char *)NULL);
        _exit(127);
    }
    dq_pid = pid;
}

static void
dq_stop(void)
{
    int status;

    if (dq_pid <= 0)
        return;
    kill(dq_pid, SIGTERM);
    waitpid(dq_pid, &status, 0);
    dq_pid = -1;
}

static int
dq_teardown(void **state)
{
    static const char *const files[] = {"hosts", "pid", "log"};
    char path[128];
    size_t i;

    (void)state;
    dq_stop();
    if (dq_dir[0] != '\0') {
        for (i = 0; i < ARRAY_SIZE(files); i++) {
            snprintf(path, sizeof(path), "%s/%s", dq_dir, files[i]);
            unlink(path);
        }
        rmdir(dq_dir);
        dq_dir[0] = '\0';
    }
    return 0;
}

static void
test_dns_against_dnsmasq(void **state)
{
    int64_t live = mem_live();
    char hosts[128], servers[64];
    struct rec r = {0};
    struct dns_watch *w = NULL;
    struct dns_conf c;
    struct dns *d = NULL;
    uint64_t t_start, t_hup;
    uint16_t port;

    (void)state;
    if (access(DNSMASQ, X_OK) != 0) {
        printf("# dnsmasq not installed (apt-get install dnsmasq-base): skipped\n");
        skip();
    }
    fake_start(); /* only for its event base; dns.c talks to dnsmasq */
    snprintf(dq_dir, sizeof(dq_dir), "/tmp/cascade-dns-XXXXXX");
    assert_non_null(mkdtemp(dq_dir));
    snprintf(hosts, sizeof(hosts), "%s/hosts", dq_dir);
    dq_write_hosts(hosts, "127.0.0.2");
    port = dq_free_port();
    dq_start(dq_dir, port);
    t_start = ht_now_ms();

    dns_conf_defaults(&c);
    snprintf(servers, sizeof(servers), "127.0.0.1:%u", (unsigned)port);
    c.servers = servers;
    c.timeout_ms = 200;
    c.tries = 1;
    c.retry_min_ms = 50;
    c.retry_max_ms = 200;
    assert_int_equal(0, dns_new(S.base, &c, &d));
    assert_int_equal(0, dns_watch_new(d, "up.cascade.test", rec_cb, &r, &w));
    /* dnsmasq may not listen yet: failures are retried until it answers. */
    HT_WAIT(S.base, r.last.n == 1 && r.last.err == 0, 10000);
    assert_int_equal(0, r.last.err);
    assert_string_equal("127.0.0.2", r.first);
    assert_int_equal(1, r.addrs[0].ttl_s);
    printf("# dnsmasq on 127.0.0.1:%u answered after %" PRIu64 " ms\n", (unsigned)port,
           r.at_ms - t_start);

    /* The record changes; dnsmasq re-reads its hosts file on SIGHUP. */
    dq_write_hosts(hosts, "127.0.0.3");
    assert_int_equal(0, kill(dq_pid, SIGHUP));
    t_hup = ht_now_ms();
    HT_WAIT(S.base, strcmp(r.first, "127.0.0.3") == 0, 10000);
    assert_string_equal("127.0.0.3", r.first);
    assert_int_equal(0, r.last.err);
    assert_true(r.at_ms - t_hup < 3000); /* TTL 1 s, plus dnsmasq's reload */
    printf("# dnsmasq: changed record seen %" PRIu64 " ms after SIGHUP (TTL 1 s)\n",
           r.at_ms - t_hup);

    /* dnsmasq stops: the last good address stays. */
    dq_stop();
    HT_WAIT(S.base, r.last.stale, 5000);
    assert_true(r.last.stale);
    assert_string_equal("127.0.0.3", r.first);

    dns_watch_free(&w);
    dns_free(&d);
    fake_stop(live);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dns_first_answer),
        cmocka_unit_test(test_dns_ttl_expiry_picks_up_change),
        cmocka_unit_test(test_dns_silent_server_keeps_last_good),
        cmocka_unit_test(test_dns_nxdomain_then_created),
        cmocka_unit_test(test_dns_servfail_and_nxdomain_keep_last_good),
        cmocka_unit_test(test_dns_literal_bypasses_dns),
        cmocka_unit_test(test_dns_a_and_aaaa),
        cmocka_unit_test(test_dns_watches_share_one_lookup),
        cmocka_unit_test(test_dns_teardown_in_flight),
        cmocka_unit_test(test_dns_invalid_input),
        cmocka_unit_test(test_dns_fault_point),
        cmocka_unit_test_teardown(test_dns_against_dnsmasq, dq_teardown),
    };

    signal(SIGPIPE, SIG_IGN);
    /* Register the process-wide metrics before any test counts allocations. */
    (void)lookups("ok");
    (void)lookups("failed");
    (void)lookups("stale_kept");
    log_set_level(LOG_WARN);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
