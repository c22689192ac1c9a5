/*
 * token.h -- bearer tokens: HMAC-SHA256 over a subject, a role and an
 * expiry, issued by the origin and checked on every write.
 *
 * A token is printable ASCII, safe in an Authorization header:
 *   v1.SUBJECT.ROLE.EXPIRES.MAC
 * SUBJECT is 1..TOKEN_SUB_MAX of [A-Za-z0-9_-], ROLE one decimal digit,
 * EXPIRES the expiry in Unix milliseconds (decimal, no leading zero), MAC
 * the base64url (no padding) HMAC-SHA256 of everything before the last
 * dot. Tokens are stateless: any origin holding the same key verifies
 * them, and nothing is stored per token.
 *
 * Not here: who the subject is (meta.c), HTTP (social_api.c).
 */
#ifndef CASCADE_ORIGIN_TOKEN_H
#define CASCADE_ORIGIN_TOKEN_H

#include <stddef.h>
#include <stdint.h>

#include "miniobj.h"

#define TOKEN_SUB_MAX 32
#define TOKEN_MAX 128    /* longest token issued or accepted, without NUL */
#define TOKEN_KEY_MIN 16 /* bytes of a configured secret */
#define TOKEN_KEY_MAX 256

struct token_key {
    uint8_t key[TOKEN_KEY_MAX];
    size_t len;
};

struct token_claims {
    char sub[TOKEN_SUB_MAX + 1];
    unsigned role; /* 0..9 */
    int64_t expires_ms;
};

/*
 * The key from a configured secret (TOKEN_KEY_MIN..TOKEN_KEY_MAX bytes,
 * used as it is), or 32 random bytes when secret is empty (tokens then
 * die with the process and other origins refuse them). ERR_CONF for a
 * secret too short or too long.
 */
int token_key_init(struct token_key *k, const char *secret) WARN_UNUSED;

/* Writes the token and its NUL into out (TOKEN_MAX + 1). ERR_INVAL for bad claims. */
int token_issue(const struct token_key *k, const struct token_claims *c, char *out,
                size_t outsz) WARN_UNUSED;

/*
 * Checks tok[0..len): syntax, MAC (constant time) and expiry against
 * now_ms. 0 with *c filled; ERR_AUTH for anything else (no detail: the
 * caller answers 401 either way).
 */
int token_verify(const struct token_key *k, const char *tok, size_t len, int64_t now_ms,
                 struct token_claims *c) WARN_UNUSED;

#endif
