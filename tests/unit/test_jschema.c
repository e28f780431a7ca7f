#include <jansson.h>

#include "test.h"
#include "util/jschema.h"

static const char *check(const char *schema, const char *value)
{
    static char msg[300];
    json_t *s = json_loads(schema, 0, NULL), *v = json_loads(value, JSON_DECODE_ANY, NULL);
    if (!v)
        return "(bad test value)";
    int rc = jschema_check(s, v, "arguments", msg, sizeof(msg));
    json_decref(s);
    json_decref(v);
    return rc == 0 ? "ok" : msg;
}

TEST(types_required_and_enum)
{
    const char *s = "{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"},"
                    "\"n\":{\"type\":\"integer\"},\"x\":{\"type\":[\"number\",\"null\"]},"
                    "\"u\":{\"enum\":[\"c\",\"f\",1]}},\"required\":[\"city\"]}";
    CHECK_STR(check(s, "{\"city\":\"a\",\"n\":2,\"x\":null,\"u\":\"c\"}"), "ok");
    CHECK_STR(check(s, "{\"city\":\"a\",\"n\":2.0,\"x\":1.5,\"u\":1.0}"), "ok");
    CHECK_STR(check(s, "{\"n\":2}"), "arguments: the required property \"city\" is missing");
    CHECK_STR(check(s, "{\"city\":1}"), "arguments.city: expected a string, got an integer");
    CHECK_STR(check(s, "{\"city\":\"a\",\"n\":2.5}"), "arguments.n: expected an integer, got a number");
    CHECK_STR(check(s, "{\"city\":\"a\",\"x\":\"1\"}"), "arguments.x: expected number or null, got a string");
    CHECK_STR(check(s, "{\"city\":\"a\",\"u\":\"k\"}"), "arguments.u: expected one of [\"c\",\"f\",1]");
    CHECK_STR(check(s, "[]"), "arguments: expected an object, got an array");
}

TEST(nested_objects_and_arrays)
{
    const char *s = "{\"type\":\"object\",\"properties\":{\"items\":{\"type\":\"array\",\"minItems\":1,"
                    "\"items\":{\"type\":\"object\",\"properties\":{\"id\":{\"type\":\"integer\"},"
                    "\"tags\":{\"type\":\"array\",\"items\":{\"type\":\"string\"}}},"
                    "\"required\":[\"id\"],\"additionalProperties\":false}}}}";
    CHECK_STR(check(s, "{\"items\":[{\"id\":1,\"tags\":[\"a\"]},{\"id\":2}]}"), "ok");
    CHECK_STR(check(s, "{\"items\":[]}"), "arguments.items: expected at least 1 items, got 0");
    CHECK_STR(check(s, "{\"items\":[{\"id\":1},{\"tags\":[]}]}"),
              "arguments.items[1]: the required property \"id\" is missing");
    CHECK_STR(check(s, "{\"items\":[{\"id\":1,\"tags\":[\"a\",2]}]}"),
              "arguments.items[0].tags[1]: expected a string, got an integer");
    CHECK_STR(check(s, "{\"items\":[{\"id\":1,\"z\":0}]}"),
              "arguments.items[0]: the property \"z\" is not allowed");
}

TEST(any_of_and_unknown_keywords)
{
    const char *s = "{\"anyOf\":[{\"type\":\"string\"},{\"type\":\"object\",\"required\":[\"a\"]}],"
                    "\"$ref\":\"#/x\",\"format\":\"date\"}";
    CHECK_STR(check(s, "\"x\""), "ok");
    CHECK_STR(check(s, "{\"a\":1}"), "ok");
    CHECK(strcmp(check(s, "{\"b\":1}"), "ok") != 0);
    CHECK_STR(check("{}", "[1,{}]"), "ok");
    CHECK_STR(check("true", "1"), "ok");
    CHECK_STR(check("{\"type\":\"object\",\"properties\":{\"a\":{\"const\":3}}}", "{\"a\":4}"),
              "arguments.a: expected the constant value");
}

TEST(string_properties_are_told_apart)
{
    json_t *a = json_loads("{\"type\":\"string\"}", 0, NULL);
    json_t *b = json_loads("{\"type\":[\"string\",\"null\"]}", 0, NULL);
    json_t *c = json_loads("{\"type\":[\"string\",\"integer\"]}", 0, NULL);
    json_t *d = json_loads("{\"enum\":[\"a\"]}", 0, NULL);
    CHECK(jschema_is_string(a));
    CHECK(jschema_is_string(b));
    CHECK(!jschema_is_string(c));
    CHECK(!jschema_is_string(d));
    CHECK(!jschema_is_string(NULL));
    json_decref(a);
    json_decref(b);
    json_decref(c);
    json_decref(d);
}

TEST(deep_schemas_stop_at_the_cap)
{
    char s[4096] = "", v[4096] = "";
    for (int i = 0; i < 60; i++) {
        strcat(s, "{\"type\":\"array\",\"items\":");
        strcat(v, "[");
    }
    strcat(s, "{\"type\":\"string\"}");
    strcat(v, "1");
    for (int i = 0; i < 60; i++) {
        strcat(s, "}");
        strcat(v, "]");
    }
    CHECK_STR(check(s, v), "ok"); /* past JSCHEMA_MAX_DEPTH: accepted */
}

TEST_MAIN()
