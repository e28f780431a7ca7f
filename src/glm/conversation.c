#include "glm/conversation.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "config.h"
#include "glm/answer.h"
#include "glm/request.h"
#include "log.h"
#include "net/curl_loop.h"
#include "net/xfer.h"
#include "util/xalloc.h"

struct delete_call {
    char rid[48];
    char conv[64];
    struct xfer *call;
    struct delete_call *prev, *next;
};

/* Calls in flight, so that a forced stop can cancel them. */
static struct delete_call *calls;
static unsigned ncalls;
static struct curl_loop *loop;

void glm_conversation_init(struct curl_loop *l)
{
    loop = l;
}

unsigned glm_conversation_pending(void)
{
    return ncalls;
}

static void unlink_call(struct delete_call *d)
{
    if (d->prev)
        d->prev->next = d->next;
    else
        calls = d->next;
    if (d->next)
        d->next->prev = d->prev;
    ncalls--;
}

void glm_conversation_cancel_all(void)
{
    while (calls) {
        struct delete_call *d = calls;
        unlink_call(d);
        xfer_cancel(d->call);
        free(d);
    }
}

static void delete_done(struct xfer *c, enum xfer_result res, long status, const char *body,
                        size_t len, void *arg)
{
    struct delete_call *d = arg;
    unlink_call(d);
    struct glm_answer ans;
    if (res != XFER_OK) {
        LOGR(LOG_WARN, d->rid, "deleting conversation %s failed: %s", d->conv, xfer_error(c));
    } else {
        glm_answer_read(status, body, len, 0, &ans);
        if (ans.verdict != GLM_OK)
            LOGR(LOG_WARN, d->rid, "deleting conversation %s: chatglm.cn answered HTTP %ld",
                 d->conv, status);
        else
            LOGR(LOG_DEBUG, d->rid, "conversation %s deleted", d->conv);
    }
    free(d);
}

void glm_conversation_delete(const char *access_token, const char *assistant_id,
                             const char *conversation_id, const char *rid)
{
    struct delete_call *d = xcalloc(1, sizeof(*d));
    snprintf(d->rid, sizeof(d->rid), "%s", rid ? rid : "");
    snprintf(d->conv, sizeof(d->conv), "%s", conversation_id);
    json_t *body = json_pack("{s:s, s:s}", "assistant_id", assistant_id, "conversation_id",
                             conversation_id);
    char *text = json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(body);
    char referer[512];
    glm_assistant_referer(assistant_id, referer, sizeof(referer));
    const struct glm_call call = {
        .path = cfg.path_delete,
        .token = access_token,
        .referer = referer,
        .body = text,
        .body_len = strlen(text),
        .idle_timeout = cfg.refresh_timeout,
        .total_timeout = cfg.refresh_timeout,
        .max_body = 64 * 1024,
    };
    static const struct xfer_cbs cbs = { .on_done = delete_done };
    d->call = glm_call_start(loop, &call, &cbs, d);
    if (d->call) {
        ncalls++;
        d->next = calls;
        if (calls)
            calls->prev = d;
        calls = d;
    } else {
        LOGR(LOG_WARN, d->rid, "could not start deleting conversation %s", d->conv);
        free(d);
    }
    free(text);
}
