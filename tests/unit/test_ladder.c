/*
 * test_ladder.c -- the ladder definition: the default, the file parser's
 * answers and line numbers, fitting rungs to sources of every size, and
 * the aligned encoder options.
 */
#include "unit.h"

#include <stdbool.h>
#include <string.h>

#include "err.h"
#include "media/ladder.h"
#include "compat.h"

static void
test_ladder_default_is_valid(void **state)
{
    struct ladder l;
    int64_t live = mem_live();

    (void)state;
    ladder_default(&l);
    assert_int_equal(0, ladder_check(&l));
    assert_int_equal(5, l.n_video);
    assert_string_equal("1080p", l.video[0].id);
    assert_int_equal(5000, l.video[0].kbps);
    assert_string_equal("240p", l.video[4].id);
    assert_int_equal(300, l.video[4].kbps);
    assert_int_equal(2, l.n_audio);
    assert_int_equal(128, l.audio[0].kbps);
    assert_int_equal(64, l.audio[1].kbps);
    UNIT_END(live);
}

static void
test_ladder_parse_file(void **state)
{
    static const char text[] = "# a small ladder\n"
                               "preset faster\n"
                               "video hd 720 2500   # comment\n"
                               "\n"
                               "\tvideo sd 360 600\r\n"
                               "audio aac96 96\n";
    struct ladder l;
    unsigned line = 99;
    int64_t live = mem_live();

    (void)state;
    assert_int_equal(0, ladder_parse(&l, text, sizeof(text) - 1, &line));
    assert_int_equal(0, line);
    assert_int_equal(0, ladder_check(&l));
    assert_int_equal(2, l.n_video);
    assert_string_equal("hd", l.video[0].id);
    assert_int_equal(720, l.video[0].height);
    assert_int_equal(2500, l.video[0].kbps);
    assert_string_equal("sd", l.video[1].id);
    assert_int_equal(1, l.n_audio);
    assert_string_equal("faster", l.preset);
    UNIT_END(live);
}

static void
test_ladder_parse_errors_name_the_line(void **state)
{
    static const struct {
        const char *text;
        int rc;
        unsigned line;
    } bad[] = {
        {"video a 720 3000\nvideo b 720 1000\n", ERR_CONF, 2}, /* same height */
        {"video a 360 700\nvideo b 720 3000\n", ERR_CONF, 2},  /* not tallest first */
        {"video a 720 3000\nvideo a 360 700\n", ERR_CONF, 2},  /* duplicate id */
        {"video a 720\n", ERR_CONF, 1},                        /* missing bit rate */
        {"video a 720 3000 x\n", ERR_CONF, 1},                 /* extra word */
        {"video a 32 100\n", ERR_CONF, 1},                     /* too short */
        {"video a 720 -5\n", ERR_CONF, 1},                     /* not a number */
        {"video a/b 720 3000\n", ERR_CONF, 1},                 /* bad id */
        {"video a 720 3000\naudio x 4\n", ERR_CONF, 2},        /* audio too low */
        {"video a 720 3000\npreset turbo\n", ERR_CONF, 2},     /* unknown preset */
        {"video a 720 3000\nvideos b 360 700\n", ERR_CONF, 2}, /* unknown directive */
        {"audio x 64\n", ERR_CONF, 0},                         /* no video rung */
        {"", ERR_CONF, 0},                                     /* empty */
        {"video a 1000 1\nvideo b 900 1\nvideo c 800 1\nvideo d 700 1\nvideo e 600 1\n"
         "video f 500 1\nvideo g 400 1\nvideo h 300 1\nvideo i 200 1\n",
         ERR_LIMIT, 9},
    };
    struct ladder l;
    int64_t live = mem_live();

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        unsigned line = 99;
        int rc = ladder_parse(&l, bad[i].text, strlen(bad[i].text), &line);
        if (rc != bad[i].rc || line != bad[i].line)
            fail_msg("case %zu: rc %d line %u", i, rc, line);
    }
    UNIT_END(live);
}

static void
test_ladder_select_never_upscales(void **state)
{
    struct ladder l;
    struct ladder_pick p[LADDER_MAX_VIDEO];
    int64_t live = mem_live();

    (void)state;
    ladder_default(&l);

    /* 1080p source: every rung. */
    assert_int_equal(5, ladder_select(&l, 1920, 1080, p, LADDER_MAX_VIDEO));
    assert_int_equal(1920, p[0].width);
    assert_int_equal(1080, p[0].height);
    assert_int_equal(1280, p[1].width);
    assert_int_equal(854, p[2].width); /* 853.3, to the nearest even */
    assert_int_equal(480, p[2].height);
    assert_int_equal(426, p[4].width);
    assert_int_equal(240, p[4].height);

    /* 720p source: no 1080p rung. */
    assert_int_equal(4, ladder_select(&l, 1280, 720, p, LADDER_MAX_VIDEO));
    assert_string_equal("720p", p[0].rung->id);

    /* Between rungs: the ones below it. */
    assert_int_equal(2, ladder_select(&l, 640, 400, p, LADDER_MAX_VIDEO));
    assert_string_equal("360p", p[0].rung->id);
    assert_string_equal("240p", p[1].rung->id);

    /* Exactly the floor: the floor rung. */
    assert_int_equal(1, ladder_select(&l, 320, 240, p, LADDER_MAX_VIDEO));
    assert_int_equal(240, p[0].height);

    /* Below the floor: the floor rung at the source's own size. */
    assert_int_equal(1, ladder_select(&l, 176, 145, p, LADDER_MAX_VIDEO));
    assert_string_equal("240p", p[0].rung->id);
    assert_int_equal(144, p[0].height);
    assert_int_equal(176, p[0].width);

    /* Portrait source keeps its aspect. */
    assert_int_equal(5, ladder_select(&l, 1080, 1920, p, LADDER_MAX_VIDEO));
    assert_int_equal(608, p[0].width); /* 1080 * 1080 / 1920 = 607.5 */

    /* cap is honoured, nonsense refused. */
    assert_int_equal(2, ladder_select(&l, 1920, 1080, p, 2));
    assert_int_equal(ERR_INVAL, ladder_select(&l, 0, 1080, p, LADDER_MAX_VIDEO));
    UNIT_END(live);
}

static void
test_ladder_args(void **state)
{
    struct ladder l;
    struct ladder_pick p[LADDER_MAX_VIDEO];
    char buf[1024];
    const char *argv[64];
    int n;
    bool vf = false, kf = false;
    int64_t live = mem_live();

    (void)state;
    ladder_default(&l);
    assert_int_equal(5, ladder_select(&l, 1920, 1080, p, LADDER_MAX_VIDEO));
    n = ladder_video_args(&l, &p[1], 2000, buf, sizeof(buf), argv, 64);
    assert_true(n > 0);
    for (int i = 0; i + 1 < n; i++) {
        if (strcmp(argv[i], "-vf") == 0) {
            assert_string_equal("scale=1280:720", argv[i + 1]);
            vf = true;
        }
        if (strcmp(argv[i], "-force_key_frames") == 0) {
            assert_string_equal("expr:gte(t,n_forced*2.000)", argv[i + 1]);
            kf = true;
        }
        if (strcmp(argv[i], "-b:v") == 0)
            assert_string_equal("3000k", argv[i + 1]);
    }
    assert_true(vf && kf);
    assert_int_equal(ERR_LIMIT, ladder_video_args(&l, &p[1], 2000, buf, 40, argv, 64));
    assert_int_equal(ERR_LIMIT, ladder_video_args(&l, &p[1], 2000, buf, sizeof(buf), argv, 3));
    n = ladder_audio_args(&l.audio[1], buf, sizeof(buf), argv, 64);
    assert_int_equal(6, n);
    assert_string_equal("64k", argv[3]);
    UNIT_END(live);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ladder_default_is_valid),
        cmocka_unit_test(test_ladder_parse_file),
        cmocka_unit_test(test_ladder_parse_errors_name_the_line),
        cmocka_unit_test(test_ladder_select_never_upscales),
        cmocka_unit_test(test_ladder_args),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
