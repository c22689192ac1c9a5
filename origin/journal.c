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
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <linux/fs.h>

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
 * The file is written ahead of the write position with zeros, a
 * JOURNAL_PREALLOC at a time, and the first sync after that makes them
 * durable with a whole fdatasync: the blocks are then allocated and
 * written and the file's size is on disk. Tags that land in such a range
 * only overwrite blocks that exist, so the syncer makes them durable by
 * writing their data pages and flushing the disk's cache, shared with
 * the other journals of its tick (journal_sync_tick), instead of an
 * fdatasync per journal, which also wrote the inode's block every time.
 * 1 MiB is ~13 s of a 600 kbit/s stream.
 *
 * The zeros go in JOURNAL_ZERO_CHUNK writes: the page cache sizes a folio
 * by the write, and a tag appended into a 2 MiB folio made ext4 walk all
 * 512 of its block buffers on every append and write the whole folio on
 * every sync (tried: twice the CPU). 16 KiB folios keep both small. Not
 * fallocate(FALLOC_FL_WRITE_ZEROES): most devices do not offer it.
 * Replay stops at the zeros as at any torn tail; close cuts the file back
 * to what was written.
 */
#define JOURNAL_PREALLOC (1u << 20)
#define JOURNAL_ZERO_CHUNK (16u * 1024)
/*
 * Appends are written in whole blocks of this size (journal_write_blocks).
 * The page size: a write that covers its pages whole never reads one.
 */
#define JOURNAL_BLOCK 4096u
#define JOURNAL_IOV_MAX 8

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
    _Atomic uint64_t zero_end;   /* the file holds data or zeros up to here */
    bool zero_off;               /* writing zeros ahead failed once: not again */
    dev_t dev;                   /* the file's device (one cache flush per device) */
    /* The syncer's, under sy->mtx: */
    uint64_t zero_durable; /* zeros up to here are on disk, size and blocks with them */
    uint64_t tick_end;     /* written, when this tick's batch took the journal; else 0 */
    /* The ingest thread's: the bytes of the partial last block, again. */
    size_t tail_len; /* written % JOURNAL_BLOCK */
    uint8_t tail[JOURNAL_BLOCK];
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
    struct metric *syncs, *batched, *errors, *bytes, *sync_seconds;
};

static struct metric *
journal_errors_metric(void)
{
    return metrics_counter("origin.journal.errors",
                           "Journal writes or syncs that failed (the stream went on without it).");
}

/* ---- the syncer ---- */

static double
journal_seconds_since(const struct timespec *t0)
{
    struct timespec t1;

    AZ(clock_gettime(CLOCK_MONOTONIC, &t1));
    return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

static void
journal_sync_failed(struct journal_syncer *sy, const struct journal *j, int rc)
{
    metric_inc(sy->errors);
    LOG_RL(LOG_ERR, "journal", "sync_failed", 5, "stream=%s err=%s", j->path, err_name(rc));
}

/* The whole sync of one journal: fdatasync. */
static void
journal_sync_one(struct journal_syncer *sy, struct journal *j)
{
    uint64_t w = atomic_load_explicit(&j->written, memory_order_acquire);
    /* Zeros written before the sync are on disk after it. */
    uint64_t z = atomic_load_explicit(&j->zero_end, memory_order_acquire);
    struct timespec t0;
    int rc;

    if (w == atomic_load_explicit(&j->synced, memory_order_relaxed) || j->fd < 0)
        return;
    AZ(clock_gettime(CLOCK_MONOTONIC, &t0));
    rc = FAULT("journal.sync") ? -EIO : (fdatasync(j->fd) == 0 ? 0 : -errno);
    if (rc != 0) {
        journal_sync_failed(sy, j, rc);
        return;
    }
    metric_inc(sy->syncs);
    metric_observe(sy->sync_seconds, journal_seconds_since(&t0));
    j->zero_durable = z;
    atomic_store_explicit(&j->synced, w, memory_order_release);
}

/*
 * One tick: makes the bytes written to every registered journal durable.
 *
 * An fdatasync per journal costs three device requests: the data, the
 * block holding the inode (every append moves mtime, and ext4 writes the
 * inode on every sync of a file whose inode changed) and a flush of the
 * disk's write cache. With 32 streams that was a quarter of the ingest's
 * CPU (bench/README.md). But a journal whose new bytes all fall in its
 * zeroed range that is already durable (JOURNAL_PREALLOC) needs only
 * its data pages written and the cache flushed: the blocks it overwrites
 * and the file's size are on disk already, and mtime is nothing replay
 * needs. So the tick starts the writeback of all such ranges at once,
 * waits for them, then flushes the cache with one fdatasync per device;
 * a journal that writes past its durable zeros, or whose range write
 * fails, gets its own fdatasync.
 *
 * SPEC: sync_file_range(2) -- writes the data pages of a range and no
 * metadata; durable only for "overwrites of already-instantiated disk
 * blocks", and it leaves the disk's cache alone: hence the zeroed range
 * synced first and the fdatasync after. SPEC: fsync(2) -- the flush of
 * the device's volatile cache covers every write completed before it.
 */
static void
journal_sync_tick(struct journal_syncer *sy)
{
    struct journal *j, *k;
    struct timespec t0;
    unsigned n = 0;
    int rc = 0;

    AZ(clock_gettime(CLOCK_MONOTONIC, &t0));
    for (j = sy->head; j != NULL; j = j->next) {
        uint64_t w = atomic_load_explicit(&j->written, memory_order_acquire);
        uint64_t s = atomic_load_explicit(&j->synced, memory_order_relaxed);

        j->tick_end = 0;
        if (w == s || j->fd < 0)
            continue;
        if (w > j->zero_durable ||
            sync_file_range(j->fd, (off_t)s, (off_t)(w - s), SYNC_FILE_RANGE_WRITE) != 0) {
            journal_sync_one(sy, j);
            continue;
        }
        j->tick_end = w;
        n++;
    }
    if (n == 0)
        return;
    for (j = sy->head; j != NULL; j = j->next) {
        uint64_t s = atomic_load_explicit(&j->synced, memory_order_relaxed);

        if (j->tick_end == 0)
            continue;
        if (sync_file_range(j->fd, (off_t)s, (off_t)(j->tick_end - s),
                            SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE |
                                SYNC_FILE_RANGE_WAIT_AFTER) != 0) {
            journal_sync_failed(sy, j, -errno);
            j->tick_end = 0; /* the next tick tries again, with fdatasync if need be */
        }
    }
    /* One flush per device, through the first journal of the batch on it. */
    for (j = sy->head; j != NULL && rc == 0; j = j->next) {
        if (j->tick_end == 0)
            continue;
        for (k = sy->head; k != j; k = k->next)
            if (k->tick_end != 0 && k->dev == j->dev)
                break;
        if (k != j)
            continue; /* flushed with k */
        rc = FAULT("journal.sync") ? -EIO : (fdatasync(j->fd) == 0 ? 0 : -errno);
        if (rc != 0)
            journal_sync_failed(sy, j, rc);
    }
    if (rc != 0)
        return; /* nothing of this batch is known to be durable */
    metric_observe(sy->sync_seconds, journal_seconds_since(&t0));
    for (j = sy->head; j != NULL; j = j->next) {
        if (j->tick_end == 0)
            continue;
        metric_inc(sy->syncs);
        metric_inc(sy->batched);
        atomic_store_explicit(&j->synced, j->tick_end, memory_order_release);
    }
}

static void *
journal_syncer_main(void *arg)
{
    struct journal_syncer *sy;
    struct timespec until;

    CAST_OBJ_NOTNULL(sy, arg, JOURNAL_SYNCER_MAGIC);
    AZ(pthread_mutex_lock(&sy->mtx));
    while (!sy->stop) {
        AZ(clock_gettime(CLOCK_MONOTONIC, &until));
        until.tv_nsec += (long)(sy->interval_ms % 1000) * 1000000L;
        until.tv_sec += sy->interval_ms / 1000 + until.tv_nsec / 1000000000L;
        until.tv_nsec %= 1000000000L;
        while (!sy->stop && pthread_cond_timedwait(&sy->cond, &sy->mtx, &until) == 0)
            ;
        journal_sync_tick(sy);
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
    sy->syncs = metrics_counter("origin.journal.syncs",
                                "Journal syncs that succeeded (each made one journal durable).");
    sy->batched = metrics_counter(
        "origin.journal.batched_syncs",
        "Of those, syncs done as a data write into the journal's zeroed range plus a cache "
        "flush shared with the other journals of the tick, instead of a whole fdatasync.");
    sy->errors = journal_errors_metric();
    sy->bytes = metrics_counter("origin.journal.bytes", "Bytes appended to journals.");
    sy->sync_seconds = metrics_histogram("origin.journal.sync_seconds",
                                         "Time one journal's fdatasync, or one tick's batch, took.",
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

void
journal_topdir(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC), flags;

    if (fd < 0)
        return;
    /* SPEC: ioctl_iflags(2), FS_TOPDIR_FL ("chattr +T"), honoured by ext4's
     * Orlov allocator. Other filesystems refuse it or ignore it: fine. */
    if (ioctl(fd, FS_IOC_GETFLAGS, &flags) == 0 && (flags & FS_TOPDIR_FL) == 0) {
        flags |= FS_TOPDIR_FL;
        if (ioctl(fd, FS_IOC_SETFLAGS, &flags) != 0)
            LOG(LOG_DEBUG, "journal", "topdir_unsupported", "dir=%s err=%s", path,
                err_name(-errno));
    }
    (void)close(fd);
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

/* Writes all of iov (n parts) at off; 0 or -errno. Moves the iovecs on short writes. */
static int
journal_pwrite_all(int fd, struct iovec *iov, int n, uint64_t off)
{
    ssize_t w;

    while (n > 0) {
        w = pwritev(fd, iov, n, (off_t)off);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (w == 0)
            return -ENOSPC;
        off += (uint64_t)w;
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
    struct stat st;
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
    rc = journal_pwrite_all(fd, &iov, 1, 0);
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
    if (fstat(fd, &st) == 0)
        j->dev = st.st_dev;
    else
        j->zero_off = true; /* no device to group its flush by: whole syncs only */
    atomic_init(&j->written, (uint64_t)sizeof(hdr));
    atomic_init(&j->synced, (uint64_t)sizeof(hdr));
    memcpy(j->tail, hdr, sizeof(hdr));
    j->tail_len = sizeof(hdr);
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
 * Makes sure the next n bytes land in the zeroed range, writing the next
 * JOURNAL_PREALLOC of zeros when they would not (into the page cache: the
 * syncer's next whole fdatasync writes them out, so this thread never
 * waits on the disk). Best effort: a journal whose zeros could not be
 * written goes on appending, synced by a whole fdatasync every tick.
 */
static void
journal_zero_ahead(struct journal *j, size_t n)
{
    static const uint8_t zeros[JOURNAL_ZERO_CHUNK];
    uint64_t w = atomic_load_explicit(&j->written, memory_order_relaxed), to;
    uint64_t z = atomic_load_explicit(&j->zero_end, memory_order_relaxed);
    ssize_t r;

    if (j->zero_off || w + n <= z)
        return;
    if (z < w)
        z = w;
    to = (w + n + JOURNAL_PREALLOC) & ~(uint64_t)(JOURNAL_ZERO_CHUNK - 1);
    while (z < to) {
        /* Chunk-aligned pieces, so each folio is one piece. */
        size_t len = JOURNAL_ZERO_CHUNK - (size_t)(z % JOURNAL_ZERO_CHUNK);

        r = FAULT("journal.zero") ? (errno = ENOSPC, -1) : pwrite(j->fd, zeros, len, (off_t)z);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            j->zero_off = true;
            LOG_RL(LOG_WARN, "journal", "zero_ahead_failed", 5, "stream=%s err=%s", j->path,
                   err_name(r < 0 ? -errno : -ENOSPC));
            return;
        }
        z += (uint64_t)r;
        /* Published for the syncer once the bytes are in the file. */
        atomic_store_explicit(&j->zero_end, z, memory_order_release);
    }
}

/*
 * Appends len bytes (src, n parts) in whole blocks: the bytes of the
 * partial last block go again in front, zeros after, up to the next
 * block boundary (zeros the file holds there anyway, or will). A write
 * that covers its pages whole never makes the kernel read one first --
 * and it would, in this thread, synchronously: the page cache may drop
 * the clean tail page between two appends (a VM reclaiming cold pages
 * does, within seconds; a write into a zeroed range written a while
 * ago finds no page at all), and a partial write of an uncached block
 * reads it from disk. The cost: the tail block again, < 4 KiB a write.
 */
static int
journal_write_blocks(struct journal *j, const struct iovec *src, int n, size_t len)
{
    static const uint8_t zeros[JOURNAL_BLOCK];
    struct iovec iov[JOURNAL_IOV_MAX];
    uint8_t keep[JOURNAL_BLOCK];
    uint64_t w = atomic_load_explicit(&j->written, memory_order_relaxed), end = w + len;
    size_t pad = (size_t)((JOURNAL_BLOCK - end % JOURNAL_BLOCK) % JOURNAL_BLOCK);
    size_t klen = (size_t)(end % JOURNAL_BLOCK), got = 0;
    int k = 0, i, rc;

    assert(n + 2 <= JOURNAL_IOV_MAX && w % JOURNAL_BLOCK == j->tail_len);
    if (j->tail_len > 0) {
        iov[k].iov_base = j->tail;
        iov[k++].iov_len = j->tail_len;
    }
    for (i = 0; i < n; i++)
        iov[k++] = src[i];
    /* The new tail: the last klen bytes of what is written, taken before
     * the write (a short write moves the iovecs). */
    for (i = k - 1; i >= 0 && got < klen; i--) {
        size_t take = iov[i].iov_len < klen - got ? iov[i].iov_len : klen - got;

        memcpy(keep + klen - got - take, (const uint8_t *)iov[i].iov_base + iov[i].iov_len - take,
               take);
        got += take;
    }
    if (pad > 0) {
        iov[k].iov_base = (void *)(uintptr_t)zeros;
        iov[k++].iov_len = pad;
    }
    rc = FAULT("journal.write") ? -ENOSPC : journal_pwrite_all(j->fd, iov, k, w - j->tail_len);
    if (rc != 0)
        return rc;
    memcpy(j->tail, keep, klen);
    j->tail_len = klen;
    if (end + pad > atomic_load_explicit(&j->zero_end, memory_order_relaxed))
        atomic_store_explicit(&j->zero_end, end + pad, memory_order_release);
    return 0;
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
    journal_zero_ahead(j, j->wlen);
    rc = journal_write_blocks(j, &iov, 1, j->wlen);
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
    journal_zero_ahead(j, n);
    rc = journal_write_blocks(j, iov, 3, n);
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
    /* Cuts the zeros written ahead (after a crash, replay cuts them). */
    if (atomic_load_explicit(&j->zero_end, memory_order_relaxed) >
            atomic_load_explicit(&j->written, memory_order_relaxed) &&
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
    rc = journal_pwrite_all(fd, &iov, 1, 0);
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
