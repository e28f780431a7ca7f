/* Upstream answers: the SSE fixtures and error cases loaded at startup, and
 * "answers" prepared from them for one request (profile v1/v2, framing,
 * ASCII escaping, heartbeats) or generated (long answers, endless streams).
 * An answer is a list of frames, each a run of bytes ready to write, plus the
 * template ids inside them that the stream replaces with fresh ones. */
#ifndef MOCK_FIXTURE_H
#define MOCK_FIXTURE_H

#include <stddef.h>

#include "state.h"
#include "util/buf.h"

struct mock_fixtures;
struct mock_answer;
struct mock_endless;

struct mock_error_case {
    char *name;
    int code;
    char *reason;
    char *content_type;
    char *body;
    size_t body_len;
};

/* Reads every *.sse file of dir and dir/chat-error-json.txt. chat-plain.sse
 * and the error file are required. NULL with a message in err on failure. */
struct mock_fixtures *mock_fixtures_load(const char *dir, char *err, size_t errlen);
void mock_fixtures_free(struct mock_fixtures *f);
int mock_fixtures_has(const struct mock_fixtures *f, const char *name);
/* Borrowed, or NULL for an unknown case name. */
const struct mock_error_case *mock_fixtures_error(const struct mock_fixtures *f,
                                                  const char *name);

/* New answer from fixture name under the settings, or NULL when unknown.
 * heartbeat inserts a "data: ping" frame after the first frame and an SSE
 * comment after the third. */
struct mock_answer *mock_answer_fixture(const struct mock_fixtures *f, const char *name,
                                        const struct mock_settings *st, int heartbeat);
/* A generated answer: an empty first frame, frames text frames each adding
 * chars characters, a part-finish frame and the final frame. The last one is
 * cached in f, so asking again with the same arguments costs nothing. NULL
 * with a message in err when the arguments are out of range or too big. */
struct mock_answer *mock_answer_long(struct mock_fixtures *f, long frames, long chars,
                                     const struct mock_settings *st, char *err,
                                     size_t errlen);
/* One frame holding a copy of data. */
struct mock_answer *mock_answer_bytes(const char *data, size_t len);
/* An empty answer whose frames use the generated ids (mock_generated_conv_id()
 * etc.), for frames written elsewhere (script.c), and one frame appended to
 * it. -1 past max. */
struct mock_answer *mock_answer_generated(size_t max);
int mock_answer_add_frame(struct mock_answer *a, const char *data, size_t len)
    __attribute__((warn_unused_result));
struct mock_answer *mock_answer_ref(struct mock_answer *a);
void mock_answer_unref(struct mock_answer *a);
size_t mock_answer_nframes(const struct mock_answer *a);
/* Borrowed bytes of frame i. */
const char *mock_answer_frame(const struct mock_answer *a, size_t i, size_t *len);
/* The ids used inside the answer's frames ("" when there are none). */
const char *mock_answer_conv_id(const struct mock_answer *a);
const char *mock_answer_msg_id(const struct mock_answer *a);
const char *mock_answer_assistant_id(const struct mock_answer *a);

/* A never-ending answer: the empty first frame, then text frames that grow by
 * a few characters each (cumulative in v1, deltas in v2). Its ids are those
 * of mock_endless_conv_id() etc. */
struct mock_endless *mock_endless_new(const struct mock_settings *st);
void mock_endless_free(struct mock_endless *e);
/* Appends the next frame to out. -1 when out is full. */
int mock_endless_next(struct mock_endless *e, struct buf *out)
    __attribute__((warn_unused_result));
const char *mock_generated_conv_id(void);
const char *mock_generated_msg_id(void);
const char *mock_generated_assistant_id(void);

#endif
