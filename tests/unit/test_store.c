/*
 * test_store.c -- the LMDB store: round trips byte for byte, big objects,
 * reopen, replacement under a live reader, crashes (kill -9 mid-batch),
 * corruption, churn with eviction, purge, zero-copy refs, the reader cap,
 * the reaper, the writer queue bound, fault points, the key-value API and
 * the meta record codec.
 *
 * Every test works in its own temporary directory. Bodies are a
 * pseudo-random stream from a seed, compared by SHA-256. Each test ends
 * with metrics_reset() (the store registers its metrics on open) and
 * UNIT_END or UNIT_END_LOOP.
 */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <openssl/evp.h>

#include "unit.h"
#include "err.h"
#include "fault.h"
#include "log.h"
#include "metrics.h"
#include "store.h"
#include "store_int.h"
#include "store_meta.h"
#include "compat.h"

#define MiB (1024u * 1024u)

/* ---- helpers ---- */

struct t_env {
    char dir[64];
    struct store_conf conf;
    struct store *s;
    struct event_base *base;
    struct store_loop *sl;
};

struct t_done {
    int calls;
    int rc;
    uint64_t n;
};

static void
t_done_cb(void *arg, int rc, uint64_t n)
{
    struct t_done *d = arg;

    d->calls++;
    d->rc = rc;
    d->n = n;
}

static uint64_t
t_next(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

/* The body for (seed, len): a xorshift stream. */
static void
t_fill(uint8_t *p, size_t len, uint64_t seed)
{
    uint64_t x = seed * 0x9e3779b97f4a7c15ull + 1, w;
    size_t i;

    for (i = 0; i < len; i += 8) {
        w = t_next(&x);
        memcpy(p + i, &w, len - i < 8 ? len - i : 8);
    }
}

static void
t_sha(const void *p, size_t len, uint8_t out[32])
{
    unsigned n = 32;

    assert_int_equal(1, EVP_Digest(p, len, out, &n, EVP_sha256(), NULL));
}

/* A body of several chains, so the writer's copy crosses chain edges. */
static struct evbuffer *
t_body(uint64_t seed, size_t len)
{
    struct evbuffer *b = evbuffer_new();
    uint8_t *p = xmalloc(len + 1);
    size_t off = 0, piece;

    t_fill(p, len, seed);
    while (off < len) {
        piece = 1000 + (off * 7919) % 70000;
        if (piece > len - off)
            piece = len - off;
        assert_int_equal(0, evbuffer_add(b, p + off, piece));
        off += piece;
    }
    xfree(p);
    return b;
}

static void
t_rmdir(const char *dir)
{
    char path[512];
    DIR *d = opendir(dir);
    struct dirent *e;

    if (d == NULL)
        return;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        unlink(path);
    }
    closedir(d);
    rmdir(dir);
}

static void
t_conf(struct t_env *e)
{
    memset(e, 0, sizeof(*e));
    snprintf(e->dir, sizeof(e->dir), "/tmp/cascade-store-XXXXXX");
    assert_non_null(mkdtemp(e->dir));
    store_conf_defaults(&e->conf);
    e->conf.dir = e->dir;
    e->conf.size = 64ull * MiB;
    e->conf.max_inflight_hits = 64;
    e->conf.sync_interval_ms = 200;
}

static void
t_start(struct t_env *e)
{
    assert_int_equal(0, store_open(&e->conf, &e->s));
    if (e->base == NULL)
        e->base = event_base_new();
    assert_int_equal(0, store_loop_new(e->s, e->base, &e->sl));
}

static void
t_stop(struct t_env *e)
{
    store_loop_free(&e->sl);
    store_close(&e->s);
    assert_null(e->s);
}

/* Ends a test: nothing pending on the loop, nothing alive. */
static void
t_end(struct t_env *e, int64_t live)
{
    if (e->s != NULL)
        t_stop(e);
    t_rmdir(e->dir);
    metrics_reset();
    UNIT_END_LOOP(e->base, live);
    event_base_free(e->base);
}

static int
t_put(struct t_env *e, const char *key, uint64_t seed, size_t len, struct t_done *d)
{
    char hdr[64];
    struct store_obj o;
    struct evbuffer *b = t_body(seed, len);

    snprintf(hdr, sizeof(hdr), "HTTP/1.1 200 OK\r\nX-Seed: %llu\r\n\r\n", (unsigned long long)seed);
    memset(&o, 0, sizeof(o));
    o.key = key;
    o.key_len = strlen(key);
    o.hdr = hdr;
    o.hdr_len = strlen(hdr);
    o.status = 200;
    o.expires_at_ms = (int64_t)seed;
    return store_put_take(e->s, &o, &b, d != NULL ? e->sl : NULL, d != NULL ? t_done_cb : NULL, d);
}

/* Everything queued is committed and its callbacks have run. */
static void
t_settle(struct t_env *e)
{
    store_flush(e->s);
    while (e->sl->pending > 0)
        assert_true(event_base_loop(e->base, EVLOOP_ONCE) >= 0);
}

/*
 * 0 when key holds exactly the body for (seed, len) and its header;
 * otherwise the store's answer (ERR_NOTFOUND ...).
 */
static int
t_check(struct t_env *e, const char *key, uint64_t seed, size_t len)
{
    struct store_hit *h;
    struct evbuffer *out;
    const struct store_hit_info *info;
    uint8_t *want, *got, d1[32], d2[32];
    char hdr[64];
    const void *ph;
    size_t hl;
    int rc;

    rc = store_hit_open(e->sl, key, strlen(key), &h);
    if (rc != 0)
        return rc;
    info = store_hit_info(h);
    assert_int_equal(len, info->body_len);
    assert_int_equal(200, info->status);
    assert_int_equal((int64_t)seed, info->expires_at_ms);
    snprintf(hdr, sizeof(hdr), "HTTP/1.1 200 OK\r\nX-Seed: %llu\r\n\r\n", (unsigned long long)seed);
    ph = store_hit_peek_headers(h, &hl);
    assert_int_equal(strlen(hdr), hl);
    assert_memory_equal(hdr, ph, hl);
    out = evbuffer_new();
    assert_int_equal(0, store_hit_add_body(h, out, 0, UINT64_MAX));
    store_hit_unref(&h);
    assert_int_equal(len, evbuffer_get_length(out));
    want = xmalloc(len + 1);
    t_fill(want, len, seed);
    got = evbuffer_pullup(out, -1);
    t_sha(want, len, d1);
    t_sha(len > 0 ? got : want, len, d2);
    assert_memory_equal(d1, d2, 32);
    xfree(want);
    evbuffer_free(out);
    return 0;
}

/* ---- round trips ---- */

static void
test_store_roundtrip(void **state)
{
    int64_t live = mem_live();
    struct t_done d[3] = {{0}};
    struct store_stats st;
    struct store_hit *h;
    struct t_env e;

    (void)state;
    t_conf(&e);
    t_start(&e);
    assert_int_equal(0, t_put(&e, "/vod/empty", 1, 0, &d[0]));
    assert_int_equal(0, t_put(&e, "/vod/small", 2, 100, &d[1]));
    assert_int_equal(0, t_put(&e, "/vod/page", 3, 5000, &d[2]));
    assert_int_equal(0, d[0].calls); /* callbacks run on the loop, later */
    t_settle(&e);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(1, d[i].calls);
        assert_int_equal(0, d[i].rc);
        assert_int_equal(1, d[i].n);
    }
    assert_int_equal(0, t_check(&e, "/vod/empty", 1, 0));
    assert_int_equal(0, t_check(&e, "/vod/small", 2, 100));
    assert_int_equal(0, t_check(&e, "/vod/page", 3, 5000));
    assert_int_equal(ERR_NOTFOUND, store_hit_open(e.sl, "/vod/none", 9, &h));
    assert_null(h);
    assert_int_equal(ERR_NOTFOUND, store_hit_open(e.sl, "/vod/smal", 9, &h));
    store_stats(e.s, &st);
    assert_int_equal(3, st.objects);
    assert_int_equal(3, st.puts_ok);
    assert_int_equal(0, st.readers_active);
    assert_true(st.used_bytes > 0 && st.used_bytes < st.size_bytes);
    t_end(&e, live);
}

static void
test_store_big_object(void **state)
{
    int64_t live = mem_live();
    const size_t len = 5 * MiB + 12345;
    struct store_iov iov[64];
    struct store_hit *h;
    struct evbuffer *out;
    struct t_env e;
    uint8_t *want;
    uint32_t cs;
    size_t n, i, total;

    (void)state;
    t_conf(&e);
    t_start(&e);
    assert_int_equal(0, t_put(&e, "/vod/big", 7, len, NULL));
    t_settle(&e);
    assert_int_equal(0, t_check(&e, "/vod/big", 7, len));

    want = xmalloc(len);
    t_fill(want, len, 7);
    assert_int_equal(0, store_hit_open(e.sl, "/vod/big", 8, &h));
    cs = e.s->chunk_size;
    /* The whole body: one piece per chunk, in order, byte-exact. */
    n = store_hit_peek_body(h, 0, UINT64_MAX, iov, ARRAY_SIZE(iov));
    assert_int_equal((len + cs - 1) / cs, n);
    for (i = 0, total = 0; i < n; i++) {
        assert_memory_equal(want + total, iov[i].base, iov[i].len);
        total += iov[i].len;
    }
    assert_int_equal(len, total);
    /* A range across a chunk edge: two pieces. */
    n = store_hit_peek_body(h, cs - 10, 30, iov, ARRAY_SIZE(iov));
    assert_int_equal(2, n);
    assert_int_equal(10, iov[0].len);
    assert_int_equal(20, iov[1].len);
    assert_memory_equal(want + cs - 10, iov[0].base, 10);
    assert_memory_equal(want + cs, iov[1].base, 20);
    /* Too little room: the count still says how many. */
    assert_int_equal(2, store_hit_peek_body(h, cs - 10, 30, iov, 1));
    /* Clipped at the end; nothing past it. */
    assert_int_equal(1, store_hit_peek_body(h, len - 5, 100, iov, ARRAY_SIZE(iov)));
    assert_int_equal(5, iov[0].len);
    assert_int_equal(0, store_hit_peek_body(h, len, 100, iov, ARRAY_SIZE(iov)));
    assert_int_equal(0, store_hit_peek_body(h, 10, 0, iov, ARRAY_SIZE(iov)));
    /* add_body of a range equals that slice. */
    out = evbuffer_new();
    assert_int_equal(0, store_hit_add_body(h, out, 3 * cs - 100, cs + 200));
    assert_int_equal(cs + 200, evbuffer_get_length(out));
    assert_memory_equal(want + 3 * cs - 100, evbuffer_pullup(out, -1), cs + 200);
    store_hit_unref(&h);
    evbuffer_free(out);
    xfree(want);
    t_end(&e, live);
}

static void
test_store_reopen(void **state)
{
    int64_t live = mem_live();
    struct store_stats st;
    struct timespec t0, t1;
    struct t_env e;
    double ms;

    (void)state;
    t_conf(&e);
    t_start(&e);
    for (int i = 0; i < 20; i++) {
        char key[32];
        snprintf(key, sizeof(key), "/live/a/%d.m4s", i);
        assert_int_equal(0, t_put(&e, key, 100 + i, 1000 + i * 40000, NULL));
    }
    t_settle(&e);
    t_stop(&e);

    clock_gettime(CLOCK_MONOTONIC, &t0);
    t_start(&e);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    ms = (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6;
    print_message("reopen took %.2f ms\n", ms);
    assert_true(ms < 100);
    store_stats(e.s, &st);
    assert_int_equal(20, st.objects);
    for (int i = 0; i < 20; i++) {
        char key[32];
        snprintf(key, sizeof(key), "/live/a/%d.m4s", i);
        assert_int_equal(0, t_check(&e, key, 100 + i, 1000 + i * 40000));
    }
    /* New objects after a restart get fresh ids: old ones stay intact. */
    assert_int_equal(0, t_put(&e, "/live/a/new.m4s", 999, 300000, NULL));
    t_settle(&e);
    assert_int_equal(0, t_check(&e, "/live/a/new.m4s", 999, 300000));
    assert_int_equal(0, t_check(&e, "/live/a/19.m4s", 119, 1000 + 19 * 40000));
    t_end(&e, live);
}

/* A put replaces an object; a reader already in flight keeps the old bytes. */
static void
test_store_replace_under_reader(void **state)
{
    int64_t live = mem_live();
    struct store_hit *h;
    struct evbuffer *out;
    struct store_stats st;
    struct t_env e;
    uint8_t *want;

    (void)state;
    t_conf(&e);
    t_start(&e);
    assert_int_equal(0, t_put(&e, "/live/m.mpd", 1, 700000, NULL));
    t_settle(&e);
    assert_int_equal(0, store_hit_open(e.sl, "/live/m.mpd", 11, &h));
    assert_int_equal(0, t_put(&e, "/live/m.mpd", 2, 50000, NULL));
    t_settle(&e);
    /* The old hit still reads version 1, whole. */
    out = evbuffer_new();
    assert_int_equal(0, store_hit_add_body(h, out, 0, UINT64_MAX));
    store_hit_unref(&h);
    want = xmalloc(700000);
    t_fill(want, 700000, 1);
    assert_int_equal(700000, evbuffer_get_length(out));
    assert_memory_equal(want, evbuffer_pullup(out, -1), 700000);
    evbuffer_free(out); /* releases the references: the txn goes back */
    xfree(want);
    /* New readers see version 2 only. */
    assert_int_equal(0, t_check(&e, "/live/m.mpd", 2, 50000));
    store_stats(e.s, &st);
    assert_int_equal(1, st.objects);
    assert_int_equal(0, st.readers_active);
    t_end(&e, live);
}

/* ---- crashes ---- */

static _Atomic unsigned crash_chunks;
static unsigned crash_at;

static void
crash_hook(uint64_t oid, uint32_t idx)
{
    (void)oid;
    (void)idx;
    if (atomic_fetch_add(&crash_chunks, 1) + 1 == crash_at)
        raise(SIGKILL); /* inside a write transaction, mid-batch */
}

#define CRASH_OBJS 60

static size_t
crash_len(int i)
{
    return 3000 + (size_t)(i * 104729) % (900 * 1024);
}

/* The child: puts objects forever in batches; killed by the hook or the parent. */
static void
crash_child(const char *dir, unsigned at)
{
    struct t_env e;
    char key[32];

    memset(&e, 0, sizeof(e));
    snprintf(e.dir, sizeof(e.dir), "%s", dir);
    store_conf_defaults(&e.conf);
    e.conf.dir = e.dir;
    e.conf.size = 64ull * MiB;
    e.conf.batch_max = 8;
    crash_at = at;
    store_test_chunk_hook = at > 0 ? crash_hook : NULL;
    if (store_open(&e.conf, &e.s) != 0)
        _exit(3);
    for (int round = 0;; round++) {
        for (int i = 0; i < CRASH_OBJS; i++) {
            snprintf(key, sizeof(key), "/live/c/%d", i);
            while (t_put(&e, key, (uint64_t)i, crash_len(i), NULL) == ERR_LIMIT)
                store_flush(e.s);
        }
        if (round > 50)
            _exit(4); /* the kill never came */
    }
}

static void
crash_verify(const char *dir, unsigned *present)
{
    struct store_stats st;
    struct t_env e;
    char key[32];
    int rc;

    memset(&e, 0, sizeof(e));
    snprintf(e.dir, sizeof(e.dir), "%s", dir);
    store_conf_defaults(&e.conf);
    e.conf.dir = e.dir;
    e.conf.size = 64ull * MiB;
    t_start(&e);
    *present = 0;
    for (int i = 0; i < CRASH_OBJS; i++) {
        snprintf(key, sizeof(key), "/live/c/%d", i);
        rc = t_check(&e, key, (uint64_t)i, crash_len(i));
        assert_true(rc == 0 || rc == ERR_NOTFOUND);
        *present += rc == 0;
    }
    store_stats(e.s, &st);
    assert_int_equal(*present, st.objects);
    assert_int_equal(0, st.corrupt);
    t_stop(&e);
    event_base_free(e.base);
}

static void
test_store_crash(void **state)
{
    int64_t live = mem_live();
    unsigned present, at[] = {37, 150, 0};
    struct t_env e;
    pid_t pid;
    int status;

    (void)state;
    for (size_t r = 0; r < ARRAY_SIZE(at); r++) {
        t_conf(&e);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0)
            crash_child(e.dir, at[r]);
        if (at[r] == 0) {
            struct timespec ts = {0, 300 * 1000 * 1000};
            nanosleep(&ts, NULL); /* kill -9 from outside, wherever it is */
            kill(pid, SIGKILL);
        }
        assert_int_equal(pid, waitpid(pid, &status, 0));
        assert_true(WIFSIGNALED(status));
        assert_int_equal(SIGKILL, WTERMSIG(status));
        crash_verify(e.dir, &present);
        print_message("crash at chunk %u: %u of %d objects present, all intact\n", at[r], present,
                      CRASH_OBJS);
        if (at[r] == 150)
            assert_true(present > 0); /* some batches were committed first */
        t_rmdir(e.dir);
    }
    metrics_reset();
    UNIT_END(live);
}

/* ---- corruption ---- */

static void
test_store_corrupt(void **state)
{
    int64_t live = mem_live();
    const size_t len = 700000;
    struct store_stats st;
    struct store_hit *h;
    struct t_env e;

    (void)state;
    t_conf(&e);
    t_start(&e);
    assert_int_equal(0, t_put(&e, "/a", 1, len, NULL));
    assert_int_equal(0, t_put(&e, "/b", 2, len, NULL));
    assert_int_equal(0, t_put(&e, "/c", 3, len, NULL));
    t_settle(&e);

    /* A flipped body byte, never served: a miss, counted, removed. */
    assert_int_equal(0, store_test_corrupt(e.s, "/a", 2, 1, 4321));
    assert_int_equal(ERR_NOTFOUND, store_hit_open(e.sl, "/a", 2, &h));
    store_stats(e.s, &st);
    assert_int_equal(1, st.corrupt);
    t_settle(&e);
    store_stats(e.s, &st);
    assert_int_equal(2, st.objects);
    assert_int_equal(ERR_NOTFOUND, store_hit_open(e.sl, "/a", 2, &h));
    store_stats(e.s, &st);
    assert_int_equal(1, st.corrupt); /* gone now: an ordinary miss */

    /* Verified once since start, the body CRC is not re-run (lengths and
     * the record CRC are): a restart checks it again. */
    assert_int_equal(0, t_check(&e, "/b", 2, len));
    assert_int_equal(0, store_test_corrupt(e.s, "/b", 2, 2, 10));
    assert_int_equal(0, store_hit_open(e.sl, "/b", 2, &h));
    store_hit_unref(&h);
    store_test_forget_verified(e.s);
    assert_int_equal(ERR_NOTFOUND, store_hit_open(e.sl, "/b", 2, &h));

    /* The meta record is checked on every hit. */
    assert_int_equal(0, t_check(&e, "/c", 3, len));
    assert_int_equal(0, store_test_corrupt(e.s, "/c", 2, UINT32_MAX, 20));
    assert_int_equal(ERR_NOTFOUND, store_hit_open(e.sl, "/c", 2, &h));
    t_settle(&e);
    store_stats(e.s, &st);
    assert_int_equal(3, st.corrupt);
    assert_int_equal(0, st.objects);
    assert_int_equal(0, st.readers_active);
    t_end(&e, live);
}

/* ---- churn and eviction ---- */

static size_t
churn_len(uint64_t *x)
{
    /* Log-uniform between 2 KB and 2 MB. */
    double u = (double)(t_next(x) % 1000000) / 1000000.0;

    return (size_t)(2048.0 * pow(1024.0, u));
}

static void
test_store_churn(void **state)
{
    int64_t live = mem_live();
    struct evbuffer *held = evbuffer_new();
    struct store_hit *h;
    struct t_done *d;
    struct store_stats st;
    struct stat fst;
    struct t_env e;
    char key[48], path[96];
    uint64_t x = 42, total = 0;
    size_t len;
    unsigned nput = 0, i, dmax = 4096;
    int rc;

    (void)state;
    t_conf(&e);
    e.conf.sync = STORE_SYNC_NONE; /* speed: this test is about space */
    t_start(&e);
    d = xcalloc(dmax, sizeof(*d));
    /* A hot set, hit all along: CLOCK keeps it. */
    for (i = 0; i < 4; i++) {
        snprintf(key, sizeof(key), "/hot/%u", i);
        assert_int_equal(0, t_put(&e, key, 5000 + i, 100000, NULL));
    }
    t_settle(&e);
    while (total < 3 * e.conf.size) {
        len = churn_len(&x);
        snprintf(key, sizeof(key), "/live/churn/%u.m4s", nput);
        assert_true(nput < dmax);
        rc = t_put(&e, key, nput, len, &d[nput]);
        if (rc == ERR_LIMIT) { /* the queue is bounded: let the writer catch up */
            t_settle(&e);
            continue;
        }
        assert_int_equal(0, rc);
        total += len;
        nput++;
        if (nput % 16 == 0) {
            t_settle(&e);
            for (i = 0; i < 4; i++) {
                snprintf(key, sizeof(key), "/hot/%u", i);
                assert_int_equal(0, t_check(&e, key, 5000 + i, 100000));
            }
            /* A slow client: one zero-copy reader lives through the next
             * 16 puts, pinning the pages they free (within the headroom). */
            evbuffer_free(held); /* releases the previous one */
            held = evbuffer_new();
            assert_int_equal(0, store_hit_open(e.sl, "/hot/0", 6, &h));
            assert_int_equal(0, store_hit_add_body(h, held, 0, UINT64_MAX));
            store_hit_unref(&h);
            store_stats(e.s, &st);
            assert_true(st.used_bytes <= e.conf.size / 100 * e.conf.evict_high_pct);
            assert_true(st.high_water_bytes <= e.conf.size);
        }
    }
    t_settle(&e);
    evbuffer_free(held);
    for (i = 0; i < nput; i++) {
        assert_int_equal(1, d[i].calls);
        assert_int_equal(0, d[i].rc);
    }
    store_stats(e.s, &st);
    print_message("churn: %u puts, %llu MiB, evictions=%llu requeued=%llu map_full=%llu "
                  "used=%llu KiB hwm=%llu KiB objects=%llu\n",
                  nput, (unsigned long long)(total / MiB), (unsigned long long)st.evictions,
                  (unsigned long long)st.requeued, (unsigned long long)st.map_full,
                  (unsigned long long)st.used_bytes / 1024,
                  (unsigned long long)st.high_water_bytes / 1024, (unsigned long long)st.objects);
    assert_int_equal(0, st.puts_failed);
    assert_int_equal(0, st.puts_dropped);
    assert_int_equal(0, st.map_full);
    assert_true(st.evictions > 0);
    assert_true(st.requeued > 0);
    assert_true(st.high_water_bytes <= e.conf.size);
    snprintf(path, sizeof(path), "%s/data.mdb", e.dir);
    assert_int_equal(0, stat(path, &fst));
    assert_true((uint64_t)fst.st_size <= e.conf.size);
    /* The hot set stayed; the oldest churn object went. */
    for (i = 0; i < 4; i++) {
        snprintf(key, sizeof(key), "/hot/%u", i);
        assert_int_equal(0, t_check(&e, key, 5000 + i, 100000));
    }
    snprintf(key, sizeof(key), "/live/churn/0.m4s");
    assert_int_equal(ERR_NOTFOUND, t_check(&e, key, 0, 0));
    xfree(d);
    t_end(&e, live);
}

/* ---- purge ---- */

static void
test_store_purge(void **state)
{
    int64_t live = mem_live();
    static const char *keys[] = {"/live/a/1",  "/live/a/2", "/live/a/3",
                                 "/live/ab/1", "/live/b/1", "/vod/x"};
    struct t_done d1 = {0}, d2 = {0}, d3 = {0}, d4 = {0};
    struct store_stats st;
    struct t_env e;

    (void)state;
    t_conf(&e);
    t_start(&e);
    for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
        assert_int_equal(0, t_put(&e, keys[i], i, 1000 * i + 10, NULL));
    t_settle(&e);
    assert_int_equal(0, store_purge(e.s, "/live/a/1", 9, e.sl, t_done_cb, &d1));
    assert_int_equal(0, store_purge(e.s, "/live/a/9", 9, e.sl, t_done_cb, &d2));
    assert_int_equal(0, store_purge_prefix(e.s, "/live/a/", 8, e.sl, t_done_cb, &d3));
    t_settle(&e);
    assert_int_equal(1, d1.calls);
    assert_int_equal(1, d1.n);
    assert_int_equal(0, d2.n);
    assert_int_equal(2, d3.n); /* "/live/ab/1" does not start with "/live/a/" */
    assert_int_equal(ERR_NOTFOUND, t_check(&e, "/live/a/2", 1, 1010));
    assert_int_equal(0, t_check(&e, "/live/ab/1", 3, 3010));
    assert_int_equal(0, t_check(&e, "/vod/x", 5, 5010));
    assert_int_equal(0, store_purge_prefix(e.s, "", 0, e.sl, t_done_cb, &d4));
    t_settle(&e);
    assert_int_equal(3, d4.n);
    store_stats(e.s, &st);
    assert_int_equal(0, st.objects);
    assert_int_equal(6, st.purged);
    assert_int_equal(ERR_INVAL, store_purge(e.s, "", 0, NULL, NULL, NULL));
    t_end(&e, live);
}

/* ---- zero copy ---- */

static void
test_store_zero_copy_release(void **state)
{
    int64_t live = mem_live();
    const size_t len = MiB + 17;
    struct store_stats st;
    struct store_hit *h;
    struct evbuffer *o1, *o2;
    struct t_env e;

    (void)state;
    t_conf(&e);
    t_start(&e);
    assert_int_equal(0, t_put(&e, "/seg", 9, len, NULL));
    t_settle(&e);
    assert_int_equal(0, store_hit_open(e.sl, "/seg", 4, &h));
    assert_true(store_hit_info(h)->zero_copy);
    o1 = evbuffer_new();
    o2 = evbuffer_new();
    assert_int_equal(0, store_hit_add_body(h, o1, 0, UINT64_MAX));
    assert_int_equal(0, store_hit_add_body(h, o2, 1000, 5000));
    store_hit_unref(&h);
    assert_null(h);
    store_stats(e.s, &st);
    assert_int_equal(1, st.readers_active); /* the evbuffers hold it */
    assert_int_equal(0, st.txn_pool);
    /* Draining part of a reference keeps it; draining it all releases it. */
    assert_int_equal(0, evbuffer_drain(o1, 1000));
    assert_int_equal(0, evbuffer_drain(o1, len - 1000));
    store_stats(e.s, &st);
    assert_int_equal(1, st.readers_active); /* o2 still refers */
    evbuffer_free(o2);
    store_stats(e.s, &st);
    assert_int_equal(0, st.readers_active);
    assert_int_equal(1, st.txn_pool); /* reset and pooled, exactly once */
    evbuffer_free(o1);
    /* The pooled transaction serves the next hit. */
    assert_int_equal(0, t_check(&e, "/seg", 9, len));
    store_stats(e.s, &st);
    assert_int_equal(1, st.txn_pool);
    t_end(&e, live);
}

static void
test_store_reader_cap(void **state)
{
    int64_t live = mem_live();
    struct store_hit *h[20] = {0}, *x;
    struct evbuffer *out[3];
    struct store_stats st;
    struct t_env e;
    int i;

    (void)state;
    t_conf(&e);
    e.conf.max_inflight_hits = 2; /* maxreaders 18: 2 zero-copy, 16 spare */
    t_start(&e);
    assert_int_equal(0, t_put(&e, "/big", 1, 500000, NULL));
    assert_int_equal(0, t_put(&e, "/tiny", 2, 1000, NULL));
    t_settle(&e);
    for (i = 0; i < 3; i++) {
        out[i] = evbuffer_new();
        assert_int_equal(0, store_hit_open(e.sl, "/big", 4, &x));
        assert_int_equal(i < 2, store_hit_info(x)->zero_copy);
        assert_int_equal(0, store_hit_add_body(x, out[i], 0, UINT64_MAX));
        store_hit_unref(&x);
    }
    store_stats(e.s, &st);
    assert_int_equal(2, st.readers_active); /* the copy released at once */
    assert_int_equal(500000, evbuffer_get_length(out[2]));
    /* Small bodies are copied even under the cap. */
    assert_int_equal(0, store_hit_open(e.sl, "/tiny", 5, &x));
    assert_false(store_hit_info(x)->zero_copy);
    store_hit_unref(&x);
    /* Every slot taken (2 by the references, 16 held here): refused. */
    for (i = 0; i < 16; i++)
        assert_int_equal(0, store_hit_open(e.sl, "/tiny", 5, &h[i]));
    assert_int_equal(ERR_LIMIT, store_hit_open(e.sl, "/tiny", 5, &x));
    for (i = 0; i < 16; i++)
        store_hit_unref(&h[i]);
    for (i = 0; i < 3; i++)
        evbuffer_free(out[i]);
    store_stats(e.s, &st);
    assert_int_equal(0, st.readers_active);
    assert_int_equal(0, t_check(&e, "/tiny", 2, 1000));
    t_end(&e, live);
}

/* ---- the reaper ---- */

struct t_conn {
    struct evbuffer *out;
    int expired;
};

static void
t_conn_expire(struct store_hit *h, void *arg)
{
    struct t_conn *c = arg;

    (void)h;
    c->expired++;
    evbuffer_free(c->out); /* "close the connection" */
    c->out = NULL;
}

static void
test_store_reaper(void **state)
{
    int64_t live = mem_live();
    struct t_conn c = {0};
    struct store_stats st;
    struct store_hit *h;
    struct t_env e;

    (void)state;
    t_conf(&e);
    e.conf.max_reader_age_ms = 30;
    t_start(&e);
    assert_int_equal(0, t_put(&e, "/slow", 1, 300000, NULL));
    t_settle(&e);
    assert_int_equal(0, store_hit_open(e.sl, "/slow", 5, &h));
    c.out = evbuffer_new();
    store_hit_set_owner(h, t_conn_expire, &c);
    assert_int_equal(0, store_hit_add_body(h, c.out, 0, UINT64_MAX));
    store_hit_unref(&h);
    assert_int_equal(0, store_loop_reap(e.sl)); /* young */
    /* The loop runs until nothing is left: the timer fires, the owner closes. */
    assert_int_equal(1, event_base_dispatch(e.base)); /* 1: no events left */
    assert_int_equal(1, c.expired);
    assert_null(c.out);
    store_stats(e.s, &st);
    assert_int_equal(0, st.readers_active);
    t_end(&e, live);
}

/* ---- the writer queue ---- */

static void
test_store_queue_full(void **state)
{
    int64_t live = mem_live();
    struct t_done d[8] = {{0}};
    struct store_txn *t;
    struct store_stats st;
    struct t_env e;
    int i, last = 0, refused = 0, rc;

    (void)state;
    t_conf(&e);
    e.conf.queue_max = 2;
    t_start(&e);
    /* Hold LMDB's write lock: the writer blocks on its first batch. */
    assert_int_equal(0, store_txn_begin(e.s, true, &t));
    assert_int_equal(0, t_put(&e, "/q", 0, 10000, &d[0]));
    do {
        store_stats(e.s, &st);
    } while (st.queue > 0); /* the writer took it, and waits for the lock */
    for (i = 1; i < 8; i++) {
        rc = t_put(&e, "/q", (uint64_t)i, 10000, &d[i]);
        assert_int_equal(i <= 2 ? 0 : ERR_LIMIT, rc);
        if (rc == 0)
            last = i;
        refused += rc == ERR_LIMIT;
    }
    store_stats(e.s, &st);
    assert_int_equal(5, refused);
    assert_int_equal(5, st.puts_dropped);
    assert_int_equal(2, st.queue);
    store_txn_abort(&t);
    t_settle(&e);
    for (i = 0; i < 8; i++)
        assert_int_equal(i <= last ? 1 : 0, d[i].calls);
    assert_int_equal(0, t_check(&e, "/q", (uint64_t)last, 10000));
    t_end(&e, live);
}

/* ---- fault points ---- */

#define FAULT_OBJS 3

static size_t
fault_len(uint64_t seed)
{
    return 100 + (size_t)(seed % 10) * 400000;
}

/* Key holds one of the versions seeds[0..n) whole (or is absent when absent_ok). */
static void
fault_expect(struct t_env *e, const char *key, const uint64_t *seeds, int n, bool absent_ok)
{
    struct store_hit *h;
    uint64_t seed;
    int i, rc;

    rc = store_hit_open(e->sl, key, strlen(key), &h);
    if (rc == ERR_NOTFOUND) {
        assert_true(absent_ok);
        return;
    }
    assert_int_equal(0, rc);
    seed = (uint64_t)store_hit_info(h)->expires_at_ms; /* t_put stores the seed there */
    store_hit_unref(&h);
    for (i = 0; i < n && seeds[i] != seed; i++)
        ;
    assert_true(i < n);
    assert_int_equal(0, t_check(e, key, seed, fault_len(seed)));
}

/*
 * Puts /f/0 /f/1 /f/2, then replaces /f/0 and purges /f/1. Each operation
 * completes once, with 0 or ERR_STORE, and every object is then whole in
 * one of the versions it may have, or absent. *hits: hits of point after
 * the open. Returns the operations that failed.
 */
static int
fault_scenario(const char *point, uint64_t nth, bool sticky, uint64_t *hits)
{
    struct t_done d[FAULT_OBJS + 2] = {{0}};
    const uint64_t v0[] = {0, 10}, v1[] = {1}, v2[] = {2};
    struct t_env e;
    char key[16];
    uint64_t h0;
    int failed = 0, i;

    t_conf(&e);
    t_start(&e);
    h0 = fault_hits(point);
    if (nth > 0)
        assert_int_equal(0, fault_arm(point, nth, sticky));
    for (i = 0; i < FAULT_OBJS; i++) {
        snprintf(key, sizeof(key), "/f/%d", i);
        assert_int_equal(0, t_put(&e, key, (uint64_t)i, fault_len((uint64_t)i), &d[i]));
    }
    t_settle(&e);
    assert_int_equal(0, t_put(&e, "/f/0", 10, fault_len(10), &d[FAULT_OBJS]));
    assert_int_equal(0, store_purge(e.s, "/f/1", 4, e.sl, t_done_cb, &d[FAULT_OBJS + 1]));
    t_settle(&e);
    *hits = fault_hits(point) - h0;
    fault_disarm_all();
    for (i = 0; i < FAULT_OBJS + 2; i++) {
        assert_int_equal(1, d[i].calls);
        assert_true(d[i].rc == 0 || d[i].rc == ERR_STORE);
        failed += d[i].rc != 0;
    }
    /* Replaced: the new version; not replaced: the old one, if it was put. */
    fault_expect(&e, "/f/0", d[FAULT_OBJS].rc == 0 ? v0 + 1 : v0, 1,
                 d[0].rc != 0 && d[FAULT_OBJS].rc != 0);
    fault_expect(&e, "/f/1", v1, 1, true);
    if (d[1].rc == 0 && d[FAULT_OBJS + 1].rc != 0)
        assert_int_equal(0, t_check(&e, "/f/1", 1, fault_len(1)));
    fault_expect(&e, "/f/2", v2, 1, d[2].rc != 0);
    t_stop(&e);
    t_rmdir(e.dir);
    event_base_free(e.base);
    return failed;
}

static void
test_store_faults(void **state)
{
    static const char *points[] = {"store.put", "store.commit", "store.begin", "store.del",
                                   "store.get"};
    int64_t live = mem_live();
    uint64_t hits, n, h, fired;
    struct store *s;
    int failed;
    struct store_conf c;
    struct t_env e;

    (void)state;
    if (!fault_enabled())
        skip();
    for (size_t p = 0; p < ARRAY_SIZE(points); p++) {
        fault_reset();
        assert_int_equal(0, fault_scenario(points[p], 0, false, &hits));
        assert_true(hits > 0);
        fired = 0;
        /* How the writer groups puts into batches depends on timing, so a
         * run may make fewer hits than the counting run: then nothing fails. */
        for (n = 1; n <= hits; n++) {
            fault_reset();
            failed = fault_scenario(points[p], n, false, &h);
            assert_true(fault_fired(points[p]) <= 1);
            if (fault_fired(points[p]) == 0)
                assert_int_equal(0, failed);
            fired += fault_fired(points[p]);
        }
        assert_true(fired > 0);
        /* Failing for good: every write fails with ERR_STORE, counted. */
        fault_reset();
        assert_true(fault_scenario(points[p], 1, true, &h) >= 2);
        print_message("%s: %llu hits, each failed in turn\n", points[p], (unsigned long long)hits);
    }

    /* A read failing: the hit is an error, its transaction goes back. */
    t_conf(&e);
    t_start(&e);
    assert_int_equal(0, t_put(&e, "/r", 1, 1000, NULL));
    t_settle(&e);
    for (const char *pt = "store.get"; pt != NULL;
         pt = strcmp(pt, "store.get") == 0 ? "store.renew" : NULL) {
        struct store_hit *hit;
        assert_int_equal(0, fault_arm(pt, 1, false));
        assert_int_equal(ERR_STORE, store_hit_open(e.sl, "/r", 2, &hit));
        assert_null(hit);
        assert_int_equal(0, t_check(&e, "/r", 1, 1000));
    }
    t_stop(&e);
    t_rmdir(e.dir);
    event_base_free(e.base);

    /* Opening failing: an error, nothing left behind. */
    fault_reset();
    t_conf(&e);
    c = e.conf;
    assert_int_equal(0, fault_arm("store.env_open", 1, false));
    assert_int_equal(ERR_STORE, store_open(&c, &s));
    assert_null(s);
    t_rmdir(e.dir);
    fault_reset();
    metrics_reset();
    UNIT_END(live);
}

/* ---- key-value ---- */

struct t_iter {
    char keys[8][32];
    int n, stop_at;
};

static int
t_iter_cb(void *arg, const void *k, size_t kl, const void *v, size_t vl)
{
    struct t_iter *it = arg;

    (void)v;
    (void)vl;
    if (it->n == it->stop_at)
        return 7;
    assert_true(kl < 32);
    memcpy(it->keys[it->n], k, kl);
    it->keys[it->n][kl] = '\0';
    it->n++;
    return 0;
}

static void
test_store_kv(void **state)
{
    int64_t live = mem_live();
    static const char *keys[] = {"stream/a", "stream/b", "stream/c", "streamz", "user/1"};
    struct store_txn *t;
    struct t_iter it;
    struct t_env e;
    unsigned db, db2, other;
    const void *v;
    size_t vl;

    (void)state;
    t_conf(&e);
    e.conf.max_kv_dbs = 2;
    t_start(&e);
    assert_int_equal(0, store_kv_db(e.s, "streams", &db));
    assert_int_equal(0, store_kv_db(e.s, "streams", &db2));
    assert_int_equal(db, db2);
    assert_int_equal(0, store_kv_db(e.s, "users", &other));
    assert_int_equal(ERR_LIMIT, store_kv_db(e.s, "more", &db2));
    assert_int_equal(ERR_INVAL, store_kv_db(e.s, "Bad Name", &db2));

    assert_int_equal(0, store_txn_begin(e.s, true, &t));
    for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
        assert_int_equal(0, store_kv_put(t, db, keys[i], strlen(keys[i]), "v", 1, 0));
    assert_int_equal(ERR_EXISTS, store_kv_put(t, db, "stream/a", 8, "w", 1, STORE_KV_NOOVERWRITE));
    assert_int_equal(0, store_kv_put(t, db, "stream/a", 8, "val-a", 5, 0));
    assert_int_equal(0, store_kv_del(t, db, "user/1", 6));
    assert_int_equal(ERR_NOTFOUND, store_kv_del(t, db, "user/1", 6));
    assert_int_equal(0, store_kv_put(t, other, "stream/a", 8, "other", 5, 0));
    assert_int_equal(0, store_txn_commit(&t));
    assert_null(t);

    /* Aborted writes leave nothing. */
    assert_int_equal(0, store_txn_begin(e.s, true, &t));
    assert_int_equal(0, store_kv_put(t, db, "stream/zz", 9, "x", 1, 0));
    store_txn_abort(&t);

    t_stop(&e);
    t_start(&e); /* it persists */
    assert_int_equal(0, store_kv_db(e.s, "streams", &db));
    assert_int_equal(0, store_txn_begin(e.s, false, &t));
    assert_int_equal(0, store_kv_get(t, db, "stream/a", 8, &v, &vl));
    assert_int_equal(5, vl);
    assert_memory_equal("val-a", v, 5);
    assert_int_equal(ERR_NOTFOUND, store_kv_get(t, db, "stream/zz", 9, &v, &vl));
    assert_int_equal(ERR_INVAL, store_kv_put(t, db, "k", 1, "v", 1, 0)); /* read-only */
    assert_int_equal(ERR_INVAL, store_kv_get(t, 9, "k", 1, &v, &vl));

    memset(&it, 0, sizeof(it));
    it.stop_at = -1;
    assert_int_equal(0, store_kv_iter(t, db, "stream/", 7, NULL, 0, t_iter_cb, &it));
    assert_int_equal(3, it.n);
    assert_string_equal("stream/a", it.keys[0]);
    assert_string_equal("stream/c", it.keys[2]);
    /* Pages: after a key. */
    memset(&it, 0, sizeof(it));
    it.stop_at = -1;
    assert_int_equal(0, store_kv_iter(t, db, "stream/", 7, "stream/a", 8, t_iter_cb, &it));
    assert_int_equal(2, it.n);
    assert_string_equal("stream/b", it.keys[0]);
    /* `after` sorting before the prefix starts at the prefix. */
    memset(&it, 0, sizeof(it));
    it.stop_at = -1;
    assert_int_equal(0, store_kv_iter(t, db, "stream/", 7, "a", 1, t_iter_cb, &it));
    assert_int_equal(3, it.n);
    /* Everything; and a stop. */
    memset(&it, 0, sizeof(it));
    it.stop_at = -1;
    assert_int_equal(0, store_kv_iter(t, db, NULL, 0, NULL, 0, t_iter_cb, &it));
    assert_int_equal(4, it.n);
    assert_string_equal("streamz", it.keys[3]);
    memset(&it, 0, sizeof(it));
    it.stop_at = 1;
    assert_int_equal(7, store_kv_iter(t, db, NULL, 0, NULL, 0, t_iter_cb, &it));

    /* Backwards: the prefix's range from its end, then before a key. */
    memset(&it, 0, sizeof(it));
    it.stop_at = -1;
    assert_int_equal(0, store_kv_iter_rev(t, db, "stream/", 7, NULL, 0, t_iter_cb, &it));
    assert_int_equal(3, it.n);
    assert_string_equal("stream/c", it.keys[0]);
    assert_string_equal("stream/a", it.keys[2]);
    memset(&it, 0, sizeof(it));
    it.stop_at = -1;
    assert_int_equal(0, store_kv_iter_rev(t, db, "stream/", 7, "stream/c", 8, t_iter_cb, &it));
    assert_int_equal(2, it.n);
    assert_string_equal("stream/b", it.keys[0]);
    /* `before` sorting past the prefix starts at the prefix's end. */
    memset(&it, 0, sizeof(it));
    it.stop_at = -1;
    assert_int_equal(0, store_kv_iter_rev(t, db, "stream/", 7, "zzz", 3, t_iter_cb, &it));
    assert_int_equal(3, it.n);
    assert_string_equal("stream/c", it.keys[0]);
    /* `before` sorting before the prefix: nothing. */
    memset(&it, 0, sizeof(it));
    it.stop_at = -1;
    assert_int_equal(0, store_kv_iter_rev(t, db, "stream/", 7, "a", 1, t_iter_cb, &it));
    assert_int_equal(0, it.n);
    /* Everything, backwards; an all-0xff prefix runs to the last key. */
    memset(&it, 0, sizeof(it));
    it.stop_at = -1;
    assert_int_equal(0, store_kv_iter_rev(t, db, NULL, 0, NULL, 0, t_iter_cb, &it));
    assert_int_equal(4, it.n);
    assert_string_equal("streamz", it.keys[0]);
    memset(&it, 0, sizeof(it));
    it.stop_at = -1;
    assert_int_equal(0, store_kv_iter_rev(t, db, "\xff", 1, NULL, 0, t_iter_cb, &it));
    assert_int_equal(0, it.n);
    assert_int_equal(0, store_txn_commit(&t));
    t_end(&e, live);
}

/* ---- the record codec ---- */

static void
test_store_meta_codec(void **state)
{
    int64_t live = mem_live();
    uint8_t rec[512], bad[512], buf[4099];
    uint32_t crcs[3] = {0x11111111u, 0x22222222u, 0x33333333u};
    struct store_meta m, d;
    const char *why;
    uint64_t oid, seq;
    size_t len, i;

    (void)state;
    /* SPEC: RFC 3720 B.4 check value. */
    assert_int_equal(0xe3069283u, store_crc32c(0, "123456789", 9));
    assert_int_equal(0xe3069283u, store_crc32c_sw(0, "123456789", 9));
    assert_int_equal(0xe3069283u, store_crc32c(store_crc32c(0, "1234", 4), "56789", 5));
    t_fill(buf, sizeof(buf), 5);
    for (i = 0; i < 64; i++) {
        size_t o = i % 13, n = sizeof(buf) - o - i * 17;
        assert_int_equal(store_crc32c_sw(7, buf + o, n), store_crc32c(7, buf + o, n));
    }

    memset(&m, 0, sizeof(m));
    m.status = 206;
    m.hdr_len = 11;
    m.body_len = 2 * 4080 + 5;
    m.chunk_size = 4080;
    m.nchunks = store_meta_nchunks(m.body_len, m.chunk_size);
    m.oid = 77;
    m.seq = 78;
    m.stored_at_ms = 1234567;
    m.expires_at_ms = -5;
    assert_int_equal(3, m.nchunks);
    len = store_meta_len(m.nchunks, m.hdr_len);
    assert_true(len <= sizeof(rec));
    store_meta_encode(rec, &m, crcs, "hello world");
    assert_int_equal(0, store_meta_decode(rec, len, &d, &why));
    store_meta_check(&d, len);
    assert_int_equal(206, d.status);
    assert_int_equal(m.body_len, d.body_len);
    assert_int_equal(77, d.oid);
    assert_int_equal(-5, d.expires_at_ms);
    assert_int_equal(0x22222222u, store_meta_chunk_crc(&d, 1));
    assert_int_equal(5, store_meta_chunk_len(&d, 2));
    assert_memory_equal("hello world", d.hdr, 11);
    /* Every single flipped byte is caught. */
    for (i = 0; i < len; i++) {
        memcpy(bad, rec, len);
        bad[i] ^= 0x01;
        assert_int_equal(ERR_PROTO, store_meta_decode(bad, len, &d, &why));
        assert_non_null(why);
    }
    assert_int_equal(ERR_PROTO, store_meta_decode(rec, len - 1, &d, &why));
    assert_string_equal("length", why);
    assert_int_equal(ERR_PROTO, store_meta_decode(rec, 10, &d, &why));
    assert_string_equal("short", why);
    /* A new seq reseals the record. */
    store_meta_set_seq(rec, len, 999);
    assert_int_equal(0, store_meta_decode(rec, len, &d, &why));
    assert_int_equal(999, d.seq);
    assert_int_equal(0, store_meta_peek_ids(rec, len, &oid, &seq));
    assert_int_equal(77, oid);
    assert_int_equal(999, seq);
    UNIT_END(live);
}

static void
test_store_conf_invalid(void **state)
{
    int64_t live = mem_live();
    struct store_conf c;
    struct store *s;

    (void)state;
    store_conf_defaults(&c);
    assert_int_equal(ERR_INVAL, store_open(&c, &s)); /* no dir */
    c.dir = "/tmp/cascade-store-never";
    c.size = 1024;
    assert_int_equal(ERR_INVAL, store_open(&c, &s));
    store_conf_defaults(&c);
    c.dir = "/tmp/cascade-store-never";
    c.evict_low_pct = 90;
    assert_int_equal(ERR_INVAL, store_open(&c, &s));
    assert_null(s);
    UNIT_END(live);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_store_meta_codec),
        cmocka_unit_test(test_store_conf_invalid),
        cmocka_unit_test(test_store_roundtrip),
        cmocka_unit_test(test_store_big_object),
        cmocka_unit_test(test_store_reopen),
        cmocka_unit_test(test_store_replace_under_reader),
        cmocka_unit_test(test_store_crash),
        cmocka_unit_test(test_store_corrupt),
        cmocka_unit_test(test_store_churn),
        cmocka_unit_test(test_store_purge),
        cmocka_unit_test(test_store_zero_copy_release),
        cmocka_unit_test(test_store_reader_cap),
        cmocka_unit_test(test_store_reaper),
        cmocka_unit_test(test_store_queue_full),
        cmocka_unit_test(test_store_faults),
        cmocka_unit_test(test_store_kv),
    };

    log_set_level(getenv("STORE_TEST_LOG") ? LOG_DEBUG : LOG_CRIT); /* faults log by design */
    return cmocka_run_group_tests(tests, NULL, NULL);
}
