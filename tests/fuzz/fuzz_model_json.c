/*
 * fuzz_model_json.c -- libFuzzer target for the model.json reader.
 *
 * Reads the input; anything accepted must pass model_check(), write back
 * to JSON, read again to a model that writes the same bytes (the round
 * trip edges rely on), render the same MPD as the first model, and go
 * through the HLS writers and the DVR trim without tripping an assertion.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "mem.h"
#include "miniobj.h"
#include "media/model.h"
#include "compat.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Writes m with fn into a fresh buffer; *rc gets the writer's result. */
static char *
fuzz_write_json(const struct model *m, size_t *len)
{
    struct buf b;
    int rc;

    buf_init(&b, MODEL_OUT_MAX);
    rc = model_json_write(m, &b);
    assert(rc == 0); /* accepted models always write */
    return buf_take(&b, len);
}

static char *
fuzz_write_mpd(const struct model *m, const struct model_render *opt)
{
    struct buf b;
    int rc;

    buf_init(&b, MODEL_OUT_MAX);
    rc = model_mpd_write(m, opt, &b);
    assert(rc == 0 || (rc == ERR_INVAL && m->nperiods == 0) || rc == ERR_LIMIT);
    return buf_take(&b, NULL);
}

static void
fuzz_hls(const struct model *m)
{
    const struct model_period *p;
    struct buf b;
    int rc;

    buf_init(&b, MODEL_OUT_MAX);
    rc = model_hls_master_write(m, NULL, &b);
    assert(rc == 0 || (rc == ERR_INVAL && m->nperiods == 0) || rc == ERR_LIMIT);
    if (m->nperiods > 0) {
        p = m->periods[0];
        if (p->nsets > 0) {
            buf_reset(&b);
            rc = model_hls_media_write(m, p->sets[0]->reps[0]->id, &b);
            assert(rc == 0 || rc == ERR_LIMIT);
        }
        buf_reset(&b);
        assert(model_hls_media_write(m, "no such rep!", &b) == ERR_NOTFOUND);
    }
    buf_free(&b);
}

/* Lookups on the first timeline, at a time taken from the model itself. */
static void
fuzz_lookups(const struct model *m)
{
    const struct model_timeline *tl;
    struct model_seg seg, next[4];
    size_t n, i;

    if (m->nperiods == 0 || m->periods[0]->nsets == 0)
        return;
    tl = &m->periods[0]->sets[0]->tl;
    if (tl->nruns == 0)
        return;
    if (model_timeline_find(tl, tl->runs[tl->nruns / 2].t, &seg) == 0) {
        n = model_timeline_next(tl, seg.t, next, 4);
        for (i = 0; i < n; i++)
            assert(next[i].t > seg.t && next[i].number == seg.number + i + 1);
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct model_render fr = {.region = "FR"};
    struct model *m = NULL, *back = NULL;
    char err[256], *j1, *j2, *mpd1, *mpd2;
    size_t len1, len2;
    int rc;

    rc = model_json_read((const char *)data, size, &m, err, sizeof(err));
    if (rc != 0) {
        assert(m == NULL && (rc == ERR_PROTO || rc == ERR_LIMIT) && err[0] != '\0');
        return 0;
    }
    model_check(m);

    j1 = fuzz_write_json(m, &len1);
    rc = model_json_read(j1, len1, &back, err, sizeof(err));
    if (rc != 0) {
        fprintf(stderr, "re-read failed: %s\n", err);
        abort();
    }
    model_check(back);
    j2 = fuzz_write_json(back, &len2);
    assert(len1 == len2 && memcmp(j1, j2, len1) == 0);

    mpd1 = fuzz_write_mpd(m, &fr);
    mpd2 = fuzz_write_mpd(back, &fr);
    assert((mpd1 == NULL) == (mpd2 == NULL));
    assert(mpd1 == NULL || strcmp(mpd1, mpd2) == 0);
    xfree(mpd1);
    xfree(mpd2);
    fuzz_hls(m);
    fuzz_lookups(m);

    m->type = MODEL_DYNAMIC;
    if (m->tsbd_ms == 0)
        m->tsbd_ms = 1000;
    model_trim_dvr(m);
    model_check(m);

    xfree(j1);
    xfree(j2);
    model_free(&back);
    model_free(&m);
    return 0;
}
