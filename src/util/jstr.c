#include "util/jstr.h"

#include <stdint.h>
#include <string.h>

/* ---- UTF-8 ---- */

size_t jstr_utf8_len(const char *s, size_t n)
{
    size_t len;

    return jstr_utf8_decode(s, n, &len) >= 0 ? len : 0;
}

int jstr_utf8_valid(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, len;

    while (i < n) {
        if (p[i] < 0x80) {
            i++;
            continue;
        }
        if (jstr_utf8_decode((const char *)p + i, n - i, &len) < 0)
            return 0;
        i += len;
    }
    return 1;
}

/* ---- JSON string bodies ---- */

static int hex4(const char *s, size_t n, unsigned *out)
{
    unsigned v = 0;

    if (n < 4)
        return -1;
    for (int i = 0; i < 4; i++) {
        unsigned char c = (unsigned char)s[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= c - '0';
        else if (c >= 'a' && c <= 'f')
            v |= c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            v |= c - 'A' + 10;
        else
            return -1;
    }
    *out = v;
    return 0;
}

/* Whether any of eight bytes is a control character, a quote, a backslash
 * or not ASCII: then the string walk looks at them one by one. (A true
 * answer may be wrong, a false one never is.) */
static int swar_special(uint64_t w)
{
    const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
    uint64_t q = w ^ (ones * '"'), b = w ^ (ones * '\\');

    return ((w & highs) | ((w - ones * 0x20) & ~w & highs) | ((q - ones) & ~q & highs) |
            ((b - ones) & ~b & highs)) != 0;
}

const char *jstr_walk(const char *str, const char *end, int *nul)
{
    const unsigned char *s = (const unsigned char *)str, *e = (const unsigned char *)end;

    for (;;) {
        while (e - s >= 8) {
            uint64_t w;
            memcpy(&w, s, 8);
            if (swar_special(w))
                break;
            s += 8;
        }
        if (s >= e)
            return end;
        unsigned char c = *s;
        if (c >= 0x20 && c < 0x80 && c != '\\' && c != '"') {
            s++;
            continue;
        }
        if (c == '"')
            return (const char *)s;
        if (c >= 0x80) {
            size_t k;
            if (jstr_utf8_decode((const char *)s, (size_t)(e - s), &k) < 0)
                return NULL;
            s += k;
            continue;
        }
        if (c < 0x20 || e - s < 2)
            return NULL;
        c = s[1];
        if (c != 'u') {
            if (!c || !strchr("\"\\/bfnrt", c))
                return NULL;
            s += 2;
            continue;
        }
        unsigned cp, lo;
        if (hex4((const char *)s + 2, (size_t)(e - s) - 2, &cp) < 0)
            return NULL;
        s += 6;
        if (cp >= 0xd800 && cp <= 0xdbff) {
            if (e - s < 2 || s[0] != '\\' || s[1] != 'u' ||
                hex4((const char *)s + 2, (size_t)(e - s) - 2, &lo) < 0 || lo < 0xdc00 ||
                lo > 0xdfff)
                return NULL;
            s += 6;
        } else if (cp >= 0xdc00 && cp <= 0xdfff) {
            return NULL;
        } else if (cp == 0) {
            *nul = 1;
        }
    }
}

int jstr_check(const char *s, size_t n, int *nul)
{
    return jstr_walk(s, s + n, nul) == s + n ? 0 : -1;
}

int jstr_decode(const char *s, size_t n, struct buf *out)
{
    size_t i = 0;

    while (i < n) {
        const char *bs = memchr(s + i, '\\', n - i);
        size_t run = bs ? (size_t)(bs - s) - i : n - i;
        if (buf_append(out, s + i, run) < 0)
            return -1;
        i += run;
        if (!bs)
            break;
        char e = s[i + 1], tmp[4];
        size_t k = 1;
        i += 2;
        switch (e) {
        case 'b': tmp[0] = '\b'; break;
        case 'f': tmp[0] = '\f'; break;
        case 'n': tmp[0] = '\n'; break;
        case 'r': tmp[0] = '\r'; break;
        case 't': tmp[0] = '\t'; break;
        case 'u': {
            unsigned cp = 0, lo = 0;
            (void)hex4(s + i, n - i, &cp);
            i += 4;
            if (cp >= 0xd800 && cp <= 0xdbff) {
                (void)hex4(s + i + 2, n - i - 2, &lo);
                i += 6;
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            }
            if (cp < 0x80) {
                tmp[0] = (char)cp;
            } else if (cp < 0x800) {
                tmp[0] = (char)(0xc0 | cp >> 6);
                tmp[1] = (char)(0x80 | (cp & 0x3f));
                k = 2;
            } else if (cp < 0x10000) {
                tmp[0] = (char)(0xe0 | cp >> 12);
                tmp[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
                tmp[2] = (char)(0x80 | (cp & 0x3f));
                k = 3;
            } else {
                tmp[0] = (char)(0xf0 | cp >> 18);
                tmp[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
                tmp[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
                tmp[3] = (char)(0x80 | (cp & 0x3f));
                k = 4;
            }
            break;
        }
        default: tmp[0] = e; break; /* " \ / */
        }
        if (buf_append(out, tmp, k) < 0)
            return -1;
    }
    return 0;
}

/* ---- writing ---- */

int json_append_string(struct buf *out, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s;
    size_t start = out->len, run = 0, i = 0;
    int rc = -1;

    if (buf_putc(out, '"') < 0)
        goto out;
    while (i < n) {
        unsigned char c = p[i];
        /* The common case: a run of bytes that go out as they are. */
        if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
            i++;
            continue;
        }
        size_t len = 1;
        long cp = c < 0x80 ? c : jstr_utf8_decode((const char *)p + i, n - i, &len);
        if (cp >= 0x80 && cp != 0x2028 && cp != 0x2029) {
            i += len;
            continue;
        }
        if (buf_append(out, s + run, i - run) < 0)
            goto out;
        char esc[6] = { '\\', 0, 0, 0, 0, 0 };
        size_t elen = 2;
        switch (cp) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        case '\b': esc[1] = 'b'; break;
        case '\f': esc[1] = 'f'; break;
        case JSTR_UTF8_BAD:
        case JSTR_UTF8_CUT:
            /* U+FFFD, raw */
            memcpy(esc, "\xEF\xBF\xBD", 3);
            elen = 3;
            break;
        default:
            /* Other controls, and U+2028/U+2029. */
            esc[1] = 'u';
            esc[2] = hex[(cp >> 12) & 15];
            esc[3] = hex[(cp >> 8) & 15];
            esc[4] = hex[(cp >> 4) & 15];
            esc[5] = hex[cp & 15];
            elen = 6;
            break;
        }
        if (buf_append(out, esc, elen) < 0)
            goto out;
        i += len;
        run = i;
    }
    if (buf_append(out, s + run, n - run) < 0 || buf_putc(out, '"') < 0)
        goto out;
    rc = 0;
out:
    if (rc < 0)
        buf_truncate(out, start); /* leave out as it was, like a failed append */
    return rc;
}
