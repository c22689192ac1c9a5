/*
 * test_cli.c -- the common command line: option forms, errors that name the
 * option, overrides that win over the file (also on reload), and the
 * actions that end the process with their output and exit codes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "unit.h"
#include "cli.h"
#include "conf.h"
#include "err.h"
#include "mem.h"
#include "compat.h"

struct tconf {
    char *listen;
    int64_t workers;
    uint64_t size;
    uint64_t low, high;
};

static const struct conf_key tkeys[] = {
    {"listen", CONF_ADDR, offsetof(struct tconf, listen), "127.0.0.1:8081", 0, 0, NULL, false,
     "Where."},
    {"workers", CONF_INT, offsetof(struct tconf, workers), "0", 0, 64, NULL, false, "Threads."},
    {"cache.size", CONF_SIZE, offsetof(struct tconf, size), "1G", 0, 0, NULL, false, "Size."},
    {"low", CONF_SIZE, offsetof(struct tconf, low), "1K", 0, 0, NULL, true, "Low."},
    {"high", CONF_SIZE, offsetof(struct tconf, high), "2K", 0, 0, NULL, true, "High."},
};

static int
tvalidate(const void *conf, struct conf_err *err)
{
    const struct tconf *c = conf;

    if (c->low >= c->high) {
        (void)snprintf(err->msg, sizeof(err->msg), "low must be below high");
        return ERR_CONF;
    }
    return 0;
}

static const struct conf_table ttable = {"test", tkeys, ARRAY_SIZE(tkeys), sizeof(struct tconf),
                                         tvalidate};

static const struct cli_opt topts[] = {
    {"--listen", "listen", "ADDR:PORT", "address"},
    {"--workers", "workers", "N", "threads"},
    {"--cache-size", "cache.size", "SIZE", "cache size"},
};

static const struct cli_spec tspec = {"A test binary.", &ttable, topts, ARRAY_SIZE(topts)};

#define ARGC(a) ((int)ARRAY_SIZE(a))

static char *
write_temp(const char *text)
{
    char *path = xstrdup("/tmp/test_cli_XXXXXX");
    int fd = mkstemp(path);

    assert_true(fd >= 0);
    assert_int_equal((ssize_t)strlen(text), write(fd, text, strlen(text)));
    assert_int_equal(0, close(fd));
    return path;
}

static void
rewrite(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    assert_int_equal(strlen(text), fwrite(text, 1, strlen(text), f));
    assert_int_equal(0, fclose(f));
}

static void
test_parse_forms(void **state)
{
    int64_t live = mem_live();
    char *argv[] = {"test",        "-c",    "/etc/x.conf", "--listen",     "0.0.0.0:80",
                    "--workers=4", "--set", "low=2K",      "--dump-config"};
    struct cli c;
    struct conf_err err;

    (void)state;
    assert_int_equal(0, cli_parse(&c, &tspec, ARGC(argv), argv, &err));
    assert_int_equal(CLI_DUMP_CONFIG, c.action);
    assert_string_equal("/etc/x.conf", c.conf_path);
    assert_int_equal(3, c.nsets);
    assert_string_equal("listen", c.sets[0].key);
    assert_string_equal("0.0.0.0:80", c.sets[0].value);
    assert_string_equal("--listen", c.sets[0].source);
    assert_string_equal("workers", c.sets[1].key);
    assert_string_equal("4", c.sets[1].value);
    assert_string_equal("low", c.sets[2].key);
    assert_string_equal("--set low", c.sets[2].source);
    cli_free(&c);
    UNIT_END(live);
}

static void
test_parse_actions(void **state)
{
    int64_t live = mem_live();
    char *a1[] = {"test"};
    char *a2[] = {"test", "--config=/x", "--check-config"};
    char *a3[] = {"test", "--help", "--no-such-option"};
    char *a4[] = {"test", "--version"};
    char *a5[] = {"test", "-h"};
    struct cli c;
    struct conf_err err;

    (void)state;
    assert_int_equal(0, cli_parse(&c, &tspec, ARGC(a1), a1, &err));
    assert_int_equal(CLI_RUN, c.action);
    assert_null(c.conf_path);
    cli_free(&c);
    assert_int_equal(0, cli_parse(&c, &tspec, ARGC(a2), a2, &err));
    assert_int_equal(CLI_CHECK_CONFIG, c.action);
    assert_string_equal("/x", c.conf_path);
    cli_free(&c);
    assert_int_equal(0, cli_parse(&c, &tspec, ARGC(a3), a3, &err)); /* help stops the parse */
    assert_int_equal(CLI_HELP, c.action);
    cli_free(&c);
    assert_int_equal(0, cli_parse(&c, &tspec, ARGC(a4), a4, &err));
    assert_int_equal(CLI_VERSION, c.action);
    cli_free(&c);
    assert_int_equal(0, cli_parse(&c, &tspec, ARGC(a5), a5, &err));
    assert_int_equal(CLI_HELP, c.action);
    cli_free(&c);
    UNIT_END(live);
}

/* argv must fail to parse with exactly want. */
static void
expect_usage(int argc, char **argv, const char *want)
{
    struct cli c;
    struct conf_err err;

    assert_int_equal(ERR_CONF, cli_parse(&c, &tspec, argc, argv, &err));
    assert_string_equal(want, err.msg);
    cli_free(&c);
}

static void
test_parse_errors(void **state)
{
    int64_t live = mem_live();
    char *e1[] = {"test", "--lsten", "x:1"};
    char *e2[] = {"test", "--listen"};
    char *e3[] = {"test", "--check-config=yes"};
    char *e4[] = {"test", "--listen", "a:1", "--listen=b:2"};
    char *e5[] = {"test", "--set", "listen=a:1", "--listen", "b:2"};
    char *e6[] = {"test", "-c", "a", "-c", "b"};
    char *e7[] = {"test", "extra"};
    char *e8[] = {"test", "--set", "lisen=a:1"};
    char *e9[] = {"test", "--set", "listen"};
    char *e10[] = {"test", "--check-config", "--dump-config"};
    char *e11[] = {"test", "--frobnicate"};
    char *e12[] = {"test", "-c", ""};
    char *e13[] = {"test", "--cache-size"};

    (void)state;
    expect_usage(ARGC(e1), e1, "--lsten: unknown option (did you mean --listen?)");
    expect_usage(ARGC(e2), e2, "--listen: missing value");
    expect_usage(ARGC(e3), e3, "--check-config: takes no value");
    expect_usage(ARGC(e4), e4, "--listen: listen is already set by --listen");
    expect_usage(ARGC(e5), e5, "--listen: listen is already set by --set listen");
    expect_usage(ARGC(e6), e6, "-c: the configuration file is already given (a)");
    expect_usage(ARGC(e7), e7, "unexpected argument 'extra' (options start with --)");
    expect_usage(ARGC(e8), e8, "--set: unknown key 'lisen' (did you mean listen?)");
    expect_usage(ARGC(e9), e9, "--set: expected KEY=VALUE, got 'listen'");
    expect_usage(ARGC(e10), e10, "--dump-config: cannot be combined with --check-config");
    expect_usage(ARGC(e11), e11, "--frobnicate: unknown option");
    expect_usage(ARGC(e12), e12, "-c: empty file name");
    expect_usage(ARGC(e13), e13, "--cache-size: missing value");
    UNIT_END(live);
}

static void
test_load_overrides_win(void **state)
{
    int64_t live = mem_live();
    char *path = write_temp("listen 10.0.0.1:80\nworkers 2\nhigh 8K\n");
    char *argv[] = {"test", "-c", path, "--workers", "8", "--set", "low=4K"};
    struct tconf a = {0}, b = {0};
    struct cli c;
    struct conf_err err;

    (void)state;
    assert_int_equal(0, cli_parse(&c, &tspec, ARGC(argv), argv, &err));
    assert_int_equal(0, cli_load(&c, &a, &err));
    assert_string_equal("10.0.0.1:80", a.listen); /* file over default */
    assert_int_equal(8, a.workers);               /* override over file */
    assert_int_equal(4096, a.low);
    assert_int_equal(8192, a.high);

    /* SIGHUP: the file changed; the overrides still win. */
    rewrite(path, "listen 10.0.0.1:80\nworkers 3\nhigh 16K\nlow 1K\n");
    assert_int_equal(0, cli_load(&c, &b, &err));
    assert_int_equal(8, b.workers);
    assert_int_equal(4096, b.low);
    assert_int_equal(16384, b.high);
    assert_int_equal(0, conf_reload_check(&ttable, &a, &b, &err));
    conf_free(&ttable, &b);

    /* A reload with a bad file leaves nothing to free and says where. */
    rewrite(path, "workers 3\nhigh 16\n");
    assert_int_equal(ERR_CONF, cli_load(&c, &b, &err));
    assert_null(b.listen);
    {
        char want[256];

        (void)snprintf(want, sizeof(want), "%s: low must be below high", path);
        assert_string_equal(want, err.msg);
    }
    rewrite(path, "workers 3\nhigh 16M\nlisten 10.0.0.2:80\n");
    assert_int_equal(0, cli_load(&c, &b, &err));
    assert_int_equal(ERR_CONF, conf_reload_check(&ttable, &a, &b, &err));
    assert_string_equal("listen: cannot change on reload ('10.0.0.1:80' -> '10.0.0.2:80'); restart "
                        "to apply",
                        err.msg);
    conf_free(&ttable, &b);
    conf_free(&ttable, &a);
    cli_free(&c);
    assert_int_equal(0, unlink(path));
    xfree(path);
    UNIT_END(live);
}

static void
test_load_errors(void **state)
{
    int64_t live = mem_live();
    char *path = write_temp("workers 2\nworkers 3\n");
    char *a1[] = {"test", "-c", path};
    char *a2[] = {"test", "--cache-size", "lots"};
    char *a3[] = {"test", "--set", "workers=99"};
    char *a4[] = {"test", "--set", "low=4K"};
    struct tconf t = {0};
    struct cli c;
    struct conf_err err;
    char want[256];

    (void)state;
    assert_int_equal(0, cli_parse(&c, &tspec, ARGC(a1), a1, &err));
    assert_int_equal(ERR_CONF, cli_load(&c, &t, &err));
    (void)snprintf(want, sizeof(want), "%s:2: workers: duplicate key (first set on line 1)", path);
    assert_string_equal(want, err.msg);
    cli_free(&c);
    assert_int_equal(0, cli_parse(&c, &tspec, ARGC(a2), a2, &err));
    assert_int_equal(ERR_CONF, cli_load(&c, &t, &err));
    assert_string_equal("--cache-size: 'lots' is not a size (bytes, or a whole number with K, M, "
                        "G or T: 512K, 64G)",
                        err.msg);
    cli_free(&c);
    assert_int_equal(0, cli_parse(&c, &tspec, ARGC(a3), a3, &err));
    assert_int_equal(ERR_CONF, cli_load(&c, &t, &err));
    assert_string_equal("--set workers: '99' is out of range (0..64)", err.msg);
    cli_free(&c);
    assert_int_equal(0, cli_parse(&c, &tspec, ARGC(a4), a4, &err));
    assert_int_equal(ERR_CONF, cli_load(&c, &t, &err));
    assert_string_equal("test: low must be below high", err.msg); /* no file: the binary */
    cli_free(&c);
    assert_null(t.listen);
    assert_int_equal(0, unlink(path));
    xfree(path);
    UNIT_END(live);
}

/* Runs cli_start() and captures what it prints. */
struct run {
    int rc;
    char *out, *err; /* malloc()ed by open_memstream */
    struct tconf conf;
    struct cli cli;
};

static void
run(struct run *r, int argc, char **argv)
{
    size_t on, en;
    FILE *out = open_memstream(&r->out, &on);
    FILE *err = open_memstream(&r->err, &en);

    assert_non_null(out);
    assert_non_null(err);
    memset(&r->conf, 0, sizeof(r->conf));
    r->rc = cli_start(&r->cli, &tspec, argc, argv, &r->conf, out, err);
    assert_int_equal(0, fclose(out));
    assert_int_equal(0, fclose(err));
}

static void
run_done(struct run *r)
{
    free(r->out);
    free(r->err);
}

static void
test_start(void **state)
{
    int64_t live = mem_live();
    char *path = write_temp("workers 2\n");
    char *bad = write_temp("workers 2\nwokers 3\n");
    char *a_run[] = {"test", "-c", path, "--listen", "[::1]:9000"};
    char *a_check[] = {"test", "-c", path, "--check-config"};
    char *a_check_def[] = {"test", "--check-config"};
    char *a_check_bad[] = {"test", "-c", bad, "--check-config"};
    char *a_dump[] = {"test", "-c", path, "--cache-size", "64G", "--dump-config"};
    char *a_version[] = {"test", "--version"};
    char *a_help[] = {"test", "--help"};
    char *a_usage[] = {"test", "--bogus"};
    char want[512], *dump;
    struct run r;
    struct conf_err err;

    (void)state;
    run(&r, ARGC(a_run), a_run);
    assert_int_equal(CLI_CONTINUE, r.rc);
    assert_string_equal("[::1]:9000", r.conf.listen);
    assert_int_equal(2, r.conf.workers);
    assert_string_equal("", r.out);
    conf_free(&ttable, &r.conf);
    cli_free(&r.cli);
    run_done(&r);

    run(&r, ARGC(a_check), a_check);
    assert_int_equal(0, r.rc);
    (void)snprintf(want, sizeof(want), "%s: ok\n", path);
    assert_string_equal(want, r.out);
    assert_string_equal("", r.err);
    run_done(&r);

    run(&r, ARGC(a_check_def), a_check_def);
    assert_int_equal(0, r.rc);
    assert_string_equal("(defaults): ok\n", r.out);
    run_done(&r);

    run(&r, ARGC(a_check_bad), a_check_bad);
    assert_int_equal(2, r.rc);
    assert_string_equal("", r.out);
    (void)snprintf(want, sizeof(want), "%s:2: 'wokers': unknown key (did you mean workers?)\n",
                   bad);
    assert_string_equal(want, r.err);
    assert_null(r.conf.listen);
    run_done(&r);

    run(&r, ARGC(a_dump), a_dump);
    assert_int_equal(0, r.rc);
    {
        struct tconf t = {0};

        assert_int_equal(0, conf_defaults(&ttable, &t, &err));
        t.workers = 2;
        t.size = 64ULL << 30;
        dump = conf_dump(&ttable, &t);
        assert_string_equal(dump, r.out);
        assert_non_null(strstr(r.out, "\ncache.size 64G\n"));
        xfree(dump);
        conf_free(&ttable, &t);
    }
    run_done(&r);

    run(&r, ARGC(a_version), a_version);
    assert_int_equal(0, r.rc);
    assert_string_equal("test " CASCADE_VERSION "\n", r.out);
    run_done(&r);

    run(&r, ARGC(a_help), a_help);
    assert_int_equal(0, r.rc);
    assert_non_null(strstr(r.out, "Usage: test [-c FILE] [OPTION]...\nA test binary.\n"));
    assert_non_null(strstr(r.out, "--check-config"));
    assert_non_null(strstr(r.out, "--cache-size SIZE"));
    assert_non_null(strstr(r.out, "(key cache.size, default 1G)"));
    assert_non_null(strstr(r.out, "test --dump-config"));
    assert_non_null(strstr(r.out, "docs/config.md"));
    run_done(&r);

    run(&r, ARGC(a_usage), a_usage);
    assert_int_equal(2, r.rc);
    assert_string_equal("test: --bogus: unknown option\nTry 'test --help'.\n", r.err);
    run_done(&r);

    assert_int_equal(0, unlink(path));
    assert_int_equal(0, unlink(bad));
    xfree(path);
    xfree(bad);
    UNIT_END(live);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_forms),  cmocka_unit_test(test_parse_actions),
        cmocka_unit_test(test_parse_errors), cmocka_unit_test(test_load_overrides_win),
        cmocka_unit_test(test_load_errors),  cmocka_unit_test(test_start),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
