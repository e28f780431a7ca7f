/* POST /v1/images/generations: DALL·E-compatible drawing (protocol spec 8.6).
 *
 * One stream call to the drawing assistant (or the agent named by model) on a
 * leased account, like a chat answer: prompt "请画：<prompt>" unless it already
 * contains 画, the size as the upstream aspect ratio when one fits. Every
 * distinct image URL of the answer is kept (image items in any part state, in
 * arrival order: today's drawing sends four, out of order), plus "(https://…)"
 * URLs in finished text. The lease ends with the stream; the conversation is
 * deleted. response_format b64_json then downloads each image through
 * net/fetch (the same SSRF guard and size cap as attachments).
 *
 * The lifetime is api/job.c's, as chat.c's: the client and the upstream
 * work (lease wait, token wait, stream call, downloads) hold the job, which
 * is freed when all are gone, never inside someone else's callback. The
 * account flow (lease, access token, fail-over) is api/attempt.c's. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <jansson.h>

#include "api/api.h"
#include "api/attempt.h"
#include "api/job.h"
#include "app.h"
#include "config.h"
#include "glm/accounts.h"
#include "glm/answer.h"
#include "glm/conversation.h"
#include "glm/models.h"
#include "glm/request.h"
#include "glm/upload.h"
#include "http/server.h"
#include "log.h"
#include "net/fetch.h"
#include "net/xfer.h"
#include "stream/sse.h"
#include "util/buf.h"
#include "util/crypto.h"
#include "util/xalloc.h"

#define IMAGES_MAX_N 4
#define IMAGES_MAX_URLS 64          /* distinct URLs kept from one answer */
#define IMAGES_MAX_URL_LEN 4096

struct img_job;

struct img_fetch {
    struct img_job *j;
    struct fetch *f;
    unsigned char *data;
    size_t len;
};

struct img_job {
    struct job job;               /* the client, holders, state, accounts */
    char *prompt;                 /* what chatglm.cn receives */
    char assistant[65];
    int agent;                    /* model named the assistant */
    long n;
    int b64;
    const char *aspect;           /* upstream aspect ratio, or NULL */
    long long created;
    /* the drawing */
    struct xfer *call;
    struct sse_parser *sse;
    struct glm_draw draw;         /* what the frames said: state, conversation, note */
    json_t *urls;                 /* distinct image URLs, in arrival order */
    /* b64_json downloads */
    struct img_fetch *fetches;
    size_t nfetch;
    int fetch_failed;
};

/* ---- lifetime ---------------------------------------------------------- */

static int fetches_running(const struct img_job *j)
{
    for (size_t i = 0; i < j->nfetch; i++)
        if (j->fetches[i].f)
            return 1;
    return 0;
}

static void cancel_fetches(struct img_job *j)
{
    for (size_t i = 0; i < j->nfetch; i++) {
        fetch_cancel(j->fetches[i].f);
        j->fetches[i].f = NULL;
    }
    job_release(&j->job, JOB_FETCHES);
}

static void job_free_cb(void *self)
{
    struct img_job *j = self;
    free(j->prompt);
    sse_parser_free(j->sse);
    json_decref(j->urls);
    for (size_t i = 0; i < j->nfetch; i++)
        free(j->fetches[i].data);
    free(j->fetches);
    job_cleanup(&j->job);
    free(j);
}

/* The client left: stop everything at once. */
static void job_cancel_cb(void *self)
{
    struct img_job *j = self;
    xfer_cancel(j->call);
    j->call = NULL;
    job_release(&j->job, JOB_CALL);
    cancel_fetches(j);
}

/* ---- the answer ---------------------------------------------------------- */

static void add_url(struct img_job *j, const char *url, size_t len)
{
    if (len < 8 || len > IMAGES_MAX_URL_LEN || json_array_size(j->urls) >= IMAGES_MAX_URLS)
        return;
    if (strncmp(url, "https://", 8) != 0 && strncmp(url, "http://", 7) != 0)
        return;
    size_t i;
    json_t *u;
    json_array_foreach(j->urls, i, u)
        if (json_string_length(u) == len && memcmp(json_string_value(u), url, len) == 0)
            return;
    json_array_append_new(j->urls, json_stringn(url, len));
}

static void on_url(void *arg, const char *url, size_t len)
{
    add_url(arg, url, len);
}

static int on_event(void *arg, const char *event, const char *data, size_t len)
{
    struct img_job *j = arg;
    if (j->job.state == JOB_COMPLETE || (event[0] && strcmp(event, "message") != 0))
        return 0;
    if (glm_draw_frame(&j->draw, data, len) == 0 && j->draw.state != GLM_DRAW_RUNNING)
        job_set_state(&j->job, JOB_COMPLETE);
    return 0;
}

static enum xfer_mode on_head(struct xfer *c, long status, const char *ctype, void *arg)
{
    (void)c;
    struct img_job *j = arg;
    if (status == 200 && strstr(ctype, "text/event-stream")) {
        job_set_state(&j->job, JOB_STREAMING);
        return XFER_STREAM;
    }
    return XFER_COLLECT;
}

static int on_data(struct xfer *c, const char *data, size_t len, void *arg)
{
    (void)c;
    struct img_job *j = arg;
    if (job_gone(&j->job))
        return XFER_ABORT;
    if (sse_feed(j->sse, data, len, on_event, j) == SSE_TOO_LONG)
        return XFER_ABORT;
    /* The last frame is in: the rest of the transfer is of no use. */
    return j->job.state == JOB_COMPLETE ? XFER_ABORT : XFER_CONTINUE;
}

/* ---- the reply ---------------------------------------------------------- */

static void reply_urls(struct img_job *j)
{
    json_t *data = json_array();
    for (size_t i = 0; i < json_array_size(j->urls) && i < (size_t)j->n; i++)
        json_array_append_new(data, json_pack("{s:O}", "url", json_array_get(j->urls, i)));
    json_t *root = json_pack("{s:I, s:o}", "created", (json_int_t)j->created, "data", data);
    char *s = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(root);
    api_reply_json(j->job.a, 200, s);
    free(s);
    job_replied(&j->job);
}

static void reply_b64(struct img_job *j)
{
    size_t total = 256;
    for (size_t i = 0; i < j->nfetch; i++)
        total += j->fetches[i].len / 3 * 4 + 64;
    struct buf b;
    buf_init(&b, total);
    int rc = buf_printf(&b, "{\"created\":%lld,\"data\":[", j->created);
    for (size_t i = 0; i < j->nfetch && rc == 0; i++) {
        size_t n;
        char *enc = crypto_base64_encode(j->fetches[i].data, j->fetches[i].len, &n);
        free(j->fetches[i].data);
        j->fetches[i].data = NULL;
        /* Base64 needs no JSON escaping. */
        rc = buf_puts(&b, i ? ",{\"b64_json\":\"" : "{\"b64_json\":\"");
        if (rc == 0)
            rc = buf_append(&b, enc, n);
        if (rc == 0)
            rc = buf_puts(&b, "\"}");
        free(enc);
    }
    if (rc == 0)
        rc = buf_puts(&b, "]}");
    if (rc < 0) {
        job_failf(&j->job, 500, NULL, "the images do not fit the reply buffer");
    } else {
        api_reply(j->job.a, 200, "application/json; charset=utf-8", b.data, b.len);
        job_replied(&j->job);
    }
    buf_cleanup(&b);
}

static void on_image(void *arg, struct fetch_result *r)
{
    struct img_fetch *slot = arg;
    struct img_job *j = slot->j;
    slot->f = NULL;
    if (r->status == FETCH_OK) {
        slot->data = r->data;
        slot->len = r->len;
        r->data = NULL;
    } else if (!j->fetch_failed) {
        j->fetch_failed = 1;
        cancel_fetches(j);
        job_failf(&j->job, 502, "image_download_failed", "could not download the image for "
                  "b64_json: %s", r->error);
    }
    if (fetches_running(j))
        return;
    if (j->job.a && !job_gone(&j->job))
        reply_b64(j);
    job_release(&j->job, JOB_FETCHES);
}

static void start_downloads(struct img_job *j)
{
    size_t n = json_array_size(j->urls);
    if (n > (size_t)j->n)
        n = (size_t)j->n;
    j->fetches = xcalloc(n, sizeof(*j->fetches));
    j->nfetch = n;
    struct fetch_opts fo;
    upload_fetch_opts(&fo, j->job.rid);
    job_hold(&j->job, JOB_FETCHES);
    for (size_t i = 0; i < n; i++) {
        j->fetches[i].j = j;
        j->fetches[i].f = fetch_start(app.curl, json_string_value(json_array_get(j->urls, i)),
                                      &fo, on_image, &j->fetches[i]);
        if (!j->fetches[i].f) {
            cancel_fetches(j);
            job_failf(&j->job, 500, NULL, "could not start the image downloads");
            return;
        }
    }
}

/* The stream is over (complete or not): lease, deletion, then the reply. */
static void finish_drawing(struct img_job *j, enum xfer_result res)
{
    enum glm_draw_state st = j->draw.state;
    attempt_release(&j->job.at, st == GLM_DRAW_DONE || st == GLM_DRAW_FILTERED ? ACCOUNT_DONE
                            : res == XFER_OK || res == XFER_ABORTED          ? ACCOUNT_NEUTRAL
                                                                             : ACCOUNT_TRANSIENT,
                    NULL);
    if (j->draw.conv[0] && j->job.at.access && cfg.delete_policy != CFG_DELETE_NEVER)
        glm_conversation_delete(j->job.at.access, j->assistant, j->draw.conv, j->job.rid);
    size_t found = json_array_size(j->urls);
    LOGR(LOG_DEBUG, j->job.rid, "drawing ended: state %d, %zu image(s), %lu frames", (int)st, found,
         j->draw.frames);
    if (st == GLM_DRAW_FILTERED) {
        job_failf(&j->job, 400, "content_policy_violation",
                  "chatglm.cn refused to draw this prompt (moderation)%s%s",
                  j->draw.note[0] ? ": " : "", j->draw.note);
    } else if (found == 0) {
        if (st == GLM_DRAW_FAILED)
            job_failf(&j->job, 502, "upstream_error",
                      "chatglm.cn stopped the drawing with an error (%s) before any image",
                      j->draw.note);
        else if (st == GLM_DRAW_RUNNING)
            job_failf(&j->job, 502, "upstream_truncated",
                      "the answer of chatglm.cn broke off before any image (%s)",
                      res == XFER_TIMEOUT ? "timeout" : "connection closed");
        else
            job_failf(&j->job, 502, "no_image",
                      "chatglm.cn finished its answer without producing an image: the "
                      "assistant %s answered with text only; try a clearer drawing prompt",
                      j->assistant);
    } else if (!j->b64) {
        reply_urls(j);
    } else {
        start_downloads(j);
    }
}

/* A non-SSE answer of the stream endpoint: account trouble fails over
 * (attempt), the rest is reported to the client. */
static void upstream_error_answer(struct img_job *j, long status, const char *body, size_t len)
{
    struct glm_answer ans;
    glm_answer_read(status, body, len, 1, &ans);
    if (attempt_answer(&j->job.at, &ans) == 0)
        return;
    attempt_release(&j->job.at, ACCOUNT_NEUTRAL, NULL);
    if (ans.verdict == GLM_NOT_SSE && j->agent)
        job_failf(&j->job, 404, "model_not_found",
                  "chatglm.cn has no assistant (agent) with id %s", j->assistant);
    else
        job_failf(&j->job, 502, "upstream_error",
                  "chatglm.cn answered HTTP %ld (%lld) instead of a drawing stream", status,
                  ans.code);
}

static void on_done(struct xfer *c, enum xfer_result res, long status, const char *body,
                    size_t len, void *arg)
{
    struct img_job *j = arg;
    j->call = NULL;
    job_release(&j->job, JOB_CALL);
    int complete = j->job.state == JOB_COMPLETE;
    int streaming = complete || j->job.state == JOB_STREAMING;
    if (job_gone(&j->job)) {
        attempt_release(&j->job.at, ACCOUNT_NEUTRAL, NULL);
    } else if (streaming && (complete || j->draw.frames)) {
        if (!complete)
            (void)sse_finish(j->sse, on_event, j);
        finish_drawing(j, res);
    } else if (streaming && res == XFER_OK) {
        attempt_release(&j->job.at, ACCOUNT_NEUTRAL, NULL);
        job_failf(&j->job, 502, "empty_answer", "chatglm.cn sent an empty answer");
    } else if (res == XFER_OK) {
        upstream_error_answer(j, status, body, len);
    } else if (res == XFER_TIMEOUT) {
        attempt_fail(&j->job.at, ACCOUNT_TRANSIENT, 504, "upstream_timeout",
                     "chatglm.cn did not answer within %ld s", cfg.idle_timeout);
    } else {
        attempt_fail(&j->job.at, ACCOUNT_TRANSIENT, 502, "upstream_unreachable",
                     "could not reach chatglm.cn: %s", xfer_error(c));
    }
}

/* attempt's start: the drawing call with this account. */
static void start_draw(void *arg)
{
    struct img_job *j = arg;
    const struct glm_stream_opts o = {
        .assistant_id = j->assistant,
        .prompt = j->prompt,
        .aspect_ratio = j->aspect,
    };
    static const struct xfer_cbs cbs = { on_head, on_data, on_done };
    sse_parser_free(j->sse);
    j->sse = sse_parser_new((size_t)cfg.max_frame);
    job_set_state(&j->job, JOB_CALLING);
    j->call = glm_stream_call(app.curl, j->job.at.access, &o, &cbs, j);
    if (!j->call) {
        attempt_release(&j->job.at, ACCOUNT_NEUTRAL, NULL);
        job_failf(&j->job, 500, NULL, "could not start the upstream request");
        return;
    }
    job_hold(&j->job, JOB_CALL);
}

/* ---- the request -------------------------------------------------------- */

/* "WxH" -> the nearest aspect ratio the site offers, when one is within 3%. */
static const char *aspect_for(const char *size)
{
    static const struct {
        int w, h;
        const char *name;
    } ratios[] = {
        { 1, 1, "1:1" }, { 4, 3, "4:3" }, { 3, 4, "3:4" }, { 16, 9, "16:9" },
        { 9, 16, "9:16" }, { 3, 2, "3:2" }, { 2, 3, "2:3" }, { 21, 9, "21:9" },
    };
    int w, h;
    char extra;
    if (sscanf(size, "%dx%d%c", &w, &h, &extra) != 2 || w <= 0 || h <= 0)
        return NULL;
    double r = (double)w / h;
    for (size_t i = 0; i < sizeof(ratios) / sizeof(ratios[0]); i++) {
        double want = (double)ratios[i].w / ratios[i].h;
        if (r / want > 0.97 && r / want < 1.03)
            return ratios[i].name;
    }
    return NULL;
}

void images_handle(struct api_req *a)
{
    size_t len;
    const char *body = http_req_body(a->req, &len);
    json_error_t jerr;
    json_t *root = json_loadb(body, len, 0, &jerr);
    if (!json_is_object(root)) {
        json_decref(root);
        api_error(a, 400, NULL, "invalid_json",
                  "the request body must be a JSON object (%s)", root ? "not an object" : jerr.text);
        return;
    }
    json_t *prompt = json_object_get(root, "prompt");
    json_t *model = json_object_get(root, "model");
    json_t *n = json_object_get(root, "n");
    json_t *size = json_object_get(root, "size");
    json_t *fmt = json_object_get(root, "response_format");
    const char *err_param = NULL, *err_code = "invalid_type", *err_msg = NULL;
    if (!prompt || json_is_null(prompt)) {
        err_param = "prompt";
        err_code = "missing_required_parameter";
        err_msg = "'prompt' is a required property";
    } else if (!json_is_string(prompt) || !json_string_length(prompt)) {
        err_param = "prompt";
        err_msg = "'prompt' must be a non-empty string";
    } else if (model && !json_is_null(model) && !json_is_string(model)) {
        err_param = "model";
        err_msg = "'model' must be a string";
    } else if (n && !json_is_null(n) &&
               (!json_is_integer(n) || json_integer_value(n) < 1 ||
                json_integer_value(n) > IMAGES_MAX_N)) {
        err_param = "n";
        err_code = "invalid_value";
        err_msg = "'n' must be an integer from 1 to 4 (chatglm.cn draws up to four images)";
    } else if (size && !json_is_null(size) && !json_is_string(size)) {
        err_param = "size";
        err_msg = "'size' must be a string such as \"1024x1024\"";
    } else if (fmt && !json_is_null(fmt) &&
               (!json_is_string(fmt) || (strcmp(json_string_value(fmt), "url") != 0 &&
                                         strcmp(json_string_value(fmt), "b64_json") != 0))) {
        err_param = "response_format";
        err_code = "invalid_value";
        err_msg = "'response_format' must be \"url\" or \"b64_json\"";
    }
    if (err_msg) {
        json_decref(root);
        api_error(a, 400, err_param, err_code, "%s", err_msg);
        return;
    }
    const char *model_name = json_is_string(model) && json_string_length(model)
                                 ? json_string_value(model) : "cogview";
    snprintf(a->model, sizeof(a->model), "%s", model_name);

    struct account_set *cands = chat_accounts(a);
    if (!cands) {
        json_decref(root);
        return;
    }

    static const struct job_ops ops = { .cancel = job_cancel_cb, .free = job_free_cb };
    struct img_job *j = xcalloc(1, sizeof(*j));
    job_init(&j->job, a, &ops, j, cands, start_draw);
    j->created = time(NULL);
    j->n = json_is_integer(n) ? (long)json_integer_value(n) : 1;
    j->b64 = json_is_string(fmt) && strcmp(json_string_value(fmt), "b64_json") == 0;
    j->aspect = json_is_string(size) ? aspect_for(json_string_value(size)) : NULL;
    j->urls = json_array();
    j->draw.on_url = on_url;
    j->draw.arg = j;

    /* An agent id (or a name of the model table) draws with that assistant;
     * any other name with the drawing assistant. */
    struct model_route route;
    if (models_resolve(model_name, cfg.default_assistant, cfg.models,
                       models_era_of(cfg.upstream_era), &route) == 0 &&
        strcmp(route.assistant_id, cfg.default_assistant) != 0) {
        snprintf(j->assistant, sizeof(j->assistant), "%s", route.assistant_id);
        j->agent = route.agent;
    } else {
        snprintf(j->assistant, sizeof(j->assistant), "%s", cfg.drawing_assistant);
    }
    const char *p = json_string_value(prompt);
    if (strstr(p, "画")) {
        j->prompt = xstrdup(p);
    } else {
        size_t cap = strlen(p) + sizeof("请画：");
        j->prompt = xmalloc(cap);
        snprintf(j->prompt, cap, "请画：%s", p);
    }
    json_decref(root);

    LOGR(LOG_DEBUG, j->job.rid, "images assistant=%s n=%ld b64=%d aspect=%s accounts=%zu",
         j->assistant, j->n, j->b64, j->aspect ? j->aspect : "-", j->job.at.ncands);
    attempt_lease(&j->job.at);
}
