#include "glm/video.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "glm/request.h"
#include "log.h"
#include "glm/answer.h"
#include "net/xfer.h"
#include "util/buf.h"
#include "util/xalloc.h"

struct video_call {
    struct xfer *call;
    CURL *mime_easy;            /* curl_mime_init's handle, for the upload */
    video_fn *fn;
    void *arg;
    char rid[48];
    char what[32];
};

const char *video_outcome_name(enum video_outcome o)
{
    switch (o) {
    case VIDEO_OK: return "ok";
    case VIDEO_AUTH: return "auth";
    case VIDEO_BUSY: return "busy";
    case VIDEO_TRANSIENT: return "transient";
    case VIDEO_REFUSED: return "refused";
    }
    return "?";
}

void video_classify(long http_status, const char *body, size_t len, struct video_answer *out)
{
    memset(out, 0, sizeof(*out));
    out->http_status = http_status;
    json_t *root = len ? json_loadb(body, len, 0, NULL) : NULL;
    struct glm_answer a;
    glm_answer_read_json(http_status, root, 0, &a);
    out->code = a.code;
    snprintf(out->message, sizeof(out->message), "%s", a.message);
    switch (a.verdict) {
    case GLM_OK:
        /* The video service always answers an envelope: anything else is
         * a page from something in between. */
        if (!json_is_object(root)) {
            out->outcome = VIDEO_TRANSIENT;
            snprintf(out->message, sizeof(out->message), "HTTP %ld with %s", http_status,
                     len ? "a body that is not JSON" : "an empty body");
        } else {
            json_t *r = json_object_get(root, "result");
            out->outcome = VIDEO_OK;
            out->result = json_is_null(r) ? NULL : json_incref(r);
        }
        break;
    case GLM_AUTH_REFUSED:
        out->outcome = VIDEO_AUTH;
        break;
    case GLM_BUSY:
        out->outcome = VIDEO_BUSY;
        break;
    case GLM_TRANSIENT:
        out->outcome = VIDEO_TRANSIENT;
        break;
    case GLM_BAD_REQUEST:
    case GLM_NOT_SSE:
    case GLM_REFUSED:
        out->outcome = VIDEO_REFUSED;
        break;
    }
    if (out->outcome != VIDEO_OK && !out->message[0])
        snprintf(out->message, sizeof(out->message), "HTTP %ld, status %lld", http_status,
                 out->code);
    json_decref(root);
}

static void call_free(struct video_call *c)
{
    if (c->mime_easy)
        curl_easy_cleanup(c->mime_easy);
    free(c);
}

static void on_done(struct xfer *u, enum xfer_result res, long status, const char *body,
                    size_t len, void *arg)
{
    struct video_call *c = arg;
    struct video_answer a;
    if (res == XFER_OK) {
        video_classify(status, body, len, &a);
    } else {
        memset(&a, 0, sizeof(a));
        a.outcome = VIDEO_TRANSIENT;
        a.code = -1;
        snprintf(a.message, sizeof(a.message), "%s%s",
                 res == XFER_TIMEOUT ? "timeout: " : "", xfer_error(u));
    }
    if (a.outcome != VIDEO_OK)
        LOGR(LOG_INFO, c->rid[0] ? c->rid : NULL, "video %s: %s (HTTP %ld, %lld): %s", c->what,
             video_outcome_name(a.outcome), a.http_status, a.code, a.message);
    if (c->fn)
        c->fn(c->arg, &a);
    json_decref(a.result);
    call_free(c);
}

static struct video_call *start(struct curl_loop *l, const char *what, const char *method,
                                const char *path, const char *access, const char *body,
                                curl_mime *mime, CURL *mime_easy, const char *rid, video_fn *fn,
                                void *arg)
{
    struct video_call *c = xcalloc(1, sizeof(*c));
    c->fn = fn;
    c->arg = arg;
    c->mime_easy = mime_easy;
    snprintf(c->rid, sizeof(c->rid), "%s", rid ? rid : "");
    snprintf(c->what, sizeof(c->what), "%s", what);
    char full[512], referer[300];
    snprintf(full, sizeof(full), "%s%s", cfg.path_video, path);
    snprintf(referer, sizeof(referer), "%s/video", cfg.upstream);
    struct glm_call gc = {
        .method = method,
        .path = full,
        .token = access,
        .no_sign = mime != NULL, /* the upload is not signed, as the chat's is not */
        .referer = referer,
        .body = body,
        .body_len = body ? strlen(body) : 0,
        .mime = mime,
        .idle_timeout = mime ? cfg.fetch_timeout : cfg.refresh_timeout,
        .total_timeout = mime ? cfg.fetch_timeout : cfg.refresh_timeout,
        .max_body = 256 * 1024,
    };
    static const struct xfer_cbs cbs = { .on_done = on_done };
    c->call = glm_call_start(l, &gc, &cbs, c);
    if (!c->call) {
        call_free(c);
        return NULL;
    }
    return c;
}

struct video_call *video_upload(struct curl_loop *l, const char *access, const unsigned char *data,
                                size_t len, const char *mime_type, const char *filename,
                                const char *rid, video_fn *fn, void *arg)
{
    CURL *easy = curl_easy_init();
    curl_mime *mime = easy ? curl_mime_init(easy) : NULL;
    curl_mimepart *part = mime ? curl_mime_addpart(mime) : NULL;
    if (!part || curl_mime_name(part, "file") != CURLE_OK ||
        curl_mime_filename(part, filename) != CURLE_OK ||
        curl_mime_type(part, mime_type) != CURLE_OK ||
        curl_mime_data(part, (const char *)data, len) != CURLE_OK) {
        curl_mime_free(mime);
        if (easy)
            curl_easy_cleanup(easy);
        return NULL;
    }
    return start(l, "upload", "POST", "/static/upload", access, NULL, mime, easy, rid, fn, arg);
}

struct video_call *video_create(struct curl_loop *l, const char *access, json_t *body,
                                const char *rid, video_fn *fn, void *arg)
{
    char *text = json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER);
    struct video_call *c = start(l, "create", "POST", "/chat", access, text, NULL, NULL, rid, fn,
                                 arg);
    free(text);
    return c;
}

/* An id as the site makes them (hex), so that it can go into a path. */
static int plain_id(const char *id)
{
    size_t n = strlen(id);
    if (n == 0 || n > 64)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'z') ||
              (id[i] >= 'A' && id[i] <= 'Z') || id[i] == '-' || id[i] == '_'))
            return 0;
    return 1;
}

struct video_call *video_status(struct curl_loop *l, const char *access, const char *chat_id,
                                const char *rid, video_fn *fn, void *arg)
{
    if (!plain_id(chat_id))
        return NULL;
    char path[128];
    snprintf(path, sizeof(path), "/chat/status/%s", chat_id);
    return start(l, "status", "GET", path, access, NULL, NULL, NULL, rid, fn, arg);
}

struct video_call *video_composite(struct curl_loop *l, const char *access, const char *chat_id,
                                   const char *audio_id, const char *rid, video_fn *fn, void *arg)
{
    /* glm-free-api 0.0.32: audio_id is "<key>-<id>", split at its first '-'. */
    const char *dash = strchr(audio_id, '-');
    char *key = dash ? xstrndup(audio_id, (size_t)(dash - audio_id)) : xstrdup("");
    const char *id = dash ? dash + 1 : audio_id;
    size_t idlen = strcspn(id, "-");
    json_t *body = json_pack("{s:s, s:s, s:s%}", "chat_id", chat_id, "key", key, "audio_id", id,
                             idlen);
    char *text = json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER);
    struct video_call *c = start(l, "composite", "POST", "/static/composite_video", access, text,
                                 NULL, NULL, rid, fn, arg);
    free(text);
    json_decref(body);
    free(key);
    return c;
}

struct video_call *video_delete(struct curl_loop *l, const char *access, const char *chat_id,
                                const char *rid, video_fn *fn, void *arg)
{
    if (!plain_id(chat_id))
        return NULL;
    char path[128];
    snprintf(path, sizeof(path), "/chat/%s", chat_id);
    return start(l, "delete", "DELETE", path, access, NULL, NULL, NULL, rid, fn, arg);
}

void video_call_cancel(struct video_call *c)
{
    if (!c)
        return;
    xfer_cancel(c->call);
    call_free(c);
}

json_t *video_chat_body(const struct video_options *o)
{
    json_t *adv = json_object();
    if (o->emotional_atmosphere)
        json_object_set_new(adv, "emotional_atmosphere", json_string(o->emotional_atmosphere));
    if (o->mirror_mode)
        json_object_set_new(adv, "mirror_mode", json_string(o->mirror_mode));
    if (o->video_style)
        json_object_set_new(adv, "video_style", json_string(o->video_style));
    json_t *b = json_pack("{s:s, s:s}", "conversation_id", "", "prompt", o->prompt);
    if (o->source_id)
        json_object_set_new(b, "source_list", json_pack("[s]", o->source_id));
    json_object_set_new(b, "advanced_parameter_extra", adv);
    if (o->seconds || o->width) {
        /* Spec 12.10, from undated later clients: duration 1 = 5 s, 2 = 10 s. */
        json_t *base = json_object();
        if (o->seconds)
            json_object_set_new(base, "duration", json_integer(o->seconds > 5 ? 2 : 1));
        if (o->width && o->height) {
            json_object_set_new(base, "generation_ratio_width", json_integer(o->width));
            json_object_set_new(base, "generation_ratio_height", json_integer(o->height));
        }
        json_object_set_new(base, "generation_type",
                            json_string(o->source_id ? "reference_img" : ""));
        json_object_set_new(base, "prompt", json_string(o->prompt));
        json_object_set_new(b, "base_parameter_extra", base);
    }
    return b;
}

void video_status_read(json_t *result, struct video_status_info *out)
{
    memset(out, 0, sizeof(*out));
    out->state = json_string_value(json_object_get(result, "status"));
    out->video_url = json_string_value(json_object_get(result, "video_url"));
    out->cover_url = json_string_value(json_object_get(result, "cover_url"));
    out->duration = json_string_value(json_object_get(result, "video_duration"));
    out->resolution = json_string_value(json_object_get(result, "resolution"));
    out->msg = json_string_value(json_object_get(result, "msg"));
}
