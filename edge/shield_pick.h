/*
 * shield_pick.h -- which shield fetches an object: consistent hashing with
 * virtual nodes and bounded loads.
 *
 * Every edge builds the same ring from the same shield names and weights
 * (no random seed, no dependence on the order shields were added), so an
 * object's normalized cache key leads every edge to the same shield and
 * the origin sees one fetch per object for the whole tier. Adding or
 * removing one of N shields moves about 1/N of the keys, and only to or
 * from that shield. A shield marked down keeps its place on the ring; its
 * keys go to the next shield clockwise, spread over all the others by the
 * virtual nodes, and come back when it is marked up.
 *
 * Bounded loads (Mirrokni, Thorup, Zadimoghaddam, "Consistent Hashing with
 * Bounded Loads", SODA 2018): with balance factor c, no shield is given
 * more than ceil(c * (L + 1) * w / W) requests in flight, L being the
 * requests in flight over all up shields and w/W the shield's share of the
 * up weight. A pick that would exceed it walks on to the next shield on
 * the ring with room. Loads are this edge's own in-flight counts, so the
 * cap only bites under a hot spot; docs/upstreams.md has the numbers.
 *
 * Pure: no I/O, no clock, no libevent; one struct per event loop (not
 * thread-safe). Not here: health (which marks shields down), the fetch.
 */
#ifndef CASCADE_SHIELD_PICK_H
#define CASCADE_SHIELD_PICK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "miniobj.h"

#define SHIELD_PICK_MAX_MEMBERS 256
#define SHIELD_PICK_NAME_MAX 255 /* bytes of a member name ("host:port") */
#define SHIELD_PICK_WEIGHT_DEFAULT 100
#define SHIELD_PICK_WEIGHT_MAX 1000 /* 10x a default member */
#define SHIELD_PICK_VNODES_MAX 1024 /* points of a default-weight member */

struct shield_pick_conf {
    /* Ring points for a member of weight 100; a member gets
     * round(vnodes * weight / 100), at least 1. 1..SHIELD_PICK_VNODES_MAX. */
    uint32_t vnodes;
    /* c in percent: 0 turns the load bound off, otherwise >= 100. */
    uint32_t balance_pct;
};

/* vnodes 160, balance_pct 150. */
void shield_pick_conf_defaults(struct shield_pick_conf *c);

struct shield_pick;

/* conf NULL: defaults. NULL with ERR_INVAL in *err when conf is out of range. */
struct shield_pick *shield_pick_new(const struct shield_pick_conf *conf, int *err);
void shield_pick_free(struct shield_pick **psp);

/*
 * Adds a member, up, with weight 1..SHIELD_PICK_WEIGHT_MAX. Returns its id
 * (>= 0, stable until it is removed and drained), or ERR_EXISTS, ERR_INVAL
 * (empty or too long a name, bad weight), ERR_LIMIT (SHIELD_PICK_MAX_MEMBERS).
 * Re-adding a name that was removed while requests were still in flight
 * revives the same id with its load.
 */
int shield_pick_add(struct shield_pick *sp, const char *name, uint32_t weight) WARN_UNUSED;

/* Takes name off the ring. Its id stays valid for shield_pick_release()
 * until its in-flight requests are released. 0 or ERR_NOTFOUND. */
int shield_pick_remove(struct shield_pick *sp, const char *name) WARN_UNUSED;

/* Changes a member's weight (rebuilds the ring). 0, ERR_NOTFOUND, ERR_INVAL. */
int shield_pick_set_weight(struct shield_pick *sp, const char *name, uint32_t weight) WARN_UNUSED;

/* The id of a member on the ring, or ERR_NOTFOUND. */
int shield_pick_find(const struct shield_pick *sp, const char *name);

/* Marks a member up or down (health). Its ring points stay where they are. */
void shield_pick_set_up(struct shield_pick *sp, int id, bool up);
bool shield_pick_is_up(const struct shield_pick *sp, int id);

/* Name of id; borrowed until the member is freed (removed and drained). */
const char *shield_pick_name(const struct shield_pick *sp, int id);

/*
 * The home shield of key (the first up member clockwise from the key's
 * hash), ignoring loads: what every edge agrees on. ERR_NOTFOUND when no
 * member is up.
 */
int shield_pick_home(const struct shield_pick *sp, const void *key, size_t len);

/*
 * Up to max distinct up members in ring order from key's hash: the home
 * first, then where its keys go if it fails (retry order). Returns the
 * count written to ids.
 */
size_t shield_pick_order(const struct shield_pick *sp, const void *key, size_t len, int *ids,
                         size_t max);

/*
 * Picks the shield for one request under the load bound and counts it as
 * in flight: the first up member in ring order whose load stays within
 * its cap. Returns the id, to hand back to shield_pick_release() when the
 * request ends, or ERR_NOTFOUND when no member is up.
 */
int shield_pick_acquire(struct shield_pick *sp, const void *key, size_t len) WARN_UNUSED;
void shield_pick_release(struct shield_pick *sp, int id);

/* In-flight requests of id, and over all up members. */
uint32_t shield_pick_load(const struct shield_pick *sp, int id);
uint64_t shield_pick_load_total(const struct shield_pick *sp);
/* The most requests id may have in flight right now, the next one included. */
uint64_t shield_pick_cap(const struct shield_pick *sp, int id);

/* Members on the ring (up or down) and ring points. */
size_t shield_pick_count(const struct shield_pick *sp);
size_t shield_pick_points(const struct shield_pick *sp);

/* The 64-bit hash used for keys and ring points (stable across builds and hosts). */
uint64_t shield_pick_hash(const void *p, size_t len);

/* Asserts the invariants: sorted ring, per-member point counts, load sums. */
void shield_pick_check(const struct shield_pick *sp);

#endif
