/* Base64 as data URLs carry it (standard or URL-safe, padded or not):
 * decoding any bytes must not crash, and what decodes must encode back to
 * something that decodes to the same bytes; encoding any bytes must decode
 * back to them. */
#include <string.h>

#include "fuzz.h"
#include "util/crypto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t n, m, k;
    unsigned char *dec = crypto_base64_decode((const char *)data, size, &n);
    if (dec) {
        FUZZ_ASSERT(dec[n] == '\0' && n <= size);
        char *enc = crypto_base64_encode(dec, n, &m);
        unsigned char *again = crypto_base64_decode(enc, m, &k);
        FUZZ_ASSERT(again && k == n && memcmp(again, dec, n) == 0);
        free(again);
        free(enc);
        free(dec);
    }
    char *enc = crypto_base64_encode(data, size, &m);
    FUZZ_ASSERT(enc && strlen(enc) == m && m == (size + 2) / 3 * 4);
    dec = crypto_base64_decode(enc, m, &n);
    FUZZ_ASSERT(dec && n == size && memcmp(dec, data, size) == 0);
    free(dec);
    free(enc);
    return 0;
}
