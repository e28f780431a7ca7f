/* One reading of chatglm.cn's answers: error bodies and HTTP statuses to a
 * verdict, and the frames of a drawing answer. */
#include <string.h>

#include "glm/answer.h"
#include "test.h"

struct verdict_case {
    long http;
    const char *body;
    int stream;
    enum glm_verdict want;
    long long code;
};

TEST(error_bodies_and_statuses_get_one_verdict)
{
    static const struct verdict_case cases[] = {
        { 401, "", 1, GLM_AUTH_REFUSED, -1 },
        { 200, "{\"status\":40103,\"message\":\"expired\"}", 1, GLM_AUTH_REFUSED, 40103 },
        { 400, "{\"status\":40102}", 0, GLM_AUTH_REFUSED, 40102 },
        { 200, "{\"status\":1,\"message\":\"refresh failed (40102)\"}", 0, GLM_AUTH_REFUSED, 1 },
        { 429, "not json", 1, GLM_BUSY, -1 },
        { 200, "{\"status\":10061,\"message\":\"请等待其他对话生成完毕\"}", 1, GLM_BUSY, 10061 },
        { 502, "<html>", 1, GLM_TRANSIENT, -1 },
        { 403, "{\"status\":40012}", 1, GLM_TRANSIENT, 40012 },
        { 400, "{\"status\":40001,\"message\":\"bad request(40001)\"}", 1, GLM_BAD_REQUEST, 40001 },
        /* A 5xx is transient whatever its code says. */
        { 500, "{\"status\":40001}", 1, GLM_TRANSIENT, 40001 },
        { 200, "{\"status\":0,\"result\":{}}", 1, GLM_NOT_SSE, 0 },
        { 200, "{\"status\":7}", 1, GLM_NOT_SSE, 7 },
        { 200, "{\"status\":0,\"result\":{}}", 0, GLM_OK, 0 },
        { 200, "{}", 0, GLM_OK, -1 },
        { 200, "{\"status\":7}", 0, GLM_REFUSED, 7 },
        { 404, "{\"status\":0}", 1, GLM_REFUSED, 0 },
        { 404, "", 0, GLM_REFUSED, -1 },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct glm_answer a;
        glm_answer_read(cases[i].http, cases[i].body, strlen(cases[i].body), cases[i].stream, &a);
        if ((int)a.verdict != (int)cases[i].want)
            printf("# case %zu: HTTP %ld %s\n", i, cases[i].http, cases[i].body);
        CHECK_INT(a.verdict, cases[i].want);
        CHECK_INT(a.code, cases[i].code);
        CHECK_INT(a.http, cases[i].http);
    }
}

TEST(the_message_is_kept_raw_and_cut_to_fit)
{
    struct glm_answer a;
    static const char body[] = "{\"status\":10061,\"message\":\"a\\\"b\"}";
    glm_answer_read(200, body, sizeof(body) - 1, 1, &a);
    CHECK_STR(a.message, "a\"b");
    char big[600];
    int n = snprintf(big, sizeof(big), "{\"message\":\"%0400d\"}", 0);
    glm_answer_read(500, big, (size_t)n, 1, &a);
    CHECK_INT(strlen(a.message), sizeof(a.message) - 1);
    glm_answer_read(500, "", 0, 1, &a);
    CHECK_STR(a.message, "");
}

/* ---- drawings ------------------------------------------------------------ */

struct urls {
    char seen[8][128];
    int n;
};

static void on_url(void *arg, const char *url, size_t len)
{
    struct urls *u = arg;
    if (u->n < 8 && len < sizeof(u->seen[0]))
        snprintf(u->seen[u->n++], sizeof(u->seen[0]), "%.*s", (int)len, url);
}

static int frame(struct glm_draw *d, const char *json)
{
    return glm_draw_frame(d, json, strlen(json));
}

TEST(a_drawing_gives_its_image_urls_in_arrival_order_and_finishes)
{
    struct urls u = { 0 };
    struct glm_draw d = { .on_url = on_url, .arg = &u };
    CHECK_INT(frame(&d, "{\"conversation_id\":\"c1\",\"status\":\"init\",\"parts\":[{\"status\":"
                        "\"init\",\"content\":[{\"type\":\"image\",\"image\":[{\"image_url\":"
                        "\"https://x/2.png\"}]}]}]}"), 0);
    CHECK_INT(d.state, GLM_DRAW_RUNNING);
    CHECK_STR(d.conv, "c1");
    CHECK_INT(frame(&d, "{\"conversation_id\":\"c2\",\"status\":\"finish\",\"parts\":[{\"content\":"
                        "[{\"type\":\"image\",\"image\":[{\"image_url\":\"https://x/1.png\"}]},"
                        "{\"type\":\"text\",\"text\":\"see (https://x/3.png) and (ftp://n)\"}]}]}"),
              0);
    CHECK_INT(d.state, GLM_DRAW_DONE);
    CHECK_STR(d.conv, "c1"); /* the first one stays */
    CHECK_INT(d.frames, 2);
    CHECK_INT(u.n, 3);
    CHECK_STR(u.seen[0], "https://x/2.png");
    CHECK_STR(u.seen[1], "https://x/1.png");
    CHECK_STR(u.seen[2], "https://x/3.png");
}

TEST(text_of_an_unfinished_part_gives_no_urls)
{
    struct urls u = { 0 };
    struct glm_draw d = { .on_url = on_url, .arg = &u };
    CHECK_INT(frame(&d, "{\"status\":\"init\",\"parts\":[{\"status\":\"init\",\"content\":"
                        "[{\"type\":\"text\",\"text\":\"(https://x/a.png)\"}]}]}"), 0);
    CHECK_INT(u.n, 0);
}

TEST(moderation_and_errors_end_the_drawing_with_a_note)
{
    struct urls u = { 0 };
    struct glm_draw d = { .on_url = on_url, .arg = &u };
    CHECK_INT(frame(&d, "{\"status\":\"intervene\",\"last_error\":{\"intervene_text\":\"不行\"}}"), 0);
    CHECK_INT(d.state, GLM_DRAW_FILTERED);
    CHECK_STR(d.note, "不行");
    struct glm_draw e = { .on_url = on_url, .arg = &u };
    CHECK_INT(frame(&e, "{\"status\":\"error\",\"error\":{\"error_code\":1234,\"err_msg\":\"boom\"}}"),
              0);
    CHECK_INT(e.state, GLM_DRAW_FAILED);
    CHECK_STR(e.note, "1234: boom");
}

TEST(a_frame_that_is_not_a_json_object_changes_nothing)
{
    struct urls u = { 0 };
    struct glm_draw d = { .on_url = on_url, .arg = &u };
    CHECK_INT(frame(&d, "ping"), -1);
    CHECK_INT(frame(&d, "[1]"), -1);
    CHECK_INT(d.frames, 0);
    CHECK_INT(d.state, GLM_DRAW_RUNNING);
}

TEST_MAIN()
