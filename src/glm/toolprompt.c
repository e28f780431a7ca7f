#include "glm/toolprompt.h"

#include <stdlib.h>
#include <string.h>

void tool_set_cleanup(struct tool_set *ts)
{
    for (size_t i = 0; i < ts->n; i++) {
        free(ts->tools[i].name);
        free(ts->tools[i].description);
        json_decref(ts->tools[i].parameters);
    }
    free(ts->tools);
    free(ts->named);
    memset(ts, 0, sizeof(*ts));
}

const struct tool_def *tool_set_find(const struct tool_set *ts, const char *name)
{
    for (size_t i = 0; i < ts->n; i++)
        if (strcmp(ts->tools[i].name, name) == 0)
            return &ts->tools[i];
    return NULL;
}

/* json as compact text (UTF-8 kept), appended. */
static int put_json(struct buf *out, const json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
    int rc = s ? buf_puts(out, s) : -1;
    free(s);
    return rc;
}

static int put_tool(struct buf *out, const struct tool_def *t)
{
    json_t *o = json_pack("{s:s, s:s}", "name", t->name, "description", t->description);
    if (!o)
        return -1;
    json_object_set_new(o, "parameters", t->parameters ? json_incref(t->parameters) : json_object());
    int rc = put_json(out, o);
    json_decref(o);
    return rc < 0 ? -1 : buf_putc(out, '\n');
}

int toolprompt_tools(const struct tool_set *ts, struct buf *out)
{
    size_t start = out->len;
    int rc = buf_puts(out,
        "# Tools\n\n"
        "You can call the functions below to help with the user's request. Each is given as "
        "JSON: its name, what it does, and the JSON schema of its arguments.\n\n<tools>\n");
    for (size_t i = 0; i < ts->n && rc == 0; i++)
        if (ts->choice != TOOL_CHOICE_NAMED || strcmp(ts->tools[i].name, ts->named) == 0)
            rc = put_tool(out, &ts->tools[i]);
    if (rc == 0)
        rc = buf_puts(out,
            "</tools>\n\n"
            "To call a function, write the call in exactly this form, with the arguments as a "
            "JSON object that matches the function's schema:\n"
            "<tool_call>{\"name\": \"FUNCTION_NAME\", \"arguments\": {\"ARGUMENT\": \"VALUE\"}}"
            "</tool_call>\n");
    if (rc == 0)
        rc = buf_puts(out, ts->parallel
            ? "You may write several calls, one after the other. "
            : "Call at most one function at a time. ");
    if (rc == 0)
        rc = buf_puts(out,
            "After your call(s) stop writing: the results come back in the next message, each in "
            "a <tool_response> block. Never write a <tool_response> yourself. When no function "
            "is needed, answer normally, without any <tool_call>.\n");
    if (rc == 0 && ts->choice == TOOL_CHOICE_REQUIRED)
        rc = buf_puts(out, "You must call at least one of the functions now.\n");
    if (rc == 0 && ts->choice == TOOL_CHOICE_NAMED)
        rc = buf_printf(out, "You must call the function \"%s\" now.\n", ts->named);
    if (rc < 0)
        buf_truncate(out, start);
    return rc;
}

int toolprompt_json(const json_t *schema, struct buf *out)
{
    size_t start = out->len;
    int rc = buf_puts(out, schema
        ? "# Output format\n\nAnswer with exactly one JSON document that matches this JSON "
          "schema, and nothing else: no code fences, no words before or after it.\n<schema>\n"
        : "# Output format\n\nAnswer with exactly one JSON object and nothing else: no code "
          "fences, no words before or after it.\n");
    if (rc == 0 && schema)
        rc = put_json(out, schema);
    if (rc == 0 && schema)
        rc = buf_puts(out, "\n</schema>\n");
    if (rc < 0)
        buf_truncate(out, start);
    return rc;
}

/* The text of a content: a string, or the "text" parts joined by newlines. */
static int put_content(struct buf *out, const json_t *content)
{
    if (json_is_string(content))
        return buf_append(out, json_string_value(content), json_string_length(content));
    size_t i;
    const json_t *part;
    int first = 1;
    json_array_foreach(content, i, part) {
        const json_t *text = json_object_get(part, "text");
        if (!json_is_string(text))
            continue;
        if ((!first && buf_putc(out, '\n') < 0) ||
            buf_append(out, json_string_value(text), json_string_length(text)) < 0)
            return -1;
        first = 0;
    }
    return 0;
}

/* One call in our format; args is the client's arguments string (JSON
 * text, kept as a string when it is not JSON). */
static int put_call(struct buf *out, const char *name, const json_t *args)
{
    json_t *a = NULL;
    if (json_is_string(args))
        a = json_loadb(json_string_value(args), json_string_length(args), 0, NULL);
    else if (json_is_object(args))
        a = json_incref((json_t *)args);
    if (!a) {
        int blank = 1; /* "" and whitespace mean no arguments */
        for (const char *p = json_string_value(args); p && *p && blank; p++)
            blank = *p == ' ' || *p == '\n' || *p == '\t' || *p == '\r';
        a = json_is_string(args) && !blank ? json_incref((json_t *)args) : json_object();
    }
    json_t *c = json_pack("{s:s, s:o}", "name", name, "arguments", a);
    int rc = buf_puts(out, "<tool_call>");
    if (rc == 0)
        rc = put_json(out, c);
    if (rc == 0)
        rc = buf_puts(out, "</tool_call>");
    json_decref(c);
    return rc;
}

static json_t *text_message(const char *role, struct buf *b)
{
    json_t *m = json_pack("{s:s, s:s%}", "role", role, "content", buf_cstr(b), b->len);
    buf_reset(b);
    return m;
}

/* The name of the call with that id in the assistant messages before i. */
static const char *call_name(const json_t *messages, size_t i, const char *id)
{
    while (id && i-- > 0) {
        const json_t *calls = json_object_get(json_array_get(messages, i), "tool_calls");
        size_t k;
        const json_t *c;
        json_array_foreach(calls, k, c) {
            const char *cid = json_string_value(json_object_get(c, "id"));
            if (cid && strcmp(cid, id) == 0)
                return json_string_value(json_object_get(json_object_get(c, "function"), "name"));
        }
    }
    return NULL;
}

json_t *toolprompt_history(const json_t *messages)
{
    json_t *out = json_array();
    struct buf b;
    buf_init(&b, (size_t)1 << 30);
    size_t i;
    const json_t *m;
    json_array_foreach(messages, i, m) {
        const char *role = json_string_value(json_object_get(m, "role"));
        const json_t *calls = json_object_get(m, "tool_calls");
        const json_t *fc = json_object_get(m, "function_call");
        role = role ? role : "";
        int rc = 0;
        if (strcmp(role, "assistant") == 0 && (json_array_size(calls) || json_is_object(fc))) {
            rc = put_content(&b, json_object_get(m, "content"));
            size_t k;
            const json_t *c;
            json_array_foreach(calls, k, c) {
                const json_t *f = json_object_get(c, "function");
                const char *name = json_string_value(json_object_get(f, "name"));
                if (rc == 0 && name && b.len)
                    rc = buf_putc(&b, '\n');
                if (rc == 0 && name)
                    rc = put_call(&b, name, json_object_get(f, "arguments"));
            }
            const char *fname = json_string_value(json_object_get(fc, "name"));
            if (rc == 0 && fname)
                rc = (b.len ? buf_putc(&b, '\n') : 0) < 0
                         ? -1 : put_call(&b, fname, json_object_get(fc, "arguments"));
            json_array_append_new(out, text_message("assistant", &b));
        } else if (strcmp(role, "tool") == 0 || strcmp(role, "function") == 0) {
            const char *id = json_string_value(json_object_get(m, "tool_call_id"));
            const char *name = json_string_value(json_object_get(m, "name"));
            if (!name)
                name = call_name(messages, i, id);
            rc = buf_puts(&b, "<tool_response");
            if (rc == 0 && id) {
                json_t *s = json_string(id);
                rc = buf_puts(&b, " tool_call_id=") < 0 || put_json(&b, s) < 0 ? -1 : 0;
                json_decref(s);
            }
            if (rc == 0 && name) {
                json_t *s = json_string(name);
                rc = buf_puts(&b, " name=") < 0 || put_json(&b, s) < 0 ? -1 : 0;
                json_decref(s);
            }
            if (rc == 0)
                rc = buf_puts(&b, ">\n");
            if (rc == 0)
                rc = put_content(&b, json_object_get(m, "content"));
            if (rc == 0)
                rc = buf_puts(&b, "\n</tool_response>");
            json_array_append_new(out, text_message("<|observation|>", &b));
        } else {
            json_array_append(out, (json_t *)m);
        }
        if (rc < 0) {
            json_decref(out);
            out = NULL;
            break;
        }
    }
    buf_cleanup(&b);
    return out;
}

int toolprompt_repair_call(const char *problem, struct buf *out)
{
    return buf_printf(out,
        "Your last answer could not be used: %s. Write your function call(s) again now, "
        "correctly, each as <tool_call>{\"name\": \"FUNCTION_NAME\", \"arguments\": {...}}"
        "</tool_call> with arguments that match the function's schema, and nothing else.",
        problem);
}

int toolprompt_repair_json(const char *problem, const json_t *schema, struct buf *out)
{
    return buf_printf(out,
        "Your last answer could not be used: %s. Answer again with only the JSON document%s, "
        "no code fences and no other words.",
        problem, schema ? " that matches the schema" : "");
}
