/* POST /token/check: is a refresh token live? */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "api/api.h"
#include "app.h"
#include "config.h"
#include "glm/accounts.h"
#include "glm/session.h"
#include "http/server.h"
#include "util/buf.h"
#include "util/crypto.h"
#include "util/jstr.h"
#include "util/xalloc.h"

struct token_check {
    struct api_req *a;
    char *token;
    struct session_wait *wait;
};

/* {"live","reason","guest"}: guest is true for a visitor's token (not a
 * login: live false, the reason starts with "guest token"). */
static void check_reply(struct token_check *t, int live, const char *reason, int guest)
{
    struct buf b;
    buf_init(&b, 4096);
    int rc = buf_printf(&b, "{\"live\":%s,\"reason\":", live ? "true" : "false");
    if (rc == 0)
        rc = json_append_string(&b, reason, strlen(reason));
    if (rc == 0)
        rc = buf_puts(&b, guest ? ",\"guest\":true}" : ",\"guest\":false}");
    api_reply(t->a, 200, "application/json; charset=utf-8", buf_cstr(&b), b.len);
    buf_cleanup(&b);
}

static void on_close(void *arg, struct api_req *a)
{
    (void)a;
    struct token_check *t = arg;
    /* Nobody waits for the answer any more; the refresh itself goes on and
     * its result is cached. */
    session_wait_cancel(t->wait);
    api_reply(t->a, 499, "text/plain", "", 0);
    free(t->token);
    free(t);
}

static void on_checked(void *arg, enum session_result res, const char *access, const char *detail)
{
    (void)access;
    struct token_check *t = arg;
    t->wait = NULL;
    struct account *acc = accounts_find(app.accounts, t->token);
    switch (res) {
    case SESSION_OK:
        if (acc)
            accounts_note(app.accounts, acc, ACCOUNT_DONE, "token check: live");
        check_reply(t, 1, "the refresh token is valid", 0);
        break;
    case SESSION_GUEST:
        if (acc)
            accounts_note(app.accounts, acc, ACCOUNT_REJECTED, "token check: a guest token");
        check_reply(t, 0, "guest token: the refresh token is a guest's (a visitor of chatglm.cn, "
                          "not a login) and is not used; log in and copy the "
                          "chatglm_refresh_token of your account", 1);
        break;
    case SESSION_REJECTED:
        if (acc)
            accounts_note(app.accounts, acc, ACCOUNT_REJECTED, "token check: rejected");
        check_reply(t, 0, "chatglm.cn rejected the refresh token: it is invalid or expired; log "
                          "in again and copy a new chatglm_refresh_token", 0);
        break;
    case SESSION_TIMEOUT:
    case SESSION_FAILED:
        api_error(t->a, res == SESSION_TIMEOUT ? 504 : 502, NULL, "upstream_error",
                  "could not check the token: %s", detail ? detail : "unknown error");
        break;
    case SESSION_UNAVAILABLE:
        http_req_add_header(t->a->req, "Retry-After", "2");
        api_error(t->a, 503, NULL, "state_unavailable", "could not check the token: %s",
                  detail ? detail : "the account store cannot be reached");
        break;
    }
    free(t->token);
    free(t);
}

void token_check_handle(struct api_req *a)
{
    /* With API keys the server is private: checks need a key too. */
    if (*cfg.api_keys && api_key_check(http_req_header(a->req, "Authorization")) < 0) {
        api_error(a, 401, NULL, "invalid_api_key", "/token/check needs one of this server's API keys");
        return;
    }
    size_t len;
    const char *body = http_req_body(a->req, &len);
    json_error_t jerr;
    json_t *root = json_loadb(body, len, 0, &jerr);
    if (!root) {
        api_error(a, 400, NULL, "invalid_json", "the request body is not valid JSON: %s",
                  jerr.text);
        return;
    }
    json_t *tok = json_object_get(root, "token");
    if (!json_is_string(tok) || !json_string_length(tok) || json_string_length(tok) > 8192 ||
        strpbrk(json_string_value(tok), " ,\r\n\t")) {
        json_decref(root);
        api_error(a, 400, "token", "invalid_value",
                  "send {\"token\": \"<one chatglm_refresh_token>\"}");
        return;
    }
    struct token_check *t = xcalloc(1, sizeof(*t));
    t->a = a;
    t->token = xstrdup(json_string_value(tok));
    json_decref(root);
    api_watch(a, on_close, NULL, t);
    struct session_wait *w = session_check(app.sessions, t->token, on_checked, t);
    if (w)
        t->wait = w;
}
