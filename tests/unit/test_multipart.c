#include "test.h"

#include <string.h>

#include "http/multipart.h"

#define CT "multipart/form-data; boundary=----b0undary"

static const char body1[] =
    "------b0undary\r\n"
    "Content-Disposition: form-data; name=\"prompt\"\r\n\r\n"
    "a cat\r\n--x\r\n"
    "------b0undary\r\n"
    "Content-Disposition: form-data; name=\"input_reference\"; filename=\"first \\\"frame\\\".png\"\r\n"
    "Content-Type: Image/PNG; charset=binary\r\n\r\n"
    "\x89PNG\r\n\x1a\n\0bytes\r\n"
    "------b0undary\r\n"
    "Content-Disposition: form-data; name=\"input_reference[image_url]\"\r\n\r\n"
    "\r\n"
    "------b0undary--\r\n";

TEST(parts_are_split_with_names_filenames_and_types)
{
    struct mp_part p[8];
    char err[160];
    int n = multipart_parse(CT, body1, sizeof(body1) - 1, p, 8, err, sizeof(err));
    CHECK_INT(n, 3);
    if (n != 3)
        return;
    CHECK_STR(p[0].name, "prompt");
    CHECK_INT(p[0].has_filename, 0);
    CHECK_INT((int)p[0].len, 10);
    CHECK(memcmp(p[0].data, "a cat\r\n--x", 10) == 0);
    CHECK_STR(p[1].name, "input_reference");
    CHECK_STR(p[1].filename, "first \"frame\".png");
    CHECK_INT(p[1].has_filename, 1);
    CHECK_STR(p[1].content_type, "image/png");
    CHECK_INT((int)p[1].len, 14);
    CHECK(memcmp(p[1].data, "\x89PNG\r\n\x1a\n\0bytes", 14) == 0);
    CHECK_STR(p[2].name, "input_reference[image_url]");
    CHECK_INT((int)p[2].len, 0);
    CHECK(multipart_find(p, 3, "input_reference") == &p[1]);
    CHECK(multipart_find(p, 3, "model") == NULL);
}

TEST(a_quoted_boundary_and_a_preamble_are_accepted)
{
    static const char body[] = "preamble\r\n--q\r\nContent-Disposition: form-data; name=a\r\n\r\n"
                               "1\r\n--q--";
    struct mp_part p[2];
    char err[160];
    CHECK_INT(multipart_parse("multipart/form-data; boundary=\"q\"", body, sizeof(body) - 1, p,
                              2, err, sizeof(err)), 1);
    CHECK_STR(p[0].name, "a");
    CHECK_INT((int)p[0].len, 1);
}

TEST(broken_bodies_are_refused_with_a_reason)
{
    struct mp_part p[2];
    char err[160];
    CHECK_INT(multipart_parse("application/json", "x", 1, p, 2, err, sizeof(err)), -1);
    CHECK(strstr(err, "boundary") != NULL);
    static const char open_part[] = "------b0undary\r\nContent-Disposition: form-data; name=a\r\n\r\n"
                                    "no end";
    CHECK_INT(multipart_parse(CT, open_part, sizeof(open_part) - 1, p, 2, err, sizeof(err)), -1);
    CHECK(strstr(err, "closing") != NULL);
    CHECK_INT(multipart_parse(CT, body1, sizeof(body1) - 1, p, 2, err, sizeof(err)), -1);
    CHECK(strstr(err, "more than 2") != NULL);
    CHECK_INT(multipart_parse(CT, "nothing", 7, p, 2, err, sizeof(err)), -1);
}

TEST(the_form_content_type_is_recognised)
{
    CHECK_INT(multipart_is_form("multipart/form-data; boundary=x"), 1);
    CHECK_INT(multipart_is_form("Multipart/Form-Data"), 1);
    CHECK_INT(multipart_is_form("multipart/form-datax"), 0);
    CHECK_INT(multipart_is_form(NULL), 0);
}

TEST_MAIN()
