/*
 * edge_int.h -- what the edge's modules share: the process-wide state
 * (struct edge), the per-worker state (struct edge_worker), the edge's
 * metrics, and the small helpers every path uses.
 *
 * Ownership: struct edge is one static object in edge_main.c; it owns the
 * store and the collapse table for the process's life. A struct
 * edge_worker belongs to one worker thread (node_worker_data()) and owns
 * that loop's httpc, store_loop and access-log buffer. Everything a
 * request needs comes from its worker; nothing here is locked except
 * what collapse.c and store.c lock themselves.
 */
#ifndef CASCADE_EDGE_INT_H
#define CASCADE_EDGE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include "collapse.h"
#include "conf.h"
#include "edge_conf.h"
#include "edge_obj.h"
#include "miniobj.h"
#include "proto/cache_fields.h"
#include "proto/cache_key.h"
#include "proto/cache_policy.h"

struct evbuffer;
struct event;
struct event_base;
struct httpc;
struct httpd_req;
struct metric;
struct node_worker;
struct store;
struct store_loop;
struct access_log;
struct edge_fetch;
struct dns;
struct upstream_conf;
struct upstream_set;

/* Longest key the edge stores (LMDB's limit); longer keys pass uncached. */
#define EDGE_KEY_MAX 511
/* Request and response fields the edge looks at, at most. */
#define EDGE_FIELDS_MAX 128

enum edge_upstream_err {
    EDGE_UPERR_CONNECT = 0, /* no connection, or closed before an answer */
    EDGE_UPERR_TIMEOUT,
    EDGE_UPERR_BAD_RESPONSE,
    EDGE_UPERR_TRUNCATED, /* died midway through a body */
    EDGE_UPERR_5XX,
    EDGE_UPERR_QUEUE_FULL,
    EDGE_UPERR__N,
};

struct edge_metrics {
    struct metric *hits;          /* edge.cache.hits */
    struct metric *misses;        /* edge.cache.misses */
    struct metric *pass;          /* edge.cache.pass */
    struct metric *stale;         /* edge.cache.stale_served */
    struct metric *reval[3];      /* edge.cache.revalidations{result=304,200,error} */
    struct metric *hfm;           /* edge.cache.hit_for_miss */
    struct metric *stored;        /* edge.cache.stored */
    struct metric *store_failed;  /* edge.cache.store_failed */
    struct metric *store_dropped; /* edge.cache.store_dropped: the store queue was full */
    struct metric *invalidations; /* edge.cache.invalidations */
    struct metric *collapsed;     /* edge.collapse.waiters */
    struct metric *rejected;      /* edge.collapse.rejected */
    struct metric *wait_timeouts; /* edge.collapse.timeouts */
    struct metric *cut_off;       /* edge.collapse.cut_off */
    struct metric *up_requests;   /* edge.upstream.requests */
    struct metric *up_retries;    /* edge.upstream.retries */
    struct metric *up_errors[EDGE_UPERR__N]; /* edge.upstream.errors{code} */
    struct metric *bytes_in;                 /* edge.bytes.in: upstream body bytes */
    struct metric *bytes_out;                /* edge.bytes.out: client body bytes */
    struct metric *purges;                   /* edge.purge.requests */
    struct metric *purged;                   /* edge.purge.objects */
    struct metric *inflight;                 /* edge.collapse.inflight (gauge) */
    /* ---- upstreams (issue 8) ---- */
    struct metric *loops;        /* edge.loop.rejected: 508 answers */
    struct metric *up_exhausted; /* edge.upstream.exhausted: no member left to try */
};

struct edge {
    unsigned magic;
#define EDGE_MAGIC 0x65646765U
    struct store *store;             /* owned */
    struct collapse_table *collapse; /* owned */
    char name[32];                   /* "cascade-edge" or "cascade-shield": Via, Cache-Status */
    char via[40];                    /* "1.1 " + name */
    char loop_id[80];                /* our cdn-id in CDN-Loop (RFC 8586): node.id */
    uint32_t loop_max_hops;          /* CDN-Loop entries accepted before 508 */
    uint64_t body_max;               /* the store's largest body */
    struct edge_metrics m;
};

struct edge_worker {
    unsigned magic;
#define EDGE_WORKER_MAGIC 0x65647772U
    struct edge *e;               /* borrowed: process-wide */
    struct node_worker *nw;       /* borrowed */
    struct event_base *base;      /* borrowed */
    const struct edge_conf *conf; /* borrowed: the current snapshot */
    struct httpc *httpc;          /* owned */
    struct store_loop *sl;        /* owned */
    struct collapse_loop cl;
    struct cache_policy_conf policy;
    /* ---- upstreams (issue 8; edge/upstream.h) ---- */
    struct dns *dns;                  /* owned: this loop's resolver */
    struct upstream_set *upset;       /* owned: rebuilt when an upstream key changes on reload */
    uint64_t max_object;              /* bytes stored at most */
    struct evbuffer *scratch;         /* owned: a hit's body on its way to httpd */
    struct access_log *alog;          /* owned: this worker's buffer and file */
    TAILQ_HEAD(, edge_fetch) fetches; /* the fetches this worker runs (edge_fetch.c) */
    char admin_token[256];
};

/* ---- edge_main.c ---- */
extern struct edge edge_g;
extern const char *const edge_uperr_names[EDGE_UPERR__N];
/*
 * The upstream_conf for a set built from c: hash ordering with c's ring
 * when hash (the worker's set on an edge), origin-group order otherwise
 * (a shield's set, api.upstream's); c's health and passive-failure
 * settings either way. uc->health_path borrows c.
 */
void edge_upstream_conf(const struct edge_conf *c, bool hash, struct upstream_conf *uc);

/* ---- helpers (edge_proxy.c) ---- */

/* Seconds since the epoch (the policy's clock). */
int64_t edge_now(void);
/* Monotonic milliseconds. */
uint64_t edge_mono_ms(void);
/* Points f[0..cap) at the request's fields; returns the count. */
size_t edge_req_fields(struct httpd_req *r, struct cache_field *f, size_t cap);
/*
 * The primary key of r into out[0..cap): the normalized target, without
 * the host (the edge fetches every host's paths from one upstream).
 * Returns its length, ERR_PROTO (answer 400) or ERR_LIMIT (pass uncached).
 */
int edge_req_key(struct httpd_req *r, char *out, size_t cap) WARN_UNUSED;
/* SPEC: RFC 9110 7.6.1 -- a hop-by-hop field (or one the Connection field names). */
bool edge_hop_by_hop(const char *name, size_t len, const struct cache_fields *all);

#endif
