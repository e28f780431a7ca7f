/* GET /v1/accounts: the account pool's state, for its operator (loopback
 * clients, or any client with an API key when keys are set). */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "api/api.h"
#include "app.h"
#include "config.h"
#include "glm/accounts.h"
#include "glm/shared.h"
#include "http/server.h"
#include "util/buf.h"
#include "util/xalloc.h"

struct accounts_req {
    struct api_req *a;   /* NULL once the client left */
};

/* The list, with "lease_holder" (the replica, or null) on each account when
 * the leases are shared through Redis. */
static void accounts_reply(struct api_req *a, const char *const *names,
                           const char *const *holders, int n, const char *err)
{
    struct buf b;
    buf_init(&b, 16 << 20);
    if (accounts_json(app.accounts, &b) < 0) {
        buf_cleanup(&b);
        api_error(a, 500, NULL, NULL, "the account list does not fit its buffer");
        return;
    }
    if (app.shared) {
        json_t *root = json_loadb(b.data, b.len, 0, NULL);
        json_t *data = json_object_get(root, "data");
        size_t i;
        json_t *acc;
        json_array_foreach(data, i, acc) {
            const char *fp = json_string_value(json_object_get(acc, "id"));
            json_t *who = json_null();
            /* names are "lease:<sha256 hex of the token>"; the id is the
             * first 6 digits of that hash (the fingerprint). */
            for (int k = 0; k < n && fp && strlen(fp) == 6; k++)
                if (strncmp(names[k], "lease:", 6) == 0 && strncmp(names[k] + 6, fp, 6) == 0) {
                    json_decref(who);
                    who = json_string(holders[k]);
                }
            json_object_set_new(acc, "lease_holder", who);
        }
        json_object_set_new(root, "replica", json_string(app.replica));
        if (err)
            json_object_set_new(root, "shared_state", json_string("unavailable"));
        char *text = json_dumps(root, JSON_COMPACT);
        json_decref(root);
        buf_reset(&b);
        if (!text || buf_append(&b, text, strlen(text)) < 0) {
            free(text);
            buf_cleanup(&b);
            api_error(a, 500, NULL, NULL, "the account list does not fit its buffer");
            return;
        }
        free(text);
    }
    api_reply(a, 200, "application/json; charset=utf-8", b.data, b.len);
    buf_cleanup(&b);
}

static void accounts_closed(void *arg, struct api_req *a)
{
    struct accounts_req *r = arg;
    api_reply(a, 499, "text/plain", "", 0);
    r->a = NULL;
}

static void with_holders(void *arg, const char *const *names, const char *const *holders, int n,
                         const char *err)
{
    struct accounts_req *r = arg;
    if (r->a) {
        api_watch(r->a, NULL, NULL, NULL);
        accounts_reply(r->a, names, holders, n, err);
    }
    free(r);
}

void accounts_handle(struct api_req *a)
{
    if (*cfg.api_keys) {
        if (api_key_check(http_req_header(a->req, "Authorization")) < 0) {
            api_error(a, 401, NULL, "invalid_api_key",
                      "the account list needs one of this server's API keys");
            return;
        }
    } else if (!http_req_peer_is_loopback(a->req)) {
        api_error(a, 403, NULL, "forbidden",
                  "the account list is served only to loopback clients unless --api-keys is set");
        return;
    }
    if (app.shared) {
        /* Which replica holds each lease: Redis knows. */
        struct accounts_req *r = xcalloc(1, sizeof(*r));
        r->a = a;
        api_watch(a, accounts_closed, NULL, r);
        shared_holders(app.shared, "lease:*", with_holders, r);
        return;
    }
    accounts_reply(a, NULL, NULL, 0, NULL);
}
