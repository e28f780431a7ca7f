#include "glm/answer.h"

#include <stdio.h>
#include <string.h>

void glm_answer_read_json(long http, const json_t *root, int stream, struct glm_answer *out)
{
    const json_t *st = json_object_get(root, "status");
    const json_t *msg = json_object_get(root, "message");
    out->http = http;
    out->code = json_is_integer(st) ? json_integer_value(st) : -1;
    snprintf(out->message, sizeof(out->message), "%s",
             json_is_string(msg) ? json_string_value(msg) : "");
    long long c = out->code;
    if (http == 401 || c == 40103 || c == 40102 || strstr(out->message, "40102"))
        out->verdict = GLM_AUTH_REFUSED;
    else if (http == 429 || c == 10061)
        out->verdict = GLM_BUSY;
    else if (c == 40012 || http >= 500)
        out->verdict = GLM_TRANSIENT;
    else if (c == 40001)
        out->verdict = GLM_BAD_REQUEST;
    else if (http == 200 && stream)
        out->verdict = GLM_NOT_SSE;
    else if (http == 200 && (c == 0 || c == -1))
        out->verdict = GLM_OK;
    else
        out->verdict = GLM_REFUSED;
}

void glm_answer_read(long http, const char *body, size_t len, int stream, struct glm_answer *out)
{
    json_t *root = json_loadb(body, len, 0, NULL);
    glm_answer_read_json(http, root, stream, out);
    json_decref(root);
}

/* ---- drawings ------------------------------------------------------------ */

static int is_str(const json_t *v, const char *s)
{
    const char *t = json_string_value(v);
    return t && strcmp(t, s) == 0;
}

/* "(https://…)" in finished text: some agents answer with markdown links. */
static void scan_text(struct glm_draw *d, const char *s)
{
    for (const char *p = strchr(s, '('); p; p = strchr(p + 1, '(')) {
        const char *u = p + 1;
        if (strncmp(u, "https://", 8) != 0 && strncmp(u, "http://", 7) != 0)
            continue;
        size_t n = strcspn(u, ") \t\r\n\"<>");
        if (u[n] == ')')
            d->on_url(d->arg, u, n);
    }
}

static void read_item(struct glm_draw *d, const json_t *item, int finished)
{
    const json_t *type = json_object_get(item, "type");
    if (is_str(type, "image")) {
        size_t m;
        const json_t *img;
        json_array_foreach(json_object_get(item, "image"), m, img) {
            const json_t *url = json_object_get(img, "image_url");
            if (json_is_string(url))
                d->on_url(d->arg, json_string_value(url), json_string_length(url));
        }
    } else if (is_str(type, "text") && finished) {
        const char *text = json_string_value(json_object_get(item, "text"));
        if (text)
            scan_text(d, text);
    }
}

int glm_draw_frame(struct glm_draw *d, const char *data, size_t len)
{
    json_t *f = json_loadb(data, len, 0, NULL);
    if (!json_is_object(f)) {
        json_decref(f);
        return -1;
    }
    d->frames++;
    const char *conv = json_string_value(json_object_get(f, "conversation_id"));
    if (conv && !d->conv[0] && strlen(conv) < sizeof(d->conv))
        snprintf(d->conv, sizeof(d->conv), "%s", conv);
    const json_t *status = json_object_get(f, "status");
    int top_finish = is_str(status, "finish");
    size_t i, k;
    const json_t *part, *item;
    json_array_foreach(json_object_get(f, "parts"), i, part) {
        const json_t *ps = json_object_get(part, "status");
        if (is_str(ps, "intervene"))
            d->state = GLM_DRAW_FILTERED;
        int finished = top_finish || is_str(ps, "finish");
        json_array_foreach(json_object_get(part, "content"), k, item) {
            read_item(d, item, finished);
        }
    }
    if (is_str(status, "intervene"))
        d->state = GLM_DRAW_FILTERED;
    if (d->state == GLM_DRAW_FILTERED) {
        const char *t = json_string_value(
            json_object_get(json_object_get(f, "last_error"), "intervene_text"));
        if (t && !d->note[0])
            snprintf(d->note, sizeof(d->note), "%s", t);
    } else if (is_str(status, "error")) {
        d->state = GLM_DRAW_FAILED;
        const json_t *e = json_object_get(f, "error");
        const char *msg = json_string_value(json_object_get(e, "err_msg"));
        snprintf(d->note, sizeof(d->note), "%lld: %s",
                 (long long)json_integer_value(json_object_get(e, "error_code")),
                 msg ? msg : "unknown");
    } else if (top_finish) {
        d->state = GLM_DRAW_DONE;
    }
    json_decref(f);
    return 0;
}
