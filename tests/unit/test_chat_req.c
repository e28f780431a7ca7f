/* The OpenAI chat request check: every field with a wrong type, the message
 * shapes, and what is allowed (nulls, unknown fields); then what the turn
 * holds after a parse. */
#include <string.h>

#include <jansson.h>

#include "api/chat_req.h"
#include "test.h"

/* Parses text and checks it; returns the result and leaves err filled. */
static int check_text(const char *text, struct api_error *err)
{
    json_error_t jerr;
    json_t *root = json_loads(text, 0, &jerr);
    if (!root) {
        printf("# bad test JSON: %s: %s\n", text, jerr.text);
        return -2;
    }
    memset(err, 0, sizeof(*err));
    int rc = chat_req_check(root, err);
    json_decref(root);
    return rc;
}

#define MSG "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]"

TEST(valid_requests_pass)
{
    static const char *const ok[] = {
        "{" MSG "}",
        "{\"model\":\"glm-4\",\"stream\":true," MSG "}",
        "{\"model\":null,\"stream\":null,\"stream_options\":null," MSG "}",
        "{\"stream_options\":{\"include_usage\":true}," MSG "}",
        "{\"stream_options\":{\"include_usage\":null}," MSG "}",
        "{\"conversation_id\":\"abc\",\"reasoning_format\":\"raw\"," MSG "}",
        "{\"reasoning_format\":\"hidden\",\"reasoning_format2\":1," MSG "}",
        "{\"reasoning_format\":null,\"unknown\":[1,2,{}]," MSG "}",
        "{\"messages\":[{\"role\":\"user\",\"content\":null}]}",
        "{\"messages\":[{\"role\":\"user\"}]}",
        "{\"messages\":[{\"role\":\"user\",\"content\":[]}]}",
        ("{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"a\"},"
         "{\"type\":\"image_url\",\"image_url\":{\"url\":\"x\"}},{\"type\":\"other\"}]}]}"),
    };
    struct api_error err;
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        int rc = check_text(ok[i], &err);
        if (rc != 0)
            printf("# refused: %s (%s: %s)\n", ok[i], err.param, err.message);
        CHECK_INT(rc, 0);
    }
}

struct bad_case {
    const char *body;
    const char *param;
    const char *code;
};

TEST(each_wrong_field_names_its_param_and_code)
{
    static const struct bad_case bad[] = {
        { "[]", "", "invalid_request" },
        { "[{\"messages\":[]}]", "", "invalid_request" },
        { "{}", "messages", "missing_required_parameter" },
        { "{\"messages\":null}", "messages", "invalid_type" },
        { "{\"messages\":{}}", "messages", "invalid_type" },
        { "{\"messages\":\"hi\"}", "messages", "invalid_type" },
        { "{\"messages\":[]}", "messages", "empty_array" },
        { "{\"model\":1," MSG "}", "model", "invalid_type" },
        { "{\"model\":[]," MSG "}", "model", "invalid_type" },
        { "{\"stream\":\"yes\"," MSG "}", "stream", "invalid_type" },
        { "{\"stream\":1," MSG "}", "stream", "invalid_type" },
        { "{\"stream_options\":true," MSG "}", "stream_options", "invalid_type" },
        { "{\"stream_options\":{\"include_usage\":1}," MSG "}", "stream_options.include_usage",
          "invalid_type" },
        { "{\"conversation_id\":12," MSG "}", "conversation_id", "invalid_type" },
        { "{\"reasoning_format\":\"xml\"," MSG "}", "reasoning_format", "invalid_value" },
        { "{\"reasoning_format\":true," MSG "}", "reasoning_format", "invalid_value" },
        { "{\"messages\":[1]}", "messages[0]", "invalid_type" },
        { "{\"messages\":[{\"role\":\"user\",\"content\":\"a\"},[]]}", "messages[1]",
          "invalid_type" },
        { "{\"messages\":[{\"content\":\"hi\"}]}", "messages[0].role", "invalid_type" },
        { "{\"messages\":[{\"role\":\"\",\"content\":\"hi\"}]}", "messages[0].role",
          "invalid_type" },
        { "{\"messages\":[{\"role\":7,\"content\":\"hi\"}]}", "messages[0].role", "invalid_type" },
        { "{\"messages\":[{\"role\":\"user\",\"content\":5}]}", "messages[0].content",
          "invalid_type" },
        { "{\"messages\":[{\"role\":\"user\",\"content\":{}}]}", "messages[0].content",
          "invalid_type" },
        { "{\"messages\":[{\"role\":\"user\",\"content\":[\"x\"]}]}", "messages[0].content",
          "invalid_type" },
        { "{\"messages\":[{\"role\":\"user\",\"content\":[{\"text\":\"x\"}]}]}",
          "messages[0].content", "invalid_type" },
        { "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\"}]}]}",
          "messages[0].content", "invalid_type" },
        { "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":1}]}]}",
          "messages[0].content", "invalid_type" },
    };
    struct api_error err;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int rc = check_text(bad[i].body, &err);
        if (rc != -1)
            printf("# accepted: %s\n", bad[i].body);
        CHECK_INT(rc, -1);
        CHECK_STR(err.param, bad[i].param);
        CHECK_STR(err.code, bad[i].code);
        CHECK(err.message[0] != '\0');
    }
}

TEST(messages_name_the_failing_index_and_part)
{
    struct api_error err;
    CHECK_INT(check_text("{\"messages\":[{\"role\":\"user\"},{\"role\":\"user\",\"content\":"
                         "[{\"type\":\"text\",\"text\":\"a\"},{\"type\":\"text\",\"text\":null}]}]}",
                         &err), -1);
    CHECK_STR(err.param, "messages[1].content");
    CHECK_STR(err.message, "messages[1].content[1].text must be a string");
    CHECK_INT(check_text("{\"messages\":[{\"role\":\"user\"},{\"role\":\"user\"},{\"role\":\"\"}]}",
                         &err), -1);
    CHECK_STR(err.message, "messages[2].role must be a non-empty string");
}

TEST(a_root_that_is_not_an_object_is_refused)
{
    struct api_error err;
    json_t *s = json_string("text");
    CHECK_INT(chat_req_check(s, &err), -1);
    CHECK_STR(err.code, "invalid_request");
    CHECK_STR(err.param, "");
    json_decref(s);
    CHECK_INT(chat_req_check(NULL, &err), -1);
}

TEST(a_huge_index_fits_the_param)
{
    /* 100,000 messages, the last one bad: the param names it in full. */
    json_t *msgs = json_array();
    for (int i = 0; i < 100000; i++)
        json_array_append_new(msgs, json_pack("{s:s, s:s}", "role", "user", "content", "x"));
    json_array_append_new(msgs, json_pack("{s:i}", "role", 1));
    json_t *root = json_pack("{s:o}", "messages", msgs);
    struct api_error err;
    CHECK_INT(chat_req_check(root, &err), -1);
    CHECK_STR(err.param, "messages[100000].role");
    json_decref(root);
}

TEST(a_parse_fills_the_turn)
{
    static const char body[] =
        "{\"model\":\"glm-4-think\",\"stream\":true,\"stream_options\":{\"include_usage\":true},"
        "\"conversation_id\":\"0123456789abcdef01234567\",\"reasoning_format\":\"raw\","
        "\"messages\":[{\"role\":\"developer\",\"content\":\"d\"},"
        "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"look\"},"
        "{\"type\":\"image_url\",\"image_url\":{\"url\":\"https://x/a.png\"}},"
        "{\"type\":\"input_audio\"},"
        "{\"type\":\"file\",\"file\":{\"file_data\":\"data:,x\",\"filename\":\"a.txt\"}}]},"
        "{\"role\":\"assistant\",\"content\":null},{\"role\":\"critic\",\"content\":\"c\"}]}";
    struct turn t;
    struct api_error e;
    turn_init(&t);
    CHECK_INT(chat_req_parse(body, sizeof(body) - 1, &t, &e), 0);
    CHECK_STR(t.model.s, "glm-4-think");
    CHECK_INT(t.stream, 1);
    CHECK_INT(t.include_usage, 1);
    CHECK_INT(t.reasoning, TURN_REASONING_RAW);
    CHECK_STR(t.conversation_id.s, "0123456789abcdef01234567");
    CHECK_INT(t.nmsgs, 4);
    CHECK_INT(t.msgs[0].role, TURN_ROLE_SYSTEM);
    CHECK_STR(t.msgs[0].role_name.s, "developer");
    CHECK_INT(t.msgs[1].nparts, 3);
    CHECK_INT(t.msgs[1].parts[0].type, TURN_PART_TEXT);
    CHECK_STR(t.msgs[1].parts[0].text.s, "look");
    CHECK_INT(t.msgs[1].parts[1].type, TURN_PART_IMAGE);
    CHECK_STR(t.msgs[1].parts[1].url.s, "https://x/a.png");
    CHECK_INT(t.msgs[1].parts[2].type, TURN_PART_FILE);
    CHECK_STR(t.msgs[1].parts[2].url.s, "data:,x");
    CHECK_STR(t.msgs[1].parts[2].name.s, "a.txt");
    CHECK_INT(t.msgs[2].role, TURN_ROLE_ASSISTANT);
    CHECK_INT(t.msgs[2].nparts, 0);
    CHECK_INT(t.msgs[3].role, TURN_ROLE_OTHER);
    CHECK_INT(t.ntools, 0);
    CHECK_INT(t.tool_choice, TURN_TOOLS_AUTO);
    CHECK_INT(t.parallel_tool_calls, 1);
    CHECK_INT(turn_last_has_attachment(&t), 0);
    turn_free(&t);
}

TEST(a_parse_defaults_and_drops_an_unusable_conversation_id)
{
    static const char body[] = "{\"conversation_id\":\"short\"," MSG "}";
    struct turn t;
    struct api_error e;
    turn_init(&t);
    CHECK_INT(chat_req_parse(body, sizeof(body) - 1, &t, &e), 0);
    CHECK_STR(t.model.s, CHAT_DEFAULT_MODEL);
    CHECK_INT(t.stream, 0);
    CHECK(t.conversation_id.s == NULL);
    CHECK_INT(t.reasoning, TURN_REASONING_DEFAULT);
    turn_free(&t);
}

TEST(a_body_that_is_not_json_is_invalid_json)
{
    struct turn t;
    struct api_error e;
    turn_init(&t);
    CHECK_INT(chat_req_parse("{\"messages\":", 12, &t, &e), -1);
    CHECK_INT(e.status, 400);
    CHECK_STR(e.code, "invalid_json");
    CHECK_STR(e.type, "invalid_request_error");
    turn_free(&t);
}

TEST_MAIN()
