/* The shape stages of one answer, chained in the order of stream/answer.h:
 *
 *   [tool recogniser] -> [JSON output] -> [stop cutter] -> [length cutter] -> writer
 *
 * Only the stages the request asks for are made; with none, shape_new gives
 * NULL and the answer goes straight to the writer (no per-frame cost).
 * The first answer is strict: an invalid tool call, a missing required call
 * or a missing/invalid JSON document halts it with a problem, and the caller
 * runs one repair turn on the same upstream conversation (shape_retry, then
 * the same sink); the repair answer is not strict. Pure. */
#ifndef GLM_SHAPE_H
#define GLM_SHAPE_H

#include <stddef.h>

#include <jansson.h>

#include "stream/answer.h"
#include "stream/toolcall.h"

enum shape_json { SHAPE_JSON_NONE, SHAPE_JSON_ANY_OBJECT, SHAPE_JSON_SCHEMA_DOC };

struct shape_opts {
    const struct toolcall_decl *tools;  /* the tools the model may call; borrowed */
    size_t ntools;                      /* 0: no recogniser */
    int parallel;
    int required;                       /* tool_choice required, or a named tool */
    enum shape_json json;
    const json_t *schema;               /* SHAPE_JSON_SCHEMA_DOC; borrowed */
    const char *const *stops;           /* borrowed only during shape_new */
    size_t nstops;
    long max_tokens;                    /* 0: no length cutter */
    size_t max_answer;                  /* the caps of held text */
};

/* Which repair a problem needs. */
enum shape_repair { SHAPE_REPAIR_NONE, SHAPE_REPAIR_CALL, SHAPE_REPAIR_JSON };

struct shape;

/* NULL when no stage is asked for (use writer directly). */
struct shape *shape_new(const struct shape_opts *o, struct sink writer);
void shape_free(struct shape *s);
struct sink shape_sink(struct shape *s);
/* After an op answered ANSWER_HALT: the problem that needs a repair turn, or
 * NONE (then the answer is complete). msg: the problem in words. */
enum shape_repair shape_problem(const struct shape *s, const char **msg);
/* Readies the stages for the repair answer (no longer strict). */
void shape_retry(struct shape *s);
/* Whether tool calls went out (for finish_reason and the message). */
int shape_calls(const struct shape *s);

#endif
