/*
 * fuzz_vod_multipart.c -- the VOD upload's multipart reader on arbitrary
 * bodies. The body is fed whole, then again in pieces whose sizes come
 * from the first byte; both runs must give the same file bytes and the
 * same verdict, and vod_mp_check() must hold after every step.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../origin/vod_multipart.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fz_sink {
    uint8_t out[1 << 16];
    size_t n;
    uint64_t total;
};

static void
fz_sink_cb(void *arg, const uint8_t *p, size_t len)
{
    struct fz_sink *s = arg;

    if (s->n + len <= sizeof(s->out)) {
        memcpy(s->out + s->n, p, len);
        s->n += len;
    }
    s->total += len;
}

static int
fz_run(const uint8_t *p, size_t len, size_t step, struct fz_sink *s, bool *done)
{
    struct vod_mp mp;
    size_t off = 0;
    long rc = 0;

    if (vod_mp_init(&mp, "multipart/form-data; boundary=\"XyZ-b\"") != 0)
        abort();
    while (off < len) {
        size_t n = len - off < step ? len - off : step;

        rc = vod_mp_feed(&mp, p + off, n, fz_sink_cb, s);
        vod_mp_check(&mp);
        if (rc < 0)
            break;
        if ((size_t)rc > n)
            abort();
        off += (size_t)rc;
        if ((size_t)rc < n)
            break; /* the closing delimiter */
    }
    *done = vod_mp_done(&mp);
    if (mp.file_bytes != s->total)
        abort();
    return rc < 0 ? (int)rc : 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct fz_sink a, b;
    struct vod_mp mp;
    bool da, db;
    int ra, rb;

    if (size < 1)
        return 0;
    /* Content-Type parsing on the same bytes, as a string. */
    {
        char ct[256];
        size_t n = size - 1 < sizeof(ct) - 1 ? size - 1 : sizeof(ct) - 1;

        memcpy(ct, data + 1, n);
        ct[n] = '\0';
        if (vod_mp_init(&mp, ct) == 0)
            vod_mp_check(&mp);
    }
    memset(&a, 0, sizeof(a));
    memset(&b, 0, sizeof(b));
    ra = fz_run(data + 1, size - 1, size, &a, &da);
    rb = fz_run(data + 1, size - 1, 1 + data[0] % 17, &b, &db);
    if (ra != rb || da != db || a.total != b.total || a.n != b.n || memcmp(a.out, b.out, a.n) != 0)
        abort();
    return 0;
}
