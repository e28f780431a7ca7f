/* glm/filetype: data URLs, type sniffing, MIME types and extensions, file
 * names (pure; no I/O). */
#include <string.h>

#include "glm/filetype.h"
#include "test.h"
#include "util/crypto.h"

/* A 1x1 PNG. */
static const char PNG_B64[] =
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==";

/* ---- data URLs ---------------------------------------------------------- */

TEST(base64_data_urls_decode_with_their_media_type)
{
    char url[512], mime[128];
    unsigned char *d;
    size_t n;
    snprintf(url, sizeof(url), "data:image/png;base64,%s", PNG_B64);
    CHECK_INT(filetype_data_url(url, strlen(url), mime, sizeof(mime), &d, &n), 0);
    CHECK_STR(mime, "image/png");
    CHECK_INT(n, 70);
    CHECK(d && memcmp(d, "\x89PNG", 4) == 0);
    free(d);

    const char *t = "data:text/plain;charset=utf-8;base64,5L2g5aW9";
    CHECK_INT(filetype_data_url(t, strlen(t), mime, sizeof(mime), &d, &n), 0);
    CHECK_STR(mime, "text/plain");
    CHECK_STR((char *)d, "你好");
    free(d);

    t = "DATA:;base64,aGk=";
    CHECK_INT(filetype_data_url(t, strlen(t), mime, sizeof(mime), &d, &n), 0);
    CHECK_STR(mime, "");
    CHECK_STR((char *)d, "hi");
    free(d);

    /* Lines wrapped by some clients. */
    t = "data:text/plain;base64,aGVs\r\nbG8g\nd29y bGQ=";
    CHECK_INT(filetype_data_url(t, strlen(t), mime, sizeof(mime), &d, &n), 0);
    CHECK_STR((char *)d, "hello world");
    free(d);
}

TEST(percent_encoded_data_urls_decode)
{
    char mime[128];
    unsigned char *d;
    size_t n;
    const char *t = "data:text/csv,a%2Cb%0A1,2";
    CHECK_INT(filetype_data_url(t, strlen(t), mime, sizeof(mime), &d, &n), 0);
    CHECK_STR(mime, "text/csv");
    CHECK_STR((char *)d, "a,b\n1,2");
    CHECK_INT(n, 7);
    free(d);
}

TEST(invalid_data_urls_are_rejected)
{
    char mime[128];
    unsigned char *d = (unsigned char *)"x";
    size_t n = 9;
    const char *bad[] = {
        "data:image/png;base64,@@@@", "data:image/png;base64,abcde", "data:image/png;base64",
        "http://x/y.png", "dat", "data:text/plain;base64,a b c d e",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        CHECK_INT(filetype_data_url(bad[i], strlen(bad[i]), mime, sizeof(mime), &d, &n), -1);
        CHECK(d == NULL);
    }
}

/* ---- types and names ---------------------------------------------------- */

TEST(leading_bytes_tell_common_types)
{
    CHECK_STR(filetype_sniff((const unsigned char *)"\x89PNG\r\n\x1a\n....", 12), "image/png");
    CHECK_STR(filetype_sniff((const unsigned char *)"\xff\xd8\xff\xe0xx", 6), "image/jpeg");
    CHECK_STR(filetype_sniff((const unsigned char *)"GIF89a...", 9), "image/gif");
    CHECK_STR(filetype_sniff((const unsigned char *)"RIFF\0\0\0\0WEBPVP8 ", 16), "image/webp");
    CHECK_STR(filetype_sniff((const unsigned char *)"%PDF-1.7\n", 9), "application/pdf");
    CHECK_STR(filetype_sniff((const unsigned char *)"PK\x03\x04\x14\0", 6), "application/zip");
    CHECK_STR(filetype_sniff((const unsigned char *)"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1\0", 9),
              "application/x-ole-storage");
    const char *text = "# 标题\n正文 text\tok\r\n";
    CHECK_STR(filetype_sniff((const unsigned char *)text, strlen(text)), "text/plain");
    CHECK(filetype_sniff((const unsigned char *)text, strlen(text) + 1) == NULL); /* a NUL */
    /* A UTF-8 sequence cut by the end of the sample is still text. */
    CHECK_STR(filetype_sniff((const unsigned char *)"abc\xe4\xbd", 5), "text/plain");
    CHECK(filetype_sniff((const unsigned char *)"\x00\x01\x02\xfe\xff", 5) == NULL);
    CHECK(filetype_sniff((const unsigned char *)"ab\xc0\x80", 4) == NULL);
    CHECK(filetype_sniff((const unsigned char *)"", 0) == NULL);
}

TEST(the_type_comes_from_the_declaration_then_the_bytes_then_the_name)
{
    char t[128];
    const unsigned char png[] = "\x89PNG\r\n\x1a\n0000";
    const unsigned char zip[] = "PK\x03\x04zzzz";
    const unsigned char txt[] = "a,b\n1,2\n";
    const unsigned char bin[] = "\x00\x01\x02\x03\xfe";
    CHECK_INT(filetype_resolve("image/jpeg; q=1", png, 12, "x.png", t, sizeof(t)), 0);
    CHECK_STR(t, "image/jpeg");
    CHECK_INT(filetype_resolve("application/octet-stream", png, 12, "blob", t, sizeof(t)), 0);
    CHECK_STR(t, "image/png");
    CHECK_INT(filetype_resolve("", zip, 8, "https://h/r/report.docx?v=2", t, sizeof(t)), 0);
    CHECK_STR(t, "application/vnd.openxmlformats-officedocument.wordprocessingml.document");
    CHECK_INT(filetype_resolve(NULL, zip, 8, "archive", t, sizeof(t)), 0);
    CHECK_STR(t, "application/zip");
    CHECK_INT(filetype_resolve(NULL, txt, 8, "data.csv", t, sizeof(t)), 0);
    CHECK_STR(t, "text/csv");
    CHECK_INT(filetype_resolve(NULL, txt, 8, "notes", t, sizeof(t)), 0);
    CHECK_STR(t, "text/plain");
    /* A text file named like a picture is still text. */
    CHECK_INT(filetype_resolve(NULL, txt, 8, "fake.png", t, sizeof(t)), 0);
    CHECK_STR(t, "text/plain");
    CHECK_INT(filetype_resolve("application/octet-stream", bin, 5, "x.pdf", t, sizeof(t)), 0);
    CHECK_STR(t, "application/pdf");
    CHECK_INT(filetype_resolve("application/octet-stream", bin, 5, "blob", t, sizeof(t)), -1);
    CHECK_INT(filetype_resolve(NULL, bin, 5, "http://example.com", t, sizeof(t)), -1);
    /* Declarations that would break a multipart header are ignored. */
    CHECK_INT(filetype_resolve("image/png\r\nX-Evil: 1", bin, 5, "blob", t, sizeof(t)), -1);
    CHECK_INT(filetype_resolve("image/png\"", png, 12, "blob", t, sizeof(t)), 0);
    CHECK_STR(t, "image/png");
}

TEST(extensions_and_types_map_both_ways)
{
    CHECK_STR(filetype_mime_for_name("a/b/C.PDF"), "application/pdf");
    CHECK_STR(filetype_mime_for_name("https://h/x.jpeg#frag"), "image/jpeg");
    CHECK(filetype_mime_for_name("https://example.com") == NULL);
    CHECK(filetype_mime_for_name("https://example.com/") == NULL);
    CHECK(filetype_mime_for_name("noext") == NULL);
    CHECK(filetype_mime_for_name(".bashrc") == NULL);
    CHECK_STR(filetype_ext_for_mime("image/jpeg"), "jpg");
    CHECK_STR(filetype_ext_for_mime("text/plain"), "txt");
    CHECK_STR(filetype_ext_for_mime("IMAGE/PNG"), "png");
    CHECK_STR(filetype_ext_for_mime("application/x-unknown"), "bin");
}

TEST(file_names_are_safe_and_have_an_extension)
{
    char n[256];
    filetype_filename("https://files.example/a/b/report%20final.pdf?x=1#y", "application/pdf", n,
                    sizeof(n));
    CHECK_STR(n, "report final.pdf");
    filetype_filename("https://files.example/img", "image/png", n, sizeof(n));
    CHECK_STR(n, "img.png");
    filetype_filename("https://files.example/%E6%8A%A5%E5%91%8A.docx", "x/y", n, sizeof(n));
    CHECK_STR(n, "报告.docx");
    filetype_filename("a\"b\r\n;c.txt", "text/plain", n, sizeof(n));
    CHECK_STR(n, "a_b___c.txt");
    filetype_filename("..\\..\\windows\\evil.exe", "text/plain", n, sizeof(n));
    CHECK_STR(n, "evil.exe");
    filetype_filename("https://files.example/..%2F..%2Fetc%2Fpasswd", "text/plain", n, sizeof(n));
    CHECK(strchr(n, '/') == NULL);
    CHECK(strstr(n, ".txt") != NULL);
    /* No name at all: 32 random hex digits. */
    filetype_filename(NULL, "image/jpeg", n, sizeof(n));
    CHECK_INT(strlen(n), 36);
    CHECK_STR(n + 32, ".jpg");
    filetype_filename("https://files.example/", "application/pdf", n, sizeof(n));
    CHECK_INT(strlen(n), 36);
    CHECK_STR(n + 32, ".pdf");
    filetype_filename("...", "text/plain", n, sizeof(n));
    CHECK_INT(strlen(n), 36);
    /* Invalid UTF-8 is replaced; long names are cut. */
    filetype_filename("a\xff\xfe.txt", "text/plain", n, sizeof(n));
    CHECK_STR(n, "a__.txt");
    char longname[400];
    memset(longname, 'x', 300);
    strcpy(longname + 300, ".txt");
    filetype_filename(longname, "text/plain", n, sizeof(n));
    CHECK(strlen(n) <= 130);
}

TEST_MAIN()
