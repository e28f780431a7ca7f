#include "test.h"

#include <string.h>

#include <jansson.h>

#include "glm/video.h"

static enum video_outcome outcome(long http, const char *body)
{
    struct video_answer a;
    video_classify(http, body, strlen(body), &a);
    json_decref(a.result);
    return a.outcome;
}

TEST(answers_of_the_video_service_are_classified)
{
    struct video_answer a;
    const char *ok = "{\"status\":0,\"message\":\"success\",\"result\":{\"chat_id\":\"abc\"}}";
    video_classify(200, ok, strlen(ok), &a);
    CHECK_INT(a.outcome, VIDEO_OK);
    CHECK_STR(json_string_value(json_object_get(a.result, "chat_id")), "abc");
    json_decref(a.result);
    const char *quota = "{\"status\":10014,\"message\":\"今日视频生成次数已用完\",\"result\":null}";
    video_classify(200, quota, strlen(quota), &a);
    CHECK_INT(a.outcome, VIDEO_REFUSED);
    CHECK_INT((int)a.code, 10014);
    CHECK_STR(a.message, "今日视频生成次数已用完");
    CHECK(a.result == NULL);
    CHECK_INT(outcome(401, "{\"status\":40103,\"message\":\"user needs login\"}"), VIDEO_AUTH);
    CHECK_INT(outcome(200, "{\"status\":40102}"), VIDEO_AUTH);
    CHECK_INT(outcome(429, "{\"status\":10061,\"message\":\"请等待其他对话生成完毕\"}"), VIDEO_BUSY);
    CHECK_INT(outcome(400, "{\"status\":40012}"), VIDEO_TRANSIENT);
    CHECK_INT(outcome(502, "<html>bad gateway</html>"), VIDEO_TRANSIENT);
    CHECK_INT(outcome(200, "<html>login</html>"), VIDEO_TRANSIENT);
    CHECK_INT(outcome(200, ""), VIDEO_TRANSIENT);
    CHECK_INT(outcome(200, "{\"status\":0,\"result\":null}"), VIDEO_OK);
}

TEST(the_chat_body_is_the_2024_one_plus_the_2026_fields_when_asked)
{
    struct video_options o = { .prompt = "猫", .video_style = "卡通3D" };
    json_t *b = video_chat_body(&o);
    char *s = json_dumps(b, JSON_COMPACT | JSON_PRESERVE_ORDER);
    CHECK_STR(s, "{\"conversation_id\":\"\",\"prompt\":\"猫\",\"advanced_parameter_extra\":"
                 "{\"video_style\":\"卡通3D\"}}");
    free(s);
    json_decref(b);
    struct video_options o2 = { .prompt = "p", .source_id = "src1", .seconds = 10, .width = 16,
                                .height = 9 };
    b = video_chat_body(&o2);
    CHECK_STR(json_string_value(json_array_get(json_object_get(b, "source_list"), 0)), "src1");
    json_t *base = json_object_get(b, "base_parameter_extra");
    CHECK_INT((int)json_integer_value(json_object_get(base, "duration")), 2);
    CHECK_INT((int)json_integer_value(json_object_get(base, "generation_ratio_width")), 16);
    CHECK_STR(json_string_value(json_object_get(base, "generation_type")), "reference_img");
    json_decref(b);
}

TEST(a_finished_status_is_read)
{
    json_t *r = json_pack("{s:s, s:s, s:s, s:s, s:s}", "status", "finished", "video_url", "v",
                          "cover_url", "c", "video_duration", "6s", "resolution", "1440 × 960");
    struct video_status_info si;
    video_status_read(r, &si);
    CHECK_STR(si.state, "finished");
    CHECK_STR(si.video_url, "v");
    CHECK_STR(si.cover_url, "c");
    CHECK_STR(si.duration, "6s");
    CHECK(si.msg == NULL);
    json_decref(r);
    video_status_read(NULL, &si);
    CHECK(si.state == NULL);
}

TEST_MAIN()
