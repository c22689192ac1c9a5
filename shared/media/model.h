/*
 * model.h -- the manifest model: what a stream or video consists of.
 *
 * One in-memory description of a presentation -- periods, adaptation sets,
 * representations, segment timelines, events (news flashes, disclaimers),
 * ad-break cues and scenes -- with writers for MPEG-DASH (model_mpd.c), HLS
 * (model_hls.c) and JSON (model_json.c), and a strict JSON reader. The
 * origin builds it and publishes model.json beside each MPD; edges read the
 * JSON (never XML) and render per-viewer manifests with the same writers,
 * so origin and edge manifests cannot drift apart. docs/manifest-model.md
 * describes the JSON format and how MPD and HLS map from the model.
 *
 * Ownership: a struct model owns everything reachable from it, every string
 * included. Pointers returned by the _add and _find functions are borrowed
 * from the model and stay valid until model_free(), or, for periods, until
 * model_trim_dvr() removes that period. All of this is pure: no I/O, no
 * clock, no logging; fallible functions return 0 or a negative ERR_* code.
 *
 * Times. Presentation-level values are integer milliseconds. Segment,
 * event and cue times are media time in their own timescale: the clock of
 * the encoder's output, the same clock segment names are made of
 * ("$RepresentationID$/$Time$.m4s"). A period maps media time to
 * presentation time through its sets' presentation time offset (pto):
 * presentation = period start + (media - pto) / timescale. Every media
 * time v must satisfy model_time_ok(v, timescale).
 */
#ifndef CASCADE_MODEL_H
#define CASCADE_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../miniobj.h"
#include "buf.h"

/* Hard limits: the reader rejects anything beyond them (ERR_LIMIT). */
#define MODEL_MAX_PERIODS 64
#define MODEL_MAX_SETS 8                         /* adaptation sets per period */
#define MODEL_MAX_REPS 16                        /* representations per adaptation set */
#define MODEL_MAX_RUNS 65536                     /* S runs per timeline */
#define MODEL_MAX_SEGMENTS 262144                /* segments per timeline (73 h of 1 s ones) */
#define MODEL_MAX_EVSTREAMS 8                    /* event streams per period */
#define MODEL_MAX_EVENTS 1024                    /* events per event stream */
#define MODEL_MAX_CUES 256                       /* ad-break cues per period */
#define MODEL_MAX_SCENES 4096                    /* scenes per presentation */
#define MODEL_MAX_ID 64                          /* ids, codecs, mime types, languages */
#define MODEL_MAX_STR 512                        /* names, templates, URIs */
#define MODEL_MAX_PAYLOAD 4096                   /* an event's JSON payload */
#define MODEL_TIME_MAX ((UINT64_C(1) << 53) - 1) /* exact in a JSON double */
#define MODEL_SECONDS_MAX UINT64_C(0x7fffffff)   /* ~68 years of media time */
/* Latest availability start or publish time, Unix ms (9000-01-01): even
 * 2^32 s of presentation later, every date still prints with four digits. */
#define MODEL_DATE_MAX UINT64_C(221845392000000)

/* Output caps of the writers (ERR_LIMIT past them). */
#define MODEL_OUT_MAX (32u << 20)

enum model_type {
    MODEL_STATIC = 0,  /* VOD: MPD type="static", HLS EXT-X-ENDLIST */
    MODEL_DYNAMIC = 1, /* live: MPD type="dynamic" */
};

enum model_content {
    MODEL_VIDEO = 1,
    MODEL_AUDIO = 2,
    MODEL_TEXT = 3,
};

enum model_utc {
    MODEL_UTC_NONE = 0,
    MODEL_UTC_HTTP_ISO = 1,    /* urn:mpeg:dash:utc:http-iso:2014 */
    MODEL_UTC_HTTP_XSDATE = 2, /* urn:mpeg:dash:utc:http-xsdate:2014 */
};

/*
 * r + 1 segments of duration d, the first starting at t: the S element of
 * a SegmentTimeline (SPEC: ISO/IEC 23009-1 5.3.9.6). num is the number of
 * the first of them: segment numbers count every segment the timeline ever
 * held, so they survive trimming (HLS media sequence numbers).
 */
struct model_run {
    uint64_t t;
    uint64_t d;
    uint64_t num;
    uint32_t r;
};

/* One segment, as lookups return it. */
struct model_seg {
    uint64_t t;
    uint64_t d;
    uint64_t number;
};

/*
 * The segments of an adaptation set, shared by all its representations
 * (they are aligned: every rendition's segment N covers the same media
 * time). Runs are sorted, never overlap, and are canonical: two touching
 * runs never have the same duration (they would have been merged).
 * Numbers carry on across periods: the set with the same id in the next
 * period starts at or above this one's next_number (whoever splits a
 * period for an ad sets the new timelines' next_number accordingly).
 */
struct model_timeline {
    uint32_t timescale;     /* units per second, > 0 */
    uint64_t pto;           /* presentation time offset, media time at period start */
    uint64_t next_number;   /* number the next appended segment gets */
    uint64_t nsegs;         /* segments in runs[] */
    struct model_run *runs; /* owned */
    uint32_t nruns;
    uint32_t cap;
};

struct model_rep {
    char *id;               /* owned; stable, unique in its period; [A-Za-z0-9._-] */
    char *codecs;           /* owned; RFC 6381, e.g. "avc1.64001f" */
    uint32_t bandwidth;     /* bits/s, peak (DASH @bandwidth, HLS BANDWIDTH) */
    uint32_t avg_bandwidth; /* bits/s, 0 unknown (HLS AVERAGE-BANDWIDTH) */
    uint32_t width;         /* video; 0 otherwise */
    uint32_t height;
    uint32_t fr_num; /* frame rate fr_num/fr_den; 0/0 unknown */
    uint32_t fr_den;
    uint32_t sample_rate; /* audio, Hz; 0 otherwise */
    uint32_t channels;    /* audio; 0 unknown */
};

struct model_aset {
    uint32_t id; /* stable, unique in its period */
    enum model_content content;
    char *mime;   /* owned: "video/mp4" */
    char *family; /* owned: codec family for device filters: "avc", "hevc", "aac" */
    char *lang;   /* owned, NULL when none: BCP 47 "en", "pt-BR" */
    bool segment_alignment;
    uint32_t selection_priority; /* DASH @selectionPriority (higher: picked first); 0 omits it */
    char *init_tmpl;             /* owned: "$RepresentationID$/init.mp4" */
    char *media_tmpl;            /* owned: "$RepresentationID$/$Time$.m4s" */
    struct model_timeline tl;
    struct model_rep **reps; /* owned, each */
    uint32_t nreps;
    uint32_t capreps;
};

/*
 * A timed event: a news flash or disclaimer. t and d are media time in the
 * stream's timescale (d 0: no duration). payload is compact JSON, ASCII
 * only; regions is NULL (everywhere) or a comma list of ISO 3166-1 alpha-2
 * country codes where the event is shown ("FR,BE").
 */
struct model_event {
    uint32_t id; /* unique in its stream */
    uint64_t t;
    uint64_t d;
    char *payload; /* owned */
    char *regions; /* owned, may be NULL */
};

struct model_evstream {
    char *scheme; /* owned: schemeIdUri */
    char *value;  /* owned, may be NULL */
    uint32_t timescale;
    struct model_event *events; /* owned; sorted by t */
    uint32_t nevents;
    uint32_t cap;
};

/* An ad break: at media time t (in timescale) the content may be replaced for d. */
struct model_cue {
    uint32_t id; /* unique in its period; the SCTE-35 splice_event_id */
    uint32_t timescale;
    uint64_t t;
    uint64_t d; /* > 0 */
};

struct model_period {
    char *id;                 /* owned; stable, unique; [A-Za-z0-9._-] */
    uint64_t start_ms;        /* from availabilityStartTime (live) or the start (VOD) */
    uint64_t duration_ms;     /* 0: runs until the next period or the live edge */
    struct model_aset **sets; /* owned, each */
    uint32_t nsets;
    uint32_t capsets;
    struct model_evstream **streams; /* owned, each */
    uint32_t nstreams;
    uint32_t capstreams;
    struct model_cue *cues; /* owned; sorted by t */
    uint32_t ncues;
    uint32_t capcues;
};

/* A VOD scene, in presentation time, with how engaging it is (0..1). */
struct model_scene {
    uint64_t start_ms;
    uint64_t duration_ms;
    double engagement;
};

struct model {
    unsigned magic;
#define MODEL_MAGIC 0x6d6f646cU
    char *name; /* owned: stream or video name; NULL until set */
    enum model_type type;
    bool ended;             /* live: the publisher stopped, nothing more will come */
    uint64_t ast_ms;        /* availabilityStartTime, Unix ms (live) */
    uint64_t publish_ms;    /* publishTime, Unix ms; 0 omits it */
    uint32_t min_update_ms; /* minimumUpdatePeriod (live) */
    uint32_t tsbd_ms;       /* timeShiftBufferDepth: the DVR window (live); 0 none */
    uint32_t delay_ms;      /* suggestedPresentationDelay (live); 0 omits it */
    uint32_t max_seg_ms;    /* maxSegmentDuration; raised by model_segment_add() */
    uint32_t min_buffer_ms; /* minBufferTime */
    uint64_t duration_ms;   /* mediaPresentationDuration; 0 derives it */
    enum model_utc utc;
    char *utc_url;                 /* owned, NULL with MODEL_UTC_NONE: "/time" */
    uint64_t disc_seq;             /* periods ever trimmed away (HLS discontinuity sequence) */
    struct model_period **periods; /* owned, each; sorted by start */
    uint32_t nperiods;
    uint32_t capperiods;
    struct model_scene *scenes; /* owned; sorted, not overlapping */
    uint32_t nscenes;
    uint32_t capscenes;
};

/* ---- lifetime and building ---- */

/* An empty static model with no name; the caller fills in the scalars. */
struct model *model_new(void);
void model_free(struct model **pm);

/* Strings are copied. ERR_INVAL for a bad value, ERR_LIMIT for a full array,
 * ERR_EXISTS for a duplicate id. */
int model_set_name(struct model *m, const char *name) WARN_UNUSED;
int model_set_utc(struct model *m, enum model_utc utc, const char *url) WARN_UNUSED;

/* Appends a period; periods come in start order. */
int model_period_add(struct model *m, const char *id, uint64_t start_ms,
                     struct model_period **out) WARN_UNUSED;

/*
 * Adds an adaptation set with the default templates
 * "$RepresentationID$/init.mp4" and "$RepresentationID$/$Time$.m4s",
 * segment alignment on, no language and an empty timeline.
 */
int model_aset_add(struct model_period *p, uint32_t id, enum model_content content,
                   const char *mime, const char *family, uint32_t timescale,
                   struct model_aset **out) WARN_UNUSED;
int model_aset_set_lang(struct model_aset *s, const char *lang) WARN_UNUSED;
/* Templates may use $RepresentationID$, $Time$ (media only, required) and $$. */
int model_aset_set_templates(struct model_aset *s, const char *init, const char *media) WARN_UNUSED;

int model_rep_add(struct model_aset *s, const char *id, const char *codecs, uint32_t bandwidth,
                  struct model_rep **out) WARN_UNUSED;

int model_evstream_add(struct model_period *p, const char *scheme, const char *value,
                       uint32_t timescale, struct model_evstream **out) WARN_UNUSED;
/* Inserted in t order (after any event with the same t). */
int model_event_add(struct model_evstream *es, uint32_t id, uint64_t t, uint64_t d,
                    const char *payload, const char *regions) WARN_UNUSED;
/* True when a viewer in region (NULL: unknown) may see ev. */
bool model_event_visible(const struct model_event *ev, const char *region);

/* Inserted in t order. */
int model_cue_add(struct model_period *p, uint32_t id, uint32_t timescale, uint64_t t,
                  uint64_t d) WARN_UNUSED;

/* Scenes are appended in order and may not overlap. */
int model_scene_add(struct model *m, uint64_t start_ms, uint64_t duration_ms,
                    double engagement) WARN_UNUSED;

/* ---- timelines ---- */

/*
 * Appends count segments of duration d, the first at t, merging them into
 * the last run when it ends at t with the same duration. t may leave a gap
 * after the previous segment but never overlap it (ERR_INVAL); ERR_LIMIT
 * past MODEL_MAX_RUNS or MODEL_MAX_SEGMENTS.
 */
int model_timeline_add(struct model_timeline *tl, uint64_t t, uint64_t d,
                       uint32_t count) WARN_UNUSED;
/* model_timeline_add() of one segment that also raises m->max_seg_ms. */
int model_segment_add(struct model *m, struct model_aset *s, uint64_t t, uint64_t d) WARN_UNUSED;

/* The segment covering media time t (seg.t <= t < seg.t + seg.d): 0 or ERR_NOTFOUND. */
int model_timeline_find(const struct model_timeline *tl, uint64_t t,
                        struct model_seg *out) WARN_UNUSED;
/*
 * Up to n segments starting after media time t, in order, into out[];
 * returns how many. With t a segment's start, these are the segments that
 * follow it (the edge's prefetch list). O(log runs + n).
 */
size_t model_timeline_next(const struct model_timeline *tl, uint64_t t, struct model_seg *out,
                           size_t n);
/* End of the last segment (media time); pto when the timeline is empty. */
uint64_t model_timeline_end(const struct model_timeline *tl);
/* Number of the first segment (next_number when empty). */
uint64_t model_timeline_first_number(const struct model_timeline *tl);
/* Drops the segments that end at or before min_end; returns how many. */
uint64_t model_timeline_trim(struct model_timeline *tl, uint64_t min_end);

/*
 * Applies the DVR window (live, tsbd_ms > 0): drops every segment, event
 * and cue that ended more than tsbd_ms before the live edge (the latest
 * segment end in presentation time), then every leading period left
 * entirely before the window -- never the last one -- counting each in
 * disc_seq. Pointers into dropped periods become invalid.
 */
void model_trim_dvr(struct model *m);

/* ---- lookups and time ---- */

struct model_period *model_period_find(const struct model *m, const char *id);
struct model_aset *model_aset_find(const struct model_period *p, uint32_t id);
/* The representation with this id in p, and its set when pset is not NULL. */
struct model_rep *model_rep_find(const struct model_period *p, const char *id,
                                 struct model_aset **pset);

/* v / timescale is a representable media time (see MODEL_TIME_MAX). */
bool model_time_ok(uint64_t v, uint32_t timescale);
/* v from one timescale to another, rounded down; v must be model_time_ok(). */
uint64_t model_ts_convert(uint64_t v, uint32_t from, uint32_t to);
/* Media time at the start of p in timescale ts (its first set's pto), 0 without sets. */
uint64_t model_period_media_start(const struct model_period *p, uint32_t ts);
/* Where the presentation ends (ms): the latest segment end, period end or duration. */
uint64_t model_end_ms(const struct model *m);

/* ---- invariants ---- */

/*
 * Every invariant of the model, without asserting: 0, or ERR_PROTO /
 * ERR_LIMIT with a one-line reason in err (errsz > 0). The JSON reader runs
 * it on everything it accepts.
 */
int model_validate(const struct model *m, char *err, size_t errsz) WARN_UNUSED;
/* Asserts model_validate(); walks everything (use under DASSERT on hot paths). */
void model_check(const struct model *m);

/* ---- writers (model_mpd.c, model_hls.c, model_json.c) ---- */

/* A per-viewer view of the model: which events and representations to render. */
typedef bool model_rep_filter_fn(const struct model_aset *s, const struct model_rep *r, void *arg);

struct model_render {
    const char *region;          /* viewer's country (ISO 3166-1 alpha-2); NULL unknown */
    model_rep_filter_fn *rep_ok; /* NULL keeps every representation */
    void *arg;                   /* for rep_ok */
};

/*
 * The writers append to out (which caps the size) and return 0, ERR_LIMIT
 * when out overflowed, ERR_INVAL when the model cannot be written (it has
 * no period) or ERR_NOTFOUND for an unknown representation. On failure the
 * caller discards out. opt may be NULL (everything, no region).
 * They take O(size of the output) time.
 */
int model_mpd_write(const struct model *m, const struct model_render *opt,
                    struct buf *out) WARN_UNUSED;
/* master.m3u8: one variant per video representation, audio as EXT-X-MEDIA. */
int model_hls_master_write(const struct model *m, const struct model_render *opt,
                           struct buf *out) WARN_UNUSED;
/* {rep}/media.m3u8: the segments of one representation across all periods. */
int model_hls_media_write(const struct model *m, const char *rep_id, struct buf *out) WARN_UNUSED;
/* model.json, compact, ASCII only; the format is versioned (MODEL_JSON_VERSION). */
int model_json_write(const struct model *m, struct buf *out) WARN_UNUSED;

#define MODEL_JSON_VERSION 1
#define MODEL_JSON_MAX (4u << 20) /* the reader refuses longer inputs */
#define MODEL_JSON_MAX_DEPTH 8    /* nesting of an event payload */

/*
 * Reads model.json from p[0..len) (not NUL-terminated). Strict: unknown
 * keys, wrong types, values out of range, duplicate keys and anything past
 * the MODEL_MAX_* limits are refused. On success *out is a new model that
 * passed model_validate(); on failure returns ERR_PROTO or ERR_LIMIT, *out
 * is NULL and err holds a reason naming the offending field.
 */
int model_json_read(const char *p, size_t len, struct model **out, char *err,
                    size_t errsz) WARN_UNUSED;

#endif
