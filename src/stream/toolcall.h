/* The tool-call recogniser: a shape stage (stream/answer.h) that finds the
 * calls a model writes in its answer text and turns them into tool events.
 *
 * Recognised, fed in any split (glm/toolprompt.h tells the model the first):
 *   <tool_call>{"name":"NAME","arguments":{...}}</tool_call>        ours (JSON)
 *   <tool_call>[{"name":...,"arguments":...}, ...]</tool_call>      several at once
 *   <tool_call>NAME
 *   <arg_key>K</arg_key>
 *   <arg_value>V</arg_value>
 *   </tool_call>                                                    GLM's native form
 *   <tool_call>NAME {"k":...}</tool_call>                           name, then JSON
 * In the native form a value is taken as raw text when the parameter's schema
 * type is "string", else as JSON (raw text again when it is not JSON).
 * "arguments" may also be a string holding JSON (OpenAI's own shape) and may
 * be called "parameters". A closing tag missing at the very end of the answer
 * is forgiven.
 *
 * What is not a call: markup inside reasoning (the reasoning op, or an inline
 * "<think>...</think>" that opens the answer); a call that names a tool not
 * offered (it stays text, as written). A call of an offered tool whose body
 * does not parse or whose arguments fail the tool's parameters schema is
 * invalid: in strict mode the answer halts with a problem for a repair turn
 * (nothing of the call is sent), else the markup is sent as text.
 *
 * Text is held back only while it may be the start of markup (at most the
 * length of "<tool_call>" minus one byte), or for a whole call's markup. Calls
 * go out once complete: at the first text after them that is not whitespace
 * or another call (that text and all after it is not sent; the upstream can
 * be cancelled: the op answers ANSWER_HALT after forwarding finish
 * ANSWER_TOOL_CALLS), or at finish. Each call is tool_begin (index from 0,
 * "call_" + 24 random alphanumerics, the name), one tool_args with the compact
 * JSON arguments ("{}" when none), tool_end. */
#ifndef GLM_TOOLCALL_H
#define GLM_TOOLCALL_H

#include <stddef.h>

#include <jansson.h>

#include "stream/answer.h"

struct toolcall_decl {
    const char *name;          /* borrowed for the stage's life */
    const json_t *parameters;  /* its JSON schema; NULL accepts any object */
};

struct toolcall_opts {
    const struct toolcall_decl *tools;  /* the tools offered; borrowed */
    size_t ntools;
    int parallel;      /* 0: the first call ends the answer (parallel_tool_calls:false) */
    int strict;        /* an invalid call (or a missing required one) halts with a problem */
    int required;      /* a call is required: text is held and, when a call comes, not sent */
    size_t max_call;   /* cap on one call's markup; past it the markup is text */
    size_t max_held;   /* cap on held text (required); past it text is dropped */
};

struct toolcall;

/* A new stage that forwards to next. */
struct toolcall *toolcall_new(const struct toolcall_opts *o, struct sink next);
void toolcall_free(struct toolcall *t);
struct sink toolcall_sink(struct toolcall *t);

/* Why the answer halted for a repair turn ("the call of get_weather has
 * invalid arguments: arguments.city: expected a string"), or NULL. Borrowed. */
const char *toolcall_problem(const struct toolcall *t);
/* The name of the tool whose call was invalid, or "" (none, or no call). */
const char *toolcall_problem_tool(const struct toolcall *t);
/* Readies the stage for the repair answer on the same client answer: the
 * problem is cleared, strict mode is off (what fails now is text), the call
 * index goes on from the calls already sent (none are sent before a
 * problem). start is not forwarded again. */
void toolcall_retry(struct toolcall *t);
/* Calls sent so far. */
int toolcall_sent(const struct toolcall *t);

#endif
