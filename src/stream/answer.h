/* The typed answer events between the renderer and a dialect's writer, and
 * the sink interface every stage between them speaks (DESIGN.md, "Three
 * dialects, one answer"):
 *
 *   render -> [tool recogniser] -> [stop cutter] -> [length cutter] -> writer
 *
 * A shape stage is a sink that forwards to the next sink; a writer is the last
 * sink and turns events into one dialect's wire format (streamed or collected).
 * An answer that uses no shaping goes from render straight to the writer, so
 * the stages cost nothing per frame when they are not asked for.
 *
 * Call order on one sink: start once; then any mix of text, reasoning and
 * tool_begin/tool_args.../tool_end (calls do not interleave: a call is ended
 * before the next begins or text resumes); then exactly one of finish or
 * error; usage may come once, after finish. Pure: no I/O, no globals. */
#ifndef GLM_ANSWER_H
#define GLM_ANSWER_H

#include <stddef.h>

enum answer_finish {
    ANSWER_STOP,            /* the model ended, or a stop string matched */
    ANSWER_LENGTH,          /* max_tokens reached (the server's estimate) */
    ANSWER_TOOL_CALLS,      /* at least one tool call was emitted */
    ANSWER_CONTENT_FILTER,  /* the site intervened */
};

struct answer_usage {
    long prompt_tokens;
    long completion_tokens;   /* content + reasoning + tool call text */
    long reasoning_tokens;    /* part of completion_tokens */
};

/* An error after the answer started (upstream failure, truncated stream,
 * unrepairable JSON document). Fields as OpenAI's envelope; status is the
 * HTTP status it would have had before the stream started. */
struct answer_error {
    int status;
    const char *type;
    const char *code;       /* may be NULL */
    const char *message;
};

/* Every op returns ANSWER_GO to carry on, ANSWER_HALT when the answer is
 * complete (a stop string or the length limit: the caller cancels the
 * upstream at once and sends nothing more but finish/usage, which the stage
 * that halted has already forwarded), or ANSWER_FULL when an output cap was
 * hit (the caller fails the answer). Ops a stage does not care about are
 * forwarded unchanged. */
enum { ANSWER_GO = 0, ANSWER_HALT = 1, ANSWER_FULL = -1 };

struct sink_ops {
    int (*start)(void *self);
    int (*text)(void *self, const char *s, size_t n);
    int (*reasoning)(void *self, const char *s, size_t n);
    /* index counts calls from 0 within the answer; id is e.g. "call_..." */
    int (*tool_begin)(void *self, int index, const char *id, const char *name);
    /* A piece of the call's arguments; the pieces joined are compact JSON. */
    int (*tool_args)(void *self, int index, const char *s, size_t n);
    int (*tool_end)(void *self, int index);
    /* stop_seq: the stop string that matched (ANSWER_STOP only), else NULL. */
    int (*finish)(void *self, enum answer_finish why, const char *stop_seq);
    int (*error)(void *self, const struct answer_error *e);
    int (*usage)(void *self, const struct answer_usage *u);
};

struct sink {
    const struct sink_ops *ops;
    void *self;
};

#endif
