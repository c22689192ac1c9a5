/*
 * hex.h -- the value of one hexadecimal digit, for every percent-decoder
 * (URL paths, query strings, cache keys; SPEC: RFC 3986 2.1). Header-only
 * and pure, so parsers and fuzzers get it without linking anything.
 */
#ifndef CASCADE_HEX_H
#define CASCADE_HEX_H

/* 0..15 for [0-9a-fA-F], -1 for anything else. */
static inline int
hex_digit(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

#endif
