/* Tools and JSON output told to the model, in prompt text: the one place that
 * holds the instruction format the tool recogniser (stream/toolcall.h) reads
 * back.
 *
 * The format: one call per tag, JSON inside,
 *     <tool_call>{"name": "get_weather", "arguments": {"city": "Paris"}}</tool_call>
 * and results fed back as
 *     <tool_response tool_call_id="call_..." name="get_weather">...</tool_response>
 * under an "<|observation|>" label, GLM's own role for tool output. Why: the
 * <tool_call> tag is the one GLM-4.5+ models already write unprompted, so the
 * recogniser needs one opening tag (and one hold-back prefix) for both forms;
 * JSON arguments are what the client gets, so a value's type is never
 * guessed (GLM's native <arg_value> needs the schema to tell 3 from "3"); and
 * the same JSON form is what the models were trained on in Hermes/Qwen-style
 * tool data, so they write it reliably. */
#ifndef GLM_TOOLPROMPT_H
#define GLM_TOOLPROMPT_H

#include <stddef.h>

#include <jansson.h>

#include "util/buf.h"

#define TOOLS_MAX 128                 /* OpenAI's own limit on tools */
#define TOOLS_MAX_TEXT (256 * 1024)   /* the rendered tool descriptions */

struct tool_def {
    char *name;
    char *description;      /* "" when none */
    json_t *parameters;     /* a new reference; NULL when none */
};

enum tool_choice {
    TOOL_CHOICE_AUTO,
    TOOL_CHOICE_NONE,       /* no tool text is sent at all */
    TOOL_CHOICE_REQUIRED,
    TOOL_CHOICE_NAMED,      /* the tool named in tool_set.named */
};

struct tool_set {
    struct tool_def *tools;
    size_t n;
    enum tool_choice choice;
    char *named;
    int parallel;           /* parallel_tool_calls, default 1 */
};

void tool_set_cleanup(struct tool_set *ts);
/* The tool of that name, or NULL. */
const struct tool_def *tool_set_find(const struct tool_set *ts, const char *name);

/* The instructions for the tools (all of them, or only the named one),
 * appended to out. 0, or -1 when out's cap is reached. */
int toolprompt_tools(const struct tool_set *ts, struct buf *out);

/* The instructions for JSON output; schema NULL for json_object. */
int toolprompt_json(const json_t *schema, struct buf *out);

/* A copy of messages (new reference) whose assistant tool calls (tool_calls,
 * or the legacy function_call) and tool results (role "tool", or the legacy
 * "function") are written as text in the format above, so that the prompt
 * merge sees only roles and text. Other messages are kept (borrowed parts are
 * shared). */
json_t *toolprompt_history(const json_t *messages);

/* The text of a repair turn, sent on the same conversation. */
int toolprompt_repair_call(const char *problem, struct buf *out);
int toolprompt_repair_json(const char *problem, const json_t *schema, struct buf *out);

#endif
