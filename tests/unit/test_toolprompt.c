#include <jansson.h>

#include "glm/toolprompt.h"
#include "test.h"

static struct tool_set sample(enum tool_choice choice, int parallel)
{
    struct tool_set ts = { 0 };
    ts.n = 2;
    ts.tools = calloc(2, sizeof(*ts.tools));
    ts.tools[0].name = strdup("get_weather");
    ts.tools[0].description = strdup("Weather of a city");
    ts.tools[0].parameters = json_loads("{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"}}}", 0, NULL);
    ts.tools[1].name = strdup("now");
    ts.tools[1].description = strdup("");
    ts.choice = choice;
    ts.parallel = parallel;
    if (choice == TOOL_CHOICE_NAMED)
        ts.named = strdup("now");
    return ts;
}

TEST(tools_are_described_with_their_schemas_and_the_format)
{
    struct tool_set ts = sample(TOOL_CHOICE_AUTO, 1);
    struct buf b;
    buf_init(&b, 1 << 16);
    CHECK_INT(toolprompt_tools(&ts, &b), 0);
    const char *s = buf_cstr(&b);
    CHECK(strstr(s, "<tools>\n{\"name\":\"get_weather\",\"description\":\"Weather of a city\","
                    "\"parameters\":{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"}}}}\n"
                    "{\"name\":\"now\",\"description\":\"\",\"parameters\":{}}\n</tools>") != NULL);
    CHECK(strstr(s, "<tool_call>{\"name\": \"FUNCTION_NAME\", \"arguments\": {\"ARGUMENT\": \"VALUE\"}}</tool_call>") != NULL);
    CHECK(strstr(s, "several calls") != NULL);
    CHECK(strstr(s, "must call") == NULL);
    tool_set_cleanup(&ts);
    buf_reset(&b);
    ts = sample(TOOL_CHOICE_NAMED, 0);
    CHECK_INT(toolprompt_tools(&ts, &b), 0);
    s = buf_cstr(&b);
    CHECK(strstr(s, "get_weather") == NULL);
    CHECK(strstr(s, "You must call the function \"now\" now.") != NULL);
    CHECK(strstr(s, "at most one function") != NULL);
    CHECK(tool_set_find(&ts, "now") != NULL && tool_set_find(&ts, "x") == NULL);
    tool_set_cleanup(&ts);
    buf_cleanup(&b);
    buf_init(&b, 100); /* too small: nothing is appended */
    ts = sample(TOOL_CHOICE_REQUIRED, 1);
    CHECK_INT(toolprompt_tools(&ts, &b), -1);
    CHECK_INT(b.len, 0);
    tool_set_cleanup(&ts);
    buf_cleanup(&b);
}

TEST(history_calls_and_results_become_text)
{
    json_t *m = json_loads(
        "[{\"role\":\"user\",\"content\":\"weather?\"},"
        "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"call_1\",\"type\":\"function\","
        "\"function\":{\"name\":\"get_weather\",\"arguments\":\"{\\\"city\\\":\\\"Oslo\\\"}\"}},"
        "{\"id\":\"call_2\",\"type\":\"function\",\"function\":{\"name\":\"now\",\"arguments\":\"\"}}]},"
        "{\"role\":\"tool\",\"tool_call_id\":\"call_1\",\"content\":\"-3 C\"},"
        "{\"role\":\"tool\",\"tool_call_id\":\"call_2\",\"content\":[{\"type\":\"text\",\"text\":\"12:00\"}]},"
        "{\"role\":\"assistant\",\"content\":\"ok\",\"function_call\":{\"name\":\"now\",\"arguments\":\"{}\"}},"
        "{\"role\":\"function\",\"name\":\"now\",\"content\":\"13:00\"}]", 0, NULL);
    json_t *h = toolprompt_history(m);
    char *s = json_dumps(h, JSON_COMPACT);
    CHECK_STR(s,
        "[{\"role\":\"user\",\"content\":\"weather?\"},"
        "{\"role\":\"assistant\",\"content\":\"<tool_call>{\\\"name\\\":\\\"get_weather\\\",\\\"arguments\\\":{\\\"city\\\":\\\"Oslo\\\"}}</tool_call>\\n"
        "<tool_call>{\\\"name\\\":\\\"now\\\",\\\"arguments\\\":{}}</tool_call>\"},"
        "{\"role\":\"<|observation|>\",\"content\":\"<tool_response tool_call_id=\\\"call_1\\\" name=\\\"get_weather\\\">\\n-3 C\\n</tool_response>\"},"
        "{\"role\":\"<|observation|>\",\"content\":\"<tool_response tool_call_id=\\\"call_2\\\" name=\\\"now\\\">\\n12:00\\n</tool_response>\"},"
        "{\"role\":\"assistant\",\"content\":\"ok\\n<tool_call>{\\\"name\\\":\\\"now\\\",\\\"arguments\\\":{}}</tool_call>\"},"
        "{\"role\":\"<|observation|>\",\"content\":\"<tool_response name=\\\"now\\\">\\n13:00\\n</tool_response>\"}]");
    free(s);
    json_decref(h);
    json_decref(m);
}

TEST(json_output_and_repairs_are_told)
{
    struct buf b;
    buf_init(&b, 1 << 16);
    json_t *schema = json_loads("{\"type\":\"object\"}", 0, NULL);
    CHECK_INT(toolprompt_json(schema, &b), 0);
    CHECK(strstr(buf_cstr(&b), "<schema>\n{\"type\":\"object\"}\n</schema>") != NULL);
    buf_reset(&b);
    CHECK_INT(toolprompt_json(NULL, &b), 0);
    CHECK(strstr(buf_cstr(&b), "exactly one JSON object") != NULL);
    buf_reset(&b);
    CHECK_INT(toolprompt_repair_call("the call of f is invalid: x", &b), 0);
    CHECK(strstr(buf_cstr(&b), "could not be used: the call of f is invalid: x.") != NULL);
    buf_reset(&b);
    CHECK_INT(toolprompt_repair_json("no JSON", schema, &b), 0);
    CHECK(strstr(buf_cstr(&b), "matches the schema") != NULL);
    json_decref(schema);
    buf_cleanup(&b);
}

TEST_MAIN()
