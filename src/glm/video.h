/* chatglm.cn's video service (protocol spec 8.6; 12.10 for what is known of
 * it in 2026): the first-frame image upload, creating a video chat, its
 * status, the audio composite and deleting it, each one call on the curl
 * loop with the browser's headers, and every answer classified the same way.
 * No lease: videos run on the site's own queue. */
#ifndef GLM_VIDEO_H
#define GLM_VIDEO_H

#include <stddef.h>

#include <jansson.h>

struct curl_loop;
struct video_call;

enum video_outcome {
    VIDEO_OK,           /* status 0: result holds the answer */
    VIDEO_AUTH,         /* 401, 40103, 40102: the access token (or account) was refused */
    VIDEO_BUSY,         /* 429, 10061: the account is busy or throttled */
    VIDEO_TRANSIENT,    /* network, timeout, 5xx, 40012, an answer that is not JSON */
    VIDEO_REFUSED,      /* any other error status: the site's reason (quota, moderation...) */
};

struct video_answer {
    enum video_outcome outcome;
    long http_status;           /* 0 when no answer came */
    long long code;             /* the envelope's status, -1 when none */
    char message[512];          /* the site's message, or what went wrong */
    json_t *result;             /* borrowed for the callback: the envelope's result, or NULL */
};

/* Reads an answer of the service (pure). result is a new reference or NULL;
 * the caller decrefs it. */
void video_classify(long http_status, const char *body, size_t len, struct video_answer *out);
const char *video_outcome_name(enum video_outcome o);

/* The callback of every call; the call is over (and freed) when it returns. */
typedef void video_fn(void *arg, const struct video_answer *ans);

/* The calls; each returns NULL when it could not start (fn is then never
 * called). rid names the request in the log. */
struct video_call *video_upload(struct curl_loop *l, const char *access, const unsigned char *data,
                                size_t len, const char *mime, const char *filename,
                                const char *rid, video_fn *fn, void *arg);
/* body: the chat request (see video_chat_body), borrowed. */
struct video_call *video_create(struct curl_loop *l, const char *access, json_t *body,
                                const char *rid, video_fn *fn, void *arg);
struct video_call *video_status(struct curl_loop *l, const char *access, const char *chat_id,
                                const char *rid, video_fn *fn, void *arg);
struct video_call *video_composite(struct curl_loop *l, const char *access, const char *chat_id,
                                   const char *audio_id, const char *rid, video_fn *fn,
                                   void *arg);
/* fn may be NULL (fire and forget). */
struct video_call *video_delete(struct curl_loop *l, const char *access, const char *chat_id,
                                const char *rid, video_fn *fn, void *arg);
/* Stops a call without calling fn. Accepts NULL. */
void video_call_cancel(struct video_call *c);

/* The options of one video, as the 2024 web app sent them plus the 2026
 * fields clients have been seen sending (spec 12.10). NULL or 0: left out. */
struct video_options {
    const char *prompt;
    const char *source_id;          /* the uploaded first frame */
    const char *video_style;
    const char *emotional_atmosphere;
    const char *mirror_mode;
    int seconds;                    /* 5 or 10 (2026 duration code 1 / 2); 0 = the site's */
    int width, height;              /* generation ratio; 0 = the site's */
};
/* A new body for video_create. */
json_t *video_chat_body(const struct video_options *o);

/* The status result's fields (spec 8.6): state "init" | "processing" |
 * "finished" | "failed" | other, and the URLs and figures of a finished one
 * (borrowed from result, NULL when absent). */
struct video_status_info {
    const char *state;
    const char *video_url, *cover_url, *duration, *resolution, *msg;
};
void video_status_read(json_t *result, struct video_status_info *out);

#endif
