/*
 * test_metrics.c -- the registry, the exact Prometheus text, the series
 * cap, collect callbacks, the process metrics, and exact counts under
 * threads. Every test ends with metrics_reset() so nothing stays alive.
 */
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "unit.h"
#include "metrics.h"
#include "compat.h"

/* The render without the process metrics (their values vary), xfree()d by the caller. */
static char *
render_without_process(void)
{
    char *text, *out, *line, *nl;
    size_t len, o = 0;

    text = metrics_render(&len);
    assert_int_equal(strlen(text), len);
    out = xmalloc(len + 1);
    for (line = text; *line != '\0'; line = nl + 1) {
        nl = strchr(line, '\n');
        assert_non_null(nl); /* every line ends in '\n' */
        if (strstr(line, "cascade_process_") != NULL && strstr(line, "cascade_process_") < nl)
            continue;
        memcpy(out + o, line, (size_t)(nl + 1 - line));
        o += (size_t)(nl + 1 - line);
    }
    out[o] = '\0';
    xfree(text);
    return out;
}

/* The value of the first sample line starting with "name " in text. */
static long long
sample(const char *text, const char *name)
{
    size_t n = strlen(name);
    const char *p;

    for (p = text; p != NULL && *p != '\0'; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
        if (strncmp(p, name, n) == 0 && p[n] == ' ')
            return strtoll(p + n + 1, NULL, 10);
    fail_msg("no sample %s", name);
    return -1;
}

static void
test_metrics_render_exact(void **state)
{
    static const double bounds[] = {0.1, 0.5, 1};
    int64_t live = mem_live();
    struct metric *c, *g, *h, *r200, *r404, *odd, *ha, *hb;
    char *text;

    (void)state;
    c = metrics_counter("edge.fetch.collapsed", "Upstream fetches saved by collapsing.");
    ha = metrics_histogram_l("up.head", "Head time.", bounds, 1, "upstream", "a:1");
    hb = metrics_histogram_l("up.head", "Head time.", bounds, 1, "upstream", "b\"");
    assert_ptr_equal(ha,
                     metrics_histogram_l("up.head", "Head time.", bounds, 1, "upstream", "a:1"));
    metric_observe(ha, 0.05);
    metric_observe(ha, 3);
    metric_observe(hb, 0.5);
    g = metrics_gauge("edge.conns", "Open client connections.");
    h = metrics_histogram("edge.fetch.seconds", "Fetch duration.", bounds, 3);
    r200 = metrics_counter_l("http.requests", "Requests by status.\nSecond \\ line", "code", "200");
    r404 = metrics_counter_l("http.requests", "ignored: the first HELP wins", "code", "404");
    odd = metrics_counter_l("http.requests", NULL, "code", "a\"b\\c\n");

    metric_inc(c);
    metric_inc(c);
    metric_add(c, 1);
    metric_set(g, 5);
    metric_gauge_add(g, -7);
    metric_observe(h, 0.25);
    metric_observe(h, 0.5);
    metric_observe(h, 0.5);
    metric_observe(h, 2);
    metric_add(r200, 10);
    metric_inc(r404);
    metric_inc(odd);

    text = render_without_process();
    assert_string_equal("# HELP cascade_edge_conns Open client connections.\n"
                        "# TYPE cascade_edge_conns gauge\n"
                        "cascade_edge_conns -2\n"
                        "# HELP cascade_edge_fetch_collapsed_total Upstream fetches saved by "
                        "collapsing.\n"
                        "# TYPE cascade_edge_fetch_collapsed_total counter\n"
                        "cascade_edge_fetch_collapsed_total 3\n"
                        "# HELP cascade_edge_fetch_seconds Fetch duration.\n"
                        "# TYPE cascade_edge_fetch_seconds histogram\n"
                        "cascade_edge_fetch_seconds_bucket{le=\"0.1\"} 0\n"
                        "cascade_edge_fetch_seconds_bucket{le=\"0.5\"} 3\n"
                        "cascade_edge_fetch_seconds_bucket{le=\"1\"} 3\n"
                        "cascade_edge_fetch_seconds_bucket{le=\"+Inf\"} 4\n"
                        "cascade_edge_fetch_seconds_sum 3.25\n"
                        "cascade_edge_fetch_seconds_count 4\n"
                        "# HELP cascade_http_requests_total Requests by status.\\nSecond \\\\ "
                        "line\n"
                        "# TYPE cascade_http_requests_total counter\n"
                        "cascade_http_requests_total{code=\"200\"} 10\n"
                        "cascade_http_requests_total{code=\"404\"} 1\n"
                        "cascade_http_requests_total{code=\"a\\\"b\\\\c?\"} 1\n"
                        "# HELP cascade_up_head Head time.\n"
                        "# TYPE cascade_up_head histogram\n"
                        "cascade_up_head_bucket{upstream=\"a:1\",le=\"0.1\"} 1\n"
                        "cascade_up_head_bucket{upstream=\"a:1\",le=\"+Inf\"} 2\n"
                        "cascade_up_head_sum{upstream=\"a:1\"} 3.05\n"
                        "cascade_up_head_count{upstream=\"a:1\"} 2\n"
                        "cascade_up_head_bucket{upstream=\"b\\\"\",le=\"0.1\"} 0\n"
                        "cascade_up_head_bucket{upstream=\"b\\\"\",le=\"+Inf\"} 1\n"
                        "cascade_up_head_sum{upstream=\"b\\\"\"} 0.5\n"
                        "cascade_up_head_count{upstream=\"b\\\"\"} 1\n",
                        text);
    xfree(text);
    metrics_reset();
    UNIT_END(live);
}

static void
test_metrics_register_idempotent(void **state)
{
    static const double bounds[] = {1, 2};
    int64_t live = mem_live();
    struct metric *a, *b, *h;
    char v1[300], v2[300];

    (void)state;
    a = metrics_counter("x.a", "A.");
    assert_ptr_equal(a, metrics_counter("x.a", "A."));
    a = metrics_gauge_l("x.l", "L.", "k", "one");
    assert_ptr_equal(a, metrics_gauge_l("x.l", "L.", "k", "one"));
    b = metrics_gauge_l("x.l", "L.", "k", "two");
    assert_ptr_not_equal(a, b);
    h = metrics_histogram("x.h", "H.", bounds, 2);
    assert_ptr_equal(h, metrics_histogram("x.h", "H.", bounds, 2));
    metric_observe(h, 1);
    metric_observe(h, 1.5);
    metric_observe(h, 100);
    assert_int_equal(3, metric_value(h));

    /* Values are cut to METRICS_MAX_VALUE bytes: these two share a series. */
    memset(v1, 'v', sizeof(v1) - 1);
    v1[sizeof(v1) - 1] = '\0';
    memcpy(v2, v1, sizeof(v2));
    v2[200] = 'w';
    assert_ptr_equal(metrics_gauge_l("x.l", "L.", "k", v1), metrics_gauge_l("x.l", "L.", "k", v2));
    metrics_reset();
    UNIT_END(live);
}

static void
test_metrics_series_cap(void **state)
{
    int64_t live = mem_live();
    struct metric *m[METRICS_MAX_SERIES], *other, *o2;
    char value[32], *text, *p;
    int i, lines = 0;

    (void)state;
    for (i = 0; i < METRICS_MAX_SERIES; i++) {
        snprintf(value, sizeof(value), "v%d", i);
        m[i] = metrics_counter_l("cap.hits", "Capped.", "path", value);
        metric_inc(m[i]);
    }
    other = metrics_counter_l("cap.hits", "Capped.", "path", "/hostile/1");
    o2 = metrics_counter_l("cap.hits", "Capped.", "path", "/hostile/2");
    assert_ptr_equal(other, o2);
    for (i = 0; i < METRICS_MAX_SERIES; i++)
        assert_ptr_not_equal(other, m[i]);
    assert_ptr_equal(m[7], metrics_counter_l("cap.hits", "Capped.", "path", "v7"));
    assert_ptr_equal(other, metrics_counter_l("cap.hits", "Capped.", "path", "_other"));
    metric_inc(other);
    metric_inc(o2);

    text = metrics_render(NULL);
    for (p = text; (p = strstr(p, "\ncascade_cap_hits_total{")) != NULL; p++)
        lines++;
    assert_int_equal(METRICS_MAX_SERIES + 1, lines);
    assert_non_null(strstr(text, "\ncascade_cap_hits_total{path=\"v255\"} 1\n"
                                 "cascade_cap_hits_total{path=\"_other\"} 2\n"));
    assert_null(strstr(text, "hostile"));
    xfree(text);
    metrics_reset();
    UNIT_END(live);
}

/* "_other" registered early by the caller is the overflow series too. */
static void
test_metrics_explicit_other(void **state)
{
    int64_t live = mem_live();
    struct metric *other;
    char value[32];
    int i;

    (void)state;
    other = metrics_counter_l("cap.o", "O.", "k", "_other");
    for (i = 0; i < METRICS_MAX_SERIES; i++) {
        snprintf(value, sizeof(value), "v%d", i);
        assert_ptr_not_equal(other, metrics_counter_l("cap.o", "O.", "k", value));
    }
    assert_ptr_equal(other, metrics_counter_l("cap.o", "O.", "k", "late"));
    metrics_reset();
    UNIT_END(live);
}

struct collect_state {
    struct metric *g;
    int calls;
};

static void
collect_cb(void *arg)
{
    struct collect_state *cs = arg;

    cs->calls++;
    /* May register: callbacks run outside the registry lock. */
    cs->g = metrics_gauge("collect.calls", "Times the callback ran.");
    metric_set(cs->g, cs->calls);
}

static void
test_metrics_collect(void **state)
{
    struct collect_state cs = {0};
    int64_t live = mem_live();
    char *text;

    (void)state;
    metrics_on_collect(collect_cb, &cs);
    text = metrics_render(NULL);
    assert_int_equal(1, sample(text, "cascade_collect_calls"));
    xfree(text);
    text = metrics_render(NULL);
    assert_int_equal(2, sample(text, "cascade_collect_calls"));
    assert_int_equal(2, metric_value(cs.g));
    xfree(text);
    metrics_reset();
    text = metrics_render(NULL); /* reset forgot the callback */
    assert_int_equal(2, cs.calls);
    xfree(text);
    metrics_reset();
    UNIT_END(live);
}

static void
test_metrics_process(void **state)
{
    int64_t live = mem_live();
    long long rss, fds, fds2, start;
    struct timespec now;
    char *text;
    int a, b;

    (void)state;
    text = metrics_render(NULL);
    assert_non_null(strstr(text, "# HELP cascade_process_resident_memory_bytes "));
    assert_non_null(strstr(text, "# TYPE cascade_process_resident_memory_bytes gauge\n"));
    assert_non_null(strstr(text, "# TYPE cascade_process_open_fds gauge\n"));
    assert_non_null(strstr(text, "# TYPE cascade_process_start_time_seconds gauge\n"));
    rss = sample(text, "cascade_process_resident_memory_bytes");
    fds = sample(text, "cascade_process_open_fds");
    start = sample(text, "cascade_process_start_time_seconds");
    xfree(text);

    clock_gettime(CLOCK_REALTIME, &now);
    assert_true(rss > 1024 * 1024);
    assert_true(fds >= 3);
    assert_true(start <= now.tv_sec + 1 && start > now.tv_sec - 600);

    /* Current on every render. */
    a = open("/dev/null", O_RDONLY);
    b = open("/dev/null", O_RDONLY);
    assert_true(a >= 0 && b >= 0);
    text = metrics_render(NULL);
    fds2 = sample(text, "cascade_process_open_fds");
    assert_int_equal(start, sample(text, "cascade_process_start_time_seconds"));
    xfree(text);
    close(a);
    close(b);
    assert_int_equal(fds + 2, fds2);
    metrics_reset();
    UNIT_END(live);
}

#define THREADS 4
#define THREAD_INCS 1000000

struct hot {
    struct metric *c, *g, *h;
};

static void *
thread_bump(void *arg)
{
    struct hot *hot = arg;
    int i;

    for (i = 0; i < THREAD_INCS; i++) {
        metric_inc(hot->c);
        metric_gauge_add(hot->g, (i & 1) ? -1 : 1);
        if (i % 10 == 0)
            metric_observe(hot->h, 1.0);
    }
    return NULL;
}

static void
test_metrics_threads_exact(void **state)
{
    static const double bounds[] = {0.5, 1, 2};
    int64_t live = mem_live();
    pthread_t th[THREADS];
    struct hot hot;
    char *text;
    int i;

    (void)state;
    hot.c = metrics_counter("hot.incs", "Increments.");
    hot.g = metrics_gauge("hot.level", "Up and down.");
    hot.h = metrics_histogram("hot.obs", "Observations.", bounds, 3);
    for (i = 0; i < THREADS; i++)
        assert_int_equal(0, pthread_create(&th[i], NULL, thread_bump, &hot));
    for (i = 0; i < THREADS; i++)
        assert_int_equal(0, pthread_join(th[i], NULL));
    assert_int_equal(THREADS * THREAD_INCS, metric_value(hot.c));
    assert_int_equal(0, metric_value(hot.g));
    assert_int_equal(THREADS * THREAD_INCS / 10, metric_value(hot.h));

    text = metrics_render(NULL);
    assert_non_null(strstr(text, "\ncascade_hot_incs_total 4000000\n"));
    assert_non_null(strstr(text, "\ncascade_hot_obs_bucket{le=\"0.5\"} 0\n"
                                 "cascade_hot_obs_bucket{le=\"1\"} 400000\n"
                                 "cascade_hot_obs_bucket{le=\"2\"} 400000\n"
                                 "cascade_hot_obs_bucket{le=\"+Inf\"} 400000\n"
                                 "cascade_hot_obs_sum 400000\n"
                                 "cascade_hot_obs_count 400000\n"));
    xfree(text);
    metrics_reset();
    UNIT_END(live);
}

static void
test_metrics_number_format(void **state)
{
    static const double bounds[] = {0.005, 0.1, 1e6, 1e21};
    int64_t live = mem_live();
    struct metric *h;
    char *text;

    (void)state;
    h = metrics_histogram("fmt.h", "F.", bounds, 4);
    metric_observe(h, 0.1);
    metric_observe(h, 0.2); /* 0.1 + 0.2 needs 17 digits */
    text = metrics_render(NULL);
    assert_non_null(strstr(text, "cascade_fmt_h_bucket{le=\"0.005\"} 0\n"
                                 "cascade_fmt_h_bucket{le=\"0.1\"} 1\n"
                                 "cascade_fmt_h_bucket{le=\"1000000\"} 2\n"
                                 "cascade_fmt_h_bucket{le=\"1e+21\"} 2\n"
                                 "cascade_fmt_h_bucket{le=\"+Inf\"} 2\n"
                                 "cascade_fmt_h_sum 0.30000000000000004\n"));
    xfree(text);
    metric_observe(h, -INFINITY);
    text = metrics_render(NULL);
    assert_non_null(strstr(text, "cascade_fmt_h_sum -Inf\n"));
    xfree(text);
    metrics_reset();
    UNIT_END(live);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_metrics_render_exact),
        cmocka_unit_test(test_metrics_register_idempotent),
        cmocka_unit_test(test_metrics_series_cap),
        cmocka_unit_test(test_metrics_explicit_other),
        cmocka_unit_test(test_metrics_collect),
        cmocka_unit_test(test_metrics_process),
        cmocka_unit_test(test_metrics_threads_exact),
        cmocka_unit_test(test_metrics_number_format),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
