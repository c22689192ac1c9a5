/*
 * token.c -- HMAC-SHA256 bearer tokens (format in token.h).
 *
 * The MAC covers the exact text before it, so a parsed token is rebuilt
 * and compared byte for byte: one canonical spelling per claim set (no
 * leading zeros, no signs), nothing lenient to confuse two parsers.
 * Verification never allocates and compares MACs with CRYPTO_memcmp().
 *
 * Not here: key storage beyond the struct, revocation (tokens expire).
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "token.h"
#include "err.h"
#include "log.h"
#include "compat.h"

#define TOKEN_MAC_LEN 32
#define TOKEN_MAC_B64 43 /* base64url of 32 bytes, unpadded */

int
token_key_init(struct token_key *k, const char *secret)
{
    size_t len = secret != NULL ? strlen(secret) : 0;

    memset(k, 0, sizeof(*k));
    if (len == 0) {
        if (RAND_bytes(k->key, 32) != 1) {
            LOG(LOG_ERR, "token", "rand_failed", "conn=0");
            return ERR_CONF;
        }
        k->len = 32;
        return 0;
    }
    if (len < TOKEN_KEY_MIN || len > TOKEN_KEY_MAX)
        return ERR_CONF;
    memcpy(k->key, secret, len);
    k->len = len;
    return 0;
}

static bool
token_sub_ok(const char *s, size_t len)
{
    size_t i;

    if (len == 0 || len > TOKEN_SUB_MAX)
        return false;
    for (i = 0; i < len; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
              (s[i] >= '0' && s[i] <= '9') || s[i] == '_' || s[i] == '-'))
            return false;
    return true;
}

/* SPEC: RFC 4648 5 -- base64url, without padding (3.2). */
static void
token_b64url(const uint8_t *in, size_t n, char *out)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t i, o = 0;

    for (i = 0; i + 2 < n; i += 3) {
        uint32_t v = ((uint32_t)in[i] << 16) | ((uint32_t)in[i + 1] << 8) | in[i + 2];

        out[o++] = tab[(v >> 18) & 63];
        out[o++] = tab[(v >> 12) & 63];
        out[o++] = tab[(v >> 6) & 63];
        out[o++] = tab[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)in[i] << 16;

        out[o++] = tab[(v >> 18) & 63];
        out[o++] = tab[(v >> 12) & 63];
    } else if (n - i == 2) {
        uint32_t v = ((uint32_t)in[i] << 16) | ((uint32_t)in[i + 1] << 8);

        out[o++] = tab[(v >> 18) & 63];
        out[o++] = tab[(v >> 12) & 63];
        out[o++] = tab[(v >> 6) & 63];
    }
    out[o] = '\0';
}

/* Writes "v1.SUB.ROLE.EXP" into out; its length, or 0 when it does not fit. */
static size_t
token_body(const struct token_claims *c, char *out, size_t outsz)
{
    int n = snprintf(out, outsz, "v1.%s.%u.%lld", c->sub, c->role, (long long)c->expires_ms);

    return n > 0 && (size_t)n < outsz ? (size_t)n : 0;
}

static int
token_mac(const struct token_key *k, const char *body, size_t len, char *out)
{
    uint8_t mac[EVP_MAX_MD_SIZE];
    unsigned maclen = 0;

    if (HMAC(EVP_sha256(), k->key, (int)k->len, (const uint8_t *)body, len, mac, &maclen) == NULL ||
        maclen != TOKEN_MAC_LEN)
        return ERR_AUTH;
    token_b64url(mac, maclen, out);
    OPENSSL_cleanse(mac, sizeof(mac));
    return 0;
}

int
token_issue(const struct token_key *k, const struct token_claims *c, char *out, size_t outsz)
{
    char buf[TOKEN_MAX + 1];
    size_t len;

    if (!token_sub_ok(c->sub, strnlen(c->sub, TOKEN_SUB_MAX + 1)) || c->role > 9 ||
        c->expires_ms <= 0)
        return ERR_INVAL;
    len = token_body(c, buf, sizeof(buf));
    if (len == 0 || len + 1 + TOKEN_MAC_B64 > TOKEN_MAX || outsz < len + 2 + TOKEN_MAC_B64)
        return ERR_INVAL;
    buf[len] = '.';
    if (token_mac(k, buf, len, buf + len + 1) != 0)
        return ERR_INVAL;
    memcpy(out, buf, len + 2 + TOKEN_MAC_B64);
    return 0;
}

/* Parses "v1.SUB.ROLE.EXP." strictly; the offset of the MAC, or 0. */
static size_t
token_parse(const char *tok, size_t len, struct token_claims *c)
{
    size_t i = 3, start;
    int64_t exp = 0;

    if (len < 3 || memcmp(tok, "v1.", 3) != 0)
        return 0;
    start = i;
    while (i < len && tok[i] != '.')
        i++;
    if (i == len || !token_sub_ok(tok + start, i - start))
        return 0;
    memcpy(c->sub, tok + start, i - start);
    c->sub[i - start] = '\0';
    i++;
    if (i + 1 >= len || tok[i] < '0' || tok[i] > '9' || tok[i + 1] != '.')
        return 0;
    c->role = (unsigned)(tok[i] - '0');
    i += 2;
    start = i;
    if (i < len && tok[i] == '0')
        return 0; /* canonical: no leading zero, and an expiry is never 0 */
    while (i < len && tok[i] >= '0' && tok[i] <= '9' && i - start < 18) {
        exp = exp * 10 + (tok[i] - '0');
        i++;
    }
    if (i == start || i == len || tok[i] != '.')
        return 0;
    c->expires_ms = exp;
    return i + 1;
}

int
token_verify(const struct token_key *k, const char *tok, size_t len, int64_t now_ms,
             struct token_claims *c)
{
    char want[TOKEN_MAC_B64 + 1];
    struct token_claims got;
    size_t mac_at;

    if (len > TOKEN_MAX)
        return ERR_AUTH;
    memset(&got, 0, sizeof(got));
    mac_at = token_parse(tok, len, &got);
    if (mac_at == 0 || len - mac_at != TOKEN_MAC_B64)
        return ERR_AUTH;
    if (token_mac(k, tok, mac_at - 1, want) != 0)
        return ERR_AUTH;
    if (CRYPTO_memcmp(want, tok + mac_at, TOKEN_MAC_B64) != 0)
        return ERR_AUTH;
    if (got.expires_ms <= now_ms)
        return ERR_AUTH;
    *c = got;
    return 0;
}
