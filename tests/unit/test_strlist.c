#include "test.h"

#include "util/strlist.h"

TEST(a_comma_list_is_split_and_trimmed)
{
    char **v;
    size_t n = strlist_split("  a, bb ,c  d ,", &v);
    CHECK_INT(n, 3);
    if (n == 3) {
        CHECK_STR(v[0], "a");
        CHECK_STR(v[1], "bb");
        CHECK_STR(v[2], "c  d");
    }
    strlist_free(v, n);
}

TEST(empty_items_and_empty_lists_give_nothing)
{
    char **v = (char **)1;
    CHECK_INT(strlist_split("", &v), 0);
    CHECK(v == NULL);
    CHECK_INT(strlist_split(NULL, &v), 0);
    CHECK(v == NULL);
    CHECK_INT(strlist_split(" , ,, ", &v), 0);
    CHECK(v == NULL);
    size_t n = strlist_split(",,x,,", &v);
    CHECK_INT(n, 1);
    if (n == 1)
        CHECK_STR(v[0], "x");
    strlist_free(v, n);
}

TEST(a_long_list_grows_its_array)
{
    char buf[4096] = "";
    size_t len = 0;
    for (int i = 0; i < 100; i++)
        len += (size_t)snprintf(buf + len, sizeof(buf) - len, "t%d,", i);
    char **v;
    size_t n = strlist_split(buf, &v);
    CHECK_INT(n, 100);
    if (n == 100) {
        CHECK_STR(v[0], "t0");
        CHECK_STR(v[99], "t99");
    }
    strlist_free(v, n);
}

TEST_MAIN()
