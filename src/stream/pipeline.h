/* The stream pipeline: one place for the chain an upstream answer takes,
 *
 *   SSE bytes -> sse -> render -> [shape stages] -> writer
 *
 * with the usage count. The server's chat answer, bench/replay and the fuzz
 * targets all run this code. Pure: bytes in, answer events out through a
 * sink (stream/answer.h); it tells nothing to the client and does no I/O. The
 * caller builds the sink chain (the writer, then any shape stages in front
 * of it, e.g. stream/shape) and hands the pipeline its head.
 *
 * Call order (what api/chat.c does):
 *
 *   w = openai_writer_new(&wo, &out);               the writer writes into out
 *   head = openai_writer_sink(w)                     or a stage in front of it
 *   p = pipeline_new(&po, head);                     po.on_conversation: see below
 *   per upstream chunk:
 *       rc = pipeline_feed(p, data, len);            SSE_TOO_LONG: an event passed
 *                                                    max_event (fail the answer)
 *       write out (start the HTTP stream first when out is not empty and the
 *       stream has not started), then empty it;
 *       pipeline_status(p) != PIPELINE_RUNNING: the answer is over (below);
 *       pipeline_frames(p) > 0: the upstream began to answer (first-frame timer);
 *       pipeline_has_text(p): the first text came (time to first token).
 *   when the upstream transfer ends: pipeline_end(p), then as after a feed.
 *   pipeline_free(p); then free the stages and the writer.
 *
 * How an answer ends (pipeline_status):
 *   PIPELINE_DONE    the answer is complete and finish + usage went through
 *                    the sink: the upstream said stop or content filter, or a
 *                    stage halted (a stop string or the length limit: cancel
 *                    the upstream now). The writer has written its end.
 *   PIPELINE_FAILED  the renderer stopped without a complete answer: see
 *                    pipeline_render_state() (RENDER_FAILED with
 *                    pipeline_render_error(), RENDER_TOO_LONG, RENDER_TRUNCATED
 *                    after pipeline_end). Nothing was sent for it: the caller
 *                    words the error and either sends it through the sink with
 *                    pipeline_fail() (when the writer has started, e.g.
 *                    openai_writer_started) or answers with an HTTP error.
 *   PIPELINE_FULL    a sink op answered ANSWER_FULL (an output cap): the
 *                    caller fails the answer as for PIPELINE_FAILED.
 * After the answer is over, feeding more bytes does nothing (drain them).
 *
 * A repair turn (stream/shape: a stage halted with a problem, shape_problem):
 * free this pipeline and run a new one on the same head for the new upstream
 * answer. A halt without finish leaves the OpenAI writer unended (the usage
 * the pipeline sends after a halt writes nothing there), and the writer takes
 * the second start as a no-op. Usage is counted per pipeline.
 *
 * Events: start goes through once, before anything else: as soon as the
 * conversation id is known when early_start (a streamed reply shows it began
 * at once), else before the first text. Per frame, the text it added goes out
 * as one reasoning op, then one text op. */
#ifndef GLM_PIPELINE_H
#define GLM_PIPELINE_H

#include <stddef.h>

#include "stream/answer.h"
#include "stream/render.h"

struct pipeline_opts {
    struct render_opts render;
    size_t max_event;           /* cap on one SSE event (the upstream max-frame) */
    int early_start;            /* start at the first conversation id, not the first text */
    long prompt_tokens;         /* usage.prompt_tokens (the prompt's estimate) */
    /* Called once, the moment the renderer first knows the upstream
     * conversation id (after a frame, before the events of that frame): e.g.
     * openai_writer_set_id. May be NULL. */
    void (*on_conversation)(void *arg, const char *conversation_id);
    void *arg;
};

enum pipeline_status {
    PIPELINE_RUNNING,
    PIPELINE_DONE,
    PIPELINE_FAILED,
    PIPELINE_FULL,
};

struct pipeline;

/* head: the first sink of the chain (borrowed; it must outlive the pipeline). */
struct pipeline *pipeline_new(const struct pipeline_opts *o, struct sink head);
void pipeline_free(struct pipeline *p);

/* Upstream SSE bytes, in pieces of any size. Returns 0, or SSE_TOO_LONG
 * (stream/sse.h) when an event passed max_event (the pipeline is then
 * unusable). */
int pipeline_feed(struct pipeline *p, const char *data, size_t len);

/* The upstream closed: a last event cut short of its blank line is read,
 * text held back is released, and an answer without a terminal frame is
 * truncated (PIPELINE_FAILED, RENDER_TRUNCATED). */
void pipeline_end(struct pipeline *p);

/* An error after the answer began, sent through the sink chain (the writer
 * writes it in its dialect). Only while the answer is not done; once. */
int pipeline_fail(struct pipeline *p, const struct answer_error *e);

enum pipeline_status pipeline_status(const struct pipeline *p);
enum render_state pipeline_render_state(const struct pipeline *p);
/* As render_error(): the upstream's error code and message for RENDER_FAILED. */
int pipeline_render_error(const struct pipeline *p, const char **message);
/* "" until the first frame that carries it. */
const char *pipeline_conversation_id(const struct pipeline *p);
/* Frames seen (JSON objects). */
unsigned long pipeline_frames(const struct pipeline *p);
/* 1 once any text or reasoning came out of the renderer. */
int pipeline_has_text(const struct pipeline *p);
/* The counts so far (prompt, content + reasoning, reasoning). */
struct answer_usage pipeline_usage(const struct pipeline *p);

#endif
