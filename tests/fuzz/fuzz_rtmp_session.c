/*
 * fuzz_rtmp_session.c -- a whole publish session (handshake, chunks, AMF0
 * commands, FLV headers, timestamp normalization) on hostile bytes.
 *
 * The input is fed whole and in pieces; both runs must see the same events
 * and produce the same output bytes. Publishes whose key starts with an
 * odd byte are refused. Invariants are checked after every step.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "err.h"
#include "mem.h"
/* The parsers are compiled into the target so libFuzzer instruments them. */
#include "../../shared/proto/rtmp_handshake.c"
#include "../../shared/proto/rtmp_chunk.c"
#include "../../shared/proto/amf0.c"
#include "../../shared/proto/flv.c"
#include "../../shared/proto/rtmp_session.c"
#include "compat.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fuzz_sess {
    uint32_t events, out_sum;
    uint64_t out_len;
    int64_t dts_sum;
    long err;
};

static void
fuzz_drain(struct rtmp_session *s, struct fuzz_sess *f)
{
    size_t n, i;
    const uint8_t *o = rtmp_session_output(s, &n);

    for (i = 0; o != NULL && i < n; i++)
        f->out_sum = f->out_sum * 31 + o[i];
    f->out_len += n;
    if (o != NULL)
        rtmp_session_output_consume(s, n);
}

static void
fuzz_session(const uint8_t *data, size_t size, size_t step, struct fuzz_sess *f)
{
    struct rtmp_session_conf conf;
    struct rtmp_session *s;
    size_t off = 0;

    memset(f, 0, sizeof(*f));
    memset(&conf, 0, sizeof(conf));
    conf.lim.max_streams = 8;
    conf.lim.max_msg_size = 1 << 16;
    conf.lim.max_buffered = 1 << 18;
    conf.max_output = 1 << 16;
    conf.max_ts_jump_ms = 1000;
    conf.seed = 1;
    s = rtmp_session_new(&conf);
    while (off < size && f->err == 0) {
        size_t piece = size - off < step ? size - off : step;
        const uint8_t *p = data + off;

        off += piece;
        while (piece > 0) {
            struct rtmp_session_event ev;
            long n = rtmp_session_feed(s, p, piece, &ev);
            int rc = 0;

            rtmp_session_check(s);
            fuzz_drain(s, f);
            if (n == ERR_AGAIN)
                break;
            if (n < 0) {
                assert(n == ERR_PROTO || n == ERR_LIMIT);
                f->err = n;
                break;
            }
            assert(n > 0 && (size_t)n <= piece);
            assert(ev.type != RTMP_SEV_NONE);
            f->events = f->events * 7 + ev.type;
            if (ev.type == RTMP_SEV_AUDIO || ev.type == RTMP_SEV_VIDEO) {
                assert(ev.dts_ms >= 0 && ev.len > 0);
                f->dts_sum += ev.dts_ms;
            }
            if (ev.type == RTMP_SEV_PUBLISH) {
                assert(ev.stream_key[0] != '\0');
                if (ev.stream_key[0] & 1)
                    rc = rtmp_session_publish_reject(s, NULL, NULL);
                else
                    rc = rtmp_session_publish_accept(s);
                assert(rc == 0 || rc == ERR_LIMIT);
                fuzz_drain(s, f);
                if (rc != 0) {
                    f->err = rc;
                    break;
                }
            }
            rtmp_session_check(s);
            p += n;
            piece -= (size_t)n;
        }
    }
    if (rtmp_session_eof(s) == 0)
        assert(s->state != RTMP_SESSION_PUBLISHING);
    rtmp_session_free(&s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_sess a, b;
    size_t step;

    if (size < 1)
        return 0;
    step = (size_t)(data[0] % 61) + 1;
    data++;
    size--;
    fuzz_session(data, size, size == 0 ? 1 : size, &a);
    fuzz_session(data, size, step, &b);
    assert(a.err == b.err && a.events == b.events && a.dts_sum == b.dts_sum);
    assert(a.out_len == b.out_len && a.out_sum == b.out_sum);
    return 0;
}
