/*
 * fuzz_rtmp_chunk.c -- the chunk stream reader on hostile bytes.
 *
 * Parses the input whole and then in small pieces, checks the invariants
 * after every step, and asserts both ways give the same messages and the
 * same error ("byte at a time == whole"). Every message is written back
 * with the chunk writer and must read back identical.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "err.h"
/* The parser is compiled into the target so libFuzzer instruments it. */
#include "../../shared/proto/rtmp_chunk.c"
#include "compat.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_MAX_MSGS 256

struct fuzz_rec {
    uint32_t n;
    uint32_t csid[FUZZ_MAX_MSGS], len[FUZZ_MAX_MSGS], ts[FUZZ_MAX_MSGS], sum[FUZZ_MAX_MSGS];
    uint8_t type[FUZZ_MAX_MSGS];
    long err;
};

static uint32_t
fuzz_sum(const uint8_t *p, uint32_t n)
{
    uint32_t h = 2166136261U, i;

    for (i = 0; i < n; i++)
        h = (h ^ p[i]) * 16777619U;
    return h;
}

static uint8_t fuzz_out[1 << 20];

static void
fuzz_round_trip(const struct rtmp_msg *m)
{
    struct rtmp_chunk_writer w;
    struct rtmp_chunk_reader r;
    struct rtmp_msg back;
    long n, k;

    if (m->csid < RTMP_CSID_MIN || m->len > 65536)
        return;
    rtmp_chunk_writer_init(&w);
    n = rtmp_chunk_write(&w, m->csid, m->type, m->stream_id, m->timestamp, m->payload, m->len,
                         fuzz_out, sizeof(fuzz_out));
    assert(n > 0);
    rtmp_chunk_reader_init(&r, NULL);
    k = rtmp_chunk_parse(&r, fuzz_out, (size_t)n, &back);
    if (k > 0) {
        assert(k == n);
        assert(back.len == m->len && back.timestamp == m->timestamp);
        assert(back.type == m->type && back.stream_id == m->stream_id);
        assert(m->len == 0 || memcmp(back.payload, m->payload, m->len) == 0);
    } else {
        /* Only a control message the reader refuses can fail (e.g. chunk size 0). */
        assert(k == ERR_PROTO || k == ERR_LIMIT);
        assert(m->type <= RTMP_MSG_SET_PEER_BW);
    }
    rtmp_chunk_reader_check(&r);
    rtmp_chunk_reader_fini(&r);
}

static void
fuzz_run(const uint8_t *data, size_t size, size_t step, struct fuzz_rec *rec, int round_trip)
{
    struct rtmp_chunk_limits lim = rtmp_chunk_default_limits;
    struct rtmp_chunk_reader r;
    size_t off = 0;

    lim.max_streams = 8;
    lim.max_msg_size = 1 << 16;
    lim.max_buffered = 1 << 18;
    lim.max_chunk_size = 1 << 20;
    memset(rec, 0, sizeof(*rec));
    rtmp_chunk_reader_init(&r, &lim);
    while (off < size) {
        size_t piece = size - off < step ? size - off : step;
        const uint8_t *p = data + off;

        while (piece > 0) {
            struct rtmp_msg m;
            struct rtmp_control ctl;
            long n = rtmp_chunk_parse(&r, p, piece, &m);

            rtmp_chunk_reader_check(&r);
            if (n == ERR_AGAIN)
                break;
            if (n < 0) {
                assert(n == ERR_PROTO || n == ERR_LIMIT);
                rec->err = n;
                goto out;
            }
            assert(n > 0 && (size_t)n <= piece);
            if (rec->n < FUZZ_MAX_MSGS) {
                rec->csid[rec->n] = m.csid;
                rec->len[rec->n] = m.len;
                rec->ts[rec->n] = m.timestamp;
                rec->type[rec->n] = m.type;
                rec->sum[rec->n] = fuzz_sum(m.payload, m.len);
                rec->n++;
            }
            if (rtmp_control_parse(&m, &ctl) == 0 && m.type == RTMP_MSG_SET_CHUNK_SIZE)
                assert(ctl.value == r.chunk_size);
            if (round_trip)
                fuzz_round_trip(&m);
            if (rtmp_chunk_ack_due(&r))
                (void)rtmp_chunk_ack_take(&r);
            p += n;
            piece -= (size_t)n;
        }
        off += step < size - off ? step : size - off;
    }
out:
    rtmp_chunk_reader_fini(&r);
}

static struct fuzz_rec fuzz_a, fuzz_b;

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t step;
    uint32_t i;

    if (size < 1)
        return 0;
    step = (size_t)(data[0] % 17) + 1;
    data++;
    size--;
    fuzz_run(data, size, size == 0 ? 1 : size, &fuzz_a, 1);
    fuzz_run(data, size, step, &fuzz_b, 0);
    assert(fuzz_a.err == fuzz_b.err);
    assert(fuzz_a.n == fuzz_b.n);
    for (i = 0; i < fuzz_a.n; i++) {
        assert(fuzz_a.csid[i] == fuzz_b.csid[i] && fuzz_a.len[i] == fuzz_b.len[i]);
        assert(fuzz_a.ts[i] == fuzz_b.ts[i] && fuzz_a.type[i] == fuzz_b.type[i]);
        assert(fuzz_a.sum[i] == fuzz_b.sum[i]);
    }
    return 0;
}
