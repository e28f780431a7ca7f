/* The renderer: every fixture through the SSE parser (in one piece and byte by
 * byte) into render, with the exact expected answers; the v2 profile, citation
 * markers, separators, UTF-8 safety, terminal states and limits. */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stream/render.h"
#include "stream/sse.h"
#include "util/buf.h"
#include "test.h"

#include "render_check.h"

/* ---- fixtures ---- */

static const char PLAIN[] =
    "你好！我是智谱清言，是智谱 AI 公司于2023年训练的语言模型。我的任务是针对用户的问题和要求提供适当的答复和支持。";

TEST(chat_plain_renders_the_answer_text)
{
    expect_fixture("chat-plain.sse", &O_DEFAULT, PLAIN, "", RENDER_DONE);

    struct result res;
    run_fixture("chat-plain.sse", &O_DEFAULT, 0, &res);
    CHECK_INT(res.frames, 9);
    CHECK_STR(res.conv, "670dd192ac7938d40c0003a1");
    CHECK_INT(res.err_code, 0);
    result_cleanup(&res);

    /* Forcing v1 gives the same. */
    struct render_opts v1 = opts_of(RENDER_THINK_REASONING, RENDER_SEARCH_INLINE, RENDER_PROFILE_V1);
    expect_fixture("chat-plain.sse", &v1, PLAIN, "", RENDER_DONE);
}

static const char SEARCH_TEXT[] =
    "根据最新的天气预报，北京今天（10月15日）晴转多云，气温12℃～23℃，北风2～3级，空气质量良。"
    "早晚温差较大，外出建议携带一件外套。";

TEST(chat_multipart_search_inline_lines_footer_and_hidden)
{
    expect_fixture("chat-multipart-search.sse", &O_DEFAULT,
                   "检索 北京天气预报,北京7天天气预报,北京15天天气预报,北京天气查询"
                   "(http://www.weather.com.cn/weather/101010100.shtml) ...\n"
                   "检索 北京今日天气_温度_空气质量(https://tianqi.moji.com/weather/china/beijing/beijing) ...\n"
                   "\n"
                   "根据最新的天气预报，北京今天（10月15日）晴转多云，气温12℃～23℃，北风2～3级，空气质量良。"
                   "早晚温差较大，外出建议携带一件外套。",
                   "", RENDER_DONE);

    struct render_opts footer =
        opts_of(RENDER_THINK_REASONING, RENDER_SEARCH_FOOTER, RENDER_PROFILE_AUTO);
    expect_fixture("chat-multipart-search.sse", &footer,
                   "根据最新的天气预报，北京今天（10月15日）晴转多云，气温12℃～23℃，北风2～3级，空气质量良。"
                   "早晚温差较大，外出建议携带一件外套。\n\n搜索结果来自：\n"
                   "北京天气预报,北京7天天气预报,北京15天天气预报,北京天气查询 - "
                   "http://www.weather.com.cn/weather/101010100.shtml\n"
                   "北京今日天气_温度_空气质量 - https://tianqi.moji.com/weather/china/beijing/beijing",
                   "", RENDER_DONE);

    struct render_opts hidden =
        opts_of(RENDER_THINK_HIDDEN, RENDER_SEARCH_HIDDEN, RENDER_PROFILE_AUTO);
    expect_fixture("chat-multipart-search.sse", &hidden, SEARCH_TEXT, "", RENDER_DONE);
}

static const char THINK_R[] =
    "用户问9.11和9.9哪个大。比较小数：整数部分都是9；小数部分0.11和0.9，0.9即0.90，大于0.11。所以9.9更大。";
static const char THINK_C[] =
    "9.9 比 9.11 大。\n\n整数部分相同（都是 9），再比较小数部分：0.9 = 0.90 > 0.11，所以 9.9 > 9.11。";

TEST(chat_think_as_reasoning_inline_and_hidden)
{
    expect_fixture("chat-think.sse", &O_DEFAULT, THINK_C, THINK_R, RENDER_DONE);

    struct render_opts inl = opts_of(RENDER_THINK_INLINE, RENDER_SEARCH_INLINE, RENDER_PROFILE_AUTO);
    expect_fixture("chat-think.sse", &inl,
                   "<think>\n"
                   "用户问9.11和9.9哪个大。比较小数：整数部分都是9；小数部分0.11和0.9，0.9即0.90，大于0.11。所以9.9更大。"
                   "</think>\n\n"
                   "9.9 比 9.11 大。\n\n整数部分相同（都是 9），再比较小数部分：0.9 = 0.90 > 0.11，所以 9.9 > 9.11。",
                   "", RENDER_DONE);

    struct render_opts hid = opts_of(RENDER_THINK_HIDDEN, RENDER_SEARCH_INLINE, RENDER_PROFILE_AUTO);
    expect_fixture("chat-think.sse", &hid, THINK_C, "", RENDER_DONE);
}

TEST(chat_drawing_image_then_text)
{
    expect_fixture("chat-drawing.sse", &O_DEFAULT,
                   "![图像](https://sfile.chatglm.cn/testpath/df09b07f-9ff9-5d19-a9db-578b116db0bc_0.png)\n"
                   "\n这是我为您创作的可爱猫咪图画，希望您喜欢。",
                   "", RENDER_DONE);
}

TEST(chat_code_interpreter_fence_output_and_text)
{
    expect_fixture("chat-code-interpreter.sse", &O_DEFAULT,
                   "```python\ntotal = sum(range(1, 101))\nprint(total)\n```\n5050\n"
                   "计算结果：1 到 100 的整数之和是 **5050**。",
                   "", RENDER_DONE);
}

TEST(chat_intervene_appends_the_notice_and_is_filtered)
{
    expect_fixture("chat-intervene.sse", &O_DEFAULT,
                   "关于你提到的这个话题，\n\n这个问题我暂时无法回答，让我们换个话题再聊聊吧。", "",
                   RENDER_FILTERED);
    struct result res;
    run_fixture("chat-intervene.sse", &O_DEFAULT, 1, &res);
    CHECK_STR(res.finish, "content_filter");
    CHECK_INT(res.err_code, 0);
    result_cleanup(&res);
}

TEST(chat_file_and_escaped_image_vision_render_their_text)
{
    expect_fixture("chat-file.sse", &O_DEFAULT,
                   "这份文档是《2024年第三季度工作计划》，主要包括三部分内容：\n\n"
                   "1. **目标**：第三季度营收同比增长15%，新增客户200家；\n"
                   "2. **重点任务**：完成新版官网上线、启动华东区域渠道建设、优化售后响应流程；\n"
                   "3. **时间安排**：7月完成方案评审，8月进入执行，9月底进行季度复盘。",
                   "", RENDER_DONE);
    expect_fixture("chat-image-vision.sse", &O_DEFAULT,
                   "图片中是一个蓝色背景下的标志：左侧是由多个蓝色圆点组成的圆形图案，"
                   "右侧是“智谱·AI”四个字，字体为蓝色。",
                   "", RENDER_DONE);
}

TEST(chat_stream_error_keeps_the_partial_text_and_fails)
{
    expect_fixture("chat-stream-error.sse", &O_DEFAULT,
                   "好的，下面我分三点来介绍量子计算的基本原理。首先，", "", RENDER_FAILED);
    struct result res;
    run_fixture("chat-stream-error.sse", &O_DEFAULT, 1, &res);
    CHECK_INT(res.err_code, 10024);
    CHECK_STR(res.err_buf, "generator exit");
    CHECK(res.finish == NULL);
    result_cleanup(&res);
}

TEST(chat_plain_v2_delta_in_auto_and_v2)
{
    expect_fixture("chat-plain-v2-delta.sse", &O_DEFAULT, "1, 2, 3, 4, 5", "", RENDER_DONE);
    struct render_opts v2 = opts_of(RENDER_THINK_REASONING, RENDER_SEARCH_INLINE, RENDER_PROFILE_V2);
    expect_fixture("chat-plain-v2-delta.sse", &v2, "1, 2, 3, 4, 5", "", RENDER_DONE);

    struct result res;
    run_fixture("chat-plain-v2-delta.sse", &O_DEFAULT, 0, &res);
    CHECK_STR(res.conv, "6ab760971b267619c4006b1a");
    CHECK_INT(res.frames, 13);
    result_cleanup(&res);
}

/* ---- v1 fixtures rewritten as v2 ---- */

struct prev_value {
    char key[200];
    char *value;
};

/* The value kept under key, a new empty one the first time. */
static struct prev_value *prev_of(struct prev_value *prev, size_t *nprev, const char *key)
{
    for (size_t k = 0; k < *nprev; k++)
        if (!strcmp(prev[k].key, key))
            return &prev[k];
    struct prev_value *pv = &prev[(*nprev)++];
    snprintf(pv->key, sizeof(pv->key), "%s", key);
    pv->value = strdup("");
    return pv;
}

/* Rewrites one v1 frame: inside init parts, text/think/code values become
 * the delta from that item's previous value; finish parts stay full. */
static char *frame_to_v2(const char *frame, struct prev_value *prev, size_t *nprev)
{
    json_error_t err;
    json_t *root = json_loads(frame, 0, &err);
    json_t *parts = json_object_get(root, "parts"), *part;
    size_t i;

    CHECK(root != NULL);
    json_array_foreach(parts, i, part) {
        const char *st = json_string_value(json_object_get(part, "status"));
        const char *lid = json_string_value(json_object_get(part, "logic_id"));
        json_t *content = json_object_get(part, "content"), *item;
        size_t j;
        json_array_foreach(content, j, item) {
            const char *type = json_string_value(json_object_get(item, "type"));
            const char *field = NULL;
            if (!type)
                continue;
            if (!strcmp(type, "text") || !strcmp(type, "text_thinking"))
                field = "text";
            else if (!strcmp(type, "think"))
                field = "think";
            else if (!strcmp(type, "code"))
                field = "code";
            if (!field)
                continue;
            const char *v = json_string_value(json_object_get(item, field));
            char key[200];
            snprintf(key, sizeof(key), "%s#%zu", lid ? lid : "", j);
            struct prev_value *pv = prev_of(prev, nprev, key);
            char *full = strdup(v);
            size_t pl = strlen(pv->value);
            if (st && !strcmp(st, "init") && !strncmp(full, pv->value, pl))
                json_object_set_new(item, field, json_string(full + pl));
            free(pv->value);
            pv->value = full;
        }
    }
    char *out = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    return out;
}

struct frame_list {
    char *frames[64];
    size_t n;
};

static int collect_cb(void *arg, const char *event, const char *data, size_t n)
{
    struct frame_list *fl = arg;
    (void)event;
    (void)n;
    if (fl->n < N(fl->frames))
        fl->frames[fl->n++] = strdup(data);
    return 0;
}

static void frames_of(const char *name, struct frame_list *fl)
{
    char path[256];
    size_t n;
    snprintf(path, sizeof(path), "tests/fixtures/%s", name);
    char *s = test_read_file(path, &n);
    struct sse_parser *p = sse_parser_new(1u << 20);
    fl->n = 0;
    CHECK(s != NULL);
    if (s)
        CHECK_INT(sse_feed(p, s, n, collect_cb, fl), 0);
    CHECK_INT(sse_finish(p, collect_cb, fl), 0);
    sse_parser_free(p);
    free(s);
}

static void frames_free(struct frame_list *fl)
{
    for (size_t i = 0; i < fl->n; i++)
        free(fl->frames[i]);
    fl->n = 0;
}

TEST(every_v1_fixture_rewritten_as_v2_deltas_renders_the_same)
{
    static const char *const v1[] = {
        "chat-plain.sse", "chat-multipart-search.sse", "chat-think.sse",
        "chat-drawing.sse", "chat-code-interpreter.sse", "chat-intervene.sse",
        "chat-file.sse", "chat-image-vision.sse", "chat-stream-error.sse",
    };
    struct render_opts inl = opts_of(RENDER_THINK_INLINE, RENDER_SEARCH_FOOTER, RENDER_PROFILE_AUTO);
    const struct render_opts *optsv[] = { &O_DEFAULT, &inl };

    for (size_t f = 0; f < N(v1); f++) {
        struct frame_list fl, v2fl;
        struct prev_value prev[16];
        size_t nprev = 0;
        int changed = 0;

        frames_of(v1[f], &fl);
        v2fl.n = fl.n;
        for (size_t i = 0; i < fl.n; i++) {
            v2fl.frames[i] = frame_to_v2(fl.frames[i], prev, &nprev);
            json_t *a = json_loads(fl.frames[i], 0, NULL), *b = json_loads(v2fl.frames[i], 0, NULL);
            if (!json_equal(a, b))
                changed++;
            json_decref(a);
            json_decref(b);
        }
        for (size_t k = 0; k < nprev; k++)
            free(prev[k].value);
        /* The rewrite really made deltas (every fixture streams some text). */
        CHECK(changed >= 1);

        for (size_t o = 0; o < N(optsv); o++) {
            struct result a, b, c;
            run_frames((const char *const *)fl.frames, fl.n, optsv[o], 1, &a);
            run_frames((const char *const *)v2fl.frames, v2fl.n, optsv[o], 1, &b);
            struct render_opts forced = *optsv[o];
            forced.profile = RENDER_PROFILE_V2;
            run_frames((const char *const *)v2fl.frames, v2fl.n, &forced, 1, &c);
            int failed = test_failed_checks;
            CHECK(a.content.len > 0);
            CHECK_STR(buf_cstr(&b.content), buf_cstr(&a.content));
            CHECK_STR(buf_cstr(&b.reasoning), buf_cstr(&a.reasoning));
            CHECK_INT(b.state, a.state);
            CHECK_STR(buf_cstr(&c.content), buf_cstr(&a.content));
            CHECK_STR(buf_cstr(&c.reasoning), buf_cstr(&a.reasoning));
            CHECK(b.takes_valid_utf8 && c.takes_valid_utf8);
            if (test_failed_checks != failed)
                printf("# in %s, options %zu\n", v1[f], o);
            result_cleanup(&a);
            result_cleanup(&b);
            result_cleanup(&c);
        }
        frames_free(&fl);
        frames_free(&v2fl);
    }
}

TEST(v2_lost_deltas_are_repaired_by_the_finish_value)
{
    /* "3" never arrived as a delta; the finish value has it. */
    static const char *const fr[] = {
        "{\"parts\":[{\"logic_id\":\"a\",\"status\":\"init\",\"content\":[{\"type\":\"text\",\"text\":\"1\"}]}]}",
        "{\"parts\":[{\"logic_id\":\"a\",\"status\":\"init\",\"content\":[{\"type\":\"text\",\"text\":\", 2\"}]}]}",
        "{\"parts\":[{\"logic_id\":\"a\",\"status\":\"finish\",\"content\":[{\"type\":\"text\",\"text\":\"1, 2, 3\"}]}]}",
        "{\"status\":\"finish\",\"parts\":[{\"logic_id\":\"a\",\"status\":\"finish\",\"content\":[{\"type\":\"text\",\"text\":\"1, 2, 3\"}]}]}",
    };
    struct result res;
    run_frames(fr, N(fr), &O_DEFAULT, 1, &res);
    CHECK_STR(buf_cstr(&res.content), "1, 2, 3");
    CHECK_INT(res.state, RENDER_DONE);
    result_cleanup(&res);

    /* A finish value that does not continue the text adds nothing. */
    static const char *const fr2[] = {
        "{\"parts\":[{\"logic_id\":\"a\",\"status\":\"init\",\"content\":[{\"type\":\"text\",\"text\":\"abc\"}]}]}",
        "{\"parts\":[{\"logic_id\":\"a\",\"status\":\"finish\",\"content\":[{\"type\":\"text\",\"text\":\"xyz\"}]}]}",
        "{\"status\":\"finish\",\"parts\":[]}",
    };
    run_frames(fr2, N(fr2), &O_DEFAULT, 1, &res);
    CHECK_STR(buf_cstr(&res.content), "abc");
    result_cleanup(&res);
}

TEST(auto_detection_repeated_value_then_cumulative_or_delta)
{
    /* Same value twice: nothing new, still undecided; then it grows. */
    static const char *const cum[] = {
        "{\"parts\":[{\"logic_id\":\"a\",\"status\":\"init\",\"content\":[{\"type\":\"text\",\"text\":\"ab\"}]}]}",
        "{\"parts\":[{\"logic_id\":\"a\",\"status\":\"init\",\"content\":[{\"type\":\"text\",\"text\":\"ab\"}]}]}",
        "{\"parts\":[{\"logic_id\":\"a\",\"status\":\"init\",\"content\":[{\"type\":\"text\",\"text\":\"abc\"}]}]}",
        "{\"parts\":[{\"logic_id\":\"a\",\"status\":\"init\",\"content\":[{\"type\":\"text\",\"text\":\"abcd\"}]}]}",
    };
    struct result res;
    run_frames(cum, N(cum), &O_DEFAULT, 1, &res);
    CHECK_STR(buf_cstr(&res.content), "abcd");
    CHECK_INT(res.state, RENDER_TRUNCATED);
    CHECK(res.finish == NULL);
    result_cleanup(&res);

    static const char *const del[] = {
        "{\"parts\":[{\"logic_id\":\"a\",\"status\":\"init\",\"content\":[{\"type\":\"text\",\"text\":\"ab\"}]}]}",
        "{\"parts\":[{\"logic_id\":\"a\",\"status\":\"init\",\"content\":[{\"type\":\"text\",\"text\":\"cd\"}]}]}",
        /* Locked to deltas: a value that happens to extend the text is still a delta. */
        "{\"parts\":[{\"logic_id\":\"a\",\"status\":\"init\",\"content\":[{\"type\":\"text\",\"text\":\"abcde\"}]}]}",
    };
    run_frames(del, N(del), &O_DEFAULT, 1, &res);
    CHECK_STR(buf_cstr(&res.content), "abcdabcde");
    result_cleanup(&res);

    /* Parts without logic_id are told apart by id and position. */
    static const char *const noid[] = {
        "{\"parts\":[{\"id\":\"m\",\"status\":\"init\",\"content\":[{\"type\":\"text\",\"text\":\"x\"}]},"
        "{\"id\":\"m\",\"status\":\"init\",\"content\":[{\"type\":\"text\",\"text\":\"y\"}]}]}",
        "{\"parts\":[{\"id\":\"m\",\"status\":\"init\",\"content\":[{\"type\":\"text\",\"text\":\"x1\"}]},"
        "{\"id\":\"m\",\"status\":\"init\",\"content\":[{\"type\":\"text\",\"text\":\"y\"}]}]}",
    };
    run_frames(noid, N(noid), &O_DEFAULT, 1, &res);
    /* x, then y as a second text part ("\n" between), then x1's "1". */
    CHECK_STR(buf_cstr(&res.content), "x\ny\n1");
    result_cleanup(&res);
}

/* ---- images ---- */

#define IMG_FRAME(n) \
    "{\"status\":\"init\",\"parts\":[{\"logic_id\":\"d\",\"status\":\"init\",\"content\":" \
    "[{\"type\":\"image\",\"image\":[{\"image_url\":\"https://sfile.chatglm.cn/testpath/h_" n "_0.jpg\"}]}]}]}"

TEST(v2_multi_image_drawing_renders_each_image_once)
{
    static const char *const fr[] = {
        "{\"conversation_id\":\"c1\",\"status\":\"init\",\"parts\":[{\"logic_id\":\"d\",\"status\":\"init\","
        "\"content\":[{\"type\":\"text\",\"text\":\"\"}]}]}",
        IMG_FRAME("3"), IMG_FRAME("0"), IMG_FRAME("1"), IMG_FRAME("2"),
        "{\"status\":\"finish\",\"meta_data\":{\"answer_type\":\"multi\"},\"parts\":[{\"logic_id\":\"d\","
        "\"status\":\"finish\",\"content\":[{\"type\":\"one_to_more_finish\",\"image\":[{}]}]}]}",
    };
    static const char want[] =
        "![图像](https://sfile.chatglm.cn/testpath/h_3_0.jpg)\n"
        "![图像](https://sfile.chatglm.cn/testpath/h_0_0.jpg)\n"
        "![图像](https://sfile.chatglm.cn/testpath/h_1_0.jpg)\n"
        "![图像](https://sfile.chatglm.cn/testpath/h_2_0.jpg)\n";
    struct result res;
    run_frames(fr, N(fr), &O_DEFAULT, 1, &res);
    CHECK_STR(buf_cstr(&res.content), want);
    CHECK_INT(res.state, RENDER_DONE);
    CHECK_STR(res.conv, "c1");
    result_cleanup(&res);

    /* The same images sent again (cumulative lists, a finish listing all,
     * another part repeating one) still appear once each. */
    static const char *const fr2[] = {
        IMG_FRAME("3"), IMG_FRAME("3"),
        "{\"parts\":[{\"logic_id\":\"d\",\"status\":\"init\",\"content\":[{\"type\":\"image\",\"image\":["
        "{\"image_url\":\"https://sfile.chatglm.cn/testpath/h_3_0.jpg\"},"
        "{\"image_url\":\"https://sfile.chatglm.cn/testpath/h_0_0.jpg\"}]}]}]}",
        "{\"parts\":[{\"logic_id\":\"e\",\"status\":\"finish\",\"content\":[{\"type\":\"image\",\"image\":["
        "{\"image_url\":\"https://sfile.chatglm.cn/testpath/h_0_0.jpg\"},"
        "{\"image_url\":\"https://sfile.chatglm.cn/testpath/h_1_0.jpg\"},"
        "{\"image_url\":\"ftp://x/y.png\"},{\"image_url\":5},{},"
        "{\"image_url\":\"https://sfile.chatglm.cn/testpath/h_2_0.jpg\"}]}]}]}",
        "{\"status\":\"finish\",\"parts\":[]}",
    };
    run_frames(fr2, N(fr2), &O_DEFAULT, 1, &res);
    CHECK_STR(buf_cstr(&res.content), want);
    result_cleanup(&res);
}

/* ---- citation markers ---- */

/* One text part whose cumulative value is cut at the given byte offsets;
 * then the whole text, in a finished part followed by the terminal frame
 * (finish) or in one more init frame and render_end (!finish). */
static void run_text_cuts(const char *text, const size_t *cuts, size_t ncuts, int finish,
                          struct result *res)
{
    char *frames[16];
    size_t n = 0;
    json_t *v;

    for (size_t i = 0; i <= ncuts && i < 14; i++) {
        size_t len = i < ncuts ? cuts[i] : strlen(text);
        const char *st = i < ncuts || !finish ? "init" : "finish";
        v = json_pack("{s:[{s:s,s:s,s:[{s:s,s:s%}]}]}", "parts", "logic_id", "t", "status", st,
                      "content", "type", "text", "text", text, len);
        frames[n++] = json_dumps(v, JSON_COMPACT);
        json_decref(v);
    }
    if (finish) {
        v = json_pack("{s:s,s:[]}", "status", "finish", "parts");
        frames[n++] = json_dumps(v, JSON_COMPACT);
        json_decref(v);
    }
    run_frames((const char *const *)frames, n, &O_DEFAULT, 1, res);
    CHECK_INT(res->state, finish ? RENDER_DONE : RENDER_TRUNCATED);
    for (size_t i = 0; i < n; i++)
        free(frames[i]);
}

TEST(a_citation_marker_split_across_frames_is_removed)
{
    static const char *const fr[] = {
        "{\"parts\":[{\"logic_id\":\"t\",\"status\":\"init\",\"content\":[{\"type\":\"text\",\"text\":\"良【0†source\"}]}]}",
        "{\"parts\":[{\"logic_id\":\"t\",\"status\":\"init\",\"content\":[{\"type\":\"text\",\"text\":\"良【0†source】。好\"}]}]}",
    };
    struct render *r = render_new(&O_DEFAULT);
    const char *c, *rs;
    size_t cn, rn;
    CHECK_INT(render_frame(r, fr[0], strlen(fr[0])), 0);
    render_take(r, &c, &cn, &rs, &rn);
    CHECK_STR(c, "良");     /* the possible marker is held back */
    CHECK_INT(cn, strlen("良"));
    CHECK_INT(render_frame(r, fr[1], strlen(fr[1])), 0);
    render_take(r, &c, &cn, &rs, &rn);
    CHECK_STR(c, "。好");
    render_free(r);

    /* Every cut of a text with markers (one or two cuts at any character
     * boundary) gives the same answer. */
    static const char text[] = "晴【0†source】。外套【1†来源】，[turn0search1]天【turn2fetch13]x"
                               "【3†source,p1-2】!【turn0click1】";
    static const char want[] = "晴。外套，天x!";
    size_t len = strlen(text);
    int bad = 0;
    for (size_t a = 1; a < len; a++) {
        if (((unsigned char)text[a] & 0xc0) == 0x80)
            continue;
        for (size_t b = a; b < len; b++) {
            if (((unsigned char)text[b] & 0xc0) == 0x80)
                continue;
            size_t cuts[2] = { a, b };
            struct result res;
            run_text_cuts(text, cuts, 2, 1, &res);
            if (strcmp(buf_cstr(&res.content), want) != 0 || !res.takes_valid_utf8) {
                if (!bad)
                    printf("# cut %zu %zu: \"%s\"\n", a, b, buf_cstr(&res.content));
                bad++;
            }
            result_cleanup(&res);
        }
    }
    CHECK_INT(bad, 0);
}

TEST(turn_markers_in_both_bracket_styles_are_removed)
{
    static const size_t none[1] = { 0 };
    struct result res;
    run_text_cuts("北京【turn0search1】天气[turn0search1]晴[turn12find3】。", none, 0, 1, &res);
    CHECK_STR(buf_cstr(&res.content), "北京天气晴。");
    result_cleanup(&res);
}

TEST(text_that_only_looks_like_a_marker_is_kept)
{
    static const char *const keep[] = {
        "【注意】[链接](https://x)【0】【0†a【1†b】[turn0look1]【turn0search】[tur",
        "【1†未闭合的标记",
        "[turn1search2",
        "【",
        "[",
    };
    static const char *const want[] = {
        "【注意】[链接](https://x)【0】【0†a[turn0look1]【turn0search】[tur",
        "【1†未闭合的标记",
        "[turn1search2",
        "【",
        "[",
    };
    for (size_t i = 0; i < N(keep); i++) {
        struct result res;
        run_text_cuts(keep[i], NULL, 0, 1, &res);
        CHECK_STR(buf_cstr(&res.content), want[i]);
        result_cleanup(&res);
        /* The same without a part finish or terminal frame: render_end flushes. */
        run_text_cuts(keep[i], NULL, 0, 0, &res);
        CHECK_STR(buf_cstr(&res.content), want[i]);
        result_cleanup(&res);
    }
    /* Held text of an unfinished part comes out at render_end. */
    static const char *const fr[] = {
        "{\"parts\":[{\"logic_id\":\"t\",\"status\":\"init\",\"content\":[{\"type\":\"text\",\"text\":\"a【1†b\"}]}]}",
    };
    struct result res;
    run_frames(fr, 1, &O_DEFAULT, 1, &res);
    CHECK_STR(buf_cstr(&res.content), "a【1†b");
    CHECK_INT(res.state, RENDER_TRUNCATED);
    result_cleanup(&res);
}

TEST(a_lone_bracket_followed_by_more_than_64_bytes_is_released_unchanged)
{
    /* "【1†" then 70 bytes without a closing bracket, one byte per frame. */
    char text[128];
    snprintf(text, sizeof(text), "x【1†%s", "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijklmnopqr");
    size_t len = strlen(text);
    struct render *r = render_new(&O_DEFAULT);
    struct buf all;
    buf_init(&all, 1024);
    size_t max_pending = 0;
    for (size_t k = 1; k <= len; k++) {
        if (k < len && ((unsigned char)text[k] & 0xc0) == 0x80)
            continue;   /* only cut at character boundaries */
        json_t *v = json_pack("{s:[{s:s,s:s,s:[{s:s,s:s%}]}]}", "parts", "logic_id", "t", "status",
                              "init", "content", "type", "text", "text", text, k);
        char *f = json_dumps(v, JSON_COMPACT);
        CHECK_INT(render_frame(r, f, strlen(f)), 0);
        free(f);
        json_decref(v);
        const char *c, *rs;
        size_t cn, rn;
        render_take(r, &c, &cn, &rs, &rn);
        CHECK(buf_append(&all, c, cn) == 0);
        size_t pending = k - all.len;
        if (pending > max_pending)
            max_pending = pending;
    }
    /* Released before the end of the answer, and never more than 64 held. */
    CHECK_STR(buf_cstr(&all), text);
    CHECK(max_pending <= 64);
    CHECK(max_pending >= 60);
    buf_cleanup(&all);
    render_free(r);
}

/* ---- separators ---- */

TEST(separators_between_text_parts_images_and_search_lines)
{
    static const char *const fr[] = {
        "{\"parts\":[{\"logic_id\":\"a\",\"status\":\"finish\",\"content\":[{\"type\":\"text\",\"text\":\"abc\"}]}]}",
        "{\"parts\":[{\"logic_id\":\"b\",\"status\":\"finish\",\"content\":[{\"type\":\"text\",\"text\":\"def\\n\"}]}]}",
        "{\"parts\":[{\"logic_id\":\"c\",\"status\":\"finish\",\"content\":[{\"type\":\"text\",\"text\":\"ghi\"}]}]}",
        "{\"parts\":[{\"logic_id\":\"d\",\"status\":\"finish\",\"content\":[{\"type\":\"image\",\"image\":[{\"image_url\":\"http://i/1.png\"}]}]}]}",
        "{\"parts\":[{\"logic_id\":\"e\",\"status\":\"finish\",\"content\":[{\"type\":\"text\",\"text\":\"jkl\"}]}]}",
        "{\"parts\":[{\"logic_id\":\"f\",\"status\":\"finish\",\"meta_data\":{\"metadata_list\":[{\"title\":\"T\",\"url\":\"http://u\"}]},\"content\":[{\"type\":\"quote_result\"}]}]}",
        "{\"parts\":[{\"logic_id\":\"g\",\"status\":\"finish\",\"content\":[{\"type\":\"text\",\"text\":\"mno\"}]}]}",
        "{\"parts\":[{\"logic_id\":\"h\",\"status\":\"finish\",\"content\":[{\"type\":\"code\",\"code\":\"x=1\"}]}]}",
        "{\"parts\":[{\"logic_id\":\"i\",\"status\":\"finish\",\"content\":[{\"type\":\"execution_output\",\"content\":\"\\n1\"}]}]}",
        "{\"parts\":[{\"logic_id\":\"j\",\"status\":\"finish\",\"content\":[{\"type\":\"execution_output\",\"content\":\"\\n1\"}]}]}",
        "{\"parts\":[{\"logic_id\":\"k\",\"status\":\"finish\",\"content\":[{\"type\":\"text\",\"text\":\"pqr\"}]}]}",
        "{\"status\":\"finish\",\"parts\":[]}",
    };
    struct result res;
    run_frames(fr, N(fr), &O_DEFAULT, 1, &res);
    CHECK_STR(buf_cstr(&res.content),
              "abc\ndef\nghi\n![图像](http://i/1.png)\n\njkl\n检索 T(http://u) ...\n\nmno\n"
              "```python\nx=1\n```\n1\npqr");
    CHECK_INT(res.state, RENDER_DONE);
    result_cleanup(&res);
}

TEST(a_2026_tool_result_search_part)
{
    static const char *const fr[] = {
        "{\"parts\":[]}",
        "{\"parts\":[{\"logic_id\":\"s\",\"status\":\"init\",\"content\":[{\"type\":\"tool_calls\",\"tool_calls\":{\"name\":\"browser\",\"arguments\":\"search(\\\"x\\\")\"}}]}]}",
        "{\"parts\":[{\"logic_id\":\"r\",\"role\":\"tool\",\"status\":\"finish\",\"meta_data\":{\"tool_result_extra\":{\"search_results\":["
        "{\"title\":\"甲\",\"url\":\"https://a.example/1\",\"match_key\":\"turn0search0\"},"
        "{\"title\":\"乙\",\"url\":\"https://b.example/2\",\"match_key\":\"turn0search1\"}]}},"
        "\"content\":[{\"type\":\"tool_result\"}]}]}",
        "{\"parts\":[{\"logic_id\":\"t\",\"status\":\"init\",\"content\":[{\"type\":\"text\",\"text\":\"答案【turn0search0】\"}]}]}",
        "{\"parts\":[{\"logic_id\":\"t\",\"status\":\"finish\",\"content\":[{\"type\":\"text\",\"text\":\"答案【turn0search0】。\"}]}]}",
        "{\"status\":\"finish\",\"parts\":[{\"logic_id\":\"t\",\"status\":\"finish\",\"content\":[{\"type\":\"text\",\"text\":\"答案【turn0search0】。\"}]}]}",
    };
    struct result res;
    run_frames(fr, N(fr), &O_DEFAULT, 1, &res);
    CHECK_STR(buf_cstr(&res.content),
              "检索 甲(https://a.example/1) ...\n检索 乙(https://b.example/2) ...\n\n答案。");
    result_cleanup(&res);

    struct render_opts footer =
        opts_of(RENDER_THINK_REASONING, RENDER_SEARCH_FOOTER, RENDER_PROFILE_AUTO);
    run_frames(fr, N(fr), &footer, 1, &res);
    CHECK_STR(buf_cstr(&res.content),
              "答案。\n\n搜索结果来自：\n甲 - https://a.example/1\n乙 - https://b.example/2");
    result_cleanup(&res);

    struct render_opts hidden =
        opts_of(RENDER_THINK_REASONING, RENDER_SEARCH_HIDDEN, RENDER_PROFILE_AUTO);
    run_frames(fr, N(fr), &hidden, 1, &res);
    CHECK_STR(buf_cstr(&res.content), "答案。");
    result_cleanup(&res);

    /* No footer unless the answer finishes normally. */
    run_frames(fr, N(fr) - 1, &footer, 1, &res);
    CHECK_STR(buf_cstr(&res.content), "答案。");
    CHECK_INT(res.state, RENDER_TRUNCATED);
    result_cleanup(&res);
}

/* ---- frames that are not frames, ids, terminal states ---- */

TEST(non_json_frames_are_ignored_and_an_empty_parts_frame_is_fine)
{
    struct render *r = render_new(&O_DEFAULT);
    const char *c, *rs;
    size_t cn, rn;

    CHECK_INT(render_frame(r, "ping", 4), 1);
    CHECK_INT(render_frame(r, "[1,2]", 5), 1);
    CHECK_INT(render_frame(r, "", 0), 1);
    CHECK_INT(render_frame(r, "{\"parts\":", 9), 1);
    CHECK_INT(render_frames(r), 0);
    CHECK_STR(render_conversation_id(r), "");
    CHECK_STR(render_assistant_id(r), "");
    const char *f = "{\"conversation_id\":\"cv\",\"assistant_id\":\"as\",\"status\":\"init\",\"parts\":[]}";
    CHECK_INT(render_frame(r, f, strlen(f)), 0);
    CHECK_INT(render_frame(r, "ping", 4), 1);
    CHECK_INT(render_frames(r), 1);
    CHECK_STR(render_conversation_id(r), "cv");
    CHECK_STR(render_assistant_id(r), "as");
    CHECK_INT(render_get_state(r), RENDER_RUNNING);
    CHECK(render_finish_reason(r) == NULL);
    render_take(r, &c, &cn, &rs, &rn);
    CHECK_INT(cn, 0);
    CHECK_INT(rn, 0);
    /* Not a frame: a part that is not an object, content that is not an
     * array, values of the wrong type are all skipped. */
    f = "{\"parts\":[1,{\"logic_id\":\"a\",\"content\":5},{\"logic_id\":\"b\",\"content\":[{\"type\":\"text\",\"text\":7},"
        "{\"type\":3},{\"text\":\"x\"},{\"type\":\"text\",\"text\":\"ok\"}]}]}";
    CHECK_INT(render_frame(r, f, strlen(f)), 0);
    render_take(r, &c, &cn, &rs, &rn);
    CHECK_STR(c, "ok");
    render_free(r);
    render_free(NULL);
}

TEST(frames_after_a_terminal_state_are_ignored_and_truncation_is_reported)
{
    struct frame_list fl;
    frames_of("chat-plain.sse", &fl);
    CHECK_INT(fl.n, 9);

    /* Three frames then the connection closes. */
    struct result res;
    run_frames((const char *const *)fl.frames, 3, &O_DEFAULT, 1, &res);
    CHECK_STR(buf_cstr(&res.content), "你好！我是智谱清言");
    CHECK_INT(res.state, RENDER_TRUNCATED);
    CHECK(res.finish == NULL);
    result_cleanup(&res);

    /* After the finish frame, more frames change nothing. */
    const char *more[11];
    for (size_t i = 0; i < fl.n; i++)
        more[i] = fl.frames[i];
    more[9] = "{\"status\":\"init\",\"parts\":[{\"logic_id\":\"z\",\"status\":\"init\",\"content\":[{\"type\":\"text\",\"text\":\"late\"}]}]}";
    more[10] = "{\"status\":\"error\",\"error\":{\"error_code\":1,\"err_msg\":\"x\"}}";
    run_frames(more, 11, &O_DEFAULT, 1, &res);
    CHECK_STR(buf_cstr(&res.content), PLAIN);
    CHECK_INT(res.state, RENDER_DONE);
    CHECK_STR(res.finish, "stop");
    CHECK_INT(res.frames, 11);
    result_cleanup(&res);

    /* An error without details, and an inline think block closed at the end. */
    static const char *const fr[] = {
        "{\"parts\":[{\"logic_id\":\"k\",\"status\":\"init\",\"content\":[{\"type\":\"think\",\"think\":\"hm\"}]}]}",
        "{\"status\":\"error\",\"last_error\":{\"error_code\":10025,\"err_msg\":\"internal server error\"}}",
    };
    struct render_opts inl = opts_of(RENDER_THINK_INLINE, RENDER_SEARCH_INLINE, RENDER_PROFILE_AUTO);
    run_frames(fr, N(fr), &inl, 1, &res);
    CHECK_STR(buf_cstr(&res.content), "<think>\nhm</think>\n\n");
    CHECK_INT(res.state, RENDER_FAILED);
    CHECK_INT(res.err_code, 10025);
    CHECK_STR(res.err_buf, "internal server error");
    result_cleanup(&res);
    run_frames(fr, 1, &inl, 1, &res);
    CHECK_STR(buf_cstr(&res.content), "<think>\nhm</think>\n\n");
    CHECK_INT(res.state, RENDER_TRUNCATED);
    result_cleanup(&res);
    frames_free(&fl);
}

TEST(a_part_with_status_intervene_filters_the_answer)
{
    static const char *const fr[] = {
        "{\"parts\":[{\"logic_id\":\"a\",\"status\":\"init\",\"content\":[{\"type\":\"text\",\"text\":\"abc\"}]}]}",
        ("{\"status\":\"init\",\"parts\":[{\"logic_id\":\"a\",\"status\":\"intervene\",\"content\":[{\"type\":\"text\",\"text\":\"abcd\"}],"
         "\"error\":{\"intervene_text\":\"不便回答\"}}]}"),
        "{\"status\":\"finish\",\"parts\":[]}",
    };
    struct result res;
    run_frames(fr, N(fr), &O_DEFAULT, 1, &res);
    CHECK_STR(buf_cstr(&res.content), "abcd\n\n不便回答");
    CHECK_INT(res.state, RENDER_FILTERED);
    CHECK_STR(res.finish, "content_filter");
    result_cleanup(&res);

    /* Top-level intervene with no text anywhere: nothing is appended. */
    static const char *const fr2[] = {
        "{\"parts\":[{\"logic_id\":\"a\",\"status\":\"init\",\"content\":[{\"type\":\"text\",\"text\":\"abc\"}]}]}",
        "{\"status\":\"intervene\",\"last_error\":{},\"parts\":[]}",
    };
    run_frames(fr2, N(fr2), &O_DEFAULT, 1, &res);
    CHECK_STR(buf_cstr(&res.content), "abc");
    CHECK_INT(res.state, RENDER_FILTERED);
    result_cleanup(&res);
}

/* ---- UTF-8 and limits ---- */

TEST(astral_characters_are_never_split)
{
    /* Cumulative values cut at every character boundary, as raw UTF-8 and
     * as \u escapes with surrogate pairs. */
    static const char text[] = "a😀b👍🏽c🀄️€ü😁";
    size_t len = strlen(text);
    for (size_t a = 1; a < len; a++) {
        if (((unsigned char)text[a] & 0xc0) == 0x80)
            continue;
        size_t cuts[1] = { a };
        struct result res;
        run_text_cuts(text, cuts, 1, 1, &res);
        CHECK_STR(buf_cstr(&res.content), text);
        CHECK(res.takes_valid_utf8);
        result_cleanup(&res);
    }
    static const char *const esc[] = {
        "{\"parts\":[{\"logic_id\":\"a\",\"status\":\"init\",\"content\":[{\"type\":\"text\",\"text\":\"\\ud83d\\ude00\"}]}]}",
        "{\"parts\":[{\"logic_id\":\"a\",\"status\":\"init\",\"content\":[{\"type\":\"text\",\"text\":\"\\ud83d\\ude00\\ud83d\\ude01\"}]}]}",
        /* A value that diverges inside a character (😀 and 😁 share 3 bytes)
         * adds nothing, so no half character goes out. */
        "{\"parts\":[{\"logic_id\":\"a\",\"status\":\"init\",\"content\":[{\"type\":\"text\",\"text\":\"\\ud83d\\ude00\\ud83d\\ude00x\"}]}]}",
        "{\"parts\":[{\"logic_id\":\"a\",\"status\":\"init\",\"content\":[{\"type\":\"text\",\"text\":\"\\ud83d\\ude00\\ud83d\\ude01y\"}]}]}",
        /* A lone surrogate is not valid JSON text for jansson: ignored. */
        "{\"parts\":[{\"logic_id\":\"a\",\"status\":\"init\",\"content\":[{\"type\":\"text\",\"text\":\"\\ud83d\"}]}]}",
    };
    struct result res;
    run_frames(esc, N(esc), &O_DEFAULT, 1, &res);
    CHECK_STR(buf_cstr(&res.content), "😀😁y");
    CHECK(res.takes_valid_utf8);
    CHECK_INT(res.not_frames, 1);
    result_cleanup(&res);
}

TEST(max_answer_stops_the_answer_without_cutting_a_character)
{
    struct render_opts o = O_DEFAULT;
    o.max_answer = 20;   /* "你好" is 6 bytes, the next delta "！我是智谱清言" 21 */
    for (int bytewise = 0; bytewise <= 1; bytewise++) {
        struct result res;
        run_fixture("chat-plain.sse", &o, bytewise, &res);
        CHECK_STR(buf_cstr(&res.content), "你好");
        CHECK_INT(res.state, RENDER_TOO_LONG);
        CHECK(res.finish == NULL);
        result_cleanup(&res);
    }
    /* Content and reasoning count together. */
    o.max_answer = strlen(THINK_R) + 10;
    struct result res;
    run_fixture("chat-think.sse", &o, 0, &res);
    CHECK_STR(buf_cstr(&res.reasoning), THINK_R);
    CHECK_STR(buf_cstr(&res.content), "9.9 ");
    CHECK_INT(res.state, RENDER_TOO_LONG);
    result_cleanup(&res);
    /* Exactly the answer's size is enough. */
    o.max_answer = strlen(PLAIN);
    run_fixture("chat-plain.sse", &o, 0, &res);
    CHECK_STR(buf_cstr(&res.content), PLAIN);
    CHECK_INT(res.state, RENDER_DONE);
    result_cleanup(&res);
}

TEST(a_long_cumulative_answer_comes_out_whole_and_once)
{
    /* 1,000 cumulative frames of a 40 KB answer (the real shape, smaller so
     * that it stays quick under ASan). */
    size_t total = 40000, step = 40;
    char *text = malloc(total + 1);
    for (size_t i = 0; i < total; i++)
        text[i] = (char)('a' + i % 26);
    text[total] = '\0';
    struct render *r = render_new(&O_DEFAULT);
    struct buf frame, all;
    buf_init(&frame, 1u << 20);
    buf_init(&all, 1u << 20);
    for (size_t len = step; len <= total; len += step) {
        buf_reset(&frame);
        CHECK(buf_puts(&frame, "{\"parts\":[{\"logic_id\":\"a\",\"status\":\"init\",\"content\":[{\"type\":\"text\",\"text\":\"") == 0);
        CHECK(buf_append(&frame, text, len) == 0);
        CHECK(buf_puts(&frame, "\"}]}]}") == 0);
        CHECK_INT(render_frame(r, frame.data, frame.len), 0);
        const char *c, *rs;
        size_t cn, rn;
        render_take(r, &c, &cn, &rs, &rn);
        CHECK(buf_append(&all, c, cn) == 0);
    }
    CHECK_INT(all.len, total);
    CHECK(memcmp(all.data, text, total) == 0);
    buf_cleanup(&frame);
    buf_cleanup(&all);
    render_free(r);
    free(text);
}

/* ---- the 2026 fixtures: delta, cumulative and whole values (spec 12.7) ---- */

static const char THINK_2026[] =
    "用户问9.11和9.9哪个大。比较小数：整数部分都是9，小数部分0.11和0.90，0.90更大，所以9.9更大。";
static const char TEXT_2026[] = "9.9 比 9.11 大。\n\n整数部分相同，比较小数部分：0.9 = 0.90 > 0.11。";

/* 1 when the frame has a part still "init" (a delta or a snapshot). */
static int has_init_part(const char *frame)
{
    json_t *root = json_loads(frame, 0, NULL), *part;
    size_t i;
    int init = 0;
    json_array_foreach(json_object_get(root, "parts"), i, part) {
        const char *st = json_string_value(json_object_get(part, "status"));
        init |= st && strcmp(st, "init") == 0;
    }
    json_decref(root);
    return init;
}

/* Rewrites one delta frame as cumulative: inside init parts, text and think
 * values become everything so far of that part (prev keeps it). */
static char *frame_to_cumulative(const char *frame, struct prev_value *prev, size_t *nprev)
{
    json_t *root = json_loads(frame, 0, NULL), *part;
    size_t i;
    json_array_foreach(json_object_get(root, "parts"), i, part) {
        const char *st = json_string_value(json_object_get(part, "status"));
        const char *lid = json_string_value(json_object_get(part, "logic_id"));
        json_t *item;
        size_t j;
        json_array_foreach(json_object_get(part, "content"), j, item) {
            const char *type = json_string_value(json_object_get(item, "type"));
            if (!type || (strcmp(type, "text") != 0 && strcmp(type, "think") != 0))
                continue;
            const char *v = json_string_value(json_object_get(item, type));
            char key[200];
            snprintf(key, sizeof(key), "%s#%s", lid ? lid : "", type);
            struct prev_value *pv = prev_of(prev, nprev, key);
            if (st && strcmp(st, "init") == 0) {
                size_t a = strlen(pv->value), b = strlen(v);
                char *full = malloc(a + b + 1);
                memcpy(full, pv->value, a);
                memcpy(full + a, v, b + 1);
                free(pv->value);
                pv->value = full;
                json_object_set_new(item, type, json_string(full));
            }
        }
    }
    char *out = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    return out;
}

TEST(the_2026_values_whole_cumulative_or_delta_give_one_text)
{
    struct frame_list delta, cumul, whole;
    struct prev_value prev[16];
    size_t nprev = 0;
    frames_of("2026-think-delta.sse", &delta);
    CHECK_INT(delta.n, 20);
    cumul.n = whole.n = 0;
    for (size_t i = 0; i < delta.n; i++) {
        cumul.frames[cumul.n++] = frame_to_cumulative(delta.frames[i], prev, &nprev);
        /* The browser's captures: each part once, already finished. */
        if (!has_init_part(delta.frames[i]))
            whole.frames[whole.n++] = strdup(delta.frames[i]);
    }
    for (size_t k = 0; k < nprev; k++)
        free(prev[k].value);
    CHECK(whole.n >= 4 && whole.n < delta.n);
    struct frame_list *lists[] = { &delta, &cumul, &whole };
    const char *names[] = { "delta", "cumulative", "whole" };
    const enum render_profile profiles[] = { RENDER_PROFILE_AUTO, RENDER_PROFILE_V1, RENDER_PROFILE_V2 };
    for (size_t l = 0; l < N(lists); l++)
        for (size_t p = 0; p < N(profiles); p++) {
            /* v1 forced on deltas and v2 forced on snapshots are wrong by design */
            if ((l == 0 && p == 1) || (l == 1 && p == 2))
                continue;
            struct render_opts o = opts_of(RENDER_THINK_REASONING, RENDER_SEARCH_INLINE, profiles[p]);
            struct result res;
            int failed = test_failed_checks;
            run_frames((const char *const *)lists[l]->frames, lists[l]->n, &o, 1, &res);
            CHECK_STR(buf_cstr(&res.content), TEXT_2026);
            CHECK_STR(buf_cstr(&res.reasoning), THINK_2026);
            CHECK_INT(res.state, RENDER_DONE);
            CHECK(res.takes_valid_utf8);
            /* the message id stop_stream and continue_stream name */
            CHECK_STR(res.hid, "6abbb1e1c1d27e5f304a2b11");
            if (test_failed_checks != failed)
                printf("# %s values, profile %zu\n", names[l], p);
            result_cleanup(&res);
        }
    frames_free(&delta);
    frames_free(&cumul);
    frames_free(&whole);
}

TEST(the_2026_search_and_error_fixtures)
{
    /* cumulative, "data:" and two spaces, no event lines: the answer with
     * its citation markers removed, the reasoning whole */
    struct result res;
    struct frame_list fl;
    frames_of("2026-search-cumulative.sse", &fl); /* no event lines: run_fixture wants them */
    CHECK_INT(fl.n, 13);
    run_frames((const char *const *)fl.frames, fl.n, &O_DEFAULT, 1, &res);
    frames_free(&fl);
    CHECK_STR(buf_cstr(&res.reasoning), "用户想知道北京今天的天气，需要联网查最新预报和空气质量。");
    CHECK(strstr(buf_cstr(&res.content),
                 "根据最新预报，北京今天多云转晴，气温18~27℃，北风3级；空气质量良。") != NULL);
    CHECK(strstr(buf_cstr(&res.content), "turn0search") == NULL);
    CHECK_INT(res.state, RENDER_DONE);
    result_cleanup(&res);
    /* deltas cut by 10024: the text so far stands, and the error */
    run_fixture("2026-stream-error.sse", &O_DEFAULT, 0, &res);
    CHECK_STR(buf_cstr(&res.content), "好的，下面分三点介绍量子计算的基本原理。首先，");
    CHECK_STR(buf_cstr(&res.reasoning), "用户想了解量子计算的基本原理，按叠加、纠缠、测量三点讲。");
    CHECK_INT(res.err_code, 10024);
    result_cleanup(&res);
}

TEST_MAIN()
