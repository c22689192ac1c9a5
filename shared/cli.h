/*
 * cli.h -- the command line both binaries share (DESIGN.md section 6).
 *
 *   cascade-edge [-c FILE] [--check-config | --dump-config] [--listen ADDR:PORT] ...
 *
 * Common options: -c/--config FILE, -h/--help, --version, --check-config
 * (load, validate, print "FILE: ok", exit 0), --dump-config (print the
 * effective configuration: defaults, then the file, then the overrides),
 * and --set KEY=VALUE for any key. Each binary adds a table of overrides
 * mapping a long option to a key ({"--listen", "listen"}). Options take
 * their value as `--opt value` or `--opt=value`.
 *
 * Overrides win over the file, and keep winning on every reload: the
 * struct cli keeps them, and cli_load() (used at start and on SIGHUP)
 * applies defaults, file, overrides and the cross-key rules, in that order.
 *
 * Exit codes: 0 for success, 2 for a usage error or a bad configuration
 * (the message names the option, or FILE:LINE).
 *
 * A main stays short:
 *
 *     struct cli cli;
 *     struct edge_conf conf = {0};
 *     int rc = cli_start(&cli, &edge_cli_spec, argc, argv, &conf, stdout, stderr);
 *     if (rc != CLI_CONTINUE)
 *         return rc;          (--help, --version, --check-config, --dump-config, errors)
 *     ... run; on SIGHUP: struct edge_conf next = {0}; cli_load(&cli, &next, &err) ...
 *     conf_free(&edge_conf_table, &conf);
 *     cli_free(&cli);
 *
 * Not here: the key tables (edge/edge_conf.c, origin/origin_conf.c), the
 * syntax (conf.c), signals.
 */
#ifndef CASCADE_CLI_H
#define CASCADE_CLI_H

#include <stddef.h>
#include <stdio.h>

#include "conf.h"
#include "miniobj.h"

/* An option that sets one key: --cache-size 64G sets cache.size. */
struct cli_opt {
    const char *name;    /* "--cache-size" */
    const char *key;     /* "cache.size": a key of the spec's table */
    const char *metavar; /* "SIZE" */
    const char *help;    /* one line for --help */
};

struct cli_spec {
    const char *summary; /* one line under Usage: in --help */
    const struct conf_table *table;
    const struct cli_opt *opts;
    size_t nopts;
};

enum cli_action {
    CLI_RUN = 1,      /* start the node */
    CLI_HELP,         /* -h, --help */
    CLI_VERSION,      /* --version */
    CLI_CHECK_CONFIG, /* --check-config */
    CLI_DUMP_CONFIG,  /* --dump-config */
};

/* One override, in command-line order. */
struct cli_set {
    char *key;    /* owned: a key of the table */
    char *value;  /* owned */
    char *source; /* owned: "--listen" or "--set listen", for messages */
};

struct cli {
    unsigned magic;
#define CLI_MAGIC 0x636c6921U
    const struct cli_spec *spec; /* borrowed; static */
    enum cli_action action;
    char *conf_path;      /* owned; NULL = no file, defaults only */
    struct cli_set *sets; /* owned, nsets of them */
    size_t nsets;
};

/* cli_start() returns this when the node should run. */
#define CLI_CONTINUE (-1)
#define CLI_EXIT_USAGE 2

/*
 * Parse argv into c (which the caller need not initialise; cli_free() it
 * afterwards whatever the result). Checks the options and that every key
 * exists; values are checked by cli_load(). -h/--help and --version stop
 * the parse at once. Returns 0, or ERR_CONF with err naming the option.
 */
int cli_parse(struct cli *c, const struct cli_spec *spec, int argc, char *const argv[],
              struct conf_err *err) WARN_UNUSED;

/*
 * The effective configuration: defaults, then the -c file, then every
 * override in order, then the table's cross-key rules. conf must be zeroed
 * (or conf_free()d). On error conf holds no strings and err says
 * FILE:LINE or the option.
 */
int cli_load(const struct cli *c, void *conf, struct conf_err *err) WARN_UNUSED;

/*
 * cli_parse() + cli_load(), and the actions that end the process: prints
 * help, the version, "FILE: ok" or the dump to out and errors to errf.
 * Returns CLI_CONTINUE with conf loaded when the node should run (the
 * caller then owns conf's strings and c: keep c for reloads, cli_free() it
 * at exit), else the exit status, with c freed and conf holding no
 * strings: nothing to clean up.
 */
int cli_start(struct cli *c, const struct cli_spec *spec, int argc, char *const argv[], void *conf,
              FILE *out, FILE *errf) WARN_UNUSED;

/* The --help text. */
void cli_help(const struct cli_spec *spec, FILE *out);

void cli_free(struct cli *c);

#endif
