/* Model names -> chatglm.cn assistant and mode (protocol spec 8.2). */
#ifndef GLM_MODELS_H
#define GLM_MODELS_H

#include "util/buf.h"

struct model_route {
    char assistant_id[65];
    const char *chat_mode;  /* NULL, "zero" or "deep_research" */
    int silent;             /* no reasoning and no search text */
    int agent;              /* the name itself is an assistant (agent) id */
};

/* Rules, in order: an entry of the extra table (config "models":
 * "name=assistant_id[:chat_mode],...") wins; a name of 24 or more [a-z0-9] is
 * an agent id; otherwise default_assistant. chat_mode: name contains
 * "deepresearch" -> deep_research, else "think" or "zero" -> zero. "silent"
 * anywhere in the name sets silent. Returns 0, or -1 when the extra table is
 * malformed. */
int models_resolve(const char *model, const char *default_assistant, const char *extra_table,
                   struct model_route *out);

/* Checks the syntax of an extra table; on error writes a reason into err. */
int models_table_check(const char *extra_table, char *err, size_t errlen);

/* The /v1/models answer: {"object":"list","data":[...]} with every built-in
 * name, its think/zero/deepresearch/silent variants and the extra table. */
int models_list_json(struct buf *out, const char *extra_table, long long created);

#endif
