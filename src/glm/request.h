/* Builds the calls to chatglm.cn: the browser header set (protocol spec 4.2,
 * glm-free-api 0.0.36 set), signing, URLs, referers and the stream request
 * body (spec 6.2), and starts them on the curl loop it is handed: one place
 * for every call (the stream, refreshes, deletions, uploads). Everything the
 * site may change comes from cfg. */
#ifndef GLM_REQUEST_H
#define GLM_REQUEST_H

#include <curl/curl.h>
#include <jansson.h>

#include "glm/models.h"
#include "net/xfer.h"
#include "util/buf.h"

struct curl_loop;

/* One call to chatglm.cn, everything but its callbacks. */
struct glm_call {
    const char *method;           /* NULL for POST; "GET", "DELETE" (the video service) */
    const char *path;             /* cfg.path_*: the URL is cfg.upstream + path */
    const char *token;            /* Authorization: Bearer token; NULL for none */
    int no_sign;                  /* no signature (uploads) */
    const char *referer;          /* the Referer; NULL for none */
    const char *body;             /* JSON, copied; or NULL with mime */
    size_t body_len;
    curl_mime *mime;              /* stolen: a multipart body instead (not JSON) */
    long idle_timeout;            /* s without a byte */
    long total_timeout;           /* s, 0 for none */
    size_t max_body;              /* the cap of a collected answer */
};

/* Starts c on l: URL, headers (signed unless no_sign, JSON unless mime),
 * body. NULL when it could not start (nothing is called). */
struct xfer *glm_call_start(struct curl_loop *l, const struct glm_call *c,
                            const struct xfer_cbs *cbs, void *arg);

/* The stream call (assistant/stream) of one answer or drawing. */
struct glm_stream_opts {
    const char *assistant_id;
    const char *conversation_id;  /* a conversation to continue; NULL or "" for a new one */
    const char *prompt;
    const char *chat_mode;        /* NULL for none */
    const char *selected_model;   /* 2026: meta_data.selected_model; NULL or "" for none */
    const char *reasoning_effort; /* 2026: meta_data.reasoning_effort; NULL for none */
    int networking;               /* meta_data.is_networking */
    json_t *files, *images;       /* upload results (borrowed); NULL or empty for none */
    const char *aspect_ratio;     /* a drawing's meta_data.cogview.aspect_ratio; NULL for none */
};

/* Starts the stream call with the access token: the body, the referer of the
 * assistant's page (the home page for the default assistant), the stream
 * timeouts. NULL when it could not start. */
struct xfer *glm_stream_call(struct curl_loop *l, const char *access,
                             const struct glm_stream_opts *o, const struct xfer_cbs *cbs,
                             void *arg);
/* The referer of the assistant's page: the home page for the default one. */
void glm_assistant_referer(const char *assistant_id, char *out, size_t outlen);

/* A new header list, one allocation (free it with free(), not
 * curl_slist_free_all): the browser set, Authorization: Bearer <token>, fresh
 * X-Device-Id/X-Request-Id, the signature trio when sign is set, a Referer
 * when referer is non-NULL, Content-Type: application/json when json is set. */
struct curl_slist *glm_headers(const char *token, int sign, const char *referer, int json);

/* cfg.upstream + path, into out (cleared first). */
int glm_url(struct buf *out, const char *path);

/* The referer the web app sends for this assistant. */
void glm_referer(const char *assistant_id, int is_default, char *out, size_t outlen);

/* The body of assistant/stream in the shape of the cfg.upstream_era site
 * (spec 12.3 for 2026, 6.2 for 2025). files and images are arrays of upload
 * results (may be NULL or empty). Returns a new string (free()). */
char *glm_stream_body_of(const struct glm_stream_opts *o);

#endif
