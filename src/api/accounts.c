/* GET /v1/accounts: the account pool's state, for its operator (loopback
 * clients, or any client with an API key when keys are set). */
#include "api/api.h"
#include "app.h"
#include "config.h"
#include "glm/accounts.h"
#include "http/server.h"
#include "util/buf.h"

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
    struct buf b;
    buf_init(&b, 16 << 20);
    if (accounts_json(app.accounts, &b) < 0) {
        buf_cleanup(&b);
        api_error(a, 500, NULL, NULL, "the account list does not fit its buffer");
        return;
    }
    api_reply(a, 200, "application/json; charset=utf-8", b.data, b.len);
    buf_cleanup(&b);
}
