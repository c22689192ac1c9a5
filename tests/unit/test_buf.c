/*
 * test_buf.c -- the writers' growable buffer: growth, the cap and its
 * sticky error, handing the bytes over, and the escaping helpers.
 */
#include "unit.h"

#include <string.h>

#include "err.h"
#include "media/buf.h"
#include "compat.h"

static void
test_buf_grows_and_takes(void **state)
{
    int64_t live = mem_live();
    struct buf b;
    char *p;
    size_t len, i;

    (void)state;
    buf_init(&b, 1 << 20);
    for (i = 0; i < 1000; i++)
        buf_printf(&b, "%zu,", i % 10);
    buf_u64(&b, 18446744073709551615ULL);
    buf_putc(&b, '!');
    assert_int_equal(0, buf_status(&b));
    buf_check(&b);
    assert_int_equal(2000 + 20 + 1, b.len);
    assert_memory_equal("0,1,2,", b.p, 6);
    assert_string_equal("18446744073709551615!", b.p + 2000);
    p = buf_take(&b, &len);
    assert_non_null(p);
    assert_int_equal(2021, len);
    assert_null(b.p);
    assert_int_equal(0, b.len);
    xfree(p);
    p = buf_take(&b, &len); /* an empty buffer hands over "" */
    assert_string_equal("", p);
    assert_int_equal(0, len);
    xfree(p);
    UNIT_END(live);
}

static void
test_buf_cap_is_sticky(void **state)
{
    int64_t live = mem_live();
    struct buf b;
    size_t len = 99;

    (void)state;
    buf_init(&b, 8);
    buf_puts(&b, "12345678");
    assert_int_equal(0, buf_status(&b));
    buf_putc(&b, '9');
    assert_int_equal(ERR_LIMIT, buf_status(&b));
    buf_check(&b);
    buf_free(&b);
    assert_int_equal(0, buf_status(&b));

    buf_printf(&b, "%s", "123456789"); /* printf past the cap */
    assert_int_equal(ERR_LIMIT, buf_status(&b));
    buf_puts(&b, "x"); /* fits, but the buffer is already in error */
    assert_int_equal(ERR_LIMIT, buf_status(&b));
    assert_null(buf_take(&b, &len));
    assert_int_equal(0, len);

    buf_puts(&b, "abc");
    buf_reset(&b);
    buf_puts(&b, "de");
    assert_string_equal("de", b.p);
    buf_free(&b);
    UNIT_END(live);
}

static void
test_buf_escapes(void **state)
{
    int64_t live = mem_live();
    struct buf b;

    (void)state;
    buf_init(&b, 1024);
    buf_xml(&b, "a<b>&\"c'd");
    assert_string_equal("a&lt;b&gt;&amp;&quot;c&apos;d", b.p);
    buf_reset(&b);
    buf_xml_text(&b, "{\"k\":\"<&>\"}");
    assert_string_equal("{\"k\":\"&lt;&amp;&gt;\"}", b.p);
    buf_reset(&b);
    buf_xml(&b, "");
    assert_int_equal(0, b.len);
    buf_free(&b);
    UNIT_END(live);
}

static void
test_buf_base64_and_hex(void **state)
{
    /* SPEC: RFC 4648 10 -- test vectors. */
    static const char *const in[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *const out[] = {"",         "Zg==",     "Zm8=",    "Zm9v",
                                      "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    int64_t live = mem_live();
    struct buf b;
    size_t i;

    (void)state;
    buf_init(&b, 1024);
    for (i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
        buf_reset(&b);
        buf_base64(&b, (const uint8_t *)in[i], strlen(in[i]));
        assert_string_equal(out[i], b.p != NULL ? b.p : "");
    }
    buf_reset(&b);
    buf_hex(&b, (const uint8_t *)"\x00\xfc\x7f", 3);
    assert_string_equal("00fc7f", b.p);
    buf_free(&b);
    UNIT_END(live);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_buf_grows_and_takes),
        cmocka_unit_test(test_buf_cap_is_sticky),
        cmocka_unit_test(test_buf_escapes),
        cmocka_unit_test(test_buf_base64_and_hex),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
