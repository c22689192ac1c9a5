/*
 * fuzz_pkg_fmp4.c -- the packager's fragmented-MP4 reader on hostile bytes.
 *
 * The first byte picks the track kind and the size of the pieces the rest
 * is fed in (1 to 64 bytes, or all at once), so box framing is exercised
 * across every split. The reader must answer with one of its documented
 * codes, stay failed once failed, keep pkg_check() true, and every
 * output must be well-formed; nothing may be left allocated. pkg.c and
 * pkg_cfg.c are compiled in for coverage (libavformat's mov demuxer, which
 * the reader runs on whole fragments, is not instrumented).
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "../../origin/pkg.c"
#include "../../origin/pkg_cfg.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
ff_out(void *arg, const struct pkg_out *o)
{
    int *inits = arg;

    assert(o->data != NULL && o->len > 8);
    if (o->kind == PKG_OUT_INIT) {
        (*inits)++;
        return 0;
    }
    assert(*inits > 0);
    assert(o->kind == PKG_OUT_SEGMENT && o->d > 0 && o->samples > 0);
    assert(memcmp(o->data + 4, "styp", 4) == 0);
    return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int quiet;
    struct pkg_fmp4_params fp = {.max_box = 1 << 20, .stream = "fz"};
    struct pkg_fmp4 *f;
    int64_t live = mem_live();
    size_t pos, n, chunk;
    int inits = 0, rc, failed = 0;

    if (!quiet) {
        log_set_level(LOG_CRIT);
        av_log_set_level(AV_LOG_QUIET);
        quiet = 1;
    }
    if (size < 1)
        return 0;
    fp.track = (data[0] & 0x80) ? PKG_AUDIO : PKG_VIDEO;
    chunk = data[0] & 0x3f;
    if (pkg_fmp4_new(&f, &fp, ff_out, &inits) != 0)
        abort();
    for (pos = 1; pos < size; pos += n) {
        n = chunk == 0 || size - pos < chunk ? size - pos : chunk;
        rc = pkg_fmp4_feed(f, data + pos, n);
        assert(rc == 0 || rc == ERR_PROTO || rc == ERR_MEDIA || rc == ERR_LIMIT);
        assert(!failed || rc == ERR_MEDIA);
        failed = failed || rc != 0;
        pkg_check(f->pkg);
    }
    rc = pkg_fmp4_end(f);
    assert(rc == 0 || rc == ERR_PROTO || rc == ERR_MEDIA);
    pkg_fmp4_free(&f);
    assert(mem_live() == live);
    return 0;
}
