/* Downloads of URLs chosen by clients (attachments, b64_json images) on the
 * curl loop, behind an SSRF guard.
 *
 * The guard checks the address actually connected to, after DNS and on every
 * redirect: CURLOPT_OPENSOCKETFUNCTION refuses a forbidden address before the
 * socket exists, and CURLOPT_PREREQFUNCTION checks again before each request
 * (a connection curl reused never passes the socket callback). Only http and
 * https, for the first URL and every redirect. No proxy (its address would
 * hide the real one), no connection reuse. The rules themselves (what is
 * forbidden, the allow-list, the URL check) are net/guard.h. */
#ifndef GLM_FETCH_H
#define GLM_FETCH_H

#include <stddef.h>

#include "net/guard.h"

struct curl_loop;
struct fetch;

enum fetch_status {
    FETCH_OK,           /* a 2xx answer, body in data */
    FETCH_BAD_URL,      /* not an http(s) URL */
    FETCH_REFUSED,      /* the guard refused the address */
    FETCH_TOO_BIG,      /* the body passed max_bytes: stopped there */
    FETCH_TIMEOUT,      /* connect or total timeout */
    FETCH_HTTP,         /* the answer's status was not 2xx */
    FETCH_FAILED,       /* DNS, connect, TLS, reset, too many redirects */
};

struct fetch_opts {
    size_t max_bytes;           /* cap on the body */
    long connect_timeout;       /* s */
    long timeout;               /* s for the whole download */
    long max_redirects;
    const struct guard_allow *allow;  /* borrowed; may be NULL */
    const char *rid;            /* names the request in the log; may be NULL */
};

struct fetch_result {
    enum fetch_status status;
    long http_status;           /* of the last answer, 0 when there was none */
    unsigned char *data;        /* the body (NUL-terminated); owned by the fetch:
                                   set it to NULL to take it (then free()) */
    size_t len;
    char content_type[128];     /* lower case, without parameters; "" when none */
    char host[256];             /* the host the failure is about (or the URL's) */
    char error[512];            /* a human-readable reason on failure; names the host */
};

/* Called once when the download ends; the fetch is freed when it returns. */
typedef void fetch_done_fn(void *arg, struct fetch_result *res);

/* Starts a download. done is never called before fetch_start returns (a bad
 * URL is reported from the loop). Returns NULL only when libcurl refused to
 * start the transfer. */
struct fetch *fetch_start(struct curl_loop *l, const char *url, const struct fetch_opts *o,
                          fetch_done_fn *done, void *arg);
/* A streamed download: the body is handed on as it arrives and never held
 * (max_bytes still caps it; timeout is then the longest silence, not the
 * whole download). on_head sees a 2xx answer's status, type and length (-1
 * when unknown) before the first byte and answers 0 to go on, -1 to stop;
 * on_data answers FETCH_CONTINUE, FETCH_PAUSE (the same bytes come again
 * after fetch_resume) or FETCH_ABORT. done is called at the end as for
 * fetch_start, with no data. */
enum { FETCH_CONTINUE = 0, FETCH_PAUSE = 1, FETCH_ABORT = -1 };
struct fetch_stream_cbs {
    int (*on_head)(void *arg, long status, const char *content_type, long long length);
    int (*on_data)(void *arg, const char *data, size_t len);
};
struct fetch *fetch_stream(struct curl_loop *l, const char *url, const struct fetch_opts *o,
                           const struct fetch_stream_cbs *cbs, fetch_done_fn *done, void *arg);
/* Resumes a stream paused by on_data. */
void fetch_resume(struct fetch *f);

/* Stops a download without calling done. Accepts NULL. Not from inside its
 * own done callback. */
void fetch_cancel(struct fetch *f);

#endif
