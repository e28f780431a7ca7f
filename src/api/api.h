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
void ping_handle(struct api_req *a);
void welcome_handle(struct api_req *a);
void web_page_handle(struct api_req *a);  /* api/web.c: the page for browsers, else welcome */
void web_asset_handle(struct api_req *a); /* its style sheet and script */
void token_check_handle(struct api_req *a);
void accounts_handle(struct api_req *a);
void metrics_handle(struct api_req *a);

struct account;
int chat_accounts(struct api_req *a, struct account ***out, size_t *n);

#endif
