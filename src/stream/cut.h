/* Two shape stages (stream/answer.h) that end an answer early:
 *
 * The stop cutter: the answer's text ends before the first match of any stop
 * string (the match that ends first: where a model writing token by token
 * would have stopped), also when a match is split across frames; the text is held back
 * only while its end may be the start of a stop string (at most the longest
 * stop string minus one byte). On a match it forwards the text before it and
 * finish ANSWER_STOP with the stop string, and answers ANSWER_HALT (the
 * caller cancels the upstream). Reasoning is not searched.
 *
 * The length cutter: counts text, reasoning and tool arguments with
 * usage_estimate() (the estimate behind "usage") and ends the answer at
 * max_tokens: the piece that passes the limit is cut to the longest prefix
 * that fits, then finish ANSWER_LENGTH and ANSWER_HALT. A tool call is never
 * cut: one that begins with no room left is not sent. The usage it forwards
 * counts no more than it let through.
 *
 * After a halt, every op but usage answers ANSWER_HALT and forwards nothing. */
#ifndef GLM_CUT_H
#define GLM_CUT_H

#include <stddef.h>

#include "stream/answer.h"

#define STOPCUT_MAX 4          /* OpenAI's limit on stop strings */
#define STOPCUT_MAX_LEN 256    /* bytes of one stop string */

struct stopcut;
struct lencut;

/* stops: n (1..STOPCUT_MAX) non-empty strings, copied. */
struct stopcut *stopcut_new(const char *const *stops, size_t n, struct sink next);
void stopcut_free(struct stopcut *s);
struct sink stopcut_sink(struct stopcut *s);

struct lencut *lencut_new(long max_tokens, struct sink next);
void lencut_free(struct lencut *l);
struct sink lencut_sink(struct lencut *l);

#endif
