#include "api/chat_shape.h"

#include <stdlib.h>
#include <string.h>

#include "util/xalloc.h"

static int given(const json_t *v)
{
    return v && !json_is_null(v);
}

/* OpenAI's rule for function names: 1-64 of [a-zA-Z0-9_-]. */
static int name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > 64)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

/* One function definition ({name, description, parameters}) into t. */
static int parse_function(const json_t *f, const char *param, struct tool_def *t,
                          struct api_error *e)
{
    const json_t *name = json_object_get(f, "name");
    const json_t *desc = json_object_get(f, "description");
    const json_t *params = json_object_get(f, "parameters");
    if (!json_is_object(f) || !json_is_string(name) || !name_ok(json_string_value(name))) {
        api_error_set(e, 400, NULL, "invalid_value", param,
                      "%s must be a function with a \"name\" of 1 to 64 letters, digits, '_' "
                      "or '-'", param);
        return -1;
    }
    if (given(desc) && !json_is_string(desc)) {
        api_error_set(e, 400, NULL, "invalid_type", param, "%s.description must be a string",
                      param);
        return -1;
    }
    if (given(params) && !json_is_object(params)) {
        api_error_set(e, 400, NULL, "invalid_type", param,
                      "%s.parameters must be a JSON schema object", param);
        return -1;
    }
    t->name = xstrdup(json_string_value(name));
    t->description = xstrdup(json_is_string(desc) ? json_string_value(desc) : "");
    t->parameters = json_is_object(params) ? json_incref((json_t *)params) : NULL;
    return 0;
}

static int parse_tools(const json_t *root, struct tool_set *ts, struct api_error *e)
{
    const json_t *tools = json_object_get(root, "tools");
    const char *key = "tools";
    if (!given(tools)) {
        tools = json_object_get(root, "functions"); /* the legacy form */
        key = "functions";
    }
    if (!given(tools))
        return 0;
    if (!json_is_array(tools)) {
        api_error_set(e, 400, NULL, "invalid_type", key, "'%s' must be an array", key);
        return -1;
    }
    size_t n = json_array_size(tools);
    if (n > TOOLS_MAX) {
        api_error_set(e, 400, NULL, "too_many_tools", key,
                      "'%s' has %zu tools; the limit is %d", key, n, TOOLS_MAX);
        return -1;
    }
    ts->tools = xcalloc(n ? n : 1, sizeof(*ts->tools));
    for (size_t i = 0; i < n; i++) {
        const json_t *t = json_array_get(tools, i);
        char param[48];
        snprintf(param, sizeof(param), "%s[%zu]", key, i);
        const json_t *f = t;
        if (strcmp(key, "tools") == 0) {
            const json_t *type = json_object_get(t, "type");
            if (!json_is_object(t) || !json_is_string(type) ||
                strcmp(json_string_value(type), "function") != 0) {
                api_error_set(e, 400, NULL, "invalid_value", param,
                              "%s: only tools of type \"function\" are supported", param);
                return -1;
            }
            f = json_object_get(t, "function");
            snprintf(param, sizeof(param), "%s[%zu].function", key, i);
        }
        if (parse_function(f, param, &ts->tools[ts->n], e) < 0)
            return -1;
        ts->n++;
        for (size_t k = 0; k + 1 < ts->n; k++)
            if (strcmp(ts->tools[k].name, ts->tools[ts->n - 1].name) == 0) {
                api_error_set(e, 400, NULL, "invalid_value", param,
                              "%s: the name \"%s\" is used twice", param, ts->tools[k].name);
                return -1;
            }
    }
    return 0;
}

static int parse_choice(const json_t *root, struct tool_set *ts, struct api_error *e)
{
    const json_t *c = json_object_get(root, "tool_choice");
    const char *key = "tool_choice";
    if (!given(c)) {
        c = json_object_get(root, "function_call");
        key = "function_call";
    }
    ts->choice = TOOL_CHOICE_AUTO;
    if (!given(c))
        return 0;
    if (json_is_string(c)) {
        const char *v = json_string_value(c);
        if (strcmp(v, "auto") == 0)
            ts->choice = TOOL_CHOICE_AUTO;
        else if (strcmp(v, "none") == 0)
            ts->choice = TOOL_CHOICE_NONE;
        else if (strcmp(v, "required") == 0 && strcmp(key, "tool_choice") == 0)
            ts->choice = TOOL_CHOICE_REQUIRED;
        else {
            api_error_set(e, 400, NULL, "invalid_value", key,
                          "'%s' must be \"none\", \"auto\"%s or an object naming a function",
                          key, strcmp(key, "tool_choice") == 0 ? ", \"required\"" : "");
            return -1;
        }
        return 0;
    }
    /* {"type":"function","function":{"name":...}} or the legacy {"name":...} */
    const json_t *f = json_object_get(c, "function");
    const json_t *name = json_object_get(json_is_object(f) ? f : c, "name");
    if (!json_is_string(name)) {
        api_error_set(e, 400, NULL, "invalid_value", key,
                      "'%s' must be \"none\", \"auto\", \"required\" or "
                      "{\"type\":\"function\",\"function\":{\"name\":...}}", key);
        return -1;
    }
    if (!tool_set_find(ts, json_string_value(name))) {
        api_error_set(e, 400, NULL, "invalid_value", key,
                      "'%s' names the function \"%.64s\", which is not in 'tools'", key,
                      json_string_value(name));
        return -1;
    }
    ts->choice = TOOL_CHOICE_NAMED;
    ts->named = xstrdup(json_string_value(name));
    return 0;
}

static int parse_format(const json_t *root, struct chat_shape *s, struct api_error *e)
{
    const json_t *rf = json_object_get(root, "response_format");
    if (!given(rf))
        return 0;
    const char *type = json_string_value(json_object_get(rf, "type"));
    if (!json_is_object(rf) || !type) {
        api_error_set(e, 400, NULL, "invalid_type", "response_format",
                      "'response_format' must be an object with a \"type\"");
        return -1;
    }
    if (strcmp(type, "text") == 0)
        return 0;
    if (strcmp(type, "json_object") == 0) {
        s->format = SHAPE_JSON_OBJECT;
        return 0;
    }
    if (strcmp(type, "json_schema") == 0) {
        const json_t *js = json_object_get(rf, "json_schema");
        const json_t *schema = json_object_get(js, "schema");
        if (!json_is_object(js) || !json_is_string(json_object_get(js, "name")) ||
            (given(schema) && !json_is_object(schema))) {
            api_error_set(e, 400, NULL, "invalid_value", "response_format.json_schema",
                          "'response_format.json_schema' must be {\"name\":...,\"schema\":{...}}");
            return -1;
        }
        s->format = SHAPE_JSON_SCHEMA;
        s->schema = json_is_object(schema) ? json_incref((json_t *)schema) : json_object();
        return 0;
    }
    api_error_set(e, 400, NULL, "invalid_value", "response_format.type",
                  "'response_format.type' must be \"text\", \"json_object\" or \"json_schema\"");
    return -1;
}

static int parse_stop(const json_t *root, struct chat_shape *s, struct api_error *e)
{
    const json_t *st = json_object_get(root, "stop");
    if (!given(st))
        return 0;
    const json_t *one = json_is_string(st) ? st : NULL;
    size_t n = one ? 1 : json_array_size(st);
    if ((!one && !json_is_array(st)) || n > STOPCUT_MAX) {
        api_error_set(e, 400, NULL, "invalid_value", "stop",
                      "'stop' must be a string or an array of up to %d strings", STOPCUT_MAX);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        const json_t *v = one ? one : json_array_get(st, i);
        if (!json_is_string(v) || json_string_length(v) > STOPCUT_MAX_LEN) {
            api_error_set(e, 400, NULL, "invalid_value", "stop",
                          "every stop sequence must be a string of at most %d bytes",
                          STOPCUT_MAX_LEN);
            return -1;
        }
        if (json_string_length(v) && !memchr(json_string_value(v), '\0', json_string_length(v)))
            s->stops[s->nstops++] = xstrdup(json_string_value(v));
    }
    return 0;
}

static int parse_max_tokens(const json_t *root, struct chat_shape *s, struct api_error *e)
{
    static const char *const keys[] = { "max_completion_tokens", "max_tokens" };
    for (int i = 0; i < 2; i++) {
        const json_t *v = json_object_get(root, keys[i]);
        if (!given(v))
            continue;
        if (!json_is_integer(v) || json_integer_value(v) < 1) {
            api_error_set(e, 400, NULL, "invalid_value", keys[i],
                          "'%s' must be a positive integer", keys[i]);
            return -1;
        }
        s->max_tokens = json_integer_value(v) > 1000000000 ? 1000000000
                                                           : (long)json_integer_value(v);
        return 0;
    }
    return 0;
}

/* What the site cannot do: a 400 that says so rather than a silent ignore. */
static int refusals(const json_t *root, struct api_error *e)
{
    const json_t *n = json_object_get(root, "n");
    if (given(n) && (!json_is_integer(n) || json_integer_value(n) != 1)) {
        api_error_set(e, 400, NULL, "unsupported_value", "n",
                      "'n' must be 1: chatglm.cn gives one answer per request");
        return -1;
    }
    if (json_is_true(json_object_get(root, "logprobs")) ||
        given(json_object_get(root, "top_logprobs"))) {
        api_error_set(e, 400, NULL, "unsupported_value", "logprobs",
                      "'logprobs' and 'top_logprobs' are not supported: chatglm.cn does not "
                      "give token probabilities");
        return -1;
    }
    const json_t *mods = json_object_get(root, "modalities");
    size_t i;
    const json_t *m;
    json_array_foreach(mods, i, m) {
        if (json_is_string(m) && strcmp(json_string_value(m), "text") != 0) {
            api_error_set(e, 400, NULL, "unsupported_value", "modalities",
                          "'modalities' may only hold \"text\": chatglm.cn answers in text");
            return -1;
        }
    }
    if (given(json_object_get(root, "audio"))) {
        api_error_set(e, 400, NULL, "unsupported_value", "audio",
                      "'audio' output is not supported: chatglm.cn answers in text");
        return -1;
    }
    if (given(json_object_get(root, "prediction"))) {
        api_error_set(e, 400, NULL, "unsupported_value", "prediction",
                      "'prediction' (predicted outputs) is not supported by chatglm.cn");
        return -1;
    }
    return 0;
}

int chat_shape_parse(const json_t *root, struct chat_shape *s, struct api_error *e)
{
    memset(s, 0, sizeof(*s));
    s->tools.parallel = 1;
    const json_t *p = json_object_get(root, "parallel_tool_calls");
    if (given(p) && !json_is_boolean(p)) {
        api_error_set(e, 400, NULL, "invalid_type", "parallel_tool_calls",
                      "'parallel_tool_calls' must be a boolean");
        return -1;
    }
    if (json_is_false(p))
        s->tools.parallel = 0;
    if (refusals(root, e) < 0 || parse_tools(root, &s->tools, e) < 0 ||
        parse_choice(root, &s->tools, e) < 0 || parse_format(root, s, e) < 0 ||
        parse_stop(root, s, e) < 0 || parse_max_tokens(root, s, e) < 0)
        return -1;
    if (!s->tools.n && (s->tools.choice == TOOL_CHOICE_REQUIRED)) {
        api_error_set(e, 400, NULL, "invalid_value", "tool_choice",
                      "'tool_choice' is \"required\" but no 'tools' are given");
        return -1;
    }
    if (chat_shape_tools(s)) {
        struct buf b;
        buf_init(&b, TOOLS_MAX_TEXT);
        int rc = toolprompt_tools(&s->tools, &b);
        buf_cleanup(&b);
        if (rc < 0) {
            api_error_set(e, 400, NULL, "tools_too_large", "tools",
                          "the tool definitions are too large: described to the model they "
                          "pass the limit of %d KiB", TOOLS_MAX_TEXT / 1024);
            return -1;
        }
    }
    return 0;
}

void chat_shape_cleanup(struct chat_shape *s)
{
    tool_set_cleanup(&s->tools);
    json_decref(s->schema);
    for (size_t i = 0; i < s->nstops; i++)
        free(s->stops[i]);
    memset(s, 0, sizeof(*s));
}

int chat_shape_tools(const struct chat_shape *s)
{
    return s->tools.n > 0 && s->tools.choice != TOOL_CHOICE_NONE;
}

int chat_shape_active(const struct chat_shape *s)
{
    return chat_shape_tools(s) || s->format != SHAPE_TEXT || s->nstops || s->max_tokens;
}

int chat_shape_instructions(const struct chat_shape *s, struct buf *out)
{
    size_t start = out->len;
    int rc = 0;
    if (chat_shape_tools(s))
        rc = toolprompt_tools(&s->tools, out);
    if (rc == 0 && s->format != SHAPE_TEXT) {
        if (out->len > start)
            rc = buf_putc(out, '\n');
        if (rc == 0)
            rc = toolprompt_json(s->format == SHAPE_JSON_SCHEMA ? s->schema : NULL, out);
    }
    if (rc < 0)
        buf_truncate(out, start);
    return rc;
}
