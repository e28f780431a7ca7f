/* The answer-shaping options of a Chat Completions request: tools and
 * tool_choice (and the legacy functions / function_call), parallel_tool_calls,
 * response_format, stop, max_tokens / max_completion_tokens; and the refusals
 * of what the site cannot do (n > 1, logprobs, audio output, ...). Parsed
 * once, before any account is used; a bad value is a 400 that names it.
 * Pure: JSON in, a struct out. */
#ifndef GLM_CHAT_SHAPE_H
#define GLM_CHAT_SHAPE_H

#include <stddef.h>

#include <jansson.h>

#include "glm/toolprompt.h"
#include "stream/cut.h"
#include "util/apierr.h"
#include "util/buf.h"

enum shape_format { SHAPE_TEXT, SHAPE_JSON_OBJECT, SHAPE_JSON_SCHEMA };

struct chat_shape {
    struct tool_set tools;      /* tools.n == 0: none; choice NONE: none told */
    enum shape_format format;
    json_t *schema;             /* json_schema's schema (a new reference) */
    char *stops[STOPCUT_MAX];
    size_t nstops;
    long max_tokens;            /* 0: no limit */
};

/* 0, or -1 with a 400 in e. s is always left clean to free. */
int chat_shape_parse(const json_t *root, struct chat_shape *s, struct api_error *e);
void chat_shape_cleanup(struct chat_shape *s);
/* Whether tools are told to the model (and calls looked for). */
int chat_shape_tools(const struct chat_shape *s);
/* Whether any stage is needed: when not, the answer goes straight to the writer. */
int chat_shape_active(const struct chat_shape *s);
/* The instructions for the model (tools, JSON output), appended; nothing
 * when none is needed. 0, or -1 when out's cap is reached. */
int chat_shape_instructions(const struct chat_shape *s, struct buf *out);

#endif
