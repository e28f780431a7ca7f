#include "util/crypto.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "util/xalloc.h"

static void to_hex(const unsigned char *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

/* Fetched once: EVP_md5() and EVP_sha256() make OpenSSL 3 look the
 * algorithm up in its providers on every call, which cost more than hashing
 * the few bytes of a request signature. */
static const EVP_MD *md_fetched(EVP_MD **cache, const char *name)
{
    if (!*cache && !(*cache = EVP_MD_fetch(NULL, name, NULL)))
        abort(); /* only fails when OpenSSL itself is broken */
    return *cache;
}

static EVP_MD *md5_md, *sha256_md;

static void digest_hex(const EVP_MD *md, const void *data, size_t len, char *out)
{
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned int dlen = 0;
    if (!EVP_Digest(data, len, d, &dlen, md, NULL))
        abort(); /* only fails when OpenSSL itself is broken */
    to_hex(d, dlen, out);
}

void crypto_md5_hex(const void *data, size_t len, char out[33])
{
    digest_hex(md_fetched(&md5_md, "MD5"), data, len, out);
}

void crypto_sha256_hex(const void *data, size_t len, char out[65])
{
    digest_hex(md_fetched(&sha256_md, "SHA256"), data, len, out);
}

/* Random bytes are drawn from OpenSSL in batches: every request needs three
 * 16-byte ids, and each RAND_bytes call costs a fork check (a getpid system
 * call) and locking. The pool is only ever read once per byte. */
static unsigned char pool[512];
static size_t pool_left;

static void random_bytes(unsigned char *out, size_t n)
{
    while (n > 0) {
        if (pool_left == 0) {
            if (RAND_bytes(pool, (int)sizeof(pool)) != 1)
                abort();
            pool_left = sizeof(pool);
        }
        size_t k = n < pool_left ? n : pool_left;
        unsigned char *src = pool + sizeof(pool) - pool_left;
        memcpy(out, src, k);
        OPENSSL_cleanse(src, k);
        pool_left -= k;
        out += k;
        n -= k;
    }
}

void crypto_random_hex(char *out, size_t nbytes)
{
    unsigned char tmp[64];
    while (nbytes > 0) {
        size_t n = nbytes > sizeof(tmp) ? sizeof(tmp) : nbytes;
        random_bytes(tmp, n);
        to_hex(tmp, n, out);
        out += 2 * n;
        nbytes -= n;
    }
}

uint64_t crypto_random_u64(void)
{
    uint64_t v;
    random_bytes((unsigned char *)&v, sizeof(v));
    return v;
}

void crypto_fingerprint(const char *secret, char out[7])
{
    char hex[65];
    crypto_sha256_hex(secret, strlen(secret), hex);
    memcpy(out, hex, 6);
    out[6] = '\0';
}

char *crypto_base64_encode(const void *data, size_t len, size_t *out_len)
{
    size_t n = 4 * ((len + 2) / 3);
    char *out = xmalloc(n + 1);
    size_t done = 0;
    const unsigned char *p = data;
    /* EVP_EncodeBlock takes an int length: go in slices for huge inputs. */
    while (len > 0) {
        size_t chunk = len > (size_t)3 << 28 ? (size_t)3 << 28 : len;
        done += (size_t)EVP_EncodeBlock((unsigned char *)out + done, p, (int)chunk);
        p += chunk;
        len -= chunk;
    }
    out[done] = '\0';
    if (out_len)
        *out_len = done;
    return out;
}

static int b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+' || c == '-')
        return 62;
    if (c == '/' || c == '_')
        return 63;
    return -1;
}

unsigned char *crypto_base64_decode(const char *in, size_t len, size_t *out_len)
{
    while (len > 0 && in[len - 1] == '=')
        len--;
    if (len % 4 == 1)
        return NULL;
    unsigned char *out = xmalloc(len / 4 * 3 + 3);
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < len; i++) {
        int v = b64_value((unsigned char)in[i]);
        if (v < 0) {
            free(out);
            return NULL;
        }
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(acc >> bits);
        }
    }
    out[o] = '\0';
    if (out_len)
        *out_len = o;
    return out;
}

int crypto_equal(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la != lb)
        return 0;
    return CRYPTO_memcmp(a, b, la) == 0;
}
