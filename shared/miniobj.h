/*
 * miniobj.h -- magic-numbered objects and the three tiers of assertions.
 *
 * Every struct that travels through a libevent `void *arg` starts with
 * `unsigned magic` so a stale or foreign pointer is caught at the cast,
 * not three callbacks later. Assertions:
 *   AN/AZ/assert  cheap, always on (release builds keep NDEBUG undefined);
 *   DASSERT       costly invariant walks, debug and CI builds only;
 *   XXX_HANDLE    a known gap that must still be handled gracefully; each
 *                 use is counted by `grep -c XXX_HANDLE` in CI.
 */
#ifndef CASCADE_MINIOBJ_H
#define CASCADE_MINIOBJ_H

#include <assert.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#ifdef NDEBUG
#error "Cascade builds keep assertions on: do not define NDEBUG"
#endif

#define WARN_UNUSED __attribute__((warn_unused_result))
#define UNUSED      __attribute__((unused))
#define PRINTFLIKE(f, a) __attribute__((format(printf, f, a)))

#define AN(x) assert((x) != 0)
#define AZ(x) assert((x) == 0)

#ifdef CASCADE_DEBUG
#define DASSERT(x) assert(x)
#else
#define DASSERT(x)                                                                                 \
    do {                                                                                           \
    } while (0 && (x))
#endif

/* A gap we know about: it must not crash, so it evaluates x and moves on. */
#define XXX_HANDLE(x) ((void)(x))

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define CHECK_OBJ(ptr, type_magic) assert((ptr)->magic == (type_magic))
#define CHECK_OBJ_NOTNULL(ptr, type_magic)                                                         \
    do {                                                                                           \
        assert((ptr) != NULL);                                                                     \
        assert((ptr)->magic == (type_magic));                                                      \
    } while (0)
#define CAST_OBJ_NOTNULL(to, from, type_magic)                                                     \
    do {                                                                                           \
        (to) = (from);                                                                             \
        assert((to) != NULL);                                                                      \
        assert((to)->magic == (type_magic));                                                       \
    } while (0)

/* Clears the magic before freeing so a use-after-free trips CHECK_OBJ. */
#define FREE_OBJ(ptr)                                                                              \
    do {                                                                                           \
        (ptr)->magic = 0;                                                                          \
        xfree(ptr);                                                                                \
        (ptr) = NULL;                                                                              \
    } while (0)

#endif
