/*
 * err.c -- names and texts for Cascade's error codes and for -errno.
 */
#include <errno.h>
#include <string.h>

#include "err.h"
#include "compat.h"

static const struct err_entry {
    int code;
    const char *name;
    const char *text;
} err_table[] = {
    {ERR_AGAIN, "ERR_AGAIN", "need more input"},
    {ERR_PROTO, "ERR_PROTO", "protocol violation"},
    {ERR_LIMIT, "ERR_LIMIT", "limit exceeded"},
    {ERR_NOTFOUND, "ERR_NOTFOUND", "not found"},
    {ERR_STORE, "ERR_STORE", "storage failure"},
    {ERR_UPSTREAM, "ERR_UPSTREAM", "upstream failure"},
    {ERR_CONF, "ERR_CONF", "invalid configuration"},
    {ERR_EXISTS, "ERR_EXISTS", "already exists"},
    {ERR_TIMEOUT, "ERR_TIMEOUT", "timed out"},
    {ERR_CLOSED, "ERR_CLOSED", "closed"},
    {ERR_FAULT, "ERR_FAULT", "injected fault"},
    {ERR_INVAL, "ERR_INVAL", "invalid argument"},
    {ERR_MEDIA, "ERR_MEDIA", "media error"},
    {ERR_AUTH, "ERR_AUTH", "not authorized"},
};

static const struct err_entry *
err_lookup(int err)
{
    size_t i;

    for (i = 0; i < sizeof(err_table) / sizeof(err_table[0]); i++)
        if (err_table[i].code == err)
            return &err_table[i];
    return NULL;
}

const char *
err_str(int err)
{
    const struct err_entry *e;

    if (err == 0)
        return "success";
    e = err_lookup(err);
    if (e != NULL)
        return e->text;
    if (err < 0 && err > -4096)
        return strerror(-err); /* glibc: static table for known errno */
    return "unknown error";
}

const char *
err_name(int err)
{
    const struct err_entry *e;

    if (err == 0)
        return "OK";
    e = err_lookup(err);
    if (e != NULL)
        return e->name;
    if (err < 0 && err > -4096) {
        const char *n = strerrorname_np(-err);
        if (n != NULL)
            return n;
    }
    return "EUNKNOWN";
}
