/*
 * fuzz_shield_pick.c -- random membership changes, health flips, weights,
 * acquires and releases on the shield ring, checked after every step.
 *
 * The input is a program: a conf (vnodes, balance factor), then one op a
 * byte, with its operands in the bytes that follow. After each op
 * shield_pick_check() runs, and the op's own promise is checked against a
 * reference computed the slow way: a key's home is the up member with the
 * nearest point clockwise from the key's hash (ties to the smaller name);
 * marking another member down never moves a key; an acquire lands on the
 * first member in ring order with room under the cap, which is the home
 * whenever the home has room.
 *
 * edge/ is not in a library, so the module is included.
 */
#include <stdint.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "../../edge/shield_pick.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FZ_NAMES 16
#define FZ_HELD 512

struct fz {
    const uint8_t *p;
    size_t n;
};

static uint8_t
fz_byte(struct fz *f)
{
    uint8_t b;

    if (f->n == 0)
        return 0;
    b = f->p[0];
    f->p++;
    f->n--;
    return b;
}

static void
fz_name(char *buf, size_t sz, uint8_t b)
{
    snprintf(buf, sz, "shield-%u:8081", (unsigned)(b % FZ_NAMES));
}

/* A key of 0..31 bytes taken from the input. */
static size_t
fz_key(struct fz *f, uint8_t *key)
{
    size_t len = fz_byte(f) % 32, i;

    for (i = 0; i < len; i++)
        key[i] = fz_byte(f);
    return len;
}

/* The home the slow way: nearest point clockwise over every up member. */
static int
fz_ref_home(const struct shield_pick *sp, const uint8_t *key, size_t len)
{
    uint64_t h = shield_pick_hash(key, len), d, best = UINT64_MAX;
    const struct shield_pick_member *mb;
    int k, win = ERR_NOTFOUND;
    uint32_t j;

    for (k = 0; k < SHIELD_PICK_MAX_MEMBERS; k++) {
        mb = &sp->m[k];
        if (mb->state != SHIELD_PICK_ACTIVE || !mb->up)
            continue;
        for (j = 0; j < mb->points; j++) {
            d = shield_pick_point_pos(mb, j) - h;
            if (win < 0 || d < best || (d == best && strcmp(mb->name, sp->m[win].name) < 0)) {
                best = d;
                win = k;
            }
        }
    }
    return win;
}

static void
fz_acquire(struct shield_pick *sp, const uint8_t *key, size_t len, int *held, size_t *nheld)
{
    uint64_t caps[SHIELD_PICK_MAX_MEMBERS];
    uint32_t loads[SHIELD_PICK_MAX_MEMBERS];
    int order[SHIELD_PICK_MAX_MEMBERS], home, r, want = ERR_NOTFOUND;
    size_t n, i;

    home = shield_pick_home(sp, key, len);
    n = shield_pick_order(sp, key, len, order, ARRAY_SIZE(order));
    for (i = 0; i < n; i++) {
        caps[i] = shield_pick_cap(sp, order[i]);
        loads[i] = shield_pick_load(sp, order[i]);
        if (want < 0 && (uint64_t)loads[i] + 1 <= caps[i])
            want = order[i];
    }
    r = shield_pick_acquire(sp, key, len);
    if (home < 0) {
        assert(r == ERR_NOTFOUND && n == 0);
        return;
    }
    assert(n >= 1 && order[0] == home);
    assert(r >= 0 && shield_pick_is_up(sp, r));
    assert(r == want); /* the first in ring order with room; home when it has room */
    if (*nheld == FZ_HELD) {
        shield_pick_release(sp, held[0]);
        --*nheld;
        held[0] = held[*nheld];
    }
    held[(*nheld)++] = r;
}

static void
fz_down_invariant(struct shield_pick *sp, const uint8_t *key, size_t len, uint8_t b)
{
    int order[SHIELD_PICK_MAX_MEMBERS], home, x;
    char name[32];
    size_t n;

    home = shield_pick_home(sp, key, len);
    fz_name(name, sizeof(name), b);
    x = shield_pick_find(sp, name);
    if (home < 0 || x < 0 || !shield_pick_is_up(sp, x))
        return;
    n = shield_pick_order(sp, key, len, order, ARRAY_SIZE(order));
    shield_pick_set_up(sp, x, false);
    if (x != home)
        assert(shield_pick_home(sp, key, len) == home);
    else if (n >= 2)
        assert(shield_pick_home(sp, key, len) == order[1]);
    else
        assert(shield_pick_home(sp, key, len) == ERR_NOTFOUND);
    shield_pick_set_up(sp, x, true);
    assert(shield_pick_home(sp, key, len) == home);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz f = {data, size};
    struct shield_pick_conf c;
    struct shield_pick *sp;
    int held[FZ_HELD], rc, id;
    size_t nheld = 0, len;
    uint8_t key[32], op, b;
    char name[32];
    uint32_t w;

    c.vnodes = 1 + fz_byte(&f) % 24;
    b = fz_byte(&f);
    c.balance_pct = b < 32 ? 0 : 100 + (uint32_t)(b - 32) * 2;
    sp = shield_pick_new(&c, &rc);
    assert(sp != NULL && rc == 0);
    while (f.n > 0) {
        op = fz_byte(&f);
        switch (op % 8) {
        case 0:
            fz_name(name, sizeof(name), fz_byte(&f));
            w = fz_byte(&f) % 12; /* 0 and 11: invalid on purpose (x100 below) */
            rc = shield_pick_add(sp, name, w == 11 ? SHIELD_PICK_WEIGHT_MAX + 1 : w * 10);
            assert(rc >= 0 || rc == ERR_EXISTS || rc == ERR_INVAL);
            if (rc >= 0)
                assert(shield_pick_find(sp, name) == rc && shield_pick_is_up(sp, rc));
            break;
        case 1:
            fz_name(name, sizeof(name), fz_byte(&f));
            rc = shield_pick_remove(sp, name);
            assert(rc == 0 || rc == ERR_NOTFOUND);
            assert(shield_pick_find(sp, name) == ERR_NOTFOUND);
            break;
        case 2:
            fz_name(name, sizeof(name), fz_byte(&f));
            id = shield_pick_find(sp, name);
            if (id >= 0)
                shield_pick_set_up(sp, id, !shield_pick_is_up(sp, id));
            break;
        case 3:
            len = fz_key(&f, key);
            fz_acquire(sp, key, len, held, &nheld);
            break;
        case 4:
            if (nheld > 0) {
                size_t i = fz_byte(&f) % nheld;

                shield_pick_release(sp, held[i]);
                nheld--;
                held[i] = held[nheld];
            }
            break;
        case 5:
            len = fz_key(&f, key);
            assert(shield_pick_home(sp, key, len) == fz_ref_home(sp, key, len));
            break;
        case 6:
            b = fz_byte(&f);
            len = fz_key(&f, key);
            fz_down_invariant(sp, key, len, b);
            break;
        default:
            fz_name(name, sizeof(name), fz_byte(&f));
            w = 1 + fz_byte(&f) % 30;
            rc = shield_pick_set_weight(sp, name, w * 10);
            assert(rc == 0 || rc == ERR_NOTFOUND);
            break;
        }
        shield_pick_check(sp);
    }
    while (nheld > 0)
        shield_pick_release(sp, held[--nheld]);
    assert(shield_pick_load_total(sp) == 0);
    shield_pick_check(sp);
    shield_pick_free(&sp);
    return 0;
}
