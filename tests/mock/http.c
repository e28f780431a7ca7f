#include "mock.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>

#include "log.h"
#include "misc.h"

const char *mock_header(struct evhttp_request *req, const char *name)
{
    return evhttp_find_header(evhttp_request_get_input_headers(req), name);
}

const char *mock_body(struct evhttp_request *req, size_t *len)
{
    struct evbuffer *b = evhttp_request_get_input_buffer(req);
    *len = evbuffer_get_length(b);
    if (*len == 0)
        return "";
    return (const char *)evbuffer_pullup(b, -1);
}

json_t *mock_body_json(struct evhttp_request *req)
{
    size_t len;
    const char *body = mock_body(req, &len);
    return len ? json_loadb(body, len, 0, NULL) : NULL;
}

void mock_reply(struct evhttp_request *req, int code, const char *reason,
                const char *content_type, const char *body, size_t len)
{
    struct evbuffer *b = evbuffer_new();
    evbuffer_add(b, body, len);
    if (content_type)
        evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", content_type);
    evhttp_send_reply(req, code, reason, b);
    evbuffer_free(b);
}

static const char *reason_of(int code)
{
    switch (code) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 422: return "Unprocessable Entity";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Unknown";
    }
}

void mock_reply_json(struct evhttp_request *req, int code, json_t *j)
{
    char *s = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    if (!s)
        mock_reply(req, 500, reason_of(500), "text/plain", "mock: cannot encode", 19);
    else
        mock_reply(req, code, reason_of(code), "application/json; charset=utf-8", s, strlen(s));
    free(s);
    json_decref(j);
}

void mock_reply_case(struct mock *m, struct evhttp_request *req, const char *name)
{
    const struct mock_error_case *c = mock_fixtures_error(m->fixtures, name);
    if (!c) {
        mock_reply_mock_error(req, 400, "unknown error case \"%.64s\" (see chat-error-json.txt)",
                              name);
        return;
    }
    mock_reply(req, c->code, c->reason, c->content_type, c->body, c->body_len);
}

void mock_reply_mock_error(struct evhttp_request *req, int code, const char *fmt, ...)
{
    char msg[512] = "mock: ";
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg + 6, sizeof(msg) - 6, fmt, ap);
    va_end(ap);
    LOG(LOG_WARN, "%s", msg);
    /* The message may quote a cut piece of the request: keep it valid UTF-8. */
    struct buf clean;
    buf_init(&clean, 2 * sizeof(msg));
    if (mock_utf8_sanitize(&clean, msg, strlen(msg)) < 0)
        buf_reset(&clean);
    mock_reply_json(req, code,
                    json_pack("{s:i, s:s}", "status", -1, "message", buf_cstr(&clean)));
    buf_cleanup(&clean);
}

const char *mock_method_name(struct evhttp_request *req)
{
    switch (evhttp_request_get_command(req)) {
    case EVHTTP_REQ_GET: return "GET";
    case EVHTTP_REQ_POST: return "POST";
    case EVHTTP_REQ_HEAD: return "HEAD";
    case EVHTTP_REQ_PUT: return "PUT";
    case EVHTTP_REQ_DELETE: return "DELETE";
    case EVHTTP_REQ_OPTIONS: return "OPTIONS";
    case EVHTTP_REQ_TRACE: return "TRACE";
    case EVHTTP_REQ_CONNECT: return "CONNECT";
    case EVHTTP_REQ_PATCH: return "PATCH";
    }
    return "UNKNOWN";
}
