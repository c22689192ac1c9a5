/*
 * test_err.c -- names and texts for our codes and for -errno.
 */
#include <errno.h>
#include <string.h>

#include "unit.h"
#include "err.h"
#include "miniobj.h"
#include "compat.h"

static void
test_err_our_codes(void **state)
{
    static const struct {
        int code;
        const char *name;
    } codes[] = {
        {ERR_AGAIN, "ERR_AGAIN"},       {ERR_PROTO, "ERR_PROTO"},   {ERR_LIMIT, "ERR_LIMIT"},
        {ERR_NOTFOUND, "ERR_NOTFOUND"}, {ERR_STORE, "ERR_STORE"},   {ERR_UPSTREAM, "ERR_UPSTREAM"},
        {ERR_CONF, "ERR_CONF"},         {ERR_EXISTS, "ERR_EXISTS"}, {ERR_TIMEOUT, "ERR_TIMEOUT"},
        {ERR_CLOSED, "ERR_CLOSED"},     {ERR_FAULT, "ERR_FAULT"},   {ERR_INVAL, "ERR_INVAL"},
        {ERR_MEDIA, "ERR_MEDIA"},       {ERR_AUTH, "ERR_AUTH"},
    };
    int64_t live = mem_live();
    size_t i, j;

    (void)state;
    for (i = 0; i < ARRAY_SIZE(codes); i++) {
        assert_true(codes[i].code <= -1000); /* never collides with -errno */
        assert_string_equal(codes[i].name, err_name(codes[i].code));
        assert_true(strlen(err_str(codes[i].code)) > 0);
        assert_string_not_equal("unknown error", err_str(codes[i].code));
        for (j = 0; j < i; j++)
            assert_string_not_equal(err_str(codes[j].code), err_str(codes[i].code));
    }
    assert_string_equal("limit exceeded", err_str(ERR_LIMIT));
    UNIT_END(live);
}

static void
test_err_errno(void **state)
{
    int64_t live = mem_live();

    (void)state;
    assert_string_equal("ENOENT", err_name(-ENOENT));
    assert_string_equal("ECONNRESET", err_name(-ECONNRESET));
    assert_string_equal(strerror(ENOENT), err_str(-ENOENT));
    assert_string_equal(strerror(ENOMEM), err_str(-ENOMEM));
    UNIT_END(live);
}

static void
test_err_success_and_unknown(void **state)
{
    int64_t live = mem_live();

    (void)state;
    assert_string_equal("OK", err_name(0));
    assert_string_equal("success", err_str(0));
    assert_string_equal("EUNKNOWN", err_name(-999)); /* no such errno */
    assert_string_equal("EUNKNOWN", err_name(-1099));
    assert_non_null(strstr(err_str(-1099), "1099")); /* in errno range: libc's text */
    assert_string_equal("unknown error", err_str(5));
    assert_string_equal("EUNKNOWN", err_name(5));
    assert_string_equal("unknown error", err_str(-100000));
    UNIT_END(live);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_err_our_codes),
        cmocka_unit_test(test_err_errno),
        cmocka_unit_test(test_err_success_and_unknown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
