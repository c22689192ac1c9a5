/*
 * fuzz_conf.c -- libFuzzer target for the configuration parser.
 *
 * Parses any text with a table that has a key of every type. Whatever the
 * result, the snapshot must pass conf_check() and an error must carry a
 * message; after a success, dump -> parse -> dump must be identical and
 * the re-parsed snapshot equal for the reload check. The first line is
 * also fed to conf_set() as "key value", and the whole input (up to a
 * line) to the value helpers.
 *
 * conf.c is compiled into this target (not taken from cascade_shared) so
 * that it carries libFuzzer's coverage instrumentation, which the library
 * build does not add.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../shared/conf.c"
#include "conf.h"
#include "err.h"
#include "mem.h"
#include "compat.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fconf {
    bool flag;
    int64_t count;
    int64_t any;
    uint64_t size;
    uint64_t big;
    uint64_t wait;
    uint64_t ever;
    char *name;
    int mode;
    char *listen;
    char *peers;
};

static const char *const fuzz_modes[] = {"slow", "fast", "off", NULL};

static const struct conf_key fuzz_keys[] = {
    {"flag", CONF_BOOL, offsetof(struct fconf, flag), "off", 0, 0, NULL, true, "Bool."},
    {"count", CONF_INT, offsetof(struct fconf, count), "4", -10, 64, NULL, true, "Int."},
    {"any", CONF_INT, offsetof(struct fconf, any), "0", 0, 0, NULL, false, "Unbounded int."},
    {"http.size", CONF_SIZE, offsetof(struct fconf, size), "32K", 1024, 1LL << 30, NULL, true,
     "Size."},
    {"cache.size", CONF_SIZE, offsetof(struct fconf, big), "1G", 16LL << 20, 0, NULL, false,
     "Size, lower bound only."},
    {"http.wait", CONF_DURATION, offsetof(struct fconf, wait), "10s", 100, 3600LL * 1000, NULL,
     true, "Duration."},
    {"ever", CONF_DURATION, offsetof(struct fconf, ever), "0s", 0, 0, NULL, true,
     "Unbounded duration."},
    {"name", CONF_STRING, offsetof(struct fconf, name), "a b", 0, 0, NULL, true, "String."},
    {"mode", CONF_ENUM, offsetof(struct fconf, mode), "fast", 0, 0, fuzz_modes, false, "Enum."},
    {"listen", CONF_ADDR, offsetof(struct fconf, listen), "127.0.0.1:8081", 0, 0, NULL, false,
     "Address."},
    {"upstream", CONF_ADDR_LIST, offsetof(struct fconf, peers), "127.0.0.1:8080", 0, 0, NULL, true,
     "Address list."},
};

static const struct conf_table fuzz_table = {
    .binary = "fuzz",
    .keys = fuzz_keys,
    .nkeys = sizeof(fuzz_keys) / sizeof(fuzz_keys[0]),
    .size = sizeof(struct fconf),
};

static void
fuzz_roundtrip(const struct fconf *c)
{
    struct fconf d = {0}, e = {0};
    struct conf_err err;
    char *a, *b;

    a = conf_dump(&fuzz_table, c);
    AZ(conf_defaults(&fuzz_table, &d, &err));
    if (conf_parse(&fuzz_table, &d, "dump", a, strlen(a), &err) != 0)
        abort(); /* a dump must always parse */
    conf_check(&fuzz_table, &d);
    b = conf_dump(&fuzz_table, &d);
    if (strcmp(a, b) != 0)
        abort();
    AZ(conf_reload_check(&fuzz_table, c, &d, &err));
    conf_copy(&fuzz_table, &e, &d);
    AZ(conf_reload_check(&fuzz_table, &d, &e, &err));
    conf_free(&fuzz_table, &e);
    conf_free(&fuzz_table, &d);
    xfree(a);
    xfree(b);
}

/* The first line as "key value" through conf_set(). */
static void
fuzz_set(struct fconf *c, const uint8_t *data, size_t size)
{
    struct conf_err err;
    char line[CONF_LINE_MAX + 1], *sp;
    size_t n = 0;
    int rc;

    while (n < size && n < CONF_LINE_MAX && data[n] != '\n')
        n++;
    memcpy(line, data, n);
    line[n] = '\0';
    sp = strchr(line, ' ');
    if (sp == NULL)
        return;
    *sp = '\0';
    rc = conf_set(&fuzz_table, c, line, sp + 1, NULL, &err);
    assert(rc == 0 || (rc == ERR_CONF && err.msg[0] != '\0'));
    conf_check(&fuzz_table, c);
    if (rc == 0)
        fuzz_roundtrip(c);
}

static void
fuzz_helpers(const uint8_t *data, size_t size)
{
    char s[CONF_LINE_MAX + 1], host[CONF_HOST_MAX + 1];
    uint64_t v;
    uint16_t port;
    size_t n = size < CONF_LINE_MAX ? size : CONF_LINE_MAX;
    int rc;

    memcpy(s, data, n);
    s[n] = '\0';
    rc = conf_parse_size(s, &v);
    assert(rc == 0 || rc == ERR_INVAL);
    assert(rc != 0 || v <= (uint64_t)INT64_MAX);
    rc = conf_parse_duration(s, &v);
    assert(rc == 0 || rc == ERR_INVAL);
    rc = conf_split_addr(s, host, sizeof(host), &port);
    assert(rc == 0 || rc == ERR_INVAL || rc == ERR_LIMIT);
    assert(rc != 0 || port != 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fconf c = {0};
    struct conf_err err;
    int rc;

    AZ(conf_defaults(&fuzz_table, &c, &err));
    err.msg[0] = '\0';
    rc = conf_parse(&fuzz_table, &c, "fuzz", (const char *)data, size, &err);
    assert(rc == 0 || rc == ERR_CONF);
    assert(rc == 0 || strncmp(err.msg, "fuzz", 4) == 0);
    conf_check(&fuzz_table, &c);
    if (rc == 0)
        fuzz_roundtrip(&c);
    fuzz_set(&c, data, size);
    fuzz_helpers(data, size);
    conf_free(&fuzz_table, &c);
    return 0;
}
