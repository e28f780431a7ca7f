#include "script.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "mock.h"
#include "util/buf.h"
#include "util/xalloc.h"

#define SCRIPT_ANSWER_MAX (64u << 20)

/* Names and conversations: small tables, searched linearly (tests use few). */
static json_t *scripts;       /* name -> {"replies": [...], "next": the next reply's index} */
static json_t *convs;         /* conversation id -> the script's name */

void mock_script_reset(void)
{
    json_decref(scripts);
    json_decref(convs);
    scripts = convs = NULL;
}

void mock_script_handle(struct evhttp_request *req)
{
    json_t *body = mock_body_json(req);
    const char *name = json_string_value(json_object_get(body, "name"));
    json_t *replies = json_object_get(body, "replies");
    if (!name || !*name || strlen(name) > 64 || !json_array_size(replies)) {
        mock_reply_json(req, 400, json_pack("{s:s}", "error",
                                            "expected {\"name\":\"<1-64 chars>\",\"replies\":"
                                            "[{\"think\",\"text\",\"chunk\"}, ...]}"));
        json_decref(body);
        return;
    }
    if (!scripts)
        scripts = json_object();
    if (json_object_size(scripts) >= MOCK_SCRIPTS_MAX && !json_object_get(scripts, name)) {
        mock_reply_json(req, 400, json_pack("{s:s}", "error", "too many scripts; POST /_mock/reset"));
        json_decref(body);
        return;
    }
    json_object_set_new(scripts, name, json_pack("{s:O, s:i}", "replies", replies, "next", 0));
    mock_reply_json(req, 200, json_pack("{s:b}", "ok", 1));
    json_decref(body);
}

int mock_script_of(const char *conv_id, char *out, size_t outsz)
{
    const char *name = json_string_value(json_object_get(convs, conv_id));
    if (!name)
        return 0;
    snprintf(out, outsz, "%s", name);
    return 1;
}

/* Length of the UTF-8 character at s (1 for a stray byte). */
static size_t char_len(const unsigned char *s, size_t n)
{
    size_t k = s[0] < 0x80 ? 1 : s[0] >= 0xF0 ? 4 : s[0] >= 0xE0 ? 3 : s[0] >= 0xC0 ? 2 : 1;
    return k > n ? n : k;
}

/* One frame: a part of the given type with text[0..n), part and top status. */
static int put(struct mock_answer *a, const char *logic, const char *type, const char *text,
               size_t n, const char *pstatus, const char *status)
{
    json_t *parts = json_array();
    if (logic) {
        json_t *item = json_pack("{s:s, s:s%}", "type", type, type, text, n);
        json_array_append_new(parts, json_pack("{s:s, s:s, s:s, s:[o], s:s, s:s}", "id",
                                               mock_generated_msg_id(), "logic_id", logic,
                                               "role", "assistant", "content", item,
                                               "model", "glm-4", "status", pstatus));
    }
    json_t *f = json_pack("{s:s, s:s, s:s, s:o, s:s, s:{}}", "id", mock_generated_msg_id(),
                          "conversation_id", mock_generated_conv_id(), "assistant_id",
                          mock_generated_assistant_id(), "parts", parts, "status", status,
                          "last_error");
    char *data = json_dumps(f, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(f);
    struct buf b;
    buf_init(&b, SCRIPT_ANSWER_MAX);
    int rc = data && buf_printf(&b, "event:message\ndata: %s\n\n", data) == 0
                 ? mock_answer_add_frame(a, b.data, b.len) : -1;
    buf_cleanup(&b);
    free(data);
    return rc;
}

/* The frames of one part: cumulative texts growing by chunk characters. */
static int put_part(struct mock_answer *a, const char *logic, const char *type, const char *text,
                    size_t chunk)
{
    size_t n = strlen(text), at = 0;
    while (at < n) {
        for (size_t c = 0; c < chunk && at < n; c++)
            at += char_len((const unsigned char *)text + at, n - at);
        if (put(a, logic, type, text, at, "init", "init") < 0)
            return -1;
    }
    return put(a, logic, type, text, n, "finish", "init");
}

struct mock_answer *mock_script_answer(const char *name, const char *conv_id, char *err,
                                       size_t errlen)
{
    json_t *sc = json_object_get(scripts, name);
    json_t *replies = json_object_get(sc, "replies");
    if (!replies) {
        snprintf(err, errlen, "unknown script \"%s\" (POST /_mock/script first)", name);
        return NULL;
    }
    if (!convs)
        convs = json_object();
    json_object_set_new(convs, conv_id, json_string(name));
    json_int_t turn = json_integer_value(json_object_get(sc, "next"));
    json_object_set_new(sc, "next", json_integer(turn + 1));
    size_t n = json_array_size(replies);
    json_t *r = json_array_get(replies, (size_t)turn < n ? (size_t)turn : n - 1);
    const char *think = json_string_value(json_object_get(r, "think"));
    const char *text = json_string_value(json_object_get(r, "text"));
    json_int_t chunk = json_integer_value(json_object_get(r, "chunk"));
    size_t ch = chunk > 0 ? (size_t)chunk : (size_t)-1;
    struct mock_answer *a = mock_answer_generated(SCRIPT_ANSWER_MAX);
    int rc = put(a, NULL, NULL, NULL, 0, NULL, "init");
    if (rc == 0 && think && *think)
        rc = put_part(a, "5c1c0000-0000-4000-8000-000000000001", "think", think, ch);
    if (rc == 0)
        rc = put_part(a, "5c1c0000-0000-4000-8000-000000000002", "text", text ? text : "", ch);
    if (rc == 0)
        rc = put(a, "5c1c0000-0000-4000-8000-000000000002", "text", text ? text : "",
                 text ? strlen(text) : 0, "finish", "finish");
    if (rc < 0) {
        snprintf(err, errlen, "script \"%s\" is too big", name);
        mock_answer_unref(a);
        return NULL;
    }
    return a;
}
