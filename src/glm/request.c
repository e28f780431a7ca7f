#include "glm/request.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "glm/sign.h"
#include "util/crypto.h"
#include "util/xalloc.h"

static struct curl_slist *add(struct curl_slist *l, const char *name, const char *value)
{
    size_t len = strlen(name) + strlen(value) + 3;
    char *line = xmalloc(len);
    snprintf(line, len, "%s: %s", name, value);
    struct curl_slist *n = curl_slist_append(l, line);
    free(line);
    if (!n)
        abort();
    return n;
}

struct curl_slist *glm_headers(const char *token, int sign, const char *referer, int json)
{
    struct curl_slist *h = NULL;
    char origin[512];
    snprintf(origin, sizeof(origin), "%s", cfg.upstream);
    h = add(h, "Accept", "application/json, text/plain, */*");
    h = add(h, "Accept-Language", cfg.accept_language);
    h = add(h, "Cache-Control", "no-cache");
    h = add(h, "App-Name", "chatglm");
    h = add(h, "Origin", origin);
    h = add(h, "Pragma", "no-cache");
    h = add(h, "sec-ch-ua", cfg.sec_ch_ua);
    h = add(h, "sec-ch-ua-mobile", "?0");
    h = add(h, "sec-ch-ua-platform", cfg.sec_ch_ua_platform);
    h = add(h, "Sec-Fetch-Dest", "empty");
    h = add(h, "Sec-Fetch-Mode", "cors");
    h = add(h, "Sec-Fetch-Site", "same-origin");
    h = add(h, "User-Agent", cfg.user_agent);
    h = add(h, "X-App-Platform", "pc");
    h = add(h, "X-App-Version", cfg.app_version);
    h = add(h, "X-Device-Brand", "");
    h = add(h, "X-Device-Model", "");
    h = add(h, "X-Exp-Groups", cfg.exp_groups);
    h = add(h, "X-Lang", "zh");
    char id[33];
    crypto_random_hex(id, 16);
    h = add(h, "X-Device-Id", id);
    crypto_random_hex(id, 16);
    h = add(h, "X-Request-Id", id);
    if (token) {
        size_t len = strlen(token) + 8;
        char *auth = xmalloc(len);
        snprintf(auth, len, "Bearer %s", token);
        h = add(h, "Authorization", auth);
        free(auth);
    }
    if (sign) {
        struct sign_headers s;
        sign_make(cfg.sign_secret, &s);
        h = add(h, "X-Sign", s.sign);
        h = add(h, "X-Nonce", s.nonce);
        h = add(h, "X-Timestamp", s.timestamp);
    }
    if (referer)
        h = add(h, "Referer", referer);
    if (json)
        h = add(h, "Content-Type", "application/json");
    /* curl would otherwise send "Expect: 100-continue" for large bodies. */
    h = add(h, "Expect", "");
    return h;
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

char *glm_stream_body(const char *assistant_id, const char *conversation_id, const char *prompt,
                      const char *chat_mode, int networking, json_t *files, json_t *images)
{
    json_t *content = json_array();
    json_array_append_new(content, json_pack("{s:s, s:s}", "type", "text", "text", prompt));
    if (files && json_array_size(files) > 0)
        json_array_append_new(content, json_pack("{s:s, s:O}", "type", "file", "file", files));
    if (images && json_array_size(images) > 0)
        json_array_append_new(content, json_pack("{s:s, s:O}", "type", "image", "image", images));

    json_t *meta = json_object();
    json_object_set_new(meta, "channel", json_string(""));
    if (chat_mode)
        json_object_set_new(meta, "chat_mode", json_string(chat_mode));
    json_object_set_new(meta, "draft_id", json_string(""));
    json_object_set_new(meta, "if_plus_model", json_true());
    json_object_set_new(meta, "input_question_type", json_string("xxxx"));
    if (networking)
        json_object_set_new(meta, "is_networking", json_true());
    json_object_set_new(meta, "is_test", json_false());
    json_object_set_new(meta, "platform", json_string("pc"));
    json_object_set_new(meta, "quote_log_id", json_string(""));

    json_t *root = json_pack("{s:s, s:s, s:[{s:s, s:o}], s:o}", "assistant_id", assistant_id,
                             "conversation_id", conversation_id ? conversation_id : "",
                             "messages", "role", "user", "content", content, "meta_data", meta);
    char *s = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(root);
    if (!s)
        abort();
    return s;
}
