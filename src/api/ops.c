/* GET /metrics: the Prometheus exposition (src/metrics.h) with the gauges of
 * the moment. With api-keys set it needs one of them, unless metrics-public
 * is true (a scraper on a private network). */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "api/api.h"
#include "app.h"
#include "config.h"
#include "glm/accounts.h"
#include "http/server.h"
#include "metrics.h"
#include "net/redis.h"
#include "util/buf.h"
#include "util/xalloc.h"

/* Per-account series are named by fingerprint; past this many only the
 * per-state totals grow (server-side accounts are listed first). */
#define METRICS_ACCOUNTS_MAX 1000

/* Fills acc from the pool's JSON listing (the pool keeps its structs to
 * itself); returns the count. Strings point into root. */
static size_t collect_accounts(json_t *root, struct metrics_account *acc, size_t max)
{
    json_t *data = json_object_get(root, "data");
    size_t n = 0;
    /* Two passes: configured accounts first, so that they always appear. */
    for (int pass = 0; pass < 2; pass++) {
        size_t i;
        json_t *a;
        json_array_foreach(data, i, a) {
            int configured = json_is_true(json_object_get(a, "configured"));
            if (configured != (pass == 0))
                continue;
            const char *fp = json_string_value(json_object_get(a, "id"));
            const char *state = json_string_value(json_object_get(a, "state"));
            if (!fp || !state || n == max)
                continue;
            acc[n].fp = fp;
            acc[n].state = state;
            acc[n].cause = json_string_value(json_object_get(a, "cause"));
            acc[n].cooling_left = json_number_value(json_object_get(a, "cooling_left"));
            n++;
        }
    }
    return n;
}

void metrics_handle(struct api_req *a)
{
    if (*cfg.api_keys && !cfg.metrics_public &&
        api_key_check(http_req_header(a->req, "Authorization")) < 0) {
        api_error(a, 401, NULL, "invalid_api_key",
                  "/metrics needs \"Authorization: Bearer <one of this server's API keys>\" "
                  "(or set metrics-public = true)");
        return;
    }
    struct buf list;
    buf_init(&list, 16u << 20);
    json_t *root = NULL;
    if (accounts_json(app.accounts, &list) == 0)
        root = json_loadb(list.data, list.len, 0, NULL);
    buf_cleanup(&list);
    struct metrics_account *acc = xcalloc(METRICS_ACCOUNTS_MAX, sizeof(*acc));
    struct metrics_gauges g = {
        .version = GLM_VERSION,
        .start_time = app.started,
        .chat_in_progress = app.jobs_running,
        .queue_length = accounts_queue_len(app.accounts),
        .connections = http_server_connections(app.http),
        .connections_refused = http_server_rejected(app.http),
        .accounts = acc,
        .naccounts = collect_accounts(root, acc, METRICS_ACCOUNTS_MAX),
        .redis_used = app.redis != NULL,
        .redis_up = redis_up(app.redis),
        .redis_drops = redis_drops(app.redis),
    };
    struct buf b;
    buf_init(&b, 8u << 20);
    if (metrics_render(&b, &g) < 0) {
        api_error(a, 500, NULL, NULL, "the metrics do not fit their buffer");
    } else {
        api_reply(a, 200, "text/plain; version=0.0.4; charset=utf-8", b.data, b.len);
    }
    buf_cleanup(&b);
    free(acc);
    json_decref(root);
}
