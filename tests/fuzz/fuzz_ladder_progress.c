/*
 * fuzz_ladder_progress.c -- the parser of ffmpeg's -progress stream
 * (origin/ladder_worker.c) on hostile bytes.
 *
 * The first byte picks the size of the pieces the rest is fed in (1 to 64
 * bytes, or all at once). Whatever the split, the parser must report the
 * same blocks as when fed the whole input at once, keep its invariants
 * after every piece, and allocate nothing.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "../../origin/ladder_worker.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fz {
    struct ladder_progress seen[64];
    unsigned n;
};

static void
fz_block(void *arg, const struct ladder_progress *pr)
{
    struct fz *f = arg;

    assert(pr->out_time_us >= -1 && pr->frame >= -1 && pr->speed >= 0);
    if (f->n < 64)
        f->seen[f->n] = *pr;
    f->n++;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ladder_progress_parser a, b;
    struct fz whole, split;
    size_t piece, i;

    if (size < 1)
        return 0;
    piece = data[0] % 65;
    data++;
    size--;
    memset(&whole, 0, sizeof(whole));
    memset(&split, 0, sizeof(split));
    ladder_progress_init(&a);
    (void)ladder_progress_feed(&a, (const char *)data, size, fz_block, &whole);
    ladder_progress_check(&a);
    ladder_progress_init(&b);
    for (i = 0; i < size; i += piece ? piece : size) {
        size_t n = piece && size - i > piece ? piece : size - i;

        (void)ladder_progress_feed(&b, (const char *)data + i, n, fz_block, &split);
        ladder_progress_check(&b);
    }
    assert(whole.n == split.n);
    for (i = 0; i < whole.n && i < 64; i++)
        assert(memcmp(&whole.seen[i], &split.seen[i], sizeof(whole.seen[i])) == 0);
    return 0;
}
