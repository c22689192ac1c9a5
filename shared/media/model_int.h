/*
 * model_int.h -- what model.c shares with the writers, and nothing else.
 *
 * Formatting of times and templates that both the MPD and the HLS writer
 * need, and the string rules the JSON reader applies before it builds.
 */
#ifndef CASCADE_MODEL_INT_H
#define CASCADE_MODEL_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "model.h"

/* The last date model_put_datetime() writes: 9999-12-31T23:59:59.999Z. */
#define MODEL_PRINT_DATE_MAX UINT64_C(253402300799999)
/* Unix ms as xs:dateTime / ISO 8601 UTC; ms digits always or only when
 * non-zero. Past MODEL_PRINT_DATE_MAX the buffer is put in error (ERR_INVAL). */
void model_put_datetime(struct buf *b, uint64_t ms, bool always_ms);
/* ms as xs:duration: "PT0S", "PT2S", "PT2.5S", "PT3600.04S". */
void model_put_duration(struct buf *b, uint64_t ms);
/* v/timescale seconds with three decimals, rounded to the nearest ms: "2.000". */
void model_put_seconds(struct buf *b, uint64_t v, uint32_t timescale);
/* A representation's frame rate as DASH @frameRate has it: "30", "30000/1001". */
void model_put_frame_rate(struct buf *b, const struct model_rep *r);
/* A template with $RepresentationID$, $Time$ and $$ substituted. */
void model_put_tmpl(struct buf *b, const char *tmpl, const char *rep_id, uint64_t t);

/* ms, rounded up, that v/timescale seconds last (v <= MODEL_TIME_MAX). */
uint64_t model_ms_ceil(uint64_t v, uint32_t timescale);
/* Presentation time (ms) of media time v in set s of period p, 0 when v < pto. */
uint64_t model_media_to_ms(const struct model_period *p, const struct model_timeline *tl,
                           uint64_t v);

/* The SCTE-35 splice_insert section of cue c (SCTE35_SPLICE_INSERT_LEN bytes). */
void model_cue_scte35(const struct model_cue *c, uint8_t *out);

/* Does the string follow the rule the model sets for that field? */
bool model_ok_id(const char *s);
bool model_ok_text(const char *s, size_t max, bool spaces);
bool model_ok_regions(const char *s);

#endif
