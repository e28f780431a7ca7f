/* The upload run: see upload.h. */
#include "glm/upload.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <event2/event.h>

#include "config.h"
#include "glm/answer.h"
#include "glm/filetype.h"
#include "glm/request.h"
#include "log.h"
#include "net/curl_loop.h"
#include "net/fetch.h"
#include "net/xfer.h"
#include "util/buf.h"
#include "util/xalloc.h"

/* JavaScript truthiness of width/height: glm-free-api's test. */
static int truthy(const json_t *v)
{
    if (json_is_integer(v))
        return json_integer_value(v) != 0;
    if (json_is_real(v))
        return json_real_value(v) != 0;
    if (json_is_string(v))
        return json_string_length(v) > 0;
    return json_is_true(v) || json_is_object(v) || json_is_array(v);
}

int upload_answer(long http_status, const char *body, size_t len, json_t **result, int *is_image,
                  char *err, size_t errlen)
{
    *result = NULL;
    *is_image = 0;
    json_t *root = json_loadb(body, len, 0, NULL);
    json_t *res = json_object_get(root, "result");
    struct glm_answer ans;
    glm_answer_read_json(http_status, root, 0, &ans);
    int rc = -1;
    char quoted[260];
    log_escape(ans.message, strlen(ans.message), quoted);
    if (http_status != 200 || !root) {
        snprintf(err, errlen, "chatglm.cn answered HTTP %ld%s%s%s", http_status,
                 quoted[0] ? " (" : "", quoted, quoted[0] ? ")" : "");
    } else if (ans.verdict != GLM_OK) {
        snprintf(err, errlen, "chatglm.cn refused it (%lld%s%s)", ans.code,
                 quoted[0] ? ": " : "", quoted);
    } else if (!json_is_object(res) || !json_is_string(json_object_get(res, "file_url"))) {
        snprintf(err, errlen, "chatglm.cn answered without a file_url");
    } else {
        *is_image = truthy(json_object_get(res, "width")) || truthy(json_object_get(res, "height"));
        *result = json_incref(res);
        rc = 0;
    }
    json_decref(root);
    return rc;
}

/* ---- settings ----------------------------------------------------------- */

void upload_fetch_opts(struct fetch_opts *o, const char *rid)
{
    /* Parsed once per distinct setting; kept for the life of the process. */
    static struct guard_allow *allow;
    static char *allow_text;
    if (!allow_text || strcmp(allow_text, cfg.fetch_allow ? cfg.fetch_allow : "") != 0) {
        char err[256];
        guard_allow_free(allow);
        free(allow_text);
        allow_text = xstrdup(cfg.fetch_allow ? cfg.fetch_allow : "");
        allow = guard_allow_parse(allow_text, err, sizeof(err));
        if (!allow)
            LOG(LOG_ERROR, "fetch-allow: %s (nothing is allowed)", err);
    }
    memset(o, 0, sizeof(*o));
    o->max_bytes = (size_t)cfg.max_file;
    o->connect_timeout = cfg.fetch_connect_timeout;
    o->timeout = cfg.fetch_timeout;
    o->max_redirects = cfg.max_redirects;
    o->allow = allow;
    o->rid = rid;
}

/* ---- the run ------------------------------------------------------------ */

struct upload_job {
    struct upload_run *run;
    const struct upload_item *item;
    struct fetch *fetch;
    struct xfer *call;
    unsigned char *owned;       /* a download */
    const unsigned char *data;  /* the bytes to upload (owned or the item's) */
    size_t len;
    size_t off;                 /* read position of the upload */
    char mime[128];
    char name[256];
    json_t *result;
    int is_image;
};

struct upload_run {
    struct curl_loop *loop;
    struct upload_job *jobs;
    size_t n;
    int starting;               /* inside upload_run_start */
    char *access;
    char rid[48];
    char assistant[65];         /* chat_upload's assistant_id */
    int chat;                   /* chat_upload and the 2026 items (spec 12.3, 12.5) */
    CURL *mime_easy;            /* for curl_mime_init; lives as long as the run */
    upload_done_fn *done;
    void *arg;
    int failed;
    struct upload_error err;
    struct event *finish_ev;
};

static void run_free(struct upload_run *r)
{
    for (size_t i = 0; i < r->n; i++) {
        struct upload_job *j = &r->jobs[i];
        fetch_cancel(j->fetch);
        xfer_cancel(j->call);
        free(j->owned);
        json_decref(j->result);
    }
    free(r->jobs);
    if (r->mime_easy)
        curl_easy_cleanup(r->mime_easy);
    if (r->finish_ev)
        event_free(r->finish_ev);
    free(r->access);
    free(r);
}

void upload_run_cancel(struct upload_run *r)
{
    if (r)
        run_free(r);
}

/* A string of the upload result, or fallback. */
static const char *res_str(const json_t *res, const char *key, const char *key2,
                           const char *fallback)
{
    const char *v = json_string_value(json_object_get(res, key));
    if (!v && key2)
        v = json_string_value(json_object_get(res, key2));
    return v ? v : fallback;
}

static json_int_t res_int(const json_t *res, const char *key, json_int_t fallback)
{
    const json_t *v = json_object_get(res, key);
    return json_is_integer(v) ? json_integer_value(v) : fallback;
}

/* The 2026 attachment item of one chat_upload result (spec 12.3): the image
 * form S17 reports as captured, the file form of S18. order counts within
 * its list. */
static json_t *item_2026(const struct upload_job *j, size_t order)
{
    const json_t *res = j->result;
    const char *id = res_str(res, "file_id", "source_id", "");
    const char *url = res_str(res, "file_url", "url", "");
    const char *name = res_str(res, "file_name", NULL, j->name);
    json_int_t size = res_int(res, "file_size", (json_int_t)j->len);
    if (j->is_image)
        return json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:I}", "file_name", name, "file_id", id,
                         "image_url", url, "file_size", size, "order", (json_int_t)order,
                         "width", res_int(res, "width", 0), "height", res_int(res, "height", 0));
    const char *dot = strrchr(j->name, '.');
    const char *type = res_str(res, "file_type", NULL, dot ? dot + 1 : "");
    return json_pack("{s:s, s:s, s:s, s:I, s:s, s:I, s:i, s:[s], s:s, s:i, s:i}", "file_id", id,
                     "file_url", url, "file_name", name, "file_size", size, "file_type", type,
                     "order", (json_int_t)order, "maxReadPercent", 0, "cover_images", "", "url",
                     url, "width", 0, "height", 0);
}

static void finish_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct upload_run *r = arg;
    json_t *files = json_array(), *images = json_array();
    if (!r->failed)
        for (size_t i = 0; i < r->n; i++) {
            struct upload_job *j = &r->jobs[i];
            json_t *list = j->is_image ? images : files;
            if (r->chat) {
                json_array_append_new(list, item_2026(j, json_array_size(list)));
            } else if (!j->is_image) {
                json_array_append(files, j->result);
            } else {
                json_t *img = json_copy(j->result);
                json_object_set(img, "image_url", json_object_get(img, "file_url"));
                json_array_append_new(images, img);
            }
        }
    r->done(r->arg, r->failed ? &r->err : NULL, files, images);
    json_decref(files);
    json_decref(images);
    run_free(r);
}

/* One job is over (well or not). After a failure the others stop at once;
 * when none is left running, done is called from the loop. */
static void job_over(struct upload_job *j)
{
    struct upload_run *r = j->run;
    int running = 0;
    for (size_t i = 0; i < r->n; i++) {
        struct upload_job *o = &r->jobs[i];
        if (r->failed) {
            fetch_cancel(o->fetch);
            o->fetch = NULL;
            xfer_cancel(o->call);
            o->call = NULL;
        }
        running |= o->fetch || o->call;
    }
    if (!running && !r->starting)
        event_active(r->finish_ev, EV_TIMEOUT, 0);
}

static void job_fail(struct upload_job *j, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void job_fail(struct upload_job *j, int status, const char *code, const char *fmt, ...)
{
    struct upload_run *r = j->run;
    if (r->failed)
        return;
    r->failed = 1;
    r->err.status = status;
    snprintf(r->err.code, sizeof(r->err.code), "%s", code);
    snprintf(r->err.param, sizeof(r->err.param), "%s", j->item->param);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->err.message, sizeof(r->err.message), fmt, ap);
    va_end(ap);
    LOGR(LOG_INFO, r->rid, "attachment %s: %s", j->item->param, r->err.message);
}

static size_t mime_read(char *buf, size_t size, size_t n, void *arg)
{
    struct upload_job *j = arg;
    size_t want = size * n, left = j->len - j->off;
    if (want > left)
        want = left;
    memcpy(buf, j->data + j->off, want);
    j->off += want;
    return want;
}

static int mime_seek(void *arg, curl_off_t offset, int origin)
{
    struct upload_job *j = arg;
    if (origin != SEEK_SET || offset < 0 || (size_t)offset > j->len)
        return CURL_SEEKFUNC_CANTSEEK;
    j->off = (size_t)offset;
    return CURL_SEEKFUNC_OK;
}

static void upload_done(struct xfer *c, enum xfer_result res, long status, const char *body,
                        size_t len, void *arg)
{
    struct upload_job *j = arg;
    j->call = NULL;
    char why[512];
    if (res == XFER_TIMEOUT)
        job_fail(j, 504, "upload_timeout", "%s: uploading %s to chatglm.cn timed out (%s)",
                 j->item->param, j->name, xfer_error(c));
    else if (res != XFER_OK)
        job_fail(j, 502, "upload_failed", "%s: uploading %s to chatglm.cn failed: %s",
                 j->item->param, j->name, xfer_error(c));
    else if (upload_answer(status, body, len, &j->result, &j->is_image, why, sizeof(why)) < 0)
        job_fail(j, 502, "upload_failed", "%s: chatglm.cn did not take %s: %s", j->item->param,
                 j->name, why);
    else if (j->run->chat)
        /* chat_upload: what was sent as an image is one */
        j->is_image = strncmp(j->mime, "image/", 6) == 0;
    if (j->result)
        LOGR(LOG_DEBUG, j->run->rid, "attachment %s uploaded as %s (%s, %zu bytes)",
             j->item->param, j->is_image ? "image" : "file", j->mime, j->len);
    job_over(j);
}

/* A plain form field of a multipart body. */
static int add_field(curl_mime *mime, const char *name, const char *value)
{
    curl_mimepart *p = curl_mime_addpart(mime);
    return p && curl_mime_name(p, name) == CURLE_OK &&
                   curl_mime_data(p, value, CURL_ZERO_TERMINATED) == CURLE_OK
               ? 0
               : -1;
}

/* Starts the upload of j's bytes; on failure marks the run failed. */
static void upload_start(struct upload_job *j)
{
    struct upload_run *r = j->run;
    curl_mime *mime = curl_mime_init(r->mime_easy);
    curl_mimepart *part = mime ? curl_mime_addpart(mime) : NULL;
    if (!part || curl_mime_name(part, "file") != CURLE_OK ||
        curl_mime_filename(part, j->name) != CURLE_OK ||
        curl_mime_type(part, j->mime) != CURLE_OK ||
        curl_mime_data_cb(part, (curl_off_t)j->len, mime_read, mime_seek, NULL, j) != CURLE_OK ||
        (r->chat && (add_field(mime, "from", "chat") < 0 ||
                     add_field(mime, "assistant_id", r->assistant) < 0))) {
        curl_mime_free(mime);
        job_fail(j, 500, "upload_failed", "%s: could not build the upload", j->item->param);
        return;
    }
    char referer[600];
    if (r->chat)
        glm_assistant_referer(r->assistant, referer, sizeof(referer));
    else
        snprintf(referer, sizeof(referer), "%s/", cfg.upstream);
    /* file_upload (2025) is not signed; chat_upload is, like every call of
     * today's web app (spec 12.5). The body is multipart. */
    const struct glm_call c = {
        .path = r->chat ? cfg.path_chat_upload : cfg.path_upload,
        .token = r->access,
        .no_sign = !r->chat,
        .referer = referer,
        .mime = mime,
        .idle_timeout = cfg.idle_timeout,
        .max_body = 256 * 1024,
    };
    static const struct xfer_cbs cbs = { NULL, NULL, upload_done };
    j->off = 0;
    j->call = glm_call_start(r->loop, &c, &cbs, j);
    if (!j->call)
        job_fail(j, 500, "upload_failed", "%s: could not start the upload", j->item->param);
}

/* Names and types the bytes, then uploads them. */
static void prepare_and_upload(struct upload_job *j, const char *declared)
{
    const struct upload_item *it = j->item;
    if (j->len == 0) {
        job_fail(j, 400, "empty_file", "%s: the file at %s is empty", it->param,
                 it->url ? it->url : "the data URL");
        return;
    }
    if (it->url && filetype_resolve(declared, j->data, j->len, it->url, j->mime,
                                    sizeof(j->mime)) < 0) {
        char host[256] = "", why[64];
        (void)guard_url_check(it->url, host, sizeof(host), why, sizeof(why));
        job_fail(j, 400, "unknown_file_type",
                 "%s: the type of the file from %s cannot be told (Content-Type %s, unknown "
                 "content, no known extension)", it->param, host,
                 declared && *declared ? declared : "missing");
        return;
    }
    if (!it->url)
        snprintf(j->mime, sizeof(j->mime), "%s", it->mime);
    filetype_filename(it->given_name ? it->given_name : it->url, j->mime, j->name, sizeof(j->name));
    upload_start(j);
}

static void fetched(void *arg, struct fetch_result *res)
{
    struct upload_job *j = arg;
    j->fetch = NULL;
    const char *param = j->item->param;
    switch (res->status) {
    case FETCH_OK:
        j->owned = res->data;
        res->data = NULL;
        j->data = j->owned;
        j->len = res->len;
        prepare_and_upload(j, res->content_type);
        if (j->call)
            return; /* the upload goes on */
        break;
    case FETCH_REFUSED:
        job_fail(j, 400, "fetch_refused", "%s: %s", param, res->error);
        break;
    case FETCH_BAD_URL:
        job_fail(j, 400, "invalid_url", "%s: %s", param, res->error);
        break;
    case FETCH_TOO_BIG:
        job_fail(j, 400, "file_too_large", "%s: %s", param, res->error);
        break;
    case FETCH_TIMEOUT:
        job_fail(j, 400, "fetch_timeout", "%s: %s", param, res->error);
        break;
    case FETCH_HTTP:
    case FETCH_FAILED:
        job_fail(j, 400, "fetch_failed", "%s: %s", param, res->error);
        break;
    }
    job_over(j);
}

int upload_uses_chat_upload(void)
{
    return cfg.upload_call == CFG_UPLOAD_CHAT ||
           (cfg.upload_call == CFG_UPLOAD_AUTO && cfg.upstream_era == CFG_ERA_2026);
}

struct upload_run *upload_run_start(struct curl_loop *loop, struct upload_list *l,
                                    const char *access_token, const char *assistant_id,
                                    const char *rid, upload_done_fn *done, void *arg)
{
    struct upload_run *r = xcalloc(1, sizeof(*r));
    r->chat = upload_uses_chat_upload();
    snprintf(r->assistant, sizeof(r->assistant), "%s", assistant_id ? assistant_id : "");
    r->n = l->n;
    r->jobs = xcalloc(r->n, sizeof(*r->jobs));
    r->access = xstrdup(access_token);
    snprintf(r->rid, sizeof(r->rid), "%s", rid ? rid : "");
    r->done = done;
    r->arg = arg;
    r->mime_easy = curl_easy_init();
    r->loop = loop;
    r->finish_ev = event_new(curl_loop_base(loop), -1, 0, finish_cb, r);
    if (!r->mime_easy) {
        run_free(r);
        return NULL;
    }
    struct fetch_opts fo;
    upload_fetch_opts(&fo, r->rid);
    r->starting = 1;
    for (size_t i = 0; i < r->n && !r->failed; i++) {
        struct upload_job *j = &r->jobs[i];
        j->run = r;
        j->item = &l->v[i];
        if (j->item->url) {
            j->fetch = fetch_start(loop, j->item->url, &fo, fetched, j);
            if (!j->fetch)
                job_fail(j, 500, "fetch_failed", "%s: could not start the download",
                         j->item->param);
        } else {
            j->data = j->item->data;
            j->len = j->item->len;
            prepare_and_upload(j, j->item->mime);
        }
    }
    r->starting = 0;
    if (r->n)
        job_over(&r->jobs[0]); /* cancels the rest after a failure; finishes when none runs */
    else
        event_active(r->finish_ev, EV_TIMEOUT, 0);
    return r;
}
