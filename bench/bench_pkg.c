/*
 * bench_pkg.c -- CPU cost of passthrough packaging, per second of input.
 *
 *   build/bench_pkg [input.flv] [rounds]
 *
 * Without an input it has ffmpeg make 10 s of 1080p30 H.264 at 6 Mbit/s
 * with 128 kbit/s AAC (2 s GOP) in a temp dir. The FLV is read into memory
 * first (libavformat's FLV demuxer, as the ingest will hand frames over),
 * then packaged `rounds` times (default 5) by a fresh struct pkg each
 * round, with a callback that only counts bytes. The process CPU time of
 * the packaging alone is divided by the media seconds packaged; the ladder
 * budget uses cpu_ms_per_media_s. Run it from a build without sanitizers.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../origin/pkg.c"
#include "../origin/pkg_cfg.c"

struct bench_frame {
    enum pkg_track track;
    struct pkg_frame f;
    uint8_t *data; /* owned */
};

struct bench_in {
    struct bench_frame *v; /* owned */
    size_t n, cap;
    uint8_t *avcc, *asc; /* owned */
    size_t avcc_len, asc_len;
    int64_t first_ms, last_ms;
    uint64_t bytes;
};

static int
bench_read(const char *path, struct bench_in *in)
{
    AVFormatContext *ic = NULL;
    AVCodecParameters *par;
    AVPacket *pkt;
    struct bench_frame *b;
    unsigned i;

    if (avformat_open_input(&ic, path, NULL, NULL) < 0)
        return -1;
    pkt = av_packet_alloc();
    in->first_ms = INT64_MAX;
    while (av_read_frame(ic, pkt) >= 0) {
        par = ic->streams[pkt->stream_index]->codecpar;
        if (in->n == in->cap) {
            in->cap = in->cap ? in->cap * 2 : 1024;
            in->v = xrealloc(in->v, in->cap * sizeof(*in->v));
        }
        b = &in->v[in->n++];
        memset(b, 0, sizeof(*b));
        b->track = par->codec_type == AVMEDIA_TYPE_VIDEO ? PKG_VIDEO : PKG_AUDIO;
        b->data = xmalloc((size_t)pkt->size);
        memcpy(b->data, pkt->data, (size_t)pkt->size);
        b->f.data = b->data;
        b->f.len = (size_t)pkt->size;
        b->f.dts_ms = pkt->dts;
        b->f.cts_ms = (int32_t)(pkt->pts - pkt->dts);
        b->f.key = (pkt->flags & AV_PKT_FLAG_KEY) != 0;
        in->bytes += (uint64_t)pkt->size;
        if (pkt->dts < in->first_ms)
            in->first_ms = pkt->dts;
        if (pkt->dts > in->last_ms)
            in->last_ms = pkt->dts;
        av_packet_unref(pkt);
    }
    av_packet_free(&pkt);
    for (i = 0; i < ic->nb_streams; i++) {
        par = ic->streams[i]->codecpar;
        if (par->extradata_size <= 0)
            continue;
        if (par->codec_type == AVMEDIA_TYPE_VIDEO) {
            in->avcc_len = (size_t)par->extradata_size;
            in->avcc = xmalloc(in->avcc_len);
            memcpy(in->avcc, par->extradata, in->avcc_len);
        } else if (par->codec_type == AVMEDIA_TYPE_AUDIO) {
            in->asc_len = (size_t)par->extradata_size;
            in->asc = xmalloc(in->asc_len);
            memcpy(in->asc, par->extradata, in->asc_len);
        }
    }
    avformat_close_input(&ic);
    return in->avcc != NULL && in->asc != NULL && in->n > 0 ? 0 : -1;
}

static int
bench_out(void *arg, const struct pkg_out *o)
{
    uint64_t *bytes = arg;

    *bytes += o->len;
    return 0;
}

static double
bench_cpu_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int
main(int argc, char **argv)
{
    struct bench_in in = {0};
    struct pkg_params pp = {.stream = "bench"};
    struct pkg_video_cfg vc = {.codec = PKG_CODEC_H264};
    struct pkg_audio_cfg ac = {.codec = PKG_CODEC_AAC};
    char dir[] = "/tmp/cascade-bench-pkg-XXXXXX", path[256], cmd[768];
    const char *input = argc > 1 ? argv[1] : NULL;
    int rounds = argc > 2 ? (int)strtol(argv[2], NULL, 10) : 5;
    uint64_t out_bytes = 0;
    double t0, cpu, media_s;
    struct pkg *p;
    size_t i;
    int r;

    log_set_level(LOG_WARN);
    pkg_global_init();
    if (input == NULL) {
        if (mkdtemp(dir) == NULL)
            return 1;
        (void)snprintf(path, sizeof(path), "%s/in1080.flv", dir);
        (void)snprintf(
            cmd, sizeof(cmd),
            "ffmpeg -nostdin -hide_banner -loglevel error -y -f lavfi "
            "-i testsrc2=size=1920x1080:rate=30 -f lavfi -i sine=sample_rate=48000 -t 10 "
            "-c:v libx264 -preset ultrafast -b:v 6M -maxrate 6M -bufsize 12M -g 60 "
            "-keyint_min 60 -sc_threshold 0 -c:a aac -b:a 128k -f flv %s",
            path);
        if (system(cmd) != 0)
            return 1;
        input = path;
    }
    if (rounds < 1 || bench_read(input, &in) != 0) {
        (void)fprintf(stderr, "bench_pkg: cannot read %s\n", input);
        return 1;
    }
    vc.record = in.avcc;
    vc.record_len = in.avcc_len;
    ac.asc = in.asc;
    ac.asc_len = in.asc_len;
    t0 = bench_cpu_s();
    for (r = 0; r < rounds; r++) {
        if (pkg_new(&p, &pp, bench_out, &out_bytes) != 0 || pkg_config_video(p, &vc, 0) != 0 ||
            pkg_config_audio(p, &ac, 0) != 0)
            return 1;
        for (i = 0; i < in.n; i++)
            if (pkg_push(p, in.v[i].track, &in.v[i].f) != 0)
                return 1;
        if (pkg_flush(p) != 0)
            return 1;
        pkg_free(&p);
    }
    cpu = bench_cpu_s() - t0;
    media_s = (double)(in.last_ms - in.first_ms) / 1000.0 * rounds;
    printf("bench=pkg input=%s frames=%zu media_s=%.2f in_mbit_s=%.2f rounds=%d cpu_s=%.3f "
           "cpu_ms_per_media_s=%.3f realtime_x=%.0f out_overhead_pct=%.2f\n",
           input, in.n, media_s / rounds, (double)in.bytes * 8 / 1e6 / (media_s / rounds), rounds,
           cpu, cpu * 1000 / media_s, media_s / cpu,
           100.0 * ((double)out_bytes / rounds - (double)in.bytes) / (double)in.bytes);
    for (i = 0; i < in.n; i++)
        xfree(in.v[i].data);
    xfree(in.v);
    xfree(in.avcc);
    xfree(in.asc);
    if (input == path) {
        unlink(path);
        rmdir(dir);
    }
    return 0;
}
