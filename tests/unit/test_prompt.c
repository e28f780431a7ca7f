#include <jansson.h>
#include <string.h>

#include "api/chat_req.h"
#include "glm/prompt.h"
#include "test.h"

#define SYS "<|sytstem|>"

/* The JSON messages as a turn, read as the Chat Completions parser reads them
 * (without its check); msgs is kept by the turn. */
static void turn_of(struct turn *t, json_t *msgs)
{
    turn_init(t);
    turn_keep_doc(t, msgs);
    chat_req_messages(t, msgs);
}

/* prompt_merge of JSON messages. */
static int merge_json(json_t *msgs, int passthrough, const char *tag, struct buf *out)
{
    struct turn t;
    turn_of(&t, msgs);
    int rc = prompt_merge(&t, passthrough, tag, out);
    turn_free(&t);
    return rc;
}

/* Whether the last of the JSON messages carries an attachment. */
static int last_has_attachment(json_t *msgs)
{
    struct turn t;
    turn_of(&t, msgs);
    int rc = turn_last_has_attachment(&t);
    turn_free(&t);
    return rc;
}

/* Merges the JSON messages text; returns a static copy of the prompt, or
 * "(error)" when prompt_merge fails. */
static const char *merge(const char *json, int passthrough)
{
    static char result[4096];
    json_error_t err;
    json_t *msgs = json_loads(json, 0, &err);
    if (!msgs)
        return "(bad json)";
    struct buf b;
    buf_init(&b, 1 << 16);
    if (merge_json(msgs, passthrough, SYS, &b) < 0)
        snprintf(result, sizeof(result), "(error)");
    else
        snprintf(result, sizeof(result), "%s", buf_cstr(&b));
    buf_cleanup(&b);
    json_decref(msgs);
    return result;
}

/* prompt_strip on a copy of s. */
static const char *strip(const char *s)
{
    static char result[4096];
    size_t n = strlen(s);
    memcpy(result, s, n + 1);
    size_t m = prompt_strip(result, n);
    result[m] = '\0';
    return result;
}

TEST(spec_example_merges_with_labels_and_attention_message)
{
    const char *json =
        "[{\"role\":\"system\",\"content\":\"你是一个翻译助手\"},"
        "{\"role\":\"user\",\"content\":\"你好\"},"
        "{\"role\":\"assistant\",\"content\":\"你好！有什么可以帮你？\"},"
        "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"把这句话翻译成英文：今天天气很好\"},"
        "{\"type\":\"image_url\",\"image_url\":{\"url\":\"https://example.com/a.png\"}}]}]";
    CHECK_STR(merge(json, 0),
              "<|sytstem|>\n你是一个翻译助手\n"
              "<|user|>\n你好\n"
              "<|assistant|>\n你好！有什么可以帮你？\n"
              "<|sytstem|>\n关注用户最新发送文件和消息\n"
              "<|user|>\n把这句话翻译成英文：今天天气很好\n"
              "<|assistant|>\n");
}

TEST(merge_does_not_mutate_the_input)
{
    json_t *msgs = json_loads("[{\"role\":\"user\",\"content\":\"a\"},"
                              "{\"role\":\"user\",\"content\":[{\"type\":\"file\",\"file_url\":{\"url\":\"x\"}}]}]",
                              0, NULL);
    CHECK(msgs != NULL);
    char *before = json_dumps(msgs, JSON_COMPACT);
    struct buf b;
    buf_init(&b, 4096);
    CHECK_INT(merge_json(msgs, 0, SYS, &b), 0);
    CHECK_STR(buf_cstr(&b), "<|user|>\na\n<|sytstem|>\n关注用户最新发送文件和消息\n<|assistant|>\n");
    char *after = json_dumps(msgs, JSON_COMPACT);
    CHECK_STR(after, before);
    CHECK_INT(json_array_size(msgs), 2);
    free(before);
    free(after);
    buf_cleanup(&b);
    json_decref(msgs);
}

TEST(file_part_triggers_attention_message)
{
    CHECK_STR(merge("[{\"role\":\"user\",\"content\":\"hi\"},"
                    "{\"role\":\"user\",\"content\":[{\"type\":\"file\",\"file_url\":{\"url\":\"u\"}},"
                    "{\"type\":\"text\",\"text\":\"总结\"}]}]", 0),
              "<|user|>\nhi\n<|sytstem|>\n关注用户最新发送文件和消息\n<|user|>\n总结\n<|assistant|>\n");
}

TEST(attachment_in_an_earlier_message_does_not_trigger_attention)
{
    CHECK_STR(merge("[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\",\"image_url\":{\"url\":\"u\"}},"
                    "{\"type\":\"text\",\"text\":\"看图\"}]},"
                    "{\"role\":\"user\",\"content\":\"然后呢\"}]", 0),
              "<|user|>\n看图\n<|user|>\n然后呢\n<|assistant|>\n");
}

TEST(roles_get_their_labels_and_others_pass_through)
{
    CHECK_STR(merge("[{\"role\":\"developer\",\"content\":\"d\"},"
                    "{\"role\":\"user\",\"content\":\"u\"},"
                    "{\"role\":\"tool\",\"content\":\"t\"},"
                    "{\"role\":\"assistant\",\"content\":\"a\"}]", 0),
              "<|sytstem|>\nd\n<|user|>\nu\ntool\nt\n<|assistant|>\na\n<|assistant|>\n");
}

TEST(system_tag_comes_from_the_caller)
{
    json_t *msgs = json_loads("[{\"role\":\"system\",\"content\":\"s\"},{\"role\":\"user\",\"content\":\"u\"}]",
                              0, NULL);
    struct buf b;
    buf_init(&b, 4096);
    CHECK_INT(merge_json(msgs, 0, "<|system|>", &b), 0);
    CHECK_STR(buf_cstr(&b), "<|system|>\ns\n<|user|>\nu\n<|assistant|>\n");
    buf_cleanup(&b);
    json_decref(msgs);
}

TEST(array_content_labels_every_text_part_and_skips_the_rest)
{
    CHECK_STR(merge("[{\"role\":\"system\",\"content\":\"s\"},"
                    "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"one\"},"
                    "{\"type\":\"text\"},{\"type\":\"text\",\"text\":5},{\"type\":\"input_audio\"},"
                    "{\"type\":\"text\",\"text\":\"two\"}]}]", 0),
              "<|sytstem|>\ns\n<|user|>\none\n<|user|>\ntwo\n<|assistant|>\n");
}

TEST(null_content_adds_nothing)
{
    CHECK_STR(merge("[{\"role\":\"user\",\"content\":\"q\"},"
                    "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[]},"
                    "{\"role\":\"user\",\"content\":\"r\"}]", 0),
              "<|user|>\nq\n<|user|>\nr\n<|assistant|>\n");
}

TEST(merge_strips_images_and_sandbox_paths)
{
    CHECK_STR(merge("[{\"role\":\"user\",\"content\":\"draw\"},"
                    "{\"role\":\"assistant\",\"content\":\"![图像](https://x/y.png)\\n好的 /mnt/data/out.png 已保存\"}]",
                    0),
              "<|user|>\ndraw\n<|assistant|>\n\n好的 \n<|assistant|>\n");
}

TEST(passthrough_concatenates_contents_without_labels_or_stripping)
{
    CHECK_STR(merge("[{\"role\":\"system\",\"content\":\"s ![a](b)\"},"
                    "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"t /mnt/data/x\"},"
                    "{\"type\":\"image_url\",\"image_url\":{\"url\":\"u\"}},{\"type\":\"text\",\"text\":\"v\"}]},"
                    "{\"role\":\"assistant\",\"content\":null}]", 1),
              "s ![a](b)\nt /mnt/data/x\nv\n");
    CHECK_STR(merge("[{\"role\":\"user\",\"content\":\"只有一条\"}]", 1), "只有一条\n");
    CHECK_STR(merge("[]", 1), "");
}

TEST(merge_appends_to_existing_buffer_contents)
{
    json_t *msgs = json_loads("[{\"role\":\"user\",\"content\":\"![a](b)\"}]", 0, NULL);
    struct buf b;
    buf_init(&b, 4096);
    CHECK_INT(buf_puts(&b, "keep ![x](y)"), 0);
    CHECK_INT(merge_json(msgs, 0, SYS, &b), 0);
    /* Only the appended part is stripped. */
    CHECK_STR(buf_cstr(&b), "keep ![x](y)<|user|>\n\n<|assistant|>\n");
    CHECK_INT(b.len, strlen(buf_cstr(&b)));
    buf_cleanup(&b);
    json_decref(msgs);
}

TEST(merge_keeps_embedded_nul_bytes_of_content)
{
    json_t *msgs = json_loads("[{\"role\":\"user\",\"content\":\"a\\u0000b\"}]", JSON_ALLOW_NUL, NULL);
    CHECK(msgs != NULL);
    struct buf b;
    buf_init(&b, 4096);
    CHECK_INT(merge_json(msgs, 1, SYS, &b), 0);
    CHECK_INT(b.len, 4);
    CHECK(memcmp(b.data, "a\0b\n", 4) == 0);
    buf_cleanup(&b);
    json_decref(msgs);
}

TEST(buffer_cap_fails_and_leaves_buffer_unchanged)
{
    json_t *msgs = json_loads("[{\"role\":\"user\",\"content\":\"0123456789\"},"
                              "{\"role\":\"assistant\",\"content\":\"0123456789\"}]", 0, NULL);
    struct buf b;
    buf_init(&b, 30);
    CHECK_INT(buf_puts(&b, "head"), 0);
    CHECK_INT(merge_json(msgs, 0, SYS, &b), -1);
    CHECK_INT(b.len, 4);
    CHECK_STR(buf_cstr(&b), "head");
    buf_cleanup(&b);
    /* The exact fit succeeds: 4 + 8+1+10+1 + 13+1+10+1 + 14 = 63. */
    buf_init(&b, 63);
    CHECK_INT(buf_puts(&b, "head"), 0);
    CHECK_INT(merge_json(msgs, 0, SYS, &b), 0);
    CHECK_INT(b.len, 63);
    buf_cleanup(&b);
    buf_init(&b, 62);
    CHECK_INT(buf_puts(&b, "head"), 0);
    CHECK_INT(merge_json(msgs, 0, SYS, &b), -1);
    buf_cleanup(&b);
    json_decref(msgs);
}

TEST(last_has_attachment)
{
    json_t *m;
    m = json_loads("[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\",\"image_url\":{\"url\":\"u\"}}]}]", 0, NULL);
    CHECK(last_has_attachment(m));
    json_decref(m);
    m = json_loads("[{\"role\":\"user\",\"content\":[{\"type\":\"file\"}]},{\"role\":\"user\",\"content\":\"x\"}]", 0, NULL);
    CHECK(!last_has_attachment(m));
    json_decref(m);
    m = json_loads("[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"file\"}]}]", 0, NULL);
    CHECK(!last_has_attachment(m));
    json_decref(m);
    m = json_loads("[]", 0, NULL);
    CHECK(!last_has_attachment(m));
    json_decref(m);
    CHECK(!last_has_attachment(NULL));
}

TEST(strip_removes_a_markdown_image)
{
    CHECK_STR(strip("before ![图像](https://a/b.png) after"), "before  after");
    CHECK_STR(strip("![a](b)"), "");
    CHECK_STR(strip("x![a](b)"), "x");
}

TEST(strip_is_greedy_to_the_last_image_on_a_line)
{
    /* From the first "![" to the last ")" of the line, the text between included. */
    CHECK_STR(strip("a ![x](1) mid ![y](2) z"), "a  z");
    CHECK_STR(strip("a ![x](1) mid ![y](2) z (note)"), "a ");
    CHECK_STR(strip("![x](1)\n![y](2)"), "\n");
}

TEST(strip_needs_a_character_in_each_bracket)
{
    CHECK_STR(strip("![](b)"), "![](b)");
    CHECK_STR(strip("![a]()"), "![a]()");
    CHECK_STR(strip("![](b)![a]()"), "![](b)![a]()");
    /* The ")" of "()" sits inside the second ".+" of a wider match. */
    CHECK_STR(strip("![a]()x)"), "");
    CHECK_STR(strip("![]a](b)"), "");
    CHECK_STR(strip("![a]((b)"), "");
}

TEST(strip_leaves_unclosed_images)
{
    CHECK_STR(strip("![a](b"), "![a](b");
    CHECK_STR(strip("![a] (b)"), "![a] (b)");
    CHECK_STR(strip("!a](b)"), "!a](b)");
    CHECK_STR(strip("! [a](b)"), "! [a](b)");
    CHECK_STR(strip("![a(b)"), "![a(b)");
}

TEST(strip_never_crosses_a_line)
{
    CHECK_STR(strip("![a\n](b)"), "![a\n](b)");
    CHECK_STR(strip("![a](\nb)"), "![a](\nb)");
    CHECK_STR(strip("![a](b\n)"), "![a](b\n)");
    CHECK_STR(strip("![a]\r(b)"), "![a]\r(b)");
    /* U+2028 and U+2029 end a line for a JavaScript ".". */
    CHECK_STR(strip("![a\xe2\x80\xa8](b)"), "![a\xe2\x80\xa8](b)");
    CHECK_STR(strip("![a](b\xe2\x80\xa9)"), "![a](b\xe2\x80\xa9)");
    /* Other three-byte characters are ordinary. */
    CHECK_STR(strip("![\xe2\x80\xa7](b)"), "");
}

TEST(strip_uses_the_leftmost_image_start_that_matches)
{
    CHECK_STR(strip("!![a](b)"), "!");
    CHECK_STR(strip("![![a](b)"), "");
    CHECK_STR(strip("x ![ ![a](b)"), "x ");
}

TEST(strip_removes_sandbox_paths_to_end_of_line)
{
    CHECK_STR(strip("saved to /mnt/data/out.png ok\nnext"), "saved to \nnext");
    CHECK_STR(strip("/mnt/data/a\n/mnt/data/b"), "\n");
    CHECK_STR(strip("x/mnt/data/mnt/data/y"), "x");
}

TEST(strip_keeps_a_sandbox_prefix_with_nothing_after_it)
{
    CHECK_STR(strip("path /mnt/data/"), "path /mnt/data/");
    CHECK_STR(strip("path /mnt/data/\nnext"), "path /mnt/data/\nnext");
    CHECK_STR(strip("/mnt/data"), "/mnt/data");
    CHECK_STR(strip("/mnt/datax/y"), "/mnt/datax/y");
}

TEST(strip_runs_images_before_sandbox_paths)
{
    /* Removing the image joins "/mnt/da" and "ta/x" into a sandbox path. */
    CHECK_STR(strip("k /mnt/da![i](u)ta/x"), "k ");
    /* A sandbox path before an image on the same line takes the image too. */
    CHECK_STR(strip("/mnt/data/f ![a](b) tail"), "");
}

TEST(strip_of_plain_text_changes_nothing)
{
    CHECK_STR(strip(""), "");
    CHECK_STR(strip("你好\n世界 [link](url) !important"), "你好\n世界 [link](url) !important");
}

TEST(strip_returns_the_new_length_and_terminates)
{
    char s[] = "ab![c](d)ef";
    size_t n = prompt_strip(s, strlen(s));
    CHECK_INT(n, 4);
    CHECK_STR(s, "abef");
}

TEST(conversation_id_needs_24_alphanumerics_in_a_row)
{
    CHECK(prompt_conversation_id_valid("65940acff94777010aa6b796"));
    CHECK(prompt_conversation_id_valid("ABCDEFGHIJKLMNOPQRSTUVWX"));
    CHECK(prompt_conversation_id_valid("--65940acff94777010aa6b796--"));
    CHECK(prompt_conversation_id_valid("x-65940acff94777010aa6b79612345"));
    CHECK(!prompt_conversation_id_valid("65940acff94777010aa6b79"));
    CHECK(!prompt_conversation_id_valid("65940acff9477-7010aa6b796"));
    CHECK(!prompt_conversation_id_valid("65940acff94777010aa6b79_"));
    CHECK(!prompt_conversation_id_valid(""));
    CHECK(!prompt_conversation_id_valid(NULL));
}

TEST_MAIN()
