/*
 * social_int.h -- what api_proxy.c, reactions.c and sse.c share: the
 * per-worker struct api_loop, the upstream list, metrics and helpers.
 *
 * A struct api_loop belongs to one worker thread (made and freed there);
 * it owns that worker's httpc toward the origin (a pool of its own, with
 * a header timeout long enough for the event long poll). Process-wide
 * objects (reactions.c's table, sse.c's hub) lock themselves.
 */
#ifndef CASCADE_EDGE_SOCIAL_INT_H
#define CASCADE_EDGE_SOCIAL_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "miniobj.h"

struct event;
struct event_base;
struct httpc;
struct httpd_req;
struct metric;
struct node_worker;
struct edge_conf;
struct sse_loop;
struct reactions_sender;

struct upstream_set;
struct dns;

struct api_upstream {
    struct sockaddr_storage ss;
    socklen_t len;
};

struct api_loop {
    unsigned magic;
#define API_LOOP_MAGIC 0x61706c70U
    unsigned id;             /* the worker's id: 0 runs the sender and follower */
    struct event_base *base; /* borrowed */
    struct node_worker *nw;  /* borrowed */
    struct httpc *httpc;     /* owned */
    struct dns *dns;         /* borrowed: the worker's resolver */
    /* owned: the origin group of api.upstream (upstream.c, order mode:
     * names, health, next member); NULL when api.upstream is empty and
     * the worker's own set (the upstream list) is used */
    struct upstream_set *upset;
    char upset_list[512];            /* what upset was built from */
    struct api_upstream *pick;       /* owned: api_upstream_get()'s last answer */
    unsigned nups;                   /* members of the set in use */
    unsigned up_next;                /* sse.c and reactions.c move on with it on failures */
    const struct edge_conf *conf;    /* borrowed: current snapshot */
    struct sse_loop *sse;            /* owned (sse.c) */
    struct reactions_sender *sender; /* owned (reactions.c); worker 0 only */
};

struct api_metrics {
    struct metric *requests;       /* edge.api.requests */
    struct metric *limited[2];     /* edge.api.limited{by=addr,token} */
    struct metric *too_large;      /* edge.api.too_large */
    struct metric *busy;           /* edge.api.busy: memory budget */
    struct metric *up_errors;      /* edge.api.upstream_errors */
    struct metric *memory;         /* edge.api.memory (gauge) */
    struct metric *dropped_fields; /* edge.api.dropped_fields: refused by httpd */
    struct metric *unavailable;    /* edge.api.unavailable: no api_loop on the worker */
};

extern struct api_metrics api_m;

/* The upstream set /api/ uses on l's worker (never NULL once started). */
struct upstream_set *api_upset(const struct api_loop *l);
/* An address of usable member up_next + i (mod the members usable now,
 * in the set's order) of l, valid until the next call; false when there
 * is none (all down or unresolved). */
bool api_upstream_get(const struct api_loop *l, unsigned i, const struct sockaddr **sa,
                      socklen_t *len);
/* Monotonic and wall milliseconds. */
uint64_t api_mono_ms(void);
int64_t api_wall_ms(void);
/* {"error":{...}} with Cache-Control: no-store (and Retry-After when > 0). */
void api_reply_error(struct httpd_req *r, int status, const char *code, const char *msg,
                     unsigned retry_after_s);

#endif
