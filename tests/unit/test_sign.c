#include <string.h>
#include <time.h>

#include "glm/sign.h"
#include "test.h"

static const char *secret = "8a1317a7468aa3ad86e997d08f3f31cb";

static int is_lower_hex(const char *s, size_t n)
{
    if (strlen(s) != n)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return 1;
}

TEST(timestamp_replaces_second_to_last_digit_with_check)
{
    char ts[24];
    sign_timestamp(1745812345678ULL, ts);
    CHECK_STR(ts, "1745812345648");
    sign_timestamp(1714000000123ULL, ts);
    CHECK_STR(ts, "1714000000173");
}

TEST(timestamp_of_captured_value_is_unchanged)
{
    char ts[24];
    sign_timestamp(1790732179905ULL, ts);
    CHECK_STR(ts, "1790732179905");
}

TEST(timestamp_transform_is_a_fixed_point)
{
    uint64_t samples[] = { 1745812345678ULL, 1714000000123ULL, 1000000000000ULL,
                           9999999999999ULL, 1234567890123ULL, 1790732179905ULL };
    for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
        char a[24], b[24];
        sign_timestamp(samples[i], a);
        sign_timestamp(strtoull(a, NULL, 10), b);
        CHECK_STR(b, a);
        CHECK(sign_timestamp_valid(a));
    }
}

TEST(sign_matches_worked_examples)
{
    char s[33];
    sign_compute("1745812345648", "0f1e2d3c4b5a69788796a5b4c3d2e1f0", secret, s);
    CHECK_STR(s, "87d0281cac04d6182d8e21393ea3325c");
    sign_compute("1714000000173", "0f1e2d3c4b5a69788796a5b4c3d2e1f0", secret, s);
    CHECK_STR(s, "4a25047d47a19fd9afc642ef4e857db9");
    sign_compute("1790732179905", "75988225830f4d93b6702dcd0a2e9baf", secret, s);
    CHECK_STR(s, "a32ee7a2876ad44e6658475f0a7c69eb");
}

TEST(sign_depends_on_every_input)
{
    char a[33], b[33];
    sign_compute("1745812345648", "0f1e2d3c4b5a69788796a5b4c3d2e1f0", secret, a);
    sign_compute("1745812345648", "0f1e2d3c4b5a69788796a5b4c3d2e1f1", secret, b);
    CHECK(strcmp(a, b) != 0);
    sign_compute("1745812345648", "0f1e2d3c4b5a69788796a5b4c3d2e1f0", "other", b);
    CHECK(strcmp(a, b) != 0);
}

TEST(timestamp_valid_accepts_good_and_rejects_bad)
{
    CHECK(sign_timestamp_valid("1745812345648"));
    CHECK(sign_timestamp_valid("1714000000173"));
    CHECK(sign_timestamp_valid("1790732179905"));
    /* Date.now() unchanged: wrong check digit. */
    CHECK(!sign_timestamp_valid("1745812345678"));
    CHECK(!sign_timestamp_valid("1714000000123"));
    CHECK(!sign_timestamp_valid("1790732179915"));
    CHECK(!sign_timestamp_valid(""));
    CHECK(!sign_timestamp_valid("5"));
    CHECK(!sign_timestamp_valid("17458123456a8"));
    CHECK(!sign_timestamp_valid("-745812345648"));
    CHECK(!sign_timestamp_valid(" 1745812345648"));
    CHECK(!sign_timestamp_valid(NULL));
}

TEST(make_gives_fresh_valid_headers_near_now)
{
    struct sign_headers h1, h2;
    sign_make(secret, &h1);
    sign_make(secret, &h2);
    CHECK_INT(strlen(h1.timestamp), 13);
    CHECK(sign_timestamp_valid(h1.timestamp));
    long long ts = strtoll(h1.timestamp, NULL, 10);
    long long now = (long long)time(NULL) * 1000;
    /* The check digit changes the value by at most 90 ms. */
    CHECK(ts > now - 5000 && ts < now + 5000);
    CHECK(is_lower_hex(h1.nonce, 32));
    CHECK(is_lower_hex(h1.sign, 32));
    CHECK(strcmp(h1.nonce, h2.nonce) != 0);
    char s[33];
    sign_compute(h1.timestamp, h1.nonce, secret, s);
    CHECK_STR(h1.sign, s);
}

TEST_MAIN()
