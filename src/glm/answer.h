/* What chatglm.cn's answers mean, read in one place for every caller (the
 * chat and image jobs, sessions, uploads, deletions): the error bodies
 * ({"status": code, "message": ...}) with their HTTP statuses, classified
 * once into what the caller does next; and the frames of a drawing answer
 * (protocol spec 8.6), which need no text rendering. Pure: no I/O. */
#ifndef GLM_GLM_ANSWER_H
#define GLM_GLM_ANSWER_H

#include <stddef.h>

#include <jansson.h>

enum glm_verdict {
    GLM_OK,             /* HTTP 200 and status 0 (or none) */
    GLM_AUTH_REFUSED,   /* HTTP 401, 40103 (access token), 40102 (refresh token) */
    GLM_BUSY,           /* HTTP 429, 10061: the account is answering already */
    GLM_TRANSIENT,      /* HTTP 5xx, 40012 (a transient rejection): another try may work */
    GLM_BAD_REQUEST,    /* 40001: the signature or the request's format */
    GLM_NOT_SSE,        /* an event stream was asked, and HTTP 200 came with something else */
    GLM_REFUSED,        /* any other answer: an HTTP error, or a status code not 0 */
};

struct glm_answer {
    enum glm_verdict verdict;
    long http;              /* the HTTP status */
    long long code;         /* the body's "status", -1 when it has none */
    char message[200];      /* the body's "message", raw and cut to fit; "" when none */
};

/* Classifies an answer: the HTTP status and its body (JSON or not). stream:
 * an event stream was asked for, so HTTP 200 without one is GLM_NOT_SSE. */
void glm_answer_read(long http, const char *body, size_t len, int stream,
                     struct glm_answer *out);
/* The same on a parsed body (borrowed; may be NULL or not an object). */
void glm_answer_read_json(long http, const json_t *root, int stream, struct glm_answer *out);

/* ---- drawings ------------------------------------------------------------ */

enum glm_draw_state { GLM_DRAW_RUNNING, GLM_DRAW_DONE, GLM_DRAW_FILTERED, GLM_DRAW_FAILED };

/* What the frames of a drawing answer said so far. Zero it, set on_url. */
struct glm_draw {
    enum glm_draw_state state;
    unsigned long frames;           /* JSON object frames read */
    char conv[64];                  /* the conversation id, "" until known */
    char note[512];                 /* the moderation notice or the upstream error */
    /* Each image URL of the answer in arrival order (image items in any
     * part state), then "(http…)" URLs of finished text; repeats included.
     * url is not NUL-terminated. */
    void (*on_url)(void *arg, const char *url, size_t len);
    void *arg;
};

/* Reads one frame (an SSE event's data). Returns 0, or -1 when it is not a
 * JSON object (a heartbeat: nothing changes). */
int glm_draw_frame(struct glm_draw *d, const char *data, size_t len);

#endif
