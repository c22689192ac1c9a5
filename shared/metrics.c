/*
 * metrics.c -- the process-wide metric registry and its Prometheus text.
 *
 * Families live in one list sorted by Prometheus name; each owns its series
 * (a list in registration order). Everything is created under metrics_mu
 * and lives until metrics_reset(), so a struct metric pointer may be kept
 * forever and updated without a lock: counters and gauges are one relaxed
 * atomic add or store, a histogram observation is three.
 *
 * SPEC: Prometheus exposition formats, text format 0.0.4 -- HELP text
 * escapes '\' and newline; label values escape '\', '"' and newline; one
 * HELP and one TYPE line per family, before its samples; a histogram has
 * cumulative _bucket series with a final le="+Inf" equal to _count.
 *
 * Not here: serving /metrics (httpd), per-module metric definitions.
 */
#include <dirent.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mem.h"
#include "metrics.h"
#include "compat.h"

#define METRICS_PREFIX "cascade_"

struct metric_family {
    char *name;  /* owned; dotted, as registered */
    char *prom;  /* owned; cascade_..., with _total for counters */
    char *help;  /* owned */
    char *label; /* owned; NULL when unlabelled */
    enum metric_type type;
    double *bounds; /* owned; histograms only */
    size_t nbounds;
    unsigned nseries;            /* series other than the overflow one */
    struct metric *series;       /* owned; registration order */
    struct metric **series_tail; /* where the next series is linked */
    struct metric *other;        /* borrowed from series; NULL until needed */
    struct metric_family *next;  /* sorted by prom */
};

struct metric {
    unsigned magic;
#define METRIC_MAGIC 0x6d657472U
    enum metric_type type;
    struct metric_family *fam; /* borrowed: the family outlives it */
    char *value;               /* owned; label value, NULL when unlabelled */
    _Atomic uint64_t count;    /* counter */
    _Atomic int64_t gauge;     /* gauge */
    _Atomic uint64_t *buckets; /* owned; histogram: nbounds + 1, not cumulative */
    _Atomic uint64_t sum_bits; /* histogram: the double sum, as bits */
    struct metric *next;       /* next series of the family */
};

struct metrics_collect {
    metrics_collect_fn *fn;
    void *arg;
};

/* A growing output string. */
struct metrics_buf {
    char *p; /* owned */
    size_t len, cap;
};

static pthread_mutex_t metrics_mu = PTHREAD_MUTEX_INITIALIZER;
static struct metric_family *metrics_families; /* under metrics_mu */
static struct metrics_collect metrics_collects[METRICS_MAX_COLLECT];
static unsigned metrics_ncollects;
/* The process gauges, registered on the first render after a reset. */
static pthread_mutex_t metrics_proc_mu = PTHREAD_MUTEX_INITIALIZER; /* taken before metrics_mu */
static struct metric *metrics_proc_rss, *metrics_proc_fds, *metrics_proc_start;

static bool
metrics_name_valid(const char *name)
{
    const char *p;

    if (name == NULL || name[0] == '\0')
        return false;
    for (p = name; *p != '\0'; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_' || *p == '.'))
            return false;
    return true;
}

static bool
metrics_label_valid(const char *label)
{
    const char *p;

    if (label[0] == '\0')
        return false;
    for (p = label; *p != '\0'; p++)
        if (!((*p >= 'a' && *p <= 'z') || *p == '_'))
            return false;
    return true;
}

static char *
metrics_prom_name(const char *name, enum metric_type type)
{
    size_t len = strlen(name), plen = strlen(METRICS_PREFIX), i;
    const char *sfx = type == METRIC_COUNTER ? "_total" : "";
    char *p = xmalloc(plen + len + strlen(sfx) + 1);

    memcpy(p, METRICS_PREFIX, plen);
    for (i = 0; i < len; i++)
        p[plen + i] = name[i] == '.' ? '_' : name[i];
    memcpy(p + plen + len, sfx, strlen(sfx) + 1);
    return p;
}

/* The stored form of a label value: cut, printable ASCII only. */
static char *
metrics_value_norm(const char *value)
{
    size_t len = strnlen(value, METRICS_MAX_VALUE), i;
    char *v = xmalloc(len + 1);

    for (i = 0; i < len; i++)
        v[i] = (value[i] >= 0x20 && value[i] < 0x7f) ? value[i] : '?';
    v[len] = '\0';
    return v;
}

static struct metric *
metrics_series_new(struct metric_family *fam, char *value)
{
    struct metric *m = xcalloc(1, sizeof(*m));

    m->magic = METRIC_MAGIC;
    m->type = fam->type;
    m->fam = fam;
    m->value = value;
    if (fam->type == METRIC_HISTOGRAM)
        m->buckets = xcalloc(fam->nbounds + 1, sizeof(*m->buckets));
    *fam->series_tail = m;
    fam->series_tail = &m->next;
    if (value != NULL && strcmp(value, "_other") == 0)
        fam->other = m;
    else
        fam->nseries++;
    return m;
}

static struct metric_family *
metrics_family_new(enum metric_type type, const char *name, const char *help, const char *label,
                   const double *bounds, size_t n)
{
    struct metric_family *fam = xcalloc(1, sizeof(*fam)), **pp;

    fam->name = xstrdup(name);
    fam->prom = metrics_prom_name(name, type);
    fam->help = xstrdup(help != NULL ? help : "");
    fam->label = label != NULL ? xstrdup(label) : NULL;
    fam->type = type;
    if (n > 0) {
        fam->bounds = xmalloc(n * sizeof(*bounds));
        memcpy(fam->bounds, bounds, n * sizeof(*bounds));
        fam->nbounds = n;
    }
    fam->series_tail = &fam->series;
    for (pp = &metrics_families; *pp != NULL && strcmp((*pp)->prom, fam->prom) < 0;
         pp = &(*pp)->next)
        ;
    fam->next = *pp;
    *pp = fam;
    return fam;
}

static void
metrics_register_check(enum metric_type type, const char *name, const char *label,
                       const char *value, const double *bounds, size_t n)
{
    size_t len = strlen(name), i;

    assert(metrics_name_valid(name));
    assert((label == NULL) == (value == NULL));
    assert(label == NULL || metrics_label_valid(label));
    if (type == METRIC_COUNTER) /* the suffix is ours to add */
        assert(len < 6 || strcmp(name + len - 5, "total") != 0 ||
               (name[len - 6] != '.' && name[len - 6] != '_'));
    if (type == METRIC_HISTOGRAM) {
        assert(n >= 1 && n <= METRICS_MAX_BUCKETS);
        for (i = 0; i < n; i++)
            assert(isfinite(bounds[i]) && (i == 0 || bounds[i - 1] < bounds[i]));
    }
}

static struct metric *
metrics_register(enum metric_type type, const char *name, const char *help, const char *label,
                 const char *value, const double *bounds, size_t n)
{
    struct metric_family *fam;
    struct metric *m;
    char *v;

    metrics_register_check(type, name, label, value, bounds, n);
    pthread_mutex_lock(&metrics_mu);
    for (fam = metrics_families; fam != NULL; fam = fam->next)
        if (strcmp(fam->name, name) == 0)
            break;
    if (fam == NULL) {
        fam = metrics_family_new(type, name, help, label, bounds, n);
    } else {
        assert(fam->type == type);
        assert((fam->label == NULL) == (label == NULL));
        assert(label == NULL || strcmp(fam->label, label) == 0);
        assert(fam->nbounds == n &&
               (n == 0 || memcmp(fam->bounds, bounds, n * sizeof(*bounds)) == 0));
    }
    if (label == NULL) {
        m = fam->series != NULL ? fam->series : metrics_series_new(fam, NULL);
        goto out_unlock;
    }
    v = metrics_value_norm(value);
    for (m = fam->series; m != NULL; m = m->next)
        if (strcmp(m->value, v) == 0)
            break;
    if (m != NULL) {
        xfree(v);
    } else if (fam->nseries < METRICS_MAX_SERIES || strcmp(v, "_other") == 0) {
        m = metrics_series_new(fam, v);
    } else {
        xfree(v);
        m = fam->other != NULL ? fam->other : metrics_series_new(fam, xstrdup("_other"));
    }
out_unlock:
    pthread_mutex_unlock(&metrics_mu);
    return m;
}

struct metric *
metrics_counter(const char *name, const char *help)
{
    return metrics_register(METRIC_COUNTER, name, help, NULL, NULL, NULL, 0);
}

struct metric *
metrics_gauge(const char *name, const char *help)
{
    return metrics_register(METRIC_GAUGE, name, help, NULL, NULL, NULL, 0);
}

struct metric *
metrics_histogram(const char *name, const char *help, const double *bounds, size_t n)
{
    return metrics_register(METRIC_HISTOGRAM, name, help, NULL, NULL, bounds, n);
}

struct metric *
metrics_histogram_l(const char *name, const char *help, const double *bounds, size_t n,
                    const char *label, const char *value)
{
    return metrics_register(METRIC_HISTOGRAM, name, help, label, value, bounds, n);
}

struct metric *
metrics_counter_l(const char *name, const char *help, const char *label, const char *value)
{
    return metrics_register(METRIC_COUNTER, name, help, label, value, NULL, 0);
}

struct metric *
metrics_gauge_l(const char *name, const char *help, const char *label, const char *value)
{
    return metrics_register(METRIC_GAUGE, name, help, label, value, NULL, 0);
}

void
metric_inc(struct metric *m)
{
    DASSERT(m->magic == METRIC_MAGIC && m->type == METRIC_COUNTER);
    atomic_fetch_add_explicit(&m->count, 1, memory_order_relaxed);
}

void
metric_add(struct metric *m, uint64_t v)
{
    DASSERT(m->magic == METRIC_MAGIC && m->type == METRIC_COUNTER);
    atomic_fetch_add_explicit(&m->count, v, memory_order_relaxed);
}

void
metric_set(struct metric *m, int64_t v)
{
    DASSERT(m->magic == METRIC_MAGIC && m->type == METRIC_GAUGE);
    atomic_store_explicit(&m->gauge, v, memory_order_relaxed);
}

void
metric_gauge_add(struct metric *m, int64_t delta)
{
    DASSERT(m->magic == METRIC_MAGIC && m->type == METRIC_GAUGE);
    atomic_fetch_add_explicit(&m->gauge, delta, memory_order_relaxed);
}

void
metric_observe(struct metric *m, double v)
{
    const struct metric_family *fam = m->fam;
    uint64_t old, upd;
    double sum;
    size_t i;

    DASSERT(m->magic == METRIC_MAGIC && m->type == METRIC_HISTOGRAM);
    for (i = 0; i < fam->nbounds && !(v <= fam->bounds[i]); i++)
        ;
    atomic_fetch_add_explicit(&m->buckets[i], 1, memory_order_relaxed);
    old = atomic_load_explicit(&m->sum_bits, memory_order_relaxed);
    do {
        memcpy(&sum, &old, sizeof(sum));
        sum += v;
        memcpy(&upd, &sum, sizeof(upd));
    } while (!atomic_compare_exchange_weak_explicit(&m->sum_bits, &old, upd, memory_order_relaxed,
                                                    memory_order_relaxed));
}

static uint64_t
metrics_hist_count(const struct metric *m)
{
    uint64_t n = 0;
    size_t i;

    for (i = 0; i <= m->fam->nbounds; i++)
        n += atomic_load_explicit(&m->buckets[i], memory_order_relaxed);
    return n;
}

int64_t
metric_value(const struct metric *m)
{
    CHECK_OBJ_NOTNULL(m, METRIC_MAGIC);
    switch (m->type) {
    case METRIC_COUNTER:
        return (int64_t)atomic_load_explicit(&m->count, memory_order_relaxed);
    case METRIC_GAUGE:
        return atomic_load_explicit(&m->gauge, memory_order_relaxed);
    case METRIC_HISTOGRAM:
        return (int64_t)metrics_hist_count(m);
    }
    return 0;
}

void
metrics_on_collect(metrics_collect_fn *fn, void *arg)
{
    pthread_mutex_lock(&metrics_mu);
    assert(metrics_ncollects < METRICS_MAX_COLLECT);
    metrics_collects[metrics_ncollects].fn = fn;
    metrics_collects[metrics_ncollects].arg = arg;
    metrics_ncollects++;
    pthread_mutex_unlock(&metrics_mu);
}

/* Reads up to size - 1 bytes of a small /proc file, NUL-terminated; -1 on error. */
static ssize_t
metrics_read_proc(const char *path, char *buf, size_t size)
{
    ssize_t n;
    int fd;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    n = read(fd, buf, size - 1);
    close(fd);
    if (n < 0)
        return -1;
    buf[n] = '\0';
    return n;
}

static int64_t
metrics_proc_rss_bytes(void)
{
    char buf[256], *p;
    unsigned long long pages;

    if (metrics_read_proc("/proc/self/statm", buf, sizeof(buf)) < 0)
        return 0;
    strtoull(buf, &p, 10); /* size; the second field is resident */
    pages = strtoull(p, NULL, 10);
    return (int64_t)pages * sysconf(_SC_PAGESIZE);
}

static int64_t
metrics_proc_fd_count(void)
{
    struct dirent *de;
    int64_t n = 0;
    DIR *d;

    d = opendir("/proc/self/fd");
    if (d == NULL)
        return 0;
    while ((de = readdir(d)) != NULL)
        if (de->d_name[0] != '.')
            n++;
    closedir(d);
    return n - 1; /* the directory's own fd */
}

/*
 * Start time = now - uptime + the process's start in ticks since boot
 * (/proc/self/stat field 22). Computed once (under metrics_proc_mu): it
 * never changes.
 */
static int64_t
metrics_proc_start_seconds(void)
{
    static int64_t start;
    char buf[1024], *p;
    double uptime, since_boot;
    struct timespec now;
    int field;

    if (start != 0)
        return start;
    clock_gettime(CLOCK_REALTIME, &now);
    start = now.tv_sec; /* fallback: the first render */
    if (metrics_read_proc("/proc/uptime", buf, sizeof(buf)) < 0)
        return start;
    uptime = strtod(buf, NULL);
    if (metrics_read_proc("/proc/self/stat", buf, sizeof(buf)) < 0)
        return start;
    p = strrchr(buf, ')'); /* the command name may hold spaces and ')' */
    if (p == NULL)
        return start;
    for (field = 3; field <= 22 && p != NULL; field++) /* to the space before field 22 */
        p = strchr(p + 1, ' ');
    if (p == NULL)
        return start;
    since_boot = (double)strtoull(p + 1, NULL, 10) / (double)sysconf(_SC_CLK_TCK);
    start = (int64_t)floor((double)now.tv_sec + (double)now.tv_nsec / 1e9 - uptime + since_boot);
    return start;
}

static void
metrics_proc_update(void)
{
    pthread_mutex_lock(&metrics_proc_mu);
    if (metrics_proc_rss == NULL) {
        metrics_proc_rss =
            metrics_gauge("process.resident_memory_bytes", "Resident memory size in bytes.");
        metrics_proc_fds = metrics_gauge("process.open_fds", "Number of open file descriptors.");
        metrics_proc_start =
            metrics_gauge("process.start_time_seconds",
                          "Start time of the process since the Unix epoch in seconds.");
    }
    metric_set(metrics_proc_rss, metrics_proc_rss_bytes());
    metric_set(metrics_proc_fds, metrics_proc_fd_count());
    metric_set(metrics_proc_start, metrics_proc_start_seconds());
    pthread_mutex_unlock(&metrics_proc_mu);
}

static void
metrics_buf_reserve(struct metrics_buf *b, size_t more)
{
    if (b->len + more + 1 <= b->cap)
        return;
    while (b->len + more + 1 > b->cap)
        b->cap = b->cap == 0 ? 4096 : b->cap * 2;
    b->p = xrealloc(b->p, b->cap);
}

static void
metrics_buf_add(struct metrics_buf *b, const char *s, size_t len)
{
    metrics_buf_reserve(b, len);
    memcpy(b->p + b->len, s, len);
    b->len += len;
    b->p[b->len] = '\0';
}

static void
metrics_buf_str(struct metrics_buf *b, const char *s)
{
    metrics_buf_add(b, s, strlen(s));
}

static void PRINTFLIKE(2, 3) metrics_buf_printf(struct metrics_buf *b, const char *fmt, ...)
{
    char tmp[128];
    va_list ap;
    int r;

    va_start(ap, fmt);
    r = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    assert(r >= 0 && (size_t)r < sizeof(tmp)); /* numbers only */
    metrics_buf_add(b, tmp, (size_t)r);
}

/* Appends s escaping '\' and newline, plus '"' when quoted (label values). */
static void
metrics_buf_escaped(struct metrics_buf *b, const char *s, bool quoted)
{
    for (; *s != '\0'; s++) {
        if (*s == '\\')
            metrics_buf_add(b, "\\\\", 2);
        else if (*s == '\n')
            metrics_buf_add(b, "\\n", 2);
        else if (*s == '"' && quoted)
            metrics_buf_add(b, "\\\"", 2);
        else
            metrics_buf_add(b, s, 1);
    }
}

/* The shortest of %.15g and %.17g that reads back as d; Go-style specials. */
static void
metrics_buf_double(struct metrics_buf *b, double d)
{
    char tmp[40];

    if (isnan(d)) {
        metrics_buf_str(b, "NaN");
    } else if (isinf(d)) {
        metrics_buf_str(b, d > 0 ? "+Inf" : "-Inf");
    } else {
        snprintf(tmp, sizeof(tmp), "%.15g", d);
        if (strtod(tmp, NULL) != d)
            snprintf(tmp, sizeof(tmp), "%.17g", d);
        metrics_buf_str(b, tmp);
    }
}

/* label="value" and then sep, when m is a labelled series. */
static void
metrics_render_label(struct metrics_buf *b, const struct metric_family *fam, const struct metric *m,
                     const char *sep)
{
    if (m->value == NULL)
        return;
    metrics_buf_str(b, fam->label);
    metrics_buf_str(b, "=\"");
    metrics_buf_escaped(b, m->value, true);
    metrics_buf_str(b, "\"");
    metrics_buf_str(b, sep);
}

/* {label="value"}, or nothing for an unlabelled series. */
static void
metrics_render_labels(struct metrics_buf *b, const struct metric_family *fam,
                      const struct metric *m)
{
    if (m->value == NULL)
        return;
    metrics_buf_str(b, "{");
    metrics_render_label(b, fam, m, "}");
}

static void
metrics_render_hist(struct metrics_buf *b, const struct metric_family *fam, const struct metric *m)
{
    uint64_t cum = 0, bits;
    double sum;
    size_t i;

    for (i = 0; i <= fam->nbounds; i++) {
        cum += atomic_load_explicit(&m->buckets[i], memory_order_relaxed);
        metrics_buf_str(b, fam->prom);
        metrics_buf_str(b, "_bucket{");
        metrics_render_label(b, fam, m, ",");
        metrics_buf_str(b, "le=\"");
        if (i < fam->nbounds)
            metrics_buf_double(b, fam->bounds[i]);
        else
            metrics_buf_str(b, "+Inf");
        metrics_buf_printf(b, "\"} %llu\n", (unsigned long long)cum);
    }
    bits = atomic_load_explicit(&m->sum_bits, memory_order_relaxed);
    memcpy(&sum, &bits, sizeof(sum));
    metrics_buf_str(b, fam->prom);
    metrics_buf_str(b, "_sum");
    metrics_render_labels(b, fam, m);
    metrics_buf_str(b, " ");
    metrics_buf_double(b, sum);
    metrics_buf_str(b, "\n");
    metrics_buf_str(b, fam->prom);
    metrics_buf_str(b, "_count");
    metrics_render_labels(b, fam, m);
    metrics_buf_printf(b, " %llu\n", (unsigned long long)cum); /* = the +Inf bucket */
}

static void
metrics_render_family(struct metrics_buf *b, const struct metric_family *fam)
{
    static const char *const type_names[] = {
        [METRIC_COUNTER] = "counter",
        [METRIC_GAUGE] = "gauge",
        [METRIC_HISTOGRAM] = "histogram",
    };
    const struct metric *m;

    metrics_buf_str(b, "# HELP ");
    metrics_buf_str(b, fam->prom);
    if (fam->help[0] != '\0') {
        metrics_buf_str(b, " ");
        metrics_buf_escaped(b, fam->help, false);
    }
    metrics_buf_str(b, "\n# TYPE ");
    metrics_buf_str(b, fam->prom);
    metrics_buf_str(b, " ");
    metrics_buf_str(b, type_names[fam->type]);
    metrics_buf_str(b, "\n");
    for (m = fam->series; m != NULL; m = m->next) {
        if (fam->type == METRIC_HISTOGRAM) {
            metrics_render_hist(b, fam, m);
            continue;
        }
        metrics_buf_str(b, fam->prom);
        metrics_render_labels(b, fam, m);
        if (fam->type == METRIC_COUNTER)
            metrics_buf_printf(
                b, " %llu\n",
                (unsigned long long)atomic_load_explicit(&m->count, memory_order_relaxed));
        else
            metrics_buf_printf(b, " %lld\n",
                               (long long)atomic_load_explicit(&m->gauge, memory_order_relaxed));
    }
}

char *
metrics_render(size_t *len)
{
    struct metrics_collect cbs[METRICS_MAX_COLLECT];
    struct metrics_buf b = {0};
    const struct metric_family *fam;
    unsigned n, i;

    pthread_mutex_lock(&metrics_mu);
    n = metrics_ncollects;
    memcpy(cbs, metrics_collects, n * sizeof(cbs[0]));
    pthread_mutex_unlock(&metrics_mu);
    for (i = 0; i < n; i++)
        cbs[i].fn(cbs[i].arg);
    metrics_proc_update();

    metrics_buf_reserve(&b, 0);
    b.p[0] = '\0';
    pthread_mutex_lock(&metrics_mu);
    for (fam = metrics_families; fam != NULL; fam = fam->next)
        metrics_render_family(&b, fam);
    pthread_mutex_unlock(&metrics_mu);
    if (len != NULL)
        *len = b.len;
    return b.p;
}

void
metrics_reset(void)
{
    struct metric_family *fam;
    struct metric *m;

    pthread_mutex_lock(&metrics_proc_mu);
    pthread_mutex_lock(&metrics_mu);
    while ((fam = metrics_families) != NULL) {
        metrics_families = fam->next;
        while ((m = fam->series) != NULL) {
            fam->series = m->next;
            xfree(m->value);
            xfree(m->buckets);
            FREE_OBJ(m);
        }
        xfree(fam->name);
        xfree(fam->prom);
        xfree(fam->help);
        xfree(fam->label);
        xfree(fam->bounds);
        xfree(fam);
    }
    metrics_ncollects = 0;
    metrics_proc_rss = metrics_proc_fds = metrics_proc_start = NULL;
    pthread_mutex_unlock(&metrics_mu);
    pthread_mutex_unlock(&metrics_proc_mu);
}
