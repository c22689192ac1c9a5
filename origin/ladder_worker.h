/*
 * ladder_worker.h -- one transcoder process: an `ffmpeg` child with its
 * input pipe, one output pipe per rendition and a progress pipe.
 *
 * The child gets the FLV bytes on fd 0, writes `-progress` key=value
 * blocks on fd 3 and one fragmented MP4 per rendition on fds 4, 5, ...;
 * its stderr (errors only) is read and logged. Everything runs on the
 * caller's event base: the input is queued in an evbuffer and written as
 * the pipe drains; outputs and progress are handed to callbacks as they
 * arrive. When every pipe of the child has closed, the child is reaped and
 * the exit callback runs (once).
 *
 * Owns the child: ladder_worker_free() SIGKILLs and reaps it. The child
 * runs with a niceness, dies with the origin (PR_SET_PDEATHSIG) and
 * starts with default signal dispositions and an empty signal mask.
 *
 * Not here: what to run (ladder_sup.c builds the argv), restarts, what
 * the bytes mean (pkg.c).
 */
#ifndef CASCADE_LADDER_WORKER_H
#define CASCADE_LADDER_WORKER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "miniobj.h"

struct event_base;
struct ladder_worker;

#define LADDER_WORKER_MAX_OUT 12 /* LADDER_MAX_VIDEO + LADDER_MAX_AUDIO */
#define LADDER_WORKER_FIRST_OUT_FD 4
#define LADDER_WORKER_PROGRESS_FD 3
#define LADDER_WORKER_INPUT_MAX (32u << 20) /* queued input bytes past which writes fail */

/* One `-progress` block (ffmpeg writes one every -stats_period). */
struct ladder_progress {
    int64_t out_time_us; /* -1 when the block had none (ffmpeg prints N/A at first) */
    int64_t frame;       /* -1 when absent */
    double speed;        /* 0 when absent or N/A */
    int end;             /* progress=end: the last block */
};

/*
 * Incremental parser of the progress stream: key=value lines, a block
 * ending at a "progress=..." line. Pure; lines longer than
 * LADDER_PROGRESS_LINE_MAX are skipped whole.
 */
#define LADDER_PROGRESS_LINE_MAX 256
struct ladder_progress_parser {
    char line[LADDER_PROGRESS_LINE_MAX];
    size_t len;
    int skipping; /* inside an overlong line */
    struct ladder_progress cur;
};
typedef void ladder_progress_fn(void *arg, const struct ladder_progress *pr);
void ladder_progress_init(struct ladder_progress_parser *pp);
/* Consumes all of p; calls fn once per complete block. Returns the number of blocks. */
unsigned ladder_progress_feed(struct ladder_progress_parser *pp, const char *p, size_t len,
                              ladder_progress_fn *fn, void *arg);
/* Invariants (fuzzer, debug). */
void ladder_progress_check(const struct ladder_progress_parser *pp);

struct ladder_worker_cbs {
    /* Bytes from output idx; borrowed for the call. */
    void (*out)(void *arg, unsigned idx, const uint8_t *p, size_t len);
    void (*progress)(void *arg, const struct ladder_progress *pr);
    /* The child is gone: status as from waitpid(). The worker may be freed
     * from here on, but not from inside this callback. */
    void (*exited)(void *arg, int status);
    void *arg;
};

struct ladder_worker_params {
    const char *const *argv; /* NULL-terminated; argv[0] is looked up in PATH */
    unsigned nout;           /* output pipes, 1..LADDER_WORKER_MAX_OUT */
    int nice;                /* added to the child's niceness */
    const char *stream;      /* borrowed for the call: copied, for log lines */
};

/*
 * Starts the child. 0, or -errno when pipes or fork fail (nothing is left
 * behind). A program that cannot be exec'd shows up as an exit status 127.
 */
int ladder_worker_start(struct event_base *base, const struct ladder_worker_params *params,
                        const struct ladder_worker_cbs *cbs,
                        struct ladder_worker **out) WARN_UNUSED;
/* Queues input bytes. ERR_LIMIT past LADDER_WORKER_INPUT_MAX queued (nothing is queued),
 * ERR_CLOSED after ladder_worker_close_input() or once the child closed its input. */
int ladder_worker_write(struct ladder_worker *w, const void *p, size_t len) WARN_UNUSED;
/* Bytes queued and not yet taken by the child. */
size_t ladder_worker_pending(const struct ladder_worker *w);
/* End of input: the pipe is closed once the queue has drained (ffmpeg then flushes and exits). */
void ladder_worker_close_input(struct ladder_worker *w);
/* Sends sig to the child (while it has not been reaped). */
void ladder_worker_kill(struct ladder_worker *w, int sig);
pid_t ladder_worker_pid(const struct ladder_worker *w);
/* SIGKILLs the child if it still runs, reaps it, closes everything; no callback runs. */
void ladder_worker_free(struct ladder_worker **pw);

#endif
