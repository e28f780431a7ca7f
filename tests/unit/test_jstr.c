/* util/jstr: strict UTF-8, JSON string bodies read as jansson reads them, and
 * JSON string literals written. jansson is the oracle wherever it has an
 * opinion. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"
#include "util/jstr.h"

/* json_append_string's output as a C string. */
static const char *js(const char *s, size_t n)
{
    static char result[1024];
    struct buf b;
    buf_init(&b, sizeof(result) - 1);
    if (json_append_string(&b, s, n) < 0)
        snprintf(result, sizeof(result), "(error)");
    else
        memcpy(result, buf_cstr(&b), b.len + 1);
    buf_cleanup(&b);
    return result;
}

TEST(json_string_escapes)
{
    CHECK_STR(js("", 0), "\"\"");
    CHECK_STR(js("plain text/ok", 13), "\"plain text/ok\"");
    CHECK_STR(js("\"\\", 2), "\"\\\"\\\\\"");
    CHECK_STR(js("\n\r\t\b\f", 5), "\"\\n\\r\\t\\b\\f\"");
    CHECK_STR(js("\x01\x1f\x7f", 3), "\"\\u0001\\u001f\x7f\"");
    CHECK_STR(js("a\0b", 3), "\"a\\u0000b\"");
    CHECK_STR(js("x\xe2\x80\xa8y\xe2\x80\xa9z", 9), "\"x\\u2028y\\u2029z\"");
}

TEST(json_string_passes_valid_utf8_raw)
{
    const char *s = "中文 é ß \xe2\x80\xa7 \xef\xbf\xbd 😀 \xf4\x8f\xbf\xbf";
    char expect[128];
    snprintf(expect, sizeof(expect), "\"%s\"", s);
    CHECK_STR(js(s, strlen(s)), expect);
}

TEST(json_string_replaces_invalid_utf8)
{
#define FFFD "\xef\xbf\xbd"
    CHECK_STR(js("a\x80z", 3), "\"a" FFFD "z\"");
    CHECK_STR(js("\xff\xfe", 2), "\"" FFFD FFFD "\"");
    /* Overlong forms and surrogates: every byte is its own bad sequence. */
    CHECK_STR(js("\xc0\xaf", 2), "\"" FFFD FFFD "\"");
    CHECK_STR(js("\xe0\x80\xaf", 3), "\"" FFFD FFFD FFFD "\"");
    CHECK_STR(js("\xed\xa0\x80", 3), "\"" FFFD FFFD FFFD "\"");
    CHECK_STR(js("\xf4\x90\x80\x80", 4), "\"" FFFD FFFD FFFD FFFD "\"");
    /* A truncated sequence is one replacement; the byte after it is kept. */
    CHECK_STR(js("\xe4\xb8", 2), "\"" FFFD "\"");
    CHECK_STR(js("\xe4\xb8x", 3), "\"" FFFD "x\"");
    CHECK_STR(js("\xe4\xb8\"", 3), "\"" FFFD "\\\"\"");
    CHECK_STR(js("\xf0\x9f\x98", 3), "\"" FFFD "\"");
    CHECK_STR(js("\xf0\x9f\x98\xe4\xb8\xad", 6), "\"" FFFD "中\"");
    /* Cut in the middle of a character at the end of the input. */
    CHECK_STR(js("ok\xe4", 3), "\"ok" FFFD "\"");
    /* Every result is valid JSON that jansson accepts. */
    const char *bad = "\x80\xc2\xe0\xa0\xed\xbf\xbf\xf5\x01\xf0\x90\x80";
    const char *out = js(bad, strlen(bad));
    json_t *o = json_loads(out, JSON_DECODE_ANY, NULL);
    CHECK(json_is_string(o));
    json_decref(o);
#undef FFFD
}

TEST(json_string_round_trips_through_jansson)
{
    unsigned char all[256];
    for (int i = 0; i < 128; i++)
        all[i] = (unsigned char)i;
    const char *utf = "中文😀\xe2\x80\xa8";
    memcpy(all + 128, utf, strlen(utf));
    size_t n = 128 + strlen(utf);
    struct buf b;
    buf_init(&b, 4096);
    CHECK_INT(json_append_string(&b, (const char *)all, n), 0);
    json_t *o = json_loadb(b.data, b.len, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    CHECK(json_is_string(o));
    CHECK_INT(json_string_length(o), n);
    CHECK(memcmp(json_string_value(o), all, n) == 0);
    json_decref(o);
    buf_cleanup(&b);
}

TEST(json_string_at_the_buffer_cap_fails_and_keeps_the_buffer)
{
    struct buf b;
    buf_init(&b, 5);
    CHECK_INT(json_append_string(&b, "abc", 3), 0);
    CHECK_INT(json_append_string(&b, "", 0), -1);
    buf_reset(&b);
    CHECK_INT(json_append_string(&b, "a\nb", 3), -1);
    CHECK_INT(b.len, 0);
    buf_cleanup(&b);
}

TEST(utf8_decode_gives_code_points_and_lengths)
{
    size_t len = 0;
    CHECK_INT(jstr_utf8_decode("A", 1, &len), 'A');
    CHECK_INT(len, 1);
    CHECK_INT(jstr_utf8_decode("\xc3\xa9", 2, &len), 0xe9);
    CHECK_INT(len, 2);
    CHECK_INT(jstr_utf8_decode("中", 3, &len), 0x4e2d);
    CHECK_INT(len, 3);
    CHECK_INT(jstr_utf8_decode("😀x", 5, &len), 0x1f600);
    CHECK_INT(len, 4);
    CHECK_INT(jstr_utf8_decode("\xf4\x8f\xbf\xbf", 4, &len), 0x10ffff);
    CHECK_INT(len, 4);
}

TEST(utf8_decode_tells_a_bad_sequence_from_one_cut_by_the_end)
{
    size_t len = 0;
    /* Bad: the maximal ill-formed subpart. */
    CHECK_INT(jstr_utf8_decode("\x80", 1, &len), JSTR_UTF8_BAD);
    CHECK_INT(len, 1);
    CHECK_INT(jstr_utf8_decode("\xc0\xaf", 2, &len), JSTR_UTF8_BAD);
    CHECK_INT(len, 1);
    CHECK_INT(jstr_utf8_decode("\xe0\x80\xaf", 3, &len), JSTR_UTF8_BAD);
    CHECK_INT(len, 1);
    CHECK_INT(jstr_utf8_decode("\xed\xa0\x80", 3, &len), JSTR_UTF8_BAD);
    CHECK_INT(len, 1);
    CHECK_INT(jstr_utf8_decode("\xf4\x90\x80\x80", 4, &len), JSTR_UTF8_BAD);
    CHECK_INT(len, 1);
    CHECK_INT(jstr_utf8_decode("\xf5\x80", 2, &len), JSTR_UTF8_BAD);
    CHECK_INT(len, 1);
    CHECK_INT(jstr_utf8_decode("\xe4\xb8x", 3, &len), JSTR_UTF8_BAD);
    CHECK_INT(len, 2);
    CHECK_INT(jstr_utf8_decode("\xf0\x9f\x98\xe4", 4, &len), JSTR_UTF8_BAD);
    CHECK_INT(len, 3);
    /* Cut: well-formed so far, and the input ends. */
    CHECK_INT(jstr_utf8_decode("\xe4\xb8", 2, &len), JSTR_UTF8_CUT);
    CHECK_INT(len, 2);
    CHECK_INT(jstr_utf8_decode("\xf0", 1, &len), JSTR_UTF8_CUT);
    CHECK_INT(len, 1);
    CHECK_INT(jstr_utf8_decode("\xf0\x9f\x98", 3, &len), JSTR_UTF8_CUT);
    CHECK_INT(len, 3);
    /* A lead byte that can start nothing is bad even at the end. */
    CHECK_INT(jstr_utf8_decode("\xff", 1, &len), JSTR_UTF8_BAD);
}

TEST(utf8_len_and_valid_are_strict)
{
    CHECK_INT(jstr_utf8_len("a", 1), 1);
    CHECK_INT(jstr_utf8_len("中文", 6), 3);
    CHECK_INT(jstr_utf8_len("\xe4\xb8", 2), 0);
    CHECK_INT(jstr_utf8_len("\xc1\xbf", 2), 0);
    CHECK_INT(jstr_utf8_len("\xed\xbf\xbf", 3), 0);
    CHECK(jstr_utf8_valid("", 0));
    CHECK(jstr_utf8_valid("plain, 中文 and 😀", strlen("plain, 中文 and 😀")));
    CHECK(jstr_utf8_valid("a\0b", 3));
    CHECK(!jstr_utf8_valid("ok\xe4", 3));
    CHECK(!jstr_utf8_valid("\xe0\x9f\x80", 3));
    CHECK(!jstr_utf8_valid("\xef\xbf\xbd\xff", 4));
}

/* What jansson makes of the JSON text "<body>": 1 valid (the decoded string
 * in *out, a new reference), 0 invalid. */
static int jansson_reads(const char *body, size_t n, json_t **out)
{
    char *doc = malloc(n + 2);
    doc[0] = '"';
    memcpy(doc + 1, body, n);
    doc[n + 1] = '"';
    *out = json_loadb(doc, n + 2, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    free(doc);
    return *out != NULL;
}

/* jstr_check and jstr_decode agree with jansson on one body. */
static void check_like_jansson(const char *body, size_t n)
{
    json_t *j = NULL;
    int nul = 0;
    int ok = jansson_reads(body, n, &j);
    int mine = memchr(body, '"', n) ? -2 : jstr_check(body, n, &nul);
    if (mine == -2) {
        json_decref(j);
        return; /* a quote inside: not a body */
    }
    CHECK_INT(mine == 0, ok);
    if (!(mine == 0) != !ok)
        printf("#   body: %.*s\n", (int)n, body);
    if (ok && mine == 0) {
        struct buf b;
        buf_init(&b, 4 * n + 16);
        CHECK_INT(jstr_decode(body, n, &b), 0);
        CHECK_INT(b.len, json_string_length(j));
        CHECK(memcmp(buf_cstr(&b), json_string_value(j), b.len) == 0);
        CHECK_INT(nul, memchr(json_string_value(j), 0, json_string_length(j)) != NULL);
        buf_cleanup(&b);
    }
    json_decref(j);
}

TEST(string_bodies_are_read_as_jansson_reads_them)
{
    static const char *const bodies[] = {
        "", "plain ascii, longer than eight bytes", "中文 and é and 😀",
        "\\n\\r\\t\\b\\f\\/\\\\\\\"", "\\u0041\\u00e9\\u4e2d", "\\ud83d\\ude00",
        "a\\u0000b", "\\ud83d", "\\ude00", "\\ud83dx", "\\ud83d\\u0041", "\\x", "\\u12",
        "\\u12g4", "tab\there", "bell\x07", "\x80", "\xc0\xaf", "\xed\xa0\x80",
        "\xe4\xb8", "ok\xe4\xb8\xadok", "12345678\\n12345678", "1234567\x01", "\\",
        "eight888\xe4\xb8\xad", "\xf4\x90\x80\x80", "\x7f del is fine",
    };
    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++)
        check_like_jansson(bodies[i], strlen(bodies[i]));
    check_like_jansson("a\0b", 3);
}

TEST(random_string_bodies_are_read_as_jansson_reads_them)
{
    static const char *const atoms[] = {
        "a", "xyzw1234", " ", "\\n", "\\\\", "\\u00e9", "\\ud83d\\ude00", "\\ud800", "中",
        "\xe4\xb8", "\xff", "\x01", "\\u0000", "é", "😀", "\\/", "\\q", "\xed\xa0\x80",
    };
    unsigned seed = 12345;
    char body[256];
    for (int round = 0; round < 3000; round++) {
        size_t n = 0;
        int k = (int)(seed % 12);
        for (int i = 0; i < k; i++) {
            seed = seed * 1103515245u + 12345u;
            const char *a = atoms[(seed >> 16) % (sizeof(atoms) / sizeof(atoms[0]))];
            size_t al = strlen(a);
            if (n + al >= sizeof(body))
                break;
            memcpy(body + n, a, al);
            n += al;
        }
        seed = seed * 1103515245u + 12345u;
        check_like_jansson(body, n);
    }
}

TEST(walk_stops_at_the_closing_quote)
{
    const char *s = "abc\\\"def\" rest";
    int nul = 0;
    const char *q = jstr_walk(s, s + strlen(s), &nul);
    CHECK(q == s + 8);
    const char *t = "no quote here at all";
    CHECK(jstr_walk(t, t + strlen(t), &nul) == t + strlen(t));
    CHECK_INT(nul, 0);
    const char *u = "x\\u0000y\"";
    CHECK(jstr_walk(u, u + strlen(u), &nul) == u + 8);
    CHECK_INT(nul, 1);
}

TEST_MAIN()
