/* The small endpoints: /ping, the welcome page, /v1/models. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "api/api.h"
#include "app.h"
#include "config.h"
#include "glm/models.h"
#include "util/buf.h"

void ping_handle(struct api_req *a)
{
    api_reply(a, 200, "text/plain; charset=utf-8", "pong", 4);
}

void models_handle(struct api_req *a)
{
    struct buf b;
    buf_init(&b, 1 << 20);
    if (models_list_json(&b, cfg.models, models_era_of(cfg.upstream_era), app.started) < 0) {
        buf_cleanup(&b);
        api_error(a, 500, NULL, NULL, "the model list does not fit its buffer");
        return;
    }
    api_reply(a, 200, "application/json; charset=utf-8", b.data, b.len);
    buf_cleanup(&b);
}

/* GET /v1/models/{model}: the list's entry for that id (OpenAI's retrieve). */
void model_get_handle(struct api_req *a, const char *id)
{
    struct buf b;
    buf_init(&b, 1 << 20);
    json_t *list = NULL, *found = NULL;
    if (models_list_json(&b, cfg.models, models_era_of(cfg.upstream_era), app.started) == 0)
        list = json_loadb(b.data, b.len, 0, NULL);
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(list, "data"), i, m) {
        const char *mid = json_string_value(json_object_get(m, "id"));
        if (mid && strcmp(mid, id) == 0) {
            found = m;
            break;
        }
    }
    char *s = found ? json_dumps(found, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    if (s)
        api_reply(a, 200, "application/json; charset=utf-8", s, strlen(s));
    else
        api_error(a, 404, "model", "model_not_found",
                  "The model '%.100s' does not exist: GET /v1/models lists the models", id);
    free(s);
    json_decref(list);
    buf_cleanup(&b);
}

void welcome_handle(struct api_req *a)
{
    struct buf b;
    buf_init(&b, 16384);
    int rc = buf_printf(
        &b,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<title>glm-free-api</title></head>\n<body style=\"font-family:sans-serif;max-width:46em;"
        "margin:2em auto;line-height:1.5\">\n<h1>glm-free-api %s</h1>\n"
        "<p>An OpenAI-compatible API in front of chatglm.cn (智谱清言). It is running.</p>\n"
        "<p>Point any OpenAI client at <code>http://&lt;this host&gt;:%ld%s/v1</code> and use your "
        "<code>chatglm_refresh_token</code> (from the chatglm.cn cookies of a logged-in browser) "
        "as the API key. Several accounts: <code>token1,token2</code>.</p>\n"
        "<pre>curl http://127.0.0.1:%ld%s/v1/chat/completions \\\n"
        "  -H 'Authorization: Bearer YOUR_REFRESH_TOKEN' \\\n"
        "  -H 'Content-Type: application/json' \\\n"
        "  -d '{\"model\":\"glm-4\",\"messages\":[{\"role\":\"user\",\"content\":\"你好\"}],"
        "\"stream\":true}'</pre>\n"
        "<p>Endpoints: <code>POST /v1/chat/completions</code>, <code>POST /v1/images/generations</code>, "
        "<code>GET /v1/models</code>, <code>POST /token/check</code>, "
        "<code>GET /ping</code>.</p>\n<p>For personal study only; respect chatglm.cn's terms.</p>\n"
        "</body></html>\n",
        GLM_VERSION, cfg.port, cfg.url_prefix, cfg.port, cfg.url_prefix);
    (void)rc;
    api_reply(a, 200, "text/html; charset=utf-8", b.data, b.len);
    buf_cleanup(&b);
}
