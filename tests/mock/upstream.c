/* The chatglm.cn endpoints the server calls: refresh (new and old), stream,
 * conversation delete (single and bulk) and file upload. */
#include "mock.h"
#include "script.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/keyvalq_struct.h>

#include "glm/sign.h"
#include "log.h"
#include "misc.h"
#include "multipart.h"
#include "util/crypto.h"
#include "util/xalloc.h"

#define SIGN_SECRET "8a1317a7468aa3ad86e997d08f3f31cb"
#define MAX_SKEW_MS (10 * 60 * 1000)
#define UNKNOWN_ASSISTANT "000000000000000000000000"
#define MAX_MARKER 100
#define CLOSE_MID_FRAMES 3
#define TRICKLE_FRAME_MS 20
#define GARBAGE_BYTES 1024
#define MAX_BIG_FRAME (64 << 20)

static const char html_500[] =
    "<html>\r\n<head><title>500 Internal Server Error</title></head>\r\n<body>\r\n"
    "<center><h1>500 Internal Server Error</h1></center>\r\n<hr><center>nginx</center>\r\n"
    "</body>\r\n</html>\r\n";

/* What a refresh may get instead of JSON: a login or challenge page, and a
 * JSON body cut short. */
static const char html_login[] =
    "<!DOCTYPE html><html><head><title>智谱清言</title></head><body><div id=\"app\"></div>"
    "<script>location.href='/main/alltoolsdetail'</script></body></html>\n";
static const char bad_json[] = "{\"status\":0,\"message\":\"success\",\"result\":{\"access_tok";

/* The token of "Authorization: Bearer <token>", or NULL. New string. */
static char *bearer(struct evhttp_request *req)
{
    const char *h = mock_header(req, "Authorization");
    if (!h || strncasecmp(h, "Bearer ", 7) != 0)
        return NULL;
    h += 7;
    while (*h == ' ')
        h++;
    size_t n = strlen(h);
    while (n > 0 && (h[n - 1] == ' ' || h[n - 1] == '\t'))
        n--;
    return n ? xstrndup(h, n) : NULL;
}

/* Spec 4.1: X-Timestamp obeys the check-digit rule and is within 10 minutes
 * of now; X-Sign = md5(timestamp-nonce-secret). */
int mock_signature_ok(struct mock *m, struct evhttp_request *req)
{
    if (!mock_state_settings(m->state)->signature)
        return 1;
    const char *ts = mock_header(req, "X-Timestamp");
    const char *nonce = mock_header(req, "X-Nonce");
    const char *sign = mock_header(req, "X-Sign");
    if (!ts || !nonce || !sign || !*nonce || !sign_timestamp_valid(ts) || strlen(ts) > 19)
        return 0;
    unsigned long long t = strtoull(ts, NULL, 10), now = mock_now_ms();
    if ((t > now ? t - now : now - t) > MAX_SKEW_MS)
        return 0;
    char want[33];
    sign_compute(ts, nonce, SIGN_SECRET, want);
    return strcmp(want, sign) == 0;
}

/* {"status":0,"message":"success","result":<result>,"rid":<X-Request-Id>}.
 * Steals result. */
json_t *mock_envelope(struct evhttp_request *req, json_t *result)
{
    const char *rid = mock_header(req, "X-Request-Id");
    char fresh[33];
    if (!rid || !*rid || strlen(rid) > 128 || !mock_utf8_valid(rid, strlen(rid))) {
        crypto_random_hex(fresh, 16);
        rid = fresh;
    }
    return json_pack("{s:i, s:s, s:o, s:s}", "status", 0, "message", "success", "result",
                     result ? result : json_null(), "rid", rid);
}

static void handle_refresh(struct mock *m, struct evhttp_request *req, int old)
{
    char *token = NULL;
    struct mock_refresh_out out;
    memset(&out, 0, sizeof(out));
    mock_state_count_refresh(m->state);
    if (!old && !mock_signature_ok(m, req)) {
        mock_reply_case(m, req, "missing-signature-40001");
        goto out;
    }
    token = bearer(req);
    switch (mock_state_refresh(m->state, token, !old, &out)) {
    case MOCK_REFRESH_REJECTED:
        mock_reply_case(m, req, old ? "refresh-bad-token-2024" : "refresh-token-revoked-40102");
        break;
    case MOCK_REFRESH_FLAKY:
    case MOCK_REFRESH_500:
        mock_reply(req, 500, "Internal Server Error", "text/html", html_500, sizeof(html_500) - 1);
        break;
    case MOCK_REFRESH_HTML:
        mock_reply(req, 200, "OK", "text/html; charset=utf-8", html_login, sizeof(html_login) - 1);
        break;
    case MOCK_REFRESH_EMPTY:
        mock_reply(req, 200, "OK", "application/json; charset=utf-8", "", 0);
        break;
    case MOCK_REFRESH_BADJSON:
        mock_reply(req, 200, "OK", "application/json; charset=utf-8", bad_json,
                   sizeof(bad_json) - 1);
        break;
    case MOCK_REFRESH_FULL:
        mock_reply_mock_error(req, 503, "token table full; POST /_mock/reset");
        break;
    case MOCK_REFRESH_OK:
        LOG(LOG_INFO, "refresh uid=%s%s", out.uid, old ? " (old endpoint)" : "");
        if (old)
            mock_reply_json(req, 200, json_pack("{s:s, s:{s:s}, s:i}", "message", "success",
                                                "result", "accessToken", out.access_token,
                                                "status", 0));
        else
            mock_reply_json(req, 200,
                            mock_envelope(req, json_pack("{s:s, s:s, s:s, s:b, s:i}", "user_id",
                                                    out.uid, "access_token", out.access_token,
                                                    "refresh_token", out.refresh_token,
                                                    "is_guest", out.guest, "mode", 1)));
        break;
    }
out:
    free(token);
    free(out.access_token);
    free(out.refresh_token);
}

/* The uid of the request's access token, or NULL after answering 40103. */
const char *mock_authorize(struct mock *m, struct evhttp_request *req)
{
    char *token = bearer(req);
    const char *uid = mock_state_access_uid(m->state, token);
    free(token);
    if (!uid)
        mock_reply_case(m, req, "stream-access-token-expired-40103");
    return uid;
}

/* The name inside the first "[[<kind>:NAME]]" of text, into out. */
static int find_marker(const char *text, const char *kind, char *out, size_t outsz)
{
    char open[32];
    snprintf(open, sizeof(open), "[[%s:", kind);
    const char *p = strstr(text, open);
    if (!p)
        return 0;
    p += strlen(open);
    const char *end = strstr(p, "]]");
    if (!end || (size_t)(end - p) >= outsz)
        return 0;
    memcpy(out, p, (size_t)(end - p));
    out[end - p] = '\0';
    return 1;
}

/* What the request carries: the merged prompt (messages[0].content[0].text)
 * and whether any content item is an image or a file. */
static const char *prompt_of(json_t *body, int *has_image, int *has_file)
{
    json_t *content = json_object_get(json_array_get(json_object_get(body, "messages"), 0),
                                      "content");
    if (json_is_string(content))
        return json_string_value(content);
    size_t i;
    json_t *item;
    json_array_foreach(content, i, item) {
        const char *type = json_string_value(json_object_get(item, "type"));
        if (type && (strcmp(type, "image") == 0 || strcmp(type, "image_url") == 0))
            *has_image = 1;
        if (type && strcmp(type, "file") == 0)
            *has_file = 1;
    }
    const char *text = json_string_value(json_object_get(json_array_get(content, 0), "text"));
    return text ? text : "";
}

/* The fixture the request's own content selects (no markers). */
static const char *fixture_for(json_t *body, const char *text, int has_image, int has_file)
{
    if (strstr(text, "画"))
        return "chat-drawing";
    if (strstr(text, "天气") || strstr(text, "搜索"))
        return "chat-multipart-search";
    if (strstr(text, "Python") || strstr(text, "计算"))
        return "chat-code-interpreter";
    if (strstr(text, "敏感"))
        return "chat-intervene";
    if (strstr(text, "触发错误"))
        return "chat-stream-error";
    const char *mode = json_string_value(json_object_get(json_object_get(body, "meta_data"),
                                                         "chat_mode"));
    if (mode && (strcmp(mode, "zero") == 0 || strcmp(mode, "thinking") == 0 ||
                 strcmp(mode, "deep_thinking") == 0 || strcmp(mode, "deep_research") == 0))
        return "chat-think";
    if (has_image)
        return "chat-image-vision";
    if (has_file)
        return "chat-file";
    return "chat-plain";
}

/* Assistant ids are echoed into the frames only when they are plain ids. */
static int plain_id(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 64)
        return 0;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s))
            return 0;
    return 1;
}

/* Answers the scenarios that are a single reply. Returns 1 when it did. */
static int immediate_scenario(struct mock *m, struct evhttp_request *req, const char *scenario)
{
    if (strcmp(scenario, "non-sse") == 0)
        mock_reply_case(m, req, "unknown-assistant-id");
    else if (strncmp(scenario, "error:", 6) == 0)
        mock_reply_case(m, req, scenario + 6);
    else if (strcmp(scenario, "busy") == 0)
        mock_reply_case(m, req, "account-busy-10061");
    else if (strcmp(scenario, "http500") == 0)
        mock_reply(req, 500, "Internal Server Error", "text/html", html_500, sizeof(html_500) - 1);
    else
        return 0;
    return 1;
}

/* Fills spec (mode and answer) for a streamed scenario, or for the fixture
 * the request selects when scenario is "". Returns -1 after answering with
 * an error. */
static int prepare_answer(struct mock *m, struct evhttp_request *req, const char *scenario,
                          char *fixture, struct mock_stream_spec *spec)
{
    const struct mock_settings *st = mock_state_settings(m->state);
    char err[256];
    int heartbeat = 0;
    spec->mode = MOCK_STREAM_NORMAL;
    spec->delay_ms = st->delay_ms;
    if (!*scenario) {
        /* a fixture marker or the request's content decides */
    } else if (strcmp(scenario, "stall") == 0) {
        spec->mode = MOCK_STREAM_STALL;
    } else if (strcmp(scenario, "stall-before") == 0) {
        spec->mode = MOCK_STREAM_STALL_BEFORE;
    } else if (strcmp(scenario, "stall-mid") == 0) {
        spec->mode = MOCK_STREAM_STALL;
        spec->stall_after = CLOSE_MID_FRAMES;
    } else if (strcmp(scenario, "close-mid") == 0 || strcmp(scenario, "reset-mid") == 0 ||
               strcmp(scenario, "truncated-chunk") == 0) {
        spec->mode = MOCK_STREAM_CLOSE_MID;
        spec->close_after = CLOSE_MID_FRAMES;
        spec->cut_reset = scenario[0] == 'r';
        spec->cut_in_chunk = scenario[0] == 't';
    } else if (strncmp(scenario, "huge-frame:", 11) == 0) {
        char *end = NULL;
        long n = strtol(scenario + 11, &end, 10);
        if (!end || *end || n < 1 || n > MAX_BIG_FRAME) {
            mock_reply_mock_error(req, 400, "huge-frame:<bytes> needs 1..%d bytes", MAX_BIG_FRAME);
            return -1;
        }
        spec->big_frame = (size_t)n;
    } else if (strcmp(scenario, "trickle") == 0 || strncmp(scenario, "trickle:", 8) == 0) {
        /* Plain "trickle" keeps the whole answer to about half a second so
         * tests can wait for it; "trickle:<ms>" is a byte every <ms> ms. */
        spec->mode = MOCK_STREAM_TRICKLE;
        spec->trickle_ms = scenario[7] ? atoi(scenario + 8) : 0;
        spec->trickle_frame_ms = scenario[7] ? spec->trickle_ms : TRICKLE_FRAME_MS;
        if (spec->trickle_ms < 0 || spec->trickle_ms > 10000) {
            mock_reply_mock_error(req, 400, "trickle:<ms> needs 0..10000 ms");
            return -1;
        }
    } else if (strcmp(scenario, "heartbeat") == 0) {
        heartbeat = 1;
    } else if (strcmp(scenario, "garbage") == 0) {
        unsigned char bytes[GARBAGE_BYTES];
        for (size_t i = 0; i < sizeof(bytes); i += 8) {
            uint64_t r = crypto_random_u64();
            memcpy(bytes + i, &r, 8);
        }
        /* No line ever ends, so nothing in it can parse as an SSE field. */
        for (size_t i = 0; i < sizeof(bytes); i++)
            if (bytes[i] == '\n' || bytes[i] == '\r')
                bytes[i] = '#';
        spec->answer = mock_answer_bytes((const char *)bytes, sizeof(bytes));
        spec->close_connection = 1;
        fixture[0] = '\0';
        return 0;
    } else if (strncmp(scenario, "long:", 5) == 0) {
        char *end = NULL;
        long frames = strtol(scenario + 5, &end, 10), chars = -1;
        if (end && *end == ':')
            chars = strtol(end + 1, &end, 10);
        if (!end || *end) {
            mock_reply_mock_error(req, 400, "scenario long:<frames>:<chars> expected");
            return -1;
        }
        spec->answer = mock_answer_long(m->fixtures, frames, chars, st, err, sizeof(err));
        if (!spec->answer) {
            mock_reply_mock_error(req, 400, "%s", err);
            return -1;
        }
        fixture[0] = '\0';
        return 0;
    } else if (strcmp(scenario, "endless") == 0) {
        spec->mode = MOCK_STREAM_ENDLESS;
        spec->endless = mock_endless_new(st);
        fixture[0] = '\0';
        return 0;
    } else {
        mock_reply_mock_error(req, 400, "unknown scenario \"%s\"", scenario);
        return -1;
    }
    if (!mock_fixtures_has(m->fixtures, fixture)) {
        mock_reply_mock_error(req, 400, "unknown fixture \"%s\"", fixture);
        return -1;
    }
    spec->answer = mock_answer_fixture(m->fixtures, fixture, st, heartbeat);
    if (!spec->answer) {
        mock_reply_mock_error(req, 500, "fixture \"%s\" too large", fixture);
        return -1;
    }
    return 0;
}

static void handle_stream(struct mock *m, struct evhttp_request *req)
{
    json_t *body = NULL;
    const char *uid = NULL;
    struct mock_stream_spec spec;
    int has_image = 0, has_file = 0, slot = 0;
    char scenario[MAX_MARKER + 1] = "", fixture[MAX_MARKER + 1] = "";
    char conv[25], msg[25];
    memset(&spec, 0, sizeof(spec));
    if (!mock_signature_ok(m, req)) {
        mock_reply_case(m, req, "missing-signature-40001");
        goto out;
    }
    uid = mock_authorize(m, req);
    if (!uid)
        goto out;
    body = mock_body_json(req);
    if (!json_is_object(body)) {
        mock_reply_json(req, 400, json_pack("{s:i, s:s}", "status", 40001, "message",
                                            "bad request(40001)"));
        goto out;
    }
    const char *assistant = json_string_value(json_object_get(body, "assistant_id"));
    if (!assistant) {
        mock_reply_case(m, req, "missing-assistant-id-validation-error");
        goto out;
    }
    if (strcmp(assistant, UNKNOWN_ASSISTANT) == 0) {
        mock_reply_case(m, req, "unknown-assistant-id");
        goto out;
    }
    const char *conv_in = json_string_value(json_object_get(body, "conversation_id"));
    if (!conv_in)
        conv_in = "";
    const char *text = prompt_of(body, &has_image, &has_file);
    find_marker(text, "scenario", scenario, sizeof(scenario));
    if (!find_marker(text, "fixture", fixture, sizeof(fixture)))
        snprintf(fixture, sizeof(fixture), "%s",
                 *scenario ? "chat-plain" : fixture_for(body, text, has_image, has_file));
    if (*scenario && immediate_scenario(m, req, scenario))
        goto out;

    if (mock_state_stream_begin(m->state, uid) < 0) {
        LOG(LOG_INFO, "stream uid=%s: busy (10061)", uid);
        mock_reply_case(m, req, "account-busy-10061");
        goto out;
    }
    slot = 1;
    if (*conv_in) {
        if (strlen(conv_in) >= sizeof(conv) || !mock_state_conv_continue(m->state, conv_in, uid)) {
            mock_reply_case(m, req, "fabricated-conversation-id-empty-body");
            goto out;
        }
        memcpy(conv, conv_in, strlen(conv_in) + 1);
        mock_objectid(msg);
    } else {
        mock_objectid_pair(conv, msg);
    }
    /* A scripted answer (script.c): the marker, or the script the continued
     * conversation was started with. */
    char script[MAX_MARKER + 1] = "";
    if (find_marker(text, "script", script, sizeof(script)) || (*conv_in && mock_script_of(conv, script, sizeof(script)))) {
        char err[256];
        spec.mode = MOCK_STREAM_NORMAL;
        spec.delay_ms = mock_state_settings(m->state)->delay_ms;
        spec.answer = mock_script_answer(script, conv, err, sizeof(err));
        if (!spec.answer) {
            mock_reply_mock_error(req, 400, "%s", err);
            goto out;
        }
        snprintf(fixture, sizeof(fixture), "script:%.90s", script);
    } else if (prepare_answer(m, req, scenario, fixture, &spec) < 0) {
        goto out;
    }
    if (!*conv_in && mock_state_conv_add(m->state, conv, uid, assistant) < 0) {
        mock_reply_mock_error(req, 503, "conversation table full; POST /_mock/reset");
        goto out;
    }
    LOG(LOG_INFO, "stream uid=%s conversation=%s%s fixture=%s scenario=%s", uid, conv,
        *conv_in ? " (continued)" : "", *fixture ? fixture : "-",
        *scenario ? scenario : "-");
    spec.conv_id = conv;
    spec.msg_id = msg;
    spec.assistant_id = plain_id(assistant) ? assistant : NULL;
    spec.uid = uid;
    spec.epoch = mock_state_epoch(m->state);
    mock_stream_start(m->streams, req, &spec);
    slot = 0;  /* the stream releases it */
    spec.endless = NULL;
out:
    if (slot)
        mock_state_stream_end(m->state, uid, mock_state_epoch(m->state));
    mock_answer_unref(spec.answer);
    mock_endless_free(spec.endless);
    json_decref(body);
}

static void handle_delete(struct mock *m, struct evhttp_request *req, int bulk)
{
    json_t *body = NULL;
    if (!mock_signature_ok(m, req)) {
        mock_reply_case(m, req, "missing-signature-40001");
        goto out;
    }
    if (!mock_authorize(m, req))
        goto out;
    body = mock_body_json(req);
    if (bulk) {
        size_t i;
        json_t *id;
        json_array_foreach(json_object_get(body, "conversation_ids"), i, id)
            if (json_is_string(id))
                mock_state_conv_delete(m->state, json_string_value(id));
        mock_reply_json(req, 200, json_pack("{s:i, s:n}", "status", 0, "result"));
    } else {
        const char *id = json_string_value(json_object_get(body, "conversation_id"));
        if (id)
            mock_state_conv_delete(m->state, id);
        mock_reply_json(req, 200, json_pack("{s:s, s:n, s:i}", "message", "success", "result",
                                            "status", 0));
    }
out:
    json_decref(body);
}

/* 1 when the multipart body has the field name with exactly value (a
 * non-empty one when value is NULL). */
static int form_field(struct evhttp_request *req, const char *body, size_t len, const char *name,
                      const char *value)
{
    struct mock_part f;
    if (mock_multipart_find(mock_header(req, "Content-Type"), body, len, name, &f) < 0)
        return 0;
    if (!value)
        return f.len > 0;
    return f.len == strlen(value) && memcmp(f.data, value, f.len) == 0;
}

/* file_upload (2025, not signed) and chat_upload (2026: signed, access
 * token, from=chat and assistant_id fields; spec 12.5). */
static void handle_upload(struct mock *m, struct evhttp_request *req, int chat)
{
    size_t len;
    const char *body = mock_body(req, &len);
    struct mock_part part;
    if (chat && !mock_signature_ok(m, req)) {
        mock_reply_case(m, req, "missing-signature-40001");
        return;
    }
    if (chat && !mock_authorize(m, req))
        return;
    /* The server must send a filename and a Content-Type with the part. */
    if (mock_multipart_find(mock_header(req, "Content-Type"), body, len, "file", &part) < 0 ||
        !part.filename[0] || !part.content_type[0] ||
        (chat && (!form_field(req, body, len, "from", "chat") ||
                  !form_field(req, body, len, "assistant_id", NULL)))) {
        mock_reply_json(req, 400, json_pack("{s:i, s:s}", "status", 40001, "message",
                                            "bad request(40001)"));
        return;
    }
    /* The extension of the stored file: alphanumerics after the last dot. */
    char ext[17] = "";
    const char *dot = strrchr(part.filename, '.');
    for (size_t i = 0; dot && dot[1 + i] && i < sizeof(ext) - 1; i++) {
        if (!isalnum((unsigned char)dot[1 + i])) {
            ext[0] = '\0';
            break;
        }
        ext[i] = dot[1 + i];
        ext[i + 1] = '\0';
    }
    char uuid[37], source[25], id[80], url[128];
    mock_uuid(uuid);
    crypto_random_hex(source, 12);
    snprintf(id, sizeof(id), "chatglm4/%s%s%s", uuid, *ext ? "." : "", ext);
    snprintf(url, sizeof(url), "https://sfile.chatglm.cn/%s", id);
    int image = strncasecmp(part.content_type, "image/", 6) == 0;
    struct buf name;
    buf_init(&name, 2 * sizeof(part.filename));
    if (mock_utf8_sanitize(&name, part.filename, strlen(part.filename)) < 0)
        buf_reset(&name);
    LOG(LOG_INFO, "%s %zu bytes (%s)", chat ? "chat_upload" : "file_upload", part.len,
        image ? "image" : "document");
    json_t *result;
    if (chat)
        /* S18's fields; source_id too, with the same value (spec 12.5) */
        result = json_pack("{s:s, s:s, s:s, s:I, s:s, s:[], s:i, s:i, s:s}", "file_id", source,
                           "file_url", url, "file_name", buf_cstr(&name), "file_size",
                           (json_int_t)part.len, "file_type", ext, "cover_images", "width",
                           image ? 1024 : 0, "height", image ? 768 : 0, "source_id", source);
    else
        result = json_pack("{s:s, s:s, s:I, s:s, s:i, s:i, s:s}", "file_id", id,
                           "file_name", buf_cstr(&name), "file_size", (json_int_t)part.len,
                           "file_url", url, "width", image ? 1024 : 0, "height",
                           image ? 768 : 0, "source_id", source);
    buf_cleanup(&name);
    mock_reply_json(req, 200, mock_envelope(req, result));
}

/* stop_stream {"history_id"} (spec 12.6): recorded with every request;
 * answered {"status":0,"result":null}. */
static void handle_stop(struct mock *m, struct evhttp_request *req)
{
    if (!mock_signature_ok(m, req)) {
        mock_reply_case(m, req, "missing-signature-40001");
        return;
    }
    if (!mock_authorize(m, req))
        return;
    json_t *body = mock_body_json(req);
    const char *id = json_string_value(json_object_get(body, "history_id"));
    if (!id || !*id)
        mock_reply_json(req, 400, json_pack("{s:i, s:s}", "status", 40001, "message",
                                            "bad request(40001)"));
    else
        mock_reply_json(req, 200, json_pack("{s:i, s:s, s:n}", "status", 0, "message", "success",
                                            "result"));
    json_decref(body);
}

void mock_upstream_handle(struct mock *m, struct evhttp_request *req, const char *path)
{
    static const char *const routes[] = {
        "/chatglm/user-api/user/refresh",
        "/chatglm/backend-api/v1/user/refresh",
        "/chatglm/backend-api/assistant/stream",
        "/chatglm/backend-api/assistant/conversation/delete",
        "/chatglm/mainchat-api/conversation/bulk_delete",
        "/chatglm/backend-api/assistant/file_upload",
        "/chatglm/productivity-api/file/chat_upload",
        "/chatglm/mainchat-api/stream/stop_stream",
    };
    if (strncmp(path, MOCK_VIDEO_PREFIX, strlen(MOCK_VIDEO_PREFIX)) == 0 ||
        strncmp(path, MOCK_VIDEO_FILES, strlen(MOCK_VIDEO_FILES)) == 0) {
        mock_video_handle(m, req, path);
        return;
    }
    size_t r = 0;
    while (r < sizeof(routes) / sizeof(routes[0]) && strcmp(path, routes[r]) != 0)
        r++;
    if (r == sizeof(routes) / sizeof(routes[0])) {
        mock_reply_json(req, 404, json_pack("{s:i, s:s}", "status", 404, "message", "not found"));
        return;
    }
    if (evhttp_request_get_command(req) != EVHTTP_REQ_POST) {
        mock_reply_json(req, 405, json_pack("{s:i, s:s}", "status", 405, "message",
                                            "method not allowed"));
        return;
    }
    switch (r) {
    case 0: handle_refresh(m, req, 0); break;
    case 1: handle_refresh(m, req, 1); break;
    case 2: handle_stream(m, req); break;
    case 3: handle_delete(m, req, 0); break;
    case 4: handle_delete(m, req, 1); break;
    case 5: handle_upload(m, req, 0); break;
    case 6: handle_upload(m, req, 1); break;
    default: handle_stop(m, req); break;
    }
}
