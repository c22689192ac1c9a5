/*
 * fuzz_token.c -- token_verify() on arbitrary bytes with a fixed key and
 * clock. Whatever verifies must be canonical: issuing its claims again
 * gives back exactly the input.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "../../origin/token.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct token_key key;
    struct token_claims c;
    char again[TOKEN_MAX + 1];

    if (key.len == 0 && token_key_init(&key, "fuzzing-key-0123456789") != 0)
        abort();
    if (token_verify(&key, (const char *)data, size, 0, &c) == 0) {
        if (token_issue(&key, &c, again, sizeof(again)) != 0)
            abort();
        if (strlen(again) != size || memcmp(again, data, size) != 0)
            abort();
    }
    return 0;
}
