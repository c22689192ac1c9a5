/*
 * test_scte35.c -- the splice_insert section the manifest writers embed.
 *
 * The CRC is checked against two sections published by others (their last
 * four bytes are the CRC of the rest), the layout field by field against
 * SCTE 35's syntax tables.
 */
#include "unit.h"

#include <string.h>

#include "media/scte35.h"
#include "compat.h"

static void
test_scte35_crc_matches_published_sections(void **state)
{
    /* A splice_insert and a time_signal section as found in the wild. */
    static const uint8_t insert[] = {0xfc, 0x30, 0x2f, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff,
                                     0xff, 0xf0, 0x14, 0x05, 0x48, 0x00, 0x00, 0x8f, 0x7f, 0xef,
                                     0xfe, 0x73, 0x69, 0xc0, 0x2e, 0xfe, 0x00, 0x52, 0xcc, 0xf5,
                                     0x00, 0x00, 0x00, 0x00, 0x00, 0x0a, 0x00, 0x08, 0x43, 0x55,
                                     0x45, 0x49, 0x00, 0x00, 0x01, 0x35, 0x62, 0xdb, 0xa3, 0x0a};
    static const uint8_t signal[] = {
        0xfc, 0x30, 0x34, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05, 0x06,
        0xfe, 0x00, 0x30, 0x10, 0xe9, 0x00, 0x1e, 0x02, 0x1c, 0x43, 0x55, 0x45, 0x49, 0x40,
        0x00, 0x00, 0x3b, 0x7f, 0xcf, 0x00, 0x01, 0x14, 0xac, 0x4a, 0x08, 0x08, 0x00, 0x00,
        0x00, 0x00, 0x20, 0xfb, 0x65, 0x01, 0x34, 0x00, 0x00, 0x36, 0xfa, 0xed, 0xa1};
    int64_t live = mem_live();

    (void)state;
    assert_int_equal(0x62dba30a, scte35_crc32(insert, sizeof(insert) - 4));
    assert_int_equal(0x36faeda1, scte35_crc32(signal, sizeof(signal) - 4));
    /* The CRC of a whole section, CRC included, is zero. */
    assert_int_equal(0, scte35_crc32(insert, sizeof(insert)));
    UNIT_END(live);
}

static void
test_scte35_splice_insert_layout(void **state)
{
    static const uint8_t want[SCTE35_SPLICE_INSERT_LEN] = {
        0xfc, 0x30, 0x25,             /* table_id, flags, sap_type 3, section_length 37 */
        0x00,                         /* protocol_version */
        0x00, 0x00, 0x00, 0x00, 0x00, /* not encrypted, pts_adjustment 0 */
        0x00,                         /* cw_index */
        0xff, 0xf0, 0x14,             /* tier 0xfff, splice_command_length 20 */
        0x05,                         /* splice_insert */
        0x00, 0x00, 0x00, 0x07,       /* splice_event_id */
        0x7f,                         /* not cancelled */
        0xef,                         /* out of network, program, duration, compliant */
        0xfe, 0x00, 0x08, 0x3d, 0x60, /* splice_time: pts 540000 */
        0xfe, 0x00, 0x29, 0x32, 0xe0, /* break_duration: auto return, 2700000 */
        0x00, 0x00, 0x00, 0x00,       /* unique_program_id, avail_num, avails_expected */
        0x00, 0x00,                   /* descriptor_loop_length */
        0xe2, 0xd1, 0x69, 0x00};      /* CRC_32 */
    uint8_t out[SCTE35_SPLICE_INSERT_LEN];
    int64_t live = mem_live();

    (void)state;
    assert_int_equal(SCTE35_SPLICE_INSERT_LEN, scte35_splice_insert(out, 7, 540000, 2700000));
    assert_memory_equal(want, out, sizeof(want));
    assert_int_equal(0, scte35_crc32(out, sizeof(out)));

    /* PTS wraps at 33 bits; durations saturate. */
    (void)scte35_splice_insert(out, 1, (UINT64_C(1) << 33) + 5, UINT64_C(1) << 40);
    assert_int_equal(0xfe, out[20]);
    assert_int_equal(0x05, out[24]);
    assert_int_equal(0xff, out[25]); /* auto return + reserved + top duration bit */
    assert_int_equal(0xff, out[29]);
    assert_int_equal(0, scte35_crc32(out, sizeof(out)));
    UNIT_END(live);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scte35_crc_matches_published_sections),
        cmocka_unit_test(test_scte35_splice_insert_layout),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
