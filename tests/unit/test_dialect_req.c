/* The Responses and Messages request parsers: wire JSON -> struct turn. */
#include <jansson.h>
#include <string.h>

#include "api/dialect_req.h"
#include "test.h"

static int str_is(struct turn_str s, const char *want)
{
    return s.s && s.len == strlen(want) && memcmp(s.s, want, s.len) == 0;
}

static json_t *parse(const char *text)
{
    json_t *j = json_loads(text, 0, NULL);
    if (!j)
        printf("# bad test JSON: %s\n", text);
    return j;
}

static int responses(const char *text, struct turn *t, struct responses_req *r,
                     struct api_error *err)
{
    json_t *j = parse(text);
    int rc = responses_parse(j, t, r, NULL, NULL, err);
    json_decref(j);
    return rc;
}

static int messages(const char *text, int count, struct turn *t, struct messages_req *r,
                    struct api_error *err)
{
    json_t *j = parse(text);
    int rc = messages_parse(j, count, t, r, err);
    json_decref(j);
    return rc;
}

TEST(responses_string_input_is_one_user_message_and_instructions_the_system_text)
{
    struct turn t;
    struct responses_req r;
    struct api_error err;
    CHECK_INT(responses("{\"model\":\"glm-5.3\",\"input\":\"hi\",\"instructions\":\"be brief\","
                        "\"stream\":true,\"max_output_tokens\":50,\"reasoning\":{\"effort\":\"high\"}}",
                        &t, &r, &err), 0);
    CHECK(str_is(t.model, "glm-5.3"));
    CHECK_INT(t.nmsgs, 1);
    CHECK_INT(t.msgs[0].role, TURN_ROLE_USER);
    CHECK(str_is(t.msgs[0].parts[0].text, "hi"));
    CHECK(str_is(t.system, "be brief"));
    CHECK_STR(r.instructions_json, "\"be brief\"");
    CHECK_INT(t.stream, 1);
    CHECK_INT(t.max_tokens, 50);
    CHECK_INT(r.think, DIALECT_THINK_ON);
    CHECK_INT(r.store, 1);
    responses_req_free(&r);
    turn_free(&t);
}

TEST(responses_items_become_messages_tool_calls_and_tool_results_in_order)
{
    struct turn t;
    struct responses_req r;
    struct api_error err;
    CHECK_INT(responses(
        "{\"model\":\"m\",\"input\":["
        "{\"role\":\"developer\",\"content\":\"rules\"},"
        "{\"type\":\"message\",\"role\":\"user\",\"content\":[{\"type\":\"input_text\",\"text\":\"weather?\"},"
        "{\"type\":\"input_image\",\"image_url\":\"https://x/a.png\"}]},"
        "{\"type\":\"reasoning\",\"id\":\"rs_1\",\"summary\":[]},"
        "{\"type\":\"function_call\",\"call_id\":\"call_1\",\"name\":\"get\",\"arguments\":\"{\\\"c\\\":1}\"},"
        "{\"type\":\"function_call\",\"call_id\":\"call_2\",\"name\":\"get\",\"arguments\":\"{}\"},"
        "{\"type\":\"function_call_output\",\"call_id\":\"call_1\",\"output\":\"sunny\"},"
        "{\"type\":\"function_call_output\",\"call_id\":\"call_2\",\"output\":[{\"type\":\"input_text\",\"text\":\"rain\"}]}],"
        "\"tools\":[{\"type\":\"function\",\"name\":\"get\",\"parameters\":{\"type\":\"object\"}},"
        "{\"type\":\"web_search\"}],\"tool_choice\":{\"type\":\"function\",\"name\":\"get\"},"
        "\"parallel_tool_calls\":false,\"store\":false,\"previous_response_id\":\"resp_a\","
        "\"text\":{\"format\":{\"type\":\"json_schema\",\"name\":\"x\",\"schema\":{\"type\":\"object\"}}}}",
        &t, &r, &err), 0);
    CHECK_INT(t.nmsgs, 4);
    CHECK_INT(t.msgs[0].role, TURN_ROLE_SYSTEM);
    CHECK(str_is(t.msgs[0].role_name, "developer"));
    CHECK_INT(t.msgs[1].nparts, 2);
    CHECK_INT(t.msgs[1].parts[1].type, TURN_PART_IMAGE);
    CHECK(str_is(t.msgs[1].parts[1].url, "https://x/a.png"));
    CHECK_INT(t.msgs[2].role, TURN_ROLE_ASSISTANT);
    CHECK_INT(t.msgs[2].nparts, 2);
    CHECK(str_is(t.msgs[2].parts[0].id, "call_1"));
    CHECK(str_is(t.msgs[2].parts[0].text, "{\"c\":1}"));
    CHECK_INT(t.msgs[3].role, TURN_ROLE_TOOL);
    CHECK_INT(t.msgs[3].nparts, 2);
    CHECK(str_is(t.msgs[3].parts[0].text, "sunny"));
    CHECK(str_is(t.msgs[3].parts[1].text, "rain"));
    CHECK(str_is(t.msgs[3].parts[1].id, "call_2"));
    CHECK_INT(t.ntools, 1);
    CHECK_INT(t.tool_choice, TURN_TOOLS_NAMED);
    CHECK_INT(t.parallel_tool_calls, 0);
    CHECK_INT(r.store, 0);
    CHECK_STR(r.previous_response_id, "resp_a");
    CHECK_INT(t.format, TURN_FORMAT_JSON_SCHEMA);
    CHECK(t.format_schema != NULL);
    responses_req_free(&r);
    turn_free(&t);
}

static json_t *stored_item;
static json_t *resolve(void *arg, const char *id)
{
    (void)arg;
    return strcmp(id, "msg_1") == 0 ? stored_item : NULL;
}

TEST(responses_item_reference_is_resolved_through_the_callback_or_refused)
{
    struct turn t;
    struct responses_req r;
    struct api_error err;
    stored_item = parse("{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\","
                        "\"content\":[{\"type\":\"output_text\",\"text\":\"earlier\",\"annotations\":[]}]}");
    json_t *j = parse("{\"model\":\"m\",\"input\":[{\"type\":\"item_reference\",\"id\":\"msg_1\"},"
                      "{\"role\":\"user\",\"content\":\"next\"}]}");
    CHECK_INT(responses_parse(j, &t, &r, resolve, NULL, &err), 0);
    CHECK_INT(t.nmsgs, 2);
    CHECK(str_is(t.msgs[0].parts[0].text, "earlier"));
    CHECK_INT(t.msgs[0].role, TURN_ROLE_ASSISTANT);
    responses_req_free(&r);
    turn_free(&t);
    json_decref(j);
    j = parse("{\"model\":\"m\",\"input\":[{\"type\":\"item_reference\",\"id\":\"msg_2\"}]}");
    CHECK_INT(responses_parse(j, &t, &r, resolve, NULL, &err), -1);
    CHECK_INT(err.status, 400);
    CHECK(strstr(err.message, "msg_2") != NULL);
    json_decref(j);
    json_decref(stored_item);
}

TEST(responses_hostile_fields_are_400s_naming_the_field)
{
    static const char *const bad[][2] = {
        { "[]", "" },
        { "{\"input\":\"x\"}", "model" },
        { "{\"model\":1,\"input\":\"x\"}", "model" },
        { "{\"model\":\"m\"}", "input" },
        { "{\"model\":\"m\",\"input\":5}", "input" },
        { "{\"model\":\"m\",\"input\":[5]}", "input[0]" },
        { "{\"model\":\"m\",\"input\":[{\"type\":\"message\",\"role\":\"user\",\"content\":7}]}", "input[0]" },
        { "{\"model\":\"m\",\"input\":[{\"type\":\"zzz\"}]}", "input[0]" },
        { "{\"model\":\"m\",\"input\":[{\"type\":\"function_call\",\"name\":\"a\"}]}", "input[0]" },
        { "{\"model\":\"m\",\"input\":\"x\",\"tools\":\"x\"}", "tools" },
        { "{\"model\":\"m\",\"input\":\"x\",\"tools\":[{\"type\":\"function\",\"name\":5}]}", "tools[0]" },
        { "{\"model\":\"m\",\"input\":\"x\",\"tool_choice\":\"sometimes\"}", "tool_choice" },
        { "{\"model\":\"m\",\"input\":\"x\",\"tool_choice\":{\"type\":\"function\",\"name\":\"nope\"}}", "tool_choice" },
        { "{\"model\":\"m\",\"input\":\"x\",\"max_output_tokens\":\"a\"}", "max_output_tokens" },
        { "{\"model\":\"m\",\"input\":\"x\",\"max_output_tokens\":0}", "max_output_tokens" },
        { "{\"model\":\"m\",\"input\":\"x\",\"reasoning\":{\"effort\":\"extreme\"}}", "reasoning.effort" },
        { "{\"model\":\"m\",\"input\":\"x\",\"stream\":\"yes\"}", "stream" },
        { "{\"model\":\"m\",\"input\":\"x\",\"store\":1}", "store" },
        { "{\"model\":\"m\",\"input\":\"x\",\"text\":{\"format\":{\"type\":\"json_schema\"}}}", "text.format.schema" },
        { "{\"model\":\"m\",\"input\":\"x\",\"instructions\":[]}", "instructions" },
        { "{\"model\":\"m\",\"input\":[]}", "input" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct turn t;
        struct responses_req r;
        struct api_error err;
        json_t *j = parse(bad[i][0]);
        int rc = responses_parse(j, &t, &r, NULL, NULL, &err);
        if (rc != -1) {
            printf("# case %zu accepted\n", i);
            responses_req_free(&r);
            turn_free(&t);
        }
        CHECK_INT(rc, -1);
        if (rc == -1) {
            CHECK_INT(err.status, 400);
            CHECK_STR(err.type, "invalid_request_error");
            if (strcmp(err.param, bad[i][1]) != 0)
                printf("# case %zu: param \"%s\", expected \"%s\"\n", i, err.param, bad[i][1]);
            CHECK_STR(err.param, bad[i][1]);
        }
        json_decref(j);
    }
}

TEST(messages_blocks_become_typed_parts_and_tool_results_their_own_message)
{
    struct turn t;
    struct messages_req r;
    struct api_error err;
    CHECK_INT(messages(
        "{\"model\":\"glm-5.3\",\"max_tokens\":100,"
        "\"system\":[{\"type\":\"text\",\"text\":\"a\"},{\"type\":\"text\",\"text\":\"b\"}],"
        "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"look\"},"
        "{\"type\":\"image\",\"source\":{\"type\":\"base64\",\"media_type\":\"image/png\",\"data\":\"QUJD\"}},"
        "{\"type\":\"document\",\"source\":{\"type\":\"text\",\"media_type\":\"text/plain\",\"data\":\"doc\"}}]},"
        "{\"role\":\"assistant\",\"content\":[{\"type\":\"thinking\",\"thinking\":\"x\",\"signature\":\"\"},"
        "{\"type\":\"text\",\"text\":\"calling\"},"
        "{\"type\":\"tool_use\",\"id\":\"toolu_1\",\"name\":\"get\",\"input\":{\"q\":\"a b\"}}]},"
        "{\"role\":\"user\",\"content\":[{\"type\":\"tool_result\",\"tool_use_id\":\"toolu_1\","
        "\"content\":[{\"type\":\"text\",\"text\":\"r1\"}],\"is_error\":true},{\"type\":\"text\",\"text\":\"go on\"}]}],"
        "\"tools\":[{\"name\":\"get\",\"description\":\"d\",\"input_schema\":{\"type\":\"object\"}},"
        "{\"type\":\"bash_20250124\",\"name\":\"bash\"}],"
        "\"tool_choice\":{\"type\":\"any\",\"disable_parallel_tool_use\":true},"
        "\"stop_sequences\":[\"END\"],\"thinking\":{\"type\":\"enabled\",\"budget_tokens\":2000},"
        "\"metadata\":{\"user_id\":\"u\"},\"stream\":true}",
        0, &t, &r, &err), 0);
    CHECK(str_is(t.system, "a\nb"));
    CHECK_INT(t.nmsgs, 4);
    CHECK_INT(t.msgs[0].nparts, 3);
    CHECK(str_is(t.msgs[0].parts[1].url, "data:image/png;base64,QUJD"));
    CHECK(str_is(t.msgs[0].parts[2].text, "doc"));
    CHECK_INT(t.msgs[1].role, TURN_ROLE_ASSISTANT);
    CHECK_INT(t.msgs[1].nparts, 2);
    CHECK_INT(t.msgs[1].parts[1].type, TURN_PART_TOOL_CALL);
    CHECK(str_is(t.msgs[1].parts[1].text, "{\"q\":\"a b\"}"));
    CHECK_INT(t.msgs[2].role, TURN_ROLE_TOOL);
    CHECK(str_is(t.msgs[2].parts[0].text, "Error: r1"));
    CHECK(str_is(t.msgs[2].parts[0].id, "toolu_1"));
    CHECK_INT(t.msgs[3].role, TURN_ROLE_USER);
    CHECK(str_is(t.msgs[3].parts[0].text, "go on"));
    CHECK_INT(t.ntools, 1);
    CHECK_INT(t.tool_choice, TURN_TOOLS_REQUIRED);
    CHECK_INT(t.parallel_tool_calls, 0);
    CHECK_INT(t.nstop, 1);
    CHECK_INT(r.think, DIALECT_THINK_ON);
    CHECK_INT(t.max_tokens, 100);
    CHECK(dialect_turn_tokens(&t) > 5);
    turn_free(&t);
}

TEST(messages_count_tokens_needs_no_max_tokens_but_create_does)
{
    struct turn t;
    struct messages_req r;
    struct api_error err;
    const char *body = "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"hello\"}]}";
    CHECK_INT(messages(body, 1, &t, &r, &err), 0);
    turn_free(&t);
    CHECK_INT(messages(body, 0, &t, &r, &err), -1);
    CHECK_STR(err.param, "max_tokens");
}

TEST(messages_hostile_fields_are_400s)
{
    static const char *const bad[] = {
        "{",
        "{\"model\":\"m\",\"max_tokens\":1}",
        "{\"model\":\"m\",\"max_tokens\":1,\"messages\":[]}",
        "{\"model\":\"m\",\"max_tokens\":1,\"messages\":[{\"role\":\"system\",\"content\":\"x\"}]}",
        "{\"model\":\"m\",\"max_tokens\":1,\"messages\":[{\"role\":\"user\",\"content\":{}}]}",
        "{\"model\":\"m\",\"max_tokens\":1,\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\"}]}]}",
        "{\"model\":\"m\",\"max_tokens\":1,\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image\",\"source\":{\"type\":\"file\"}}]}]}",
        "{\"model\":\"m\",\"max_tokens\":1,\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"tool_result\"}]}]}",
        "{\"model\":\"m\",\"max_tokens\":1,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"stop_sequences\":[\"a\",\"b\",\"c\",\"d\",\"e\"]}",
        "{\"model\":\"m\",\"max_tokens\":1,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"thinking\":{\"type\":\"sometimes\"}}",
        "{\"model\":\"m\",\"max_tokens\":1,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"tool_choice\":{\"type\":\"tool\",\"name\":\"zz\"}}",
        "{\"model\":\"m\",\"max_tokens\":1,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"system\":5}",
        "{\"model\":\"m\",\"max_tokens\":-3,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct turn t;
        struct messages_req r;
        struct api_error err;
        json_t *j = json_loads(bad[i], 0, NULL);
        int rc = messages_parse(j, 0, &t, &r, &err);
        if (rc != -1)
            printf("# case %zu accepted\n", i);
        CHECK_INT(rc, -1);
        CHECK_INT(err.status, 400);
        json_decref(j);
    }
}

TEST_MAIN()
