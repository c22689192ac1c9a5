/*
 * test_journal.c -- the ingest journal: appended tags come back from a
 * replay byte for byte, the syncer makes them durable within its interval,
 * a torn or damaged tail is cut at the last whole tag, appends go out in
 * whole blocks into a zeroed range and are synced in batches, a failed write
 * breaks the journal without crashing, and listing, sealing, sweeping and
 * stream.meta do what journal.h says.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "unit.h"
#include "err.h"
#include "fault.h"
#include "metrics.h"
#include "../../origin/journal.c"

struct t_tags {
    int n;
    uint8_t type[16];
    uint32_t ts[16];
    size_t len[16];
    uint8_t first[16];
};

static int
t_collect(void *arg, uint8_t type, uint32_t ts, const uint8_t *data, size_t len)
{
    struct t_tags *t = arg;

    if (t->n < 16) {
        t->type[t->n] = type;
        t->ts[t->n] = ts;
        t->len[t->n] = len;
        t->first[t->n] = len > 0 ? data[0] : 0;
    }
    t->n++;
    return 0;
}

static void
t_wait_synced(struct journal *j)
{
    int i;

    for (i = 0; i < 400 && journal_synced(j) != journal_written(j); i++)
        (void)usleep(5000);
    assert_int_equal(journal_written(j), journal_synced(j));
}

static void
test_append_sync_replay(void **state)
{
    int64_t live = mem_live();
    struct journal_syncer *sy = NULL;
    struct journal *j = NULL;
    struct t_tags got;
    char dir[64], sub[128], path[256];
    uint8_t body[3000];
    uint64_t bases[4];

    (void)state;
    unit_tmpdir(dir, sizeof(dir), "journal");
    (void)snprintf(sub, sizeof(sub), "%s/cam", dir);
    memset(body, 0x5a, sizeof(body));
    assert_int_equal(ERR_INVAL, journal_syncer_start(0, &sy));
    assert_int_equal(ERR_INVAL, journal_syncer_start(501, &sy));
    assert_int_equal(0, journal_syncer_start(10, &sy));
    assert_int_equal(0, journal_open(sy, sub, 2500, &j));
    body[0] = 0x17;
    assert_int_equal(0, journal_append(j, 9, 0, body, 40));
    body[0] = 0xaf;
    assert_int_equal(0, journal_append(j, 8, 21, body, 7));
    body[0] = 0x02;
    assert_int_equal(0, journal_append(j, 18, 33, body, sizeof(body)));
    assert_int_equal(0, journal_append(j, 9, 0x12345678, body, 0));
    assert_int_equal(ERR_INVAL, journal_append(j, 7, 0, body, 1));
    assert_int_equal(13 + (11 + 40 + 4) + (11 + 7 + 4) + (11 + 3000 + 4) + (11 + 4),
                     journal_written(j));
    t_wait_synced(j);
    journal_close(&j);
    assert_null(j);
    /* The same base again is refused: a file is never appended to twice. */
    assert_int_equal(ERR_EXISTS, journal_open(sy, sub, 2500, &j));
    journal_syncer_stop(&sy);

    assert_int_equal(1, journal_list(sub, bases, ARRAY_SIZE(bases)));
    assert_int_equal(2500, bases[0]);
    (void)snprintf(path, sizeof(path), "%s/0000000000002500.flv", sub);
    memset(&got, 0, sizeof(got));
    assert_int_equal(4, journal_replay(path, t_collect, &got));
    assert_int_equal(4, got.n);
    assert_int_equal(9, got.type[0]);
    assert_int_equal(0x17, got.first[0]);
    assert_int_equal(40, got.len[0]);
    assert_int_equal(8, got.type[1]);
    assert_int_equal(21, got.ts[1]);
    assert_int_equal(18, got.type[2]);
    assert_int_equal(3000, got.len[2]);
    assert_int_equal(0x12345678, got.ts[3]);
    assert_int_equal(0, got.len[3]);
    unit_rm_rf(dir);
    metrics_reset();
    UNIT_END(live);
}

static void
test_torn_tail_is_cut(void **state)
{
    int64_t live = mem_live();
    struct journal_syncer *sy = NULL;
    struct journal *j = NULL;
    struct t_tags got;
    char dir[64], path[256];
    uint8_t body[100];
    struct stat st;
    off_t whole;
    int fd;

    (void)state;
    unit_tmpdir(dir, sizeof(dir), "journal");
    memset(body, 1, sizeof(body));
    assert_int_equal(0, journal_syncer_start(50, &sy));
    assert_int_equal(0, journal_open(sy, dir, 0, &j));
    assert_int_equal(0, journal_append(j, 9, 0, body, sizeof(body)));
    assert_int_equal(0, journal_append(j, 8, 1, body, sizeof(body)));
    journal_close(&j);
    journal_syncer_stop(&sy);
    (void)snprintf(path, sizeof(path), "%s/0000000000000000.flv", dir);
    assert_int_equal(0, stat(path, &st));
    whole = st.st_size;

    /* A crash in the middle of a tag: header and half a body. */
    fd = open(path, O_WRONLY | O_APPEND);
    assert_true(fd >= 0);
    assert_int_equal(11 + 30, write(fd,
                                    "\x09\x00\x00\x64\x00\x00\x02\x00\x00\x00\x00"
                                    "000000000000000000000000000000",
                                    11 + 30));
    (void)close(fd);
    memset(&got, 0, sizeof(got));
    assert_int_equal(2, journal_replay(path, t_collect, &got));
    assert_int_equal(2, got.n);
    assert_int_equal(0, stat(path, &st));
    assert_int_equal(whole, st.st_size);

    /* Zeros where a tag should be (a power cut on some filesystems). */
    fd = open(path, O_WRONLY | O_APPEND);
    assert_true(fd >= 0);
    memset(body, 0, sizeof(body));
    assert_int_equal(sizeof(body), write(fd, body, sizeof(body)));
    (void)close(fd);
    memset(&got, 0, sizeof(got));
    assert_int_equal(2, journal_replay(path, t_collect, &got));
    assert_int_equal(0, stat(path, &st));
    assert_int_equal(whole, st.st_size);

    /* Not even a file header: nothing to trust. */
    fd = open(path, O_WRONLY | O_TRUNC);
    assert_true(fd >= 0);
    assert_int_equal(3, write(fd, "FLX", 3));
    (void)close(fd);
    assert_int_equal(ERR_PROTO, journal_replay(path, t_collect, &got));
    assert_int_equal(-ENOENT, journal_replay("/nonexistent/x.flv", t_collect, &got));
    unit_rm_rf(dir);
    metrics_reset();
    UNIT_END(live);
}

/* Each tag of journal jn, number i: its size and bytes follow from both. */
static size_t
t_tag_len(unsigned jn, unsigned i)
{
    return (size_t)((i * 2654435761u + jn * 40503u) % 9000u) + 1;
}

static uint8_t
t_tag_byte(unsigned jn, unsigned i, size_t k)
{
    return (uint8_t)(jn * 31u + i * 7u + (unsigned)k * 13u);
}

struct t_check {
    unsigned jn, n, bad;
};

static int
t_check_tag(void *arg, uint8_t type, uint32_t ts, const uint8_t *data, size_t len)
{
    struct t_check *c = arg;
    size_t k;

    if (type != 9 || ts != c->n * 40 || len != t_tag_len(c->jn, c->n))
        c->bad++;
    for (k = 0; k < len && c->bad == 0; k++)
        if (data[k] != t_tag_byte(c->jn, c->n, k))
            c->bad++;
    c->n++;
    return 0;
}

/* The journal as a crash would leave it: a copy of the file taken now. */
static void
t_copy(const char *from, const char *to)
{
    static uint8_t buf[1 << 16];
    int in = open(from, O_RDONLY), out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ssize_t n;

    assert_true(in >= 0 && out >= 0);
    while ((n = read(in, buf, sizeof(buf))) > 0)
        assert_int_equal(n, write(out, buf, (size_t)n));
    assert_int_equal(0, n);
    (void)close(in);
    (void)close(out);
}

/*
 * Buffered appends go out in whole blocks into a range zeroed ahead; the
 * syncer makes journals whose bytes fall in a durable zeroed range durable
 * as a batch (a range write each, one shared flush), and the rest with
 * their own fdatasync. Whatever the sizes, a crash copy replays every tag
 * byte for byte and stops at the zeros, and close cuts the zeros off. A
 * journal whose zeros cannot be written works the same, unbatched.
 */
static void
test_whole_block_appends_and_batched_syncs(void **state)
{
    int64_t live = mem_live();
    struct journal_syncer *sy = NULL;
    struct journal *j[3] = {NULL, NULL, NULL};
    uint8_t *body = xmalloc(9000);
    char dir[64], sub[3][128], path[3][256], copy[300];
    unsigned jn, i, k;
    struct stat st;
    struct t_check chk;
    size_t len;

    (void)state;
    unit_tmpdir(dir, sizeof(dir), "journal");
    assert_int_equal(0, journal_syncer_start(10, &sy));
    for (jn = 0; jn < 3; jn++) {
        (void)snprintf(sub[jn], sizeof(sub[jn]), "%s/s%u", dir, jn);
        (void)snprintf(path[jn], sizeof(path[jn]), "%s/0000000000000000.flv", sub[jn]);
        assert_int_equal(0, journal_open(sy, sub[jn], 0, &j[jn]));
        journal_buffer(j[jn], 32 * 1024);
    }
    for (i = 0; i < 120; i++) {
        for (jn = 0; jn < 3; jn++) {
            len = t_tag_len(jn, i);
            for (k = 0; k < len; k++)
                body[k] = t_tag_byte(jn, i, k);
            assert_int_equal(0, journal_append(j[jn], 9, i * 40, body, len));
            if (jn == 2 && i == 0) {
                /* The third journal's zeros fail once: it goes on without. */
                assert_int_equal(0, fault_arm("journal.zero", 1, true));
                assert_int_equal(0, journal_flush(j[jn]));
                fault_reset();
            }
            if (i % 3 == jn)
                assert_int_equal(0, journal_flush(j[jn]));
        }
        if (i % 20 == 19)
            for (jn = 0; jn < 3; jn++) {
                assert_int_equal(0, journal_flush(j[jn]));
                t_wait_synced(j[jn]);
            }
    }
    for (jn = 0; jn < 3; jn++) {
        assert_int_equal(0, journal_flush(j[jn]));
        t_wait_synced(j[jn]);
        assert_int_equal(0, stat(path[jn], &st));
        /* Whole blocks; zeros ahead unless writing them failed. */
        assert_int_equal(0, st.st_size % JOURNAL_BLOCK);
        if (jn < 2)
            assert_true((uint64_t)st.st_size >= JOURNAL_PREALLOC &&
                        (uint64_t)st.st_size > journal_written(j[jn]) + JOURNAL_BLOCK);
        else
            assert_true((uint64_t)st.st_size < journal_written(j[jn]) + JOURNAL_BLOCK);
        assert_true(snprintf(copy, sizeof(copy), "%s.crash", path[jn]) < (int)sizeof(copy));
        t_copy(path[jn], copy);
        memset(&chk, 0, sizeof(chk));
        chk.jn = jn;
        assert_int_equal(120, journal_replay(copy, t_check_tag, &chk));
        assert_int_equal(120, chk.n);
        assert_int_equal(0, chk.bad);
    }
    /* Batched syncs happened, and never for the journal without zeros. */
    assert_true(metric_value(sy->batched) > 0);
    assert_true(metric_value(sy->syncs) > metric_value(sy->batched));
    assert_int_equal(0, metric_value(metrics_counter("origin.journal.errors", "")));
    for (jn = 0; jn < 3; jn++) {
        uint64_t w = journal_written(j[jn]);

        journal_close(&j[jn]);
        assert_int_equal(0, stat(path[jn], &st));
        assert_int_equal(w, (uint64_t)st.st_size);
        memset(&chk, 0, sizeof(chk));
        chk.jn = jn;
        assert_int_equal(120, journal_replay(path[jn], t_check_tag, &chk));
        assert_int_equal(0, chk.bad);
    }
    journal_syncer_stop(&sy);
    xfree(body);
    unit_rm_rf(dir);
    metrics_reset();
    UNIT_END(live);
}

static void
test_failed_write_breaks_the_journal(void **state)
{
    int64_t live = mem_live();
    struct journal_syncer *sy = NULL;
    struct journal *j = NULL;
    char dir[64];
    uint8_t body[10] = {0};

    (void)state;
    unit_tmpdir(dir, sizeof(dir), "journal");
    assert_int_equal(0, journal_syncer_start(50, &sy));
    assert_int_equal(0, journal_open(sy, dir, 7, &j));
    assert_int_equal(0, fault_arm("journal.write", 2, false));
    assert_int_equal(0, journal_append(j, 9, 0, body, sizeof(body)));
    assert_int_equal(-ENOSPC, journal_append(j, 9, 1, body, sizeof(body)));
    assert_int_equal(ERR_CLOSED, journal_append(j, 9, 2, body, sizeof(body)));
    fault_reset();
    journal_close(&j);
    assert_int_equal(0, fault_arm("journal.open", 1, false));
    assert_true(journal_open(sy, dir, 8, &j) < 0);
    assert_null(j);
    fault_reset();
    journal_syncer_stop(&sy);
    unit_rm_rf(dir);
    metrics_reset();
    UNIT_END(live);
}

static void
test_list_seal_sweep_meta(void **state)
{
    int64_t live = mem_live();
    struct journal_syncer *sy = NULL;
    struct journal *j = NULL;
    char dir[64], sub[128], path[256];
    uint64_t bases[8], ast = 0, now;
    struct timespec ts;
    int fd;

    (void)state;
    unit_tmpdir(dir, sizeof(dir), "journal");
    (void)snprintf(sub, sizeof(sub), "%s/s1", dir);
    assert_int_equal(ERR_NOTFOUND, journal_meta_read(sub, &ast));
    assert_int_equal(0, journal_meta_write(sub, 1795489200123ull));
    assert_int_equal(0, journal_meta_read(sub, &ast));
    assert_int_equal(1795489200123ull, ast);
    (void)snprintf(path, sizeof(path), "%s/stream.meta", sub);
    fd = open(path, O_WRONLY | O_TRUNC);
    assert_int_equal(9, write(fd, "ast_ms x\n", 9));
    (void)close(fd);
    assert_int_equal(ERR_PROTO, journal_meta_read(sub, &ast));

    assert_int_equal(0, journal_syncer_start(50, &sy));
    assert_int_equal(0, journal_open(sy, sub, 90000, &j));
    journal_close(&j);
    assert_int_equal(0, journal_open(sy, sub, 5, &j));
    journal_close(&j);
    assert_int_equal(0, journal_open(sy, sub, 120000, &j));
    journal_close(&j);
    journal_syncer_stop(&sy);
    /* Names that are not ours are ignored. */
    (void)snprintf(path, sizeof(path), "%s/123.flv", sub);
    fd = open(path, O_WRONLY | O_CREAT, 0644);
    (void)close(fd);

    assert_int_equal(3, journal_list(sub, bases, ARRAY_SIZE(bases)));
    assert_int_equal(5, bases[0]);
    assert_int_equal(90000, bases[1]);
    assert_int_equal(120000, bases[2]);
    assert_int_equal(3, journal_list(sub, bases, 1)); /* the count, whatever the room */
    assert_int_equal(0, journal_list("/nonexistent", bases, 8));

    assert_int_equal(0, journal_seal(sub, true));
    assert_int_equal(0, journal_list(sub, bases, ARRAY_SIZE(bases)));
    (void)snprintf(path, sizeof(path), "%s/done", sub);
    assert_int_equal(3, journal_list(path, bases, ARRAY_SIZE(bases)));

    AZ(clock_gettime(CLOCK_REALTIME, &ts));
    now = (uint64_t)ts.tv_sec * 1000u;
    assert_int_equal(0, journal_sweep(dir, 3600 * 1000, now));
    assert_int_equal(3, journal_sweep(dir, 0, now + 1000));
    assert_int_equal(0, journal_list(path, bases, ARRAY_SIZE(bases)));
    unit_rm_rf(dir);
    metrics_reset();
    UNIT_END(live);
}

static void
test_buffered_appends_reach_the_file_on_flush(void **state)
{
    int64_t live = mem_live();
    struct journal_syncer *sy = NULL;
    struct journal *j = NULL;
    struct t_tags got;
    char dir[64], sub[128], path[256];
    uint8_t body[300];
    uint64_t hdr;

    (void)state;
    unit_tmpdir(dir, sizeof(dir), "journal");
    (void)snprintf(sub, sizeof(sub), "%s/cam", dir);
    (void)snprintf(path, sizeof(path), "%s/0000000000000000.flv", sub);
    memset(body, 0x33, sizeof(body));
    assert_int_equal(0, journal_syncer_start(10, &sy));
    assert_int_equal(0, journal_open(sy, sub, 0, &j));
    journal_buffer(j, 1000);
    hdr = journal_written(j);

    /* Buffered: nothing reaches the file until the flush. */
    assert_int_equal(0, journal_append(j, 9, 0, body, 100));
    assert_int_equal(0, journal_append(j, 8, 5, body, 100));
    assert_int_equal(2 * (11 + 100 + 4), journal_pending(j));
    assert_int_equal(hdr, journal_written(j));
    memset(&got, 0, sizeof(got));
    assert_int_equal(0, journal_replay(path, t_collect, &got));
    assert_int_equal(0, journal_flush(j));
    assert_int_equal(0, journal_pending(j));
    assert_int_equal(hdr + 2 * (11 + 100 + 4), journal_written(j));
    memset(&got, 0, sizeof(got));
    assert_int_equal(2, journal_replay(path, t_collect, &got));

    /* A tag that would overflow the buffer flushes it first; one larger
     * than the whole buffer goes straight to the file, in order. */
    assert_int_equal(0, journal_append(j, 9, 10, body, 300));
    assert_int_equal(0, journal_append(j, 9, 20, body, 300));
    assert_int_equal(0, journal_append(j, 9, 30, body, 300));
    assert_int_equal(3 * 315, journal_pending(j));
    assert_int_equal(0, journal_append(j, 9, 35, body, 300)); /* 4 x 315 > 1000 */
    assert_int_equal(315, journal_pending(j));
    assert_int_equal(0, journal_append(j, 18, 40, body, 0));
    {
        uint8_t big[2000];

        memset(big, 0x44, sizeof(big));
        assert_int_equal(0, journal_append(j, 9, 50, big, sizeof(big)));
    }
    assert_int_equal(0, journal_pending(j));
    assert_int_equal(0, journal_append(j, 8, 60, body, 1));
    /* Closing writes what is left. */
    journal_close(&j);
    journal_syncer_stop(&sy);
    memset(&got, 0, sizeof(got));
    assert_int_equal(9, journal_replay(path, t_collect, &got));
    assert_int_equal(10, got.ts[2]);
    assert_int_equal(35, got.ts[5]);
    assert_int_equal(40, got.ts[6]);
    assert_int_equal(2000, got.len[7]);
    assert_int_equal(60, got.ts[8]);
    unit_rm_rf(dir);
    metrics_reset();
    UNIT_END(live);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_append_sync_replay),
        cmocka_unit_test(test_torn_tail_is_cut),
        cmocka_unit_test(test_buffered_appends_reach_the_file_on_flush),
        cmocka_unit_test(test_whole_block_appends_and_batched_syncs),
        cmocka_unit_test(test_failed_write_breaks_the_journal),
        cmocka_unit_test(test_list_seal_sweep_meta),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
