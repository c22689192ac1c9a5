/*
 * cli.c -- the common command line of cascade-edge and cascade-origin.
 *
 * A small hand-written parser (no getopt_long: we want `--opt=value`,
 * suggestions for misspelt options and error text that names the option,
 * and nothing global). It only records what argv asks for; cli_load()
 * turns that into a configuration, so the same overrides are applied again
 * on every reload.
 *
 * Not here: the key tables and their overrides (edge/edge_conf.c,
 * origin/origin_conf.c), the syntax of values (conf.c).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "err.h"
#include "mem.h"
#include "compat.h"

/* The options every binary has; `key` NULL = not an override. */
enum cli_builtin {
    CLI_OPT_CONFIG = 1,
    CLI_OPT_HELP,
    CLI_OPT_VERSION,
    CLI_OPT_CHECK,
    CLI_OPT_DUMP,
    CLI_OPT_SET,
};

static const struct cli_builtin_opt {
    const char *name;
    const char *alias; /* short form, or NULL */
    enum cli_builtin id;
    const char *metavar; /* NULL = takes no value */
    const char *help;
} cli_builtins[] = {
    {"--config", "-c", CLI_OPT_CONFIG, "FILE", "read the configuration from FILE (default: none)"},
    {"--check-config", NULL, CLI_OPT_CHECK, NULL,
     "load and validate the configuration, print \"FILE: ok\" and exit"},
    {"--dump-config", NULL, CLI_OPT_DUMP, NULL, "print the effective configuration and exit"},
    {"--set", NULL, CLI_OPT_SET, "KEY=VALUE", "set any configuration key"},
    {"--help", "-h", CLI_OPT_HELP, NULL, "print this help and exit"},
    {"--version", NULL, CLI_OPT_VERSION, NULL, "print the version and exit"},
};

static void cli_errf(struct conf_err *err, const char *fmt, ...) PRINTFLIKE(2, 3);

static void
cli_errf(struct conf_err *err, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    (void)vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
}

/* "--listen" matches "--listen" and "--listen=..."; *value gets the part after '='. */
static bool
cli_match(const char *arg, const char *name, const char **value)
{
    size_t n;

    if (name == NULL)
        return false;
    n = strlen(name);
    if (strncmp(arg, name, n) != 0)
        return false;
    if (arg[n] == '\0') {
        *value = NULL;
        return true;
    }
    if (arg[n] == '=') {
        *value = arg + n + 1;
        return true;
    }
    return false;
}

static const char *
cli_suggest(const struct cli_spec *spec, const char *arg)
{
    char name[128];
    const char *best = NULL;
    unsigned best_d = ~0U, d;
    size_t i, n = strcspn(arg, "=");

    if (n >= sizeof(name))
        return NULL;
    memcpy(name, arg, n);
    name[n] = '\0';
    for (i = 0; i < ARRAY_SIZE(cli_builtins); i++) {
        d = conf_distance(name, cli_builtins[i].name);
        if (d < best_d) {
            best_d = d;
            best = cli_builtins[i].name;
        }
    }
    for (i = 0; i < spec->nopts; i++) {
        d = conf_distance(name, spec->opts[i].name);
        if (d < best_d) {
            best_d = d;
            best = spec->opts[i].name;
        }
    }
    return best_d <= 3 && (size_t)best_d * 3 <= n ? best : NULL;
}

static int
cli_add_set(struct cli *c, const char *key, size_t keylen, const char *value, const char *source,
            struct conf_err *err)
{
    size_t i;

    for (i = 0; i < c->nsets; i++) {
        if (strlen(c->sets[i].key) == keylen && strncmp(c->sets[i].key, key, keylen) == 0) {
            cli_errf(err, "%s: %.*s is already set by %s", source, (int)keylen, key,
                     c->sets[i].source);
            return ERR_CONF;
        }
    }
    c->sets = xrealloc(c->sets, (c->nsets + 1) * sizeof(*c->sets));
    c->sets[c->nsets].key = xstrndup(key, keylen);
    c->sets[c->nsets].value = xstrdup(value);
    c->sets[c->nsets].source = xstrdup(source);
    c->nsets++;
    return 0;
}

/* --set KEY=VALUE */
static int
cli_set_any(struct cli *c, const char *kv, struct conf_err *err)
{
    const char *eq = strchr(kv, '='), *near;
    char key[128], source[160];
    size_t n;

    if (eq == NULL || eq == kv) {
        cli_errf(err, "--set: expected KEY=VALUE, got '%.64s'", kv);
        return ERR_CONF;
    }
    n = (size_t)(eq - kv);
    if (n >= sizeof(key)) {
        cli_errf(err, "--set: unknown key '%.64s...'", kv);
        return ERR_CONF;
    }
    memcpy(key, kv, n);
    key[n] = '\0';
    if (conf_key_find(c->spec->table, key) == NULL) {
        near = conf_key_suggest(c->spec->table, key);
        if (near != NULL)
            cli_errf(err, "--set: unknown key '%s' (did you mean %s?)", key, near);
        else
            cli_errf(err, "--set: unknown key '%s'", key);
        return ERR_CONF;
    }
    (void)snprintf(source, sizeof(source), "--set %s", key);
    return cli_add_set(c, key, n, eq + 1, source, err);
}

static int
cli_action_set(struct cli *c, enum cli_action a, const char *opt, struct conf_err *err)
{
    if (c->action != CLI_RUN && c->action != a) {
        cli_errf(err, "%s: cannot be combined with --%s", opt,
                 c->action == CLI_CHECK_CONFIG ? "check-config" : "dump-config");
        return ERR_CONF;
    }
    c->action = a;
    return 0;
}

/* One builtin option, spelt used; value is its argument (NULL for flags). */
static int
cli_builtin(struct cli *c, const struct cli_builtin_opt *b, const char *used, const char *value,
            struct conf_err *err)
{
    switch (b->id) {
    case CLI_OPT_CONFIG:
        AN(value);
        if (c->conf_path != NULL) {
            cli_errf(err, "%s: the configuration file is already given (%s)", used, c->conf_path);
            return ERR_CONF;
        }
        if (value[0] == '\0') {
            cli_errf(err, "%s: empty file name", used);
            return ERR_CONF;
        }
        c->conf_path = xstrdup(value);
        return 0;
    case CLI_OPT_HELP:
        c->action = CLI_HELP;
        return 0;
    case CLI_OPT_VERSION:
        c->action = CLI_VERSION;
        return 0;
    case CLI_OPT_CHECK:
        return cli_action_set(c, CLI_CHECK_CONFIG, used, err);
    case CLI_OPT_DUMP:
        return cli_action_set(c, CLI_DUMP_CONFIG, used, err);
    case CLI_OPT_SET:
        AN(value);
        return cli_set_any(c, value, err);
    }
    return ERR_CONF;
}

/*
 * The value of an option that takes one: after '=' or the next argument.
 * Advances *i past what was used.
 */
static int
cli_value(const char *opt, const char *eqval, int argc, char *const argv[], int *i,
          const char **out, struct conf_err *err)
{
    if (eqval != NULL) {
        *out = eqval;
        return 0;
    }
    if (*i + 1 >= argc) {
        cli_errf(err, "%s: missing value", opt);
        return ERR_CONF;
    }
    (*i)++;
    *out = argv[*i];
    return 0;
}

static int
cli_parse_one(struct cli *c, int argc, char *const argv[], int *i, struct conf_err *err)
{
    const struct cli_spec *spec = c->spec;
    const char *arg = argv[*i], *eqval = NULL, *value = NULL, *near;
    size_t j;

    for (j = 0; j < ARRAY_SIZE(cli_builtins); j++) {
        const struct cli_builtin_opt *b = &cli_builtins[j];
        const char *used;

        if (cli_match(arg, b->name, &eqval))
            used = b->name;
        else if (cli_match(arg, b->alias, &eqval))
            used = b->alias;
        else
            continue;
        if (b->metavar == NULL) {
            if (eqval != NULL) {
                cli_errf(err, "%s: takes no value", used);
                return ERR_CONF;
            }
        } else if (cli_value(used, eqval, argc, argv, i, &value, err) != 0) {
            return ERR_CONF;
        }
        return cli_builtin(c, b, used, value, err);
    }
    for (j = 0; j < spec->nopts; j++) {
        const struct cli_opt *o = &spec->opts[j];

        if (!cli_match(arg, o->name, &eqval))
            continue;
        if (cli_value(o->name, eqval, argc, argv, i, &value, err) != 0)
            return ERR_CONF;
        return cli_add_set(c, o->key, strlen(o->key), value, o->name, err);
    }
    if (arg[0] != '-') {
        cli_errf(err, "unexpected argument '%.64s' (options start with --)", arg);
        return ERR_CONF;
    }
    near = cli_suggest(spec, arg);
    if (near != NULL)
        cli_errf(err, "%.64s: unknown option (did you mean %s?)", arg, near);
    else
        cli_errf(err, "%.64s: unknown option", arg);
    return ERR_CONF;
}

int
cli_parse(struct cli *c, const struct cli_spec *spec, int argc, char *const argv[],
          struct conf_err *err)
{
    size_t j;
    int i;

    AN(spec);
    AN(spec->table);
    memset(c, 0, sizeof(*c));
    c->magic = CLI_MAGIC;
    c->spec = spec;
    c->action = CLI_RUN;
    for (j = 0; j < spec->nopts; j++)
        AN(conf_key_find(spec->table, spec->opts[j].key)); /* a bug in the spec */
    for (i = 1; i < argc; i++) {
        if (cli_parse_one(c, argc, argv, &i, err) != 0)
            return ERR_CONF;
        if (c->action == CLI_HELP || c->action == CLI_VERSION)
            return 0;
    }
    return 0;
}

int
cli_load(const struct cli *c, void *conf, struct conf_err *err)
{
    const struct conf_table *t;
    size_t i;
    int rc;

    CHECK_OBJ_NOTNULL(c, CLI_MAGIC);
    t = c->spec->table;
    rc = conf_defaults(t, conf, err);
    if (rc != 0)
        return rc;
    if (c->conf_path != NULL) {
        rc = conf_load_file(t, conf, c->conf_path, err);
        if (rc != 0)
            goto out_free;
    }
    for (i = 0; i < c->nsets; i++) {
        const struct cli_set *s = &c->sets[i];

        rc = conf_set(t, conf, s->key, s->value, s->source, err);
        if (rc != 0)
            goto out_free;
    }
    rc = conf_validate(t, conf, c->conf_path != NULL ? c->conf_path : t->binary, err);
    if (rc != 0)
        goto out_free;
    return 0;

out_free:
    conf_free(t, conf);
    return rc;
}

static size_t
cli_help_width(const char *name, const char *metavar)
{
    size_t n = strlen(name) + 6; /* "  -c, " or "      " */

    if (metavar != NULL)
        n += 1 + strlen(metavar);
    return n;
}

void
cli_help(const struct cli_spec *spec, FILE *out)
{
    const char *bin = spec->table->binary;
    char left[128];
    size_t w = 0, n, i;

    for (i = 0; i < ARRAY_SIZE(cli_builtins); i++) {
        n = cli_help_width(cli_builtins[i].name, cli_builtins[i].metavar);
        w = n > w ? n : w;
    }
    for (i = 0; i < spec->nopts; i++) {
        n = cli_help_width(spec->opts[i].name, spec->opts[i].metavar);
        w = n > w ? n : w;
    }
    (void)fprintf(out, "Usage: %s [-c FILE] [OPTION]...\n%s\n\nOptions:\n", bin, spec->summary);
    for (i = 0; i < ARRAY_SIZE(cli_builtins); i++) {
        const struct cli_builtin_opt *b = &cli_builtins[i];

        (void)snprintf(left, sizeof(left), "  %s%s%s%s%s", b->alias ? b->alias : "  ",
                       b->alias ? ", " : "  ", b->name, b->metavar ? " " : "",
                       b->metavar ? b->metavar : "");
        (void)fprintf(out, "%-*s  %s\n", (int)w, left, b->help);
    }
    (void)fprintf(out, "\nOverrides (they win over the file, also on reload):\n");
    for (i = 0; i < spec->nopts; i++) {
        const struct cli_opt *o = &spec->opts[i];

        const struct conf_key *k = conf_key_find(spec->table, o->key);

        AN(k);
        (void)snprintf(left, sizeof(left), "      %s %s", o->name, o->metavar);
        (void)fprintf(out, "%-*s  %s (key %s, default %s)\n", (int)w, left, o->help, o->key,
                      k->def[0] != '\0' ? k->def : "empty");
    }
    (void)fprintf(out,
                  "\nEvery configuration key, with its default and help: %s --dump-config\n"
                  "Syntax, units, reload rules and the key list: docs/config.md\n",
                  bin);
}

int
cli_start(struct cli *c, const struct cli_spec *spec, int argc, char *const argv[], void *conf,
          FILE *out, FILE *errf)
{
    const struct conf_table *t = spec->table;
    struct conf_err err;
    char *dump;

    if (cli_parse(c, spec, argc, argv, &err) != 0) {
        (void)fprintf(errf, "%s: %s\nTry '%s --help'.\n", t->binary, err.msg, t->binary);
        cli_free(c);
        return CLI_EXIT_USAGE;
    }
    switch (c->action) {
    case CLI_HELP:
        cli_help(spec, out);
        cli_free(c);
        return 0;
    case CLI_VERSION:
        (void)fprintf(out, "%s %s\n", t->binary, CASCADE_VERSION);
        cli_free(c);
        return 0;
    case CLI_RUN:
    case CLI_CHECK_CONFIG:
    case CLI_DUMP_CONFIG:
        break;
    }
    if (cli_load(c, conf, &err) != 0) {
        (void)fprintf(errf, "%s\n", err.msg);
        cli_free(c);
        return CLI_EXIT_USAGE;
    }
    if (c->action == CLI_RUN)
        return CLI_CONTINUE;
    if (c->action == CLI_CHECK_CONFIG) {
        (void)fprintf(out, "%s: ok\n", c->conf_path != NULL ? c->conf_path : "(defaults)");
    } else {
        dump = conf_dump(t, conf);
        (void)fputs(dump, out);
        xfree(dump);
    }
    conf_free(t, conf);
    cli_free(c);
    return fflush(out) == 0 ? 0 : 1;
}

void
cli_free(struct cli *c)
{
    size_t i;

    if (c->magic != CLI_MAGIC)
        return;
    for (i = 0; i < c->nsets; i++) {
        xfree(c->sets[i].key);
        xfree(c->sets[i].value);
        xfree(c->sets[i].source);
    }
    xfree(c->sets);
    xfree(c->conf_path);
    memset(c, 0, sizeof(*c));
}
