/*
 * test_vod_plan.c -- the map step's pure parts: the scene pass's text,
 * scene scoring and the engaging rule, chunk plans (uniform and at scene
 * cuts, within bounds), query strings and the device rules of frames.
 */
#include <stdio.h>
#include <string.h>

#include "unit.h"
#include "err.h"
#include "media/model.h"
#include "../../origin/vod_plan.c"

struct frames {
    int64_t t[64];
    double s[64];
    size_t n;
};

static void
frames_cb(void *arg, int64_t t_ms, double score)
{
    struct frames *f = arg;

    assert_true(f->n < 64);
    f->t[f->n] = t_ms;
    f->s[f->n] = score;
    f->n++;
}

static void
test_vod_scan_every_split(void **state)
{
    int64_t live = mem_live();
    static const char text[] = "frame:0    pts:0       pts_time:0\n"
                               "lavfi.scene_score=0.000000\n"
                               "some other line ffmpeg printed\n"
                               "frame:1    pts:512     pts_time:0.0416667\r\n"
                               "lavfi.scene_score=0.745583\r\n"
                               "lavfi.scene_score=0.9\n" /* no frame line before it: ignored */
                               "frame:2    pts:1024    pts_time:2.5\n"
                               "lavfi.scene_score=1.000000\n";

    (void)state;
    for (size_t step = 1; step <= sizeof(text) - 1; step++) {
        struct vod_scan s;
        struct frames f = {.n = 0};

        vod_scan_init(&s);
        for (size_t off = 0; off < sizeof(text) - 1; off += step) {
            size_t n = sizeof(text) - 1 - off < step ? sizeof(text) - 1 - off : step;

            assert_int_equal((long)n,
                             vod_scan_feed(&s, (const uint8_t *)text + off, n, frames_cb, &f));
            vod_scan_check(&s);
        }
        assert_int_equal(3, f.n);
        assert_int_equal(0, f.t[0]);
        assert_int_equal(42, f.t[1]);
        assert_int_equal(2500, f.t[2]);
        assert_true(f.s[1] > 0.74 && f.s[1] < 0.75);
    }
    UNIT_END(live);
}

static void
test_vod_scan_errors(void **state)
{
    int64_t live = mem_live();
    static const char *bad[] = {
        "frame:1 pts:1\n",
        "frame:1 pts:1 pts_time:abc\n",
        "frame:1 pts:1 pts_time:1\nlavfi.scene_score=2\n",
        "frame:1 pts:1 pts_time:-1\n",
    };
    struct frames f = {.n = 0};
    struct vod_scan s;
    char longline[VOD_SCAN_LINE_MAX * 2 + 2];

    (void)state;
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        vod_scan_init(&s);
        assert_int_equal(ERR_PROTO,
                         vod_scan_feed(&s, (const uint8_t *)bad[i], strlen(bad[i]), frames_cb, &f));
    }
    /* An overlong line is skipped, not an error. */
    memset(longline, 'x', sizeof(longline));
    longline[sizeof(longline) - 1] = '\n';
    vod_scan_init(&s);
    assert_int_equal((long)sizeof(longline),
                     vod_scan_feed(&s, (const uint8_t *)longline, sizeof(longline), frames_cb, &f));
    vod_scan_check(&s);
    assert_int_equal(0, f.n);
    UNIT_END(live);
}

static const struct vod_scene_params sp = {300, 6, 60};

static void
test_vod_scenes_engaging_rule(void **state)
{
    int64_t live = mem_live();
    struct vod_scenes sc;

    (void)state;
    /* 60 s at 10 fps, calm, cuts at 10, 10.2 (settling: ignored), 20, 30 s: 3 per minute. */
    vod_scenes_init(&sc);
    for (int i = 0; i < 600; i++) {
        int64_t t = i * 100;
        double s = (t == 10000 || t == 20000 || t == 30000) ? 0.8 : t == 10200 ? 0.5 : 0.01;

        vod_scenes_frame(&sc, &sp, t, s);
    }
    vod_scenes_finish(&sc, &sp, 60000);
    assert_int_equal(4, sc.n);
    assert_int_equal(3, sc.cuts);
    assert_int_equal(10000, sc.v[1].start_ms);
    assert_int_equal(10000, sc.v[1].dur_ms);
    assert_int_equal(30000, sc.v[3].dur_ms);
    assert_false(sc.engaging); /* 3 cuts/min < 6, motion 0.01 < 0.06 */
    assert_true(sc.v[1].engagement > sc.v[0].engagement);
    assert_true(sc.v[1].engagement <= 1.0);
    vod_scenes_free(&sc);

    /* Same cuts, lots of motion: engaging by motion. */
    vod_scenes_init(&sc);
    for (int i = 0; i < 600; i++)
        vod_scenes_frame(&sc, &sp, i * 100, i == 100 ? 0.9 : 0.1);
    vod_scenes_finish(&sc, &sp, 60000);
    assert_true(sc.engaging);
    vod_scenes_free(&sc);

    /* No frames at all: one scene, not engaging. */
    vod_scenes_init(&sc);
    vod_scenes_finish(&sc, &sp, 5000);
    assert_int_equal(1, sc.n);
    assert_int_equal(5000, sc.v[0].dur_ms);
    assert_false(sc.engaging);
    vod_scenes_free(&sc);
    UNIT_END(live);
}

static void
test_vod_plan_uniform(void **state)
{
    int64_t live = mem_live();
    struct vod_plan_params p = {2000, 6000, 2000, 8000, 20};
    int64_t keys[15];
    size_t out[16];
    int n;

    (void)state;
    for (int i = 0; i < 15; i++)
        keys[i] = 2000 * i; /* a keyframe every 2 s, 30 s */
    n = vod_plan_chunks(keys, 15, 30000, NULL, 0, false, &p, out, 16);
    assert_int_equal(5, n);
    for (int i = 0; i < n; i++)
        assert_int_equal(3 * i, out[i]); /* 0 6 12 18 24 s */
    /* A 2 s tail joins the chunk before. */
    n = vod_plan_chunks(keys, 13, 26000, NULL, 0, false, &p, out, 16);
    assert_int_equal(4, n);
    /* Keyframes a hair early still count (tolerance). */
    keys[3] = 5990;
    n = vod_plan_chunks(keys, 15, 30000, NULL, 0, false, &p, out, 16);
    assert_int_equal(3, out[1]);
    assert_int_equal(ERR_INVAL, vod_plan_chunks(keys, 0, 0, NULL, 0, false, &p, out, 16));
    UNIT_END(live);
}

static void
test_vod_plan_scene_cuts(void **state)
{
    int64_t live = mem_live();
    struct vod_plan_params p = {2000, 6000, 2000, 8000, 20};
    /* Keyframes every 2 s and at the cuts 3, 7, 7.5, 21 s; 30 s long. */
    int64_t keys[] = {0,     2000,  3000,  4000,  6000,  7000,  7500,  8000,  10000, 12000,
                      14000, 16000, 18000, 20000, 21000, 22000, 24000, 26000, 28000};
    int64_t cuts[] = {1000, 3000, 7500, 21000, 29000};
    size_t out[32];
    int n;

    (void)state;
    n = vod_plan_chunks(keys, ARRAY_SIZE(keys), 30000, cuts, ARRAY_SIZE(cuts), true, &p, out, 32);
    /* 0 -> 3 (a cut; the one at 1 s is under min), 3 -> 7.5 (the key at 7 is no cut),
     * 7.5 -> no cut in [9.5, 15.5]: uniform, the first key at or after 13.5 = 14,
     * 14 -> 21 (a cut in [16, 22]), 21 -> the cut at 29 has no keyframe: uniform 28;
     * the 2 s tail is not under min, so it stays a chunk. */
    assert_int_equal(6, n);
    assert_int_equal(3000, keys[out[1]]);
    assert_int_equal(7500, keys[out[2]]);
    assert_int_equal(14000, keys[out[3]]);
    assert_int_equal(21000, keys[out[4]]);
    assert_int_equal(28000, keys[out[5]]);
    /* Every chunk within [min, max] but the last. */
    for (int i = 1; i < n; i++) {
        int64_t len = keys[out[i]] - keys[out[i - 1]];

        assert_true(len >= 2000 && len <= 8000);
    }
    UNIT_END(live);
}

static void
test_vod_query_and_devices(void **state)
{
    int64_t live = mem_live();
    char out[32];
    struct vod_device d;

    (void)state;
    assert_int_equal(3, vod_query_get("user=ann&t=7.5", "user", out, sizeof(out)));
    assert_string_equal("ann", out);
    assert_int_equal(3, vod_query_get("user=ann&t=7.5", "t", out, sizeof(out)));
    assert_int_equal(6, vod_query_get("agent=a%20b+c%2F", "agent", out, sizeof(out)));
    assert_string_equal("a b c/", out);
    assert_int_equal(0, vod_query_get("users=x", "user", out, sizeof(out)));
    assert_int_equal(0, vod_query_get(NULL, "user", out, sizeof(out)));
    assert_int_equal(ERR_PROTO, vod_query_get("a=%2", "a", out, sizeof(out)));
    assert_int_equal(ERR_PROTO, vod_query_get("a=%00", "a", out, sizeof(out)));
    assert_int_equal(ERR_LIMIT, vod_query_get("a=0123456789", "a", out, 5));

    vod_device_classify("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0) Mobile Safari", &d);
    assert_string_equal("phone", d.kind);
    assert_int_equal(720, d.max_height);
    vod_device_classify("Mozilla/5.0 (Linux; Android 14; Pixel) Mobile Chrome", &d);
    assert_string_equal("phone", d.kind);
    vod_device_classify("Mozilla/5.0 (iPad; CPU OS 17_0) Safari", &d);
    assert_string_equal("tablet", d.kind);
    vod_device_classify("Mozilla/5.0 (SMART-TV; Tizen 7.0)", &d);
    assert_string_equal("tv", d.kind);
    assert_int_equal(0, d.max_height);
    vod_device_classify("Mozilla/5.0 (X11; Linux x86_64) Chrome/120", &d);
    assert_string_equal("desktop", d.kind);
    assert_int_equal(1080, d.max_height);
    UNIT_END(live);
}

static void
test_vod_device_pick(void **state)
{
    int64_t live = mem_live();
    struct model *m = model_new();
    struct model_period *p;
    struct model_aset *s;
    struct model_rep *r;
    struct vod_device d;
    static const uint32_t h[] = {1080, 720, 480, 240};
    char id[8];

    (void)state;
    assert_int_equal(0, model_period_add(m, "0", 0, &p));
    assert_int_equal(0, model_aset_add(p, 0, MODEL_VIDEO, "video/mp4", "avc", 90000, &s));
    for (size_t i = 0; i < ARRAY_SIZE(h); i++) {
        (void)snprintf(id, sizeof(id), "%up", h[i]);
        assert_int_equal(0, model_rep_add(s, id, "avc1.64001f", 1000 * h[i], &r));
        r->height = h[i];
    }
    vod_device_classify("iPhone Mobile", &d);
    assert_string_equal("720p", vod_device_pick(s, &d)->id);
    vod_device_classify("SMART-TV", &d);
    assert_string_equal("1080p", vod_device_pick(s, &d)->id);
    d.max_height = 100; /* below every rung: the shortest */
    assert_string_equal("240p", vod_device_pick(s, &d)->id);
    model_free(&m);
    UNIT_END(live);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vod_scan_every_split),
        cmocka_unit_test(test_vod_scan_errors),
        cmocka_unit_test(test_vod_scenes_engaging_rule),
        cmocka_unit_test(test_vod_plan_uniform),
        cmocka_unit_test(test_vod_plan_scene_cuts),
        cmocka_unit_test(test_vod_query_and_devices),
        cmocka_unit_test(test_vod_device_pick),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
