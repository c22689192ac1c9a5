/*
 * test_conf.c -- the configuration syntax, every value type, every error
 * with its exact FILE:LINE text, dump round trips, reload rules, copies.
 *
 * Uses a table of its own with one key of every type, so these tests do
 * not move when a binary's keys do (test_conf_files.c covers those).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "unit.h"
#include "conf.h"
#include "err.h"
#include "mem.h"
#include "compat.h"

struct tconf {
    bool flag;
    int64_t count;
    int64_t offset;
    uint64_t buf_size;
    uint64_t big;
    uint64_t wait;
    char *name;
    int mode;
    char *listen;
    char *peers;
};

static const char *const tmodes[] = {"slow", "fast", NULL};

static const struct conf_key tkeys[] = {
    {"flag", CONF_BOOL, offsetof(struct tconf, flag), "off", 0, 0, NULL, true, "A flag."},
    {"count", CONF_INT, offsetof(struct tconf, count), "4", 1, 64, NULL, true, "A count."},
    {"offset", CONF_INT, offsetof(struct tconf, offset), "-5", 0, 0, NULL, true, "Unbounded."},
    {"buf.size", CONF_SIZE, offsetof(struct tconf, buf_size), "64K", 1024, 1024 * 1024 * 1024, NULL,
     true, "A size."},
    {"big", CONF_SIZE, offsetof(struct tconf, big), "1T", 16 * 1024 * 1024, 0, NULL, true,
     "At least 16M."},
    {"wait", CONF_DURATION, offsetof(struct tconf, wait), "500ms", 0, 3600 * 1000, NULL, true,
     "A duration."},
    {"name", CONF_STRING, offsetof(struct tconf, name), "hello world", 0, 0, NULL, true,
     "A string | with a pipe."},
    {"mode", CONF_ENUM, offsetof(struct tconf, mode), "fast", 0, 0, tmodes, false, "An enum."},
    {"listen", CONF_ADDR, offsetof(struct tconf, listen), "127.0.0.1:8081", 0, 0, NULL, false,
     "An address."},
    {"peers", CONF_ADDR_LIST, offsetof(struct tconf, peers), "a.example:80,[::1]:81", 0, 0, NULL,
     true, "A list."},
};

static int
tvalidate(const void *conf, struct conf_err *err)
{
    const struct tconf *c = conf;

    if (c->flag && c->count > 8) {
        (void)snprintf(err->msg, sizeof(err->msg), "count must be 8 or less when flag is on");
        return ERR_CONF;
    }
    return 0;
}

static const struct conf_table ttable = {
    .binary = "test",
    .keys = tkeys,
    .nkeys = ARRAY_SIZE(tkeys),
    .size = sizeof(struct tconf),
    .validate = tvalidate,
};

static const char tdump[] = "# test configuration: every key, with its help (docs/config.md).\n"
                            "\n# A flag.\nflag off\n"
                            "\n# A count.\ncount 4\n"
                            "\n# Unbounded.\noffset -5\n"
                            "\n# A size.\nbuf.size 64K\n"
                            "\n# At least 16M.\nbig 1T\n"
                            "\n# A duration.\nwait 500ms\n"
                            "\n# A string | with a pipe.\nname \"hello world\"\n"
                            "\n# An enum.\nmode fast\n"
                            "\n# An address.\nlisten 127.0.0.1:8081\n"
                            "\n# A list.\npeers a.example:80,[::1]:81\n";

static void
tload(struct tconf *c)
{
    struct conf_err err;

    memset(c, 0, sizeof(*c));
    assert_int_equal(0, conf_defaults(&ttable, c, &err));
}

static int
tparse(struct tconf *c, const char *text, struct conf_err *err)
{
    return conf_parse(&ttable, c, "t.conf", text, strlen(text), err);
}

/* text must fail with exactly want, and leave the snapshot untouched. */
static void
expect_err(const char *text, size_t len, const char *want)
{
    struct tconf c;
    struct conf_err err;
    char *before, *after;

    tload(&c);
    before = conf_dump(&ttable, &c);
    assert_int_equal(ERR_CONF, conf_parse(&ttable, &c, "t.conf", text, len, &err));
    assert_string_equal(want, err.msg);
    after = conf_dump(&ttable, &c);
    assert_string_equal(before, after);
    conf_check(&ttable, &c);
    xfree(before);
    xfree(after);
    conf_free(&ttable, &c);
}

#define EXPECT_ERR(text, want) expect_err((text), sizeof(text) - 1, (want))

/* dump -> parse (on fresh defaults) -> dump gives the same text. */
static void
expect_fixed_point(const struct tconf *c)
{
    struct tconf d;
    struct conf_err err;
    char *a, *b;

    a = conf_dump(&ttable, c);
    tload(&d);
    assert_int_equal(0, conf_parse(&ttable, &d, "dump", a, strlen(a), &err));
    b = conf_dump(&ttable, &d);
    assert_string_equal(a, b);
    xfree(a);
    xfree(b);
    conf_free(&ttable, &d);
}

static void
test_defaults_and_dump(void **state)
{
    int64_t live = mem_live();
    struct tconf c;
    char *d;

    (void)state;
    tload(&c);
    assert_false(c.flag);
    assert_int_equal(4, c.count);
    assert_int_equal(-5, c.offset);
    assert_int_equal(64 * 1024, c.buf_size);
    assert_int_equal(1ULL << 40, c.big);
    assert_int_equal(500, c.wait);
    assert_string_equal("hello world", c.name);
    assert_int_equal(1, c.mode);
    assert_string_equal("127.0.0.1:8081", c.listen);
    assert_string_equal("a.example:80,[::1]:81", c.peers);
    conf_check(&ttable, &c);
    d = conf_dump(&ttable, &c);
    assert_string_equal(tdump, d);
    xfree(d);
    expect_fixed_point(&c);
    conf_free(&ttable, &c);
    assert_null(c.name);
    conf_free(&ttable, &c); /* twice is harmless */
    UNIT_END(live);
}

static void
test_parse_every_type(void **state)
{
    int64_t live = mem_live();
    struct tconf c;
    struct conf_err err;
    static const char text[] = "# a comment\n"
                               "\n"
                               "   \t\n"
                               "flag yes\n"
                               "  count\t\t8   # trailing comment\n"
                               "offset -9223372036854775808\n"
                               "buf.size 1536\n"
                               "big 2t\n"
                               "wait 90s\n"
                               "name \"a \\\"quoted\\\" \\\\ value # not a comment\"\n"
                               "mode slow\n"
                               "listen [::1]:443\n"
                               "peers \" h1.example:1 ,\th2:2,[2001:db8::1]:3 \"\n";

    (void)state;
    tload(&c);
    assert_int_equal(0, tparse(&c, text, &err));
    assert_true(c.flag);
    assert_int_equal(8, c.count);
    assert_true(c.offset == INT64_MIN);
    assert_int_equal(1536, c.buf_size);
    assert_int_equal(2ULL << 40, c.big);
    assert_int_equal(90000, c.wait);
    assert_string_equal("a \"quoted\" \\ value # not a comment", c.name);
    assert_int_equal(0, c.mode);
    assert_string_equal("[::1]:443", c.listen);
    assert_string_equal("h1.example:1,h2:2,[2001:db8::1]:3", c.peers); /* canonical */
    conf_check(&ttable, &c);
    expect_fixed_point(&c);
    conf_free(&ttable, &c);
    UNIT_END(live);
}

static void
test_parse_syntax_corners(void **state)
{
    int64_t live = mem_live();
    struct tconf c;
    struct conf_err err;
    char *d;

    (void)state;
    tload(&c);
    /* CRLF lines, a BOM, no final newline, '#' inside an unquoted value. */
    assert_int_equal(0, tparse(&c, "\xef\xbb\xbfname a#b\r\nflag true\r\ncount 7", &err));
    assert_string_equal("a#b", c.name);
    assert_true(c.flag);
    assert_int_equal(7, c.count);
    /* A '#' right after a closing quote starts a comment. */
    assert_int_equal(0, tparse(&c, "name \"x\"#c\n", &err));
    assert_string_equal("x", c.name);
    /* Empty string, tab and UTF-8 survive a dump. */
    assert_int_equal(0, tparse(&c, "name \"\"\n", &err));
    assert_string_equal("", c.name);
    assert_int_equal(0, tparse(&c, "name \"\ttab caf\xc3\xa9\"\n", &err));
    assert_string_equal("\ttab caf\xc3\xa9", c.name);
    d = conf_dump(&ttable, &c);
    assert_non_null(strstr(d, "\nname \"\ttab caf\xc3\xa9\"\n"));
    xfree(d);
    expect_fixed_point(&c);
    /* An empty file and a file of comments change nothing. */
    assert_int_equal(0, tparse(&c, "", &err));
    assert_int_equal(0, tparse(&c, "# only\n#comments\n", &err));
    assert_string_equal("\ttab caf\xc3\xa9", c.name);
    /* A key may appear in each file once, not once ever. */
    assert_int_equal(0, tparse(&c, "count 5\n", &err));
    assert_int_equal(0, tparse(&c, "count 6\n", &err));
    assert_int_equal(6, c.count);
    /* Booleans: every spelling. */
    assert_int_equal(0, tparse(&c, "flag on\n", &err));
    assert_true(c.flag);
    assert_int_equal(0, tparse(&c, "flag no\n", &err));
    assert_false(c.flag);
    assert_int_equal(0, tparse(&c, "flag false\n", &err));
    assert_false(c.flag);
    conf_free(&ttable, &c);
    UNIT_END(live);
}

static void
test_errors_keys(void **state)
{
    int64_t live = mem_live();

    (void)state;
    EXPECT_ERR("count 4\nbuf.sise 1K\n",
               "t.conf:2: 'buf.sise': unknown key (did you mean buf.size?)");
    EXPECT_ERR("buf_size 1K\n", "t.conf:1: 'buf_size': unknown key (did you mean buf.size?)");
    EXPECT_ERR("size 1K\n", "t.conf:1: 'size': unknown key (did you mean buf.size?)");
    EXPECT_ERR("zzzzzzzz 1\n", "t.conf:1: 'zzzzzzzz': unknown key");
    EXPECT_ERR("count=4\n", "t.conf:1: count: write 'key value', with a blank instead of '='");
    EXPECT_ERR("count 4\n# x\ncount 5\n", "t.conf:3: count: duplicate key (first set on line 1)");
    EXPECT_ERR("count\n", "t.conf:1: count: missing value");
    EXPECT_ERR("count   # four\n", "t.conf:1: count: missing value");
    EXPECT_ERR("count 4 5\n",
               "t.conf:1: count: unexpected text after the value: '5' (quote a value with blanks)");
    EXPECT_ERR("name \"a\" b\n",
               "t.conf:1: name: unexpected text after the value: 'b' (quote a value with blanks)");
    UNIT_END(live);
}

static void
test_errors_lines(void **state)
{
    int64_t live = mem_live();
    char *big;
    size_t n;

    (void)state;
    EXPECT_ERR("count 4\nname a\0b\n", "t.conf:2: NUL byte");
    EXPECT_ERR("count 4\nname a\x01z\n",
               "t.conf:2: control character 0x01 (only tabs are allowed)");
    EXPECT_ERR("name a\rb\n", "t.conf:1: control character 0x0d (only tabs are allowed)");
    EXPECT_ERR("name \"abc\n", "t.conf:1: name: unterminated quoted value");
    EXPECT_ERR("name \"abc\\\"\n", "t.conf:1: name: unterminated quoted value");
    EXPECT_ERR("name \"a\\nb\"\n",
               "t.conf:1: name: unknown escape in a quoted value (only \\\" and \\\\)");
    EXPECT_ERR("name a\"b\n", "t.conf:1: name: a quote or backslash inside an unquoted value "
                              "(quote the whole value)");
    EXPECT_ERR("name a\\b\n", "t.conf:1: name: a quote or backslash inside an unquoted value "
                              "(quote the whole value)");

    /* A line of exactly CONF_LINE_MAX bytes is fine; one more is not. */
    big = xmalloc(CONF_FILE_MAX + 2);
    memcpy(big, "name ", 5);
    memset(big + 5, 'x', CONF_LINE_MAX - 5);
    big[CONF_LINE_MAX] = '\n';
    {
        struct tconf c;
        struct conf_err err;

        tload(&c);
        assert_int_equal(0, conf_parse(&ttable, &c, "t.conf", big, CONF_LINE_MAX + 1, &err));
        assert_int_equal(CONF_LINE_MAX - 5, strlen(c.name));
        conf_free(&ttable, &c);
    }
    memcpy(big, "# comment\n", 10);
    memset(big + 10, 'x', CONF_LINE_MAX + 1);
    expect_err(big, 10 + CONF_LINE_MAX + 1, "t.conf:2: line is longer than 4096 bytes");

    /* Files: CONF_FILE_MAX bytes of comment lines are fine; one more byte is not. */
    for (n = 0; n < CONF_FILE_MAX; n += 64) {
        memset(big + n, ' ', 64);
        big[n] = '#';
        big[n + 63] = '\n';
    }
    {
        struct tconf c;
        struct conf_err err;

        tload(&c);
        assert_int_equal(0, conf_parse(&ttable, &c, "t.conf", big, CONF_FILE_MAX, &err));
        conf_free(&ttable, &c);
    }
    big[CONF_FILE_MAX] = '\n';
    expect_err(big, CONF_FILE_MAX + 1, "t.conf: the file is larger than 1048576 bytes");
    xfree(big);
    UNIT_END(live);
}

static void
test_errors_values(void **state)
{
    int64_t live = mem_live();

    (void)state;
    EXPECT_ERR("flag maybe\n",
               "t.conf:1: flag: 'maybe' is not a boolean (on, off, yes, no, true, false)");
    EXPECT_ERR("flag ON\n",
               "t.conf:1: flag: 'ON' is not a boolean (on, off, yes, no, true, false)");
    EXPECT_ERR("count 4x\n", "t.conf:1: count: '4x' is not an integer");
    EXPECT_ERR("count +4\n", "t.conf:1: count: '+4' is not an integer");
    EXPECT_ERR("count \"\"\n", "t.conf:1: count: '' is not an integer");
    EXPECT_ERR("offset 9223372036854775808\n",
               "t.conf:1: offset: '9223372036854775808' is not an integer");
    EXPECT_ERR("count 65\n", "t.conf:1: count: '65' is out of range (1..64)");
    EXPECT_ERR("count 0\n", "t.conf:1: count: '0' is out of range (1..64)");
    EXPECT_ERR("buf.size 1.5G\n", "t.conf:1: buf.size: '1.5G' is not a size (bytes, or a whole "
                                  "number with K, M, G or T: 512K, 64G)");
    EXPECT_ERR("buf.size 1GB\n", "t.conf:1: buf.size: '1GB' is not a size (bytes, or a whole "
                                 "number with K, M, G or T: 512K, 64G)");
    EXPECT_ERR("buf.size -1\n", "t.conf:1: buf.size: '-1' is not a size (bytes, or a whole "
                                "number with K, M, G or T: 512K, 64G)");
    EXPECT_ERR("buf.size 8388608T\n", "t.conf:1: buf.size: '8388608T' is not a size (bytes, or a "
                                      "whole number with K, M, G or T: 512K, 64G)");
    EXPECT_ERR("buf.size 2G\n", "t.conf:1: buf.size: '2G' is out of range (1K..1G)");
    EXPECT_ERR("buf.size 1023\n", "t.conf:1: buf.size: '1023' is out of range (1K..1G)");
    EXPECT_ERR("big 1M\n", "t.conf:1: big: '1M' is out of range (at least 16M)");
    EXPECT_ERR("wait 60\n", "t.conf:1: wait: '60' is not a duration (a whole number with ms, s, "
                            "m or h: 500ms, 10s)");
    EXPECT_ERR("wait 0\n", "t.conf:1: wait: '0' is not a duration (a whole number with ms, s, "
                           "m or h: 500ms, 10s)");
    EXPECT_ERR("wait 1S\n", "t.conf:1: wait: '1S' is not a duration (a whole number with ms, s, "
                            "m or h: 500ms, 10s)");
    EXPECT_ERR("wait 2h\n", "t.conf:1: wait: '2h' is out of range (0s..1h)");
    EXPECT_ERR("mode medium\n", "t.conf:1: mode: 'medium' is not one of: slow, fast");
    EXPECT_ERR("count 123456789012345678901234567890123456789012345678901234567890123456789\n",
               "t.conf:1: count: '123456789012345678901234567890123456789012345678901234567890..."
               "' is not an integer");
    UNIT_END(live);
}

static void
test_errors_addresses(void **state)
{
    int64_t live = mem_live();

    (void)state;
    EXPECT_ERR("listen localhost\n", "t.conf:1: listen: 'localhost' is not an address: missing "
                                     "port (host:port or [v6]:port)");
    EXPECT_ERR("listen h:\n",
               "t.conf:1: listen: 'h:' is not an address: missing port (host:port or [v6]:port)");
    EXPECT_ERR("listen ::1:80\n", "t.conf:1: listen: '::1:80' is not an address: an IPv6 address "
                                  "needs brackets: [v6]:port");
    EXPECT_ERR("listen :80\n", "t.conf:1: listen: ':80' is not an address: missing host (use "
                               "0.0.0.0:PORT or [::]:PORT for every interface)");
    EXPECT_ERR("listen h:0\n",
               "t.conf:1: listen: 'h:0' is not an address: the port must be a number in 1..65535");
    EXPECT_ERR("listen h:65536\n", "t.conf:1: listen: 'h:65536' is not an address: the port must "
                                   "be a number in 1..65535");
    EXPECT_ERR("listen h:080\n", "t.conf:1: listen: 'h:080' is not an address: the port must be "
                                 "a number in 1..65535");
    EXPECT_ERR("listen h:http\n", "t.conf:1: listen: 'h:http' is not an address: the port must "
                                  "be a number in 1..65535");
    EXPECT_ERR("listen [::g]:80\n",
               "t.conf:1: listen: '[::g]:80' is not an address: bad IPv6 address");
    EXPECT_ERR("listen [::1:80\n",
               "t.conf:1: listen: '[::1:80' is not an address: missing ']' after the IPv6 address");
    EXPECT_ERR("listen [::1]80\n", "t.conf:1: listen: '[::1]80' is not an address: missing port "
                                   "(host:port or [v6]:port)");
    EXPECT_ERR("listen 1.2.3.256:80\n",
               "t.conf:1: listen: '1.2.3.256:80' is not an address: bad IPv4 address");
    EXPECT_ERR("listen -a.example:80\n",
               "t.conf:1: listen: '-a.example:80' is not an address: bad host name");
    EXPECT_ERR("listen a..example:80\n",
               "t.conf:1: listen: 'a..example:80' is not an address: bad host name");
    EXPECT_ERR("listen a/b:80\n", "t.conf:1: listen: 'a/b:80' is not an address: bad host name");
    EXPECT_ERR("peers \"\"\n", "t.conf:1: peers: '' is not an address list: the list is empty");
    EXPECT_ERR("peers a:1,,b:2\n",
               "t.conf:1: peers: 'a:1,,b:2' is not an address list: an item of the list is empty");
    EXPECT_ERR("peers a:1,\n",
               "t.conf:1: peers: 'a:1,' is not an address list: an item of the list is empty");
    EXPECT_ERR("peers a:1,a:1\n",
               "t.conf:1: peers: 'a:1,a:1' is not an address list: 'a:1' is listed twice");
    EXPECT_ERR("peers a:1,b\n", "t.conf:1: peers: 'a:1,b' is not an address list: 'b': missing "
                                "port (host:port or [v6]:port)");
    UNIT_END(live);
}

static void
test_addresses_good(void **state)
{
    int64_t live = mem_live();
    static const char *const good[] = {
        "127.0.0.1:1",    "0.0.0.0:65535",      "[::]:80",        "[::ffff:1.2.3.4]:8080",
        "localhost:8080", "a-b_c.example.:443", "EXAMPLE.com:80", "x:9",
    };
    char host[CONF_HOST_MAX + 1], tiny[4], name[260];
    uint16_t port;
    size_t i;

    (void)state;
    for (i = 0; i < ARRAY_SIZE(good); i++)
        assert_int_equal(0, conf_split_addr(good[i], host, sizeof(host), &port));
    assert_int_equal(0, conf_split_addr("[2001:db8::1]:443", host, sizeof(host), &port));
    assert_string_equal("2001:db8::1", host);
    assert_int_equal(443, port);
    assert_int_equal(0, conf_split_addr("origin.example:8080", host, sizeof(host), &port));
    assert_string_equal("origin.example", host);
    assert_int_equal(8080, port);
    assert_int_equal(ERR_LIMIT, conf_split_addr("origin.example:80", tiny, sizeof(tiny), &port));
    assert_int_equal(ERR_INVAL, conf_split_addr("origin.example", host, sizeof(host), &port));

    /* The longest name: 253 characters in labels of at most 63, then a final dot. */
    memset(name, 'a', sizeof(name));
    name[63] = name[127] = name[191] = '.';
    memcpy(name + 253, ".:80", 5);
    assert_int_equal(0, conf_split_addr(name, host, sizeof(host), &port));
    assert_int_equal(254, strlen(host));
    memcpy(name + 253, "a:80", 5); /* 254 characters */
    assert_int_equal(ERR_INVAL, conf_split_addr(name, host, sizeof(host), &port));
    name[63] = 'a'; /* a 127-character label */
    memcpy(name + 253, ".:80", 5);
    assert_int_equal(ERR_INVAL, conf_split_addr(name, host, sizeof(host), &port));
    UNIT_END(live);
}

static void
test_units(void **state)
{
    int64_t live = mem_live();
    static const struct {
        const char *in, *out;
    } sizes[] =
        {
            {"0", "0"},      {"1", "1"},        {"1024", "1K"},           {"1536", "1536"},
            {"64k", "64K"},  {"1048576", "1M"}, {"2048K", "2M"},          {"1g", "1G"},
            {"1024G", "1T"}, {"3T", "3T"},      {"8388607T", "8388607T"},
        },
      durations[] = {
          {"0ms", "0s"},  {"0h", "0s"},  {"1ms", "1ms"}, {"1500ms", "1500ms"}, {"1000ms", "1s"},
          {"90s", "90s"}, {"60s", "1m"}, {"120m", "2h"}, {"90m", "90m"},       {"25h", "25h"},
      };
    struct conf_err err;
    char line[64], *d;
    uint64_t v;
    size_t i;

    (void)state;
    for (i = 0; i < ARRAY_SIZE(sizes); i++) {
        uint64_t u = 0;
        static const struct conf_key k = {"s", CONF_SIZE, 0, "0", 0, 0, NULL, true, "S."};
        static const struct conf_table t = {"x", &k, 1, sizeof(uint64_t), NULL};

        assert_int_equal(0, conf_parse_size(sizes[i].in, &v));
        assert_int_equal(0, conf_set(&t, &u, "s", sizes[i].in, NULL, &err));
        d = conf_dump(&t, &u);
        (void)snprintf(line, sizeof(line), "\ns %s\n", sizes[i].out);
        assert_non_null(strstr(d, line));
        xfree(d);
    }
    for (i = 0; i < ARRAY_SIZE(durations); i++) {
        uint64_t u = 0, again = 0;
        static const struct conf_key k = {"d", CONF_DURATION, 0, "0s", 0, 0, NULL, true, "D."};
        static const struct conf_table t = {"x", &k, 1, sizeof(uint64_t), NULL};

        assert_int_equal(0, conf_set(&t, &u, "d", durations[i].in, NULL, &err));
        d = conf_dump(&t, &u);
        (void)snprintf(line, sizeof(line), "\nd %s\n", durations[i].out);
        assert_non_null(strstr(d, line));
        assert_int_equal(0, conf_parse(&t, &again, "dump", d, strlen(d), &err));
        assert_int_equal(u, again);
        xfree(d);
    }
    assert_int_equal(0, conf_parse_duration("2h", &v));
    assert_int_equal(7200000, v);
    assert_int_equal(ERR_INVAL, conf_parse_duration("", &v));
    assert_int_equal(ERR_INVAL, conf_parse_duration("s", &v));
    assert_int_equal(ERR_INVAL, conf_parse_duration("1 s", &v));
    assert_int_equal(ERR_INVAL, conf_parse_duration("99999999999999999999ms", &v));
    assert_int_equal(ERR_INVAL, conf_parse_duration("2562047788016h", &v)); /* over INT64_MAX ms */
    assert_int_equal(ERR_INVAL, conf_parse_size("", &v));
    assert_int_equal(ERR_INVAL, conf_parse_size("K", &v));
    assert_int_equal(ERR_INVAL, conf_parse_size("1KK", &v));
    assert_int_equal(ERR_INVAL, conf_parse_size("9223372036854775808", &v));
    assert_int_equal(0, conf_parse_size("9223372036854775807", &v));
    UNIT_END(live);
}

static void
test_set(void **state)
{
    int64_t live = mem_live();
    struct tconf c;
    struct conf_err err;
    char *long_value;

    (void)state;
    tload(&c);
    assert_int_equal(0, conf_set(&ttable, &c, "buf.size", "2M", "--buf-size", &err));
    assert_int_equal(2 << 20, c.buf_size);
    assert_int_equal(ERR_CONF, conf_set(&ttable, &c, "buf.size", "2X", "--buf-size", &err));
    assert_string_equal("--buf-size: '2X' is not a size (bytes, or a whole number with K, M, G "
                        "or T: 512K, 64G)",
                        err.msg);
    assert_int_equal(2 << 20, c.buf_size); /* unchanged */
    assert_int_equal(ERR_CONF, conf_set(&ttable, &c, "count", "99", NULL, &err));
    assert_string_equal("count: '99' is out of range (1..64)", err.msg);
    assert_int_equal(ERR_CONF, conf_set(&ttable, &c, "cont", "9", NULL, &err));
    assert_string_equal("cont: unknown key (did you mean count?)", err.msg);
    assert_int_equal(ERR_CONF, conf_set(&ttable, &c, "name", "a\nb", "--name", &err));
    assert_string_equal("--name: 'a\\x0ab' contains a control character", err.msg);
    /* Anything set can be dumped and parsed back: no line may outgrow CONF_LINE_MAX. */
    long_value = xmalloc(CONF_LINE_MAX);
    memset(long_value, '"', CONF_LINE_MAX / 2);
    long_value[CONF_LINE_MAX / 2] = '\0';
    assert_int_equal(ERR_CONF, conf_set(&ttable, &c, "name", long_value, NULL, &err));
    assert_string_equal("name: the value is too long (the line would be over 4096 bytes)", err.msg);
    long_value[CONF_LINE_MAX / 2 - 5] = '\0';
    assert_int_equal(0, conf_set(&ttable, &c, "name", long_value, NULL, &err));
    expect_fixed_point(&c);
    xfree(long_value);
    assert_int_equal(0, conf_set(&ttable, &c, "name", "quote\" back\\slash", NULL, &err));
    expect_fixed_point(&c);
    conf_check(&ttable, &c);
    conf_free(&ttable, &c);
    UNIT_END(live);
}

static void
test_validate(void **state)
{
    int64_t live = mem_live();
    struct tconf c;
    struct conf_err err;

    (void)state;
    tload(&c);
    assert_int_equal(0, conf_validate(&ttable, &c, "t.conf", &err));
    /* Each key alone is fine, so parse accepts; the rule between them is validate's. */
    assert_int_equal(0, tparse(&c, "flag on\ncount 9\n", &err));
    assert_int_equal(ERR_CONF, conf_validate(&ttable, &c, "t.conf", &err));
    assert_string_equal("t.conf: count must be 8 or less when flag is on", err.msg);
    assert_int_equal(ERR_CONF, conf_validate(&ttable, &c, NULL, &err));
    assert_string_equal("test: count must be 8 or less when flag is on", err.msg);
    conf_free(&ttable, &c);
    UNIT_END(live);
}

static void
test_reload_check(void **state)
{
    int64_t live = mem_live();
    struct tconf a, b;
    struct conf_err err;

    (void)state;
    tload(&a);
    tload(&b);
    assert_int_equal(0, conf_reload_check(&ttable, &a, &b, &err));
    /* Reloadable keys may change. */
    assert_int_equal(0, tparse(&b, "count 9\nname other\npeers x:1\nwait 1s\n", &err));
    assert_int_equal(0, conf_reload_check(&ttable, &a, &b, &err));
    /* Others may not; the message names the key and both values. */
    assert_int_equal(0, tparse(&b, "listen 0.0.0.0:8081\n", &err));
    assert_int_equal(ERR_CONF, conf_reload_check(&ttable, &a, &b, &err));
    assert_string_equal("listen: cannot change on reload ('127.0.0.1:8081' -> '0.0.0.0:8081'); "
                        "restart to apply",
                        err.msg);
    assert_int_equal(0, tparse(&b, "listen 127.0.0.1:8081\nmode slow\n", &err));
    assert_int_equal(ERR_CONF, conf_reload_check(&ttable, &a, &b, &err));
    assert_string_equal("mode: cannot change on reload ('fast' -> 'slow'); restart to apply",
                        err.msg);
    conf_free(&ttable, &a);
    conf_free(&ttable, &b);
    UNIT_END(live);
}

static void
test_copy(void **state)
{
    int64_t live = mem_live();
    struct tconf a, b = {0};
    struct conf_err err;
    char *da, *db;

    (void)state;
    tload(&a);
    assert_int_equal(0, tparse(&a, "name copied\ncount 3\n", &err));
    conf_copy(&ttable, &b, &a);
    assert_ptr_not_equal(a.name, b.name);
    da = conf_dump(&ttable, &a);
    conf_free(&ttable, &a); /* b does not depend on a */
    db = conf_dump(&ttable, &b);
    assert_string_equal(da, db);
    assert_int_equal(0, conf_reload_check(&ttable, &b, &b, &err));
    xfree(da);
    xfree(db);
    conf_free(&ttable, &b);
    UNIT_END(live);
}

static char *
write_temp(const char *text, size_t len)
{
    char *path = xstrdup("/tmp/test_conf_XXXXXX");
    int fd = mkstemp(path);

    assert_true(fd >= 0);
    assert_int_equal((ssize_t)len, write(fd, text, len));
    assert_int_equal(0, close(fd));
    return path;
}

static void
test_load_file(void **state)
{
    int64_t live = mem_live();
    struct tconf c;
    struct conf_err err;
    char *path, want[256], *big;

    (void)state;
    tload(&c);
    path = write_temp("count 12\nmode slow\n", 19);
    assert_int_equal(0, conf_load_file(&ttable, &c, path, &err));
    assert_int_equal(12, c.count);
    assert_int_equal(0, unlink(path));
    xfree(path);

    path = write_temp("count 12\ncount 13\n", 18);
    assert_int_equal(ERR_CONF, conf_load_file(&ttable, &c, path, &err));
    (void)snprintf(want, sizeof(want), "%s:2: count: duplicate key (first set on line 1)", path);
    assert_string_equal(want, err.msg);
    assert_int_equal(0, unlink(path));
    xfree(path);

    big = xcalloc(1, CONF_FILE_MAX + 1);
    memset(big, '\n', CONF_FILE_MAX + 1);
    path = write_temp(big, CONF_FILE_MAX + 1);
    xfree(big);
    assert_int_equal(ERR_CONF, conf_load_file(&ttable, &c, path, &err));
    (void)snprintf(want, sizeof(want), "%s: the file is larger than 1048576 bytes", path);
    assert_string_equal(want, err.msg);
    assert_int_equal(0, unlink(path));
    xfree(path);

    assert_int_equal(ERR_CONF, conf_load_file(&ttable, &c, "/nonexistent/x.conf", &err));
    assert_string_equal("/nonexistent/x.conf: cannot open: No such file or directory", err.msg);
    assert_int_equal(ERR_CONF, conf_load_file(&ttable, &c, "/tmp", &err));
    assert_string_equal("/tmp: not a regular file", err.msg);
    assert_int_equal(12, c.count);
    conf_free(&ttable, &c);
    UNIT_END(live);
}

static void
test_suggest_and_distance(void **state)
{
    int64_t live = mem_live();

    (void)state;
    assert_int_equal(0, conf_distance("listen", "listen"));
    assert_int_equal(1, conf_distance("lsiten", "listen")); /* a swap */
    assert_int_equal(1, conf_distance("listn", "listen"));
    assert_int_equal(3, conf_distance("", "abc"));
    assert_string_equal("listen", conf_key_suggest(&ttable, "lisen"));
    assert_string_equal("buf.size", conf_key_suggest(&ttable, "buf-size"));
    assert_string_equal("buf.size", conf_key_suggest(&ttable, "size")); /* last part */
    assert_null(conf_key_suggest(&ttable, "completely.different"));
    assert_non_null(conf_key_find(&ttable, "peers"));
    assert_null(conf_key_find(&ttable, "peer"));
    UNIT_END(live);
}

static void
test_doc(void **state)
{
    int64_t live = mem_live();
    char *d;

    (void)state;
    d = conf_doc(&ttable);
    assert_non_null(strstr(d, "| Key | Type | Default | Range | Reload | Description |\n"));
    assert_non_null(strstr(d, "| `count` | integer | `4` | 1..64 | yes | A count. |\n"));
    assert_non_null(strstr(d, "| `big` | size | `1T` | at least 16M | yes | At least 16M. |\n"));
    assert_non_null(strstr(d, "| `wait` | duration | `500ms` | 0s..1h | yes | A duration. |\n"));
    assert_non_null(
        strstr(d, "| `name` | string | `hello world` |  | yes | A string \\| with a pipe. |\n"));
    assert_non_null(
        strstr(d, "| `mode` | enum | `fast` | `slow`, `fast` | restart | An enum. |\n"));
    xfree(d);
    UNIT_END(live);
}

static void
test_bad_default(void **state)
{
    int64_t live = mem_live();
    static const struct conf_key k[] = {
        {"a", CONF_STRING, 0, "ok", 0, 0, NULL, true, "A."},
        {"b", CONF_INT, sizeof(char *), "70", 0, 64, NULL, true, "B."},
    };
    static const struct conf_table t = {"bad", k, 2, sizeof(char *) + sizeof(int64_t), NULL};
    struct {
        char *a;
        int64_t b;
    } c = {0};
    struct conf_err err;

    (void)state;
    assert_int_equal(ERR_CONF, conf_defaults(&t, &c, &err));
    assert_string_equal("bad: the default of b: '70' is out of range (0..64)", err.msg);
    assert_null(c.a); /* nothing left to free */
    UNIT_END(live);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_and_dump),
        cmocka_unit_test(test_parse_every_type),
        cmocka_unit_test(test_parse_syntax_corners),
        cmocka_unit_test(test_errors_keys),
        cmocka_unit_test(test_errors_lines),
        cmocka_unit_test(test_errors_values),
        cmocka_unit_test(test_errors_addresses),
        cmocka_unit_test(test_addresses_good),
        cmocka_unit_test(test_units),
        cmocka_unit_test(test_set),
        cmocka_unit_test(test_validate),
        cmocka_unit_test(test_reload_check),
        cmocka_unit_test(test_copy),
        cmocka_unit_test(test_load_file),
        cmocka_unit_test(test_suggest_and_distance),
        cmocka_unit_test(test_doc),
        cmocka_unit_test(test_bad_default),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
