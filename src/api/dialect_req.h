/* The request parsers of the two newer dialects: the OpenAI Responses API and
 * the Anthropic Messages API, each turning its wire format into a struct turn
 * (turn.h) and nothing else. Pure: no I/O, no server state; a stored response
 * that an item_reference names is looked up through a callback. Errors come
 * back as a struct api_error (status 400, param and message naming the field);
 * the caller writes it in its dialect's envelope. */
#ifndef GLM_DIALECT_REQ_H
#define GLM_DIALECT_REQ_H

#include <jansson.h>

#include "turn.h"
#include "util/apierr.h"

/* How much reasoning the client asked for; the glue maps it onto the model's
 * reasoning mode. */
enum dialect_think {
    DIALECT_THINK_UNSET,    /* not asked: the model name decides */
    DIALECT_THINK_OFF,      /* effort none/minimal, thinking disabled */
    DIALECT_THINK_ON,       /* effort low/medium/high, thinking enabled */
    DIALECT_THINK_DEEP,     /* effort xhigh/max */
};

/* What a Responses request says beyond the turn. Strings are borrowed from
 * the turn's document. */
struct responses_req {
    const char *previous_response_id;   /* NULL when absent */
    int store;                          /* 1 unless "store": false */
    enum dialect_think think;
    const char *effort;                 /* reasoning.effort as given, or NULL */
    /* instructions as a JSON string literal (for the response object), or NULL */
    char *instructions_json;
};

/* Returns the stored output item with this id (borrowed, valid during the
 * parse), or NULL when no stored response holds it. */
typedef json_t *(*responses_item_fn)(void *arg, const char *item_id);

/* body: the parsed request (a reference is kept by the turn). On success t
 * holds the turn and r the rest; on error err is filled and t is freed.
 * resolve may be NULL (then every item_reference is unknown). */
int responses_parse(json_t *body, struct turn *t, struct responses_req *r,
                    responses_item_fn resolve, void *arg, struct api_error *err);
void responses_req_free(struct responses_req *r);

/* What a Messages request says beyond the turn. */
struct messages_req {
    enum dialect_think think;
};

/* count_tokens: 1 for /v1/messages/count_tokens (max_tokens not required). */
int messages_parse(json_t *body, int count_tokens, struct turn *t, struct messages_req *r,
                   struct api_error *err);

/* The server's token estimate of everything the turn sends (system, every
 * text part, tool calls and results, tool names, descriptions and schemas). */
long dialect_turn_tokens(const struct turn *t);

#endif
