/*
 * fuzz_log_sanitize.c -- log_sanitize() on any bytes and any buffer size.
 *
 * The first byte picks dstsz (0..255); the rest is the peer input. Checks:
 * the output is NUL-terminated inside dstsz and holds only printable ASCII
 * without space, '"' or a bare '\'. Either it decodes to the whole input,
 * or the input did not fit, the output ends in "...", what precedes the
 * mark decodes to a prefix of the input, and the next byte would not have
 * fitted in front of the mark.
 */
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "log.h"
#include "compat.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t
fuzz_enc_len(uint8_t c)
{
    return (c > 0x20 && c < 0x7f && c != '"' && c != '\\') ? 1 : 4;
}

static int
fuzz_hex(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    assert(c >= 'a' && c <= 'f');
    return c - 'a' + 10;
}

/* Decodes s[0..len) into out; asserts the escaping rules. */
static size_t
fuzz_decode(const char *s, size_t len, uint8_t *out)
{
    size_t i, o = 0;

    for (i = 0; i < len; i++) {
        assert(s[i] > 0x20 && s[i] < 0x7f && s[i] != '"');
        if (s[i] == '\\') {
            assert(i + 3 < len && s[i + 1] == 'x');
            out[o++] = (uint8_t)(fuzz_hex(s[i + 2]) * 16 + fuzz_hex(s[i + 3]));
            i += 3;
        } else {
            out[o++] = (uint8_t)s[i];
        }
    }
    return o;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t decoded[256];
    size_t dstsz, len, need = 0, i, o;
    char dst[256];

    if (size == 0)
        return 0;
    dstsz = data[0];
    data++;
    size--;
    memset(dst, 'Z', sizeof(dst));
    assert(log_sanitize(dst, dstsz, data, size) == dst);
    if (dstsz == 0) {
        assert(dst[0] == 'Z'); /* nothing written */
        return 0;
    }
    len = strnlen(dst, dstsz);
    assert(len < dstsz);
    o = fuzz_decode(dst, len, decoded);
    if (o == size && memcmp(decoded, data, size) == 0)
        return 0; /* the whole input */

    for (i = 0; i < size; i++)
        need += fuzz_enc_len(data[i]);
    assert(need > dstsz - 1);
    if (dstsz < 4) {
        assert(len == dstsz - 1 && memcmp(dst, "...", len) == 0);
        return 0;
    }
    assert(len >= 3 && memcmp(dst + len - 3, "...", 3) == 0);
    o = fuzz_decode(dst, len - 3, decoded);
    assert(o < size && memcmp(decoded, data, o) == 0);
    assert(len - 3 + fuzz_enc_len(data[o]) > dstsz - 4);
    return 0;
}
