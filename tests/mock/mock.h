/* The mock chatglm.cn backend: the pieces every route handler shares. */
#ifndef MOCK_MOCK_H
#define MOCK_MOCK_H

#include <stddef.h>

#include <event2/http.h>
#include <jansson.h>

#include "fixture.h"
#include "state.h"
#include "stream.h"

/* The program's context, one per process. Defined here rather than hidden
 * because it is only the wiring of the modules below. */
struct mock {
    struct event_base *base;
    struct evhttp *http;
    struct mock_state *state;
    struct mock_fixtures *fixtures;
    struct mock_streams *streams;
    int fast;  /* no request recording */
};

/* Upstream routes (upstream.c) and the /_mock/ control API (control.c). */
void mock_upstream_handle(struct mock *m, struct evhttp_request *req, const char *path);
void mock_control_handle(struct mock *m, struct evhttp_request *req, const char *path);

/* The video service (video.c): MOCK_VIDEO_PREFIX paths and the files it
 * serves under MOCK_VIDEO_FILES; its control endpoints /_mock/video and
 * /_mock/videos. */
#define MOCK_VIDEO_PREFIX "/chatglm/video-api/v1/"
#define MOCK_VIDEO_FILES "/testpath/video/"
void mock_video_handle(struct mock *m, struct evhttp_request *req, const char *path);
void mock_video_control(struct mock *m, struct evhttp_request *req, const char *name);
void mock_video_reset(void);
void mock_video_free(void);

/* Shared by the upstream handlers (upstream.c): the signature check (when the
 * setting is on), the access token (answers 40103 and returns NULL when it is
 * not valid) and the success envelope (steals result). */
int mock_signature_ok(struct mock *m, struct evhttp_request *req);
const char *mock_authorize(struct mock *m, struct evhttp_request *req);
json_t *mock_envelope(struct evhttp_request *req, json_t *result);

/* Reply helpers (http.c). */
const char *mock_header(struct evhttp_request *req, const char *name);
/* The request body; "" when empty. Borrowed until the request ends. */
const char *mock_body(struct evhttp_request *req, size_t *len);
/* New JSON value from the body, or NULL when it is not JSON. */
json_t *mock_body_json(struct evhttp_request *req);
void mock_reply(struct evhttp_request *req, int code, const char *reason,
                const char *content_type, const char *body, size_t len);
/* Steals j; compact, keys in insertion order, UTF-8. */
void mock_reply_json(struct evhttp_request *req, int code, json_t *j);
/* Answers with the named case of chat-error-json.txt, verbatim. */
void mock_reply_case(struct mock *m, struct evhttp_request *req, const char *name);
/* {"status":-1,"message":"mock: ..."}: a mistake in the test, not upstream. */
void mock_reply_mock_error(struct evhttp_request *req, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
const char *mock_method_name(struct evhttp_request *req);

#endif
