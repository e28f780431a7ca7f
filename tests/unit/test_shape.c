#include <jansson.h>

#include "api/chat_shape.h"
#include "stream/shape.h"
#include "test.h"
#include "sink_rec.h"

TEST(no_options_no_stages)
{
    struct rec r;
    rec_init(&r);
    struct shape_opts o = { 0 };
    CHECK(shape_new(&o, rec_sink(&r)) == NULL);
    rec_cleanup(&r);
}

TEST(tools_stop_and_length_chain_in_order)
{
    struct toolcall_decl d[1] = { { "f", NULL } };
    const char *stops[] = { "STOP" };
    struct shape_opts o = { d, 1, 1, 0, SHAPE_JSON_NONE, NULL, stops, 1, 100, 1 << 20 };
    struct rec r;
    rec_init(&r);
    struct shape *s = shape_new(&o, rec_sink(&r));
    struct sink k = shape_sink(s);
    const char *in = "abc <tool_call>{\"name\":\"f\"}</tool_call>";
    CHECK_INT(k.ops->start(k.self), ANSWER_GO);
    CHECK_INT(k.ops->text(k.self, in, strlen(in)), ANSWER_GO);
    CHECK_INT(k.ops->finish(k.self, ANSWER_STOP, NULL), ANSWER_GO);
    CHECK_STR(buf_cstr(&r.log), "T[abc ]B0:f A0:{} E0 F:tool_calls");
    CHECK_INT(shape_calls(s), 1);
    shape_free(s);
    rec_cleanup(&r);

    rec_init(&r);
    s = shape_new(&o, rec_sink(&r));
    k = shape_sink(s);
    CHECK_INT(k.ops->text(k.self, "xxSTOPyy", 8), ANSWER_HALT);
    const char *msg;
    CHECK_INT(shape_problem(s, &msg), SHAPE_REPAIR_NONE);
    CHECK_STR(buf_cstr(&r.log), "T[xx]F:stop:STOP");
    shape_free(s);
    rec_cleanup(&r);
}

TEST(a_bad_json_answer_is_repaired_once)
{
    json_t *schema = json_loads("{\"type\":\"object\",\"required\":[\"a\"]}", 0, NULL);
    struct shape_opts o = { NULL, 0, 1, 0, SHAPE_JSON_SCHEMA_DOC, schema, NULL, 0, 0, 1 << 20 };
    struct rec r;
    rec_init(&r);
    struct shape *s = shape_new(&o, rec_sink(&r));
    struct sink k = shape_sink(s);
    CHECK_INT(k.ops->text(k.self, "{\"b\":1}", 7), ANSWER_GO);
    CHECK_INT(k.ops->finish(k.self, ANSWER_STOP, NULL), ANSWER_HALT);
    const char *msg;
    CHECK_INT(shape_problem(s, &msg), SHAPE_REPAIR_JSON);
    CHECK_STR(msg, "the answer's JSON does not match the schema: the document: the required property \"a\" is missing");
    shape_retry(s);
    CHECK_INT(k.ops->text(k.self, "```json\n{\"a\":2}\n```", 19), ANSWER_HALT);
    CHECK_INT(shape_problem(s, &msg), SHAPE_REPAIR_NONE);
    CHECK_STR(buf_cstr(&r.log), "T[{\"a\":2}]F:stop");
    shape_free(s);
    rec_cleanup(&r);
    json_decref(schema);
}

static const char *parse(const char *body, struct chat_shape *s)
{
    static char msg[700];
    json_t *root = json_loads(body, 0, NULL);
    struct api_error e;
    int rc = chat_shape_parse(root, s, &e);
    json_decref(root);
    if (rc == 0)
        return "ok";
    snprintf(msg, sizeof(msg), "%d %s %s: %s", e.status, e.code, e.param, e.message);
    return msg;
}

TEST(the_request_options_are_parsed)
{
    struct chat_shape s;
    CHECK_STR(parse("{\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\","
                    "\"parameters\":{\"type\":\"object\"}}}],\"tool_choice\":{\"type\":\"function\","
                    "\"function\":{\"name\":\"get_weather\"}},\"parallel_tool_calls\":false,"
                    "\"stop\":[\"a\",\"\"],\"max_tokens\":5,\"response_format\":{\"type\":\"json_object\"}}", &s), "ok");
    CHECK_INT(s.tools.n, 1);
    CHECK_INT(s.tools.choice, TOOL_CHOICE_NAMED);
    CHECK_STR(s.tools.named, "get_weather");
    CHECK_INT(s.tools.parallel, 0);
    CHECK_INT(s.nstops, 1);
    CHECK_INT(s.max_tokens, 5);
    CHECK_INT(s.format, SHAPE_JSON_OBJECT);
    CHECK(chat_shape_active(&s));
    chat_shape_cleanup(&s);
    CHECK_STR(parse("{\"functions\":[{\"name\":\"f\"}],\"function_call\":{\"name\":\"f\"},"
                    "\"max_completion_tokens\":7,\"stop\":\"x\"}", &s), "ok");
    CHECK_INT(s.tools.choice, TOOL_CHOICE_NAMED);
    CHECK_INT(s.max_tokens, 7);
    CHECK_STR(s.stops[0], "x");
    chat_shape_cleanup(&s);
    CHECK_STR(parse("{\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\"}}],\"tool_choice\":\"none\"}", &s), "ok");
    CHECK(!chat_shape_active(&s));
    chat_shape_cleanup(&s);
    CHECK_STR(parse("{\"n\":1,\"logprobs\":false}", &s), "ok");
    CHECK(!chat_shape_active(&s));
    chat_shape_cleanup(&s);
}

TEST(what_cannot_be_done_is_a_400)
{
    struct chat_shape s;
    CHECK_STR(parse("{\"n\":2}", &s), "400 unsupported_value n: 'n' must be 1: chatglm.cn gives one answer per request");
    chat_shape_cleanup(&s);
    CHECK_STR(parse("{\"logprobs\":true}", &s), "400 unsupported_value logprobs: 'logprobs' and 'top_logprobs' are not supported: chatglm.cn does not give token probabilities");
    chat_shape_cleanup(&s);
    CHECK_STR(parse("{\"modalities\":[\"text\",\"audio\"]}", &s), "400 unsupported_value modalities: 'modalities' may only hold \"text\": chatglm.cn answers in text");
    chat_shape_cleanup(&s);
    CHECK_STR(parse("{\"audio\":{\"voice\":\"x\"}}", &s), "400 unsupported_value audio: 'audio' output is not supported: chatglm.cn answers in text");
    chat_shape_cleanup(&s);
    CHECK_STR(parse("{\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\"}}],\"tool_choice\":{\"type\":\"function\",\"function\":{\"name\":\"g\"}}}", &s),
              "400 invalid_value tool_choice: 'tool_choice' names the function \"g\", which is not in 'tools'");
    chat_shape_cleanup(&s);
    CHECK_STR(parse("{\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"a b\"}}]}", &s),
              "400 invalid_value tools[0].function: tools[0].function must be a function with a \"name\" of 1 to 64 letters, digits, '_' or '-'");
    chat_shape_cleanup(&s);
    CHECK_STR(parse("{\"stop\":[\"a\",\"b\",\"c\",\"d\",\"e\"]}", &s), "400 invalid_value stop: 'stop' must be a string or an array of up to 4 strings");
    chat_shape_cleanup(&s);
    CHECK_STR(parse("{\"max_tokens\":0}", &s), "400 invalid_value max_tokens: 'max_tokens' must be a positive integer");
    chat_shape_cleanup(&s);
    CHECK_STR(parse("{\"response_format\":{\"type\":\"xml\"}}", &s), "400 invalid_value response_format.type: 'response_format.type' must be \"text\", \"json_object\" or \"json_schema\"");
    chat_shape_cleanup(&s);
    /* 129 tools, and one whose description passes the text limit. */
    struct buf b;
    buf_init(&b, 1 << 20);
    CHECK(buf_puts(&b, "{\"tools\":[") == 0);
    for (int i = 0; i < 129; i++)
        CHECK(buf_printf(&b, "%s{\"type\":\"function\",\"function\":{\"name\":\"f%d\"}}", i ? "," : "", i) == 0);
    CHECK(buf_puts(&b, "]}") == 0);
    CHECK_STR(parse(buf_cstr(&b), &s), "400 too_many_tools tools: 'tools' has 129 tools; the limit is 128");
    chat_shape_cleanup(&s);
    buf_reset(&b);
    CHECK(buf_puts(&b, "{\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\",\"description\":\"") == 0);
    for (int i = 0; i < 300 * 1024; i++)
        CHECK(buf_putc(&b, 'x') == 0);
    CHECK(buf_puts(&b, "\"}}]}") == 0);
    CHECK_STR(parse(buf_cstr(&b), &s), "400 tools_too_large tools: the tool definitions are too large: described to the model they pass the limit of 256 KiB");
    chat_shape_cleanup(&s);
    buf_cleanup(&b);
}

TEST_MAIN()
