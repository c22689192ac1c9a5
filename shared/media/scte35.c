/*
 * scte35.c -- splice_insert sections for ad-break cues.
 *
 * The section is built with a small MSB-first bit writer so each field
 * below reads like the syntax table it comes from.
 * SPEC: ANSI/SCTE 35 2019 9.6, 9.7.3, 9.8.1 (splice_time), 9.8.2 (break_duration).
 */
#include <string.h>

#include "scte35.h"
#include "../miniobj.h"
#include "../compat.h"

#define SCTE35_PTS_MASK ((UINT64_C(1) << 33) - 1)

struct scte35_bits {
    uint8_t *p;
    size_t bit; /* next bit to write, from the start of p */
};

/* Writes the low n bits of v, most significant first. */
static void
scte35_put(struct scte35_bits *w, uint64_t v, unsigned n)
{
    while (n-- > 0) {
        if ((v >> n) & 1)
            w->p[w->bit / 8] |= (uint8_t)(0x80u >> (w->bit % 8));
        w->bit++;
    }
}

uint32_t
scte35_crc32(const uint8_t *p, size_t n)
{
    uint32_t crc = 0xffffffffu;
    size_t i;
    int k;

    for (i = 0; i < n; i++) {
        crc ^= (uint32_t)p[i] << 24;
        for (k = 0; k < 8; k++)
            crc = (crc & 0x80000000u) ? (crc << 1) ^ 0x04c11db7u : crc << 1;
    }
    return crc;
}

size_t
scte35_splice_insert(uint8_t out[SCTE35_SPLICE_INSERT_LEN], uint32_t event_id, uint64_t pts,
                     uint64_t duration)
{
    struct scte35_bits w = {out, 0};
    const unsigned cmd_len = 20; /* splice_insert() below, in bytes */
    uint32_t crc;

    memset(out, 0, SCTE35_SPLICE_INSERT_LEN);
    if (duration > SCTE35_PTS_MASK)
        duration = SCTE35_PTS_MASK;

    scte35_put(&w, 0xfc, 8);                          /* table_id */
    scte35_put(&w, 0, 1);                             /* section_syntax_indicator */
    scte35_put(&w, 0, 1);                             /* private_indicator */
    scte35_put(&w, 3, 2);                             /* sap_type: not specified */
    scte35_put(&w, SCTE35_SPLICE_INSERT_LEN - 3, 12); /* section_length */
    scte35_put(&w, 0, 8);                             /* protocol_version */
    scte35_put(&w, 0, 1);                             /* encrypted_packet */
    scte35_put(&w, 0, 6);                             /* encryption_algorithm */
    scte35_put(&w, 0, 33);                            /* pts_adjustment */
    scte35_put(&w, 0, 8);                             /* cw_index */
    scte35_put(&w, 0xfff, 12);                        /* tier: all */
    scte35_put(&w, cmd_len, 12);                      /* splice_command_length */
    scte35_put(&w, 0x05, 8);                          /* splice_command_type: splice_insert */

    scte35_put(&w, event_id, 32); /* splice_event_id */
    scte35_put(&w, 0, 1);         /* splice_event_cancel_indicator */
    scte35_put(&w, 0x7f, 7);      /* reserved */
    scte35_put(&w, 1, 1);         /* out_of_network_indicator */
    scte35_put(&w, 1, 1);         /* program_splice_flag */
    scte35_put(&w, 1, 1);         /* duration_flag */
    scte35_put(&w, 0, 1);         /* splice_immediate_flag */
    scte35_put(&w, 1, 1);         /* event_id_compliance_flag */
    scte35_put(&w, 7, 3);         /* reserved */
    scte35_put(&w, 1, 1);         /* splice_time: time_specified_flag */
    scte35_put(&w, 0x3f, 6);      /* reserved */
    scte35_put(&w, pts & SCTE35_PTS_MASK, 33);
    scte35_put(&w, 1, 1);    /* break_duration: auto_return (no splice-in follows) */
    scte35_put(&w, 0x3f, 6); /* reserved */
    scte35_put(&w, duration, 33);
    scte35_put(&w, 0, 16); /* unique_program_id */
    scte35_put(&w, 0, 8);  /* avail_num */
    scte35_put(&w, 0, 8);  /* avails_expected */

    scte35_put(&w, 0, 16); /* descriptor_loop_length */
    assert(w.bit == (SCTE35_SPLICE_INSERT_LEN - 4) * 8);
    crc = scte35_crc32(out, SCTE35_SPLICE_INSERT_LEN - 4);
    scte35_put(&w, crc, 32);
    return SCTE35_SPLICE_INSERT_LEN;
}
