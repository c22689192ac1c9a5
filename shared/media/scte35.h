/*
 * scte35.h -- builds the SCTE-35 splice_info_section for an ad break.
 *
 * Only what the manifest writers need: one splice_insert() command that
 * leaves the network at a 90 kHz PTS for a given duration, with no
 * descriptors, encoded as bytes (the MPD carries them base64-encoded in an
 * EventStream of scheme urn:scte:scte35:2014:xml+bin; HLS as SCTE35-OUT in
 * EXT-X-DATERANGE). Pure, no allocation. Not here: parsing SCTE-35.
 * SPEC: ANSI/SCTE 35 2019 9.6 (splice_info_section), 9.7.3 (splice_insert).
 */
#ifndef CASCADE_SCTE35_H
#define CASCADE_SCTE35_H

#include <stddef.h>
#include <stdint.h>

/* Bytes in the section scte35_splice_insert() writes. */
#define SCTE35_SPLICE_INSERT_LEN 40

/*
 * Writes a splice_insert section into out: splice_event_id event_id, out of
 * network, program splice at pts (taken modulo 2^33) with a break of
 * duration ticks (capped at 2^33 - 1) with auto return. Returns
 * SCTE35_SPLICE_INSERT_LEN.
 */
size_t scte35_splice_insert(uint8_t out[SCTE35_SPLICE_INSERT_LEN], uint32_t event_id, uint64_t pts,
                            uint64_t duration);

/* The MPEG-2 CRC-32 (poly 0x04C11DB7, init all ones, no reflection) of p[0..n). */
uint32_t scte35_crc32(const uint8_t *p, size_t n);

#endif
