/* Scripted model answers: a test registers what the model "writes" (text,
 * reasoning, and how finely it is cut into frames) under a name with
 * POST /_mock/script, and asks for it with the marker [[script:NAME]] in the
 * prompt. Each answer of a script is its next reply (the last one repeats):
 * the next request of a client's tool loop, which repeats the marker in its
 * history, and a continued conversation started with the script (e.g. the
 * server's repair turn, whose prompt has no marker) both get the next one. */
#ifndef MOCK_SCRIPT_H
#define MOCK_SCRIPT_H

#include <stddef.h>

#include <event2/http.h>

#include "fixture.h"

#define MOCK_SCRIPTS_MAX 1000

/* POST /_mock/script {"name":"x","replies":[{"think":"...","text":"...","chunk":N}, ...]}:
 * chunk is the characters each frame adds (default: the whole text at once). */
void mock_script_handle(struct evhttp_request *req);
/* Forgets every script and conversation (POST /_mock/reset). */
void mock_script_reset(void);
/* The script a continued conversation was started with, copied to out, or 0. */
int mock_script_of(const char *conv_id, char *out, size_t outsz);
/* The script's next reply as an answer; conv_id is remembered as started
 * with it. NULL with a message when the name is unknown. */
struct mock_answer *mock_script_answer(const char *name, const char *conv_id, char *err,
                                       size_t errlen);

#endif
