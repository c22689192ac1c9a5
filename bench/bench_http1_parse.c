/*
 * bench_http1_parse.c -- nanoseconds per HTTP/1.1 head parse.
 *
 * Parses a typical browser GET (about 400 bytes) and a 2 KiB origin
 * response head many times and prints the best round (CLOCK_MONOTONIC).
 * Many short rounds, so that other processes on a busy machine spoil
 * some rounds rather than all. Each parse includes http1_msg_init(), as
 * on a real connection. A third line feeds the GET in two halves to show
 * the cost of resuming.
 *
 *   bench_http1_parse [iterations] [rounds]
 *
 * Build without sanitizers for numbers worth quoting:
 *   cmake -S . -B build-rel && cmake --build build-rel --target bench_http1_parse
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "err.h"
#include "proto/http1.h"
#include "compat.h"

static const char bench_get[] =
    "GET /live/a/720p/123456000.m4s HTTP/1.1\r\n"
    "Host: edge1.example.net:8081\r\n"
    "Connection: keep-alive\r\n"
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36\r\n"
    "Accept: */*\r\n"
    "Origin: https://player.example.net\r\n"
    "Sec-Fetch-Site: cross-site\r\n"
    "Sec-Fetch-Mode: cors\r\n"
    "Referer: https://player.example.net/\r\n"
    "Accept-Encoding: gzip, deflate, br\r\n"
    "Accept-Language: en-US,en;q=0.9\r\n"
    "\r\n";

static char bench_resp[4096];
static volatile uint64_t bench_sink;

static void
bench_build_response(void)
{
    size_t n;
    int i;

    n = (size_t)snprintf(bench_resp, sizeof(bench_resp),
                         "HTTP/1.1 200 OK\r\n"
                         "Server: cascade-origin/0.1.0\r\n"
                         "Date: Fri, 24 Nov 2023 03:04:05 GMT\r\n"
                         "Content-Type: video/iso.segment\r\n"
                         "Content-Length: 1843200\r\n"
                         "Cache-Control: public, max-age=31536000, immutable\r\n"
                         "ETag: \"6560a1b5-1c2000\"\r\n"
                         "Last-Modified: Fri, 24 Nov 2023 03:04:03 GMT\r\n"
                         "Accept-Ranges: bytes\r\n"
                         "Access-Control-Allow-Origin: *\r\n"
                         "Access-Control-Expose-Headers: Date, ETag, Content-Length, Age\r\n"
                         "Timing-Allow-Origin: *\r\n"
                         "Vary: Origin\r\n"
                         "Connection: keep-alive\r\n");
    for (i = 0; n < 2048 - 80; i++)
        n += (size_t)snprintf(bench_resp + n, sizeof(bench_resp) - n,
                              "X-Cascade-Trace-%02d: shield1.fra;hit=0;ms=12;id=%08x%08x\r\n", i,
                              (unsigned)i * 2654435761u, (unsigned)i ^ 0x5bd1e995u);
    n += (size_t)snprintf(bench_resp + n, sizeof(bench_resp) - n, "\r\n");
}

static double
bench_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* Best ns per parse over rounds of iters parses of p[0..n), fed in pieces. */
static double
bench_run(enum http1_kind kind, const uint8_t *p, size_t n, size_t first, long iters, int rounds)
{
    static struct http1_msg m;
    double best = 0, t0, dt;
    long i, rc;
    int r;

    for (r = 0; r < rounds; r++) {
        t0 = bench_now_ns();
        for (i = 0; i < iters; i++) {
            http1_msg_init(&m, kind, NULL);
            if (first < n) {
                rc = http1_parse_head(&m, p, first);
                if (rc != ERR_AGAIN)
                    goto fail;
            }
            rc = http1_parse_head(&m, p, n);
            if (rc != (long)n)
                goto fail;
            bench_sink += (uint64_t)m.nhdrs + (uint64_t)m.content_length;
        }
        dt = (bench_now_ns() - t0) / (double)iters;
        if (r == 0 || dt < best)
            best = dt;
    }
    return best;
fail:
    fprintf(stderr, "bench_http1_parse: parse failed rc=%ld error=%s\n", rc,
            http1_error_code(m.error));
    exit(1);
}

static void
bench_print(const char *name, size_t bytes, double ns)
{
    printf("bench=http1_parse case=%s bytes=%zu ns_per_parse=%.1f mb_per_s=%.0f\n", name, bytes, ns,
           (double)bytes / ns * 1e3);
}

int
main(int argc, char **argv)
{
    long iters = argc > 1 ? strtol(argv[1], NULL, 10) : 200000;
    int rounds = argc > 2 ? (int)strtol(argv[2], NULL, 10) : 15;
    size_t get_len = sizeof(bench_get) - 1, resp_len;

    if (iters <= 0 || rounds <= 0) {
        fprintf(stderr, "usage: bench_http1_parse [iterations] [rounds]\n");
        return 2;
    }
    bench_build_response();
    resp_len = strlen(bench_resp);
    bench_print(
        "get_browser", get_len,
        bench_run(HTTP1_REQUEST, (const uint8_t *)bench_get, get_len, get_len, iters, rounds));
    bench_print("response_head", resp_len,
                bench_run(HTTP1_RESPONSE, (const uint8_t *)bench_resp, resp_len, resp_len,
                          iters / 4, rounds));
    bench_print(
        "get_browser_two_reads", get_len,
        bench_run(HTTP1_REQUEST, (const uint8_t *)bench_get, get_len, get_len / 2, iters, rounds));
    return 0;
}
