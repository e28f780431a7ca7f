#include "misc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/crypto.h"
#include "util/xalloc.h"

uint64_t mock_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static char oid_process[11];
static uint32_t oid_counter;

static void objectid_init(void)
{
    if (!oid_process[0]) {
        crypto_random_hex(oid_process, 5);
        oid_counter = (uint32_t)(crypto_random_u64() & 0x7fffff);
    }
}

static void objectid_at(unsigned long secs, uint32_t counter, char out[25])
{
    snprintf(out, 25, "%08lx%s%06lx", secs & 0xffffffffUL, oid_process,
             (unsigned long)(counter & 0xffffff));
}

void mock_objectid(char out[25])
{
    objectid_init();
    objectid_at((unsigned long)(mock_now_ms() / 1000), oid_counter++, out);
}

void mock_objectid_pair(char first[25], char second[25])
{
    unsigned long secs = (unsigned long)(mock_now_ms() / 1000);
    objectid_init();
    objectid_at(secs, oid_counter, first);
    objectid_at(secs, oid_counter + 1, second);
    oid_counter += 2;
}

void mock_uuid(char out[37])
{
    char h[33];
    crypto_random_hex(h, 16);
    h[12] = '4';
    h[16] = "89ab"[h[16] % 4];
    snprintf(out, 37, "%.8s-%.4s-%.4s-%.4s-%.12s", h, h + 8, h + 12, h + 16, h + 20);
}

char *mock_base64url(const void *data, size_t len)
{
    size_t n = 0;
    char *s = crypto_base64_encode(data, len, &n);
    while (n > 0 && s[n - 1] == '=')
        s[--n] = '\0';
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '+')
            s[i] = '-';
        else if (s[i] == '/')
            s[i] = '_';
    }
    return s;
}

const char *mock_memfind(const char *hay, size_t hlen, const char *needle, size_t nlen)
{
    if (nlen == 0)
        return hay;
    const char *p = hay, *end = hay + hlen;
    while ((size_t)(end - p) >= nlen) {
        p = memchr(p, needle[0], (size_t)(end - p) - nlen + 1);
        if (!p)
            return NULL;
        if (memcmp(p, needle, nlen) == 0)
            return p;
        p++;
    }
    return NULL;
}

/* Length of the valid UTF-8 sequence at s (1-4), or 0 when it is invalid. */
static size_t utf8_seq(const unsigned char *s, size_t avail)
{
    unsigned char c = s[0];
    if (c < 0x80)
        return 1;
    size_t n;
    unsigned char lo = 0x80, hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf)
        n = 2;
    else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        if (c == 0xe0)
            lo = 0xa0; /* overlong */
        else if (c == 0xed)
            hi = 0x9f; /* surrogates */
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        if (c == 0xf0)
            lo = 0x90;
        else if (c == 0xf4)
            hi = 0x8f; /* above U+10FFFF */
    } else
        return 0;
    if (avail < n || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    return n;
}

int mock_utf8_sanitize(struct buf *out, const char *in, size_t len)
{
    const unsigned char *s = (const unsigned char *)in;
    size_t i = 0, start = 0;
    while (i < len) {
        size_t n = utf8_seq(s + i, len - i);
        if (n) {
            i += n;
            continue;
        }
        if (buf_append(out, in + start, i - start) < 0 || buf_puts(out, "\xef\xbf\xbd") < 0)
            return -1;
        i++;
        start = i;
    }
    return buf_append(out, in + start, len - start);
}

int mock_utf8_valid(const char *in, size_t len)
{
    const unsigned char *s = (const unsigned char *)in;
    for (size_t i = 0; i < len;) {
        size_t n = utf8_seq(s + i, len - i);
        if (!n)
            return 0;
        i += n;
    }
    return 1;
}
