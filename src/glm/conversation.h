/* Deleting a conversation after its answer (protocol spec 8.5, 9.4): a
 * background call that outlives the request that asked for it. */
#ifndef GLM_CONVERSATION_H
#define GLM_CONVERSATION_H

struct curl_loop;

/* Hands the module the curl loop its calls run on (once, before any delete). */
void glm_conversation_init(struct curl_loop *loop);

/* Fire and forget; rid names the request in the log. All strings are copied. */
void glm_conversation_delete(const char *access_token, const char *assistant_id,
                             const char *conversation_id, const char *rid);

/* Stops every deletion still in flight (a forced stop). */
void glm_conversation_cancel_all(void);
/* Deletions in flight (a graceful stop waits for them). */
unsigned glm_conversation_pending(void);

#endif
