/* chatglm.cn request signing (protocol spec 4.1): X-Timestamp with its check
 * digit, X-Nonce, X-Sign = md5(timestamp "-" nonce "-" secret). */
#ifndef GLM_SIGN_H
#define GLM_SIGN_H

#include <stdint.h>

struct sign_headers {
    char timestamp[24];
    char nonce[33];
    char sign[33];
};

/* The check-digit rule: the second-to-last digit of the decimal milliseconds
 * is replaced by (sum of all digits - that digit) mod 10. */
void sign_timestamp(uint64_t now_ms, char out[24]);
/* md5 hex of "<timestamp>-<nonce>-<secret>". */
void sign_compute(const char *timestamp, const char *nonce, const char *secret, char out[33]);
/* Fills all three for now (wall clock) with a fresh random nonce. */
void sign_make(const char *secret, struct sign_headers *h);
/* Whether a timestamp obeys the check-digit rule (used by the mock). */
int sign_timestamp_valid(const char *timestamp);

#endif
