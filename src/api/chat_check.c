#include "api/chat_check.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int refuse(struct chat_check_error *err, const char *param, const char *code,
                  const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int refuse(struct chat_check_error *err, const char *param, const char *code,
                  const char *fmt, ...)
{
    va_list ap;
    snprintf(err->param, sizeof(err->param), "%s", param);
    snprintf(err->code, sizeof(err->code), "%s", code);
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof(err->message), fmt, ap);
    va_end(ap);
    return -1;
}

/* An absent field or null counts as not given. */
static int given(const json_t *v)
{
    return v && !json_is_null(v);
}

static int check_message(const json_t *m, size_t i, struct chat_check_error *err)
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

int chat_request_check(const json_t *root, struct chat_check_error *err)
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
