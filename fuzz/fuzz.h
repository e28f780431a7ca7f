/* Helpers shared by the libFuzzer targets: reading choices out of the input
 * bytes, and the checks (oracles) that turn a wrong answer into a crash. */
#ifndef GLM_FUZZ_H
#define GLM_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The input, consumed from the front. */
struct fuzz_in {
    const uint8_t *p;
    size_t n;
};

/* One byte (0 when the input is used up). */
static inline unsigned fuzz_byte(struct fuzz_in *in)
{
    if (!in->n)
        return 0;
    in->n--;
    return *in->p++;
}

/* Up to max bytes, the length chosen by the next byte. */
static inline const char *fuzz_bytes(struct fuzz_in *in, size_t max, size_t *len)
{
    size_t k = fuzz_byte(in) % (max + 1);
    if (k > in->n)
        k = in->n;
    const char *s = (const char *)in->p;
    in->p += k;
    in->n -= k;
    *len = k;
    return s;
}

/* A wrong answer is a crash, so that libFuzzer keeps the input. */
#define FUZZ_ASSERT(cond)                                                            \
    do {                                                                             \
        if (!(cond)) {                                                               \
            fprintf(stderr, "%s:%d: assertion failed: %s\n", __FILE__, __LINE__, #cond); \
            abort();                                                                 \
        }                                                                            \
    } while (0)

/* Strict UTF-8 (no overlongs, surrogates or code points past U+10FFFF). */
static inline int fuzz_utf8_valid(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s, *e = p + n;
    while (p < e) {
        unsigned c = *p++;
        if (c < 0x80)
            continue;
        size_t more = c >= 0xF0 ? 3 : c >= 0xE0 ? 2 : c >= 0xC2 ? 1 : 0;
        if (!more || c > 0xF4 || (size_t)(e - p) < more)
            return 0;
        unsigned cp = c & (0x3F >> more);
        for (size_t i = 0; i < more; i++) {
            if ((p[i] & 0xC0) != 0x80)
                return 0;
            cp = cp << 6 | (p[i] & 0x3F);
        }
        if ((more == 2 && cp < 0x800) || (more == 3 && (cp < 0x10000 || cp > 0x10FFFF)) ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        p += more;
    }
    return 1;
}

#endif
