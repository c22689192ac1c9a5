/*
 * streams.h -- live streams and their stream keys: the REST API
 * (POST/GET /api/streams), the key check at publish time, and the set of
 * streams that have a publisher right now.
 *
 * A stream is a name ([A-Za-z0-9._-], 1..64, the {stream} of
 * /live/{stream}/...) and a secret key that an encoder puts in its publish
 * URL (rtmp://HOST:PORT/live/{key}). Both live in LMDB, in the origin's
 * metadata store (data.dir/meta): database "streams" maps a name to its
 * record (JSON: key, created_ms), "stream_keys" maps a key to its name.
 *
 * Threads: every function may be called from any thread (HTTP workers,
 * the ingest thread); the live set is guarded by a mutex, the store does
 * its own locking.
 *
 * Not here: RTMP (rtmp_ingest.c), packaging (live.c).
 */
#ifndef CASCADE_STREAMS_H
#define CASCADE_STREAMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "miniobj.h"

struct httpd_req;
struct streams;

#define STREAMS_NAME_MAX 64 /* bytes of a stream name */
#define STREAMS_KEY_LEN 32  /* hex characters of a generated key */

/*
 * Opens (creating) the metadata store in meta_dir. rtmp_listen is the
 * ingest address ("127.0.0.1:1935"), used to print publish URLs.
 */
int streams_open(const char *meta_dir, const char *rtmp_listen, struct streams **out) WARN_UNUSED;
void streams_close(struct streams **ps);

/*
 * Answers a request whose path is /api/streams or /api/streams/{name}:
 *   POST /api/streams        body {"name": "..."} (optional; a name is made
 *                            up when absent) -> 201 {"name", "key",
 *                            "publish_url", "manifest", "master", ...};
 *                            409 when the name exists
 *   GET  /api/streams        {"streams": [{"name", "live", "created_ms"}]}
 *   GET  /api/streams/{name} one of those (with "disclaimer" when set); 404
 *   PUT  /api/streams/{name} body {"disclaimer": "text" | null}: sets or
 *                            clears the text the ladder's worker burns into
 *                            every encoded rendition (docs/ladder.md); 200
 *                            with the stream, 400 bad_disclaimer, 404
 * POST also takes "disclaimer". Keys are only ever returned by the POST
 * that made them.
 */
void streams_api(struct streams *s, struct httpd_req *r);

/*
 * Creates a stream (name NULL: made up). 0 and name/key written (NUL
 * terminated; name needs STREAMS_NAME_MAX + 1, key STREAMS_KEY_LEN + 1;
 * untouched on failure); ERR_INVAL for a bad name, ERR_EXISTS, ERR_STORE.
 */
int streams_create(struct streams *s, const char *name, char *name_out, char *key_out) WARN_UNUSED;

/* The stream a key publishes to: 0 with name (STREAMS_NAME_MAX + 1), ERR_NOTFOUND, ERR_STORE. */
int streams_key_lookup(struct streams *s, const char *key, char *name, size_t namesz) WARN_UNUSED;

#define STREAMS_DISCLAIMER_MAX 200 /* characters of a disclaimer */
/* A disclaimer's text: 1..STREAMS_DISCLAIMER_MAX of [A-Za-z0-9 .,!?()-+/#@&_] (drawtext-safe). */
bool streams_disclaimer_ok(const char *text);
/* The stream's disclaimer into out: 0, ERR_NOTFOUND (no stream, or none set), ERR_STORE. */
int streams_disclaimer(struct streams *s, const char *name, char *out, size_t outsz) WARN_UNUSED;

/* A publisher starts: ERR_EXISTS when the stream already has one. */
int streams_live_begin(struct streams *s, const char *name) WARN_UNUSED;
void streams_live_end(struct streams *s, const char *name);
bool streams_is_live(struct streams *s, const char *name);

#endif
