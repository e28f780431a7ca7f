/* Deleting a conversation after its answer (protocol spec 8.5, 9.4, 12.6): a
 * background call that outlives the request that asked for it. Today's site
 * (delete-call bulk_delete, or auto with upstream-era 2026) takes
 * mainchat-api/conversation/bulk_delete {"conversation_ids":[...],
 * "assistant_id"}: one call at a time per access token and assistant, the
 * ids asked for meanwhile go together in the next (up to 50 a call). The
 * 2025 site: assistant/conversation/delete, one call per conversation. */
#ifndef GLM_CONVERSATION_H
#define GLM_CONVERSATION_H

struct curl_loop;

/* Hands the module the curl loop its calls run on (once, before any delete). */
void glm_conversation_init(struct curl_loop *loop);

/* Fire and forget; rid names the request in the log. All strings are copied. */
void glm_conversation_delete(const char *access_token, const char *assistant_id,
                             const char *conversation_id, const char *rid);

/* stop_stream {"history_id"} (spec 12.6: the site stops generating), then,
 * when conversation_id is non-NULL, the deletion of that conversation once
 * the stop is answered. Fire and forget; strings are copied. */
void glm_conversation_stop(const char *access_token, const char *assistant_id,
                           const char *history_id, const char *conversation_id, const char *rid);

/* 1 when deletions go through bulk_delete. */
int glm_conversation_bulk(void);

/* Stops every deletion still in flight (a forced stop). */
void glm_conversation_cancel_all(void);
/* Deletions in flight (a graceful stop waits for them). */
unsigned glm_conversation_pending(void);

#endif
