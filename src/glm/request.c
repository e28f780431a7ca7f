#include "glm/request.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "glm/session.h"
#include "glm/sign.h"
#include "util/crypto.h"
#include "util/jstr.h"
#include "util/xalloc.h"

/* One header line: name + ": " + prefix + value. A NULL value gives "Name:",
 * which tells curl not to send its own header of that name; an empty one
 * gives "Name;", curl's way to send a header with an empty value. */
struct hline {
    const char *name, *prefix, *value;
};

/* The whole list is one allocation (the nodes, then their text), built
 * without printf: it is made twice for every answer (the stream and the
 * deletion), and curl_slist_append's allocations and the formatting were a
 * tenth of the server's time per short answer. */
static struct curl_slist *flat_list(const struct hline *h, size_t n)
{
    size_t text = 0;
    for (size_t i = 0; i < n; i++)
        text += strlen(h[i].name) + 2 + strlen(h[i].prefix) + (h[i].value ? strlen(h[i].value) : 0) + 1;
    struct curl_slist *nodes = xmalloc(n * sizeof(*nodes) + text);
    char *p = (char *)(nodes + n);
    for (size_t i = 0; i < n; i++) {
        size_t ln = strlen(h[i].name), lp = strlen(h[i].prefix);
        size_t lv = h[i].value ? strlen(h[i].value) : 0;
        nodes[i].data = p;
        nodes[i].next = i + 1 < n ? &nodes[i + 1] : NULL;
        memcpy(p, h[i].name, ln);
        p += ln;
        if (!h[i].value) {
            *p++ = ':';
        } else if (lp + lv == 0) {
            *p++ = ';';
        } else {
            *p++ = ':';
            *p++ = ' ';
            memcpy(p, h[i].prefix, lp);
            p += lp;
            memcpy(p, h[i].value, lv);
            p += lv;
        }
        *p++ = '\0';
    }
    return nodes;
}

/* A header whose value comes from the settings: an empty setting leaves the
 * header out. */
static void add_setting(struct hline *h, size_t *n, const char *name, const char *value)
{
    if (value && *value)
        h[(*n)++] = (struct hline){ name, "", value };
}

struct curl_slist *glm_headers(const char *token, int sign, const char *referer, int json)
{
    char device_id[65], request_id[33];
    /* The account's own device id, as the browser sends it (spec 12.1); a
     * token without one gets a fresh id per call, as before. */
    if (session_jwt_device_id(token, device_id, sizeof(device_id)) < 0)
        crypto_random_hex(device_id, 16);
    crypto_random_hex(request_id, 16);
    struct sign_headers s;
    struct hline h[32];
    size_t n = 0;
    h[n++] = (struct hline){ "Accept", "", "application/json, text/plain, */*" };
    add_setting(h, &n, "Accept-Language", cfg.accept_language);
    h[n++] = (struct hline){ "Cache-Control", "", "no-cache" };
    h[n++] = (struct hline){ "App-Name", "", "chatglm" };
    h[n++] = (struct hline){ "Origin", "", cfg.upstream };
    h[n++] = (struct hline){ "Pragma", "", "no-cache" };
    add_setting(h, &n, "sec-ch-ua", cfg.sec_ch_ua);
    h[n++] = (struct hline){ "sec-ch-ua-mobile", "", "?0" };
    add_setting(h, &n, "sec-ch-ua-platform", cfg.sec_ch_ua_platform);
    h[n++] = (struct hline){ "Sec-Fetch-Dest", "", "empty" };
    h[n++] = (struct hline){ "Sec-Fetch-Mode", "", "cors" };
    h[n++] = (struct hline){ "Sec-Fetch-Site", "", "same-origin" };
    add_setting(h, &n, "User-Agent", cfg.user_agent);
    h[n++] = (struct hline){ "X-App-Platform", "", "pc" };
    add_setting(h, &n, "X-App-Version", cfg.app_version);
    add_setting(h, &n, "X-App-fr", cfg.app_fr);
    /* Sent empty, as the web app's own client does. */
    h[n++] = (struct hline){ "X-Device-Brand", "", "" };
    h[n++] = (struct hline){ "X-Device-Model", "", "" };
    add_setting(h, &n, "X-Exp-Groups", cfg.exp_groups);
    h[n++] = (struct hline){ "X-Lang", "", "zh" };
    h[n++] = (struct hline){ "X-Device-Id", "", device_id };
    h[n++] = (struct hline){ "X-Request-Id", "", request_id };
    if (token)
        h[n++] = (struct hline){ "Authorization", "Bearer ", token };
    if (sign) {
        sign_make(cfg.sign_secret, &s);
        h[n++] = (struct hline){ "X-Sign", "", s.sign };
        h[n++] = (struct hline){ "X-Nonce", "", s.nonce };
        h[n++] = (struct hline){ "X-Timestamp", "", s.timestamp };
    }
    if (referer)
        h[n++] = (struct hline){ "Referer", "", referer };
    if (json)
        h[n++] = (struct hline){ "Content-Type", "", "application/json" };
    /* curl would otherwise send "Expect: 100-continue" for large bodies. */
    h[n++] = (struct hline){ "Expect", "", NULL };
    return flat_list(h, n);
}

int glm_url(struct buf *out, const char *path)
{
    buf_reset(out);
    return buf_printf(out, "%s%s", cfg.upstream, path);
}

void glm_referer(const char *assistant_id, int is_default, char *out, size_t outlen)
{
    if (is_default)
        snprintf(out, outlen, "%s/main/alltoolsdetail", cfg.upstream);
    else
        snprintf(out, outlen, "%s/main/gdetail/%s", cfg.upstream, assistant_id);
}

/* Appends a JSON value held by jansson (the upload results: rare, small). */
static int put_json(struct buf *b, json_t *v)
{
    char *s = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (!s)
        abort();
    int rc = buf_puts(b, s);
    free(s);
    return rc;
}

/* The user message: the text, then the attachments (upload results). */
static int put_messages(struct buf *b, const struct glm_stream_opts *o)
{
    int rc = buf_puts(b, "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":");
    rc |= json_append_string(b, o->prompt, strlen(o->prompt));
    rc |= buf_putc(b, '}');
    if (o->files && json_array_size(o->files) > 0) {
        rc |= buf_puts(b, ",{\"type\":\"file\",\"file\":");
        rc |= put_json(b, o->files);
        rc |= buf_putc(b, '}');
    }
    if (o->images && json_array_size(o->images) > 0) {
        rc |= buf_puts(b, ",{\"type\":\"image\",\"image\":");
        rc |= put_json(b, o->images);
        rc |= buf_putc(b, '}');
    }
    return rc | buf_puts(b, "]}]");
}

/* ,"key":"value" when value is non-NULL. */
static int put_field(struct buf *b, const char *key, const char *value)
{
    if (!value)
        return 0;
    int rc = buf_printf(b, ",\"%s\":", key);
    return rc | json_append_string(b, value, strlen(value));
}

/* The 2025 body (spec 6.2), in the key order of the web app's own client. */
static int body_2025(struct buf *b, const struct glm_stream_opts *o)
{
    int rc = put_messages(b, o);
    rc |= buf_puts(b, ",\"meta_data\":{\"channel\":\"\"");
    rc |= put_field(b, "chat_mode", o->chat_mode);
    rc |= buf_puts(b, ",\"draft_id\":\"\",\"if_plus_model\":true,\"input_question_type\":\"xxxx\"");
    if (o->networking)
        rc |= buf_puts(b, ",\"is_networking\":true");
    rc |= buf_puts(b, ",\"is_test\":false,\"platform\":\"pc\",\"quote_log_id\":\"\"");
    if (o->aspect_ratio) {
        rc |= buf_puts(b, ",\"cogview\":{\"aspect_ratio\":");
        rc |= json_append_string(b, o->aspect_ratio, strlen(o->aspect_ratio));
        rc |= buf_putc(b, '}');
    }
    return rc | buf_puts(b, "}");
}

/* Today's body (spec 12.3), in the key order the browser sent on 2026-09-29:
 * project_id and chat_type, meta_data with the model and the reasoning tier,
 * no if_plus_model. */
static int body_2026(struct buf *b, const struct glm_stream_opts *o)
{
    int rc = buf_puts(b, "\"project_id\":\"\",\"chat_type\":\"user_chat\",");
    rc |= buf_puts(b, "\"meta_data\":{\"cogview\":{\"rm_label_watermark\":false");
    if (o->aspect_ratio) {
        rc |= buf_puts(b, ",\"aspect_ratio\":");
        rc |= json_append_string(b, o->aspect_ratio, strlen(o->aspect_ratio));
    }
    rc |= buf_puts(b, "},\"is_test\":false,\"input_question_type\":\"xxxx\",\"channel\":\"\","
                      "\"draft_id\":\"\"");
    rc |= put_field(b, "chat_mode", o->chat_mode);
    rc |= put_field(b, "reasoning_effort", o->reasoning_effort);
    rc |= put_field(b, "selected_model",
                    o->selected_model && *o->selected_model ? o->selected_model : NULL);
    rc |= buf_puts(b, o->networking ? ",\"is_networking\":true" : ",\"is_networking\":false");
    rc |= buf_puts(b, ",\"quote_log_id\":\"\",\"platform\":\"pc\"},");
    return rc | put_messages(b, o);
}

/* Written straight into one buffer: building a jansson tree and dumping it
 * cost more than the rest of the request's setup. */
char *glm_stream_body_of(const struct glm_stream_opts *o)
{
    struct buf b;
    buf_init(&b, (size_t)-1 / 2);
    const char *conv = o->conversation_id ? o->conversation_id : "";
    int rc = buf_puts(&b, "{\"assistant_id\":");
    rc |= json_append_string(&b, o->assistant_id, strlen(o->assistant_id));
    rc |= buf_puts(&b, ",\"conversation_id\":");
    rc |= json_append_string(&b, conv, strlen(conv));
    rc |= buf_putc(&b, ',');
    rc |= cfg.upstream_era == CFG_ERA_2025 ? body_2025(&b, o) : body_2026(&b, o);
    rc |= buf_putc(&b, '}');
    if (rc < 0)
        abort(); /* the buffer has no practical cap: only out of memory */
    return buf_take(&b, NULL);
}

/* ---- calls ----------------------------------------------------------------- */

struct xfer *glm_call_start(struct curl_loop *l, const struct glm_call *c,
                            const struct xfer_cbs *cbs, void *arg)
{
    struct buf url;
    buf_init(&url, 4096);
    if (glm_url(&url, c->path) < 0) {
        buf_cleanup(&url);
        if (c->mime)
            curl_mime_free(c->mime);
        return NULL;
    }
    struct xfer_req r = {
        .method = c->method ? c->method : "POST",
        .url = buf_cstr(&url),
        .headers = glm_headers(c->token, !c->no_sign, c->referer, !c->mime),
        .body = c->body,
        .body_len = c->body_len,
        .mime = c->mime,
        .connect_timeout = cfg.connect_timeout,
        .idle_timeout = c->idle_timeout,
        .total_timeout = c->total_timeout,
        .max_body = c->max_body,
    };
    struct xfer *call = xfer_start(l, &r, cbs, arg);
    buf_cleanup(&url);
    return call;
}

void glm_assistant_referer(const char *assistant_id, char *out, size_t outlen)
{
    glm_referer(assistant_id, strcmp(assistant_id, cfg.default_assistant) == 0, out, outlen);
}

struct xfer *glm_stream_call(struct curl_loop *l, const char *access,
                             const struct glm_stream_opts *o, const struct xfer_cbs *cbs,
                             void *arg)
{
    char *body = glm_stream_body_of(o);
    char referer[512];
    glm_assistant_referer(o->assistant_id, referer, sizeof(referer));
    struct glm_call c = {
        .path = cfg.path_stream,
        .token = access,
        .referer = referer,
        .body = body,
        .body_len = strlen(body),
        .idle_timeout = cfg.idle_timeout,
        .max_body = 256 * 1024,
    };
    struct xfer *call = glm_call_start(l, &c, cbs, arg);
    free(body);
    return call;
}
