/*
 * mem.c -- counted allocation wrappers that abort on out-of-memory.
 *
 * The counters are relaxed atomics: they are for tests and /metrics, not
 * for synchronisation. xfree(NULL) is a no-op and is not counted.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mem.h"
#include "compat.h"

static _Atomic int64_t mem_live_n;
static _Atomic uint64_t mem_total_n;

static void
mem_oom(size_t n)
{
    fprintf(stderr, "lvl=crit mod=mem ev=out_of_memory size=%zu\n", n);
    abort();
}

static void *
mem_count(void *p, size_t n)
{
    if (p == NULL)
        mem_oom(n);
    atomic_fetch_add_explicit(&mem_live_n, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&mem_total_n, 1, memory_order_relaxed);
    return p;
}

void *
xmalloc(size_t n)
{
    return mem_count(malloc(n == 0 ? 1 : n), n);
}

void *
xcalloc(size_t nmemb, size_t size)
{
    return mem_count(calloc(nmemb == 0 ? 1 : nmemb, size == 0 ? 1 : size), nmemb * size);
}

void *
xrealloc(void *p, size_t n)
{
    void *q;

    if (p == NULL)
        return xmalloc(n);
    q = realloc(p, n == 0 ? 1 : n);
    if (q == NULL)
        mem_oom(n);
    return q;
}

char *
xstrdup(const char *s)
{
    return xstrndup(s, strlen(s));
}

char *
xstrndup(const char *s, size_t n)
{
    char *d;
    size_t len = strnlen(s, n);

    d = xmalloc(len + 1);
    memcpy(d, s, len);
    d[len] = '\0';
    return d;
}

void
xfree(void *p)
{
    if (p == NULL)
        return;
    atomic_fetch_sub_explicit(&mem_live_n, 1, memory_order_relaxed);
    free(p);
}

int64_t
mem_live(void)
{
    return atomic_load_explicit(&mem_live_n, memory_order_relaxed);
}

uint64_t
mem_total(void)
{
    return atomic_load_explicit(&mem_total_n, memory_order_relaxed);
}
