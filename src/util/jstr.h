/* JSON strings and strict UTF-8: the one checker of UTF-8 and the one writer
 * of JSON string literals for the whole tree (stream/, glm/, api/, http/).
 *
 * Strict UTF-8 is RFC 3629's: no overlong forms, no surrogates (U+D800 to
 * U+DFFF), nothing past U+10FFFF. The readers of string bodies (jstr_walk,
 * jstr_check, jstr_decode) accept exactly what jansson accepts, so a frame
 * read here means what jansson would have made of it. Pure: no I/O, no
 * allocation but the caller's buffers. */
#ifndef GLM_JSTR_H
#define GLM_JSTR_H

#include <stddef.h>

#include "util/buf.h"

/* ---- UTF-8 ---- */

#define JSTR_UTF8_BAD (-1)      /* an ill-formed sequence */
#define JSTR_UTF8_CUT (-2)      /* a well-formed start that the end of the input cut */

/* The character at s (n > 0 bytes there): returns its code point and sets
 * *len to its length (1 to 4). Otherwise returns JSTR_UTF8_BAD with *len =
 * the length of the maximal ill-formed subpart (Unicode's "U+FFFD
 * substitution of maximal subparts", the policy of browsers and Python: each
 * bad sequence becomes one U+FFFD and the byte that broke it is looked at
 * again), or JSTR_UTF8_CUT with *len = n when the input ends inside a
 * sequence that was well-formed so far.
 * (Inline: the token estimate and the string writers call it per character.) */
static inline long jstr_utf8_decode(const char *str, size_t n, size_t *len)
{
    const unsigned char *s = (const unsigned char *)str;
    unsigned char c = s[0];
    unsigned char lo = 0x80, hi = 0xBF;
    size_t need;
    long cp;

    *len = 1;
    if (c < 0x80)
        return c;
    if (c >= 0xC2 && c <= 0xDF) {
        need = 1;
        cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        need = 2;
        cp = c & 0x0F;
        if (c == 0xE0)
            lo = 0xA0;          /* no overlong forms */
        else if (c == 0xED)
            hi = 0x9F;          /* no surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 3;
        cp = c & 0x07;
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F;          /* nothing above U+10FFFF */
    } else {
        return JSTR_UTF8_BAD;
    }
    for (size_t i = 1; i <= need; i++) {
        if (i >= n)
            return JSTR_UTF8_CUT;
        if (s[i] < lo || s[i] > hi)
            return JSTR_UTF8_BAD;
        cp = (cp << 6) | (s[i] & 0x3F);
        *len = i + 1;
        lo = 0x80;
        hi = 0xBF;
    }
    return cp;
}

/* The length of the well-formed character at s (n > 0), or 0. */
size_t jstr_utf8_len(const char *s, size_t n);

/* Whether s[0..n) is well-formed UTF-8 as a whole. */
int jstr_utf8_valid(const char *s, size_t n);

/* ---- JSON string bodies (the bytes between the quotes), as jansson reads them ---- */

/* Walks a string body from s, checking it as jansson does: no control
 * characters, known escapes, \u escapes of surrogates only in high-low pairs,
 * strict UTF-8. Stops at the first unescaped quote (returned) or at end
 * (returned); NULL when something is invalid. Sets *nul when it decodes to
 * text holding U+0000 (which jansson refuses in member names); never clears
 * it. Eight bytes at a time while none of them needs a look. */
const char *jstr_walk(const char *s, const char *end, int *nul);

/* A whole string body s[0..n) (no unescaped quote in it): 0 when valid, -1
 * when not. *nul as for jstr_walk. */
int jstr_check(const char *s, size_t n, int *nul);

/* Appends the decoded text of a string body that jstr_check accepted (on
 * anything else the result is unspecified, but stays inside s). 0, or -1 at
 * the buffer's cap. */
int jstr_decode(const char *s, size_t n, struct buf *out);

/* ---- writing ---- */

/* Appends s as a JSON string literal, quotes included. Invalid UTF-8 becomes
 * U+FFFD (one per maximal ill-formed subpart); control characters, '"' and
 * '\\' are escaped, and so are U+2028 and U+2029 (JavaScript before ES2019
 * does not take them raw in a string). Returns 0, or -1 at the buffer's cap
 * (the buffer is then as it was). */
int json_append_string(struct buf *out, const char *s, size_t n);

#endif
