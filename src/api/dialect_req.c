#include "api/dialect_req.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stream/openai.h"
#include "util/xalloc.h"

/* ---- shared ------------------------------------------------------------ */

static int refuse(struct api_error *err, const char *param, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int refuse(struct api_error *err, const char *param, const char *fmt, ...)
{
    char msg[sizeof err->message];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    api_error_set(err, 400, "invalid_request_error", "invalid_request", param, "%s", msg);
    return -1;
}

static int given(const json_t *v)
{
    return v && !json_is_null(v);
}

static int is_type(const json_t *o, const char *type)
{
    const char *t = json_string_value(json_object_get(o, "type"));
    return t && strcmp(t, type) == 0;
}

/* An optional field that must be a string when given. */
static int opt_string(const json_t *root, const char *key, const char **out, struct api_error *err)
{
    const json_t *v = json_object_get(root, key);
    *out = NULL;
    if (!given(v))
        return 0;
    if (!json_is_string(v))
        return refuse(err, key, "'%s' must be a string", key);
    *out = json_string_value(v);
    return 0;
}

static int opt_bool(const json_t *root, const char *key, int *out, struct api_error *err)
{
    const json_t *v = json_object_get(root, key);
    if (!given(v))
        return 0;
    if (!json_is_boolean(v))
        return refuse(err, key, "'%s' must be a boolean", key);
    *out = json_is_true(v);
    return 0;
}

static int add_text(struct turn_msg *m, const json_t *text)
{
    struct turn_part *p = turn_add_part(m, TURN_PART_TEXT);
    p->text = turn_json_str(text);
    return 0;
}

/* The texts of an array of parts or blocks, joined by newlines, after prefix. */
static struct turn_str join_texts(struct turn *t, const json_t *arr, const char *prefix)
{
    size_t i, len = strlen(prefix), cap = len + 1;
    const json_t *b;

    json_array_foreach(arr, i, b) cap += json_string_length(json_object_get(b, "text")) + 1;
    char *s = xmalloc(cap);
    memcpy(s, prefix, len);
    json_array_foreach(arr, i, b) {
        const json_t *text = json_object_get(b, "text");
        if (!json_is_string(text))
            continue;
        if (len > strlen(prefix))
            s[len++] = '\n';
        memcpy(s + len, json_string_value(text), json_string_length(text));
        len += json_string_length(text);
    }
    struct turn_str r = turn_strdup(t, s, len);
    free(s);
    return r;
}

/* A tool's definition; parameters may be absent (no arguments). */
static int add_tool(struct turn *t, const json_t *name, const json_t *desc, const json_t *params,
                    const char *param, struct api_error *err)
{
    if (!json_is_string(name) || json_string_length(name) == 0 || json_string_length(name) > 128)
        return refuse(err, param, "%s.name must be a string of 1 to 128 characters", param);
    if (given(desc) && !json_is_string(desc))
        return refuse(err, param, "%s.description must be a string", param);
    if (given(params) && !json_is_object(params))
        return refuse(err, param, "%s's parameter schema must be an object", param);
    struct turn_tool *tool = turn_add_tool(t);
    tool->name = turn_json_str(name);
    if (given(desc))
        tool->description = turn_json_str(desc);
    if (given(params))
        tool->parameters = json_incref((json_t *)params);
    return 0;
}

/* The tools array: each client tool (is_client) with its schema under
 * schema_key; the dialect's hosted or server tools are skipped, never a 400. */
static int add_tools(struct turn *t, const json_t *root, int (*is_client)(const json_t *),
                     const char *schema_key, struct api_error *err)
{
    const json_t *tools = json_object_get(root, "tools");
    char p[48];
    size_t i;
    const json_t *tool;

    if (given(tools) && !json_is_array(tools))
        return refuse(err, "tools", "'tools' must be an array");
    json_array_foreach(tools, i, tool) {
        snprintf(p, sizeof p, "tools[%zu]", i);
        if (!json_is_object(tool))
            return refuse(err, p, "%s must be an object", p);
        if (!is_client(tool))
            continue;
        if (add_tool(t, json_object_get(tool, "name"), json_object_get(tool, "description"),
                     json_object_get(tool, schema_key), p, err) < 0)
            return -1;
    }
    return 0;
}

static int check_named_choice(const struct turn *t, struct api_error *err)
{
    if (t->tool_choice != TURN_TOOLS_NAMED)
        return 0;
    for (size_t i = 0; i < t->ntools; i++)
        if (t->tools[i].name.len == t->tool_choice_name.len &&
            memcmp(t->tools[i].name.s, t->tool_choice_name.s, t->tool_choice_name.len) == 0)
            return 0;
    return refuse(err, "tool_choice", "tool_choice names '%.*s', which is not among the tools",
                  (int)(t->tool_choice_name.len > 128 ? 128 : t->tool_choice_name.len),
                  t->tool_choice_name.s);
}

/* The last message if it has this role, else a new one. Tool calls of one
 * assistant turn and consecutive results are kept together. */
static struct turn_msg *msg_for(struct turn *t, enum turn_role role, const char *name)
{
    if (t->nmsgs > 0 && t->msgs[t->nmsgs - 1].role == role)
        return &t->msgs[t->nmsgs - 1];
    return turn_add_msg(t, role, turn_strdup(t, name, strlen(name)));
}

static int think_of_effort(const char *e, enum dialect_think *out)
{
    static const struct { const char *name; enum dialect_think think; } map[] = {
        { "none", DIALECT_THINK_OFF }, { "minimal", DIALECT_THINK_OFF },
        { "low", DIALECT_THINK_ON }, { "medium", DIALECT_THINK_ON }, { "high", DIALECT_THINK_ON },
        { "xhigh", DIALECT_THINK_DEEP }, { "max", DIALECT_THINK_DEEP },
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strcmp(e, map[i].name) == 0) {
            *out = map[i].think;
            return 0;
        }
    return -1;
}

/* Both dialects: the body is an object with a model name; the turn keeps
 * the document its strings point into. */
static int turn_begin(struct turn *t, json_t *body, struct api_error *err)
{
    turn_init(t);
    if (!json_is_object(body))
        return refuse(err, "", "the request body must be a JSON object");
    turn_keep_doc(t, body);
    const json_t *model = json_object_get(body, "model");
    if (!json_is_string(model) || json_string_length(model) == 0)
        return refuse(err, "model", "'model' must be a non-empty string");
    t->model = turn_json_str(model);
    return 0;
}

/* ---- Responses ---------------------------------------------------------- */

/* A content part of a Responses message. */
static int responses_part(struct turn *t, struct turn_msg *m, const json_t *part, const char *param,
                          struct api_error *err)
{
    const char *type = json_string_value(json_object_get(part, "type"));
    if (!json_is_object(part) || !type)
        return refuse(err, param, "%s must be an object with a string 'type'", param);
    if (!strcmp(type, "input_text") || !strcmp(type, "output_text") || !strcmp(type, "text")) {
        const json_t *text = json_object_get(part, "text");
        if (!json_is_string(text))
            return refuse(err, param, "%s.text must be a string", param);
        return add_text(m, text);
    }
    if (!strcmp(type, "refusal")) {
        const json_t *text = json_object_get(part, "refusal");
        if (!json_is_string(text))
            return refuse(err, param, "%s.refusal must be a string", param);
        return add_text(m, text);
    }
    if (!strcmp(type, "input_image")) {
        const json_t *url = json_object_get(part, "image_url");
        if (json_is_object(url))
            url = json_object_get(url, "url");
        if (!json_is_string(url) || json_string_length(url) == 0)
            return refuse(err, param, "%s.image_url must be a URL or a data: URL (file ids are not "
                          "supported)", param);
        struct turn_part *p = turn_add_part(m, TURN_PART_IMAGE);
        p->url = turn_json_str(url);
        return 0;
    }
    if (!strcmp(type, "input_file")) {
        const json_t *data = json_object_get(part, "file_data");
        const json_t *url = json_object_get(part, "file_url");
        const json_t *name = json_object_get(part, "filename");
        if (!json_is_string(data) && !json_is_string(url))
            return refuse(err, param, "%s needs file_data (a data: URL or base64) or file_url "
                          "(file ids are not supported)", param);
        if (given(name) && !json_is_string(name))
            return refuse(err, param, "%s.filename must be a string", param);
        struct turn_part *p = turn_add_part(m, TURN_PART_FILE);
        p->url = turn_json_str(json_is_string(data) ? data : url);
        if (given(name))
            p->name = turn_json_str(name);
        return 0;
    }
    (void)t;
    return refuse(err, param, "%s has an unsupported type '%.40s'", param, type);
}

static int responses_item(struct turn *t, const json_t *item, const char *param,
                          responses_item_fn resolve, void *arg, int depth, struct api_error *err);

static int responses_message(struct turn *t, const json_t *item, const char *param,
                             struct api_error *err)
{
    const json_t *role = json_object_get(item, "role");
    const json_t *content = json_object_get(item, "content");
    char p[96];

    if (!json_is_string(role))
        return refuse(err, param, "%s.role must be a string", param);
    const char *r = json_string_value(role);
    if (strcmp(r, "user") && strcmp(r, "assistant") && strcmp(r, "system") && strcmp(r, "developer"))
        return refuse(err, param, "%s.role must be user, assistant, system or developer", param);
    struct turn_msg *m = turn_add_msg(t, turn_role_of(r), turn_json_str(role));
    if (json_is_string(content))
        return add_text(m, content);
    if (!json_is_array(content))
        return refuse(err, param, "%s.content must be a string or an array of parts", param);
    size_t i;
    const json_t *part;
    json_array_foreach(content, i, part) {
        snprintf(p, sizeof p, "%s.content[%zu]", param, i);
        if (responses_part(t, m, part, p, err) < 0)
            return -1;
    }
    return 0;
}

static int responses_item(struct turn *t, const json_t *item, const char *param,
                          responses_item_fn resolve, void *arg, int depth, struct api_error *err)
{
    if (!json_is_object(item))
        return refuse(err, param, "%s must be an object", param);
    const json_t *type = json_object_get(item, "type");
    if (given(type) && !json_is_string(type))
        return refuse(err, param, "%s.type must be a string", param);
    /* An easy input message has a role and no type. */
    if (!given(type) || is_type(item, "message"))
        return responses_message(t, item, param, err);
    if (is_type(item, "function_call")) {
        const json_t *id = json_object_get(item, "call_id");
        const json_t *name = json_object_get(item, "name");
        const json_t *args = json_object_get(item, "arguments");
        if (!json_is_string(id) || !json_is_string(name) || !json_is_string(args))
            return refuse(err, param, "%s needs string call_id, name and arguments", param);
        struct turn_part *p = turn_add_part(msg_for(t, TURN_ROLE_ASSISTANT, "assistant"),
                                            TURN_PART_TOOL_CALL);
        p->id = turn_json_str(id);
        p->name = turn_json_str(name);
        p->text = turn_json_str(args);
        return 0;
    }
    if (is_type(item, "function_call_output")) {
        const json_t *id = json_object_get(item, "call_id");
        const json_t *out = json_object_get(item, "output");
        if (!json_is_string(id))
            return refuse(err, param, "%s.call_id must be a string", param);
        struct turn_part *p = turn_add_part(msg_for(t, TURN_ROLE_TOOL, "tool"), TURN_PART_TOOL_RESULT);
        p->id = turn_json_str(id);
        if (json_is_string(out)) {
            p->text = turn_json_str(out);
        } else if (json_is_array(out)) {
            p->text = join_texts(t, out, "");
        } else {
            return refuse(err, param, "%s.output must be a string or an array of parts", param);
        }
        return 0;
    }
    if (is_type(item, "item_reference")) {
        const char *id = json_string_value(json_object_get(item, "id"));
        if (!id)
            return refuse(err, param, "%s.id must be a string", param);
        json_t *found = resolve && depth == 0 ? resolve(arg, id) : NULL;
        if (!found)
            return refuse(err, param, "%s names item '%.64s', which no stored response holds "
                          "(expired, deleted, or stored with store:false)", param, id);
        return responses_item(t, found, param, resolve, arg, depth + 1, err);
    }
    /* Earlier reasoning is not sent back to the site. */
    if (is_type(item, "reasoning"))
        return 0;
    return refuse(err, param, "%s has an unsupported type '%.40s'", param,
                  json_string_value(type));
}

/* web_search, file_search, custom and the other hosted tools are not
 * something the site can run for the client. */
static int responses_client_tool(const json_t *tool)
{
    return is_type(tool, "function");
}

static int responses_tools(struct turn *t, const json_t *root, struct api_error *err)
{
    if (add_tools(t, root, responses_client_tool, "parameters", err) < 0)
        return -1;
    const json_t *choice = json_object_get(root, "tool_choice");
    if (json_is_string(choice)) {
        const char *c = json_string_value(choice);
        if (!strcmp(c, "none"))
            t->tool_choice = TURN_TOOLS_NONE;
        else if (!strcmp(c, "required"))
            t->tool_choice = TURN_TOOLS_REQUIRED;
        else if (strcmp(c, "auto"))
            return refuse(err, "tool_choice", "tool_choice must be none, auto, required or an object");
    } else if (json_is_object(choice)) {
        if (is_type(choice, "function")) {
            const json_t *name = json_object_get(choice, "name");
            if (!json_is_string(name))
                return refuse(err, "tool_choice", "tool_choice.name must be a string");
            t->tool_choice = TURN_TOOLS_NAMED;
            t->tool_choice_name = turn_json_str(name);
        }
        /* allowed_tools and hosted tool choices: auto */
    } else if (given(choice)) {
        return refuse(err, "tool_choice", "tool_choice must be a string or an object");
    }
    if (opt_bool(root, "parallel_tool_calls", &t->parallel_tool_calls, err) < 0)
        return -1;
    return check_named_choice(t, err);
}

static int responses_text_format(struct turn *t, const json_t *root, struct api_error *err)
{
    const json_t *text = json_object_get(root, "text");
    if (!given(text))
        return 0;
    if (!json_is_object(text))
        return refuse(err, "text", "'text' must be an object");
    const json_t *f = json_object_get(text, "format");
    if (!given(f) || is_type(f, "text"))
        return 0;
    if (!json_is_object(f))
        return refuse(err, "text.format", "text.format must be an object");
    if (is_type(f, "json_object")) {
        t->format = TURN_FORMAT_JSON_OBJECT;
        return 0;
    }
    if (is_type(f, "json_schema")) {
        const json_t *schema = json_object_get(f, "schema");
        if (!json_is_object(schema))
            return refuse(err, "text.format.schema", "text.format.schema must be an object");
        t->format = TURN_FORMAT_JSON_SCHEMA;
        t->format_schema = json_incref((json_t *)schema);
        const json_t *name = json_object_get(f, "name");
        if (json_is_string(name))
            t->format_name = turn_json_str(name);
        return 0;
    }
    return refuse(err, "text.format.type", "text.format.type must be text, json_object or json_schema");
}

int responses_parse(json_t *body, struct turn *t, struct responses_req *r,
                    responses_item_fn resolve, void *arg, struct api_error *err)
{
    const char *s;
    char p[48];

    memset(r, 0, sizeof *r);
    r->store = 1;
    if (turn_begin(t, body, err) < 0)
        goto fail;
    const json_t *input = json_object_get(body, "input");
    if (json_is_string(input)) {
        add_text(turn_add_msg(t, TURN_ROLE_USER, turn_strdup(t, "user", 4)), input);
    } else if (json_is_array(input)) {
        size_t i;
        const json_t *item;
        json_array_foreach(input, i, item) {
            snprintf(p, sizeof p, "input[%zu]", i);
            if (responses_item(t, item, p, resolve, arg, 0, err) < 0)
                goto fail;
        }
    } else {
        refuse(err, "input", "'input' must be a string or an array of input items");
        goto fail;
    }
    const json_t *instr = json_object_get(body, "instructions");
    if (given(instr)) {
        if (!json_is_string(instr)) {
            refuse(err, "instructions", "'instructions' must be a string");
            goto fail;
        }
        t->system = turn_json_str(instr);
        r->instructions_json = json_dumps(instr, JSON_ENCODE_ANY | JSON_COMPACT);
    }
    if (responses_tools(t, body, err) < 0 || opt_bool(body, "stream", &t->stream, err) < 0 ||
        opt_bool(body, "store", &r->store, err) < 0 ||
        opt_string(body, "previous_response_id", &r->previous_response_id, err) < 0 ||
        responses_text_format(t, body, err) < 0)
        goto fail;
    const json_t *reasoning = json_object_get(body, "reasoning");
    if (given(reasoning)) {
        if (!json_is_object(reasoning) || opt_string(reasoning, "effort", &s, err) < 0) {
            refuse(err, "reasoning", "'reasoning' must be an object with a string 'effort'");
            goto fail;
        }
        if (s && think_of_effort(s, &r->think) < 0) {
            refuse(err, "reasoning.effort",
                   "reasoning.effort must be none, minimal, low, medium, high, xhigh or max");
            goto fail;
        }
        r->effort = s;
    }
    const json_t *max = json_object_get(body, "max_output_tokens");
    if (given(max)) {
        if (!json_is_integer(max) || json_integer_value(max) < 1) {
            refuse(err, "max_output_tokens", "'max_output_tokens' must be a positive integer");
            goto fail;
        }
        t->max_tokens = (long)json_integer_value(max);
    }
    if (t->nmsgs == 0) {
        refuse(err, "input", "'input' holds no message");
        goto fail;
    }
    t->include_usage = 1;
    return 0;
fail:
    responses_req_free(r);
    turn_free(t);
    return -1;
}

void responses_req_free(struct responses_req *r)
{
    free(r->instructions_json);
    r->instructions_json = NULL;
}

/* ---- Messages ----------------------------------------------------------- */

/* "data:<media>;base64,<data>" from a base64 source. */
static int data_url(struct turn *t, const json_t *source, struct turn_str *out)
{
    const char *media = json_string_value(json_object_get(source, "media_type"));
    const json_t *data = json_object_get(source, "data");
    if (!media || !json_is_string(data))
        return -1;
    size_t mlen = strlen(media), dlen = json_string_length(data);
    char *s = xmalloc(mlen + dlen + 14);
    int n = snprintf(s, mlen + 14, "data:%s;base64,", media);
    memcpy(s + n, json_string_value(data), dlen);
    *out = turn_strdup(t, s, (size_t)n + dlen);
    free(s);
    return 0;
}

/* An image or document block's source: base64, url, or (documents) text. */
static int messages_source(struct turn *t, struct turn_msg *m, const json_t *block, int image,
                           const char *param, struct api_error *err)
{
    const json_t *src = json_object_get(block, "source");
    if (!json_is_object(src))
        return refuse(err, param, "%s.source must be an object", param);
    if (!image && is_type(src, "text")) {
        const json_t *data = json_object_get(src, "data");
        if (!json_is_string(data))
            return refuse(err, param, "%s.source.data must be a string", param);
        return add_text(m, data);
    }
    struct turn_part *p = turn_add_part(m, image ? TURN_PART_IMAGE : TURN_PART_FILE);
    if (is_type(src, "base64")) {
        if (data_url(t, src, &p->url) < 0)
            return refuse(err, param, "%s.source needs string media_type and data", param);
    } else if (is_type(src, "url")) {
        const json_t *url = json_object_get(src, "url");
        if (!json_is_string(url))
            return refuse(err, param, "%s.source.url must be a string", param);
        p->url = turn_json_str(url);
    } else {
        return refuse(err, param, "%s.source.type must be base64 or url%s", param,
                      image ? "" : " or text");
    }
    const json_t *title = json_object_get(block, "title");
    if (!image && json_is_string(title))
        p->name = turn_json_str(title);
    return 0;
}

/* A tool_result's content: a string, or blocks whose texts are joined; an
 * error result says so first. */
static int tool_result_text(struct turn *t, const json_t *content, int is_error,
                            struct turn_str *out)
{
    const char *prefix = is_error ? "Error: " : "";

    if (!given(content)) {
        *out = turn_strdup(t, prefix, strlen(prefix));
    } else if (json_is_string(content) && !is_error) {
        *out = turn_json_str(content);
    } else if (json_is_string(content)) {
        size_t n = json_string_length(content);
        char *s = xmalloc(n + 8);
        memcpy(s, prefix, 7);
        memcpy(s + 7, json_string_value(content), n);
        *out = turn_strdup(t, s, n + 7);
        free(s);
    } else if (json_is_array(content)) {
        *out = join_texts(t, content, prefix);
    } else {
        return -1;
    }
    return 0;
}

/* One block of a message other than tool_result (see messages_messages). */
static int messages_block(struct turn *t, struct turn_msg *m, const json_t *block,
                          const char *param, struct api_error *err)
{
    if (!json_is_object(block) || !json_is_string(json_object_get(block, "type")))
        return refuse(err, param, "%s must be an object with a string 'type'", param);
    if (is_type(block, "text")) {
        const json_t *text = json_object_get(block, "text");
        if (!json_is_string(text))
            return refuse(err, param, "%s.text must be a string", param);
        return add_text(m, text);
    }
    if (is_type(block, "image"))
        return messages_source(t, m, block, 1, param, err);
    if (is_type(block, "document"))
        return messages_source(t, m, block, 0, param, err);
    if (is_type(block, "tool_use")) {
        const json_t *id = json_object_get(block, "id");
        const json_t *name = json_object_get(block, "name");
        const json_t *input = json_object_get(block, "input");
        if (!json_is_string(id) || !json_is_string(name))
            return refuse(err, param, "%s needs string id and name", param);
        if (given(input) && !json_is_object(input))
            return refuse(err, param, "%s.input must be an object", param);
        char *args = given(input) ? json_dumps(input, JSON_COMPACT) : NULL;
        struct turn_part *p = turn_add_part(m, TURN_PART_TOOL_CALL);
        p->id = turn_json_str(id);
        p->name = turn_json_str(name);
        p->text = args ? turn_strdup(t, args, strlen(args)) : turn_strdup(t, "{}", 2);
        free(args);
        return 0;
    }
    /* thinking and redacted_thinking from earlier turns, server tool blocks,
     * search results, citations: nothing the site can take. */
    return 0;
}

static int messages_tool_result(struct turn *t, const json_t *block, const char *param,
                                struct api_error *err)
{
    const json_t *id = json_object_get(block, "tool_use_id");
    if (!json_is_string(id))
        return refuse(err, param, "%s.tool_use_id must be a string", param);
    int is_error = json_is_true(json_object_get(block, "is_error"));
    struct turn_part *p = turn_add_part(msg_for(t, TURN_ROLE_TOOL, "tool"), TURN_PART_TOOL_RESULT);
    p->id = turn_json_str(id);
    if (tool_result_text(t, json_object_get(block, "content"), is_error, &p->text) < 0)
        return refuse(err, param, "%s.content must be a string or an array of blocks", param);
    return 0;
}

static int messages_messages(struct turn *t, const json_t *msgs, struct api_error *err)
{
    char p[64];
    size_t i;
    const json_t *msg;

    if (!json_is_array(msgs) || json_array_size(msgs) == 0)
        return refuse(err, "messages", "'messages' must be a non-empty array");
    json_array_foreach(msgs, i, msg) {
        snprintf(p, sizeof p, "messages[%zu]", i);
        if (!json_is_object(msg))
            return refuse(err, p, "%s must be an object", p);
        const json_t *role = json_object_get(msg, "role");
        const char *r = json_string_value(role);
        if (!r || (strcmp(r, "user") && strcmp(r, "assistant")))
            return refuse(err, p, "%s.role must be \"user\" or \"assistant\"", p);
        const json_t *content = json_object_get(msg, "content");
        if (json_is_string(content)) {
            add_text(turn_add_msg(t, turn_role_of(r), turn_json_str(role)), content);
            continue;
        }
        if (!json_is_array(content))
            return refuse(err, p, "%s.content must be a string or an array of blocks", p);
        /* A tool_result answers a call: it goes into a tool message of its
         * own, and what follows it in the same turn into a new message. The
         * message is made when its first block comes (m is an index: adding
         * messages moves the array). */
        size_t k, m = (size_t)-1;
        const json_t *block;
        json_array_foreach(content, k, block) {
            char bp[96];
            snprintf(bp, sizeof bp, "%s.content[%zu]", p, k);
            if (is_type(block, "tool_result")) {
                if (messages_tool_result(t, block, bp, err) < 0)
                    return -1;
                m = (size_t)-1;
                continue;
            }
            if (m == (size_t)-1) {
                turn_add_msg(t, turn_role_of(r), turn_json_str(role));
                m = t->nmsgs - 1;
            }
            if (messages_block(t, &t->msgs[m], block, bp, err) < 0)
                return -1;
        }
    }
    return 0;
}

static int messages_system(struct turn *t, const json_t *sys, struct api_error *err)
{
    size_t i;
    const json_t *b;

    if (!given(sys))
        return 0;
    if (json_is_string(sys)) {
        t->system = turn_json_str(sys);
        return 0;
    }
    if (!json_is_array(sys))
        return refuse(err, "system", "'system' must be a string or an array of text blocks");
    json_array_foreach(sys, i, b)
        if (!is_type(b, "text") || !json_is_string(json_object_get(b, "text")))
            return refuse(err, "system", "system[%zu] must be a text block", i);
    t->system = join_texts(t, sys, "");
    return 0;
}

/* bash_*, text_editor_*, web_search_* and the other server tools carry a
 * type; client tools have none (or "custom"). */
static int messages_client_tool(const json_t *tool)
{
    const json_t *type = json_object_get(tool, "type");
    return !given(type) || is_type(tool, "custom");
}

static int messages_tools(struct turn *t, const json_t *root, struct api_error *err)
{
    if (add_tools(t, root, messages_client_tool, "input_schema", err) < 0)
        return -1;
    const json_t *choice = json_object_get(root, "tool_choice");
    if (given(choice)) {
        if (!json_is_object(choice))
            return refuse(err, "tool_choice", "'tool_choice' must be an object");
        if (is_type(choice, "none")) {
            t->tool_choice = TURN_TOOLS_NONE;
        } else if (is_type(choice, "any")) {
            t->tool_choice = TURN_TOOLS_REQUIRED;
        } else if (is_type(choice, "tool")) {
            const json_t *name = json_object_get(choice, "name");
            if (!json_is_string(name))
                return refuse(err, "tool_choice.name", "tool_choice.name must be a string");
            t->tool_choice = TURN_TOOLS_NAMED;
            t->tool_choice_name = turn_json_str(name);
        } else if (!is_type(choice, "auto")) {
            return refuse(err, "tool_choice.type", "tool_choice.type must be auto, any, tool or none");
        }
        if (json_is_true(json_object_get(choice, "disable_parallel_tool_use")))
            t->parallel_tool_calls = 0;
    }
    return check_named_choice(t, err);
}

int messages_parse(json_t *body, int count_tokens, struct turn *t, struct messages_req *r,
                   struct api_error *err)
{
    memset(r, 0, sizeof *r);
    if (turn_begin(t, body, err) < 0)
        goto fail;
    const json_t *max = json_object_get(body, "max_tokens");
    if (given(max) || !count_tokens) {
        if (!json_is_integer(max) || json_integer_value(max) < 1) {
            refuse(err, "max_tokens", "'max_tokens' must be a positive integer");
            goto fail;
        }
        t->max_tokens = (long)json_integer_value(max);
    }
    if (messages_system(t, json_object_get(body, "system"), err) < 0 ||
        messages_messages(t, json_object_get(body, "messages"), err) < 0 ||
        messages_tools(t, body, err) < 0 || opt_bool(body, "stream", &t->stream, err) < 0)
        goto fail;
    const json_t *stops = json_object_get(body, "stop_sequences");
    if (given(stops)) {
        size_t i;
        const json_t *s;
        if (!json_is_array(stops)) {
            refuse(err, "stop_sequences", "'stop_sequences' must be an array of strings");
            goto fail;
        }
        if (json_array_size(stops) > TURN_MAX_STOP) {
            refuse(err, "stop_sequences", "at most %d stop_sequences are supported", TURN_MAX_STOP);
            goto fail;
        }
        json_array_foreach(stops, i, s) {
            if (!json_is_string(s) || json_string_length(s) == 0) {
                refuse(err, "stop_sequences", "stop_sequences[%zu] must be a non-empty string", i);
                goto fail;
            }
            t->stop[t->nstop++] = turn_json_str(s);
        }
    }
    const json_t *thinking = json_object_get(body, "thinking");
    if (given(thinking)) {
        if (!json_is_object(thinking)) {
            refuse(err, "thinking", "'thinking' must be an object");
            goto fail;
        }
        if (is_type(thinking, "enabled") || is_type(thinking, "adaptive")) {
            const json_t *budget = json_object_get(thinking, "budget_tokens");
            r->think = json_integer_value(budget) >= 16000 ? DIALECT_THINK_DEEP : DIALECT_THINK_ON;
        } else if (is_type(thinking, "disabled")) {
            r->think = DIALECT_THINK_OFF;
        } else {
            refuse(err, "thinking.type", "thinking.type must be enabled or disabled");
            goto fail;
        }
    }
    t->include_usage = 1;
    return 0;
fail:
    turn_free(t);
    return -1;
}

long dialect_turn_tokens(const struct turn *t)
{
    long n = t->system.s ? usage_estimate(t->system.s, t->system.len) : 0;

    for (size_t i = 0; i < t->nmsgs; i++) {
        const struct turn_msg *m = &t->msgs[i];
        n += 3;     /* the role line the prompt gives each message */
        for (size_t k = 0; k < m->nparts; k++) {
            const struct turn_part *p = &m->parts[k];
            if (p->text.s)
                n += usage_estimate(p->text.s, p->text.len);
            if (p->name.s)
                n += usage_estimate(p->name.s, p->name.len);
            if (p->type == TURN_PART_IMAGE || p->type == TURN_PART_FILE)
                n += 85;    /* an attachment is at least a few tokens of reference */
        }
    }
    for (size_t i = 0; i < t->ntools; i++) {
        const struct turn_tool *tool = &t->tools[i];
        n += usage_estimate(tool->name.s, tool->name.len);
        if (tool->description.s)
            n += usage_estimate(tool->description.s, tool->description.len);
        if (tool->parameters) {
            char *s = json_dumps(tool->parameters, JSON_COMPACT);
            if (s) {
                n += usage_estimate(s, strlen(s));
                free(s);
            }
        }
    }
    return n > 0 ? n : 1;
}
