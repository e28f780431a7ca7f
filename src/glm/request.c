#include "glm/request.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
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
    char device_id[33], request_id[33];
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

/* Written straight into one buffer, in the key order of the web app's own
 * client (spec 6.2): building a jansson tree and dumping it cost more than
 * the rest of the request's setup. */
static char *stream_body(const char *assistant_id, const char *conversation_id,
                         const char *prompt, const char *chat_mode, int networking,
                         json_t *files, json_t *images, const char *aspect_ratio)
{
    struct buf b;
    buf_init(&b, (size_t)-1 / 2);
    int rc = buf_puts(&b, "{\"assistant_id\":");
    rc |= json_append_string(&b, assistant_id, strlen(assistant_id));
    rc |= buf_puts(&b, ",\"conversation_id\":");
    conversation_id = conversation_id ? conversation_id : "";
    rc |= json_append_string(&b, conversation_id, strlen(conversation_id));
    rc |= buf_puts(&b, ",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":");
    rc |= json_append_string(&b, prompt, strlen(prompt));
    rc |= buf_putc(&b, '}');
    if (files && json_array_size(files) > 0) {
        rc |= buf_puts(&b, ",{\"type\":\"file\",\"file\":");
        rc |= put_json(&b, files);
        rc |= buf_putc(&b, '}');
    }
    if (images && json_array_size(images) > 0) {
        rc |= buf_puts(&b, ",{\"type\":\"image\",\"image\":");
        rc |= put_json(&b, images);
        rc |= buf_putc(&b, '}');
    }
    rc |= buf_puts(&b, "]}],\"meta_data\":{\"channel\":\"\"");
    if (chat_mode) {
        rc |= buf_puts(&b, ",\"chat_mode\":");
        rc |= json_append_string(&b, chat_mode, strlen(chat_mode));
    }
    rc |= buf_puts(&b, ",\"draft_id\":\"\",\"if_plus_model\":true,\"input_question_type\":\"xxxx\"");
    if (networking)
        rc |= buf_puts(&b, ",\"is_networking\":true");
    rc |= buf_puts(&b, ",\"is_test\":false,\"platform\":\"pc\",\"quote_log_id\":\"\"");
    if (aspect_ratio) {
        /* The 2026 web app sends meta_data.cogview.aspect_ratio when drawing. */
        rc |= buf_puts(&b, ",\"cogview\":{\"aspect_ratio\":");
        rc |= json_append_string(&b, aspect_ratio, strlen(aspect_ratio));
        rc |= buf_putc(&b, '}');
    }
    rc |= buf_puts(&b, "}}");
    if (rc < 0)
        abort(); /* the buffer has no practical cap: only out of memory */
    return buf_take(&b, NULL);
}

char *glm_stream_body(const char *assistant_id, const char *conversation_id, const char *prompt,
                      const char *chat_mode, int networking, json_t *files, json_t *images)
{
    return stream_body(assistant_id, conversation_id, prompt, chat_mode, networking, files, images,
                       NULL);
}

char *glm_stream_body_of(const struct glm_stream_opts *o)
{
    return stream_body(o->assistant_id, o->conversation_id, o->prompt, o->chat_mode,
                       o->networking, o->files, o->images, o->aspect_ratio);
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
        .method = "POST",
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
