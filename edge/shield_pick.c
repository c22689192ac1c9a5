/*
 * shield_pick.c -- a consistent-hash ring of shields with virtual nodes and
 * bounded loads.
 *
 * The ring is two parallel arrays sorted by position: pos[] (searched) and
 * id[] (the member owning each point). Point j of the member named N sits
 * at shield_pick_hash("N#j"); points that collide are ordered by name,
 * then by j, so the ring depends only on the set of (name, weight) pairs.
 * A member's points are merged in when it is added and filtered out when
 * it is removed (a weight change does both: its points 0..n-1 stay, so
 * only keys to or from that member move); marking a member up or down
 * only flips a flag, which is why a down member's keys go to the next
 * point clockwise and no other key moves.
 *
 * Members live in a fixed table, their id being the slot. A member removed
 * while requests are in flight stays DRAINING (off the ring, still
 * accounting its load) until the last release, so an id handed out by
 * shield_pick_acquire() never lands on another member.
 *
 * Owns: the member names, the ring arrays. Pure: no I/O, no clock.
 */
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "mem.h"
#include "shield_pick.h"
#include "compat.h"

enum shield_pick_state {
    SHIELD_PICK_FREE = 0,
    SHIELD_PICK_ACTIVE = 1,   /* on the ring */
    SHIELD_PICK_DRAINING = 2, /* removed, requests still in flight */
};

struct shield_pick_member {
    char *name; /* owned; NULL when FREE */
    size_t name_len;
    uint32_t weight;
    uint32_t points; /* ring points while ACTIVE */
    uint32_t load;   /* requests in flight (acquired, not released) */
    enum shield_pick_state state;
    bool up;
};

struct shield_pick {
    unsigned magic;
#define SHIELD_PICK_MAGIC 0x73706b72U
    struct shield_pick_conf conf;
    struct shield_pick_member m[SHIELD_PICK_MAX_MEMBERS];
    size_t nactive;     /* ACTIVE members */
    size_t nup;         /* ACTIVE and up */
    uint64_t up_weight; /* sum of the weights of ACTIVE, up members */
    uint64_t up_load;   /* sum of the loads of ACTIVE, up members */
    uint64_t *pos;      /* owned; nring sorted ring positions */
    uint16_t *id;       /* owned; the member of each point */
    size_t nring;
};

_Static_assert(SHIELD_PICK_MAX_MEMBERS <= 65536, "ring ids are 16-bit");

#ifdef CASCADE_DEBUG
#define SHIELD_PICK_DCHECK(sp) shield_pick_check(sp)
#else
#define SHIELD_PICK_DCHECK(sp) ((void)0)
#endif

/* ---- the hash ---- */

/* The splitmix64 finalizer: a bijection on 64 bits with full avalanche. */
static uint64_t
shield_pick_mix(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

/*
 * Little-endian 8-byte words, each folded in through the finalizer; the
 * length seeds the state and the last (0..7 byte, zero-padded) word also
 * carries its byte count. Defined byte by byte, so every host and build
 * computes the same value (docs/upstreams.md gives it in full).
 */
uint64_t
shield_pick_hash(const void *p, size_t len)
{
    const uint8_t *b = p;
    uint64_t h = 0x9e3779b97f4a7c15ULL ^ ((uint64_t)len * 0xc2b2ae3d27d4eb4fULL);
    uint64_t w;
    size_t i;

    while (len >= 8) {
        w = 0;
        for (i = 0; i < 8; i++)
            w |= (uint64_t)b[i] << (8 * i);
        h = shield_pick_mix(h ^ w);
        b += 8;
        len -= 8;
    }
    w = (uint64_t)len << 56;
    for (i = 0; i < len; i++)
        w |= (uint64_t)b[i] << (8 * i);
    return shield_pick_mix(h ^ w);
}

/* Position of point j of a member: the hash of "name#j" (j in decimal). */
static uint64_t
shield_pick_point_pos(const struct shield_pick_member *mb, uint32_t j)
{
    char buf[SHIELD_PICK_NAME_MAX + 16], digits[10];
    size_t n = mb->name_len, nd = 0;

    memcpy(buf, mb->name, n);
    buf[n++] = '#';
    do {
        digits[nd++] = (char)('0' + j % 10);
        j /= 10;
    } while (j > 0);
    while (nd > 0)
        buf[n++] = digits[--nd];
    return shield_pick_hash(buf, n);
}

/* ---- the ring ---- */

struct shield_pick_pt {
    uint64_t pos;
    uint32_t j;
};

static int
shield_pick_pt_cmp(const void *a, const void *b)
{
    const struct shield_pick_pt *x = a, *y = b;

    if (x->pos != y->pos)
        return x->pos < y->pos ? -1 : 1;
    return x->j < y->j ? -1 : (x->j > y->j ? 1 : 0);
}

static uint32_t
shield_pick_points_for(const struct shield_pick *sp, uint32_t weight)
{
    uint64_t n = ((uint64_t)sp->conf.vnodes * weight + 50) / 100;

    return n == 0 ? 1 : (uint32_t)n;
}

/* True when ring point (pos, id a) sorts before a point (pos, id b): by position, then name. */
static bool
shield_pick_before(const struct shield_pick *sp, uint64_t pa, uint16_t a, uint64_t pb, uint16_t b)
{
    if (pa != pb)
        return pa < pb;
    return strcmp(sp->m[a].name, sp->m[b].name) < 0;
}

/*
 * Merges member k's points into the ring: O(ring + points log points), so
 * adding N members one by one at start-up stays cheap. The order is by
 * position, then name, then point index: a function of the member set.
 */
static void
shield_pick_ring_insert(struct shield_pick *sp, uint16_t k)
{
    struct shield_pick_member *mb = &sp->m[k];
    struct shield_pick_pt *pt;
    uint64_t *pos;
    uint16_t *id;
    size_t n = sp->nring + mb->points, a = 0, b = 0, o = 0;
    uint32_t j;

    pt = xmalloc(mb->points * sizeof(*pt));
    for (j = 0; j < mb->points; j++) {
        pt[j].pos = shield_pick_point_pos(mb, j);
        pt[j].j = j;
    }
    qsort(pt, mb->points, sizeof(*pt), shield_pick_pt_cmp);
    pos = xmalloc(n * sizeof(*pos));
    id = xmalloc(n * sizeof(*id));
    while (a < sp->nring || b < mb->points) {
        if (b == mb->points ||
            (a < sp->nring && shield_pick_before(sp, sp->pos[a], sp->id[a], pt[b].pos, k))) {
            pos[o] = sp->pos[a];
            id[o++] = sp->id[a++];
        } else {
            pos[o] = pt[b++].pos;
            id[o++] = k;
        }
    }
    assert(o == n);
    xfree(pt);
    xfree(sp->pos);
    xfree(sp->id);
    sp->pos = pos;
    sp->id = id;
    sp->nring = n;
}

/* Takes member k's points off the ring, in place. */
static void
shield_pick_ring_drop(struct shield_pick *sp, uint16_t k)
{
    size_t a, o = 0;

    for (a = 0; a < sp->nring; a++) {
        if (sp->id[a] == k)
            continue;
        sp->pos[o] = sp->pos[a];
        sp->id[o++] = sp->id[a];
    }
    sp->nring = o;
}

/* Index of the first point at or after h, wrapping to 0. nring > 0. */
static size_t
shield_pick_seek(const struct shield_pick *sp, uint64_t h)
{
    size_t lo = 0, hi = sp->nring, mid;

    while (lo < hi) {
        mid = lo + (hi - lo) / 2;
        if (sp->pos[mid] < h)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo == sp->nring ? 0 : lo;
}

/* ---- members ---- */

void
shield_pick_conf_defaults(struct shield_pick_conf *c)
{
    c->vnodes = 160;
    c->balance_pct = 150;
}

struct shield_pick *
shield_pick_new(const struct shield_pick_conf *conf, int *err)
{
    struct shield_pick_conf def;
    struct shield_pick *sp;

    if (conf == NULL) {
        shield_pick_conf_defaults(&def);
        conf = &def;
    }
    if (conf->vnodes < 1 || conf->vnodes > SHIELD_PICK_VNODES_MAX ||
        (conf->balance_pct != 0 && conf->balance_pct < 100)) {
        if (err != NULL)
            *err = ERR_INVAL;
        return NULL;
    }
    sp = xcalloc(1, sizeof(*sp));
    sp->magic = SHIELD_PICK_MAGIC;
    sp->conf = *conf;
    if (err != NULL)
        *err = 0;
    return sp;
}

void
shield_pick_free(struct shield_pick **psp)
{
    struct shield_pick *sp = *psp;
    size_t k;

    if (sp == NULL)
        return;
    *psp = NULL;
    CHECK_OBJ(sp, SHIELD_PICK_MAGIC);
    for (k = 0; k < SHIELD_PICK_MAX_MEMBERS; k++)
        xfree(sp->m[k].name);
    xfree(sp->pos);
    xfree(sp->id);
    FREE_OBJ(sp);
}

/* Slot of a non-FREE member called name, or -1. */
static int
shield_pick_slot(const struct shield_pick *sp, const char *name, size_t len)
{
    size_t k;

    for (k = 0; k < SHIELD_PICK_MAX_MEMBERS; k++)
        if (sp->m[k].state != SHIELD_PICK_FREE && sp->m[k].name_len == len &&
            memcmp(sp->m[k].name, name, len) == 0)
            return (int)k;
    return -1;
}

static void
shield_pick_member_up_sums(struct shield_pick *sp, const struct shield_pick_member *mb, int sign)
{
    if (sign > 0) {
        sp->nup++;
        sp->up_weight += mb->weight;
        sp->up_load += mb->load;
    } else {
        assert(sp->nup > 0 && sp->up_weight >= mb->weight && sp->up_load >= mb->load);
        sp->nup--;
        sp->up_weight -= mb->weight;
        sp->up_load -= mb->load;
    }
}

int
shield_pick_add(struct shield_pick *sp, const char *name, uint32_t weight)
{
    struct shield_pick_member *mb;
    size_t len;
    int k;

    CHECK_OBJ_NOTNULL(sp, SHIELD_PICK_MAGIC);
    len = strnlen(name, SHIELD_PICK_NAME_MAX + 1);
    if (len == 0 || len > SHIELD_PICK_NAME_MAX || weight < 1 || weight > SHIELD_PICK_WEIGHT_MAX)
        return ERR_INVAL;
    k = shield_pick_slot(sp, name, len);
    if (k >= 0 && sp->m[k].state == SHIELD_PICK_ACTIVE)
        return ERR_EXISTS;
    if (k < 0) {
        for (k = 0; k < SHIELD_PICK_MAX_MEMBERS; k++)
            if (sp->m[k].state == SHIELD_PICK_FREE)
                break;
        if (k == SHIELD_PICK_MAX_MEMBERS)
            return ERR_LIMIT;
        mb = &sp->m[k];
        mb->name = xstrndup(name, len);
        mb->name_len = len;
        mb->load = 0;
    }
    mb = &sp->m[k];
    mb->weight = weight;
    mb->points = shield_pick_points_for(sp, weight);
    mb->state = SHIELD_PICK_ACTIVE;
    mb->up = true;
    sp->nactive++;
    shield_pick_member_up_sums(sp, mb, +1);
    shield_pick_ring_insert(sp, (uint16_t)k);
    SHIELD_PICK_DCHECK(sp);
    return k;
}

static void
shield_pick_member_clear(struct shield_pick_member *mb)
{
    xfree(mb->name);
    memset(mb, 0, sizeof(*mb));
}

int
shield_pick_remove(struct shield_pick *sp, const char *name)
{
    struct shield_pick_member *mb;
    int k;

    CHECK_OBJ_NOTNULL(sp, SHIELD_PICK_MAGIC);
    k = shield_pick_find(sp, name);
    if (k < 0)
        return k;
    mb = &sp->m[k];
    if (mb->up)
        shield_pick_member_up_sums(sp, mb, -1);
    shield_pick_ring_drop(sp, (uint16_t)k);
    sp->nactive--;
    mb->up = false;
    mb->points = 0;
    if (mb->load > 0)
        mb->state = SHIELD_PICK_DRAINING;
    else
        shield_pick_member_clear(mb);
    SHIELD_PICK_DCHECK(sp);
    return 0;
}

int
shield_pick_set_weight(struct shield_pick *sp, const char *name, uint32_t weight)
{
    struct shield_pick_member *mb;
    int k;

    CHECK_OBJ_NOTNULL(sp, SHIELD_PICK_MAGIC);
    if (weight < 1 || weight > SHIELD_PICK_WEIGHT_MAX)
        return ERR_INVAL;
    k = shield_pick_find(sp, name);
    if (k < 0)
        return k;
    mb = &sp->m[k];
    if (mb->up)
        sp->up_weight = sp->up_weight - mb->weight + weight;
    mb->weight = weight;
    shield_pick_ring_drop(sp, (uint16_t)k);
    mb->points = shield_pick_points_for(sp, weight);
    shield_pick_ring_insert(sp, (uint16_t)k);
    SHIELD_PICK_DCHECK(sp);
    return 0;
}

int
shield_pick_find(const struct shield_pick *sp, const char *name)
{
    size_t len;
    int k;

    CHECK_OBJ_NOTNULL(sp, SHIELD_PICK_MAGIC);
    len = strnlen(name, SHIELD_PICK_NAME_MAX + 1);
    k = shield_pick_slot(sp, name, len);
    if (k < 0 || sp->m[k].state != SHIELD_PICK_ACTIVE)
        return ERR_NOTFOUND;
    return k;
}

static struct shield_pick_member *
shield_pick_member(const struct shield_pick *sp, int id)
{
    CHECK_OBJ_NOTNULL(sp, SHIELD_PICK_MAGIC);
    assert(id >= 0 && id < SHIELD_PICK_MAX_MEMBERS);
    return (struct shield_pick_member *)&sp->m[id];
}

void
shield_pick_set_up(struct shield_pick *sp, int id, bool up)
{
    struct shield_pick_member *mb = shield_pick_member(sp, id);

    assert(mb->state == SHIELD_PICK_ACTIVE);
    if (mb->up == up)
        return;
    if (up) {
        mb->up = true;
        shield_pick_member_up_sums(sp, mb, +1);
    } else {
        shield_pick_member_up_sums(sp, mb, -1);
        mb->up = false;
    }
    SHIELD_PICK_DCHECK(sp);
}

bool
shield_pick_is_up(const struct shield_pick *sp, int id)
{
    return shield_pick_member(sp, id)->up;
}

const char *
shield_pick_name(const struct shield_pick *sp, int id)
{
    const struct shield_pick_member *mb = shield_pick_member(sp, id);

    assert(mb->state != SHIELD_PICK_FREE);
    return mb->name;
}

/* ---- picking ---- */

int
shield_pick_home(const struct shield_pick *sp, const void *key, size_t len)
{
    size_t i, k;
    uint16_t id;

    CHECK_OBJ_NOTNULL(sp, SHIELD_PICK_MAGIC);
    if (sp->nup == 0)
        return ERR_NOTFOUND;
    i = shield_pick_seek(sp, shield_pick_hash(key, len));
    for (k = 0; k < sp->nring; k++) {
        id = sp->id[(i + k) % sp->nring];
        if (sp->m[id].up)
            return id;
    }
    assert(0 && "an up member has no ring point");
    return ERR_NOTFOUND;
}

size_t
shield_pick_order(const struct shield_pick *sp, const void *key, size_t len, int *ids, size_t max)
{
    uint8_t seen[SHIELD_PICK_MAX_MEMBERS / 8];
    size_t i, k, n = 0;
    uint16_t id;

    CHECK_OBJ_NOTNULL(sp, SHIELD_PICK_MAGIC);
    if (sp->nup == 0 || max == 0)
        return 0;
    memset(seen, 0, sizeof(seen));
    i = shield_pick_seek(sp, shield_pick_hash(key, len));
    for (k = 0; k < sp->nring && n < max && n < sp->nup; k++) {
        id = sp->id[(i + k) % sp->nring];
        if (!sp->m[id].up || (seen[id / 8] & (1u << (id % 8))) != 0)
            continue;
        seen[id / 8] |= (uint8_t)(1u << (id % 8));
        ids[n++] = id;
    }
    return n;
}

uint64_t
shield_pick_cap(const struct shield_pick *sp, int id)
{
    const struct shield_pick_member *mb = shield_pick_member(sp, id);
    uint64_t num, den;

    if (sp->conf.balance_pct == 0)
        return UINT64_MAX;
    if (!mb->up || mb->state != SHIELD_PICK_ACTIVE || sp->up_weight == 0)
        return 0;
    /* ceil(c * (L + 1) * w / W), c = balance_pct / 100; no overflow: L < 2^40. */
    num = (uint64_t)sp->conf.balance_pct * (sp->up_load + 1) * mb->weight;
    den = 100 * sp->up_weight;
    return (num + den - 1) / den;
}

int
shield_pick_acquire(struct shield_pick *sp, const void *key, size_t len)
{
    uint8_t seen[SHIELD_PICK_MAX_MEMBERS / 8];
    struct shield_pick_member *mb;
    size_t i, k, tried = 0;
    int pick = ERR_NOTFOUND;
    uint16_t id;

    CHECK_OBJ_NOTNULL(sp, SHIELD_PICK_MAGIC);
    if (sp->nup == 0)
        return ERR_NOTFOUND;
    if (sp->conf.balance_pct == 0) {
        pick = shield_pick_home(sp, key, len);
    } else {
        memset(seen, 0, sizeof(seen));
        i = shield_pick_seek(sp, shield_pick_hash(key, len));
        for (k = 0; k < sp->nring && tried < sp->nup; k++) {
            id = sp->id[(i + k) % sp->nring];
            if (!sp->m[id].up || (seen[id / 8] & (1u << (id % 8))) != 0)
                continue;
            seen[id / 8] |= (uint8_t)(1u << (id % 8));
            tried++;
            if ((uint64_t)sp->m[id].load + 1 <= shield_pick_cap(sp, id)) {
                pick = id;
                break;
            }
        }
        /* The caps of the up members add up to at least L + 1 > L: one has room. */
        assert(pick >= 0);
    }
    mb = &sp->m[pick];
    assert(mb->load < UINT32_MAX);
    mb->load++;
    sp->up_load++;
    return pick;
}

void
shield_pick_release(struct shield_pick *sp, int id)
{
    struct shield_pick_member *mb = shield_pick_member(sp, id);

    assert(mb->state != SHIELD_PICK_FREE && mb->load > 0);
    mb->load--;
    if (mb->state == SHIELD_PICK_ACTIVE && mb->up) {
        assert(sp->up_load > 0);
        sp->up_load--;
    }
    if (mb->state == SHIELD_PICK_DRAINING && mb->load == 0)
        shield_pick_member_clear(mb);
}

uint32_t
shield_pick_load(const struct shield_pick *sp, int id)
{
    return shield_pick_member(sp, id)->load;
}

uint64_t
shield_pick_load_total(const struct shield_pick *sp)
{
    CHECK_OBJ_NOTNULL(sp, SHIELD_PICK_MAGIC);
    return sp->up_load;
}

size_t
shield_pick_count(const struct shield_pick *sp)
{
    CHECK_OBJ_NOTNULL(sp, SHIELD_PICK_MAGIC);
    return sp->nactive;
}

size_t
shield_pick_points(const struct shield_pick *sp)
{
    CHECK_OBJ_NOTNULL(sp, SHIELD_PICK_MAGIC);
    return sp->nring;
}

void
shield_pick_check(const struct shield_pick *sp)
{
    uint32_t pts[SHIELD_PICK_MAX_MEMBERS];
    const struct shield_pick_member *mb;
    uint64_t w = 0, l = 0, total = 0;
    size_t k, j, nactive = 0, nup = 0;

    CHECK_OBJ_NOTNULL(sp, SHIELD_PICK_MAGIC);
    assert(sp->conf.vnodes >= 1 && sp->conf.vnodes <= SHIELD_PICK_VNODES_MAX);
    assert(sp->conf.balance_pct == 0 || sp->conf.balance_pct >= 100);
    memset(pts, 0, sizeof(pts));
    for (k = 0; k < sp->nring; k++) {
        assert(sp->id[k] < SHIELD_PICK_MAX_MEMBERS);
        assert(sp->m[sp->id[k]].state == SHIELD_PICK_ACTIVE);
        pts[sp->id[k]]++;
        if (k > 0) {
            assert(sp->pos[k - 1] <= sp->pos[k]);
            if (sp->pos[k - 1] == sp->pos[k] && sp->id[k - 1] != sp->id[k])
                assert(strcmp(sp->m[sp->id[k - 1]].name, sp->m[sp->id[k]].name) < 0);
        }
    }
    for (k = 0; k < SHIELD_PICK_MAX_MEMBERS; k++) {
        mb = &sp->m[k];
        switch (mb->state) {
        case SHIELD_PICK_FREE:
            assert(mb->name == NULL && mb->load == 0 && !mb->up && pts[k] == 0);
            continue;
        case SHIELD_PICK_DRAINING:
            assert(mb->load > 0 && !mb->up && pts[k] == 0);
            break;
        case SHIELD_PICK_ACTIVE:
            nactive++;
            assert(mb->weight >= 1 && mb->weight <= SHIELD_PICK_WEIGHT_MAX);
            assert(mb->points == shield_pick_points_for(sp, mb->weight));
            assert(pts[k] == mb->points);
            total += mb->points;
            if (mb->up) {
                nup++;
                w += mb->weight;
                l += mb->load;
            }
            break;
        default:
            assert(0 && "bad member state");
        }
        assert(mb->name != NULL && mb->name_len == strlen(mb->name));
        assert(mb->name_len >= 1 && mb->name_len <= SHIELD_PICK_NAME_MAX);
        for (j = k + 1; j < SHIELD_PICK_MAX_MEMBERS; j++)
            assert(sp->m[j].state == SHIELD_PICK_FREE || strcmp(sp->m[j].name, mb->name) != 0);
    }
    assert(total == sp->nring);
    assert(nactive == sp->nactive);
    assert(nup == sp->nup);
    assert(w == sp->up_weight);
    assert(l == sp->up_load);
}
