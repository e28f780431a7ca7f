/* OpenAI messages -> the one prompt chatglm.cn receives (protocol spec 8.3). */
#ifndef GLM_PROMPT_H
#define GLM_PROMPT_H

#include <jansson.h>

#include "util/buf.h"

/* messages: a JSON array already validated by the request parser: objects with
 * a "role" string and a "content" that is a string, an array of parts or null.
 * passthrough: the spec's pass-through mode (a conversation is continued, or
 * fewer than two messages), else merge mode with role labels, the
 * file-attention system message and the markdown-image and /mnt/data
 * stripping. system_tag labels system (and developer) messages.
 * Appends to out; returns 0, or -1 when out's cap is reached. */
int prompt_merge(const json_t *messages, int passthrough, const char *system_tag,
                 struct buf *out);

/* Whether the last message's content is an array with a "file" or "image_url" part. */
int prompt_last_has_attachment(const json_t *messages);

/* The spec's test for a usable conversation id: contains 24 consecutive
 * [0-9A-Za-z] characters. */
int prompt_conversation_id_valid(const char *id);

/* Removes, in place, markdown images "![...](...)" (greedy within a line) and
 * "/mnt/data/..." to the end of the line. Returns the new length. */
size_t prompt_strip(char *s, size_t len);

#endif
