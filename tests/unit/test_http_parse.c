/* The HTTP head and chunk-size parsers on memory (http/parse.c); the server
 * around them, over sockets, is test_http_server.c. */
#include "test.h"

#include "http/parse.h"
#include "util/xalloc.h"

/* Parses a copy of s (the parser splits its input in place). */
static int parse(const char *s, size_t max_body, struct http_head *h, struct http_perr *e,
                 char **copy)
{
    *copy = xstrdup(s);
    return http_parse_head(*copy, strlen(s), max_body, h, e);
}

TEST(a_request_head_is_split_into_method_path_query_and_headers)
{
    struct http_head h;
    struct http_perr e;
    char *c;
    CHECK_INT(parse("POST /v1/x?a=1 HTTP/1.1\r\nHost: h\r\nX-A:  b c \r\nContent-Length: 3\r\n\r\n",
                    100, &h, &e, &c), 0);
    CHECK_STR(h.method, "POST");
    CHECK_STR(h.path, "/v1/x");
    CHECK_STR(h.query, "a=1");
    CHECK_INT(h.nhdrs, 3);
    if (h.nhdrs == 3) {
        CHECK_STR(h.hdrs[1].name, "X-A");
        CHECK_STR(h.hdrs[1].value, "b c");
    }
    CHECK_INT(h.http10, 0);
    CHECK_INT(h.keep_alive, 1);
    CHECK_INT(h.body, HTTP_BODY_LENGTH);
    CHECK_INT(h.content_length, 3);
    CHECK_INT(h.expect_continue, 0);
    http_head_cleanup(&h);
    free(c);
}

TEST(framing_keep_alive_and_expect_follow_the_headers)
{
    struct http_head h;
    struct http_perr e;
    char *c;
    CHECK_INT(parse("GET http://x.cn?q HTTP/1.0\nConnection: Keep-Alive\n\n", 100, &h, &e, &c), 0);
    CHECK_STR(h.path, "/");
    CHECK_STR(h.query, "q");
    CHECK_INT(h.http10, 1);
    CHECK_INT(h.keep_alive, 1);
    CHECK_INT(h.body, HTTP_BODY_NONE);
    http_head_cleanup(&h);
    free(c);
    CHECK_INT(parse("PUT /u HTTP/1.1\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n"
                    "Connection: close\r\n\r\n", 100, &h, &e, &c), 0);
    CHECK_INT(h.body, HTTP_BODY_CHUNKED);
    CHECK_INT(h.expect_continue, 1);
    CHECK_INT(h.keep_alive, 0);
    http_head_cleanup(&h);
    free(c);
}

TEST(broken_heads_come_back_as_a_status_and_a_reason)
{
    static const struct { const char *head; int status; const char *code; } cases[] = {
        { "GET /\r\n\r\n", 400, "bad_request" },
        { "G(T / HTTP/1.1\r\n\r\n", 400, "bad_request" },
        { "GET / HTTP/2.0\r\n\r\n", 505, "http_version_not_supported" },
        { "BREW / HTTP/1.1\r\n\r\n", 501, "not_implemented" },
        { "GET x HTTP/1.1\r\n\r\n", 400, "bad_request" },
        { "GET / HTTP/1.1\r\n folded\r\n\r\n", 400, "bad_request" },
        { "GET / HTTP/1.1\r\nA\rB: c\r\n\r\n", 400, "bad_request" },
        { "POST / HTTP/1.1\r\nContent-Length: 5, 6\r\n\r\n", 400, "bad_request" },
        { "POST / HTTP/1.1\r\nContent-Length: 101\r\n\r\n", 413, "request_too_large" },
        { "POST / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", 400,
          "bad_request" },
        { "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 501, "not_implemented" },
        { "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400, "bad_request" },
        { "GET / HTTP/1.1\r\nExpect: tea\r\n\r\n", 417, "expectation_failed" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct http_head h;
        struct http_perr e = { 0, NULL, "" };
        char *c;
        CHECK_INT(parse(cases[i].head, 100, &h, &e, &c), -1);
        CHECK_INT(e.status, cases[i].status);
        CHECK_STR(e.code, cases[i].code);
        CHECK(e.msg[0] != '\0');
        http_head_cleanup(&h);
        free(c);
    }
}

TEST(a_nul_byte_in_the_head_is_refused)
{
    char head[] = "GET / HTTP/1.1\r\nA: \0b\r\n\r\n";
    struct http_head h;
    struct http_perr e;
    CHECK_INT(http_parse_head(head, sizeof(head) - 1, 100, &h, &e), -1);
    CHECK_INT(e.status, 400);
    http_head_cleanup(&h);
}

TEST(chunk_size_lines_are_hex_with_ignored_extensions)
{
    uint64_t n = 0;
    CHECK_INT(http_parse_chunk_size("1a\r\n", 4, &n), 0);
    CHECK_INT(n, 26);
    CHECK_INT(http_parse_chunk_size("5;ext=1\n", 8, &n), 0);
    CHECK_INT(n, 5);
    CHECK_INT(http_parse_chunk_size("ffffffffffffffffff\r\n", 20, &n), 0);
    CHECK(n == UINT64_MAX);
    CHECK_INT(http_parse_chunk_size("\r\n", 2, &n), -1);
    CHECK_INT(http_parse_chunk_size("5x\r\n", 4, &n), -1);
    CHECK_INT(http_parse_chunk_size("5;a\001\r\n", 6, &n), -1);
}

TEST(reasons_and_token_characters)
{
    CHECK_STR(http_reason(431), "Request Header Fields Too Large");
    CHECK_STR(http_reason(299), "Unknown");
    CHECK(http_is_tchar('~'));
    CHECK(!http_is_tchar('('));
    CHECK(!http_is_tchar(0));
}

TEST_MAIN()
