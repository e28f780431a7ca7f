/* The OpenAI chat request check, kept pure (no I/O, no server state) so that
 * it can be unit-tested and fuzzed on its own. chat_handle() turns a failure
 * into a 400 with these fields. */
#ifndef GLM_CHAT_CHECK_H
#define GLM_CHAT_CHECK_H

#include <jansson.h>

/* Why a request was refused: OpenAI's error "param" ("" when none), "code"
 * and "message". */
struct chat_check_error {
    char param[64];
    char code[40];
    char message[256];
};

/* Checks a parsed request body: an object with the right types for model,
 * stream, stream_options, conversation_id, reasoning_format and messages (a
 * non-empty array of objects with a non-empty string role and a string,
 * array-of-parts or null content). Unknown fields are allowed. Returns 0, or
 * -1 with err filled in. */
int chat_request_check(const json_t *root, struct chat_check_error *err);

#endif
