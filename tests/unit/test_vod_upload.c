/*
 * test_vod_upload.c -- resumable uploads' pure half: Upload-Offset and
 * Upload-Length values, and the verdict on a PATCH (append, bad offset,
 * offset mismatch, past the length).
 */
#include <stdio.h>
#include <string.h>

#include "unit.h"
#include "err.h"
#include "../../origin/vod_upload.c"

static void
test_vod_upload_num(void **state)
{
    int64_t live = mem_live();
    static const char *const bad[] = {"", "-1", "+1", " 1", "1 ", "1.0", "0x10", "1e3", "12a"};
    uint64_t n = 7;

    (void)state;
    assert_int_equal(0, vod_upload_num("0", &n));
    assert_int_equal(0, n);
    assert_int_equal(0, vod_upload_num("1048576", &n));
    assert_int_equal(1048576, n);
    assert_int_equal(0, vod_upload_num("007", &n));
    assert_int_equal(7, n);
    assert_int_equal(0, vod_upload_num("9223372036854775807", &n));
    assert_true(n == (uint64_t)INT64_MAX);
    assert_int_equal(ERR_LIMIT, vod_upload_num("9223372036854775808", &n));
    assert_int_equal(ERR_LIMIT, vod_upload_num("99999999999999999999999", &n));
    assert_int_equal(0, n);
    assert_int_equal(ERR_PROTO, vod_upload_num(NULL, &n));
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        n = 5;
        assert_int_equal(ERR_PROTO, vod_upload_num(bad[i], &n));
        assert_int_equal(0, n);
    }
    /* Letters after many digits are still not a number. */
    assert_int_equal(ERR_PROTO, vod_upload_num("99999999999999999999999x", &n));
    UNIT_END(live);
}

static void
test_vod_upload_patch(void **state)
{
    int64_t live = mem_live();
    uint64_t off = 9;

    (void)state;
    /* Appends where the stored bytes end, sized or chunked. */
    assert_int_equal(VOD_UPLOAD_APPEND, vod_upload_patch(100, 40, "40", "60", &off));
    assert_int_equal(40, off);
    assert_int_equal(VOD_UPLOAD_APPEND, vod_upload_patch(100, 40, "40", "10", &off));
    assert_int_equal(VOD_UPLOAD_APPEND, vod_upload_patch(100, 40, "40", NULL, &off));
    assert_int_equal(VOD_UPLOAD_APPEND, vod_upload_patch(100, 0, "0", "100", &off));
    /* An empty PATCH at the end completes a file that is whole. */
    assert_int_equal(VOD_UPLOAD_APPEND, vod_upload_patch(100, 100, "100", "0", &off));
    /* Missing or malformed offsets. */
    assert_int_equal(VOD_UPLOAD_BAD_OFFSET, vod_upload_patch(100, 40, NULL, "1", &off));
    assert_int_equal(0, off);
    assert_int_equal(VOD_UPLOAD_BAD_OFFSET, vod_upload_patch(100, 40, "-40", "1", &off));
    assert_int_equal(VOD_UPLOAD_BAD_OFFSET, vod_upload_patch(100, 40, "", "1", &off));
    /* Anywhere else than the end: 409, the offset asked for given back. */
    assert_int_equal(VOD_UPLOAD_MISMATCH, vod_upload_patch(100, 40, "0", "10", &off));
    assert_int_equal(0, off);
    assert_int_equal(VOD_UPLOAD_MISMATCH, vod_upload_patch(100, 40, "41", "10", &off));
    assert_int_equal(41, off);
    assert_int_equal(VOD_UPLOAD_MISMATCH, vod_upload_patch(100, 40, "140", NULL, &off));
    /* Past the length. */
    assert_int_equal(VOD_UPLOAD_TOO_LARGE, vod_upload_patch(100, 40, "40", "61", &off));
    assert_int_equal(VOD_UPLOAD_TOO_LARGE, vod_upload_patch(100, 120, "120", NULL, &off));
    /* A Content-Length httpd let through but unreadable here: checked while read. */
    assert_int_equal(VOD_UPLOAD_APPEND,
                     vod_upload_patch(100, 40, "40", "99999999999999999999", &off));
    vod_upload_check(100, 40, "60", VOD_UPLOAD_APPEND, 40);
    vod_upload_check(100, 40, "61", VOD_UPLOAD_TOO_LARGE, 40);
    vod_upload_check(100, 40, NULL, VOD_UPLOAD_MISMATCH, 3);
    vod_upload_check(100, 40, NULL, VOD_UPLOAD_BAD_OFFSET, 0);
    UNIT_END(live);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vod_upload_num),
        cmocka_unit_test(test_vod_upload_patch),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
