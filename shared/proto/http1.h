/*
 * http1.h -- incremental, allocation-free HTTP/1.1 parser for requests and
 * responses (SPEC: RFC 9112), used by the server and the client alike.
 *
 * Two parts. The head parser reads the start line and the header fields;
 * the body parser removes Content-Length or chunked framing. Both are pure:
 * no I/O, no libevent, no allocation, so the fuzzers link them alone.
 *
 * The head parser is handed the whole head received so far, from its first
 * byte, on every call (the caller keeps it contiguous, e.g. with
 * evbuffer_pullup() up to the head limit) and resumes where it stopped, so
 * no byte is scanned twice. Results are offsets into that buffer (struct
 * http1_span), never pointers, so the caller's buffer may move between
 * calls. On error the cursor (state, pos, mark, line_start, nhdrs) stays
 * where the call found it, and m->error says what was wrong (and which
 * status to answer); calling again with the same bytes fails the same way.
 *
 * Results never depend on how the input was split between calls: the
 * first failing byte decides, and every limit is a byte position, so a
 * message fed whole, byte by byte or in any two pieces gives the same
 * answer (the unit tests and fuzzers check this).
 *
 * Rejected, because proxies and caches disagree on them (request
 * smuggling): Content-Length together with Transfer-Encoding, differing or
 * malformed Content-Length values, a Transfer-Encoding other than a final
 * "chunked", obs-fold line folding, whitespace before the colon, bare CR,
 * NUL or other control bytes in fields, chunk sizes that are not pure hex
 * or overflow 2^63. docs/http1.md lists every rule with its RFC section.
 */
#ifndef CASCADE_HTTP1_H
#define CASCADE_HTTP1_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../miniobj.h"

#define HTTP1_MAX_HEADERS 100
/* A chunk-size line (size and extensions) longer than this is ERR_LIMIT. */
#define HTTP1_CHUNK_LINE_MAX 4096
/* The trailer section (all trailer lines) longer than this is ERR_LIMIT. */
#define HTTP1_TRAILER_MAX 8192

enum http1_kind {
    HTTP1_REQUEST = 1,
    HTTP1_RESPONSE = 2,
};

enum http1_method {
    HTTP1_M_OTHER = 0, /* any other valid token: forwarded, never cached */
    HTTP1_M_GET,
    HTTP1_M_HEAD,
    HTTP1_M_POST,
    HTTP1_M_PUT,
    HTTP1_M_DELETE,
    HTTP1_M_OPTIONS,
    HTTP1_M_PATCH,
    HTTP1_M_PURGE,
    HTTP1_M_CONNECT,
    HTTP1_M_TRACE,
};

enum http1_error {
    HTTP1_E_NONE = 0,
    HTTP1_E_START_LINE,       /* malformed request or status line: 400 (502 upstream) */
    HTTP1_E_METHOD,           /* method is not a token: 400 */
    HTTP1_E_TARGET,           /* request-target malformed: 400 */
    HTTP1_E_VERSION,          /* not HTTP/1.x: 505 */
    HTTP1_E_URI_TOO_LONG,     /* request line over max_line: 414 */
    HTTP1_E_HEAD_TOO_LARGE,   /* a field line, the head or the trailers over a limit: 431 */
    HTTP1_E_TOO_MANY_HEADERS, /* over max_headers: 431 */
    HTTP1_E_FIELD,            /* field or trailer syntax (space before colon, ctl byte): 400 */
    HTTP1_E_OBS_FOLD,         /* obs-fold continuation line: 400 */
    HTTP1_E_CL_TE,            /* both Content-Length and Transfer-Encoding: 400 */
    HTTP1_E_CL,               /* malformed or conflicting Content-Length: 400 */
    HTTP1_E_TE,               /* TE other than one "chunked", or TE in HTTP/1.0: 501 */
    HTTP1_E_HOST,             /* not exactly one Host (1.1), two (1.0), bad value: 400 */
    HTTP1_E_CHUNK,            /* bad chunk size line or framing (long line: ERR_LIMIT): 400 */
    HTTP1_E_BODY_TOO_LARGE,   /* body over max_body: 413 */
    HTTP1_E_TRUNCATED,        /* the peer closed inside a message */
};

/*
 * The status a server answers for e (400, 413, 414, 431, 501, 505; 0 for
 * HTTP1_E_NONE). A client that fails to parse a response answers 502.
 */
int http1_error_status(enum http1_error e);
/* A stable machine-readable code: "bad_start_line", "header_too_large", ... */
const char *http1_error_code(enum http1_error e);

struct http1_limits {
    uint32_t max_line;    /* request/status line, bytes (414 / 431 past it) */
    uint32_t max_field;   /* one field line, bytes */
    uint32_t max_head;    /* whole head, bytes */
    uint16_t max_headers; /* field lines, <= HTTP1_MAX_HEADERS */
};

struct http1_span {
    uint32_t off; /* from the first byte of the head buffer */
    uint32_t len;
};

struct http1_header {
    struct http1_span name;
    struct http1_span value; /* leading and trailing OWS removed */
};

struct http1_msg {
    /* parser state: private */
    enum http1_kind kind;
    int state;
    uint32_t pos;        /* next byte to look at */
    uint32_t mark;       /* start of the token being read */
    uint32_t line_start; /* start of the current line */
    struct http1_limits lim;

    /* why the last call failed */
    enum http1_error error;

    /* results: valid once http1_parse_head() returned > 0 */
    enum http1_method method;
    struct http1_span method_tok; /* requests */
    struct http1_span target;     /* requests: as sent */
    uint16_t status;              /* responses */
    struct http1_span reason;     /* responses */
    uint8_t version_minor;        /* HTTP/1.<minor>, 0..9 */
    uint16_t nhdrs;
    struct http1_header hdrs[HTTP1_MAX_HEADERS];
    int64_t content_length; /* -1 when absent */
    bool chunked;           /* Transfer-Encoding: chunked */
    bool keep_alive;        /* from the version and Connection */
    bool expect_continue;   /* Expect: 100-continue */
    bool upgrade;           /* Connection: upgrade with an Upgrade field */
    uint16_t host_count;    /* requests: Host fields seen */
};

/* Default limits: 8 KiB line, 8 KiB field, 32 KiB head, 100 fields. */
extern const struct http1_limits http1_default_limits;

/*
 * Readies m for a new message (for the next pipelined one too). lim is
 * copied; NULL means http1_default_limits. Every limit must be non-zero
 * and max_headers <= HTTP1_MAX_HEADERS. Does not clear hdrs[].
 */
void http1_msg_init(struct http1_msg *m, enum http1_kind kind, const struct http1_limits *lim);

/*
 * Parses the head in p[0..len). p must start at the message's first byte
 * (for requests, empty lines before the request line are skipped, SPEC:
 * RFC 9112 2.2) and hold at least what earlier calls saw.
 * Returns the head length, including the blank line, when the head is
 * complete (and the same length again if called after that); ERR_AGAIN
 * when more bytes are needed; ERR_PROTO or ERR_LIMIT with m->error set.
 * Never reads p[len] or beyond, nor any byte at or past lim.max_head.
 * A response head may be a 1xx interim one: the caller then parses the
 * next head (a fresh http1_msg_init) from the bytes that follow.
 */
long http1_parse_head(struct http1_msg *m, const uint8_t *p, size_t len) WARN_UNUSED;

/* Invariants of a parser state; asserted by fuzzers after every step. */
void http1_msg_check(const struct http1_msg *m);

/* Case-insensitive compare of a span of base with a NUL-terminated string. */
bool http1_span_eq(const uint8_t *base, struct http1_span s, const char *lit);

/*
 * The first header named name (case-insensitive) after `after` (NULL to
 * start at the beginning), or NULL.
 */
const struct http1_header *http1_header_find(const struct http1_msg *m, const uint8_t *base,
                                             const char *name, const struct http1_header *after);

/*
 * True when any field named name holds token in its comma-separated list
 * (case-insensitive; "Connection: keep-alive, Upgrade" has "upgrade").
 */
bool http1_header_has_token(const struct http1_msg *m, const uint8_t *base, const char *name,
                            const char *token);

/* ---- bodies ---- */

enum http1_body_mode {
    HTTP1_BODY_NONE = 0, /* no body (GET without framing, 204, 304, HEAD answers) */
    HTTP1_BODY_LENGTH,   /* Content-Length bytes */
    HTTP1_BODY_CHUNKED,  /* chunked coding */
    HTTP1_BODY_EOF,      /* responses only: until the connection closes */
};

/*
 * How the body of a parsed head is framed (SPEC: RFC 9112 6.3). For
 * responses, req_method is the method of the request it answers (HEAD and
 * CONNECT change the answer); for requests it is ignored.
 * "Content-Length: 0" gives HTTP1_BODY_LENGTH (a body that is already
 * done). HTTP1_BODY_EOF means the connection cannot be reused, whatever
 * keep_alive says. After a 2xx answer to CONNECT the mode is NONE and the
 * bytes that follow belong to the tunnel.
 */
enum http1_body_mode http1_body_mode(const struct http1_msg *m, enum http1_method req_method);

struct http1_body {
    /* private */
    enum http1_body_mode mode;
    int state;
    uint64_t left;     /* bytes left in the body (LENGTH) or chunk (CHUNKED) */
    uint64_t total;    /* body bytes delivered so far */
    uint64_t max_body; /* 0 = unlimited */
    uint32_t line_len; /* bytes in the current chunk-size or trailer line */
    uint32_t trailer_len;
    /* public */
    enum http1_error error;
    bool done; /* the whole body (and trailers) was consumed */
};

/*
 * content_length is used in HTTP1_BODY_LENGTH mode only (>= 0 there).
 * A length over max_body fails at once: b->error is
 * HTTP1_E_BODY_TOO_LARGE and every http1_body_parse() returns ERR_LIMIT.
 */
void http1_body_init(struct http1_body *b, enum http1_body_mode mode, int64_t content_length,
                     uint64_t max_body);

/*
 * Consumes framing and body bytes from p[0..len). At most one run of body
 * bytes is reported per call, as p[*data_off .. *data_off + *data_len)
 * (*data_len is 0 when the call consumed only framing). Returns the bytes
 * consumed (0 only when len is 0 or the body is done), or ERR_PROTO /
 * ERR_LIMIT with b->error set; bytes after the body are never consumed, so
 * a pipelined next message stays in the caller's buffer.
 * A call that meets an error after making progress returns that progress;
 * the error comes from the next call, which consumes nothing: a failing
 * call leaves the parser state as it found it. Chunk extensions are
 * checked and skipped; trailer fields are checked and discarded.
 * In EOF mode, a run never takes the total past max_body; the byte after
 * max_body is ERR_LIMIT.
 */
long http1_body_parse(struct http1_body *b, const uint8_t *p, size_t len, size_t *data_off,
                      size_t *data_len) WARN_UNUSED;

/*
 * The peer closed: 0 when that ends the body properly (done, or EOF mode,
 * which it marks done), else ERR_PROTO with b->error HTTP1_E_TRUNCATED.
 */
int http1_body_eof(struct http1_body *b) WARN_UNUSED;

void http1_body_check(const struct http1_body *b);

#endif
