/* Model names -> chatglm.cn assistant, model and reasoning tier (protocol
 * spec 8.2 for 2025, 12.3-12.4 for today's site). */
#ifndef GLM_MODELS_H
#define GLM_MODELS_H

#include <string.h>

#include "config.h"
#include "util/buf.h"

/* Which site the server speaks: today's (selected_model, reasoning tiers) or
 * the 2025 one (chat_mode "zero" for reasoning, no model choice). */
enum models_era { MODELS_ERA_2026, MODELS_ERA_2025 };

/* The upstream-era setting (enum cfg_era, config.h) as an era. */
static inline enum models_era models_era_of(int setting)
{
    return setting == CFG_ERA_2025 ? MODELS_ERA_2025 : MODELS_ERA_2026;
}

struct model_route {
    char assistant_id[65];
    /* NULL (fast, no chat_mode sent in 2025), "" (fast, 2026), "thinking",
     * "deep_thinking", "zero", "deep_research", "video", "ppt" */
    const char *chat_mode;
    char selected_model[48];        /* meta_data.selected_model; "" for none */
    const char *reasoning_effort;   /* meta_data.reasoning_effort or NULL */
    int silent;             /* no reasoning and no search text */
    int agent;              /* the name itself is an assistant (agent) id */
};

/* Rules, in order: an entry of the extra table (config "models":
 * "name=assistant_id[:chat_mode[:selected_model[:reasoning_effort]]],...")
 * wins; a name of 24 or more [a-z0-9] is an agent id; otherwise
 * default_assistant with the model and tier the name says:
 *   2026: glm-5.3 / glm-5.3-flash, and the old names as aliases (flash, air
 *   and glm-3-turbo -> glm-5.3-flash, every other glm-* -> glm-5.3, unknown
 *   names -> glm-5.3); "deepresearch" -> deep_research, "deep-thinking" or
 *   "deepthink" -> deep_thinking/max, "thinking", "think" or "zero" ->
 *   thinking/high, otherwise fast ("", low).
 *   2025: "deepresearch" -> deep_research, "think" or "zero" -> zero,
 *   otherwise no chat_mode; no selected_model.
 * "silent" anywhere in the name sets silent. Returns 0, or -1 when the extra
 * table is malformed. */
int models_resolve(const char *model, const char *default_assistant, const char *extra_table,
                   enum models_era era, struct model_route *out);

/* OpenAI's reasoning_effort over the name's tier (spec 12.4): none/minimal ->
 * fast, low/medium/high -> thinking, xhigh/max -> deep_thinking, with the
 * site's effort alongside. In 2025 the reasoning tiers are one ("zero").
 * Agents and deep research keep their mode. -1 for any other value. */
int models_apply_effort(struct model_route *r, const char *effort, enum models_era era);
/* 1 when effort is one of the values models_apply_effort takes. */
int models_effort_known(const char *effort);

/* Checks the syntax of an extra table; on error writes a reason into err. */
int models_table_check(const char *extra_table, char *err, size_t errlen);

/* The /v1/models answer: {"object":"list","data":[...]} with every built-in
 * name, its variants and the extra table. */
int models_list_json(struct buf *out, const char *extra_table, enum models_era era,
                     long long created);

#endif
