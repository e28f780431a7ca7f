/* A turn's messages -> the one prompt chatglm.cn receives (protocol spec 8.3). */
#ifndef GLM_PROMPT_H
#define GLM_PROMPT_H

#include "turn.h"
#include "util/buf.h"

/* The turn's system text and messages as one prompt. passthrough: the
 * spec's pass-through mode (a conversation is continued, or fewer than two
 * messages): the text parts as they are; else merge mode with role labels,
 * the file-attention system message and the markdown-image and /mnt/data
 * stripping. system_tag labels system (and developer) messages. Only text
 * parts are shown. t is borrowed and stays untouched. Appends to out;
 * returns 0, or -1 (out as it was) when out's cap is reached. */
int prompt_merge(const struct turn *t, int passthrough, const char *system_tag, struct buf *out);

/* The spec's test for a usable conversation id: contains 24 consecutive
 * [0-9A-Za-z] characters. */
int prompt_conversation_id_valid(const char *id);

/* Removes, in place, markdown images "![...](...)" (greedy within a line) and
 * "/mnt/data/..." to the end of the line. Returns the new length. */
size_t prompt_strip(char *s, size_t len);

#endif
