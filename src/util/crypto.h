/* Small wrappers over OpenSSL's libcrypto (EVP only). */
#ifndef GLM_CRYPTO_H
#define GLM_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

/* out receives 32 lowercase hex digits and a NUL. */
void crypto_md5_hex(const void *data, size_t len, char out[33]);
/* out receives 64 lowercase hex digits and a NUL. */
void crypto_sha256_hex(const void *data, size_t len, char out[65]);
/* nbytes random bytes as 2*nbytes lowercase hex digits plus a NUL. */
void crypto_random_hex(char *out, size_t nbytes);
uint64_t crypto_random_u64(void);
/* A short stable name for a secret, safe for logs: first 6 hex of its sha256. */
void crypto_fingerprint(const char *secret, char out[7]);
/* Standard base64 with padding. Returns a new NUL-terminated string. */
char *crypto_base64_encode(const void *data, size_t len, size_t *out_len);
/* Decodes standard or URL-safe base64, with or without padding; whitespace is
 * not allowed. Returns a new buffer (NUL-terminated for convenience), or NULL
 * when the input is not valid base64. */
unsigned char *crypto_base64_decode(const char *in, size_t len, size_t *out_len);
/* Constant-time comparison of two strings (length may leak, contents do not). */
int crypto_equal(const char *a, const char *b);

#endif
