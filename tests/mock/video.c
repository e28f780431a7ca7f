/* chatglm.cn's video service (protocol spec 8.6, 12.10), with fast timings:
 * first-frame upload, create, status (init, processing, finished or failed,
 * counted in polls rather than seconds, so a slow run sees the same
 * sequence), the audio composite, delete, and the files themselves (a video
 * and a cover per chat, bytes derived from the chat id). Every answer shape
 * is the 2024 one of glm-free-api 0.0.32; the 2026 fields are accepted. */
#include "mock.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "misc.h"
#include "multipart.h"
#include "util/crypto.h"
#include "util/xalloc.h"

#define MAX_CHATS 10000
#define MAX_SOURCES 10000
#define VIDEO_BYTES (300 * 1024 + 7)
#define COVER_BYTES 2048

struct chat {
    char id[25];
    char conv[25];
    char uid[25];
    char *prompt;
    json_t *body;       /* the create request as sent */
    int polls;          /* status calls so far */
    int fail;           /* [[video:fail]]: ends "failed" (moderation) */
    int deleted;
    int composites;
};

static struct chat *chats;
static size_t nchats;
static char (*sources)[25];
static size_t nsources;
static int set_polls = 2;       /* "processing" answers before "finished" */
static unsigned long deletes;

void mock_video_reset(void)
{
    for (size_t i = 0; i < nchats; i++) {
        free(chats[i].prompt);
        json_decref(chats[i].body);
    }
    free(chats);
    chats = NULL;
    nchats = 0;
    free(sources);
    sources = NULL;
    nsources = 0;
    set_polls = 2;
    deletes = 0;
}

void mock_video_free(void)
{
    mock_video_reset();
}

static struct chat *find_chat(const char *id)
{
    for (size_t i = 0; i < nchats; i++)
        if (strcmp(chats[i].id, id) == 0)
            return &chats[i];
    return NULL;
}

static void error_reply(struct evhttp_request *req, int http, int status, const char *msg)
{
    mock_reply_json(req, http, json_pack("{s:i, s:s, s:n}", "status", status, "message", msg,
                                         "result"));
}

/* The files: bytes that depend on the chat id and the kind only. */
static unsigned char *file_bytes(const char *chat_id, const char *kind, size_t *len)
{
    int cover = strcmp(kind, "cover") == 0;
    size_t n = cover ? COVER_BYTES : VIDEO_BYTES;
    unsigned char *p = xmalloc(n);
    uint32_t x = 2166136261u;
    for (const char *s = chat_id; *s; s++)
        x = (x ^ (unsigned char)*s) * 16777619u;
    for (const char *s = kind; *s; s++)
        x = (x ^ (unsigned char)*s) * 16777619u;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        p[i] = (unsigned char)x;
    }
    if (cover)
        memcpy(p, "\x89PNG\r\n\x1a\n", 8);
    else
        memcpy(p, "\0\0\0\x18" "ftypmp42", 12);
    *len = n;
    return p;
}

static void file_url(struct evhttp_request *req, const char *chat_id, const char *kind,
                     char *out, size_t outlen)
{
    const char *host = mock_header(req, "Host");
    snprintf(out, outlen, "http://%s" MOCK_VIDEO_FILES "%s_%s.%s", host ? host : "127.0.0.1",
             chat_id, kind, strcmp(kind, "cover") == 0 ? "png" : "mp4");
}

/* GET /testpath/video/<chat id>_<video|cover|audio>.<ext> */
static void serve_file(struct evhttp_request *req, const char *name)
{
    char id[25], kind[8];
    if (sscanf(name, "%24[0-9a-f]_%7[a-z]", id, kind) != 2 || strlen(id) != 24 ||
        (strcmp(kind, "video") != 0 && strcmp(kind, "cover") != 0 &&
         strcmp(kind, "audio") != 0) || !find_chat(id)) {
        mock_reply(req, 404, "Not Found", "text/plain", "not found", 9);
        return;
    }
    size_t len;
    unsigned char *p = file_bytes(id, kind, &len);
    mock_reply(req, 200, "OK", strcmp(kind, "cover") == 0 ? "image/png" : "video/mp4",
               (const char *)p, len);
    free(p);
}

static void handle_upload(struct evhttp_request *req)
{
    size_t len;
    const char *body = mock_body(req, &len);
    struct mock_part part;
    if (mock_multipart_find(mock_header(req, "Content-Type"), body, len, "file", &part) < 0 ||
        !part.filename[0] || strncasecmp(part.content_type, "image/", 6) != 0 || !part.len) {
        error_reply(req, 400, 40001, "bad request(40001)");
        return;
    }
    if (nsources >= MAX_SOURCES) {
        mock_reply_mock_error(req, 503, "source table full; POST /_mock/reset");
        return;
    }
    sources = xrealloc(sources, (nsources + 1) * sizeof(*sources));
    crypto_random_hex(sources[nsources], 12);
    char url[160];
    snprintf(url, sizeof(url), "https://sfile.chatglm.cn/testpath/source/%s.png",
             sources[nsources]);
    LOG(LOG_INFO, "video upload %zu bytes -> %s", part.len, sources[nsources]);
    mock_reply_json(req, 200, mock_envelope(req, json_pack("{s:s, s:s}", "source_id",
                                                           sources[nsources], "source_url", url)));
    nsources++;
}

static int known_source(const char *id)
{
    for (size_t i = 0; i < nsources; i++)
        if (strcmp(sources[i], id) == 0)
            return 1;
    return 0;
}

static void handle_create(struct mock *m, struct evhttp_request *req, const char *uid)
{
    json_t *body = mock_body_json(req);
    const char *prompt = json_string_value(json_object_get(body, "prompt"));
    if (!json_is_object(body) || !prompt) {
        error_reply(req, 400, 40001, "bad request(40001)");
        json_decref(body);
        return;
    }
    size_t i;
    json_t *src;
    json_array_foreach(json_object_get(body, "source_list"), i, src) {
        if (!json_is_string(src) || !known_source(json_string_value(src))) {
            error_reply(req, 400, 40001, "bad request(40001)");
            json_decref(body);
            return;
        }
    }
    if (strstr(prompt, "[[video:busy]]")) {
        mock_reply_case(m, req, "account-busy-10061");
        json_decref(body);
        return;
    }
    if (strstr(prompt, "[[video:quota]]")) {
        /* [INF] the wording and code of an exhausted daily quota. */
        error_reply(req, 200, 10014, "今日视频生成次数已用完，请明天再来");
        json_decref(body);
        return;
    }
    if (nchats >= MAX_CHATS) {
        mock_reply_mock_error(req, 503, "video table full; POST /_mock/reset");
        json_decref(body);
        return;
    }
    chats = xrealloc(chats, (nchats + 1) * sizeof(*chats));
    struct chat *c = &chats[nchats++];
    memset(c, 0, sizeof(*c));
    mock_objectid_pair(c->conv, c->id);
    const char *conv = json_string_value(json_object_get(body, "conversation_id"));
    if (conv && strlen(conv) == 24)
        snprintf(c->conv, sizeof(c->conv), "%s", conv);
    snprintf(c->uid, sizeof(c->uid), "%s", uid);
    c->prompt = xstrdup(prompt);
    c->fail = strstr(prompt, "[[video:fail]]") != NULL;
    c->body = body;
    LOG(LOG_INFO, "video chat %s uid=%s", c->id, uid);
    mock_reply_json(req, 200, mock_envelope(req, json_pack("{s:s, s:s}", "chat_id", c->id,
                                                           "conversation_id", c->conv)));
}

static void handle_status(struct evhttp_request *req, const char *id, const char *uid)
{
    struct chat *c = find_chat(id);
    if (!c || c->deleted || strcmp(c->uid, uid) != 0) {
        error_reply(req, 200, 40400, "视频不存在"); /* [INF] */
        return;
    }
    int n = c->polls++;
    json_t *r;
    if (n == 0) {
        r = json_pack("{s:s, s:s, s:s}", "status", "init", "msg", "", "plan", "");
    } else if (n <= set_polls) {
        r = json_pack("{s:s, s:s, s:s}", "status", "processing", "msg", "", "plan", "");
    } else if (c->fail) {
        r = json_pack("{s:s, s:s, s:s}", "status", "failed", "msg",
                      "视频内容不符合规范，生成失败", "plan", "");
    } else {
        char video[200], cover[200];
        file_url(req, c->id, "video", video, sizeof(video));
        file_url(req, c->id, "cover", cover, sizeof(cover));
        r = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "status", "finished", "msg", "",
                      "plan", "", "cover_url", cover, "video_url", video, "video_duration", "6s",
                      "resolution", "1440 × 960");
    }
    mock_reply_json(req, 200, mock_envelope(req, r));
}

static void handle_composite(struct evhttp_request *req)
{
    json_t *body = mock_body_json(req);
    const char *id = json_string_value(json_object_get(body, "chat_id"));
    struct chat *c = id ? find_chat(id) : NULL;
    if (!c || !json_is_string(json_object_get(body, "audio_id")) || c->polls <= set_polls + 1 ||
        c->fail) {
        error_reply(req, 400, 40001, "bad request(40001)");
    } else {
        char url[200];
        file_url(req, c->id, "audio", url, sizeof(url));
        c->composites++;
        mock_reply_json(req, 200, mock_envelope(req, json_pack("{s:s}", "url", url)));
    }
    json_decref(body);
}

void mock_video_handle(struct mock *m, struct evhttp_request *req, const char *path)
{
    enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
    if (strncmp(path, MOCK_VIDEO_FILES, strlen(MOCK_VIDEO_FILES)) == 0) {
        if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD)
            error_reply(req, 405, 405, "method not allowed");
        else
            serve_file(req, path + strlen(MOCK_VIDEO_FILES));
        return;
    }
    const char *name = path + strlen(MOCK_VIDEO_PREFIX);
    int upload = strcmp(name, "static/upload") == 0;
    int create = strcmp(name, "chat") == 0;
    int composite = strcmp(name, "static/composite_video") == 0;
    int status = strncmp(name, "chat/status/", 12) == 0;
    int del = !status && strncmp(name, "chat/", 5) == 0 && strlen(name + 5) == 24;
    if (!upload && !create && !composite && !status && !del) {
        error_reply(req, 404, 404, "not found");
        return;
    }
    if ((status && cmd != EVHTTP_REQ_GET) || (del && cmd != EVHTTP_REQ_DELETE) ||
        ((upload || create || composite) && cmd != EVHTTP_REQ_POST)) {
        error_reply(req, 405, 405, "method not allowed");
        return;
    }
    /* The upload, like file_upload, is not signed. */
    if (!upload && !mock_signature_ok(m, req)) {
        mock_reply_case(m, req, "missing-signature-40001");
        return;
    }
    const char *uid = mock_authorize(m, req);
    if (!uid)
        return;
    if (upload) {
        handle_upload(req);
    } else if (create) {
        handle_create(m, req, uid);
    } else if (status) {
        handle_status(req, name + 12, uid);
    } else if (composite) {
        handle_composite(req);
    } else {
        struct chat *c = find_chat(name + 5);
        deletes++;
        if (c)
            c->deleted = 1;
        mock_reply_json(req, 200, mock_envelope(req, NULL));
    }
}

/* POST /_mock/video {"polls":N}: the settings; GET /_mock/videos: the chats. */
void mock_video_control(struct mock *m, struct evhttp_request *req, const char *name)
{
    (void)m;
    enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
    if (strcmp(name, "video") == 0 && cmd == EVHTTP_REQ_POST) {
        json_t *body = mock_body_json(req);
        json_t *p = json_object_get(body, "polls");
        if (p && (!json_is_integer(p) || json_integer_value(p) < 0 ||
                  json_integer_value(p) > 1000000)) {
            json_decref(body);
            mock_reply_json(req, 400, json_pack("{s:s}", "error", "polls: 0 to 1000000"));
            return;
        }
        if (p)
            set_polls = (int)json_integer_value(p);
        json_decref(body);
        mock_reply_json(req, 200, json_pack("{s:i}", "polls", set_polls));
        return;
    }
    if (strcmp(name, "videos") == 0 && cmd == EVHTTP_REQ_GET) {
        json_t *list = json_array();
        for (size_t i = 0; i < nchats; i++) {
            struct chat *c = &chats[i];
            char video[200], cover[200], audio[200];
            file_url(req, c->id, "video", video, sizeof(video));
            file_url(req, c->id, "cover", cover, sizeof(cover));
            file_url(req, c->id, "audio", audio, sizeof(audio));
            json_array_append_new(
                list, json_pack("{s:s, s:s, s:s, s:s, s:O, s:i, s:b, s:b, s:i, s:s, s:s, s:s}",
                                "chat_id", c->id, "conversation_id", c->conv, "uid", c->uid,
                                "prompt", c->prompt, "request", c->body, "polls", c->polls,
                                "fail", c->fail, "deleted", c->deleted, "composites",
                                c->composites, "video_url", video, "cover_url", cover,
                                "audio_url", audio));
        }
        mock_reply_json(req, 200, json_pack("{s:o, s:I}", "chats", list, "deletes",
                                            (json_int_t)deletes));
        return;
    }
    mock_reply_json(req, 404, json_pack("{s:s}", "error", "unknown control endpoint or method"));
}
