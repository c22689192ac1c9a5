/*
 * ladder_worker.c -- one ffmpeg child and its pipes (ladder_worker.h).
 *
 * A struct ladder_worker owns the child's pid until it is reaped, the
 * parent ends of every pipe, and the queued input. The child is made with
 * fork + exec; between the two it only calls async-signal-safe functions
 * (the argv is built before the fork). Pipes are non-blocking on our side.
 *
 * The child is reaped when all of its pipes (progress, outputs, stderr)
 * reached end of file, or, for a child that closed them early, by a poll
 * timer. Not here: the ffmpeg options (ladder_sup.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "ladder_worker.h"
#include "err.h"
#include "log.h"
#include "mem.h"
#include "compat.h"

#define LADDER_WORKER_READ 65536
#define LADDER_WORKER_REAP_MS 50
#define LADDER_WORKER_STDERR_MAX 512

/* ---- the progress parser (pure) ---- */

void
ladder_progress_init(struct ladder_progress_parser *pp)
{
    memset(pp, 0, sizeof(*pp));
    pp->cur.out_time_us = -1;
    pp->cur.frame = -1;
}

void
ladder_progress_check(const struct ladder_progress_parser *pp)
{
    assert(pp->len < LADDER_PROGRESS_LINE_MAX);
    assert(pp->skipping == 0 || pp->skipping == 1);
    assert(pp->cur.out_time_us >= -1);
    assert(pp->cur.frame >= -1);
    assert(pp->cur.speed >= 0);
}

/* A non-negative decimal integer, whole string; -1 when it is not one. */
static int64_t
ladder_progress_int(const char *v)
{
    int64_t n = 0;

    if (*v == '\0')
        return -1;
    for (; *v != '\0'; v++) {
        if (*v < '0' || *v > '9' || n > (INT64_MAX - 9) / 10)
            return -1;
        n = n * 10 + (*v - '0');
    }
    return n;
}

/* "1.02x" -> 1.02 (thousandths kept); 0 for N/A or garbage. */
static double
ladder_progress_speed(const char *v)
{
    int64_t whole = 0, frac = 0, scale = 1;

    while (*v == ' ')
        v++;
    for (; *v >= '0' && *v <= '9'; v++)
        if (whole < 1000000)
            whole = whole * 10 + (*v - '0');
    if (*v == '.')
        for (v++; *v >= '0' && *v <= '9'; v++)
            if (scale < 1000) {
                frac = frac * 10 + (*v - '0');
                scale *= 10;
            }
    if (*v != 'x' || v[1] != '\0')
        return 0;
    return (double)whole + (double)frac / (double)scale;
}

static unsigned
ladder_progress_line(struct ladder_progress_parser *pp, ladder_progress_fn *fn, void *arg)
{
    char *eq, *key = pp->line, *val;

    pp->line[pp->len] = '\0';
    if (pp->len > 0 && pp->line[pp->len - 1] == '\r')
        pp->line[pp->len - 1] = '\0';
    eq = strchr(key, '=');
    if (eq == NULL)
        return 0;
    *eq = '\0';
    val = eq + 1;
    if (strcmp(key, "out_time_us") == 0) {
        pp->cur.out_time_us = ladder_progress_int(val);
    } else if (strcmp(key, "frame") == 0) {
        pp->cur.frame = ladder_progress_int(val);
    } else if (strcmp(key, "speed") == 0) {
        pp->cur.speed = ladder_progress_speed(val);
    } else if (strcmp(key, "progress") == 0) {
        struct ladder_progress done = pp->cur;

        done.end = strcmp(val, "end") == 0;
        pp->cur.out_time_us = -1;
        pp->cur.frame = -1;
        pp->cur.speed = 0;
        if (fn != NULL)
            fn(arg, &done);
        return 1;
    }
    return 0;
}

unsigned
ladder_progress_feed(struct ladder_progress_parser *pp, const char *p, size_t len,
                     ladder_progress_fn *fn, void *arg)
{
    unsigned blocks = 0;
    size_t i;

    for (i = 0; i < len; i++) {
        char c = p[i];

        if (c == '\n') {
            if (!pp->skipping)
                blocks += ladder_progress_line(pp, fn, arg);
            pp->len = 0;
            pp->skipping = 0;
            continue;
        }
        if (pp->skipping)
            continue;
        if (c == '\0' || pp->len + 1 >= LADDER_PROGRESS_LINE_MAX) {
            pp->skipping = 1;
            pp->len = 0;
            continue;
        }
        pp->line[pp->len++] = c;
    }
    return blocks;
}

/* ---- the process ---- */

struct ladder_worker_pipe {
    struct ladder_worker *w; /* borrowed: the owner */
    int fd;                  /* owned; -1 once at end of file */
    int idx;                 /* output index, or -1 progress, -2 stderr */
    struct event *ev;        /* owned */
};

struct ladder_worker {
    unsigned magic;
#define LADDER_WORKER_MAGIC 0x6c77726bU
    struct event_base *base; /* borrowed */
    struct ladder_worker_cbs cbs;
    char stream[64];
    pid_t pid; /* 0 once reaped */
    int status;
    int in_fd; /* owned; -1 when closed */
    bool closing_input;
    struct event *in_ev;   /* owned: the input pipe is writable */
    struct evbuffer *in;   /* owned: queued input */
    struct event *reap_ev; /* owned: polls waitpid() once the pipes closed */
    struct ladder_worker_pipe pipes[LADDER_WORKER_MAX_OUT + 2];
    unsigned npipes, open_pipes;
    bool exited_cb_done;
    struct ladder_progress_parser pp;
    char errline[LADDER_WORKER_STDERR_MAX];
    size_t errlen;
};

static void
ladder_worker_errline(struct ladder_worker *w)
{
    char clean[LADDER_WORKER_STDERR_MAX * 4 + 1];

    if (w->errlen == 0)
        return;
    (void)log_sanitize(clean, sizeof(clean), w->errline, w->errlen);
    LOG_RL(LOG_WARN, "ladder", "worker_stderr", 5, "stream=%s pid=%d line=\"%s\"", w->stream,
           (int)w->pid, clean);
    w->errlen = 0;
}

static void
ladder_worker_stderr(struct ladder_worker *w, const uint8_t *p, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (p[i] == '\n') {
            ladder_worker_errline(w);
            continue;
        }
        if (w->errlen < sizeof(w->errline))
            w->errline[w->errlen++] = (char)p[i];
    }
}

static void
ladder_worker_progress_cb(void *arg, const struct ladder_progress *pr)
{
    struct ladder_worker *w = arg;

    if (w->cbs.progress != NULL)
        w->cbs.progress(w->cbs.arg, pr);
}

static void
ladder_worker_reap(struct ladder_worker *w)
{
    int status;
    pid_t r;

    if (w->pid == 0)
        return;
    r = waitpid(w->pid, &status, WNOHANG);
    if (r == 0) {
        struct timeval tv = {0, LADDER_WORKER_REAP_MS * 1000};

        AZ(evtimer_add(w->reap_ev, &tv));
        return;
    }
    w->status = r == w->pid ? status : 0;
    LOG(LOG_INFO, "ladder", "worker_exit", "stream=%s pid=%d status=%d signal=%d", w->stream,
        (int)w->pid, WIFEXITED(w->status) ? WEXITSTATUS(w->status) : -1,
        WIFSIGNALED(w->status) ? WTERMSIG(w->status) : 0);
    w->pid = 0;
    if (!w->exited_cb_done) {
        w->exited_cb_done = true;
        if (w->cbs.exited != NULL)
            w->cbs.exited(w->cbs.arg, w->status);
    }
}

static void
ladder_worker_reap_cb(evutil_socket_t fd, short what, void *arg)
{
    struct ladder_worker *w;

    (void)fd;
    (void)what;
    CAST_OBJ_NOTNULL(w, arg, LADDER_WORKER_MAGIC);
    ladder_worker_reap(w);
}

static void
ladder_worker_pipe_close(struct ladder_worker_pipe *pi)
{
    if (pi->fd < 0)
        return;
    event_free(pi->ev);
    pi->ev = NULL;
    (void)close(pi->fd);
    pi->fd = -1;
    pi->w->open_pipes--;
}

static void
ladder_worker_read_cb(evutil_socket_t fd, short what, void *arg)
{
    struct ladder_worker_pipe *pi = arg;
    struct ladder_worker *w = pi->w;
    uint8_t buf[LADDER_WORKER_READ];
    ssize_t n;

    (void)what;
    CHECK_OBJ_NOTNULL(w, LADDER_WORKER_MAGIC);
    n = read(fd, buf, sizeof(buf));
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0) {
        if (pi->idx == -2)
            ladder_worker_errline(w);
        ladder_worker_pipe_close(pi);
        if (w->open_pipes == 0)
            ladder_worker_reap(w);
        return;
    }
    if (pi->idx >= 0) {
        if (w->cbs.out != NULL)
            w->cbs.out(w->cbs.arg, (unsigned)pi->idx, buf, (size_t)n);
    } else if (pi->idx == -1) {
        (void)ladder_progress_feed(&w->pp, (const char *)buf, (size_t)n, ladder_worker_progress_cb,
                                   w);
    } else {
        ladder_worker_stderr(w, buf, (size_t)n);
    }
}

static void
ladder_worker_in_close(struct ladder_worker *w)
{
    if (w->in_fd < 0)
        return;
    event_del(w->in_ev);
    (void)close(w->in_fd);
    w->in_fd = -1;
    (void)evbuffer_drain(w->in, evbuffer_get_length(w->in));
}

static void
ladder_worker_write_cb(evutil_socket_t fd, short what, void *arg)
{
    struct ladder_worker *w;
    int n;

    (void)what;
    CAST_OBJ_NOTNULL(w, arg, LADDER_WORKER_MAGIC);
    while (evbuffer_get_length(w->in) > 0) {
        n = evbuffer_write(w->in, fd);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            break;
        if (n <= 0) {
            /* EPIPE: the child closed its input (it is exiting). */
            LOG(LOG_INFO, "ladder", "input_closed", "stream=%s pid=%d err=%s", w->stream,
                (int)w->pid, err_name(-errno));
            ladder_worker_in_close(w);
            return;
        }
    }
    if (evbuffer_get_length(w->in) == 0) {
        event_del(w->in_ev);
        if (w->closing_input)
            ladder_worker_in_close(w);
    } else {
        AZ(event_add(w->in_ev, NULL));
    }
}

static int
ladder_worker_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);

    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        return -errno;
    return 0;
}

/* In the child, between fork and exec: async-signal-safe calls only. */
static void
ladder_worker_child(const struct ladder_worker_params *params, int in_r, int prog_w,
                    const int *out_w, int err_w, int devnull)
{
    sigset_t none;
    unsigned i;
    int fd;

    (void)sigemptyset(&none);
    (void)sigprocmask(SIG_SETMASK, &none, NULL);
    (void)signal(SIGPIPE, SIG_DFL);
    (void)prctl(PR_SET_PDEATHSIG, SIGKILL);
    (void)setpgid(0, 0); /* a terminal's ^C goes to the origin, not to its workers */
    if (params->nice != 0)
        (void)setpriority(PRIO_PROCESS, 0, params->nice);
    /* Every end is at fd 64 or above (ladder_worker_pipe), so no dup2 clobbers one. */
    if (dup2(in_r, 0) < 0 || dup2(devnull, 1) < 0 || dup2(err_w, 2) < 0 ||
        dup2(prog_w, LADDER_WORKER_PROGRESS_FD) < 0)
        _exit(126);
    for (i = 0; i < params->nout; i++)
        if (dup2(out_w[i], LADDER_WORKER_FIRST_OUT_FD + (int)i) < 0)
            _exit(126);
    /* Nothing else of the origin's (sockets, LMDB, journals) reaches ffmpeg. */
    fd = LADDER_WORKER_FIRST_OUT_FD + (int)params->nout;
    if (close_range((unsigned)fd, ~0U, 0) != 0)
        for (; fd < 65536; fd++)
            (void)close(fd);
    execvp(params->argv[0], (char *const *)(uintptr_t)params->argv);
    _exit(127);
}

static void
ladder_worker_close_all(int *fds, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (fds[i] >= 0) {
            (void)close(fds[i]);
            fds[i] = -1;
        }
}

/*
 * A close-on-exec pipe whose ends are at fd 64 or above: clear of the
 * 0..4+nout range the child dup2()s into, so no end it still needs is
 * overwritten on the way.
 */
static int
ladder_worker_pipe(int p[2])
{
    int raw[2], i;

    if (pipe2(raw, O_CLOEXEC) != 0)
        return -errno;
    for (i = 0; i < 2; i++) {
        p[i] = fcntl(raw[i], F_DUPFD_CLOEXEC, 64);
        (void)close(raw[i]);
    }
    if (p[0] < 0 || p[1] < 0) {
        if (p[0] >= 0)
            (void)close(p[0]);
        if (p[1] >= 0)
            (void)close(p[1]);
        return -EMFILE;
    }
    return 0;
}

static void
ladder_worker_add_pipe(struct ladder_worker *w, int fd, int idx)
{
    struct ladder_worker_pipe *pi = &w->pipes[w->npipes++];

    pi->w = w;
    pi->fd = fd;
    pi->idx = idx;
    pi->ev = event_new(w->base, fd, EV_READ | EV_PERSIST, ladder_worker_read_cb, pi);
    AN(pi->ev);
    AZ(event_add(pi->ev, NULL));
    w->open_pipes++;
}

int
ladder_worker_start(struct event_base *base, const struct ladder_worker_params *params,
                    const struct ladder_worker_cbs *cbs, struct ladder_worker **out)
{
    /* [0..1] input, [2..3] progress, [4..5] stderr, then outputs */
    int fds[6 + 2 * LADDER_WORKER_MAX_OUT], out_w[LADDER_WORKER_MAX_OUT];
    struct ladder_worker *w;
    int devnull, rc = 0;
    unsigned i;
    pid_t pid;

    if (params->nout == 0 || params->nout > LADDER_WORKER_MAX_OUT)
        return ERR_INVAL;
    for (i = 0; i < ARRAY_SIZE(fds); i++)
        fds[i] = -1;
    for (i = 0; i < 3 + params->nout && rc == 0; i++)
        rc = ladder_worker_pipe(&fds[2 * i]);
    if (rc != 0) {
        ladder_worker_close_all(fds, ARRAY_SIZE(fds));
        return rc;
    }
    for (i = 0; i < params->nout; i++)
        out_w[i] = fds[6 + 2 * i + 1];
    devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (devnull < 0) {
        rc = -errno;
        ladder_worker_close_all(fds, ARRAY_SIZE(fds));
        return rc;
    }
    pid = fork();
    if (pid < 0) {
        rc = -errno;
        (void)close(devnull);
        ladder_worker_close_all(fds, ARRAY_SIZE(fds));
        return rc;
    }
    if (pid == 0)
        ladder_worker_child(params, fds[0], fds[3], out_w, fds[5], devnull);
    (void)close(devnull);
    /* The child's ends. */
    (void)close(fds[0]);
    (void)close(fds[3]);
    (void)close(fds[5]);
    for (i = 0; i < params->nout; i++)
        (void)close(out_w[i]);

    w = xcalloc(1, sizeof(*w));
    w->magic = LADDER_WORKER_MAGIC;
    w->base = base;
    w->cbs = *cbs;
    (void)snprintf(w->stream, sizeof(w->stream), "%s", params->stream ? params->stream : "-");
    w->pid = pid;
    w->in_fd = fds[1];
    AZ(ladder_worker_nonblock(w->in_fd));
    w->in = evbuffer_new();
    AN(w->in);
    w->in_ev = event_new(base, w->in_fd, EV_WRITE, ladder_worker_write_cb, w);
    AN(w->in_ev);
    w->reap_ev = evtimer_new(base, ladder_worker_reap_cb, w);
    AN(w->reap_ev);
    ladder_progress_init(&w->pp);
    AZ(ladder_worker_nonblock(fds[2]));
    ladder_worker_add_pipe(w, fds[2], -1);
    AZ(ladder_worker_nonblock(fds[4]));
    ladder_worker_add_pipe(w, fds[4], -2);
    for (i = 0; i < params->nout; i++) {
        AZ(ladder_worker_nonblock(fds[6 + 2 * i]));
        ladder_worker_add_pipe(w, fds[6 + 2 * i], (int)i);
    }
    LOG(LOG_INFO, "ladder", "worker_start", "stream=%s pid=%d outputs=%u nice=%d", w->stream,
        (int)pid, params->nout, params->nice);
    *out = w;
    return 0;
}

int
ladder_worker_write(struct ladder_worker *w, const void *p, size_t len)
{
    CHECK_OBJ_NOTNULL(w, LADDER_WORKER_MAGIC);
    if (w->in_fd < 0 || w->closing_input)
        return ERR_CLOSED;
    if (evbuffer_get_length(w->in) + len > LADDER_WORKER_INPUT_MAX)
        return ERR_LIMIT;
    AZ(evbuffer_add(w->in, p, len));
    if (!event_pending(w->in_ev, EV_WRITE, NULL))
        AZ(event_add(w->in_ev, NULL));
    return 0;
}

size_t
ladder_worker_pending(const struct ladder_worker *w)
{
    CHECK_OBJ_NOTNULL(w, LADDER_WORKER_MAGIC);
    return evbuffer_get_length(w->in);
}

void
ladder_worker_close_input(struct ladder_worker *w)
{
    CHECK_OBJ_NOTNULL(w, LADDER_WORKER_MAGIC);
    w->closing_input = true;
    if (evbuffer_get_length(w->in) == 0)
        ladder_worker_in_close(w);
}

void
ladder_worker_kill(struct ladder_worker *w, int sig)
{
    CHECK_OBJ_NOTNULL(w, LADDER_WORKER_MAGIC);
    if (w->pid > 0)
        (void)kill(w->pid, sig);
}

pid_t
ladder_worker_pid(const struct ladder_worker *w)
{
    CHECK_OBJ_NOTNULL(w, LADDER_WORKER_MAGIC);
    return w->pid;
}

void
ladder_worker_free(struct ladder_worker **pw)
{
    struct ladder_worker *w = *pw;
    unsigned i;

    if (w == NULL)
        return;
    CHECK_OBJ(w, LADDER_WORKER_MAGIC);
    if (w->pid > 0) {
        int status;

        (void)kill(w->pid, SIGKILL);
        (void)kill(w->pid, SIGCONT); /* a stopped child dies only once continued */
        while (waitpid(w->pid, &status, 0) < 0 && errno == EINTR)
            ;
    }
    ladder_worker_in_close(w);
    for (i = 0; i < w->npipes; i++)
        ladder_worker_pipe_close(&w->pipes[i]);
    event_free(w->in_ev);
    event_free(w->reap_ev);
    evbuffer_free(w->in);
    FREE_OBJ(w);
    *pw = NULL;
}
