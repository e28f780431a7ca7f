/* The answer as a list of output items, kept while it is written: reasoning,
 * text and tool calls in the order the model produced them. The Responses and
 * Messages writers stream events per item and also need the whole answer for
 * their final objects (response.completed, a non-streamed message, a stored
 * response), so both keep one of these. Pure; every byte is under one cap. */
#ifndef GLM_COLLECT_H
#define GLM_COLLECT_H

#include <stddef.h>

#include "stream/answer.h"
#include "util/buf.h"

enum collect_kind { COLLECT_REASONING, COLLECT_TEXT, COLLECT_TOOL };

struct collect_item {
    enum collect_kind kind;
    struct buf text;        /* the text, the reasoning, or the call's arguments */
    char id[64];            /* a tool call's id as the tool layer made it */
    char name[128];         /* a tool call's function name */
    int index;              /* a tool call's index in the answer */
};

struct collect {
    struct collect_item *items;
    int n, cap;
    size_t max;             /* bytes of all item texts together */
    size_t used;
    int open;               /* the last item may still grow */
    int finished;           /* finish() came */
    enum answer_finish why;
    char stop_seq[256];
    int has_usage;
    struct answer_usage usage;
};

void collect_init(struct collect *c, size_t max);
void collect_cleanup(struct collect *c);
/* The item the next piece of this kind goes to. *opened is set when a new
 * item was started (the previous one, if any, is then closed: see
 * collect_close). NULL when the item table is full. */
struct collect_item *collect_item_for(struct collect *c, enum collect_kind kind, int *opened);
/* The last item, or NULL. */
struct collect_item *collect_last(struct collect *c);
/* Starts a tool call's item (closing any open one: the caller has written
 * its end first). NULL when the item table is full. */
struct collect_item *collect_tool_begin(struct collect *c, int index, const char *id,
                                       const char *name);
/* Appends to an item. 0, or -1 past the cap (nothing appended). */
int collect_append(struct collect *c, struct collect_item *it, const char *s, size_t n);
/* Ends the open item; returns it (NULL when none was open). */
struct collect_item *collect_close(struct collect *c);

/* "toolu_" + the part of id after "call_" (or the whole id): Anthropic's id
 * form for the same call, so a tool_result that names it maps back. */
void collect_anthropic_id(const char *id, char *out, size_t outlen);

#endif
