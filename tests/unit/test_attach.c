/* glm/attach: reading the attachments of a chat request's last message into
 * an upload list (pure; no I/O). */
#include <string.h>

#include <jansson.h>

#include "glm/attach.h"
#include "test.h"

/* A 1x1 PNG. */
static const char PNG_B64[] =
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==";

/* ---- the attachments of a request ------------------------------------- */

static json_t *msgs(const char *json)
{
    json_error_t e;
    json_t *m = json_loads(json, 0, &e);
    if (!m)
        printf("# bad test JSON: %s\n", e.text);
    return m;
}

static struct upload_error perr;

/* Parses and returns the list (NULL on error or none); rc in *rc. */
static struct upload_list *parse(const char *json, size_t max, size_t max_file, int *rc)
{
    json_t *m = msgs(json);
    struct upload_list *l = NULL;
    memset(&perr, 0, sizeof(perr));
    *rc = upload_list_parse(m, max, max_file, &l, &perr);
    json_decref(m);
    return l;
}

TEST(only_the_last_message_is_scanned_and_every_form_is_read)
{
    char json[2048];
    snprintf(json, sizeof(json),
             "[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\",\"image_url\":{\"url\":"
             "\"https://old.example/x.png\"}}]},"
             "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"hi\"},"
             "{\"type\":\"image_url\",\"image_url\":{\"url\":\"https://a.example/1.png\",\"detail\":\"low\"}},"
             "{\"type\":\"image_url\",\"image_url\":\"data:image/png;base64,%s\"},"
             "{\"type\":\"file\",\"file_url\":{\"url\":\"https://a.example/doc.pdf\"}},"
             "{\"type\":\"file\",\"file_url\":\"http://a.example/2.txt\"},"
             "{\"type\":\"file\",\"file\":{\"file_data\":\"data:application/pdf;base64,JVBERi0xLjQ=\","
             "\"filename\":\"r.pdf\"}},"
             "{\"type\":\"file\",\"file\":{\"file_data\":\"aGVsbG8=\",\"filename\":\"h.txt\"}},"
             "{\"type\":\"input_audio\",\"input_audio\":{}}]}]",
             PNG_B64);
    int rc;
    struct upload_list *l = parse(json, 10, 1 << 20, &rc);
    CHECK_INT(rc, 0);
    CHECK_INT(upload_list_len(l), 6);
    upload_list_free(l);

    l = parse("[{\"role\":\"user\",\"content\":\"no parts\"}]", 10, 1 << 20, &rc);
    CHECK_INT(rc, 0);
    CHECK(l == NULL);
    l = parse("[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"x\"}]}]", 10, 1 << 20, &rc);
    CHECK_INT(rc, 0);
    CHECK(l == NULL);
    upload_list_free(NULL);
    CHECK_INT(upload_list_len(NULL), 0);
}

static void expect_error(const char *part, const char *code, const char *in_msg, size_t max,
                         size_t max_file)
{
    char json[2048];
    snprintf(json, sizeof(json),
             "[{\"role\":\"system\",\"content\":\"s\"},{\"role\":\"user\",\"content\":[{\"type\":"
             "\"text\",\"text\":\"x\"},%s]}]",
             part);
    int rc;
    struct upload_list *l = parse(json, max, max_file, &rc);
    CHECK_INT(rc, -1);
    CHECK(l == NULL);
    CHECK_INT(perr.status, 400);
    CHECK_STR(perr.code, code);
    if (!strstr(perr.message, in_msg))
        printf("# message \"%s\" lacks \"%s\"\n", perr.message, in_msg);
    CHECK(strstr(perr.message, in_msg) != NULL);
    CHECK(strstr(perr.param, "messages[1].content[") == perr.param);
}

TEST(bad_attachments_are_400s_naming_the_part)
{
    expect_error("{\"type\":\"image_url\",\"image_url\":{\"url\":\"data:image/png;base64,@@@\"}}",
                 "invalid_base64", "messages[1].content[1]", 10, 1 << 20);
    expect_error("{\"type\":\"image_url\",\"image_url\":{\"url\":\"data:image/png;base64,\"}}",
                 "empty_file", "empty", 10, 1 << 20);
    expect_error("{\"type\":\"file\",\"file_url\":{\"url\":\"data:;base64,AAECAwQF/w==\"}}",
                 "unknown_file_type", "type", 10, 1 << 20);
    expect_error("{\"type\":\"file\",\"file_url\":{\"url\":\"data:text/plain;base64,aGVsbG8gd29ybGQ=\"}}",
                 "file_too_large", "max-file", 10, 5);
    expect_error("{\"type\":\"file\",\"file_url\":{\"url\":\"file:///etc/passwd\"}}", "invalid_url",
                 "file:", 10, 1 << 20);
    expect_error("{\"type\":\"image_url\",\"image_url\":{\"url\":\"gopher://127.0.0.1:70/x\"}}",
                 "invalid_url", "gopher:", 10, 1 << 20);
    expect_error("{\"type\":\"image_url\",\"image_url\":{}}", "invalid_attachment", "image_url", 10,
                 1 << 20);
    expect_error("{\"type\":\"file\",\"file_url\":5}", "invalid_attachment", "file_url", 10, 1 << 20);
    expect_error("{\"type\":\"file\",\"file\":{\"file_id\":\"file-abc\"}}", "invalid_attachment",
                 "file_data", 10, 1 << 20);
    expect_error("{\"type\":\"file\",\"file\":{\"file_data\":\"!!\"}}", "invalid_base64", "base64",
                 10, 1 << 20);
    expect_error("{\"type\":\"file\",\"file_url\":\"https://a/1.txt\"},"
                 "{\"type\":\"file\",\"file_url\":\"https://a/2.txt\"}",
                 "too_many_attachments", "max-attachments", 1, 1 << 20);
}

TEST_MAIN()
