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
#include "util/strmap.h"
#include "util/xalloc.h"

/* At most this many conversation ids in one bulk_delete call. */
#define BULK_MAX 50
/* At most this many ids wait for one account's call in flight; more are not
 * deleted (and logged). */
#define QUEUE_MAX 1000

struct delete_group;

struct delete_call {
    char rid[48];
    char conv[64];              /* the first id, for the log */
    size_t n;                   /* ids in the call */
    struct xfer *call;
    struct delete_group *group; /* bulk_delete: the account's queue; NULL for delete */
    const char *what;           /* "deleting conversation", "stopping the answer of" */
    /* stop_stream: the deletion that follows it */
    char *then_token;
    char then_assistant[65];
    char then_conv[64];
    struct delete_call *prev, *next;
};

/* bulk_delete of one access token and assistant: one call at a time; ids
 * asked for meanwhile wait and go together in the next call (spec 12.6). */
struct delete_group {
    struct strmap_node node;
    char *key;                  /* assistant id, '\n', access token */
    char *token;
    char assistant[65];
    char rid[48];               /* the request of the oldest waiting id */
    char **queued;
    size_t nqueued;
    struct delete_call *call;   /* in flight */
};

/* Calls in flight, so that a forced stop can cancel them. */
static struct delete_call *calls;
static unsigned ncalls;
static struct curl_loop *loop;
static struct strmap groups;

void glm_conversation_init(struct curl_loop *l)
{
    loop = l;
}

unsigned glm_conversation_pending(void)
{
    return ncalls;
}

int glm_conversation_bulk(void)
{
    return cfg.delete_call == CFG_DELETE_CALL_BULK ||
           (cfg.delete_call == CFG_DELETE_CALL_AUTO && cfg.upstream_era == CFG_ERA_2026);
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

static void group_free(struct delete_group *g)
{
    strmap_del(&groups, &g->node);
    for (size_t i = 0; i < g->nqueued; i++)
        free(g->queued[i]);
    free(g->queued);
    free(g->key);
    free(g->token);
    free(g);
}

void glm_conversation_cancel_all(void)
{
    while (calls) {
        struct delete_call *d = calls;
        unlink_call(d);
        xfer_cancel(d->call);
        if (d->group)
            group_free(d->group);
        free(d->then_token);
        free(d);
    }
}

static void start_bulk(struct delete_group *g);

static void delete_done(struct xfer *c, enum xfer_result res, long status, const char *body,
                        size_t len, void *arg)
{
    struct delete_call *d = arg;
    unlink_call(d);
    struct glm_answer ans;
    char more[32] = "";
    if (d->n > 1)
        snprintf(more, sizeof(more), " and %zu more", d->n - 1);
    if (res != XFER_OK) {
        LOGR(LOG_WARN, d->rid, "%s %s%s failed: %s", d->what, d->conv, more, xfer_error(c));
    } else {
        glm_answer_read(status, body, len, 0, &ans);
        if (ans.verdict != GLM_OK)
            LOGR(LOG_WARN, d->rid, "%s %s%s: chatglm.cn answered HTTP %ld", d->what, d->conv,
                 more, status);
        else
            LOGR(LOG_DEBUG, d->rid, "%s %s%s: done", d->what, d->conv, more);
    }
    struct delete_group *g = d->group;
    if (d->then_token) {
        if (d->then_conv[0])
            glm_conversation_delete(d->then_token, d->then_assistant, d->then_conv, d->rid);
        free(d->then_token);
    }
    free(d);
    if (g) {
        g->call = NULL;
        if (g->nqueued)
            start_bulk(g);
        else
            group_free(g);
    }
}

/* Starts one call with body on path; NULL when it could not start. */
static struct delete_call *start_call(const char *path, const char *token, const char *assistant_id,
                                      const char *text, const char *rid, const char *first,
                                      size_t n)
{
    struct delete_call *d = xcalloc(1, sizeof(*d));
    snprintf(d->rid, sizeof(d->rid), "%s", rid ? rid : "");
    snprintf(d->conv, sizeof(d->conv), "%s", first);
    d->n = n;
    d->what = "deleting conversation";
    char referer[512];
    glm_assistant_referer(assistant_id, referer, sizeof(referer));
    const struct glm_call call = {
        .path = path,
        .token = token,
        .referer = referer,
        .body = text,
        .body_len = strlen(text),
        .idle_timeout = cfg.refresh_timeout,
        .total_timeout = cfg.refresh_timeout,
        .max_body = 64 * 1024,
    };
    static const struct xfer_cbs cbs = { .on_done = delete_done };
    d->call = glm_call_start(loop, &call, &cbs, d);
    if (!d->call) {
        LOGR(LOG_WARN, d->rid, "could not start deleting conversation %s", d->conv);
        free(d);
        return NULL;
    }
    ncalls++;
    d->next = calls;
    if (calls)
        calls->prev = d;
    calls = d;
    return d;
}

/* One bulk_delete call with up to BULK_MAX of the group's waiting ids. */
static void start_bulk(struct delete_group *g)
{
    size_t n = g->nqueued < BULK_MAX ? g->nqueued : BULK_MAX;
    json_t *ids = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(ids, json_string(g->queued[i]));
    /* The captured body (S9): the ids, then the assistant. */
    json_t *body = json_pack("{s:o, s:s}", "conversation_ids", ids, "assistant_id", g->assistant);
    char *text = json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(body);
    g->call = start_call(cfg.path_bulk_delete, g->token, g->assistant, text, g->rid,
                         g->queued[0], n);
    free(text);
    if (g->call)
        g->call->group = g;
    for (size_t i = 0; i < n; i++)
        free(g->queued[i]);
    memmove(g->queued, g->queued + n, (g->nqueued - n) * sizeof(*g->queued));
    g->nqueued -= n;
    if (!g->call)
        group_free(g);
}

static void bulk_delete(const char *access_token, const char *assistant_id,
                        const char *conversation_id, const char *rid)
{
    size_t kn = strlen(assistant_id) + strlen(access_token) + 2;
    char *key = xmalloc(kn);
    snprintf(key, kn, "%s\n%s", assistant_id, access_token);
    struct strmap_node *node = strmap_get(&groups, key);
    struct delete_group *g = node ? STRMAP_ENTRY(node, struct delete_group, node) : NULL;
    if (!g) {
        g = xcalloc(1, sizeof(*g));
        g->key = key;
        key = NULL;
        g->token = xstrdup(access_token);
        snprintf(g->assistant, sizeof(g->assistant), "%s", assistant_id);
        g->queued = xcalloc(QUEUE_MAX, sizeof(*g->queued));
        strmap_put(&groups, &g->node, g->key);
    }
    free(key);
    if (g->nqueued == QUEUE_MAX) {
        LOGR(LOG_WARN, rid, "conversation %s is not deleted: %d deletions of its account wait",
             conversation_id, QUEUE_MAX);
        return;
    }
    if (g->nqueued == 0)
        snprintf(g->rid, sizeof(g->rid), "%s", rid ? rid : "");
    g->queued[g->nqueued++] = xstrdup(conversation_id);
    if (!g->call)
        start_bulk(g);
}

void glm_conversation_stop(const char *access_token, const char *assistant_id,
                           const char *history_id, const char *conversation_id, const char *rid)
{
    json_t *body = json_pack("{s:s}", "history_id", history_id);
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    struct delete_call *d =
        start_call(cfg.path_stop_stream, access_token, assistant_id, text, rid, history_id, 1);
    free(text);
    if (!d) {
        if (conversation_id)
            glm_conversation_delete(access_token, assistant_id, conversation_id, rid);
        return;
    }
    d->what = "stopping the answer";
    if (conversation_id) {
        d->then_token = xstrdup(access_token);
        snprintf(d->then_assistant, sizeof(d->then_assistant), "%s", assistant_id);
        snprintf(d->then_conv, sizeof(d->then_conv), "%s", conversation_id);
    }
}

void glm_conversation_delete(const char *access_token, const char *assistant_id,
                             const char *conversation_id, const char *rid)
{
    if (glm_conversation_bulk()) {
        bulk_delete(access_token, assistant_id, conversation_id, rid);
        return;
    }
    json_t *body = json_pack("{s:s, s:s}", "assistant_id", assistant_id, "conversation_id",
                             conversation_id);
    char *text = json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(body);
    (void)start_call(cfg.path_delete, access_token, assistant_id, text, rid, conversation_id, 1);
    free(text);
}
