/* The /_mock/ control API the tests drive the mock with. */
#include "mock.h"

#include <stdio.h>
#include <string.h>

#include "log.h"
#include "script.h"

static void reply_error(struct evhttp_request *req, int code, const char *msg)
{
    mock_reply_json(req, code, json_pack("{s:s}", "error", msg));
}

static void ok(struct evhttp_request *req)
{
    mock_reply_json(req, 200, json_pack("{s:b}", "ok", 1));
}

static void handle_config(struct mock *m, struct evhttp_request *req)
{
    if (evhttp_request_get_command(req) == EVHTTP_REQ_POST) {
        size_t len;
        mock_body(req, &len);
        json_t *patch = len ? mock_body_json(req) : json_object();
        char err[256];
        int rc = mock_state_configure(m->state, patch, err, sizeof(err));
        json_decref(patch);
        if (rc < 0) {
            reply_error(req, 400, err);
            return;
        }
    }
    mock_reply_json(req, 200, mock_state_settings_json(m->state));
}

static void handle_tokens(struct mock *m, struct evhttp_request *req)
{
    json_t *body = mock_body_json(req);
    const char *token = json_string_value(json_object_get(body, "token"));
    const char *state = json_string_value(json_object_get(body, "state"));
    char uid[25];
    if (!token || !state || mock_state_set_token(m->state, token, state, uid) < 0)
        reply_error(req, 400,
                    "expected {\"token\":\"<non-empty>\",\"state\":\"ok|dead|busy|flaky|"
                    "refresh-html|refresh-empty|refresh-badjson|refresh-500|guest\"}");
    else
        mock_reply_json(req, 200, json_pack("{s:b, s:s, s:s}", "ok", 1, "uid", uid, "state",
                                            state));
    json_decref(body);
}

void mock_control_handle(struct mock *m, struct evhttp_request *req, const char *path)
{
    enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
    int post = cmd == EVHTTP_REQ_POST, get = cmd == EVHTTP_REQ_GET;
    const char *name = path + strlen("/_mock/");
    if (strcmp(name, "reset") == 0 && post) {
        mock_state_reset(m->state);
        mock_script_reset();
        mock_video_reset();
        LOG(LOG_INFO, "control: reset");
        ok(req);
    } else if (strcmp(name, "config") == 0 && (post || get)) {
        handle_config(m, req);
    } else if (strcmp(name, "tokens") == 0 && post) {
        handle_tokens(m, req);
    } else if (strcmp(name, "script") == 0 && post) {
        mock_script_handle(req);
    } else if (strcmp(name, "expire") == 0 && post) {
        mock_state_expire(m->state);
        ok(req);
    } else if (strcmp(name, "requests") == 0 && get) {
        mock_reply_json(req, 200, mock_state_records_json(m->state));
    } else if (strcmp(name, "stats") == 0 && get) {
        mock_reply_json(req, 200, mock_state_stats_json(m->state));
    } else if (strcmp(name, "conversations") == 0 && get) {
        mock_reply_json(req, 200, mock_state_conversations_json(m->state));
    } else if (strcmp(name, "video") == 0 || strcmp(name, "videos") == 0) {
        mock_video_control(m, req, name);
    } else {
        reply_error(req, 404, "unknown control endpoint or method (see tests/mock/README.md)");
    }
}
