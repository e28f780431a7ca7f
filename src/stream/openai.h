/* OpenAI wire format, written straight into a buffer (no JSON DOM on the hot
 * path): chat.completion.chunk events, chat.completion objects, error bodies,
 * and the token estimate behind "usage". */
#ifndef GLM_OPENAI_H
#define GLM_OPENAI_H

#include <stddef.h>

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
/* The conventional error "type" for an HTTP status. */
const char *openai_error_type(int status);

/* An honest token estimate for text (documented in the README):
 * each CJK/fullwidth code point counts 1, other non-ASCII code points 1/2,
 * runs of ASCII letters/digits count ceil(len/4), every other ASCII
 * non-space character 1; whitespace is free. Refinements: the halves are
 * summed and rounded up once at the end; code points above U+FFFF that are
 * not CJK (emoji, mostly) count 1, not 1/2; each invalid UTF-8 sequence
 * counts as one non-ASCII code point (1/2). */
long usage_estimate(const char *s, size_t n);

#endif
