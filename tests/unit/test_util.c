#include "test.h"

#include "glm/session.h"
#include "util/buf.h"
#include "util/crypto.h"
#include "util/strmap.h"

TEST(buf_appends_up_to_its_cap_and_refuses_past_it)
{
    struct buf b;
    buf_init(&b, 8);
    CHECK_STR(buf_cstr(&b), "");
    CHECK_INT(buf_puts(&b, "abcd"), 0);
    CHECK_INT(buf_printf(&b, "%d%d", 12, 34), 0);
    CHECK_STR(buf_cstr(&b), "abcd1234");
    CHECK_INT(buf_putc(&b, 'x'), -1);
    CHECK_STR(buf_cstr(&b), "abcd1234");
    buf_drain(&b, 2);
    CHECK_STR(buf_cstr(&b), "cd1234");
    size_t n;
    char *s = buf_take(&b, &n);
    CHECK_STR(s, "cd1234");
    CHECK_INT(n, 6);
    CHECK_INT(b.len, 0);
    free(s);
    buf_cleanup(&b);
}

TEST(buf_grows_across_many_appends)
{
    struct buf b;
    buf_init(&b, 1 << 20);
    for (int i = 0; i < 10000; i++)
        CHECK_INT(buf_puts(&b, "0123456789"), 0);
    CHECK_INT(b.len, 100000);
    CHECK(memcmp(b.data + 99990, "0123456789", 10) == 0);
    buf_cleanup(&b);
}

TEST(md5_and_sha256_match_known_digests)
{
    char md5[33], sha[65];
    crypto_md5_hex("abc", 3, md5);
    CHECK_STR(md5, "900150983cd24fb0d6963f7d28e17f72");
    crypto_sha256_hex("abc", 3, sha);
    CHECK_STR(sha, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    char fp[7];
    crypto_fingerprint("abc", fp);
    CHECK_STR(fp, "ba7816");
}

TEST(base64_round_trips_and_rejects_garbage)
{
    size_t n;
    char *e = crypto_base64_encode("hello, world", 12, &n);
    CHECK_STR(e, "aGVsbG8sIHdvcmxk");
    unsigned char *d = crypto_base64_decode(e, n, &n);
    CHECK(d && n == 12 && memcmp(d, "hello, world", 12) == 0);
    free(e);
    free(d);
    d = crypto_base64_decode("aGk=", 4, &n);
    CHECK(d && n == 2 && memcmp(d, "hi", 2) == 0);
    free(d);
    d = crypto_base64_decode("_-8", 3, &n); /* URL-safe alphabet, no padding */
    CHECK(d && n == 2 && (unsigned char)d[0] == 0xff && (unsigned char)d[1] == 0xef);
    free(d);
    CHECK(crypto_base64_decode("a$bc", 4, &n) == NULL);
    CHECK(crypto_base64_decode("abcde", 5, &n) == NULL);
}

TEST(random_hex_has_the_right_length_and_alphabet)
{
    char a[33], b[33];
    crypto_random_hex(a, 16);
    crypto_random_hex(b, 16);
    CHECK_INT(strlen(a), 32);
    CHECK(strspn(a, "0123456789abcdef") == 32);
    CHECK(strcmp(a, b) != 0);
}

TEST(constant_time_compare_tells_equal_from_different)
{
    CHECK(crypto_equal("key-1", "key-1"));
    CHECK(!crypto_equal("key-1", "key-2"));
    CHECK(!crypto_equal("key-1", "key-10"));
}

TEST(jwt_exp_is_read_from_the_payload)
{
    /* The access token of tests/fixtures/endpoints-json.txt: exp 1729045260. */
    const char *jwt = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiI1YzFkMGE3ZTNmMmI0YzY5YThkN2U2"
                      "ZjVjNGIzYTI5MSIsImV4cCI6MTcyOTA0NTI2MCwibmJmIjoxNzI4OTU4ODYwLCJpYXQiOjE3Mjg5"
                      "NTg4NjAsImp0aSI6IjhlMmY2YTFjOWQwYjRlN2Y4YTZjNWI0ZDNlMmYxYTBiIiwidWlkIjoiNjZi"
                      "MWYwYzJlNGE1ZDZiN2M4ZDllMGYxIiwidHlwZSI6ImFjY2VzcyJ9.o0kBwYMBeeWdEs3EIw1sf8dK"
                      "L7N6i8037KXVrrEvBLA";
    long long exp = 0;
    CHECK_INT(session_jwt_exp(jwt, &exp), 0);
    CHECK_INT(exp, 1729045260LL);
    CHECK_INT(session_jwt_exp("not-a-jwt", &exp), -1);
    CHECK_INT(session_jwt_exp("a.bm90IGpzb24.c", &exp), -1);
}

struct item {
    char key[16];
    struct strmap_node node;
};

TEST(strmap_finds_every_key_through_growth_and_removal)
{
    enum { N = 5000 };
    static struct item items[N];
    struct strmap m;
    strmap_init(&m);
    CHECK(strmap_get(&m, "absent") == NULL);
    for (int i = 0; i < N; i++) {
        snprintf(items[i].key, sizeof(items[i].key), "tok-%d", i);
        strmap_put(&m, &items[i].node, items[i].key);
    }
    CHECK_INT(m.count, N);
    int found = 0;
    for (int i = 0; i < N; i++) {
        struct strmap_node *n = strmap_get(&m, items[i].key);
        found += n && STRMAP_ENTRY(n, struct item, node) == &items[i];
    }
    CHECK_INT(found, N);
    /* Remove the even ones: the odd ones stay, the even ones are gone. */
    for (int i = 0; i < N; i += 2)
        strmap_del(&m, &items[i].node);
    CHECK_INT(m.count, N / 2);
    int odd = 0, even = 0;
    for (int i = 0; i < N; i++) {
        struct strmap_node *n = strmap_get(&m, items[i].key);
        if (i % 2)
            odd += n == &items[i].node;
        else
            even += n != NULL;
    }
    CHECK_INT(odd, N / 2);
    CHECK_INT(even, 0);
    CHECK(strmap_get(&m, "tok-") == NULL);
    strmap_free(&m);
    CHECK(strmap_get(&m, "tok-1") == NULL);
}

TEST_MAIN()
