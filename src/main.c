/* glm-free-api: wiring only. Settings, logging, the event loop, the curl
 * loop, the HTTP server, signals and a graceful stop. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <event2/event.h>

#include "api/api.h"
#include "api/attempt.h"
#include "api/authcache.h"
#include "app.h"
#include "config.h"
#include "glm/accounts.h"
#include "glm/conversation.h"
#include "glm/models.h"
#include "glm/session.h"
#include "glm/shared.h"
#include "glm/store.h"
#include "glm/store_migrate.h"
#include "http/server.h"
#include "log.h"
#include "net/curl_loop.h"
#include "net/guard.h"
#include "net/redis.h"
#include "util/strlist.h"
#include "util/xalloc.h"

struct app app;

static struct event *stop_timer;
static struct timespec stop_at;
static int signals_seen;

static void raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    /* Each stream needs a client socket and (without HTTP/2) an upstream one. */
    if (rl.rlim_cur < 2 * (rlim_t)cfg.max_connections + 64)
        LOG(LOG_WARN, "open-file limit is %llu: at most about %llu concurrent streams "
            "(raise it with ulimit -n or LimitNOFILE=)",
            (unsigned long long)rl.rlim_cur, (unsigned long long)rl.rlim_cur / 2);
}

static void load_configured_accounts(void)
{
    char **tokens;
    size_t n = strlist_split(cfg.refresh_tokens, &tokens);
    app.configured = n ? xcalloc(n, sizeof(*app.configured)) : NULL;
    for (size_t i = 0; i < n; i++) {
        struct account *a = accounts_get(app.accounts, tokens[i], 1);
        size_t k = 0;
        while (k < app.nconfigured && app.configured[k] != a)
            k++;
        if (k == app.nconfigured)
            app.configured[app.nconfigured++] = a;
    }
    strlist_free(tokens, n);
    if (app.nconfigured)
        app.configured_set = accounts_set_new(app.accounts, app.configured, app.nconfigured);
    if (app.nconfigured)
        LOG(LOG_INFO, "%zu server-side account%s configured", app.nconfigured,
            app.nconfigured == 1 ? "" : "s");
    if (app.nconfigured && !*cfg.api_keys)
        LOG(LOG_WARN, "server-side accounts without --api-keys: anyone who can reach this port "
                      "can use them");
}

static double since_stop(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - stop_at.tv_sec) + (double)(now.tv_nsec - stop_at.tv_nsec) / 1e9;
}

static void stop_check_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    unsigned background = glm_conversation_pending();
    if ((app.jobs_running == 0 && background == 0) || since_stop() >= cfg.shutdown_grace) {
        if (app.jobs_running || background)
            LOG(LOG_WARN, "grace period over: stopping %u answers and %u background calls",
                app.jobs_running, background);
        event_base_loopexit(app.base, NULL);
    }
}

static void signal_cb(evutil_socket_t sig, short what, void *arg)
{
    (void)what;
    (void)arg;
    if (sig == SIGHUP) {
        if (log_reopen() < 0)
            LOG(LOG_ERROR, "cannot reopen the log file %s", cfg.log_file);
        else
            LOG(LOG_INFO, "SIGHUP: log file reopened");
        return;
    }
    if (++signals_seen > 1) {
        LOG(LOG_WARN, "second stop signal: stopping now");
        event_base_loopbreak(app.base);
        return;
    }
    LOG(LOG_INFO, "%s: no new connections; waiting for %u running answers (up to %ld s)",
        sig == SIGTERM ? "SIGTERM" : "SIGINT", app.jobs_running, cfg.shutdown_grace);
    app.stopping = 1;
    http_server_stop_accepting(app.http);
    clock_gettime(CLOCK_MONOTONIC, &stop_at);
    struct timeval tv = { 0, 50 * 1000 };
    stop_timer = event_new(app.base, -1, EV_PERSIST, stop_check_cb, NULL);
    event_add(stop_timer, &tv);
    stop_check_cb(-1, 0, NULL);
}

int main(int argc, char **argv)
{
    int exit_now, check_only, rc = 1;
    if (config_load(argc, argv, &exit_now, &check_only) < 0)
        return 2;
    if (exit_now) {
        config_free();
        return 0;
    }
    char err[256];
    struct guard_allow *allow = guard_allow_parse(cfg.fetch_allow, err, sizeof(err));
    if (!allow) {
        fprintf(stderr, "glm-free-api: fetch-allow: %s\n", err);
        config_free();
        return 2;
    }
    guard_allow_free(allow);
    if (models_table_check(cfg.models, err, sizeof(err)) < 0) {
        fprintf(stderr, "glm-free-api: models: %s\n", err);
        config_free();
        return 2;
    }
    if (check_only) {
        printf("configuration OK%s%s\n", cfg.config_file && *cfg.config_file ? ": " : "",
               cfg.config_file ? cfg.config_file : "");
        config_free();
        return 0;
    }
    log_set_level((enum log_level)cfg.log_level);
    log_set_json(cfg.log_format == CFG_LOG_JSON);
    if (*cfg.log_file && log_set_file(cfg.log_file) < 0) {
        fprintf(stderr, "glm-free-api: cannot open log file %s: %s\n", cfg.log_file,
                strerror(errno));
        config_free();
        return 2;
    }

    signal(SIGPIPE, SIG_IGN);
    raise_nofile();
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        LOG(LOG_ERROR, "libcurl failed to initialise");
        return 1;
    }
    if (!(curl_version_info(CURLVERSION_NOW)->features & CURL_VERSION_ASYNCHDNS))
        LOG(LOG_WARN, "this libcurl resolves host names synchronously: a slow DNS server will "
                      "stall every request");

    app.started = time(NULL);
    app.base = event_base_new();
    int use_redis = cfg.state == CFG_STATE_REDIS;
    if (use_redis || cfg.migrate_state) {
        struct redis_opts ro = {
            .url = cfg.redis_url,
            .label = "Redis (shared state)",
            .timeout_ms = (int)cfg.redis_timeout_ms,
            .backoff_min_ms = 100,
            .backoff_max_ms = 5000,
        };
        app.redis = redis_new(app.base, &ro, err, sizeof(err));
        if (!app.redis) {
            LOG(LOG_ERROR, "redis-url: %s", err);
            rc = 2;
            goto early_out;
        }
    }
    if (cfg.migrate_state) {
        struct store *from = store_open_sqlite(cfg.data_dir, err, sizeof(err));
        if (!from) {
            LOG(LOG_ERROR, "migrate-state: %s", err);
            goto early_out;
        }
        struct store *to = store_open_redis(app.redis, cfg.redis_prefix);
        rc = store_migrate(app.base, from, to, app.redis, 10 * (int)cfg.redis_timeout_ms);
        store_close(from);
        store_close(to);
        goto early_out;
    }
    app.store = use_redis ? store_open_redis(app.redis, cfg.redis_prefix)
                          : store_open_sqlite(cfg.data_dir, err, sizeof(err));
    if (!app.store) {
        LOG(LOG_ERROR, "%s (set --data-dir to a writable directory)", err);
        rc = 2;
        goto early_out;
    }
    if (use_redis) {
        if (*cfg.replica_id) {
            snprintf(app.replica, sizeof(app.replica), "%s", cfg.replica_id);
        } else {
            char host[64] = "";
            gethostname(host, sizeof(host) - 1);
            snprintf(app.replica, sizeof(app.replica), "%s-%ld", host[0] ? host : "replica",
                     (long)getpid());
        }
        /* A space would end the name inside a lock's value. */
        for (char *c = app.replica; *c; c++)
            if (*c == ' ')
                *c = '_';
        struct shared_opts so = {
            .cmd = app.redis,
            .sub_url = cfg.redis_url,
            .prefix = cfg.redis_prefix,
            .replica = app.replica,
            .timeout_ms = (int)cfg.redis_timeout_ms,
        };
        app.shared = shared_new(app.base, &so);
        LOG(LOG_INFO, "account state in Redis at %s under \"%s\", as replica %s",
            redis_where(app.redis), cfg.redis_prefix, app.replica);
    }
    app.curl = curl_loop_new(app.base);
    app.sessions = session_mgr_new(app.curl, app.store);
    glm_conversation_init(app.curl);
    session_mgr_share(app.sessions, app.shared);
    app.accounts = accounts_new(app.base, (size_t)cfg.queue_max, cfg.queue_wait * 1000);
    accounts_configure(app.accounts, cfg.busy_cool * 1000, cfg.dead_recheck * 1000);
    app.auth = authcache_new(AUTHCACHE_MAX, AUTHCACHE_MAX_TOKENS);
    load_configured_accounts();
    attempt_share_health();
    videos_init();
    struct http_server_opts ho = {
        .max_header = (size_t)cfg.max_header,
        .max_body = (size_t)cfg.max_body,
        .header_timeout_ms = (int)cfg.header_timeout * 1000,
        .keepalive_timeout_ms = (int)cfg.keepalive_timeout * 1000,
        .write_timeout_ms = (int)cfg.write_timeout * 1000,
        .max_connections = (size_t)cfg.max_connections,
    };
    app.http = http_server_new(app.base, &ho, api_dispatch, NULL);
    struct event *sigs[3] = { NULL, NULL, NULL };
    int port = app.http ? http_server_listen(app.http, cfg.host, (int)cfg.port) : -1;
    if (port < 0) {
        LOG(LOG_ERROR, "cannot listen on %s:%ld: %s", cfg.host, cfg.port, strerror(errno));
        goto out;
    }
    LOG(LOG_INFO, "glm-free-api %s listening on http://%s:%d%s (upstream %s)", GLM_VERSION,
        cfg.host, port, cfg.url_prefix, cfg.upstream);

    int signums[3] = { SIGINT, SIGTERM, SIGHUP };
    for (int i = 0; i < 3; i++) {
        sigs[i] = evsignal_new(app.base, signums[i], signal_cb, NULL);
        event_add(sigs[i], NULL);
    }
    event_base_dispatch(app.base);
    rc = 0;
    LOG(LOG_INFO, "stopped after %lu requests", app.requests);

out:
    /* Whatever is still running is dropped: client connections first (their
     * jobs get on_close), then a few loop turns so they can clean up. */
    if (app.http)
        http_server_free(app.http);
    for (int i = 0; i < 5; i++)
        event_base_loop(app.base, EVLOOP_NONBLOCK);
    dialects_shutdown();
    glm_conversation_cancel_all();
    videos_free();
    authcache_free(app.auth, app.accounts);
    accounts_set_unref(app.accounts, app.configured_set);
    accounts_free(app.accounts);
    free(app.configured);
    session_mgr_free(app.sessions);
    curl_loop_free(app.curl);
    for (int i = 0; i < 3; i++)
        if (sigs[i])
            event_free(sigs[i]);
    if (stop_timer)
        event_free(stop_timer);
    store_close(app.store);
    shared_free(app.shared);
    redis_free(app.redis);
    event_base_free(app.base);
    curl_global_cleanup();
    config_free();
    log_set_file(NULL);
    return rc;

early_out:
    redis_free(app.redis);
    event_base_free(app.base);
    curl_global_cleanup();
    config_free();
    return rc;
}
