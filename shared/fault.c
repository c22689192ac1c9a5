/*
 * fault.c -- the table of named fault points and their arming.
 *
 * A point's name is written once, under fault_mu, before the point count
 * that publishes it is released; after that the name never changes, so a
 * hit scans the published names without a lock. Counts and arming are
 * relaxed atomics: a fault run arms points before the work it disturbs.
 *
 * The arming of a point is one word: the absolute hit number that fails
 * (0 = disarmed) with FAULT_STICKY or'ed in, so a hit never sees half of
 * an arming. Not here: deciding what a failed point does (its caller).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "fault.h"
#include "log.h"
#include "compat.h"

#define FAULT_STICKY (UINT64_C(1) << 63)
/* Caps N so that hits-so-far + N never reaches FAULT_STICKY. */
#define FAULT_NTH_MAX (UINT64_C(1) << 60)

struct fault_point {
    char name[FAULT_NAME_MAX + 1]; /* immutable once published */
    _Atomic uint64_t hits;
    _Atomic uint64_t fired;
    _Atomic uint64_t arm; /* fail-at hit number | FAULT_STICKY; 0: disarmed */
};

/* One item of a spec: name (not NUL-terminated) = nth [+]. */
struct fault_spec_item {
    const char *name;
    size_t name_len;
    uint64_t nth;
    bool sticky;
};

static struct fault_point fault_points[FAULT_MAX_POINTS];
static _Atomic unsigned fault_npoints;
static pthread_mutex_t fault_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t fault_once = PTHREAD_ONCE_INIT;

static int
fault_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.' || c == '-';
}

static int
fault_name_valid(const char *name, size_t len)
{
    size_t i;

    if (len == 0 || len > FAULT_NAME_MAX)
        return 0;
    for (i = 0; i < len; i++)
        if (!fault_name_char(name[i]))
            return 0;
    return 1;
}

/*
 * Parses the item of s[0..len) that starts at *pos. Returns 1 with *it
 * filled and *pos past the item and its ',', 0 at the end of the text, or
 * ERR_INVAL (then *pos is unchanged). Pure: no table access.
 */
static int
fault_spec_next(const char *s, size_t len, size_t *pos, struct fault_spec_item *it)
{
    size_t i = *pos, start = *pos;
    uint64_t n = 0;
    size_t digits = 0;

    if (i == len)
        return 0;
    while (i < len && fault_name_char(s[i]))
        i++;
    if (!fault_name_valid(s + start, i - start) || i == len || s[i] != '=')
        return ERR_INVAL;
    it->name = s + start;
    it->name_len = i - start;
    for (i++; i < len && s[i] >= '0' && s[i] <= '9'; i++, digits++) {
        n = n * 10 + (uint64_t)(s[i] - '0');
        if (n > FAULT_NTH_MAX)
            return ERR_INVAL;
    }
    if (digits == 0 || n == 0)
        return ERR_INVAL;
    it->nth = n;
    it->sticky = i < len && s[i] == '+';
    if (it->sticky)
        i++;
    if (i < len) {
        if (s[i] != ',' || i + 1 == len) /* no trailing comma */
            return ERR_INVAL;
        i++;
    }
    *pos = i;
    return 1;
}

static struct fault_point *
fault_find(const char *name, size_t len)
{
    unsigned n = atomic_load_explicit(&fault_npoints, memory_order_acquire);
    unsigned i;

    if (len > FAULT_NAME_MAX)
        return NULL;
    for (i = 0; i < n; i++)
        if (strncmp(fault_points[i].name, name, len) == 0 && fault_points[i].name[len] == '\0')
            return &fault_points[i];
    return NULL;
}

/* Finds or registers name (already validated); NULL when the table is full. */
static struct fault_point *
fault_get(const char *name, size_t len)
{
    struct fault_point *p;
    unsigned n;

    p = fault_find(name, len);
    if (p != NULL)
        return p;
    pthread_mutex_lock(&fault_mu);
    p = fault_find(name, len); /* another thread may have won */
    if (p == NULL) {
        n = atomic_load_explicit(&fault_npoints, memory_order_relaxed);
        if (n < FAULT_MAX_POINTS) {
            p = &fault_points[n];
            memcpy(p->name, name, len);
            p->name[len] = '\0';
            atomic_store_explicit(&fault_npoints, n + 1, memory_order_release);
        }
    }
    pthread_mutex_unlock(&fault_mu);
    return p;
}

static int
fault_arm_n(const char *name, size_t len, uint64_t nth, bool sticky)
{
    struct fault_point *p;
    uint64_t base;

    if (!fault_name_valid(name, len) || nth == 0 || nth > FAULT_NTH_MAX)
        return ERR_INVAL;
    p = fault_get(name, len);
    if (p == NULL)
        return ERR_LIMIT;
    base = atomic_load_explicit(&p->hits, memory_order_relaxed);
    atomic_store_explicit(&p->arm, (base + nth) | (sticky ? FAULT_STICKY : 0),
                          memory_order_relaxed);
    return 0;
}

/* Validates all of spec, then arms each item: bad text arms nothing. */
static int
fault_spec_apply(const char *spec)
{
    struct fault_spec_item it;
    size_t len = strlen(spec), pos = 0;
    int rc;

    while ((rc = fault_spec_next(spec, len, &pos, &it)) == 1)
        ;
    if (rc < 0)
        return rc;
    pos = 0;
    while (fault_spec_next(spec, len, &pos, &it) == 1) {
        rc = fault_arm_n(it.name, it.name_len, it.nth, it.sticky);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static void
fault_init_env(void)
{
    const char *spec = getenv("CASCADE_FAULT");
    char buf[256];
    int rc;

    if (spec == NULL || spec[0] == '\0')
        return;
    rc = fault_spec_apply(spec);
    if (rc != 0) {
        log_emit(LOG_CRIT, "fault", "bad_spec", "conn=0 err=%s spec=%s", err_name(rc),
                 log_sanitize(buf, sizeof(buf), spec, strlen(spec)));
        abort();
    }
}

static void
fault_init(void)
{
    pthread_once(&fault_once, fault_init_env);
}

bool
fault_hit(const char *name)
{
    struct fault_point *p;
    size_t len = strlen(name);
    uint64_t h, a;

    fault_init();
    p = fault_name_valid(name, len) ? fault_get(name, len) : NULL;
    if (p == NULL) {
        log_emit(LOG_CRIT, "fault", "bad_point", "conn=0 name_len=%zu max_points=%d", len,
                 FAULT_MAX_POINTS);
        abort();
    }
    h = atomic_fetch_add_explicit(&p->hits, 1, memory_order_relaxed) + 1;
    a = atomic_load_explicit(&p->arm, memory_order_relaxed);
    if (a == 0)
        return false;
    if (h != (a & ~FAULT_STICKY) && !((a & FAULT_STICKY) && h > (a & ~FAULT_STICKY)))
        return false;
    atomic_fetch_add_explicit(&p->fired, 1, memory_order_relaxed);
    return true;
}

int
fault_arm(const char *name, uint64_t nth, bool sticky)
{
    fault_init();
    return fault_arm_n(name, strlen(name), nth, sticky);
}

int
fault_arm_spec(const char *spec)
{
    fault_init();
    return fault_spec_apply(spec);
}

void
fault_disarm_all(void)
{
    unsigned n, i;

    fault_init();
    n = atomic_load_explicit(&fault_npoints, memory_order_acquire);
    for (i = 0; i < n; i++)
        atomic_store_explicit(&fault_points[i].arm, 0, memory_order_relaxed);
}

void
fault_reset(void)
{
    unsigned n, i;

    fault_init();
    n = atomic_load_explicit(&fault_npoints, memory_order_acquire);
    for (i = 0; i < n; i++) {
        atomic_store_explicit(&fault_points[i].arm, 0, memory_order_relaxed);
        atomic_store_explicit(&fault_points[i].hits, 0, memory_order_relaxed);
        atomic_store_explicit(&fault_points[i].fired, 0, memory_order_relaxed);
    }
}

uint64_t
fault_hits(const char *name)
{
    struct fault_point *p;

    fault_init();
    p = fault_find(name, strlen(name));
    return p == NULL ? 0 : atomic_load_explicit(&p->hits, memory_order_relaxed);
}

uint64_t
fault_fired(const char *name)
{
    struct fault_point *p;

    fault_init();
    p = fault_find(name, strlen(name));
    return p == NULL ? 0 : atomic_load_explicit(&p->fired, memory_order_relaxed);
}

bool
fault_enabled(void)
{
#ifdef CASCADE_FAULTS
    return true;
#else
    return false;
#endif
}
