#include <jansson.h>
#include <string.h>

#include "stream/openai.h"
#include "test.h"
#include "util/apierr.h"

static const struct openai_meta meta = { "65f0a1b2c3d4e5f6a7b8c9d0", "glm-4", 1714000000, 0 };

/* The JSON of one SSE event "data: X\n\n" (a new reference, or NULL). */
static json_t *sse_json(const struct buf *b)
{
    const char *s = buf_cstr(b);
    size_t n = b->len;
    if (n < 8 || strncmp(s, "data: ", 6) != 0 || strcmp(s + n - 2, "\n\n") != 0)
        return NULL;
    /* Exactly one event: no blank line before the end. */
    if (strstr(s, "\n\n") != s + n - 2)
        return NULL;
    return json_loadb(s + 6, n - 8, 0, NULL);
}

static const char *jstr(json_t *o, const char *path1, const char *path2)
{
    json_t *v = json_object_get(o, path1);
    if (path2)
        v = json_object_get(v, path2);
    return json_string_value(v);
}

/* The choice of a chunk: choices[0]. */
static json_t *choice0(json_t *o)
{
    json_t *c = json_object_get(o, "choices");
    return json_array_size(c) == 1 ? json_array_get(c, 0) : NULL;
}

static void check_chunk_head(json_t *o)
{
    CHECK_STR(jstr(o, "id", NULL), "65f0a1b2c3d4e5f6a7b8c9d0");
    CHECK_STR(jstr(o, "object", NULL), "chat.completion.chunk");
    CHECK_INT(json_integer_value(json_object_get(o, "created")), 1714000000);
    CHECK_STR(jstr(o, "model", NULL), "glm-4");
}

TEST(role_chunk_has_exact_bytes)
{
    struct buf b;
    buf_init(&b, 4096);
    CHECK_INT(openai_sse_role(&b, &meta), 0);
    CHECK_STR(buf_cstr(&b),
              "data: {\"id\":\"65f0a1b2c3d4e5f6a7b8c9d0\",\"object\":\"chat.completion.chunk\","
              "\"created\":1714000000,\"model\":\"glm-4\",\"choices\":[{\"index\":0,"
              "\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"logprobs\":null,"
              "\"finish_reason\":null}]}\n\n");
    buf_cleanup(&b);
}

TEST(role_chunk_parses)
{
    struct buf b;
    buf_init(&b, 4096);
    CHECK_INT(openai_sse_role(&b, &meta), 0);
    json_t *o = sse_json(&b);
    CHECK(o != NULL);
    check_chunk_head(o);
    json_t *c = choice0(o);
    CHECK_INT(json_integer_value(json_object_get(c, "index")), 0);
    CHECK_STR(jstr(c, "delta", "role"), "assistant");
    CHECK_STR(jstr(c, "delta", "content"), "");
    CHECK(json_is_null(json_object_get(c, "logprobs")));
    CHECK(json_is_null(json_object_get(c, "finish_reason")));
    json_decref(o);
    buf_cleanup(&b);
}

TEST(content_delta_chunk)
{
    struct buf b;
    buf_init(&b, 4096);
    CHECK_INT(openai_sse_delta(&b, &meta, "你好\"世界\"\n", strlen("你好\"世界\"\n"), NULL, 0), 0);
    CHECK_STR(buf_cstr(&b),
              "data: {\"id\":\"65f0a1b2c3d4e5f6a7b8c9d0\",\"object\":\"chat.completion.chunk\","
              "\"created\":1714000000,\"model\":\"glm-4\",\"choices\":[{\"index\":0,"
              "\"delta\":{\"content\":\"你好\\\"世界\\\"\\n\"},\"logprobs\":null,"
              "\"finish_reason\":null}]}\n\n");
    json_t *o = sse_json(&b);
    CHECK(o != NULL);
    check_chunk_head(o);
    json_t *delta = json_object_get(choice0(o), "delta");
    CHECK_INT(json_object_size(delta), 1);
    CHECK_STR(jstr(delta, "content", NULL), "你好\"世界\"\n");
    json_decref(o);
    buf_cleanup(&b);
}

TEST(reasoning_delta_chunk)
{
    struct buf b;
    buf_init(&b, 4096);
    CHECK_INT(openai_sse_delta(&b, &meta, "", 0, "想一想", strlen("想一想")), 0);
    json_t *o = sse_json(&b);
    CHECK(o != NULL);
    json_t *delta = json_object_get(choice0(o), "delta");
    CHECK_INT(json_object_size(delta), 1);
    CHECK_STR(jstr(delta, "reasoning_content", NULL), "想一想");
    CHECK(json_is_null(json_object_get(choice0(o), "finish_reason")));
    json_decref(o);
    buf_cleanup(&b);
}

TEST(delta_with_both_puts_content_first)
{
    struct buf b;
    buf_init(&b, 4096);
    CHECK_INT(openai_sse_delta(&b, &meta, "ab", 1, "xyz", 2), 0);
    CHECK(strstr(buf_cstr(&b), "\"delta\":{\"content\":\"a\",\"reasoning_content\":\"xy\"}") != NULL);
    json_t *o = sse_json(&b);
    CHECK(o != NULL);
    json_t *delta = json_object_get(choice0(o), "delta");
    CHECK_INT(json_object_size(delta), 2);
    CHECK_STR(jstr(delta, "content", NULL), "a");
    CHECK_STR(jstr(delta, "reasoning_content", NULL), "xy");
    json_decref(o);
    buf_cleanup(&b);
}

TEST(finish_chunk_default_and_given_reason)
{
    struct buf b;
    buf_init(&b, 4096);
    CHECK_INT(openai_sse_finish(&b, &meta, NULL), 0);
    CHECK(strstr(buf_cstr(&b), "\"choices\":[{\"index\":0,\"delta\":{},\"logprobs\":null,"
                               "\"finish_reason\":\"stop\"}]}\n\n") != NULL);
    json_t *o = sse_json(&b);
    CHECK(o != NULL);
    check_chunk_head(o);
    json_t *c = choice0(o);
    CHECK(json_is_object(json_object_get(c, "delta")));
    CHECK_INT(json_object_size(json_object_get(c, "delta")), 0);
    CHECK_STR(jstr(c, "finish_reason", NULL), "stop");
    json_decref(o);
    buf_reset(&b);
    CHECK_INT(openai_sse_finish(&b, &meta, "content_filter"), 0);
    o = sse_json(&b);
    CHECK(o != NULL);
    CHECK_STR(jstr(choice0(o), "finish_reason", NULL), "content_filter");
    json_decref(o);
    buf_cleanup(&b);
}

TEST(usage_chunk_has_empty_choices_and_totals)
{
    struct buf b;
    buf_init(&b, 4096);
    struct openai_usage u = { 12, 30, 7 };
    CHECK_INT(openai_sse_usage(&b, &meta, &u), 0);
    CHECK_STR(buf_cstr(&b),
              "data: {\"id\":\"65f0a1b2c3d4e5f6a7b8c9d0\",\"object\":\"chat.completion.chunk\","
              "\"created\":1714000000,\"model\":\"glm-4\",\"choices\":[],\"usage\":{"
              "\"prompt_tokens\":12,\"completion_tokens\":30,\"total_tokens\":42,"
              "\"completion_tokens_details\":{\"reasoning_tokens\":7}}}\n\n");
    json_t *o = sse_json(&b);
    CHECK(o != NULL);
    check_chunk_head(o);
    CHECK(json_is_array(json_object_get(o, "choices")));
    CHECK_INT(json_array_size(json_object_get(o, "choices")), 0);
    json_t *usage = json_object_get(o, "usage");
    CHECK_INT(json_integer_value(json_object_get(usage, "prompt_tokens")), 12);
    CHECK_INT(json_integer_value(json_object_get(usage, "completion_tokens")), 30);
    CHECK_INT(json_integer_value(json_object_get(usage, "total_tokens")), 42);
    CHECK_INT(json_integer_value(json_object_get(json_object_get(usage, "completion_tokens_details"),
                                                 "reasoning_tokens")), 7);
    json_decref(o);
    buf_cleanup(&b);
}

TEST(error_event_and_done)
{
    struct buf b;
    buf_init(&b, 4096);
    CHECK_INT(openai_sse_error(&b, "upstream said \"no\"", "upstream_error", "upstream_failed"), 0);
    json_t *o = sse_json(&b);
    CHECK(o != NULL);
    json_t *e = json_object_get(o, "error");
    CHECK_INT(json_object_size(o), 1);
    CHECK_STR(jstr(e, "message", NULL), "upstream said \"no\"");
    CHECK_STR(jstr(e, "type", NULL), "upstream_error");
    CHECK(json_is_null(json_object_get(e, "param")));
    CHECK_STR(jstr(e, "code", NULL), "upstream_failed");
    json_decref(o);
    buf_reset(&b);
    CHECK_INT(openai_sse_error(&b, "m", "server_error", NULL), 0);
    o = sse_json(&b);
    CHECK(o != NULL);
    CHECK(json_is_null(json_object_get(json_object_get(o, "error"), "code")));
    json_decref(o);
    buf_reset(&b);
    CHECK_INT(openai_sse_done(&b), 0);
    CHECK_STR(buf_cstr(&b), "data: [DONE]\n\n");
    buf_cleanup(&b);
}

TEST(error_body_with_param_and_code)
{
    struct buf b;
    buf_init(&b, 4096);
    CHECK_INT(openai_error_body(&b, "messages is required", "invalid_request_error", "messages",
                                "missing_field"), 0);
    CHECK_STR(buf_cstr(&b), "{\"error\":{\"message\":\"messages is required\","
                            "\"type\":\"invalid_request_error\",\"param\":\"messages\","
                            "\"code\":\"missing_field\"}}");
    buf_reset(&b);
    CHECK_INT(openai_error_body(&b, "x", "server_error", NULL, NULL), 0);
    json_t *o = json_loads(buf_cstr(&b), 0, NULL);
    CHECK(o != NULL);
    CHECK(json_is_null(json_object_get(json_object_get(o, "error"), "param")));
    CHECK(json_is_null(json_object_get(json_object_get(o, "error"), "code")));
    json_decref(o);
    buf_cleanup(&b);
}

TEST(completion_without_reasoning)
{
    struct buf b;
    buf_init(&b, 4096);
    struct openai_usage u = { 5, 9, 0 };
    CHECK_INT(openai_completion(&b, &meta, "答案\t是 42", strlen("答案\t是 42"), NULL, 0, NULL, &u), 0);
    CHECK(b.len > 0 && buf_cstr(&b)[b.len - 1] == '}');
    json_t *o = json_loads(buf_cstr(&b), 0, NULL);
    CHECK(o != NULL);
    CHECK_STR(jstr(o, "id", NULL), "65f0a1b2c3d4e5f6a7b8c9d0");
    CHECK_STR(jstr(o, "object", NULL), "chat.completion");
    CHECK_INT(json_integer_value(json_object_get(o, "created")), 1714000000);
    CHECK_STR(jstr(o, "model", NULL), "glm-4");
    json_t *c = choice0(o);
    CHECK_INT(json_integer_value(json_object_get(c, "index")), 0);
    json_t *msg = json_object_get(c, "message");
    CHECK_INT(json_object_size(msg), 3);
    CHECK(json_is_null(json_object_get(msg, "refusal"))); /* OpenAI's schema has it */
    CHECK_STR(jstr(msg, "role", NULL), "assistant");
    CHECK_STR(jstr(msg, "content", NULL), "答案\t是 42");
    CHECK(json_object_get(msg, "reasoning_content") == NULL);
    CHECK(json_is_null(json_object_get(c, "logprobs")));
    CHECK_STR(jstr(c, "finish_reason", NULL), "stop");
    json_t *usage = json_object_get(o, "usage");
    CHECK_INT(json_integer_value(json_object_get(usage, "total_tokens")), 14);
    CHECK_INT(json_integer_value(json_object_get(json_object_get(usage, "completion_tokens_details"),
                                                 "reasoning_tokens")), 0);
    json_decref(o);
    buf_cleanup(&b);
}

TEST(completion_with_reasoning_and_exact_bytes)
{
    struct buf b;
    buf_init(&b, 4096);
    struct openai_usage u = { 1, 3, 2 };
    struct openai_meta m = { "c1", "glm-4-think", 7, 0 };
    CHECK_INT(openai_completion(&b, &m, "ok", 2, "hmm", 3, "length", &u), 0);
    CHECK_STR(buf_cstr(&b),
              "{\"id\":\"c1\",\"object\":\"chat.completion\",\"created\":7,\"model\":\"glm-4-think\","
              "\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"ok\","
              "\"refusal\":null,\"reasoning_content\":\"hmm\"},\"logprobs\":null,\"finish_reason\":\"length\"}],"
              "\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":3,\"total_tokens\":4,"
              "\"completion_tokens_details\":{\"reasoning_tokens\":2}}}");
    json_t *o = json_loads(buf_cstr(&b), 0, NULL);
    CHECK(o != NULL);
    CHECK_STR(jstr(json_object_get(choice0(o), "message"), "reasoning_content", NULL), "hmm");
    json_decref(o);
    buf_cleanup(&b);
}

TEST(meta_strings_are_escaped)
{
    struct buf b;
    buf_init(&b, 4096);
    struct openai_meta m = { "a\"b", "m\\\n", 0, 0 };
    CHECK_INT(openai_sse_role(&b, &m), 0);
    json_t *o = sse_json(&b);
    CHECK(o != NULL);
    CHECK_STR(jstr(o, "id", NULL), "a\"b");
    CHECK_STR(jstr(o, "model", NULL), "m\\\n");
    json_decref(o);
    buf_cleanup(&b);
}

TEST(buffer_cap_returns_minus_one_and_keeps_the_buffer)
{
    struct buf full;
    buf_init(&full, 1 << 16);
    struct openai_usage u = { 1, 2, 0 };
    CHECK_INT(openai_completion(&full, &meta, "content", 7, "why", 3, NULL, &u), 0);
    size_t need = full.len;
    /* Every cap short of the full length fails without leaving a fragment. */
    for (size_t cap = 4; cap < need + 4; cap++) {
        struct buf b;
        buf_init(&b, cap);
        CHECK_INT(buf_puts(&b, "pre:"), 0);
        CHECK_INT(openai_completion(&b, &meta, "content", 7, "why", 3, NULL, &u), -1);
        CHECK_INT(b.len, 4);
        CHECK_STR(buf_cstr(&b), "pre:");
        buf_cleanup(&b);
    }
    struct buf b;
    buf_init(&b, need + 4);
    CHECK_INT(buf_puts(&b, "pre:"), 0);
    CHECK_INT(openai_completion(&b, &meta, "content", 7, "why", 3, NULL, &u), 0);
    CHECK_STR(buf_cstr(&b) + 4, buf_cstr(&full));
    buf_cleanup(&b);
    buf_init(&b, 20);
    CHECK_INT(openai_sse_role(&b, &meta), -1);
    CHECK_INT(openai_sse_delta(&b, &meta, "x", 1, NULL, 0), -1);
    CHECK_INT(openai_sse_finish(&b, &meta, NULL), -1);
    CHECK_INT(openai_sse_usage(&b, &meta, &u), -1);
    CHECK_INT(openai_sse_error(&b, "long enough message", "t", NULL), -1);
    CHECK_INT(openai_error_body(&b, "long enough message", "t", NULL, NULL), -1);
    CHECK_INT(b.len, 0);
    CHECK_INT(openai_sse_done(&b), 0);
    CHECK_INT(openai_sse_done(&b), -1);
    CHECK_INT(b.len, 14);
    buf_cleanup(&b);
    buf_cleanup(&full);
}

TEST(error_type_for_status)
{
    CHECK_STR(api_error_type_for(400), "invalid_request_error");
    CHECK_STR(api_error_type_for(404), "invalid_request_error");
    CHECK_STR(api_error_type_for(405), "invalid_request_error");
    CHECK_STR(api_error_type_for(413), "invalid_request_error");
    CHECK_STR(api_error_type_for(422), "invalid_request_error");
    CHECK_STR(api_error_type_for(401), "authentication_error");
    CHECK_STR(api_error_type_for(403), "permission_error");
    CHECK_STR(api_error_type_for(429), "rate_limit_error");
    CHECK_STR(api_error_type_for(502), "upstream_error");
    CHECK_STR(api_error_type_for(503), "upstream_error");
    CHECK_STR(api_error_type_for(504), "timeout_error");
    CHECK_STR(api_error_type_for(500), "server_error");
    CHECK_STR(api_error_type_for(501), "server_error");
    CHECK_STR(api_error_type_for(599), "server_error");
}

TEST(usage_estimate_ascii)
{
    CHECK_INT(usage_estimate("", 0), 0);
    CHECK_INT(usage_estimate("   \n\t", 5), 0);
    /* Hello(2) ,(1) world(2) !(1) */
    CHECK_INT(usage_estimate("Hello, world!", 13), 6);
    CHECK_INT(usage_estimate("abcd", 4), 1);
    CHECK_INT(usage_estimate("abcde", 5), 2);
    /* foo(1) _(1) bar(1) 12345678(2) */
    CHECK_INT(usage_estimate("foo_bar 12345678", 16), 5);
}

TEST(usage_estimate_chinese)
{
    const char *s = "你好，世界。";
    CHECK_INT(usage_estimate(s, strlen(s)), 6);
    const char *k = "こんにちは 안녕";
    CHECK_INT(usage_estimate(k, strlen(k)), 7);
}

TEST(usage_estimate_mixed)
{
    /* 我(1) 用(1) Python(2) 写(1) 了(1) 100(1) 行(1) ,(1) 😀(1) */
    const char *s = "我用 Python 写了 100 行, 😀";
    CHECK_INT(usage_estimate(s, strlen(s)), 10);
    /* Three 1/2 code points round up to 2. */
    CHECK_INT(usage_estimate("éüñ", strlen("éüñ")), 2);
    CHECK_INT(usage_estimate("é", strlen("é")), 1);
    CHECK_INT(usage_estimate("é1é", strlen("é1é")), 2);
}

TEST(usage_estimate_emoji)
{
    CHECK_INT(usage_estimate("😀", strlen("😀")), 1);
    CHECK_INT(usage_estimate("😀🎉👍", strlen("😀🎉👍")), 3);
    /* BMP symbols are half a token each. */
    CHECK_INT(usage_estimate("★☆", strlen("★☆")), 1);
    /* Invalid bytes count as half each and never run past the end. */
    CHECK_INT(usage_estimate("\xff\xfe\xfd", 3), 2);
    CHECK_INT(usage_estimate("\xe4", 1), 1);
}

TEST(include_usage_puts_usage_null_on_the_chunks_before_the_usage_chunk)
{
    struct buf b;
    buf_init(&b, 4096);
    struct openai_meta m = { "c1", "glm-4", 7, 1 };
    CHECK_INT(openai_sse_delta(&b, &m, "hi", 2, NULL, 0), 0);
    CHECK_INT(openai_sse_finish(&b, &m, "stop"), 0);
    CHECK(strstr(buf_cstr(&b), "\"finish_reason\":null}],\"usage\":null}\n\n") != NULL);
    CHECK(strstr(buf_cstr(&b), "\"finish_reason\":\"stop\"}],\"usage\":null}\n\n") != NULL);
    buf_cleanup(&b);
}

TEST_MAIN()
