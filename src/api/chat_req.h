/* The Chat Completions request -> a turn (turn.h): the body is parsed once,
 * checked and read into the turn; a refusal is a 400 in api_error's shape.
 * Pure (no I/O, no server state) so that it can be unit-tested and fuzzed on
 * its own. */
#ifndef GLM_CHAT_REQ_H
#define GLM_CHAT_REQ_H

#include <stddef.h>

#include <jansson.h>

#include "turn.h"
#include "util/apierr.h"

/* The model of a request that names none. */
#define CHAT_DEFAULT_MODEL "glm-4"

/* Parses body into t (turn_init'ed by the caller; filled, possibly partly,
 * either way: turn_free it). Returns 0, or -1 with e filled: invalid_json or
 * a check failure (chat_req_check). */
int chat_req_parse(const char *body, size_t len, struct turn *t, struct api_error *e);
/* The same on a parsed body (borrowed; the turn keeps a reference). */
int chat_req_from_json(json_t *root, struct turn *t, struct api_error *e);

/* Checks a parsed request body: an object with the right types for model,
 * stream, stream_options, conversation_id, reasoning_format and messages (a
 * non-empty array of objects with a non-empty string role and a string,
 * array-of-parts or null content). Unknown fields are allowed. Returns 0, or
 * -1 with e filled in (status 400, param "" when none). */
int chat_req_check(const json_t *root, struct api_error *e);

/* Appends OpenAI messages to t without checking them: what it cannot read
 * it leaves out (a text part without a string text, unknown part types).
 * messages is borrowed and must outlive t (or be kept with turn_keep_doc). */
void chat_req_messages(struct turn *t, const json_t *messages);

#endif
