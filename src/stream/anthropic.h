/* The Anthropic Messages API writer: a sink (stream/answer.h) that writes
 * message_start, content_block_start / _delta / _stop per block, message_delta
 * and message_stop ("event: <name>" + "data: {...}") when streaming, and the
 * whole message object either way. Blocks: "thinking" (with a signature, empty
 * here: the site signs nothing), "text", "tool_use" (id "toolu_...", input an
 * object). stop_reason: end_turn, stop_sequence, max_tokens, tool_use (only
 * with a tool_use block), refusal (the site intervened). The closing events
 * are written when usage() arrives, or by anthropic_writer_flush(). Also the
 * error envelope, for errors before and after a stream started. */
#ifndef GLM_ANTHROPIC_H
#define GLM_ANTHROPIC_H

#include <stddef.h>

#include "stream/answer.h"
#include "util/buf.h"

struct anthropic_meta {
    const char *id;         /* "msg_..." */
    const char *model;
    long input_tokens;      /* message_start's usage: never 0 (Claude Code shows it) */
    int stream;
    size_t max_answer;
};

struct anthropic_writer;

struct anthropic_writer *anthropic_writer_new(const struct anthropic_meta *m, struct buf *out);
void anthropic_writer_free(struct anthropic_writer *w);
struct sink anthropic_writer_sink(struct anthropic_writer *w);
/* Writes the closing events if finish came and they were not written yet. */
int anthropic_writer_flush(struct anthropic_writer *w);
/* event: ping (sent while the upstream is silent). */
int anthropic_writer_ping(struct anthropic_writer *w);
/* The whole message object (non-streamed answers). */
int anthropic_writer_object(struct anthropic_writer *w, struct buf *out);
/* 1 when error() came. */
int anthropic_writer_failed(const struct anthropic_writer *w);

/* Anthropic's error type for an HTTP status (400 invalid_request_error, 401
 * authentication_error, 403 permission_error, 404 not_found_error, 413
 * request_too_large, 429 rate_limit_error, 529 overloaded_error, other 5xx
 * api_error). */
const char *anthropic_error_type(int status);
/* {"type":"error","error":{"type":T,"message":M}} */
int anthropic_error_body(struct buf *out, const char *type, const char *message);

#endif
