/*
 * journal.h -- the per-stream ingest journal: every FLV tag a publisher
 * sends is appended to disk before anything else may fail, and made
 * durable in groups (every sync interval, 500 ms at most, a tick's
 * journals end with one fdatasync per device), so a crash loses at most
 * that window. After a crash the journal
 * is replayed through the packager (live.c) and the stream's segments and
 * manifests come back complete up to the last synced tag.
 *
 * Layout under data.dir/journal/{stream}/ (docs/origin.md):
 *
 *   stream.meta          "ast_ms N": the stream's availability start, fixed
 *                        at its first publish, so its media timeline (and
 *                        its segment names) never restarts
 *   {base}.flv           one file per publishing session of the current
 *                        run; {base} is the session's start on the stream
 *                        timeline in ms (16 digits, so names sort), tag
 *                        timestamps are relative to it
 *   done/{base}.flv      sessions of runs that ended cleanly: kept for
 *                        journal.retention, then deleted
 *
 * Each file is an FLV file (shared/proto/flv.h): header, then per tag its
 * 11-byte header, the body as received and PreviousTagSize, written in
 * whole 4 KiB blocks (one pwritev per tag, or, buffered, per batch of
 * tags), and zeros after the last tag up to a zeroed range written ahead;
 * so a crash leaves at worst a torn last tag and zeros, which replay cuts
 * off. A journal closed cleanly ends at its last tag.
 *
 * Threads. A struct journal belongs to the ingest thread. The syncer is a
 * thread of its own that makes every journal with unsynced bytes durable
 * each interval, all of them as one batch where it can (journal.c), so a
 * slow disk never stalls the RTMP loop. Not here:
 * deciding what a run is (live.c), packaging.
 */
#ifndef CASCADE_JOURNAL_H
#define CASCADE_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "miniobj.h"

struct journal;
struct journal_syncer;

#define JOURNAL_SYNC_MAX_MS 500 /* the promise: nothing unsynced for longer */
#define JOURNAL_NAME_DIGITS 16

/* Starts the sync thread. interval_ms in 1..JOURNAL_SYNC_MAX_MS. */
int journal_syncer_start(uint32_t interval_ms, struct journal_syncer **out) WARN_UNUSED;
/* Syncs whatever is still registered one last time and joins the thread. */
void journal_syncer_stop(struct journal_syncer **psy);

/*
 * Creates dir/{base}.flv (dir is made if missing), writes the FLV header,
 * syncs the directory entry and registers the file with the syncer.
 * ERR_EXISTS when that file exists; -errno on I/O errors (logged).
 */
int journal_open(struct journal_syncer *sy, const char *dir, uint64_t base_ms,
                 struct journal **out) WARN_UNUSED;
/*
 * Appends one tag (type 8, 9 or 18) with timestamp ts (ms since base).
 * Returns 0 or a negative error; after an error the journal is broken
 * (every later append fails with ERR_CLOSED) and the caller carries on
 * without it: losing the journal must not stop the live stream.
 */
int journal_append(struct journal *j, uint8_t type, uint32_t ts, const uint8_t *data,
                   size_t len) WARN_UNUSED;
/*
 * Buffered appends: from now on tags collect in a buffer of cap bytes
 * (at most JOURNAL_BUFFER_MAX) and reach the file at journal_flush(), or
 * when the buffer is full, in one write(). A process killed with tags
 * still buffered loses them, so the owner flushes on a short period (the
 * ingest's read batch) and before anything derived from those tags is
 * written out. cap 0 leaves the journal unbuffered. Call once, after open.
 */
#define JOURNAL_BUFFER_MAX (4u << 20)
void journal_buffer(struct journal *j, size_t cap);
/* Writes the buffered tags; 0, or the error that broke the journal. */
int journal_flush(struct journal *j) WARN_UNUSED;
/* Bytes buffered, not yet written. */
size_t journal_pending(const struct journal *j);
/* Bytes written to the file so far / known to be on disk (tests, metrics). */
uint64_t journal_written(const struct journal *j);
uint64_t journal_synced(const struct journal *j);
/* Unregisters, syncs, closes. *pj is NULL after. */
void journal_close(struct journal **pj);

/* ---- replay and housekeeping (any thread, no syncer needed) ---- */

/* Called per tag in file order; data is borrowed for the call. Non-zero stops. */
typedef int journal_tag_fn(void *arg, uint8_t type, uint32_t ts, const uint8_t *data, size_t len);

/*
 * Reads path from the start, calling fn per whole tag. A torn or damaged
 * tail (a crash mid-write) ends the replay at the last whole tag and the
 * file is truncated there. Returns the tags delivered, or a negative error
 * (-errno, ERR_PROTO when not even the file header is valid, or fn's
 * non-zero result).
 */
long journal_replay(const char *path, journal_tag_fn *fn, void *arg) WARN_UNUSED;

/*
 * The bases of dir's current-run files, ascending, into bases[0..cap);
 * returns how many there are (may exceed cap) or -errno (0 when dir does
 * not exist).
 */
long journal_list(const char *dir, uint64_t *bases, size_t cap) WARN_UNUSED;

/*
 * Ends the run: moves every current-run file of dir into dir/done/ (or
 * deletes them when keep is false). 0 or -errno.
 */
int journal_seal(const char *dir, bool keep) WARN_UNUSED;

/* Deletes files in root/{stream}/done/ last modified more than retention_ms ago. Returns how many.
 */
unsigned journal_sweep(const char *root, uint64_t retention_ms, uint64_t now_ms);

/* stream.meta: 0 and *ast_ms, ERR_NOTFOUND, or -errno / ERR_PROTO. */
int journal_meta_read(const char *dir, uint64_t *ast_ms) WARN_UNUSED;
/* Writes stream.meta atomically and durably (creating dir). */
int journal_meta_write(const char *dir, uint64_t ast_ms) WARN_UNUSED;

/* mkdir -p with mode 0755; 0 or -errno. */
int journal_mkdirs(const char *path) WARN_UNUSED;
/*
 * Marks dir as the top of its own directory hierarchies for the
 * filesystem's allocator (ext4: "chattr +T"), so each directory made in it
 * -- one per stream -- starts in a block group of its own, with room,
 * instead of the parent's. A stream's files then do not share a group
 * with whatever else on the disk has just deleted thousands of files: a
 * journal-less ext4 skips an inode deleted in the last minutes one by
 * one on every file it creates in that group, and that scan was a tenth
 * to a sixth of the ingest's CPU (bench/README.md). Best effort.
 */
void journal_topdir(const char *dir);
/* fsync()s a directory (after a rename or create in it); 0 or -errno. */
int journal_fsync_dir(const char *path) WARN_UNUSED;

#endif
