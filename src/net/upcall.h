/* One HTTP call to the upstream on the curl loop: either collected (the whole
 * body handed to on_done, up to a cap) or streamed (bytes to on_data, with
 * pause/resume for backpressure). */
#ifndef GLM_UPCALL_H
#define GLM_UPCALL_H

#include <stddef.h>

#include <curl/curl.h>

struct curl_loop;
struct upcall;

enum upcall_result {
    UPCALL_OK,          /* the response arrived whole (any HTTP status) */
    UPCALL_ABORTED,     /* a callback asked to stop */
    UPCALL_TIMEOUT,     /* connect, idle or total timeout */
    UPCALL_CONNECT,     /* could not resolve or connect */
    UPCALL_TLS,         /* TLS handshake or certificate failure */
    UPCALL_NETWORK,     /* reset, truncated body, protocol error */
    UPCALL_TOO_BIG,     /* the collected body passed its cap */
};

/* What on_head decides for the body. */
enum upcall_mode { UPCALL_STREAM, UPCALL_COLLECT, UPCALL_STOP };
/* What on_data answers. UPCALL_PAUSE: the same bytes come again after
 * upcall_resume(). */
enum { UPCALL_CONTINUE = 0, UPCALL_PAUSE = 1, UPCALL_ABORT = -1 };

struct upcall_cbs {
    /* Optional. Called before the first body byte (or before on_done when the
     * body is empty) with the status and Content-Type ("" if none). Without
     * it, or without on_data, the body is collected. */
    enum upcall_mode (*on_head)(struct upcall *c, long status, const char *content_type,
                                void *arg);
    int (*on_data)(struct upcall *c, const char *data, size_t len, void *arg);
    /* Always called exactly once unless the call was cancelled; body is the
     * collected body (NUL-terminated, "" when streamed or empty). The upcall
     * is freed when on_done returns. */
    void (*on_done)(struct upcall *c, enum upcall_result res, long status, const char *body,
                    size_t len, void *arg);
};

struct upcall_req {
    const char *method;         /* "GET" or "POST" */
    const char *url;
    struct curl_slist *headers; /* stolen: one allocation, as glm_headers() makes */
    const char *body;           /* copied; may be NULL */
    size_t body_len;
    curl_mime *mime;            /* stolen; a multipart body instead of body */
    long connect_timeout;       /* s */
    long idle_timeout;          /* s without a byte: UPCALL_TIMEOUT */
    long total_timeout;         /* s, 0 = none */
    size_t max_body;            /* cap of a collected body */
};

/* Returns NULL when the call could not be started (nothing is called). */
struct upcall *upcall_start(struct curl_loop *l, const struct upcall_req *r,
                            const struct upcall_cbs *cbs, void *arg);
/* Stops and frees the call without calling on_done. Not from inside its own
 * on_head/on_data (return UPCALL_ABORT / UPCALL_STOP there instead). */
void upcall_cancel(struct upcall *c);
/* Resumes a call paused by on_data. May call on_data before it returns. */
void upcall_resume(struct upcall *c);
/* Milliseconds from start to the first body byte, or -1. */
long upcall_first_byte_ms(const struct upcall *c);
/* A short, safe description of the last failure ("Connection refused"...). */
const char *upcall_error(const struct upcall *c);

/* The shared curl settings every upstream or download transfer uses. */
void upcall_set_common(CURL *easy, long connect_timeout, long idle_timeout);

#endif
