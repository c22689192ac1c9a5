/*
 * metrics.h -- counters, gauges and histograms, rendered as Prometheus text.
 *
 * A metric's name is one dotted string used everywhere -- code, logs, tests:
 * "edge.fetch.collapsed". The Prometheus rendering is mechanical: dots
 * become underscores, the prefix "cascade_" is added, counters end in
 * "_total": cascade_edge_fetch_collapsed_total. (tests/scenario/cdn.py
 * applies the same rule, so tests use the dotted name.)
 *
 * Metrics are process-wide and updated with relaxed atomics from any
 * thread; registration takes a lock and is meant for start-up or for the
 * first use of a label value. A labelled family has one label name and at
 * most METRICS_MAX_SERIES values; past that, new values are counted under
 * the value "_other" so a hostile client cannot grow memory without bound.
 * Label values are stored cut to METRICS_MAX_VALUE bytes, with every byte
 * outside printable ASCII replaced by '?' (two values that differ only
 * there share a series). An update is one relaxed atomic on the series:
 * keep the struct metric pointer, never look a series up per event.
 *
 * Rendering lists families sorted by their Prometheus name, each with one
 * HELP and one TYPE line, then its series in registration order ("_other"
 * where it first appeared). Histograms render cumulative _bucket{le="..."}
 * lines ending in le="+Inf", then _sum and _count. Every render refreshes
 * the process metrics (gauges, registered on the first render):
 *   process.resident_memory_bytes   RSS, from /proc/self/statm
 *   process.open_fds                entries of /proc/self/fd
 *   process.start_time_seconds      start time, Unix epoch seconds
 */
#ifndef CASCADE_METRICS_H
#define CASCADE_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "miniobj.h"

#define METRICS_MAX_SERIES 256
#define METRICS_MAX_BUCKETS 24
#define METRICS_MAX_VALUE 128

enum metric_type {
    METRIC_COUNTER = 1,
    METRIC_GAUGE = 2,
    METRIC_HISTOGRAM = 3,
};

struct metric; /* one series; lives until metrics_reset() (tests) or exit */

/*
 * Register (or find, when the same name and label value exist) one series.
 * `help` is the HELP text; a second registration must use the same type
 * (asserted). label/value may be NULL for an unlabelled metric.
 * Names are [a-z0-9_.]+ (a counter's must not end in ".total" or
 * "_total": the suffix is added); label names [a-z_]+; values are escaped on output. A name
 * is either unlabelled or always labelled with the same label name. Misuse
 * of these rules is a programming error and asserts. Never returns NULL.
 */
struct metric *metrics_counter(const char *name, const char *help);
struct metric *metrics_gauge(const char *name, const char *help);
/* bounds: n ascending upper bounds (seconds, bytes, ...), 1 <= n <= METRICS_MAX_BUCKETS;
 * re-registration must pass the same bounds. The bounds are copied. */
struct metric *metrics_histogram(const char *name, const char *help, const double *bounds,
                                 size_t n);
struct metric *metrics_histogram_l(const char *name, const char *help, const double *bounds,
                                   size_t n, const char *label, const char *value);
struct metric *metrics_counter_l(const char *name, const char *help, const char *label,
                                 const char *value);
struct metric *metrics_gauge_l(const char *name, const char *help, const char *label,
                               const char *value);

void metric_inc(struct metric *m);
void metric_add(struct metric *m, uint64_t v); /* counters */
void metric_set(struct metric *m, int64_t v);  /* gauges */
void metric_gauge_add(struct metric *m, int64_t delta);
void metric_observe(struct metric *m, double v); /* histograms */

/* Current value (counter or gauge; a histogram's count), for tests and for derived gauges. */
int64_t metric_value(const struct metric *m);

/*
 * Callback run at the start of every render, to refresh gauges that are
 * cheaper to read on demand (LMDB map usage, RSS). At most
 * METRICS_MAX_COLLECT (asserted). Callbacks run outside the registry lock,
 * so they may register metrics; they run on the rendering thread.
 */
#define METRICS_MAX_COLLECT 32
typedef void metrics_collect_fn(void *arg);
void metrics_on_collect(metrics_collect_fn *fn, void *arg);

/* Prometheus text format 0.0.4; *len gets the length; the caller xfree()s. */
char *metrics_render(size_t *len);

/* Tests only: forget every metric and callback. */
void metrics_reset(void);

#endif
