/* The OpenAI Responses API writer: a sink (stream/answer.h) that writes
 * response.* events ("event: <type>" + "data: {...,"sequence_number":n}") into
 * a buffer when streaming, and the whole response object either way.
 *
 * Event order for one answer: response.created, response.in_progress; per
 * output item output_item.added, its content events, output_item.done; then
 * response.completed, response.incomplete (length limit, content filter) or
 * response.failed. Items: "reasoning" (summary_text), "message" (output_text,
 * annotations []), "function_call" (call_id, name, arguments). The final event
 * is written when usage() arrives, or by responses_writer_flush(). */
#ifndef GLM_RESPONSES_H
#define GLM_RESPONSES_H

#include <stddef.h>

#include "stream/answer.h"
#include "util/buf.h"

struct responses_meta {
    const char *id;         /* "resp_..." (item ids are derived from it) */
    const char *model;
    long long created;
    int stream;             /* 0: nothing is written until responses_writer_object */
    size_t max_answer;      /* cap on the collected text */
    /* Echoed in the response object as given (raw JSON, may be NULL):
     * OpenAI's clients read them back. */
    const char *previous_response_id;
    const char *instructions_json;  /* a JSON string literal or NULL */
};

struct responses_writer;

/* out: where streamed events go (borrowed; may be NULL when !stream). */
struct responses_writer *responses_writer_new(const struct responses_meta *m, struct buf *out);
void responses_writer_free(struct responses_writer *w);
struct sink responses_writer_sink(struct responses_writer *w);

/* Writes the final event now if finish or error came and it was not written
 * yet (usage then counts as zero). Returns 0 or -1 (buffer cap). */
int responses_writer_flush(struct responses_writer *w);

/* The whole response object as it stands ("in_progress" before finish). */
int responses_writer_object(struct responses_writer *w, struct buf *out);
/* "completed", "incomplete", "failed" or "in_progress". */
const char *responses_writer_status(const struct responses_writer *w);
/* 1 when at least one event of the answer proper (after in_progress) went out. */
int responses_writer_started(const struct responses_writer *w);

#endif
