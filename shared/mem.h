/*
 * mem.h -- allocation that never returns NULL.
 *
 * Out of memory aborts with a message: an edge that limps on after a failed
 * malloc corrupts more than it saves. Every allocation is counted so unit
 * tests can assert that nothing is left alive (mem_live()).
 */
#ifndef CASCADE_MEM_H
#define CASCADE_MEM_H

#include <stddef.h>
#include <stdint.h>

void *xmalloc(size_t n) __attribute__((malloc, returns_nonnull));
void *xcalloc(size_t nmemb, size_t size) __attribute__((malloc, returns_nonnull));
void *xrealloc(void *p, size_t n) __attribute__((returns_nonnull));
char *xstrdup(const char *s) __attribute__((malloc, returns_nonnull));
char *xstrndup(const char *s, size_t n) __attribute__((malloc, returns_nonnull));
void xfree(void *p);

/* Allocations made through x*() and not yet freed (all threads). */
int64_t mem_live(void);
/* Total allocations ever made through x*(). */
uint64_t mem_total(void);

#endif
