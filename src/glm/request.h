/* Builds the calls to chatglm.cn: the browser header set (protocol spec 4.2,
 * glm-free-api 0.0.36 set), signing, URLs and the stream request body
 * (spec 6.2). Everything the site may change comes from cfg. */
#ifndef GLM_REQUEST_H
#define GLM_REQUEST_H

#include <curl/curl.h>
#include <jansson.h>

#include "glm/models.h"
#include "util/buf.h"

/* A new header list, one allocation (free it with free(), not
 * curl_slist_free_all): the browser set, Authorization: Bearer <token>, fresh
 * X-Device-Id/X-Request-Id, the signature trio when sign is set, a Referer
 * when referer is non-NULL, Content-Type: application/json when json is set. */
struct curl_slist *glm_headers(const char *token, int sign, const char *referer, int json);

/* cfg.upstream + path, into out (cleared first). */
int glm_url(struct buf *out, const char *path);

/* The referer the web app sends for this assistant. */
void glm_referer(const char *assistant_id, int is_default, char *out, size_t outlen);

/* The body of assistant/stream. files and images are arrays of file_upload
 * results (may be NULL or empty). Returns a new string (free()). */
char *glm_stream_body(const char *assistant_id, const char *conversation_id, const char *prompt,
                      const char *chat_mode, int networking, json_t *files, json_t *images);

#endif
