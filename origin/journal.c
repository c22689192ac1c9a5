/*
 * journal.c -- append FLV tags to per-session files, fdatasync them in
 * groups from a syncer thread, replay them after a crash, seal and sweep
 * them when their run has ended (journal.h has the layout).
 *
 * The syncer holds its mutex while it syncs, so journal_open() and
 * journal_close() (rare) may wait for one sync pass; journal_append() (per
 * tag) never takes the mutex: it writes and bumps an atomic counter that
 * the syncer reads.
 */
#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "journal.h"
#include "err.h"
#include "fault.h"
#include "log.h"
#include "mem.h"
#include "metrics.h"
#include "proto/flv.h"
#include "compat.h"

#define JOURNAL_PATH_MAX 4096
#define JOURNAL_READ_CHUNK (64u * 1024)
/*
 * Blocks reserved ahead of the write position (fallocate, KEEP_SIZE): an
 * fdatasync then finds the blocks already allocated, so it does not write
 * the block bitmap and group descriptor again on every sync (what
 * delayed allocation costs on ext4). 4 MiB is ~50 s of a 600 kbit/s
 * stream; close gives back what was not used.
 */
#define JOURNAL_PREALLOC (4u << 20)

struct journal {
    unsigned magic;
#define JOURNAL_MAGIC 0x6a726e6cU
    int fd;
    char *path; /* owned */
    _Atomic uint64_t written;
    _Atomic uint64_t synced;
    bool broken;
    uint8_t *wbuf; /* owned: tags not yet written, when buffered */
    size_t wlen, wcap;
    struct journal_syncer *sy;   /* borrowed; outlives every journal */
    struct journal *prev, *next; /* the syncer's list, under sy->mtx */
    uint64_t alloc_end;          /* blocks reserved up to here; UINT64_MAX: not supported */
};

struct journal_syncer {
    unsigned magic;
#define JOURNAL_SYNCER_MAGIC 0x6a73796eU
    pthread_t thread;
    pthread_mutex_t mtx;
    pthread_cond_t cond;
    bool stop;
    uint32_t interval_ms;
    struct journal *head; /* registered journals */
    struct metric *syncs, *errors, *bytes, *sync_seconds;
};

static struct metric *
journal_errors_metric(void)
{
    return metrics_counter("origin.journal.errors",
                           "Journal writes or syncs that failed (the stream went on without it).");
}

/* ---- the syncer ---- */

static void
journal_sync_one(struct journal_syncer *sy, struct journal *j)
{
    uint64_t w = atomic_load_explicit(&j->written, memory_order_acquire);
    struct timespec t0, t1;
    int rc;

    if (w == atomic_load_explicit(&j->synced, memory_order_relaxed) || j->fd < 0)
        return;
    AZ(clock_gettime(CLOCK_MONOTONIC, &t0));
    rc = FAULT("journal.sync") ? -EIO : (fdatasync(j->fd) == 0 ? 0 : -errno);
    AZ(clock_gettime(CLOCK_MONOTONIC, &t1));
    if (rc != 0) {
        metric_inc(sy->errors);
        LOG_RL(LOG_ERR, "journal", "sync_failed", 5, "stream=%s err=%s", j->path, err_name(rc));
        return;
    }
    metric_inc(sy->syncs);
    metric_observe(sy->sync_seconds,
                   (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
    atomic_store_explicit(&j->synced, w, memory_order_release);
}

static void *
journal_syncer_main(void *arg)
{
    struct journal_syncer *sy;
    struct timespec until;
    struct journal *j;

    CAST_OBJ_NOTNULL(sy, arg, JOURNAL_SYNCER_MAGIC);
    AZ(pthread_mutex_lock(&sy->mtx));
    while (!sy->stop) {
        AZ(clock_gettime(CLOCK_MONOTONIC, &until));
        until.tv_nsec += (long)(sy->interval_ms % 1000) * 1000000L;
        until.tv_sec += sy->interval_ms / 1000 + until.tv_nsec / 1000000000L;
        until.tv_nsec %= 1000000000L;
        while (!sy->stop && pthread_cond_timedwait(&sy->cond, &sy->mtx, &until) == 0)
            ;
        for (j = sy->head; j != NULL; j = j->next)
            journal_sync_one(sy, j);
    }
    AZ(pthread_mutex_unlock(&sy->mtx));
    return NULL;
}

int
journal_syncer_start(uint32_t interval_ms, struct journal_syncer **out)
{
    static const double bounds[] = {0.0005, 0.001, 0.002, 0.005, 0.01, 0.02,
                                    0.05,   0.1,   0.2,   0.5,   1.0};
    struct journal_syncer *sy;
    pthread_condattr_t ca;
    int rc;

    if (interval_ms == 0 || interval_ms > JOURNAL_SYNC_MAX_MS)
        return ERR_INVAL;
    sy = xcalloc(1, sizeof(*sy));
    sy->magic = JOURNAL_SYNCER_MAGIC;
    sy->interval_ms = interval_ms;
    AZ(pthread_mutex_init(&sy->mtx, NULL));
    AZ(pthread_condattr_init(&ca));
    AZ(pthread_condattr_setclock(&ca, CLOCK_MONOTONIC));
    AZ(pthread_cond_init(&sy->cond, &ca));
    AZ(pthread_condattr_destroy(&ca));
    sy->syncs =
        metrics_counter("origin.journal.syncs", "Journal fdatasync() calls that succeeded.");
    sy->errors = journal_errors_metric();
    sy->bytes = metrics_counter("origin.journal.bytes", "Bytes appended to journals.");
    sy->sync_seconds =
        metrics_histogram("origin.journal.sync_seconds", "Time one journal fdatasync() took.",
                          bounds, ARRAY_SIZE(bounds));
    rc = pthread_create(&sy->thread, NULL, journal_syncer_main, sy);
    if (rc != 0) {
        AZ(pthread_cond_destroy(&sy->cond));
        AZ(pthread_mutex_destroy(&sy->mtx));
        FREE_OBJ(sy);
        return -rc;
    }
    *out = sy;
    return 0;
}

void
journal_syncer_stop(struct journal_syncer **psy)
{
    struct journal_syncer *sy = *psy;

    if (sy == NULL)
        return;
    CHECK_OBJ(sy, JOURNAL_SYNCER_MAGIC);
    AZ(pthread_mutex_lock(&sy->mtx));
    sy->stop = true;
    AZ(pthread_cond_signal(&sy->cond));
    AZ(pthread_mutex_unlock(&sy->mtx));
    AZ(pthread_join(sy->thread, NULL));
    assert(sy->head == NULL); /* every journal was closed first */
    AZ(pthread_cond_destroy(&sy->cond));
    AZ(pthread_mutex_destroy(&sy->mtx));
    FREE_OBJ(sy);
    *psy = NULL;
}

/* ---- files ---- */

int
journal_mkdirs(const char *path)
{
    char buf[JOURNAL_PATH_MAX];
    size_t i, n = strlen(path);

    if (n == 0 || n >= sizeof(buf))
        return ERR_INVAL;
    memcpy(buf, path, n + 1);
    for (i = 1; i <= n; i++) {
        if (buf[i] != '/' && buf[i] != '\0')
            continue;
        buf[i] = '\0';
        if (mkdir(buf, 0755) != 0 && errno != EEXIST)
            return -errno;
        buf[i] = i == n ? '\0' : '/';
    }
    return 0;
}

int
journal_fsync_dir(const char *path)
{
    int fd, rc = 0;

    fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    if (fsync(fd) != 0)
        rc = -errno;
    (void)close(fd);
    return rc;
}

static int
journal_path(char *out, size_t outsz, const char *dir, const char *sub, uint64_t base)
{
    int w = snprintf(out, outsz, "%s%s%s/%0*" PRIu64 ".flv", dir, sub[0] ? "/" : "", sub,
                     JOURNAL_NAME_DIGITS, base);

    return w < 0 || (size_t)w >= outsz ? ERR_LIMIT : 0;
}

static int
journal_write_all(int fd, struct iovec *iov, int n)
{
    ssize_t w;

    while (n > 0) {
        w = writev(fd, iov, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        while (n > 0 && (size_t)w >= iov->iov_len) {
            w -= (ssize_t)iov->iov_len;
            iov++;
            n--;
        }
        if (n > 0) {
            iov->iov_base = (uint8_t *)iov->iov_base + w;
            iov->iov_len -= (size_t)w;
        }
    }
    return 0;
}

int
journal_open(struct journal_syncer *sy, const char *dir, uint64_t base_ms, struct journal **out)
{
    char path[JOURNAL_PATH_MAX];
    uint8_t hdr[FLV_FILE_HEADER_SIZE + FLV_PREV_SIZE];
    struct iovec iov;
    struct journal *j;
    int fd, rc;

    CHECK_OBJ_NOTNULL(sy, JOURNAL_SYNCER_MAGIC);
    rc = journal_mkdirs(dir);
    if (rc == 0)
        rc = journal_path(path, sizeof(path), dir, "", base_ms);
    if (rc != 0)
        return rc;
    fd = FAULT("journal.open") ? (errno = EIO, -1)
                               : open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
        rc = errno == EEXIST ? ERR_EXISTS : -errno;
        LOG(LOG_ERR, "journal", "open_failed", "stream=%s err=%s", path, err_name(rc));
        return rc;
    }
    iov.iov_base = hdr;
    iov.iov_len = flv_write_file_header(hdr, FLV_FLAG_AUDIO | FLV_FLAG_VIDEO);
    rc = journal_write_all(fd, &iov, 1);
    if (rc == 0 && fdatasync(fd) != 0)
        rc = -errno;
    if (rc == 0)
        rc = journal_fsync_dir(dir);
    if (rc != 0) {
        LOG(LOG_ERR, "journal", "open_failed", "stream=%s err=%s", path, err_name(rc));
        (void)close(fd);
        (void)unlink(path);
        return rc;
    }
    j = xcalloc(1, sizeof(*j));
    j->magic = JOURNAL_MAGIC;
    j->fd = fd;
    j->path = xstrdup(path);
    j->sy = sy;
    atomic_init(&j->written, (uint64_t)sizeof(hdr));
    atomic_init(&j->synced, (uint64_t)sizeof(hdr));
    AZ(pthread_mutex_lock(&sy->mtx));
    j->next = sy->head;
    if (sy->head != NULL)
        sy->head->prev = j;
    sy->head = j;
    AZ(pthread_mutex_unlock(&sy->mtx));
    *out = j;
    return 0;
}

/* A write failed: a partial tag may be on disk, replay stops before it (torn tail). */
static int
journal_broke(struct journal *j, int rc)
{
    j->broken = true;
    j->wlen = 0;
    metric_inc(j->sy->errors);
    LOG(LOG_CRIT, "journal", "write_failed", "stream=%s err=%s", j->path, err_name(rc));
    return rc;
}

static void
journal_wrote(struct journal *j, size_t n)
{
    metric_add(j->sy->bytes, n);
    atomic_fetch_add_explicit(&j->written, n, memory_order_release);
}

/*
 * Reserves the blocks the next n bytes will need (JOURNAL_PREALLOC at a
 * time). Best effort: a filesystem without fallocate just allocates as it
 * writes.
 */
static void
journal_prealloc(struct journal *j, size_t n)
{
    uint64_t w = atomic_load_explicit(&j->written, memory_order_relaxed);

    if (j->alloc_end == UINT64_MAX || w + n <= j->alloc_end)
        return;
    if (fallocate(j->fd, FALLOC_FL_KEEP_SIZE, (off_t)w, (off_t)(n + JOURNAL_PREALLOC)) != 0) {
        j->alloc_end = UINT64_MAX;
        return;
    }
    j->alloc_end = w + n + JOURNAL_PREALLOC;
}

void
journal_buffer(struct journal *j, size_t cap)
{
    CHECK_OBJ_NOTNULL(j, JOURNAL_MAGIC);
    assert(j->wcap == 0 && cap <= JOURNAL_BUFFER_MAX);
    if (cap == 0)
        return;
    j->wbuf = xmalloc(cap);
    j->wcap = cap;
}

int
journal_flush(struct journal *j)
{
    struct iovec iov;
    int rc;

    CHECK_OBJ_NOTNULL(j, JOURNAL_MAGIC);
    if (j->broken)
        return ERR_CLOSED;
    if (j->wlen == 0)
        return 0;
    iov.iov_base = j->wbuf;
    iov.iov_len = j->wlen;
    journal_prealloc(j, j->wlen);
    rc = FAULT("journal.write") ? -ENOSPC : journal_write_all(j->fd, &iov, 1);
    if (rc != 0)
        return journal_broke(j, rc);
    journal_wrote(j, j->wlen);
    j->wlen = 0;
    return 0;
}

size_t
journal_pending(const struct journal *j)
{
    CHECK_OBJ_NOTNULL(j, JOURNAL_MAGIC);
    return j->wlen;
}

int
journal_append(struct journal *j, uint8_t type, uint32_t ts, const uint8_t *data, size_t len)
{
    uint8_t hdr[FLV_TAG_HEADER_SIZE], trl[FLV_PREV_SIZE];
    struct iovec iov[3];
    size_t n = sizeof(hdr) + len + sizeof(trl);
    int rc;

    CHECK_OBJ_NOTNULL(j, JOURNAL_MAGIC);
    if (j->broken)
        return ERR_CLOSED;
    rc = flv_write_tag_header(hdr, type, (uint32_t)len, ts);
    if (rc != 0 || len > FLV_TAG_DATA_MAX)
        return ERR_INVAL;
    flv_write_tag_trailer(trl, (uint32_t)len);
    if (j->wcap > 0) {
        if (j->wlen + n > j->wcap && (rc = journal_flush(j)) != 0)
            return rc;
        if (n <= j->wcap) {
            memcpy(j->wbuf + j->wlen, hdr, sizeof(hdr));
            memcpy(j->wbuf + j->wlen + sizeof(hdr), data, len);
            memcpy(j->wbuf + j->wlen + sizeof(hdr) + len, trl, sizeof(trl));
            j->wlen += n;
            return 0;
        }
        /* Larger than the whole buffer: straight to the file. */
    }
    iov[0].iov_base = hdr;
    iov[0].iov_len = sizeof(hdr);
    iov[1].iov_base = (void *)(uintptr_t)data;
    iov[1].iov_len = len;
    iov[2].iov_base = trl;
    iov[2].iov_len = sizeof(trl);
    journal_prealloc(j, n);
    rc = FAULT("journal.write") ? -ENOSPC : journal_write_all(j->fd, iov, 3);
    if (rc != 0)
        return journal_broke(j, rc);
    journal_wrote(j, n);
    return 0;
}

uint64_t
journal_written(const struct journal *j)
{
    CHECK_OBJ_NOTNULL(j, JOURNAL_MAGIC);
    return atomic_load_explicit(&j->written, memory_order_acquire);
}

uint64_t
journal_synced(const struct journal *j)
{
    CHECK_OBJ_NOTNULL(j, JOURNAL_MAGIC);
    return atomic_load_explicit(&j->synced, memory_order_acquire);
}

void
journal_close(struct journal **pj)
{
    struct journal *j = *pj;
    struct journal_syncer *sy;

    if (j == NULL)
        return;
    CHECK_OBJ(j, JOURNAL_MAGIC);
    sy = j->sy;
    if (journal_flush(j) != 0)
        assert(j->broken); /* counted and logged; replay cuts the torn tail */
    AZ(pthread_mutex_lock(&sy->mtx));
    journal_sync_one(sy, j);
    if (j->prev != NULL)
        j->prev->next = j->next;
    else
        sy->head = j->next;
    if (j->next != NULL)
        j->next->prev = j->prev;
    AZ(pthread_mutex_unlock(&sy->mtx));
    /* Gives back the blocks reserved past the end (KEEP_SIZE leaves them;
     * after a crash they stay until the sealed file is swept). */
    if (j->alloc_end != 0 && j->alloc_end != UINT64_MAX &&
        ftruncate(j->fd, (off_t)atomic_load_explicit(&j->written, memory_order_relaxed)) != 0)
        LOG_RL(LOG_WARN, "journal", "trim_failed", 5, "stream=%s err=%s", j->path,
               err_name(-errno));
    (void)close(j->fd);
    xfree(j->wbuf);
    xfree(j->path);
    FREE_OBJ(j);
    *pj = NULL;
}

/* ---- replay ---- */

long
journal_replay(const char *path, journal_tag_fn *fn, void *arg)
{
    struct flv_reader rd;
    struct flv_tag tag;
    uint8_t *buf;
    long delivered = 0;
    ssize_t got;
    int fd, rc = 0, rdrc = 0;

    fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    buf = xmalloc(JOURNAL_READ_CHUNK);
    flv_reader_init(&rd, true, 0);
    while (rc == 0 && rdrc == 0) {
        const uint8_t *p = buf;
        size_t left;

        got = read(fd, buf, JOURNAL_READ_CHUNK);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            rc = -errno;
        if (got <= 0)
            break;
        left = (size_t)got;
        while (left > 0) {
            long n = flv_reader_parse(&rd, p, left, &tag);

            if (n == ERR_AGAIN)
                break;
            if (n < 0) {
                rdrc = (int)n;
                break;
            }
            p += n;
            left -= (size_t)n;
            rc = fn(arg, tag.type, tag.ts, tag.data, tag.size);
            if (rc != 0)
                break;
            delivered++;
        }
    }
    if (rc == 0 && (rdrc != 0 || flv_reader_finish(&rd) != 0)) {
        /* A crash mid-write: keep the whole tags, cut the rest. A file whose
         * own header is damaged holds nothing we can trust. */
        LOG(LOG_WARN, "journal", "torn_tail", "stream=%s good_off=%" PRIu64 " tags=%" PRIu64, path,
            rd.good_off, rd.tags);
        if (rd.good_off == 0)
            rc = ERR_PROTO;
        else if (ftruncate(fd, (off_t)rd.good_off) != 0)
            /* Replay still stops at the last whole tag; the next append
             * goes to a new file, so the torn bytes are never followed. */
            LOG(LOG_WARN, "journal", "truncate_failed", "stream=%s err=%s", path, err_name(-errno));
    }
    flv_reader_fini(&rd);
    xfree(buf);
    (void)close(fd);
    return rc != 0 ? rc : delivered;
}

/* ---- listing, sealing, sweeping ---- */

static bool
journal_parse_name(const char *name, uint64_t *base)
{
    size_t i;
    uint64_t v = 0;

    if (strlen(name) != JOURNAL_NAME_DIGITS + 4 || strcmp(name + JOURNAL_NAME_DIGITS, ".flv") != 0)
        return false;
    for (i = 0; i < JOURNAL_NAME_DIGITS; i++) {
        if (name[i] < '0' || name[i] > '9')
            return false;
        v = v * 10 + (uint64_t)(name[i] - '0');
    }
    *base = v;
    return true;
}

static int
journal_cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

long
journal_list(const char *dir, uint64_t *bases, size_t cap)
{
    struct dirent *de;
    size_t n = 0;
    uint64_t base;
    DIR *d;

    d = opendir(dir);
    if (d == NULL)
        return errno == ENOENT ? 0 : -errno;
    while ((de = readdir(d)) != NULL) {
        if (!journal_parse_name(de->d_name, &base))
            continue;
        if (n < cap)
            bases[n] = base;
        n++;
    }
    (void)closedir(d);
    qsort(bases, n < cap ? n : cap, sizeof(*bases), journal_cmp_u64);
    return (long)n;
}

int
journal_seal(const char *dir, bool keep)
{
    char from[JOURNAL_PATH_MAX], to[JOURNAL_PATH_MAX], done[JOURNAL_PATH_MAX];
    uint64_t bases[256];
    long n, i;
    int rc;

    if (snprintf(done, sizeof(done), "%s/done", dir) >= (int)sizeof(done))
        return ERR_LIMIT;
    do {
        n = journal_list(dir, bases, ARRAY_SIZE(bases));
        if (n < 0)
            return (int)n;
        if (n > 0 && keep && (rc = journal_mkdirs(done)) != 0)
            return rc;
        for (i = 0; i < n && i < (long)ARRAY_SIZE(bases); i++) {
            if (journal_path(from, sizeof(from), dir, "", bases[i]) != 0 ||
                journal_path(to, sizeof(to), dir, "done", bases[i]) != 0)
                return ERR_LIMIT;
            if (keep ? rename(from, to) != 0 : unlink(from) != 0)
                return -errno;
        }
    } while (n > (long)ARRAY_SIZE(bases));
    return journal_fsync_dir(dir);
}

unsigned
journal_sweep(const char *root, uint64_t retention_ms, uint64_t now_ms)
{
    char done[JOURNAL_PATH_MAX], file[JOURNAL_PATH_MAX];
    struct dirent *de, *fe;
    unsigned removed = 0;
    struct stat st;
    uint64_t base;
    DIR *d, *fd;

    d = opendir(root);
    if (d == NULL)
        return 0;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        if (snprintf(done, sizeof(done), "%s/%s/done", root, de->d_name) >= (int)sizeof(done))
            continue;
        fd = opendir(done);
        if (fd == NULL)
            continue;
        while ((fe = readdir(fd)) != NULL) {
            uint64_t mtime_ms;

            if (!journal_parse_name(fe->d_name, &base))
                continue;
            if (snprintf(file, sizeof(file), "%s/%s", done, fe->d_name) >= (int)sizeof(file) ||
                stat(file, &st) != 0)
                continue;
            mtime_ms =
                (uint64_t)st.st_mtim.tv_sec * 1000u + (uint64_t)st.st_mtim.tv_nsec / 1000000u;
            if (mtime_ms + retention_ms <= now_ms && unlink(file) == 0)
                removed++;
        }
        (void)closedir(fd);
    }
    (void)closedir(d);
    return removed;
}

/* ---- stream.meta ---- */

int
journal_meta_read(const char *dir, uint64_t *ast_ms)
{
    char path[JOURNAL_PATH_MAX], buf[128], *end;
    unsigned long long v;
    ssize_t n;
    int fd;

    if (snprintf(path, sizeof(path), "%s/stream.meta", dir) >= (int)sizeof(path))
        return ERR_LIMIT;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? ERR_NOTFOUND : -errno;
    n = read(fd, buf, sizeof(buf) - 1);
    (void)close(fd);
    if (n < 0)
        return -errno;
    buf[n] = '\0';
    if (strncmp(buf, "ast_ms ", 7) != 0)
        return ERR_PROTO;
    errno = 0;
    v = strtoull(buf + 7, &end, 10);
    if (errno != 0 || end == buf + 7 || (*end != '\n' && *end != '\0'))
        return ERR_PROTO;
    *ast_ms = (uint64_t)v;
    return 0;
}

int
journal_meta_write(const char *dir, uint64_t ast_ms)
{
    char path[JOURNAL_PATH_MAX], tmp[JOURNAL_PATH_MAX], buf[64];
    struct iovec iov;
    int fd, rc, n;

    rc = journal_mkdirs(dir);
    if (rc != 0)
        return rc;
    if (snprintf(path, sizeof(path), "%s/stream.meta", dir) >= (int)sizeof(path) ||
        snprintf(tmp, sizeof(tmp), "%s/.stream.meta.tmp", dir) >= (int)sizeof(tmp))
        return ERR_LIMIT;
    n = snprintf(buf, sizeof(buf), "ast_ms %" PRIu64 "\n", ast_ms);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return -errno;
    iov.iov_base = buf;
    iov.iov_len = (size_t)n;
    rc = journal_write_all(fd, &iov, 1);
    if (rc == 0 && fsync(fd) != 0)
        rc = -errno;
    (void)close(fd);
    if (rc == 0 && rename(tmp, path) != 0)
        rc = -errno;
    if (rc == 0)
        rc = journal_fsync_dir(dir);
    if (rc != 0)
        (void)unlink(tmp);
    return rc;
}
