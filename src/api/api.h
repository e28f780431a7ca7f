/* The endpoints: the router's handler and the list of handlers it calls. The
 * request context and the ways to answer are in api/req.h (included). */
#ifndef GLM_API_H
#define GLM_API_H

#include "api/req.h"

/* The handler of the HTTP server: routing, CORS, request ids (api/router.c). */
void api_dispatch(void *arg, struct http_req *req);

/* Endpoints. */
void chat_handle(struct api_req *a);
void images_handle(struct api_req *a);
void models_handle(struct api_req *a);
/* GET /v1/models/{model}; id is the path after "/v1/models/". */
void model_get_handle(struct api_req *a, const char *id);
void ping_handle(struct api_req *a);
void welcome_handle(struct api_req *a);
void web_page_handle(struct api_req *a);  /* api/web.c: the page for browsers, else welcome */
void web_asset_handle(struct api_req *a); /* its style sheet and script */
void token_check_handle(struct api_req *a);
void accounts_handle(struct api_req *a);
void metrics_handle(struct api_req *a);
/* api/dialects.c: the Responses API and the Messages API on the chat job. */
void responses_handle(struct api_req *a);
void responses_get_handle(struct api_req *a, const char *id);
void responses_delete_handle(struct api_req *a, const char *id);
void messages_handle(struct api_req *a);
void messages_count_handle(struct api_req *a);
/* Frees the stored responses (at exit, before the sessions go). */
void dialects_shutdown(void);
/* api/videos.c: POST /v1/videos, POST /v1/videos/generations, and GET /v1/videos,
 * GET/DELETE /v1/videos/{id}, GET /v1/videos/{id}/content. */
void videos_create_handle(struct api_req *a);
void videos_generations_handle(struct api_req *a);
void videos_handle(struct api_req *a);
/* Resumes the stored running video jobs (after the store, sessions and
 * accounts are up); frees the jobs in memory (before they go down). */
void videos_init(void);
void videos_free(void);

/* The accounts a request may use, with a reference (accounts_set_unref):
 * with API keys, the server's own after the key is checked; else the tokens
 * of its Authorization header (through app.auth); else the server's own.
 * Answers 401 itself and returns NULL when there are none. */
struct account_set;
struct account_set *chat_accounts(struct api_req *a);

#endif
