/*
 * bench_store.c -- what the LMDB store costs: CRC32C, put throughput,
 * hit open + release, zero-copy against copy, chunk sizes under churn,
 * and reopening a full store.
 *
 *   ./build/rel/bench_store [quick] [crc|hits|puts|churn|reopen ...]
 *
 * (a release build: no sanitizers; no section named runs them all)
 *
 * Works in a temporary directory under $TMPDIR (default /tmp), removed at
 * the end. Single-threaded costs (checksums, hits) are CPU time of the
 * measuring thread, serving is CPU time of the process, throughput is
 * wall-clock; on a shared machine the latter moves the most. Run it
 * twice. docs/cache-store.md quotes a run.
 */
#include <dirent.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <openssl/evp.h>

#include "err.h"
#include "log.h"
#include "mem.h"
#include "store.h"
#include "store_int.h"
#include "store_meta.h"
#include "compat.h"

#define MiB (1024.0 * 1024.0)

static bool bench_quick;
static uint8_t *bench_pattern; /* 4 MiB of bytes to build bodies from */
#define BENCH_PATTERN (4u << 20)

static double
bench_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU seconds of this thread: scheduling noise on a shared machine drops out. */
static double
bench_cpu(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU seconds of the whole process (the socket sink thread included). */
static double
bench_pcpu(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
bench_rmdir(const char *dir)
{
    char path[512];
    struct dirent *e;
    DIR *d = opendir(dir);

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
bench_mkdtemp(char *dir, size_t n)
{
    const char *tmp = getenv("TMPDIR");

    snprintf(dir, n, "%s/cascade-bench-store-XXXXXX", tmp != NULL ? tmp : "/tmp");
    if (mkdtemp(dir) == NULL) {
        perror("mkdtemp");
        exit(1);
    }
}

static struct store *
bench_open(const char *dir, uint64_t size, enum store_sync sync, uint32_t batch,
           uint32_t chunk_pages)
{
    struct store_conf c;
    struct store *s;

    store_conf_defaults(&c);
    c.dir = dir;
    c.size = size;
    c.sync = sync;
    c.batch_max = batch;
    c.chunk_pages = chunk_pages;
    c.queue_max = 4096;
    if (store_open(&c, &s) != 0) {
        fprintf(stderr, "store_open failed\n");
        exit(1);
    }
    return s;
}

static struct evbuffer *
bench_body(size_t len, unsigned salt)
{
    struct evbuffer *b = evbuffer_new();
    size_t off = (salt * 4099u) % (BENCH_PATTERN / 2);

    evbuffer_add(b, bench_pattern + off, len);
    return b;
}

static void
bench_put(struct store *s, const char *key, size_t len, unsigned salt)
{
    static const char hdr[] = "HTTP/1.1 200 OK\r\nContent-Type: video/iso.segment\r\n"
                              "Cache-Control: max-age=31536000\r\n\r\n";
    struct store_obj o = {key, strlen(key), hdr, sizeof(hdr) - 1, 200, 0};
    struct evbuffer *b = bench_body(len, salt);

    while (store_put_take(s, &o, &b, NULL, NULL, NULL) == ERR_LIMIT) {
        store_flush(s); /* the queue is full: wait for the writer */
        b = bench_body(len, salt);
    }
}

/* ---- CRC32C ---- */

static void
bench_crc(void)
{
    size_t n = 1u << 20;
    unsigned i, reps = bench_quick ? 200 : 1000, dl;
    uint8_t digest[EVP_MAX_MD_SIZE];
    double t0, hw, sw, sha;
    uint32_t c = 0;

    t0 = bench_cpu();
    for (i = 0; i < reps; i++)
        c ^= store_crc32c(0, bench_pattern, n);
    hw = bench_cpu() - t0;
    t0 = bench_cpu();
    for (i = 0; i < reps / 10; i++)
        c ^= store_crc32c_sw(0, bench_pattern, n);
    sw = (bench_cpu() - t0) * 10;
    t0 = bench_cpu();
    for (i = 0; i < reps / 10; i++)
        EVP_Digest(bench_pattern, n, digest, &dl, EVP_sha256(), NULL);
    sha = (bench_cpu() - t0) * 10;
    printf("checksums over 1 MiB: crc32c %s %.2f GB/s, crc32c slicing-by-8 %.2f GB/s, "
           "sha256 (OpenSSL) %.2f GB/s; crc32c of 1.25 MB: %.0f us  [%08x]\n",
           store_crc32c_hw_available() ? "sse4.2" : "(no sse4.2)", reps * n / hw / 1e9,
           reps * n / sw / 1e9, reps * n / sha / 1e9, hw / reps * 1.25 * 1e6, c);
}

/* ---- puts ---- */

static void
bench_puts(const char *label, enum store_sync sync, uint32_t batch, size_t len)
{
    char dir[256], key[64];
    struct store_stats st;
    struct store *s;
    double total = bench_quick ? 128 * MiB : 384 * MiB, t0, dt;
    unsigned i, n = (unsigned)(total / (double)len);

    bench_mkdtemp(dir, sizeof(dir));
    s = bench_open(dir, 1ull << 30, sync, batch, 64);
    t0 = bench_now();
    for (i = 0; i < n; i++) {
        snprintf(key, sizeof(key), "/vod/v/%u.m4s", i);
        bench_put(s, key, len, i);
    }
    store_flush(s);
    dt = bench_now() - t0;
    store_stats(s, &st);
    printf("put %-24s %7zu B x %5u: %7.1f MB/s  %6.0f puts/s  (ok %llu)\n", label, len, n,
           n * (double)len / dt / MiB, n / dt, (unsigned long long)st.puts_ok);
    store_close(&s);
    bench_rmdir(dir);
}

/* ---- hits ---- */

struct bench_hits {
    struct store *s;
    struct event_base *base;
    struct store_loop *sl;
};

static void
bench_hits_open(struct bench_hits *b, struct store *s)
{
    b->s = s;
    b->base = event_base_new();
    if (store_loop_new(s, b->base, &b->sl) != 0)
        exit(1);
}

static void
bench_hits_close(struct bench_hits *b)
{
    store_loop_free(&b->sl);
    event_base_free(b->base);
}

enum bench_mode { BENCH_OPEN_ONLY, BENCH_ZERO_COPY, BENCH_COPY };

/* ns per hit over nkeys keys named prefix%u. */
static double
bench_hit_loop(struct bench_hits *b, const char *prefix, unsigned nkeys, unsigned iters,
               enum bench_mode mode)
{
    char key[64];
    struct store_hit *h;
    struct evbuffer *out = evbuffer_new();
    uint32_t zmin = b->s->conf.zero_copy_min;
    double t0, dt;
    unsigned i;
    size_t hl;

    b->s->conf.zero_copy_min = mode == BENCH_COPY ? UINT32_MAX : 0;
    t0 = bench_cpu();
    for (i = 0; i < iters; i++) {
        snprintf(key, sizeof(key), "%s%u", prefix, i % nkeys);
        if (store_hit_open(b->sl, key, strlen(key), &h) != 0) {
            fprintf(stderr, "hit %s failed\n", key);
            exit(1);
        }
        (void)store_hit_peek_headers(h, &hl);
        if (mode != BENCH_OPEN_ONLY && store_hit_add_body(h, out, 0, UINT64_MAX) != 0)
            exit(1);
        store_hit_unref(&h);
        evbuffer_drain(out, evbuffer_get_length(out));
    }
    dt = bench_cpu() - t0;
    b->s->conf.zero_copy_min = zmin;
    evbuffer_free(out);
    return dt / iters * 1e9;
}

/* A reader on the far end of a socket, so evbuffer_write() does real work. */
static void *
bench_sink(void *arg)
{
    int fd = *(int *)arg;
    static char buf[1 << 20];

    while (read(fd, buf, sizeof(buf)) > 0)
        ;
    return NULL;
}

/* us per object served (hit, add body, write it all to a socket). */
static double
bench_serve(struct bench_hits *b, const char *prefix, unsigned nkeys, unsigned iters,
            enum bench_mode mode)
{
    char key[64];
    struct store_hit *h;
    struct evbuffer *out = evbuffer_new();
    uint32_t zmin = b->s->conf.zero_copy_min;
    pthread_t th;
    int sv[2], sz = 4 << 20;
    double t0, dt;
    unsigned i;

    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
        exit(1);
    setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
    pthread_create(&th, NULL, bench_sink, &sv[1]);
    b->s->conf.zero_copy_min = mode == BENCH_COPY ? UINT32_MAX : 0;
    t0 = bench_pcpu();
    for (i = 0; i < iters; i++) {
        snprintf(key, sizeof(key), "%s%u", prefix, i % nkeys);
        if (store_hit_open(b->sl, key, strlen(key), &h) != 0)
            exit(1);
        if (store_hit_add_body(h, out, 0, UINT64_MAX) != 0)
            exit(1);
        store_hit_unref(&h);
        while (evbuffer_get_length(out) > 0)
            if (evbuffer_write(out, sv[0]) < 0)
                exit(1);
    }
    dt = bench_pcpu() - t0;
    b->s->conf.zero_copy_min = zmin;
    close(sv[0]);
    pthread_join(th, NULL);
    close(sv[1]);
    evbuffer_free(out);
    return dt / iters * 1e6;
}

/* Open + release alone, long enough to profile. */
static void
bench_hit_open_only(void)
{
    struct bench_hits b;
    char dir[256], key[64];
    struct store *s;
    unsigned i;

    bench_mkdtemp(dir, sizeof(dir));
    s = bench_open(dir, 1ull << 30, STORE_SYNC_NONE, 64, 64);
    for (i = 0; i < 1000; i++) {
        snprintf(key, sizeof(key), "/m/%u", i);
        bench_put(s, key, 170 * 1024, i);
    }
    store_flush(s);
    bench_hits_open(&b, s);
    (void)bench_hit_loop(&b, "/m/", 1000, 1000, BENCH_OPEN_ONLY);
    printf("hit open+release, 170 KB objects: %.0f ns\n",
           bench_hit_loop(&b, "/m/", 1000, 5000000, BENCH_OPEN_ONLY));
    bench_hits_close(&b);
    store_close(&s);
    bench_rmdir(dir);
}

/* Serving 170 KB objects alone, long enough to profile. */
static void
bench_serve_only(bool copy)
{
    struct bench_hits b;
    char dir[256], key[64];
    struct store *s;
    unsigned i;

    bench_mkdtemp(dir, sizeof(dir));
    s = bench_open(dir, 1ull << 30, STORE_SYNC_NONE, 64, 64);
    for (i = 0; i < 1000; i++) {
        snprintf(key, sizeof(key), "/m/%u", i);
        bench_put(s, key, 170 * 1024, i);
    }
    store_flush(s);
    bench_hits_open(&b, s);
    (void)bench_hit_loop(&b, "/m/", 1000, 1000, BENCH_OPEN_ONLY);
    for (i = 0; i < 3; i++)
        printf("serve 170 KB by %s: %.1f us\n", copy ? "copy" : "reference",
               bench_serve(&b, "/m/", 1000, 20000, copy ? BENCH_COPY : BENCH_ZERO_COPY));
    bench_hits_close(&b);
    store_close(&s);
    bench_rmdir(dir);
}

static void
bench_hits(void)
{
    static const struct {
        const char *prefix;
        size_t len;
        unsigned n;
    } sets[] = {
        {"/s/", 2048, 2000},
        {"/m/", 170 * 1024, 1000},
        {"/l/", 1280 * 1024, 200},
    };
    struct bench_hits b;
    char dir[256], key[64];
    struct store *s;
    unsigned i, k, iters = bench_quick ? 100000 : 1000000;

    bench_mkdtemp(dir, sizeof(dir));
    s = bench_open(dir, 1ull << 30, STORE_SYNC_NONE, 64, 64);
    for (k = 0; k < ARRAY_SIZE(sets); k++)
        for (i = 0; i < sets[k].n; i++) {
            snprintf(key, sizeof(key), "%s%u", sets[k].prefix, i);
            bench_put(s, key, sets[k].len, i);
        }
    store_flush(s);
    bench_hits_open(&b, s);
    for (k = 0; k < ARRAY_SIZE(sets); k++) {
        double first, open_ns, zc_ns, cp_ns;
        double t0 = bench_cpu();
        /* The first pass verifies every body's CRC (first hit since start). */
        (void)bench_hit_loop(&b, sets[k].prefix, sets[k].n, sets[k].n, BENCH_OPEN_ONLY);
        first = (bench_cpu() - t0) / sets[k].n * 1e6;
        open_ns = bench_hit_loop(&b, sets[k].prefix, sets[k].n, iters, BENCH_OPEN_ONLY);
        zc_ns = bench_hit_loop(&b, sets[k].prefix, sets[k].n, iters / 4, BENCH_ZERO_COPY);
        cp_ns = bench_hit_loop(&b, sets[k].prefix, sets[k].n, iters / 20, BENCH_COPY);
        printf("hit %8zu B: first open %.1f us (CRC); open+release %.0f ns; "
               "+body by reference %.0f ns; +body by copy %.0f ns (%.1fx)\n",
               sets[k].len, first, open_ns, zc_ns, cp_ns, cp_ns / zc_ns);
    }
    /* Interleaved runs, best of 5 each: the machine is shared and noisy. */
    for (k = 1; k < ARRAY_SIZE(sets); k++) {
        unsigned n = bench_quick ? 1000 : 5000, r;
        double zc = 1e9, cp = 1e9, t;
        for (r = 0; r < 5; r++) {
            t = bench_serve(&b, sets[k].prefix, sets[k].n, n, BENCH_ZERO_COPY);
            zc = t < zc ? t : zc;
            t = bench_serve(&b, sets[k].prefix, sets[k].n, n, BENCH_COPY);
            cp = t < cp ? t : cp;
        }
        printf("serve %7zu B to a socket, CPU per object: by reference %.1f us, by copy %.1f us "
               "(copy %+.0f%%)\n",
               sets[k].len, zc, cp, (cp - zc) / zc * 100);
    }
    bench_hits_close(&b);
    store_close(&s);
    bench_rmdir(dir);
}

/* ---- chunk size and churn ---- */

static size_t
bench_churn_len(uint64_t *x)
{
    double u;

    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    u = (double)(*x % 1000000) / 1000000.0;
    return (size_t)(2048.0 * pow(1024.0, u)); /* log-uniform, 2 KB .. 2 MB */
}

/* Puts 50 probe objects of 170 KB under tag, then: ns per open + release over them. */
static double
bench_hit_probe(struct bench_hits *b, const char *tag)
{
    char key[64];
    struct store_hit *h;
    unsigned i, iters = bench_quick ? 20000 : 200000;
    double t0;

    for (i = 0; i < 50; i++) {
        snprintf(key, sizeof(key), "/probe/%s/%u", tag, i);
        bench_put(b->s, key, 170 * 1024, i);
    }
    store_flush(b->s);
    for (i = 0; i < 50; i++) { /* first hits verify CRCs: not timed */
        snprintf(key, sizeof(key), "/probe/%s/%u", tag, i);
        if (store_hit_open(b->sl, key, strlen(key), &h) != 0)
            exit(1);
        store_hit_unref(&h);
    }
    t0 = bench_cpu();
    for (i = 0; i < iters; i++) {
        snprintf(key, sizeof(key), "/probe/%s/%u", tag, i % 50);
        if (store_hit_open(b->sl, key, strlen(key), &h) != 0)
            exit(1);
        store_hit_unref(&h);
    }
    return (bench_cpu() - t0) / iters * 1e9;
}

static void
bench_churn(uint32_t chunk_pages)
{
    const uint64_t size = 256ull << 20;
    char dir[256], key[64];
    struct store_stats st;
    struct bench_hits b;
    struct store *s;
    uint64_t x = 7, total = 0, filled;
    double t0, dt, hit_before, hit_after;
    unsigned n = 0;

    bench_mkdtemp(dir, sizeof(dir));
    s = bench_open(dir, size, STORE_SYNC_NONE, 64, chunk_pages);
    bench_hits_open(&b, s);
    /* Fill to the low watermark, time hits, churn to 3x the size, time again. */
    while (total < size * 3 / 4) {
        size_t len = bench_churn_len(&x);
        snprintf(key, sizeof(key), "/c/%u", n++);
        bench_put(s, key, len, n);
        total += len;
    }
    store_flush(s);
    hit_before = bench_hit_probe(&b, "before");
    filled = total;
    t0 = bench_now();
    while (total < 3 * size) {
        size_t len = bench_churn_len(&x);
        snprintf(key, sizeof(key), "/c/%u", n++);
        bench_put(s, key, len, n);
        total += len;
    }
    store_flush(s);
    dt = bench_now() - t0;
    hit_after = bench_hit_probe(&b, "after");
    store_stats(s, &st);
    printf("churn chunk %4u KiB: 3x 256 MiB at %.0f MB/s; map_full %llu, failed %llu, "
           "evictions %llu, used %.0f MiB, file %.0f MiB; hit open %.0f ns fresh, %.0f ns "
           "after churn\n",
           (unsigned)(chunk_pages * 4), (double)(total - filled) / dt / MiB,
           (unsigned long long)st.map_full, (unsigned long long)st.puts_failed,
           (unsigned long long)st.evictions, st.used_bytes / MiB, st.high_water_bytes / MiB,
           hit_before, hit_after);
    bench_hits_close(&b);
    store_close(&s);
    bench_rmdir(dir);
}

/* ---- reopen ---- */

static void
bench_reopen(void)
{
    const uint64_t size = (bench_quick ? 256ull : 1024ull) << 20;
    char dir[256], key[64];
    struct store_stats st;
    struct bench_hits b;
    struct store_hit *h;
    struct store *s;
    double t0, t_open, t_hit;
    unsigned i = 0;

    bench_mkdtemp(dir, sizeof(dir));
    s = bench_open(dir, size, STORE_SYNC_NONE, 64, 64);
    for (i = 0; (double)i * 1.25 * MiB < size * 0.7; i++) {
        snprintf(key, sizeof(key), "/r/%u", i);
        bench_put(s, key, 1280 * 1024, i);
    }
    store_close(&s);
    t0 = bench_now();
    s = bench_open(dir, size, STORE_SYNC_NONE, 64, 64);
    t_open = bench_now() - t0;
    bench_hits_open(&b, s);
    snprintf(key, sizeof(key), "/r/%u", i / 2);
    t0 = bench_now();
    if (store_hit_open(b.sl, key, strlen(key), &h) != 0)
        exit(1);
    store_hit_unref(&h);
    t_hit = bench_now() - t0;
    store_stats(s, &st);
    printf("reopen with %llu objects, %.0f MiB used: open %.2f ms, first hit %.2f ms\n",
           (unsigned long long)st.objects, st.used_bytes / MiB, t_open * 1e3, t_hit * 1e3);
    bench_hits_close(&b);
    store_close(&s);
    bench_rmdir(dir);
}

static bool
bench_want(int argc, char **argv, const char *name)
{
    int i, named = 0;

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "quick") == 0)
            continue;
        named++;
        if (strcmp(argv[i], name) == 0)
            return true;
    }
    return named == 0;
}

int
main(int argc, char **argv)
{
    size_t i;

    for (i = 1; i < (size_t)argc; i++)
        bench_quick |= strcmp(argv[i], "quick") == 0;
    log_set_level(LOG_ERR);
    bench_pattern = xmalloc(BENCH_PATTERN);
    for (i = 0; i < BENCH_PATTERN; i++)
        bench_pattern[i] = (uint8_t)(i * 2654435761u >> 13);

    if (bench_want(argc, argv, "crc"))
        bench_crc();
    if (bench_want(argc, argv, "hits"))
        bench_hits();
    if (argc > 1 && strcmp(argv[argc - 1], "hitopen") == 0)
        bench_hit_open_only();
    if (argc > 2 && strcmp(argv[argc - 2], "serve") == 0)
        bench_serve_only(strcmp(argv[argc - 1], "copy") == 0);
    if (bench_want(argc, argv, "puts")) {
        bench_puts("sync=safe batch=1", STORE_SYNC_SAFE, 1, 170 * 1024);
        bench_puts("sync=safe batch=8", STORE_SYNC_SAFE, 8, 170 * 1024);
        bench_puts("sync=safe batch=64", STORE_SYNC_SAFE, 64, 170 * 1024);
        bench_puts("sync=none batch=64", STORE_SYNC_NONE, 64, 170 * 1024);
        bench_puts("sync=safe batch=64", STORE_SYNC_SAFE, 64, 1280 * 1024);
        bench_puts("sync=none batch=64", STORE_SYNC_NONE, 64, 1280 * 1024);
    }
    if (bench_want(argc, argv, "churn")) {
        bench_churn(16);
        bench_churn(64);
        bench_churn(256);
    }
    if (bench_want(argc, argv, "reopen"))
        bench_reopen();
    xfree(bench_pattern);
    return 0;
}
