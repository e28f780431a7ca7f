/* OpenAI wire format, written straight into a buffer (no JSON DOM on the hot
 * path): chat.completion.chunk events, chat.completion objects, error bodies,
 * the token estimate behind "usage", and the Chat Completions writer: a sink
 * (stream/answer.h) that turns answer events into those. */
#ifndef GLM_OPENAI_H
#define GLM_OPENAI_H

#include <stddef.h>

#include "stream/answer.h"
#include "util/buf.h"

struct openai_meta {
    const char *id;       /* the upstream conversation id */
    const char *model;    /* the model name the client asked for */
    long long created;    /* unix seconds, the same in every chunk */
    int usage_null;       /* include_usage: "usage":null on every chunk but the usage one */
};

struct openai_usage {
    long prompt_tokens;
    long completion_tokens;   /* content + reasoning */
    long reasoning_tokens;    /* part of completion_tokens */
};

/* Each of these appends one complete SSE event "data: ...\n\n". 0 or -1. */
int openai_sse_role(struct buf *out, const struct openai_meta *m);
/* content and/or reasoning (either may be NULL or empty, not both). */
int openai_sse_delta(struct buf *out, const struct openai_meta *m, const char *content,
                     size_t content_len, const char *reasoning, size_t reasoning_len);
int openai_sse_finish(struct buf *out, const struct openai_meta *m, const char *finish_reason);
/* The stream_options.include_usage chunk: "choices":[] and "usage". */
int openai_sse_usage(struct buf *out, const struct openai_meta *m, const struct openai_usage *u);
int openai_sse_error(struct buf *out, const char *message, const char *type, const char *code);
int openai_sse_done(struct buf *out);

/* A whole non-streamed chat.completion object (no trailing newline).
 * reasoning may be NULL/empty (then no "reasoning_content" field). */
int openai_completion(struct buf *out, const struct openai_meta *m, const char *content,
                      size_t content_len, const char *reasoning, size_t reasoning_len,
                      const char *finish_reason, const struct openai_usage *u);

/* {"error":{"message":...,"type":...,"param":...,"code":...}}; param and code
 * may be NULL (JSON null). */
int openai_error_body(struct buf *out, const char *message, const char *type,
                      const char *param, const char *code);

/* ---- the Chat Completions writer ----
 * Streamed: every event goes into out at once as chat.completion.chunk SSE
 * events: the role chunk at start (or before the first event that needs it);
 * one delta chunk per text or reasoning piece; for a tool call, a first delta
 * {"tool_calls":[{"index","id","type":"function","function":{"name",
 * "arguments":""}}]} and then {"tool_calls":[{"index","function":
 * {"arguments":piece}}]} per piece; at finish the chunk with finish_reason
 * ("stop", "length", "tool_calls", "content_filter"); at usage the usage chunk
 * (include_usage only) and "data: [DONE]". An error writes the error event and
 * [DONE] (send it only after the stream started: before, the caller answers
 * with an HTTP error instead).
 * Collected: nothing is written until usage, which writes the whole
 * chat.completion object (message.tool_calls when calls came; then
 * "content":null when there was no text). An error writes nothing.
 * Ops answer ANSWER_FULL when out (or the collected text) is at its cap. */
struct openai_writer_opts {
    const char *model;      /* the model name the client asked for (copied) */
    long long created;      /* unix seconds, the same in every chunk */
    int stream;
    int include_usage;      /* stream_options.include_usage */
    size_t max_answer;      /* collected: the text kept is capped a little above this */
};

struct openai_writer;

/* out: where the events (or the object) go; borrowed, the caller empties it. */
struct openai_writer *openai_writer_new(const struct openai_writer_opts *o, struct buf *out);
void openai_writer_free(struct openai_writer *w);
struct sink openai_writer_sink(struct openai_writer *w);
/* The upstream conversation id, the "id" of what is written from now on
 * (copied; "" until set). See pipeline_opts.on_conversation. */
void openai_writer_set_id(struct openai_writer *w, const char *id);
/* Streamed: 1 once the role chunk went out (the client saw the stream begin). */
int openai_writer_started(const struct openai_writer *w);
/* After finish, when usage never came: writes what usage would have (with
 * zero counts). 0, or -1 at the cap. */
int openai_writer_flush(struct openai_writer *w);

/* An honest token estimate for text (documented in the README):
 * each CJK/fullwidth code point counts 1, other non-ASCII code points 1/2,
 * runs of ASCII letters/digits count ceil(len/4), every other ASCII
 * non-space character 1; whitespace is free. Refinements: the halves are
 * summed and rounded up once at the end; code points above U+FFFF that are
 * not CJK (emoji, mostly) count 1, not 1/2; each invalid UTF-8 sequence
 * counts as one non-ASCII code point (1/2). */
long usage_estimate(const char *s, size_t n);

#endif
