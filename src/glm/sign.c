#include "glm/sign.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/crypto.h"
#include "util/xalloc.h"

/* The check digit for a decimal string of at least two digits: the digit sum
 * without the second-to-last digit, mod 10. */
static char sign_check_digit(const char *ts, size_t n)
{
    unsigned sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += (unsigned)(ts[i] - '0');
    sum -= (unsigned)(ts[n - 2] - '0');
    return (char)('0' + sum % 10);
}

void sign_timestamp(uint64_t now_ms, char out[24])
{
    /* A uint64_t has at most 20 digits, so out always has room. */
    int n = snprintf(out, 24, "%llu", (unsigned long long)now_ms);
    if (n >= 2)
        out[n - 2] = sign_check_digit(out, (size_t)n);
}

void sign_compute(const char *timestamp, const char *nonce, const char *secret, char out[33])
{
    size_t lt = strlen(timestamp), ln = strlen(nonce), ls = strlen(secret);
    char *msg = xmalloc(lt + ln + ls + 3);
    char *p = msg;
    memcpy(p, timestamp, lt);
    p += lt;
    *p++ = '-';
    memcpy(p, nonce, ln);
    p += ln;
    *p++ = '-';
    memcpy(p, secret, ls);
    p += ls;
    crypto_md5_hex(msg, (size_t)(p - msg), out);
    free(msg);
}

void sign_make(const char *secret, struct sign_headers *h)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t ms = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
    sign_timestamp(ms, h->timestamp);
    crypto_random_hex(h->nonce, 16);
    sign_compute(h->timestamp, h->nonce, secret, h->sign);
}

int sign_timestamp_valid(const char *timestamp)
{
    if (!timestamp)
        return 0;
    size_t n = strlen(timestamp);
    /* Date.now() has 13 digits until the year 2286; accept any plausible
     * length so the rule, not the era, decides. */
    if (n < 2 || n > 20)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (timestamp[i] < '0' || timestamp[i] > '9')
            return 0;
    return timestamp[n - 2] == sign_check_digit(timestamp, n);
}
