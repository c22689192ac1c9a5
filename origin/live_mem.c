/*
 * live_mem.c -- the in-memory manifests of running live streams
 * (live_mem.h): a hash table of path -> refcounted immutable document.
 *
 * The table owns one ref per entry; live_mem_get() hands out another.
 * ETags are "m{boot}-{seq}": boot is the process's start in ns, so a tag
 * an edge kept from before a restart never matches a new document.
 *
 * Not here: what a manifest says (live.c renders it), HTTP (origin_http.c).
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "live_mem.h"
#include "mem.h"
#include "compat.h"

#define LIVE_MEM_BUCKETS 1024 /* a few documents per stream; chains stay short */

struct live_mem_entry {
    struct live_mem_entry *next;
    struct live_mem_doc *doc; /* ref */
    char path[];
};

static struct {
    pthread_mutex_t mtx;
    struct live_mem_entry *buckets[LIVE_MEM_BUCKETS];
    uint64_t boot_ns, seq;
    unsigned count;
} live_mem = {.mtx = PTHREAD_MUTEX_INITIALIZER};

static uint32_t
live_mem_hash(const char *s)
{
    uint32_t h = 2166136261u; /* FNV-1a */

    while (*s != '\0') {
        h ^= (uint8_t)*s++;
        h *= 16777619u;
    }
    return h % LIVE_MEM_BUCKETS;
}

void
live_mem_doc_unref(struct live_mem_doc **pd)
{
    struct live_mem_doc *d = *pd;

    if (d == NULL)
        return;
    CHECK_OBJ(d, LIVE_MEM_DOC_MAGIC);
    *pd = NULL;
    if (atomic_fetch_sub_explicit(&d->refs, 1, memory_order_acq_rel) == 1)
        FREE_OBJ(d);
}

void
live_mem_put(const char *path, const void *data, size_t len)
{
    struct live_mem_entry **pe, *e;
    struct live_mem_doc *d, *old = NULL;
    struct timespec ts;

    AZ(clock_gettime(CLOCK_REALTIME, &ts));
    d = xmalloc(sizeof(*d) + len);
    d->magic = LIVE_MEM_DOC_MAGIC;
    atomic_init(&d->refs, 1u);
    d->mtime_ms = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
    d->len = len;
    memcpy(d->data, data, len);
    AZ(pthread_mutex_lock(&live_mem.mtx));
    if (live_mem.boot_ns == 0)
        live_mem.boot_ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
    (void)snprintf(d->etag, sizeof(d->etag), "\"m%" PRIx64 "-%" PRIx64 "\"", live_mem.boot_ns,
                   ++live_mem.seq);
    for (pe = &live_mem.buckets[live_mem_hash(path)]; *pe != NULL; pe = &(*pe)->next)
        if (strcmp((*pe)->path, path) == 0)
            break;
    if (*pe != NULL) {
        old = (*pe)->doc;
        (*pe)->doc = d;
    } else {
        size_t n = strlen(path) + 1;

        e = xmalloc(sizeof(*e) + n);
        memcpy(e->path, path, n);
        e->doc = d;
        e->next = NULL;
        *pe = e;
        live_mem.count++;
    }
    AZ(pthread_mutex_unlock(&live_mem.mtx));
    live_mem_doc_unref(&old);
}

void
live_mem_drop_under(const char *prefix)
{
    struct live_mem_entry **pe, *e, *gone = NULL;
    size_t n = strlen(prefix);
    unsigned i;

    AZ(pthread_mutex_lock(&live_mem.mtx));
    for (i = 0; i < LIVE_MEM_BUCKETS; i++) {
        pe = &live_mem.buckets[i];
        while ((e = *pe) != NULL) {
            if (strncmp(e->path, prefix, n) != 0) {
                pe = &e->next;
                continue;
            }
            *pe = e->next;
            e->next = gone;
            gone = e;
            live_mem.count--;
        }
    }
    AZ(pthread_mutex_unlock(&live_mem.mtx));
    while ((e = gone) != NULL) {
        gone = e->next;
        live_mem_doc_unref(&e->doc);
        xfree(e);
    }
}

struct live_mem_doc *
live_mem_get(const char *path)
{
    struct live_mem_entry *e;
    struct live_mem_doc *d = NULL;

    AZ(pthread_mutex_lock(&live_mem.mtx));
    if (live_mem.count > 0)
        for (e = live_mem.buckets[live_mem_hash(path)]; e != NULL; e = e->next)
            if (strcmp(e->path, path) == 0) {
                d = e->doc;
                atomic_fetch_add_explicit(&d->refs, 1, memory_order_relaxed);
                break;
            }
    AZ(pthread_mutex_unlock(&live_mem.mtx));
    return d;
}

unsigned
live_mem_count(void)
{
    unsigned n;

    AZ(pthread_mutex_lock(&live_mem.mtx));
    n = live_mem.count;
    AZ(pthread_mutex_unlock(&live_mem.mtx));
    return n;
}

static atomic_bool live_mem_replaying;

void
live_mem_set_recovering(bool on)
{
    atomic_store_explicit(&live_mem_replaying, on, memory_order_release);
}

bool
live_mem_recovering(void)
{
    return atomic_load_explicit(&live_mem_replaying, memory_order_acquire);
}
