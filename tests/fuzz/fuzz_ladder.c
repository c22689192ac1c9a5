/*
 * fuzz_ladder.c -- ladder_parse() on arbitrary bytes. Whatever parses must
 * pass ladder_check(), fit any source size, and give encoder options.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "err.h"
#include "media/ladder.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint32_t src[][2] = {{1920, 1080}, {176, 144}, {2, 2}, {1080, 1920}};
    struct ladder l;
    struct ladder_pick p[LADDER_MAX_VIDEO];
    unsigned line;
    char buf[1024];
    const char *argv[64];

    if (ladder_parse(&l, (const char *)data, size, &line) != 0)
        return 0;
    if (ladder_check(&l) != 0)
        abort();
    for (size_t i = 0; i < sizeof(src) / sizeof(src[0]); i++) {
        int n = ladder_select(&l, src[i][0], src[i][1], p, LADDER_MAX_VIDEO);
        if (n < 1)
            abort();
        for (int j = 0; j < n; j++) {
            if (p[j].height > src[i][1] + 1 || p[j].width < 2 || (p[j].width & 1) != 0)
                abort();
            if (ladder_video_args(&l, &p[j], 2000, buf, sizeof(buf), argv, 64) <= 0)
                abort();
        }
    }
    for (unsigned i = 0; i < l.n_audio; i++)
        if (ladder_audio_args(&l.audio[i], buf, sizeof(buf), argv, 64) <= 0)
            abort();
    return 0;
}
