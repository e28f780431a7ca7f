#include "stream/jsonout.h"
#include "test.h"
#include "sink_rec.h"

/* Feeds in whole and byte by byte; both must give want; problem gets the
 * stage's problem (strict) or "". */
static void run(const json_t *schema, int strict, const char *in, const char *want,
                const char *problem)
{
    for (int bytewise = 0; bytewise < 2; bytewise++) {
        struct rec r;
        rec_init(&r);
        struct jsonout_opts o = { schema, strict, 0 };
        struct jsonout *j = jsonout_new(&o, rec_sink(&r));
        struct sink k = jsonout_sink(j);
        int rc = k.ops->start(k.self);
        size_t n = strlen(in);
        if (bytewise)
            for (size_t i = 0; i < n && rc == ANSWER_GO; i++)
                rc = k.ops->text(k.self, in + i, 1);
        else if (n)
            rc = k.ops->text(k.self, in, n);
        if (rc == ANSWER_GO)
            rc = k.ops->finish(k.self, ANSWER_STOP, NULL);
        CHECK_STR(buf_cstr(&r.log), want);
        CHECK_STR(jsonout_problem(j) ? jsonout_problem(j) : "", problem);
        CHECK(!r.bad);
        jsonout_free(j);
        rec_cleanup(&r);
    }
}

TEST(one_document_is_taken_from_fenced_or_chatty_text)
{
    run(NULL, 0, "{\"a\":1}", "T[{\"a\":1}]F:stop", "");
    run(NULL, 0, "Sure! Here it is:\n```json\n{\"a\": [1, {\"b\": \"}\"}]}\n```\nAnything else?",
        "T[{\"a\": [1, {\"b\": \"}\"}]}]F:stop", "");
    run(NULL, 0, "Use {name} like {this}. Result: {\"ok\":true} and {\"x\":2}",
        "T[{\"ok\":true}]F:stop", "");
    run(NULL, 0, "{\"s\":\"a \\\" { quote\"}", "T[{\"s\":\"a \\\" { quote\"}]F:stop", "");
}

TEST(no_document_is_a_problem_or_an_error)
{
    run(NULL, 1, "I cannot do that.", "", "the answer holds no JSON object");
    run(NULL, 0, "I cannot do that {.", "X:502:the answer holds no JSON object", "");
    run(NULL, 0, "[1,2]", "X:502:the answer holds no JSON object", "");
}

TEST(the_schema_decides_and_a_later_document_may_pass)
{
    json_t *s = json_loads("{\"type\":\"object\",\"properties\":{\"n\":{\"type\":\"integer\"}},"
                           "\"required\":[\"n\"]}", 0, NULL);
    run(s, 1, "Example: {\"m\":1}. Answer: {\"n\":3}", "T[{\"n\":3}]F:stop", "");
    run(s, 1, "{\"n\":\"three\"}", "",
        "the answer's JSON does not match the schema: the document.n: expected an integer, got a string");
    json_decref(s);
    s = json_loads("{\"type\":\"array\",\"items\":{\"type\":\"string\"}}", 0, NULL);
    run(s, 0, "here: [\"a\", \"b\"]", "T[[\"a\", \"b\"]]F:stop", "");
    json_decref(s);
}

TEST(retry_forgets_the_first_answer)
{
    struct rec r;
    rec_init(&r);
    struct jsonout_opts o = { NULL, 1, 0 };
    struct jsonout *j = jsonout_new(&o, rec_sink(&r));
    struct sink k = jsonout_sink(j);
    CHECK_INT(k.ops->text(k.self, "no {", 4), ANSWER_GO);
    CHECK_INT(k.ops->finish(k.self, ANSWER_STOP, NULL), ANSWER_HALT);
    CHECK(jsonout_problem(j) != NULL);
    jsonout_retry(j);
    CHECK_INT(k.ops->text(k.self, "{\"a\":", 5), ANSWER_GO);
    CHECK_INT(k.ops->text(k.self, "1} tail", 7), ANSWER_HALT);
    CHECK_STR(buf_cstr(&r.log), "T[{\"a\":1}]F:stop");
    jsonout_free(j);
    rec_cleanup(&r);
}

TEST(a_document_before_the_cap_is_found_however_the_text_comes)
{
    /* A fuzz finding: fed whole, text past the cap failed the answer even
     * though the document came before the cap. */
    struct rec r;
    rec_init(&r);
    struct jsonout_opts o = { NULL, 1, 16 };
    struct jsonout *j = jsonout_new(&o, rec_sink(&r));
    struct sink k = jsonout_sink(j);
    const char *in = "x {} and a lot more text after it";
    CHECK_INT(k.ops->text(k.self, in, strlen(in)), ANSWER_HALT);
    CHECK_STR(buf_cstr(&r.log), "T[{}]F:stop");
    jsonout_free(j);
    rec_cleanup(&r);
    rec_init(&r);
    j = jsonout_new(&o, rec_sink(&r));
    k = jsonout_sink(j);
    in = "no document in these many words";
    CHECK_INT(k.ops->text(k.self, in, strlen(in)), ANSWER_FULL);
    jsonout_free(j);
    rec_cleanup(&r);
}

TEST_MAIN()
