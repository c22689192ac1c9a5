/*
 * test_token.c -- bearer tokens: issue and verify, expiry, every kind of
 * tampering (MAC, claims, key, length, syntax), canonical spelling, and
 * the key rules.
 */
#include <stdio.h>
#include <string.h>

#include "unit.h"
#include "err.h"
#include "../../origin/token.c"

static void
t_key(struct token_key *k, const char *secret)
{
    assert_int_equal(0, token_key_init(k, secret));
}

static void
t_issue(const struct token_key *k, const char *sub, unsigned role, int64_t exp, char *out)
{
    struct token_claims c;

    memset(&c, 0, sizeof(c));
    (void)snprintf(c.sub, sizeof(c.sub), "%s", sub);
    c.role = role;
    c.expires_ms = exp;
    assert_int_equal(0, token_issue(k, &c, out, TOKEN_MAX + 1));
}

static void
test_token_roundtrip(void **state)
{
    int64_t live = mem_live();
    struct token_key k;
    struct token_claims c;
    char tok[TOKEN_MAX + 1];

    (void)state;
    t_key(&k, "0123456789abcdef-secret");
    t_issue(&k, "a1b2c3d4e5f60718", 2, 5000, tok);
    assert_int_equal(0, strncmp(tok, "v1.a1b2c3d4e5f60718.2.5000.", 27));
    assert_int_equal(27 + 43, strlen(tok));
    assert_int_equal(0, token_verify(&k, tok, strlen(tok), 4999, &c));
    assert_string_equal("a1b2c3d4e5f60718", c.sub);
    assert_int_equal(2, c.role);
    assert_int_equal(5000, c.expires_ms);
    /* Expired at its expiry. */
    assert_int_equal(ERR_AUTH, token_verify(&k, tok, strlen(tok), 5000, &c));
    /* Deterministic: the same claims, the same token. */
    {
        char again[TOKEN_MAX + 1];

        t_issue(&k, "a1b2c3d4e5f60718", 2, 5000, again);
        assert_string_equal(tok, again);
    }
    UNIT_END(live);
}

static void
test_token_tamper(void **state)
{
    int64_t live = mem_live();
    struct token_key k, other;
    struct token_claims c;
    char tok[TOKEN_MAX + 1], bad[TOKEN_MAX + 8];
    size_t len, i;

    (void)state;
    t_key(&k, "0123456789abcdef-secret");
    t_key(&other, "0123456789abcdef-other!");
    t_issue(&k, "user", 0, 1000000, tok);
    len = strlen(tok);
    /* Another key. */
    assert_int_equal(ERR_AUTH, token_verify(&other, tok, len, 0, &c));
    /* Any single byte changed. */
    for (i = 0; i < len; i++) {
        memcpy(bad, tok, len + 1);
        bad[i] = bad[i] == 'A' ? 'B' : 'A';
        assert_int_equal(ERR_AUTH, token_verify(&k, bad, len, 0, &c));
    }
    /* Cut, extended, or empty. */
    assert_int_equal(ERR_AUTH, token_verify(&k, tok, len - 1, 0, &c));
    memcpy(bad, tok, len);
    bad[len] = 'A';
    assert_int_equal(ERR_AUTH, token_verify(&k, bad, len + 1, 0, &c));
    assert_int_equal(ERR_AUTH, token_verify(&k, "", 0, 0, &c));
    /* Claims changed with the old MAC: role up, expiry later. */
    (void)snprintf(bad, sizeof(bad), "v1.user.1.1000000.%s", tok + 18);
    assert_int_equal(ERR_AUTH, token_verify(&k, bad, strlen(bad), 0, &c));
    (void)snprintf(bad, sizeof(bad), "v1.user.0.9000000.%s", tok + 18);
    assert_int_equal(ERR_AUTH, token_verify(&k, bad, strlen(bad), 0, &c));
    /* Non-canonical spellings never verify (a leading zero). */
    (void)snprintf(bad, sizeof(bad), "v1.user.0.01000000.%s", tok + 18);
    assert_int_equal(ERR_AUTH, token_verify(&k, bad, strlen(bad), 0, &c));
    /* Too long to be ours. */
    memset(bad, 'a', sizeof(bad));
    assert_int_equal(ERR_AUTH, token_verify(&k, bad, sizeof(bad), 0, &c));
    UNIT_END(live);
}

static void
test_token_claims_and_keys(void **state)
{
    int64_t live = mem_live();
    struct token_key k, r1, r2;
    struct token_claims c;
    char tok[TOKEN_MAX + 1];

    (void)state;
    t_key(&k, "0123456789abcdef");
    memset(&c, 0, sizeof(c));
    c.expires_ms = 1;
    assert_int_equal(ERR_INVAL, token_issue(&k, &c, tok, sizeof(tok))); /* no subject */
    memcpy(c.sub, "a.b", 4);
    assert_int_equal(ERR_INVAL, token_issue(&k, &c, tok, sizeof(tok))); /* dot in it */
    memcpy(c.sub, "ab", 3);
    c.role = 10;
    assert_int_equal(ERR_INVAL, token_issue(&k, &c, tok, sizeof(tok)));
    c.role = 0;
    c.expires_ms = 0;
    assert_int_equal(ERR_INVAL, token_issue(&k, &c, tok, sizeof(tok)));
    c.expires_ms = 1;
    assert_int_equal(ERR_INVAL, token_issue(&k, &c, tok, 10)); /* no room */
    /* Secrets: too short is refused; none gives a random key per call. */
    assert_int_equal(ERR_CONF, token_key_init(&r1, "short"));
    t_key(&r1, "");
    t_key(&r2, NULL);
    assert_int_equal(32, r1.len);
    assert_memory_not_equal(r1.key, r2.key, 32);
    UNIT_END(live);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_token_roundtrip),
        cmocka_unit_test(test_token_tamper),
        cmocka_unit_test(test_token_claims_and_keys),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
