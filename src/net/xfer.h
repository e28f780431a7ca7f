/* One transfer to the upstream on the curl loop (an "xfer"): either
 * collected (the whole body handed to on_done, up to a cap) or streamed
 * (bytes to on_data, with pause/resume for backpressure). */
#ifndef GLM_XFER_H
#define GLM_XFER_H

#include <stddef.h>

#include <curl/curl.h>

struct curl_loop;
struct xfer;

enum xfer_result {
    XFER_OK,            /* the response arrived whole (any HTTP status) */
    XFER_ABORTED,       /* a callback asked to stop */
    XFER_TIMEOUT,       /* connect, idle or total timeout */
    XFER_CONNECT,       /* could not resolve or connect */
    XFER_TLS,           /* TLS handshake or certificate failure */
    XFER_NETWORK,       /* reset, truncated body, protocol error */
    XFER_TOO_BIG,       /* the collected body passed its cap */
};

/* What on_head decides for the body. */
enum xfer_mode { XFER_STREAM, XFER_COLLECT, XFER_STOP };
/* What on_data answers. XFER_PAUSE: the same bytes come again after
 * xfer_resume(). */
enum { XFER_CONTINUE = 0, XFER_PAUSE = 1, XFER_ABORT = -1 };

struct xfer_cbs {
    /* Optional. Called before the first body byte (or before on_done when the
     * body is empty) with the status and Content-Type ("" if none). Without
     * it, or without on_data, the body is collected. */
    enum xfer_mode (*on_head)(struct xfer *c, long status, const char *content_type,
                              void *arg);
    int (*on_data)(struct xfer *c, const char *data, size_t len, void *arg);
    /* Always called exactly once unless the call was cancelled; body is the
     * collected body (NUL-terminated, "" when streamed or empty). The xfer
     * is freed when on_done returns. */
    void (*on_done)(struct xfer *c, enum xfer_result res, long status, const char *body,
                    size_t len, void *arg);
};

struct xfer_req {
    const char *method;         /* "GET" or "POST" */
    const char *url;
    struct curl_slist *headers; /* stolen: one allocation, as glm_headers() makes */
    const char *body;           /* copied; may be NULL */
    size_t body_len;
    curl_mime *mime;            /* stolen; a multipart body instead of body */
    long connect_timeout;       /* s */
    long idle_timeout;          /* s without a byte: XFER_TIMEOUT */
    long total_timeout;         /* s, 0 = none */
    size_t max_body;            /* cap of a collected body */
};

/* Returns NULL when the call could not be started (nothing is called). */
struct xfer *xfer_start(struct curl_loop *l, const struct xfer_req *r,
                        const struct xfer_cbs *cbs, void *arg);
/* Stops and frees the call without calling on_done. Not from inside its own
 * on_head/on_data (return XFER_ABORT / XFER_STOP there instead). */
void xfer_cancel(struct xfer *c);
/* Resumes a call paused by on_data. May call on_data before it returns. */
void xfer_resume(struct xfer *c);
/* Milliseconds from start to the first body byte, or -1. */
long xfer_first_byte_ms(const struct xfer *c);
/* A short, safe description of the last failure ("Connection refused"...). */
const char *xfer_error(const struct xfer *c);

/* The shared curl settings every upstream or download transfer uses. */
void xfer_set_common(CURL *easy, long connect_timeout, long idle_timeout);

#endif
