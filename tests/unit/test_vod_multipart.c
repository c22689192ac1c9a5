/*
 * test_vod_multipart.c -- the VOD upload's multipart reader: the file part
 * comes out byte-exact however the body is split, other parts and the
 * preamble are skipped, near-delimiters inside the file are data, and
 * broken framing or limits fail.
 */
#include <stdio.h>
#include <string.h>

#include "unit.h"
#include "err.h"
#include "../../origin/vod_multipart.c"

struct sink {
    uint8_t buf[8192];
    size_t n;
};

static void
sink_cb(void *arg, const uint8_t *p, size_t len)
{
    struct sink *s = arg;

    assert_true(s->n + len <= sizeof(s->buf));
    memcpy(s->buf + s->n, p, len);
    s->n += len;
}

/* Feeds body in pieces of step bytes; returns the last rc. */
static long
feed_steps(struct vod_mp *mp, const char *body, size_t len, size_t step, struct sink *s)
{
    size_t off = 0;
    long rc = 0;

    while (off < len) {
        size_t n = len - off < step ? len - off : step;

        rc = vod_mp_feed(mp, (const uint8_t *)body + off, n, sink_cb, s);
        vod_mp_check(mp);
        if (rc < 0 || (size_t)rc < n)
            return rc;
        off += n;
    }
    return rc;
}

static const char file_bytes[] = "\x00\x01\r\n--XyZ\r\n--XyZ-\r\r\n\r\n-\r\n--\r";

static void
test_vod_multipart_every_split(void **state)
{
    int64_t live = mem_live();
    char body[1024];
    int n;

    (void)state;
    n = snprintf(body, sizeof(body),
                 "preamble\r\n--XyZ-b\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\n"
                 "hello\r\n--XyZ-b \t\r\nContent-Disposition: form-data; name=\"upload\"; "
                 "filename=\"a.mp4\"\r\nContent-Type: video/mp4\r\n\r\n");
    memcpy(body + n, file_bytes, sizeof(file_bytes) - 1);
    n += (int)sizeof(file_bytes) - 1;
    n +=
        snprintf(body + n, sizeof(body) - (size_t)n,
                 "\r\n--XyZ-b\r\nContent-Disposition: form-data; name=\"x\"; filename=\"b\"\r\n\r\n"
                 "second file ignored\r\n--XyZ-b--\r\nepilogue");
    for (size_t step = 1; step <= (size_t)n; step++) {
        struct vod_mp mp;
        struct sink s = {.n = 0};
        long rc;

        assert_int_equal(0, vod_mp_init(&mp, "multipart/form-data; boundary=\"XyZ-b\""));
        rc = feed_steps(&mp, body, (size_t)n, step, &s);
        assert_true(rc >= 0);
        assert_true(vod_mp_done(&mp));
        assert_int_equal(sizeof(file_bytes) - 1, s.n);
        assert_memory_equal(file_bytes, s.buf, s.n);
        assert_int_equal(3, mp.parts);
    }
    UNIT_END(live);
}

static void
test_vod_multipart_content_type(void **state)
{
    int64_t live = mem_live();
    struct vod_mp mp;

    (void)state;
    assert_int_equal(0, vod_mp_init(&mp, "multipart/form-data; boundary=abc"));
    assert_int_equal(7, mp.dlen);
    assert_int_equal(0, vod_mp_init(&mp, "Multipart/Form-Data; charset=x; boundary=\"a b\""));
    assert_int_equal(ERR_PROTO, vod_mp_init(&mp, "application/octet-stream"));
    assert_int_equal(ERR_PROTO, vod_mp_init(&mp, "multipart/form-data"));
    assert_int_equal(ERR_PROTO, vod_mp_init(&mp, "multipart/form-data; boundary="));
    assert_int_equal(ERR_PROTO, vod_mp_init(&mp, "multipart/form-data; boundary=\"abc"));
    assert_int_equal(ERR_PROTO, vod_mp_init(&mp, "multipart/form-data; boundary=a\rb"));
    assert_int_equal(ERR_PROTO,
                     vod_mp_init(&mp, "multipart/form-data; boundary="
                                      "12345678901234567890123456789012345678901234567890123456789"
                                      "012345678901"));
    UNIT_END(live);
}

static void
test_vod_multipart_errors(void **state)
{
    int64_t live = mem_live();
    static const char *bad[] = {
        "--b\r\nContent-Disposition: form-data; filename=x\n\r\n",
        "--b\rX",
        "--b-X",
        "--bX",
    };
    struct vod_mp mp;
    struct sink s = {.n = 0};
    char big[VOD_MP_LINE_MAX + 32];

    (void)state;
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        assert_int_equal(0, vod_mp_init(&mp, "multipart/form-data; boundary=b"));
        assert_int_equal(ERR_PROTO, feed_steps(&mp, bad[i], strlen(bad[i]), 1, &s));
        /* Failed for good. */
        assert_int_equal(ERR_PROTO, vod_mp_feed(&mp, (const uint8_t *)"x", 1, sink_cb, &s));
    }
    memset(big, 'a', sizeof(big));
    memcpy(big, "--b\r\n", 5);
    assert_int_equal(0, vod_mp_init(&mp, "multipart/form-data; boundary=b"));
    assert_int_equal(ERR_LIMIT, feed_steps(&mp, big, sizeof(big), sizeof(big), &s));
    /* A body with no file part is not done. */
    assert_int_equal(0, vod_mp_init(&mp, "multipart/form-data; boundary=b"));
    assert_true(feed_steps(&mp, "--b\r\nX: y\r\n\r\nz\r\n--b--", 20, 3, &s) >= 0);
    assert_false(vod_mp_done(&mp));
    assert_int_equal(0, s.n);
    UNIT_END(live);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vod_multipart_every_split),
        cmocka_unit_test(test_vod_multipart_content_type),
        cmocka_unit_test(test_vod_multipart_errors),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
