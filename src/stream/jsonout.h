/* The JSON-output stage (response_format json_object / json_schema): a shape
 * stage (stream/answer.h) that makes the answer's content exactly one JSON
 * document. The text is kept, not sent, and searched for the first JSON
 * value that begins with '{' (or '[' when the schema's type is "array")
 * and parses, whatever surrounds it: code fences, chatter before and after.
 * A document that fails the schema is passed over for a later one. The first
 * good document is sent at once as one text event (as the model wrote it),
 * then finish ANSWER_STOP and ANSWER_HALT: nothing after it is needed.
 *
 * When the answer ends without a good document: in strict mode the stage
 * halts with a problem (for a repair turn) and forwards nothing; else it
 * forwards an error (502, "invalid_json_output") naming the problem, before
 * any content. Reasoning and tool calls pass through; an answer with calls
 * finishes as it is. */
#ifndef GLM_JSONOUT_H
#define GLM_JSONOUT_H

#include <stddef.h>

#include <jansson.h>

#include "stream/answer.h"

struct jsonout_opts {
    const json_t *schema;   /* borrowed; NULL: any JSON object (json_object) */
    int strict;
    size_t max;             /* cap on the kept text; past it the answer fails */
};

struct jsonout;

struct jsonout *jsonout_new(const struct jsonout_opts *o, struct sink next);
void jsonout_free(struct jsonout *j);
struct sink jsonout_sink(struct jsonout *j);
/* Why the answer needs a repair turn, or NULL. Borrowed. */
const char *jsonout_problem(const struct jsonout *j);
/* For the repair answer: the text is forgotten, strict mode is off. */
void jsonout_retry(struct jsonout *j);

#endif
