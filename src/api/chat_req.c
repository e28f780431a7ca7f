#include "api/chat_req.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "glm/models.h"
#include "glm/prompt.h"

static int refuse(struct api_error *err, const char *param, const char *code,
                  const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int refuse(struct api_error *err, const char *param, const char *code,
                  const char *fmt, ...)
{
    char msg[sizeof(err->message)];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    api_error_set(err, 400, NULL, code, param, "%s", msg);
    return -1;
}

/* An absent field or null counts as not given. */
static int given(const json_t *v)
{
    return v && !json_is_null(v);
}

static int check_message(const json_t *m, size_t i, struct api_error *err)
{
    char param[48];
    if (!json_is_object(m)) {
        snprintf(param, sizeof(param), "messages[%zu]", i);
        return refuse(err, param, "invalid_type", "%s must be an object", param);
    }
    const json_t *role = json_object_get(m, "role");
    if (!json_is_string(role) || !json_string_length(role)) {
        snprintf(param, sizeof(param), "messages[%zu].role", i);
        return refuse(err, param, "invalid_type", "%s must be a non-empty string", param);
    }
    const json_t *content = json_object_get(m, "content");
    snprintf(param, sizeof(param), "messages[%zu].content", i);
    if (given(content) && !json_is_string(content) && !json_is_array(content))
        return refuse(err, param, "invalid_type",
                      "%s must be a string, an array of content parts or null", param);
    size_t k;
    const json_t *part;
    json_array_foreach(content, k, part) {
        const json_t *type = json_object_get(part, "type");
        if (!json_is_object(part) || !json_is_string(type))
            return refuse(err, param, "invalid_type",
                          "%s[%zu] must be an object with a string 'type'", param, k);
        if (strcmp(json_string_value(type), "text") == 0 &&
            !json_is_string(json_object_get(part, "text")))
            return refuse(err, param, "invalid_type", "%s[%zu].text must be a string", param, k);
    }
    return 0;
}

int chat_req_check(const json_t *root, struct api_error *err)
{
    memset(err, 0, sizeof(*err));
    if (!json_is_object(root))
        return refuse(err, "", "invalid_request", "the request body must be a JSON object");
    const json_t *v = json_object_get(root, "model");
    if (given(v) && !json_is_string(v))
        return refuse(err, "model", "invalid_type", "'model' must be a string");
    v = json_object_get(root, "stream");
    if (given(v) && !json_is_boolean(v))
        return refuse(err, "stream", "invalid_type", "'stream' must be a boolean");
    const json_t *so = json_object_get(root, "stream_options");
    if (given(so) && !json_is_object(so))
        return refuse(err, "stream_options", "invalid_type", "'stream_options' must be an object");
    v = json_object_get(so, "include_usage");
    if (given(v) && !json_is_boolean(v))
        return refuse(err, "stream_options.include_usage", "invalid_type",
                      "'stream_options.include_usage' must be a boolean");
    v = json_object_get(root, "conversation_id");
    if (given(v) && !json_is_string(v))
        return refuse(err, "conversation_id", "invalid_type", "'conversation_id' must be a string");
    v = json_object_get(root, "reasoning_format");
    if (given(v) && (!json_is_string(v) || (strcmp(json_string_value(v), "parsed") != 0 &&
                                            strcmp(json_string_value(v), "raw") != 0 &&
                                            strcmp(json_string_value(v), "hidden") != 0)))
        return refuse(err, "reasoning_format", "invalid_value",
                      "'reasoning_format' must be \"parsed\" (reasoning_content), \"raw\" "
                      "(<think> tags in content) or \"hidden\"");
    v = json_object_get(root, "reasoning_effort");
    if (given(v) && (!json_is_string(v) || !models_effort_known(json_string_value(v))))
        return refuse(err, "reasoning_effort", "invalid_value",
                      "'reasoning_effort' must be one of \"none\", \"minimal\", \"low\", "
                      "\"medium\", \"high\", \"xhigh\", \"max\"");
    const json_t *msgs = json_object_get(root, "messages");
    if (!msgs)
        return refuse(err, "messages", "missing_required_parameter",
                      "'messages' is a required property");
    if (!json_is_array(msgs))
        return refuse(err, "messages", "invalid_type", "'messages' must be an array");
    if (json_array_size(msgs) == 0)
        return refuse(err, "messages", "empty_array", "'messages' must contain at least one message");
    size_t i;
    const json_t *m;
    json_array_foreach(msgs, i, m) {
        if (check_message(m, i, err) < 0)
            return -1;
    }
    return 0;
}

/* ---- the turn ------------------------------------------------------------ */

/* An attachment's URL: {"url": U} or U itself. */
static struct turn_str url_of(const json_t *v)
{
    return turn_json_str(json_is_object(v) ? json_object_get(v, "url") : v);
}

static void read_part(struct turn_msg *m, const json_t *part)
{
    const char *type = json_string_value(json_object_get(part, "type"));
    if (!type)
        return;
    if (strcmp(type, "text") == 0) {
        const json_t *text = json_object_get(part, "text");
        if (json_is_string(text))
            turn_add_part(m, TURN_PART_TEXT)->text = turn_json_str(text);
    } else if (strcmp(type, "image_url") == 0) {
        turn_add_part(m, TURN_PART_IMAGE)->url = url_of(json_object_get(part, "image_url"));
    } else if (strcmp(type, "file") == 0) {
        struct turn_part *p = turn_add_part(m, TURN_PART_FILE);
        const json_t *file = json_object_get(part, "file");
        p->url = json_is_object(file) ? turn_json_str(json_object_get(file, "file_data"))
                                      : url_of(json_object_get(part, "file_url"));
        p->name = turn_json_str(json_object_get(file, "filename"));
    }
}

void chat_req_messages(struct turn *t, const json_t *messages)
{
    size_t i;
    const json_t *msg;
    json_array_foreach(messages, i, msg) {
        const json_t *role = json_object_get(msg, "role");
        struct turn_str name = json_is_string(role) ? turn_json_str(role)
                                                    : (struct turn_str){ "", 0 };
        struct turn_msg *m = turn_add_msg(t, turn_role_of(name.s), name);
        const json_t *content = json_object_get(msg, "content");
        if (json_is_string(content)) {
            turn_add_part(m, TURN_PART_TEXT)->text = turn_json_str(content);
            continue;
        }
        size_t k;
        const json_t *part;
        json_array_foreach(content, k, part) {
            read_part(m, part);
        }
    }
}

int chat_req_from_json(json_t *root, struct turn *t, struct api_error *e)
{
    if (chat_req_check(root, e) < 0)
        return -1;
    turn_keep_doc(t, root);
    const json_t *model = json_object_get(root, "model");
    t->model = json_is_string(model) && json_string_length(model)
                   ? turn_json_str(model)
                   : (struct turn_str){ CHAT_DEFAULT_MODEL, sizeof(CHAT_DEFAULT_MODEL) - 1 };
    t->stream = json_is_true(json_object_get(root, "stream"));
    t->include_usage =
        json_is_true(json_object_get(json_object_get(root, "stream_options"), "include_usage"));
    const json_t *conv = json_object_get(root, "conversation_id");
    if (json_is_string(conv) && prompt_conversation_id_valid(json_string_value(conv)))
        t->conversation_id = turn_json_str(conv);
    const char *rf = json_string_value(json_object_get(root, "reasoning_format"));
    t->reasoning = !rf                        ? TURN_REASONING_DEFAULT
                 : strcmp(rf, "raw") == 0    ? TURN_REASONING_RAW
                 : strcmp(rf, "hidden") == 0 ? TURN_REASONING_HIDDEN
                                             : TURN_REASONING_PARSED;
    const json_t *effort = json_object_get(root, "reasoning_effort");
    if (json_is_string(effort))
        t->effort = turn_json_str(effort);
    chat_req_messages(t, json_object_get(root, "messages"));
    return 0;
}

int chat_req_parse(const char *body, size_t len, struct turn *t, struct api_error *e)
{
    json_error_t jerr;
    json_t *root = json_loadb(body, len, 0, &jerr);
    if (!root) {
        api_error_set(e, 400, NULL, "invalid_json", NULL,
                      "the request body is not valid JSON: %s (line %d, column %d)", jerr.text,
                      jerr.line, jerr.column);
        return -1;
    }
    int rc = chat_req_from_json(root, t, e);
    json_decref(root);
    return rc;
}
