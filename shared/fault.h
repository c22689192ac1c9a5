/*
 * fault.h -- named fault points for tests (SQLite faultsim, curl torture).
 *
 *   rc = FAULT("store.put") ? MDB_MAP_FULL : mdb_put(txn, dbi, &k, &v, 0);
 *
 * FAULT() is compiled in only when CASCADE_FAULTS is defined (test builds);
 * otherwise it is the constant 0 and the optimizer removes the branch. The
 * functions below exist in every build, so tools and tests link either way.
 *
 * A point is armed to fail its Nth hit (1-based, counted from the arming)
 * or every hit from the Nth on; every hit is counted, armed or not, so a
 * runner can learn how many hits a scenario makes and then fail each in
 * turn. Points may be armed at start from the environment, read once on
 * the first call into this module: CASCADE_FAULT="store.put=3,http1.accept=1+"
 * (a malformed value is logged and aborts: a fault run that silently
 * injects nothing would pass for the wrong reason).
 *
 * Points live in a fixed table of FAULT_MAX_POINTS; a name is registered
 * on its first hit or arming. Names are [A-Za-z0-9_.-]{1,47}. A hit costs a
 * scan of the registered names and two relaxed atomics; nothing allocates.
 */
#ifndef CASCADE_FAULT_H
#define CASCADE_FAULT_H

#include <stdbool.h>
#include <stdint.h>

#include "miniobj.h"

#define FAULT_MAX_POINTS 64
#define FAULT_NAME_MAX 47

/* Counts a hit of name; true when this hit must fail. Aborts when the
 * table is full or the name is invalid (a bug in the build, not the run). */
bool fault_hit(const char *name);
#ifdef CASCADE_FAULTS
#define FAULT(name) fault_hit(name)
#else
#define FAULT(name) false
#endif

/*
 * Fail hit number nth (1-based, counted from now) of name; sticky means
 * that hit and all later ones. Re-arming replaces the previous arming.
 * ERR_INVAL for nth 0 or a bad name, ERR_LIMIT when the table is full.
 */
int fault_arm(const char *name, uint64_t nth, bool sticky) WARN_UNUSED;
void fault_disarm_all(void);
/* Tests: disarm every point and zero its counts (names stay registered). */
void fault_reset(void);
/* Hits of name so far (0 for an unknown point). */
uint64_t fault_hits(const char *name);
/* Times name actually failed. */
uint64_t fault_fired(const char *name);
/*
 * Parses "a=3,b=1+" (the CASCADE_FAULT format: comma-separated name=N or
 * name=N+, N a decimal >= 1, no spaces; "" arms nothing) and arms each
 * point. ERR_INVAL on bad text, and then nothing is armed.
 */
int fault_arm_spec(const char *spec) WARN_UNUSED;
/* True when this build has fault points compiled in. */
bool fault_enabled(void);

#endif
