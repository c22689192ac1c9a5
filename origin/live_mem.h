/*
 * live_mem.h -- the manifests of running live streams, held in memory
 * instead of rewritten as files on every segment.
 *
 * A live stream's manifests (manifest.mpd, master.m3u8, model.json,
 * {rep}/media.m3u8) change on every segment cut. Writing each as a new
 * file (temporary + rename) made one inode per manifest per cut, and on
 * ext4 that was a third of the ingest's CPU (bench/README.md). So while
 * a run is live, live.c puts each rendered manifest here under the path
 * its file would have (data.dir/live/{stream}/...), and origin_http.c
 * looks here first; when the run ends, live.c writes the static
 * manifests as files and drops the entries, so an ended stream is served
 * from disk across restarts. After a crash nothing is lost that the
 * files held: recovery replays the journal and puts the manifests again.
 *
 * A struct live_mem_doc is immutable once put and refcounted: the table
 * holds one ref, each HTTP response being sent holds one, so a document
 * replaced while it is sent stays whole for that response.
 *
 * Threads: one process-wide table under a mutex; put and drop come from
 * the ingest thread, get from any HTTP worker.
 *
 * Not here: rendering (shared/media), HTTP headers (origin_http.c).
 */
#ifndef CASCADE_LIVE_MEM_H
#define CASCADE_LIVE_MEM_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "miniobj.h"

#define LIVE_MEM_ETAG_MAX 48

struct live_mem_doc {
    unsigned magic;
#define LIVE_MEM_DOC_MAGIC 0x6c6d646fU
    _Atomic unsigned refs;
    uint64_t mtime_ms;            /* wall clock when put (Last-Modified) */
    char etag[LIVE_MEM_ETAG_MAX]; /* strong, unique across processes: "m{boot}-{seq}" */
    size_t len;
    uint8_t data[]; /* len bytes */
};

/* data (len bytes) becomes the document at path, replacing any earlier one. */
void live_mem_put(const char *path, const void *data, size_t len);
/* Forgets every document whose path starts with prefix (a run ended, a stream freed). */
void live_mem_drop_under(const char *prefix);
/* A ref on the document at path, or NULL when there is none (serve the file). */
struct live_mem_doc *live_mem_get(const char *path);
void live_mem_doc_unref(struct live_mem_doc **pd);
/* Documents held (tests). */
unsigned live_mem_count(void);

/*
 * Whether live_recover() is still replaying journals. Until it is done, a
 * live manifest missing from the table may be one the replay is about to
 * put: the file under its path (an older run's static manifest) or a 404
 * would tell a player the stream ended or is not there, and an edge would
 * cache that. The HTTP side answers 503 instead, which edges cover with
 * what they hold (stale-if-error) and players retry.
 */
void live_mem_set_recovering(bool on);
bool live_mem_recovering(void);

#endif
