/*
 * ratelimit.c -- token buckets in a fixed open-addressing table
 * (ratelimit.h).
 *
 * Tokens are kept in milli-tokens (integers) so refills never drift.
 * A slot is found by probing RATELIMIT_PROBE slots from the key's hash;
 * a slot whose hash is 0 is free. Not here: which keys (api_proxy.c),
 * locking (api_proxy.c).
 */
#include <stdint.h>
#include <string.h>

#include "ratelimit.h"
#include "mem.h"
#include "compat.h"

#define RATELIMIT_PROBE 8
#define RATELIMIT_SLOTS_MIN 16

struct ratelimit_slot {
    uint64_t hash;  /* 0: free */
    uint64_t milli; /* tokens x 1000 at last_ms */
    uint64_t last_ms;
};

struct ratelimit {
    unsigned magic;
#define RATELIMIT_MAGIC 0x72746c6dU
    uint64_t seed;
    uint32_t rate, burst;
    size_t mask;
    size_t used;
    struct ratelimit_slot *slots; /* owned: mask + 1 of them */
};

/* FNV-1a over the seed and the key, finished with a 64-bit mixer. */
static uint64_t
ratelimit_hash(uint64_t seed, const void *key, size_t len)
{
    const unsigned char *p = key;
    uint64_t h = 0xcbf29ce484222325ull ^ seed;
    size_t i;

    for (i = 0; i < len; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return h != 0 ? h : 1;
}

struct ratelimit *
ratelimit_new(size_t slots, uint32_t rate, uint32_t burst, uint64_t seed)
{
    struct ratelimit *rl;
    size_t n = RATELIMIT_SLOTS_MIN;

    while (n < slots && n < ((size_t)1 << 30))
        n <<= 1;
    rl = xcalloc(1, sizeof(*rl));
    rl->magic = RATELIMIT_MAGIC;
    rl->seed = seed;
    rl->mask = n - 1;
    rl->slots = xcalloc(n, sizeof(*rl->slots));
    ratelimit_set(rl, rate, burst);
    return rl;
}

void
ratelimit_free(struct ratelimit **prl)
{
    struct ratelimit *rl = *prl;

    *prl = NULL;
    if (rl == NULL)
        return;
    CHECK_OBJ(rl, RATELIMIT_MAGIC);
    xfree(rl->slots);
    FREE_OBJ(rl);
}

void
ratelimit_set(struct ratelimit *rl, uint32_t rate, uint32_t burst)
{
    CHECK_OBJ_NOTNULL(rl, RATELIMIT_MAGIC);
    rl->rate = rate;
    rl->burst = burst > 0 ? burst : 1;
}

static void
ratelimit_refill(const struct ratelimit *rl, struct ratelimit_slot *s, uint64_t now_ms)
{
    uint64_t cap = (uint64_t)rl->burst * 1000, gap;

    if (now_ms > s->last_ms) {
        /* rate tokens per second = rate milli-tokens per ms; a gap long
         * enough to fill the bucket fills it (and cannot overflow) */
        gap = now_ms - s->last_ms;
        if (gap >= cap / rl->rate + 1)
            s->milli = cap;
        else
            s->milli += gap * rl->rate;
        s->last_ms = now_ms;
    }
    if (s->milli > cap)
        s->milli = cap;
}

bool
ratelimit_take(struct ratelimit *rl, const void *key, size_t len, uint64_t now_ms,
               uint32_t *retry_after_s)
{
    struct ratelimit_slot *s, *victim = NULL;
    uint64_t h, need;
    size_t i;

    CHECK_OBJ_NOTNULL(rl, RATELIMIT_MAGIC);
    if (rl->rate == 0)
        return true;
    h = ratelimit_hash(rl->seed, key, len);
    for (i = 0; i < RATELIMIT_PROBE; i++) {
        s = &rl->slots[(h + i) & rl->mask];
        if (s->hash == h)
            goto found;
        if (s->hash == 0) {
            if (victim == NULL || victim->hash != 0)
                victim = s;
        } else if (victim == NULL || (victim->hash != 0 && s->last_ms < victim->last_ms)) {
            victim = s;
        }
    }
    AN(victim);
    if (victim->hash == 0)
        rl->used++;
    s = victim;
    s->hash = h;
    s->milli = (uint64_t)rl->burst * 1000;
    s->last_ms = now_ms;
found:
    ratelimit_refill(rl, s, now_ms);
    if (s->milli >= 1000) {
        s->milli -= 1000;
        return true;
    }
    if (retry_after_s != NULL) {
        need = 1000 - s->milli;                  /* milli-tokens missing; rate per ms */
        need = (need + rl->rate - 1) / rl->rate; /* ms */
        *retry_after_s = (uint32_t)((need + 999) / 1000);
        if (*retry_after_s == 0)
            *retry_after_s = 1;
    }
    return false;
}

size_t
ratelimit_count(const struct ratelimit *rl)
{
    CHECK_OBJ_NOTNULL(rl, RATELIMIT_MAGIC);
    return rl->used;
}

void
ratelimit_check(const struct ratelimit *rl)
{
    size_t i, used = 0;

    CHECK_OBJ_NOTNULL(rl, RATELIMIT_MAGIC);
    assert(((rl->mask + 1) & rl->mask) == 0);
    assert(rl->burst >= 1);
    for (i = 0; i <= rl->mask; i++) {
        if (rl->slots[i].hash != 0)
            used++;
        else
            assert(rl->slots[i].milli == 0 && rl->slots[i].last_ms == 0);
    }
    assert(used == rl->used);
}
