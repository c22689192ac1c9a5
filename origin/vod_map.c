/*
 * vod_map.c -- the manager thread's work: map an uploaded video into
 * chunk jobs, watch them, and reduce a finished video into manifests
 * (docs/vod.md). Runs ffprobe/ffmpeg as child processes for the probe, the
 * scene pass and the stream-copy split; nothing here decodes in-process.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "vod_int.h"
#include "err.h"
#include "log.h"
#include "mem.h"
#include "media/buf.h"
#include "media/ladder.h"
#include "media/model.h"
#include "pkg.h"
#include "vod_jobs.h"
#include "vod_plan.h"
#include "compat.h"

int
vod_run(const char *const *argv, int out_fd, const char *err_path, vod_tick_fn *tick, void *arg)
{
    pid_t pid;
    int st, fd;

    pid = fork();
    if (pid < 0)
        return -errno;
    if (pid == 0) {
        /* ffmpeg dies with whoever runs it (a worker killed with -9 included). */
        (void)prctl(PR_SET_PDEATHSIG, SIGKILL);
        fd = open("/dev/null", O_RDWR);
        if (fd >= 0) {
            (void)dup2(fd, 0);
            (void)dup2(out_fd >= 0 ? out_fd : fd, 1);
        }
        if (err_path != NULL) {
            int efd = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

            if (efd >= 0)
                (void)dup2(efd, 2);
        } else if (fd >= 0) {
            (void)dup2(fd, 2);
        }
        execvp(argv[0], (char *const *)argv);
        _exit(127);
    }
    for (;;) {
        pid_t w = waitpid(pid, &st, tick != NULL ? WNOHANG : 0);

        if (w == pid)
            break;
        if (w < 0 && errno != EINTR)
            return -errno;
        if (tick != NULL) {
            struct timespec ts = {0, 200 * 1000000L};

            (void)nanosleep(&ts, NULL);
            if (tick(arg) != 0) {
                (void)kill(pid, SIGKILL);
                (void)waitpid(pid, &st, 0);
                return ERR_CLOSED;
            }
        }
    }
    if (WIFEXITED(st))
        return WEXITSTATUS(st);
    return 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

void
vod_first_line(const char *path, char *out, size_t outsz)
{
    FILE *f = fopen(path, "r");

    out[0] = '\0';
    if (f == NULL)
        return;
    if (fgets(out, (int)outsz, f) == NULL)
        out[0] = '\0';
    (void)fclose(f);
    out[strcspn(out, "\r\n")] = '\0';
    for (char *p = out; *p != '\0'; p++)
        if (*p == '"' || (unsigned char)*p < 0x20)
            *p = '\'';
}

int
vod_ladder_load(const char *spec, struct ladder *out)
{
    char text[LADDER_FILE_MAX];
    unsigned line = 0;
    size_t n;
    FILE *f;
    int rc;

    if (spec == NULL || strcmp(spec, "default") == 0 || strcmp(spec, "none") == 0) {
        ladder_default(out);
        return 0;
    }
    f = fopen(spec, "r");
    if (f == NULL) {
        LOG(LOG_ERR, "vod", "ladder_open_failed", "conn=0 path=%s err=%s", spec, err_name(-errno));
        return ERR_CONF;
    }
    n = fread(text, 1, sizeof(text), f);
    (void)fclose(f);
    rc = ladder_parse(out, text, n, &line);
    if (rc != 0)
        LOG(LOG_ERR, "vod", "ladder_bad", "conn=0 path=%s line=%u err=%s", spec, line,
            err_name(rc));
    return rc;
}

/* ---- map ---- */

static const char *
vod_map_str(json_t *j, const char *k)
{
    const char *s = json_string_value(json_object_get(j, k));

    return s != NULL ? s : "";
}

static void
vod_map_fail(struct vod *v, const char *id, const char *fmt, const char *detail)
{
    char reason[512];

    (void)vod_fmt(reason, sizeof(reason), fmt, detail);
    vod_status_set(v, id, "failed", reason);
}

struct vod_map_scan {
    struct vod_scenes *sc;
    const struct vod_scene_params *p;
};

static void
vod_map_scan_cb(void *arg, int64_t t_ms, double score)
{
    struct vod_map_scan *s = arg;

    vod_scenes_frame(s->sc, s->p, t_ms, score);
}

/* Reads the scene pass's output file. */
static int
vod_map_scan_read(const char *path, struct vod_map_scan *ms)
{
    struct vod_scan scan;
    uint8_t buf[16384];
    ssize_t n;
    int fd, rc = 0;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    vod_scan_init(&scan);
    while ((n = read(fd, buf, sizeof(buf))) > 0) {
        long r = vod_scan_feed(&scan, buf, (size_t)n, vod_map_scan_cb, ms);

        if (r < 0) {
            rc = (int)r;
            break;
        }
    }
    (void)close(fd);
    return rc;
}

static int64_t
vod_map_scale(int64_t pts, const struct pkg_index *ix, int64_t scale)
{
    long double x = (long double)(pts - ix->key_pts[0]) * scale * ix->tb_num / ix->tb_den;

    return (int64_t)llroundl(x);
}

static bool
vod_map_probe(const char *src, const char *work, uint32_t *w, uint32_t *h, bool *audio, char *why,
              size_t whysz)
{
    char out[VOD_PATH_MAX], err[VOD_PATH_MAX], line[128];
    const char *vargv[] = {"ffprobe",
                           "-v",
                           "error",
                           "-select_streams",
                           "v:0",
                           "-show_entries",
                           "stream=width,height",
                           "-of",
                           "csv=p=0",
                           src,
                           NULL};
    const char *aargv[] = {
        "ffprobe", "-v", "error", "-select_streams", "a:0", "-show_entries", "stream=index", "-of",
        "csv=p=0", src,  NULL};
    unsigned ww = 0, hh = 0;
    int fd, rc;

    (void)vod_fmt(out, sizeof(out), "%s/probe.out", work);
    (void)vod_fmt(err, sizeof(err), "%s/probe.err", work);
    fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return false;
    rc = vod_run(vargv, fd, err, NULL, NULL);
    (void)close(fd);
    vod_first_line(out, line, sizeof(line));
    if (rc != 0 || sscanf(line, "%u,%u", &ww, &hh) != 2 || ww == 0 || hh == 0) {
        vod_first_line(err, why, whysz);
        if (why[0] == '\0')
            (void)vod_fmt(why, whysz, "no video stream");
        return false;
    }
    *w = ww;
    *h = hh;
    fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return false;
    rc = vod_run(aargv, fd, NULL, NULL, NULL);
    (void)close(fd);
    vod_first_line(out, line, sizeof(line));
    *audio = rc == 0 && line[0] != '\0';
    return true;
}

static int
vod_map_split(const char *src, const char *work, const struct pkg_index *ix, const size_t *starts,
              int n)
{
    struct buf times;
    char pat[VOD_PATH_MAX], err[VOD_PATH_MAX];
    int rc;

    buf_init(&times, 1u << 20);
    for (int i = 1; i < n; i++) {
        /* A hair before the keyframe, so float rounding cannot miss it. */
        long double s = (long double)ix->key_pts[starts[i]] * ix->tb_num / ix->tb_den - 0.0005L;

        buf_printf(&times, "%s%.4Lf", i > 1 ? "," : "", s);
    }
    if (n == 1)
        buf_puts(&times, "1000000000");
    (void)vod_fmt(pat, sizeof(pat), "%s/chunk%%05d.mkv", work);
    (void)vod_fmt(err, sizeof(err), "%s/split.err", work);
    {
        const char *argv[] = {"ffmpeg",   "-nostdin",
                              "-v",       "error",
                              "-y",       "-i",
                              src,        "-map",
                              "0:v:0",    "-c",
                              "copy",     "-f",
                              "segment",  "-segment_times",
                              times.p,    "-reset_timestamps",
                              "1",        "-segment_format",
                              "matroska", pat,
                              NULL};

        rc = buf_status(&times) != 0 ? ERR_LIMIT : vod_run(argv, -1, err, NULL, NULL);
    }
    buf_free(&times);
    return rc;
}

/* The audio stream, copied whole into work/audio.mka (one job encodes it). */
static int
vod_map_audio_copy(const char *src, const char *work)
{
    char aout[VOD_PATH_MAX], err[VOD_PATH_MAX];
    const char *argv[] = {"ffmpeg", "-nostdin", "-v", "error", "-y",  "-i", src,
                          "-map",   "0:a:0",    "-c", "copy",  "-vn", aout, NULL};

    (void)vod_fmt(aout, sizeof(aout), "%s/audio.mka", work);
    (void)vod_fmt(err, sizeof(err), "%s/split.err", work);
    return vod_run(argv, -1, err, NULL, NULL);
}

static int
vod_map_enqueue(struct vod *v, const char *id, const char *name, json_t *spec)
{
    char key[128], jid[96];
    json_t *j = json_object();
    int rc;

    (void)vod_fmt(jid, sizeof(jid), "%s.%s", id, name);
    (void)vod_fmt(key, sizeof(key), "j:%s", jid);
    AZ(json_object_set_new(j, "id", json_string(jid)));
    AZ(json_object_set_new(j, "video", json_string(id)));
    AZ(json_object_set_new(j, "state", json_string("queued")));
    AZ(json_object_set_new(j, "attempts", json_integer(0)));
    AZ(json_object_set_new(j, "not_before", json_integer(0)));
    AZ(json_object_set(j, "spec", spec));
    rc = vod_db_put(vod_db_of(v), key, j);
    json_decref(j);
    return rc;
}

/* The one audio job ({id}.a00000): the whole file, encoded once. */
static int
vod_map_audio_job(struct vod *v, const char *id, int64_t dur_ms)
{
    const struct ladder *l = vod_ladder_of(v);
    json_t *areps = json_array(), *spec = json_object();
    int rc;

    for (unsigned i = 0; i < l->n_audio; i++) {
        json_t *r = json_object();

        AZ(json_object_set_new(r, "id", json_string(l->audio[i].id)));
        AZ(json_object_set_new(r, "kbps", json_integer(l->audio[i].kbps)));
        AZ(json_array_append_new(areps, r));
    }
    AZ(json_object_set_new(spec, "kind", json_string("audio")));
    AZ(json_object_set_new(spec, "input", json_string("audio.mka")));
    AZ(json_object_set_new(spec, "start_ms", json_integer(0)));
    AZ(json_object_set_new(spec, "duration_ms", json_integer(dur_ms)));
    AZ(json_object_set_new(spec, "seg_ms", json_integer(vod_conf_of(v)->seg_ms)));
    AZ(json_object_set_new(spec, "reps", areps));
    rc = vod_map_enqueue(v, id, "a00000", spec);
    json_decref(spec);
    return rc;
}

static void
vod_map(struct vod *v, const char *id, json_t *rec)
{
    const struct vod_conf *c = vod_conf_of(v);
    char work[VOD_PATH_MAX], src[VOD_PATH_MAX], path[VOD_PATH_MAX], why[256], name[32];
    struct vod_scene_params sp = {c->scene_milli, c->engaging_cuts, c->engaging_motion};
    struct vod_plan_params pp = {c->seg_ms, c->chunk_ms, c->chunk_min_ms, c->chunk_max_ms, 0};
    struct ladder_pick picks[LADDER_MAX_VIDEO];
    struct pkg_index ix;
    struct vod_scenes sc;
    struct vod_map_scan ms = {&sc, &sp};
    int64_t *key_ms = NULL, *cuts = NULL, dur_ms;
    size_t *starts = NULL;
    uint32_t w = 0, h = 0;
    bool audio = false;
    json_t *arr, *reps, *spec;
    int n, np, rc;
    char key[80];

    vod_status_set(v, id, "indexing", NULL);
    if (vod_dir_of(v, id, "work", work, sizeof(work)) != 0)
        return;
    (void)vod_fmt(src, sizeof(src), "%s/source", work);
    why[0] = '\0';
    if (!vod_map_probe(src, work, &w, &h, &audio, why, sizeof(why))) {
        vod_map_fail(v, id, "ffmpeg cannot read the file: %s", why);
        return;
    }
    rc = pkg_index_file(src, &ix);
    if (rc != 0 || ix.n == 0) {
        vod_map_fail(v, id, "keyframe index failed: %s", rc != 0 ? err_str(rc) : "no keyframes");
        if (rc == 0)
            pkg_index_free(&ix);
        return;
    }
    key_ms = xcalloc(ix.n, sizeof(*key_ms));
    for (size_t i = 0; i < ix.n; i++)
        key_ms[i] = vod_map_scale(ix.key_pts[i], &ix, 1000);
    dur_ms = vod_map_scale(ix.end_pts, &ix, 1000);
    /* Audio first: its job runs on a worker while the scene pass and the
     * split below still run here. */
    if (audio) {
        rc = vod_map_audio_copy(src, work);
        if (rc == 0)
            rc = vod_map_audio_job(v, id, dur_ms);
        if (rc != 0) {
            (void)vod_fmt(path, sizeof(path), "%s/split.err", work);
            vod_first_line(path, why, sizeof(why));
            vod_map_fail(v, id, "audio copy failed: %s", why);
            goto out;
        }
    }
    /* The scene pass: every frame's scene score, decoded small. */
    (void)vod_fmt(path, sizeof(path), "%s/scenes.txt", work);
    {
        char err[VOD_PATH_MAX];
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        /* Cheaper decoding: scores need no deblocking, and skipping B
         * frames still decodes every keyframe, so a cut on a keyframe is
         * seen on its exact frame; the downscale is the cheapest one. */
        const char *argv[] = {
            "ffmpeg",
            "-nostdin",
            "-v",
            "error",
            "-skip_frame",
            "bidir",
            "-skip_loop_filter",
            "all",
            "-i",
            src,
            "-map",
            "0:v:0",
            "-vf",
            "scale=160:-2:flags=fast_bilinear,select='gte(scene,0)',metadata=print:file=-",
            "-an",
            "-f",
            "null",
            "-",
            NULL};

        (void)vod_fmt(err, sizeof(err), "%s/scenes.err", work);
        rc = fd < 0 ? -errno : vod_run(argv, fd, err, NULL, NULL);
        if (fd >= 0)
            (void)close(fd);
        if (rc != 0) {
            vod_first_line(err, why, sizeof(why));
            vod_map_fail(v, id, "scene pass failed: %s", why);
            goto out;
        }
    }
    vod_scenes_init(&sc);
    rc = vod_map_scan_read(path, &ms);
    vod_scenes_finish(&sc, &sp, dur_ms);
    cuts = xcalloc(sc.n, sizeof(*cuts));
    for (size_t i = 1; i < sc.n; i++)
        cuts[i - 1] = sc.v[i].start_ms;
    /* A keyframe within half a frame-ish of a cut is on it. */
    pp.tol_ms = 20;
    starts = xcalloc(VOD_MAX_CHUNKS_MAP, sizeof(*starts));
    n = vod_plan_chunks(key_ms, ix.n, dur_ms, cuts, sc.n > 0 ? sc.n - 1 : 0, sc.engaging, &pp,
                        starts, VOD_MAX_CHUNKS_MAP);
    if (n < 1) {
        vod_map_fail(v, id, "chunk plan failed: %s", err_str(n));
        goto out_scenes;
    }
    rc = vod_map_split(src, work, &ix, starts, n);
    if (rc != 0) {
        (void)vod_fmt(path, sizeof(path), "%s/split.err", work);
        vod_first_line(path, why, sizeof(why));
        vod_map_fail(v, id, "split failed: %s", why);
        goto out_scenes;
    }
    (void)vod_fmt(path, sizeof(path), "%s/chunk%05d.mkv", work, n - 1);
    if (access(path, R_OK) != 0) {
        vod_map_fail(v, id, "split failed: %s", "fewer chunks than planned");
        goto out_scenes;
    }
    np = ladder_select(vod_ladder_of(v), w, h, picks, LADDER_MAX_VIDEO);
    if (np < 1) {
        vod_map_fail(v, id, "no rendition fits the source: %s", err_str(np));
        goto out_scenes;
    }
    reps = json_array();
    for (int i = 0; i < np; i++) {
        json_t *r = json_object();

        AZ(json_object_set_new(r, "id", json_string(picks[i].rung->id)));
        AZ(json_object_set_new(r, "width", json_integer(picks[i].width)));
        AZ(json_object_set_new(r, "height", json_integer(picks[i].height)));
        AZ(json_object_set_new(r, "kbps", json_integer(picks[i].rung->kbps)));
        AZ(json_array_append_new(reps, r));
    }
    arr = json_array();
    for (int i = 0; i < n; i++) {
        int64_t s = key_ms[starts[i]];
        int64_t e = i + 1 < n ? key_ms[starts[i + 1]] : dur_ms;
        json_t *ch = json_object();

        AZ(json_object_set_new(ch, "start_ms", json_integer(s)));
        AZ(json_object_set_new(ch, "duration_ms", json_integer(e - s)));
        AZ(json_array_append_new(arr, ch));
        spec = json_object();
        (void)vod_fmt(name, sizeof(name), "chunk%05d.mkv", i);
        AZ(json_object_set_new(spec, "kind", json_string("video")));
        AZ(json_object_set_new(spec, "input", json_string(name)));
        AZ(json_object_set_new(spec, "index", json_integer(i)));
        AZ(json_object_set_new(spec, "start_ms", json_integer(s)));
        AZ(json_object_set_new(spec, "duration_ms", json_integer(e - s)));
        AZ(json_object_set_new(spec, "start90k",
                               json_integer(vod_map_scale(ix.key_pts[starts[i]], &ix, 90000))));
        AZ(json_object_set_new(spec, "seg_ms", json_integer(c->seg_ms)));
        AZ(json_object_set_new(spec, "preset", json_string(vod_ladder_of(v)->preset)));
        AZ(json_object_set(spec, "reps", reps));
        (void)vod_fmt(name, sizeof(name), "v%05d", i);
        rc = vod_map_enqueue(v, id, name, spec);
        json_decref(spec);
        if (rc != 0)
            break;
    }
    AZ(json_object_set_new(rec, "chunks", arr));
    AZ(json_object_set_new(rec, "renditions", reps));
    AZ(json_object_set_new(rec, "duration_ms", json_integer(dur_ms)));
    AZ(json_object_set_new(rec, "width", json_integer(w)));
    AZ(json_object_set_new(rec, "height", json_integer(h)));
    AZ(json_object_set_new(rec, "has_audio", json_boolean(audio)));
    AZ(json_object_set_new(rec, "keyframes", json_integer((json_int_t)ix.n)));
    AZ(json_object_set_new(rec, "engaging", json_boolean(sc.engaging)));
    AZ(json_object_set_new(rec, "cuts_per_min", json_real(sc.cuts_per_min)));
    AZ(json_object_set_new(rec, "mean_motion", json_real(sc.mean_motion)));
    arr = json_array();
    for (size_t i = 0; i < sc.n; i++) {
        json_t *s = json_object();

        AZ(json_object_set_new(s, "start_ms", json_integer(sc.v[i].start_ms)));
        AZ(json_object_set_new(s, "duration_ms", json_integer(sc.v[i].dur_ms)));
        AZ(json_object_set_new(s, "cut", json_real(sc.v[i].cut)));
        AZ(json_object_set_new(s, "engagement", json_real(sc.v[i].engagement)));
        AZ(json_array_append_new(arr, s));
    }
    AZ(json_object_set_new(rec, "scenes", arr));
    AZ(json_object_set_new(rec, "status", json_string(rc == 0 ? "transcoding" : "failed")));
    if (rc != 0)
        AZ(json_object_set_new(rec, "reason", json_string("could not queue the jobs")));
    (void)vod_fmt(key, sizeof(key), "v:%s", id);
    if (vod_db_put(vod_db_of(v), key, rec) != 0)
        LOG(LOG_ERR, "vod", "status_write_failed", "conn=0 video=%s", id);
    LOG(LOG_INFO, "vod", "mapped",
        "conn=0 video=%s chunks=%d engaging=%d scenes=%zu keyframes=%zu duration_ms=%" PRId64, id,
        n, (int)sc.engaging, sc.n, ix.n, dur_ms);
out_scenes:
    vod_scenes_free(&sc);
out:
    xfree(starts);
    xfree(cuts);
    xfree(key_ms);
    pkg_index_free(&ix);
}

/* ---- reduce ---- */

struct vod_reduce {
    json_t *video; /* array of results, by chunk */
    json_t *audio; /* result or NULL */
    int64_t done, total, failed;
    char reason[256];
};

static int
vod_reduce_walk(void *arg, const char *key, json_t *j)
{
    struct vod_reduce *r = arg;
    const char *st = vod_map_str(j, "state");
    json_t *spec = json_object_get(j, "spec");

    (void)key;
    r->total++;
    if (strcmp(st, "failed") == 0) {
        r->failed++;
        (void)vod_fmt(r->reason, sizeof(r->reason), "job %s failed: %s", vod_map_str(j, "id"),
                      vod_map_str(j, "reason"));
    }
    if (strcmp(st, "done") != 0)
        return 0;
    r->done++;
    if (strcmp(vod_map_str(spec, "kind"), "audio") == 0)
        r->audio = json_incref(json_object_get(j, "result"));
    else
        AZ(json_array_append(r->video, json_object_get(j, "result")));
    return 0;
}

static int
vod_reduce_write(struct vod *v, const char *id, const char *name, struct buf *b)
{
    char path[VOD_PATH_MAX];

    if (buf_status(b) != 0 || vod_dir_of(v, id, name, path, sizeof(path)) != 0)
        return ERR_LIMIT;
    return vod_write_file(path, b->p != NULL ? b->p : "", b->len);
}

static int
vod_reduce_add_reps(struct model_aset *s, json_t *reps_obj, json_t *order)
{
    size_t i;
    json_t *o;

    json_array_foreach(order, i, o)
    {
        const char *rid = vod_map_str(o, "id");
        json_t *r = json_object_get(reps_obj, rid);
        struct model_rep *rep;
        int rc;

        if (r == NULL)
            return ERR_MEDIA;
        rc = model_rep_add(s, rid, vod_map_str(r, "codecs"),
                           (uint32_t)json_integer_value(json_object_get(r, "bandwidth")), &rep);
        if (rc != 0)
            return rc;
        rep->width = (uint32_t)json_integer_value(json_object_get(r, "width"));
        rep->height = (uint32_t)json_integer_value(json_object_get(r, "height"));
        rep->sample_rate = (uint32_t)json_integer_value(json_object_get(r, "sample_rate"));
        rep->channels = (uint32_t)json_integer_value(json_object_get(r, "channels"));
    }
    return 0;
}

/* Appends one rendition's segments; gaps counted, overlaps refused. */
static int
vod_reduce_segs(struct model *m, struct model_aset *s, json_t *segs, uint64_t *gaps)
{
    size_t i;
    json_t *sd;

    json_array_foreach(segs, i, sd)
    {
        uint64_t t = (uint64_t)json_integer_value(json_array_get(sd, 0));
        uint64_t d = (uint64_t)json_integer_value(json_array_get(sd, 1));
        uint64_t end = model_timeline_end(&s->tl);
        int rc;

        if (s->tl.nsegs > 0 && t != end)
            (*gaps)++;
        rc = model_segment_add(m, s, t, d);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static void
vod_reduce(struct vod *v, const char *id, json_t *rec, struct vod_reduce *r)
{
    struct model *m = model_new();
    struct model_period *p = NULL;
    struct model_aset *vs = NULL, *as = NULL;
    struct model_period *p0 = NULL;
    json_t *first_reps, *res, *scenes, *sc;
    uint64_t gaps = 0, agaps = 0;
    const char *rid0;
    struct buf b;
    size_t i;
    int rc;

    buf_init(&b, MODEL_OUT_MAX);
    m->type = MODEL_STATIC;
    m->min_buffer_ms = 2 * vod_conf_of(v)->seg_ms;
    rc = model_set_name(m, id);
    if (rc == 0)
        rc = model_period_add(m, "0", 0, &p);
    if (rc == 0)
        rc = model_aset_add(p, 0, MODEL_VIDEO, "video/mp4", "avc", 90000, &vs);
    first_reps = json_object_get(json_array_get(r->video, 0), "reps");
    if (rc == 0)
        rc = vod_reduce_add_reps(vs, first_reps, json_object_get(rec, "renditions"));
    rid0 = vs != NULL && vs->nreps > 0 ? vs->reps[0]->id : "";
    (void)p0;
    json_array_foreach(r->video, i, res)
    {
        json_t *reps = json_object_get(res, "reps");
        json_t *segs0 = json_object_get(json_object_get(reps, rid0), "segs");
        const char *k;
        json_t *rv;

        if (rc != 0)
            break;
        /* Every rendition must cut at the same times (aligned). */
        json_object_foreach(reps, k, rv)
        {
            if (!json_equal(json_object_get(rv, "segs"), segs0)) {
                rc = ERR_MEDIA;
                LOG(LOG_WARN, "vod", "misaligned", "conn=0 video=%s rep=%s chunk=%zu", id, k, i);
            }
        }
        if (rc == 0)
            rc = vod_reduce_segs(m, vs, segs0, &gaps);
    }
    if (rc == 0 && r->audio != NULL) {
        json_t *areps = json_object_get(r->audio, "reps");
        const char *k;
        json_t *rv, *order = json_array();
        uint32_t ts = 0;

        json_object_foreach(areps, k, rv)
        {
            json_t *o = json_object();

            AZ(json_object_set_new(o, "id", json_string(k)));
            AZ(json_array_append_new(order, o));
            ts = (uint32_t)json_integer_value(json_object_get(rv, "timescale"));
        }
        rc = ts == 0 ? ERR_MEDIA : model_aset_add(p, 1, MODEL_AUDIO, "audio/mp4", "aac", ts, &as);
        if (rc == 0)
            rc = vod_reduce_add_reps(as, areps, order);
        json_decref(order);
        if (rc == 0 && as->nreps > 0)
            rc = vod_reduce_segs(
                m, as, json_object_get(json_object_get(areps, as->reps[0]->id), "segs"), &agaps);
    }
    scenes = json_object_get(rec, "scenes");
    json_array_foreach(scenes, i, sc)
    {
        if (rc != 0)
            break;
        rc = model_scene_add(m, (uint64_t)json_integer_value(json_object_get(sc, "start_ms")),
                             (uint64_t)json_integer_value(json_object_get(sc, "duration_ms")),
                             json_real_value(json_object_get(sc, "engagement")));
    }
    if (rc == 0) {
        m->duration_ms = model_end_ms(m);
        rc = model_json_write(m, &b);
        if (rc == 0)
            rc = vod_reduce_write(v, id, "model.json", &b);
    }
    if (rc == 0) {
        buf_reset(&b);
        rc = model_mpd_write(m, NULL, &b);
        if (rc == 0)
            rc = vod_reduce_write(v, id, "manifest.mpd", &b);
    }
    if (rc == 0) {
        buf_reset(&b);
        rc = model_hls_master_write(m, NULL, &b);
        if (rc == 0)
            rc = vod_reduce_write(v, id, "master.m3u8", &b);
    }
    for (uint32_t si = 0; rc == 0 && si < p->nsets; si++) {
        for (uint32_t ri = 0; rc == 0 && ri < p->sets[si]->nreps; ri++) {
            char name[VOD_NAME_MAX + 16];

            buf_reset(&b);
            rc = model_hls_media_write(m, p->sets[si]->reps[ri]->id, &b);
            (void)vod_fmt(name, sizeof(name), "%s/media.m3u8", p->sets[si]->reps[ri]->id);
            if (rc == 0)
                rc = vod_reduce_write(v, id, name, &b);
        }
    }
    if (rc == 0) {
        char key[80];

        AZ(json_object_set_new(rec, "status", json_string("ready")));
        AZ(json_object_set_new(rec, "join_gaps", json_integer((json_int_t)gaps)));
        AZ(json_object_set_new(rec, "audio_gaps", json_integer((json_int_t)agaps)));
        AZ(json_object_set_new(rec, "segments", json_integer((json_int_t)vs->tl.nsegs)));
        AZ(json_object_set_new(rec, "duration_ms", json_integer((json_int_t)m->duration_ms)));
        AZ(json_object_set_new(rec, "ready_ms", json_integer((json_int_t)vod_now_ms())));
        (void)vod_fmt(key, sizeof(key), "v:%s", id);
        if (vod_db_put(vod_db_of(v), key, rec) != 0)
            LOG(LOG_ERR, "vod", "status_write_failed", "conn=0 video=%s", id);
        LOG(LOG_INFO, "vod", "ready", "conn=0 video=%s segments=%" PRIu64 " gaps=%" PRIu64, id,
            vs->tl.nsegs, gaps);
    } else {
        vod_map_fail(v, id, "reduce failed: %s", err_str(rc));
    }
    buf_free(&b);
    model_free(&m);
}

static void
vod_check(struct vod *v, const char *id, json_t *rec)
{
    struct vod_reduce r;
    char pre[80];

    memset(&r, 0, sizeof(r));
    r.video = json_array();
    (void)vod_fmt(pre, sizeof(pre), "j:%s.", id);
    if (vod_db_each(vod_db_of(v), pre, false, vod_reduce_walk, &r) == 0) {
        if (r.failed > 0)
            vod_status_set(v, id, "failed", r.reason);
        else if (r.total > 0 && r.done == r.total)
            vod_reduce(v, id, rec, &r);
    }
    json_decref(r.video);
    json_decref(r.audio);
}

struct vod_manage_walk {
    json_t *todo; /* array of video records to look at */
};

static int
vod_manage_walk(void *arg, const char *key, json_t *j)
{
    struct vod_manage_walk *w = arg;
    const char *st = vod_map_str(j, "status");

    (void)key;
    if (strcmp(st, "uploaded") == 0 || strcmp(st, "indexing") == 0 ||
        strcmp(st, "transcoding") == 0)
        AZ(json_array_append(w->todo, j));
    return 0;
}

void
vod_manage_once(struct vod *v)
{
    struct vod_manage_walk w = {json_array()};
    size_t i;
    json_t *rec;
    int rc;

    rc = vod_jobs_reap(vod_db_of(v), vod_qp_of(v), vod_now_ms());
    if (rc > 0)
        LOG(LOG_INFO, "vod", "reaped", "conn=0 jobs=%d", rc);
    if (vod_db_each(vod_db_of(v), "v:", false, vod_manage_walk, &w) != 0) {
        json_decref(w.todo);
        return;
    }
    json_array_foreach(w.todo, i, rec)
    {
        const char *id = vod_map_str(rec, "id");
        const char *st = vod_map_str(rec, "status");

        /* "indexing" left by a restart mid-map: map again from the start. */
        if (strcmp(st, "uploaded") == 0 || strcmp(st, "indexing") == 0)
            vod_map(v, id, rec);
        else
            vod_check(v, id, rec);
    }
    json_decref(w.todo);
}
