/*
 * fault.h -- named fault points for tests (SQLite faultsim, curl torture).
 *
 *   rc = FAULT("store.put") ? MDB_MAP_FULL : mdb_put(txn, dbi, &k, &v, 0);
 *
 * Compiled in only when CASCADE_FAULTS is defined (test builds); otherwise
 * FAULT() is the constant 0 and the optimizer removes the branch. A point is
 * armed to fail its Nth hit (1-based) or every hit from the Nth on; every
 * hit is counted, armed or not, so a runner can learn how many hits a
 * scenario makes and then fail each in turn. Points may be armed at start
 * from the environment: CASCADE_FAULT="store.put=3,http1.accept=1+".
 */
#ifndef CASCADE_FAULT_H
#define CASCADE_FAULT_H

#include <stdbool.h>
#include <stdint.h>

#include "miniobj.h"

#define FAULT_MAX_POINTS 64

#ifdef CASCADE_FAULTS
bool fault_hit(const char *name);
#define FAULT(name) fault_hit(name)
#else
#define FAULT(name) false
#endif

/* Fail hit number nth (1-based) of name; sticky means that hit and all later. */
int fault_arm(const char *name, uint64_t nth, bool sticky) WARN_UNUSED;
void fault_disarm_all(void);
/* Hits of name so far (0 for an unknown point). */
uint64_t fault_hits(const char *name);
/* Times name actually failed. */
uint64_t fault_fired(const char *name);
/* Parses "a=3,b=1+" (the CASCADE_FAULT format); ERR_INVAL on bad text. */
int fault_arm_spec(const char *spec) WARN_UNUSED;
/* True when this build has fault points compiled in. */
bool fault_enabled(void);

#endif
