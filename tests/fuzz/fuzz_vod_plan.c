/*
 * fuzz_vod_plan.c -- the map step's parsers and planner on arbitrary bytes.
 * The first byte picks: 0 the scene-pass text (fed whole and in pieces:
 * same frames either way, vod_scan_check() after each step), 1 a query
 * string, 2 a chunk plan over keyframe gaps and cuts taken from the bytes
 * (starts ascending, inside the index, chunks within the bounds but the
 * uniform fallbacks).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../origin/vod_plan.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fz_frames {
    uint64_t n;
    int64_t tsum;
    double ssum;
};

static void
fz_frame(void *arg, int64_t t_ms, double score)
{
    struct fz_frames *f = arg;

    if (t_ms < 0 || score < 0 || score > 1)
        abort();
    f->n++;
    f->tsum += t_ms;
    f->ssum += score;
}

static long
fz_scan(const uint8_t *p, size_t len, size_t step, struct fz_frames *f)
{
    struct vod_scan s;
    size_t off = 0;
    long rc;

    vod_scan_init(&s);
    while (off < len) {
        size_t n = len - off < step ? len - off : step;

        rc = vod_scan_feed(&s, p + off, n, fz_frame, f);
        vod_scan_check(&s);
        if (rc < 0)
            return rc;
        off += n;
    }
    return 0;
}

static void
fz_plan(const uint8_t *p, size_t len)
{
    struct vod_plan_params pp = {2000, 6000, 2000, 8000, 20};
    int64_t keys[256], cuts[256], t = 0;
    size_t nk = 0, nc = 0, out[300];
    int n;

    keys[nk++] = 0;
    for (size_t i = 0; i < len && nk < 256; i++) {
        t += 40 * (1 + p[i] % 100);
        if (p[i] & 1)
            keys[nk++] = t;
        if ((p[i] & 6) == 6 && nc < 256)
            cuts[nc++] = t + (p[i] >> 5) - 4;
    }
    for (int engaging = 0; engaging < 2; engaging++) {
        n = vod_plan_chunks(keys, nk, t + 40, cuts, nc, engaging, &pp, out, 300);
        if (n < 1 || out[0] != 0)
            abort();
        for (int i = 1; i < n; i++)
            if (out[i] <= out[i - 1] || out[i] >= nk)
                abort();
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz_frames a = {0, 0, 0}, b = {0, 0, 0};
    char q[512], out[64];
    long ra, rb;

    if (size < 1)
        return 0;
    switch (data[0] % 3) {
    case 0:
        ra = fz_scan(data + 1, size - 1, size, &a);
        rb = fz_scan(data + 1, size - 1, 1 + size % 7, &b);
        if (ra != rb || a.n != b.n || a.tsum != b.tsum || a.ssum != b.ssum)
            abort();
        break;
    case 1: {
        size_t n = size - 1 < sizeof(q) - 1 ? size - 1 : sizeof(q) - 1;
        int rc;

        memcpy(q, data + 1, n);
        q[n] = '\0';
        rc = vod_query_get(q, "a", out, sizeof(out));
        if (rc > 0 && (strlen(out) != (size_t)rc || rc >= (int)sizeof(out)))
            abort();
        break;
    }
    default:
        fz_plan(data + 1, size - 1);
        break;
    }
    return 0;
}
