#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "config.h"
#include "glm/request.h"
#include "glm/session.h"
#include "glm/sign.h"
#include "test.h"

static void load_defaults(void)
{
    static char *argv[] = { (char *)"test_request", NULL };
    int exit_now = 0, check_only = 0;
    config_free();
    if (config_load(1, argv, &exit_now, &check_only) != 0)
        abort();
}

/* The value of header name in the list, "" for "Name;" (sent empty), NULL
 * when absent. A "Name:" line (curl's own header suppressed) gives "(off)". */
static const char *header(const struct curl_slist *h, const char *name)
{
    size_t n = strlen(name);
    for (; h; h = h->next) {
        if (strncmp(h->data, name, n) != 0)
            continue;
        const char *p = h->data + n;
        if (strcmp(p, ";") == 0)
            return "";
        if (strcmp(p, ":") == 0)
            return "(off)";
        if (strncmp(p, ": ", 2) == 0)
            return p + 2;
    }
    return NULL;
}

static size_t count(const struct curl_slist *h)
{
    size_t n = 0;
    for (; h; h = h->next)
        n++;
    return n;
}

TEST(headers_carry_the_browser_set_token_and_signature)
{
    load_defaults();
    struct curl_slist *h = glm_headers("tok.en", 1, "https://chatglm.cn/main/alltoolsdetail", 1);
    CHECK_STR(header(h, "Authorization"), "Bearer tok.en");
    CHECK_STR(header(h, "App-Name"), "chatglm");
    CHECK_STR(header(h, "User-Agent"), cfg.user_agent);
    CHECK_STR(header(h, "X-Exp-Groups"), cfg.exp_groups);
    CHECK_STR(header(h, "Origin"), cfg.upstream);
    CHECK_STR(header(h, "Referer"), "https://chatglm.cn/main/alltoolsdetail");
    CHECK_STR(header(h, "Content-Type"), "application/json");
    CHECK_STR(header(h, "X-Device-Brand"), "");
    CHECK_STR(header(h, "X-Device-Model"), "");
    CHECK_STR(header(h, "Expect"), "(off)");
    CHECK_INT(strlen(header(h, "X-Device-Id")), 32);
    CHECK_INT(strlen(header(h, "X-Request-Id")), 32);
    CHECK(strcmp(header(h, "X-Device-Id"), header(h, "X-Request-Id")) != 0);
    const char *ts = header(h, "X-Timestamp"), *nonce = header(h, "X-Nonce");
    CHECK(ts && nonce && sign_timestamp_valid(ts));
    char want[33];
    sign_compute(ts, nonce, cfg.sign_secret, want);
    CHECK_STR(header(h, "X-Sign"), want);
    free(h); /* one allocation */
}

TEST(headers_leave_out_what_was_not_asked_for)
{
    load_defaults();
    struct curl_slist *h = glm_headers(NULL, 0, NULL, 0);
    CHECK(header(h, "Authorization") == NULL);
    CHECK(header(h, "X-Sign") == NULL);
    CHECK(header(h, "X-Nonce") == NULL);
    CHECK(header(h, "Referer") == NULL);
    CHECK(header(h, "Content-Type") == NULL);
    CHECK_INT(count(h), 23); /* X-App-fr since 2026 */
    free(h);
}

TEST(headers_from_an_empty_setting_are_not_sent)
{
    load_defaults();
    CHECK_INT(config_parse_text("exp-groups =\nuser-agent =\n", 27, "test"), 0);
    struct curl_slist *h = glm_headers("t", 0, NULL, 0);
    CHECK(header(h, "X-Exp-Groups") == NULL);
    CHECK(header(h, "User-Agent") == NULL);
    CHECK_STR(header(h, "Authorization"), "Bearer t");
    free(h);
}

TEST(every_header_line_has_its_own_fresh_ids)
{
    load_defaults();
    struct curl_slist *a = glm_headers("t", 1, NULL, 0), *b = glm_headers("t", 1, NULL, 0);
    CHECK(strcmp(header(a, "X-Request-Id"), header(b, "X-Request-Id")) != 0);
    CHECK(strcmp(header(a, "X-Nonce"), header(b, "X-Nonce")) != 0);
    free(a);
    free(b);
}

/* The body as text, compared after a round trip through jansson with the
 * key order kept. */
static char *roundtrip(const char *body)
{
    json_error_t err;
    json_t *v = json_loads(body, 0, &err);
    if (!v)
        return strdup("(not JSON)");
    char *s = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(v);
    return s;
}

/* The positional form the 2025 tests were written with. */
static char *body(const char *assistant_id, const char *conversation_id, const char *prompt,
                  const char *chat_mode, int networking, json_t *files, json_t *images)
{
    const struct glm_stream_opts o = { .assistant_id = assistant_id,
                                       .conversation_id = conversation_id, .prompt = prompt,
                                       .chat_mode = chat_mode, .networking = networking,
                                       .files = files, .images = images };
    return glm_stream_body_of(&o);
}

TEST(the_2026_body_is_the_browsers_in_its_key_order)
{
    load_defaults();
    CHECK_INT(cfg.upstream_era, CFG_ERA_2026);
    const struct glm_stream_opts o = { .assistant_id = "65940acff94777010aa6b796", .prompt = "你好",
                                       .chat_mode = "thinking", .reasoning_effort = "high",
                                       .selected_model = "glm-5.3-flash", .networking = 1 };
    char *b = glm_stream_body_of(&o);
    /* spec 12.3, the capture of 2026-09-29 (S9 sid 356), byte for byte */
    CHECK_STR(b, "{\"assistant_id\":\"65940acff94777010aa6b796\",\"conversation_id\":\"\",\"project_id\":\"\",\"chat_type\":\"user_chat\","
                 "\"meta_data\":{\"cogview\":{\"rm_label_watermark\":false},\"is_test\":false,\"input_question_type\":\"xxxx\","
                 "\"channel\":\"\",\"draft_id\":\"\",\"chat_mode\":\"thinking\",\"reasoning_effort\":\"high\","
                 "\"selected_model\":\"glm-5.3-flash\",\"is_networking\":true,\"quote_log_id\":\"\",\"platform\":\"pc\"},"
                 "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"你好\"}]}]}");
    char *r = roundtrip(b);
    CHECK_STR(r, b);
    free(r);
    free(b);
    /* An agent: no tier, no model; a drawing: its ratio inside cogview. */
    const struct glm_stream_opts a = { .assistant_id = "d", .conversation_id = "c1", .prompt = "p",
                                       .aspect_ratio = "16:9" };
    b = glm_stream_body_of(&a);
    json_t *v = json_loads(b, 0, NULL);
    json_t *meta = json_object_get(v, "meta_data");
    CHECK(json_object_get(meta, "chat_mode") == NULL);
    CHECK(json_object_get(meta, "selected_model") == NULL);
    CHECK(json_object_get(meta, "reasoning_effort") == NULL);
    CHECK(json_object_get(meta, "if_plus_model") == NULL);
    CHECK(json_is_false(json_object_get(meta, "is_networking")));
    CHECK_STR(json_string_value(json_object_get(json_object_get(meta, "cogview"), "aspect_ratio")), "16:9");
    CHECK_STR(json_string_value(json_object_get(v, "conversation_id")), "c1");
    json_decref(v);
    free(b);
}

TEST(x_device_id_is_the_tokens_device_id_claim)
{
    load_defaults();
    /* header.{"sub":"u","device_id":"0123abcd...","type":"access"}.sig */
    const char *payload = "{\"sub\":\"u\",\"exp\":1900000000,\"device_id\":\"0123456789abcdef0123456789abcdef\",\"type\":\"access\"}";
    char *enc = NULL;
    size_t n = strlen(payload);
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    enc = calloc(n * 2 + 8, 1);
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned char)payload[i] << 16;
        if (i + 1 < n) v |= (unsigned char)payload[i + 1] << 8;
        if (i + 2 < n) v |= (unsigned char)payload[i + 2];
        enc[o++] = tbl[(v >> 18) & 63];
        enc[o++] = tbl[(v >> 12) & 63];
        if (i + 1 < n) enc[o++] = tbl[(v >> 6) & 63];
        if (i + 2 < n) enc[o++] = tbl[v & 63];
    }
    char jwt[1024];
    snprintf(jwt, sizeof(jwt), "eyJhbGciOiJIUzI1NiJ9.%s.c2ln", enc);
    free(enc);
    char id[65];
    CHECK_INT(session_jwt_device_id(jwt, id, sizeof(id)), 0);
    CHECK_STR(id, "0123456789abcdef0123456789abcdef");
    struct curl_slist *a = glm_headers(jwt, 1, NULL, 1), *b = glm_headers(jwt, 1, NULL, 1);
    CHECK_STR(header(a, "X-Device-Id"), "0123456789abcdef0123456789abcdef");
    CHECK_STR(header(b, "X-Device-Id"), "0123456789abcdef0123456789abcdef");
    CHECK_STR(header(a, "X-App-fr"), "default");
    free(a);
    free(b);
    CHECK_INT(session_jwt_device_id("not-a-jwt", id, sizeof(id)), -1);
    CHECK_STR(id, "");
    CHECK_INT(session_jwt_device_id(jwt, id, 16), -1); /* too long for out */
}

TEST(an_access_token_lives_until_shortly_before_its_exp)
{
    CHECK_INT((int)(session_expiry(1000, 1000 + 86400) - 1000), 86400 - 600);
    CHECK_INT((int)(session_expiry(1000, 1000 + 7200) - 1000), 7200 - 600);
    CHECK_INT((int)(session_expiry(1000, 1000 + 400) - 1000), 300);
    CHECK_INT((int)(session_expiry(1000, 1000 + 3) - 1000), 2);
    CHECK_INT((int)(session_expiry(1000, 900) - 1000), 0);
}

TEST(stream_body_is_the_web_apps_body_in_its_key_order)
{
    load_defaults();
    cfg.upstream_era = CFG_ERA_2025;
    char *b = body("65940acff94777010aa6b796", "", "hi", NULL, 1, NULL, NULL);
    CHECK_STR(b, "{\"assistant_id\":\"65940acff94777010aa6b796\",\"conversation_id\":\"\","
                 "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"hi\"}]}],"
                 "\"meta_data\":{\"channel\":\"\",\"draft_id\":\"\",\"if_plus_model\":true,"
                 "\"input_question_type\":\"xxxx\",\"is_networking\":true,\"is_test\":false,"
                 "\"platform\":\"pc\",\"quote_log_id\":\"\"}}");
    char *r = roundtrip(b);
    CHECK_STR(r, b);
    free(r);
    free(b);
}

TEST(stream_body_escapes_the_prompt_and_carries_mode_and_attachments)
{
    json_t *files = json_pack("[{s:s, s:s}]", "file_id", "f1", "file_url", "https://x/y.pdf");
    json_t *images = json_pack("[{s:s}]", "image_url", "https://x/i.png");
    const char *prompt = "a \"quote\"\\ and\nnew line\t\x01 中文";
    char *b = body("as\"s", "conv-1", prompt, "zero", 0, files, images);
    json_error_t err;
    json_t *v = json_loads(b, 0, &err);
    CHECK(v != NULL);
    if (v) {
        CHECK_STR(json_string_value(json_object_get(v, "assistant_id")), "as\"s");
        CHECK_STR(json_string_value(json_object_get(v, "conversation_id")), "conv-1");
        json_t *content = json_object_get(json_array_get(json_object_get(v, "messages"), 0), "content");
        CHECK_INT(json_array_size(content), 3);
        CHECK_STR(json_string_value(json_object_get(json_array_get(content, 0), "text")), prompt);
        CHECK(json_equal(json_object_get(json_array_get(content, 1), "file"), files));
        CHECK(json_equal(json_object_get(json_array_get(content, 2), "image"), images));
        json_t *meta = json_object_get(v, "meta_data");
        CHECK_STR(json_string_value(json_object_get(meta, "chat_mode")), "zero");
        CHECK(json_object_get(meta, "is_networking") == NULL);
        json_decref(v);
    }
    /* Empty attachment arrays are left out, like NULL ones. */
    json_t *none = json_array();
    char *c = body("a", NULL, "p", NULL, 0, none, none);
    CHECK(strstr(c, "\"type\":\"file\"") == NULL);
    CHECK(strstr(c, "\"type\":\"image\"") == NULL);
    CHECK(strstr(c, "\"conversation_id\":\"\"") != NULL);
    json_decref(none);
    json_decref(files);
    json_decref(images);
    free(b);
    free(c);
    config_free();
}

TEST(a_drawings_aspect_ratio_is_the_last_meta_data_key)
{
    /* As images.c wrote it before: the body re-dumped by jansson with
     * meta_data.cogview added last. */
    load_defaults();
    cfg.upstream_era = CFG_ERA_2025;
    char *plain = body("d", "", "请画：猫", NULL, 0, NULL, NULL);
    json_t *want = json_loads(plain, 0, NULL);
    json_object_set_new(json_object_get(want, "meta_data"), "cogview",
                        json_pack("{s:s}", "aspect_ratio", "16:9"));
    char *w = json_dumps(want, JSON_COMPACT | JSON_PRESERVE_ORDER);
    const struct glm_stream_opts o = { .assistant_id = "d", .prompt = "请画：猫",
                                       .aspect_ratio = "16:9" };
    char *b = glm_stream_body_of(&o);
    CHECK_STR(b, w);
    free(b);
    free(w);
    free(plain);
    json_decref(want);
}

TEST_MAIN()
