#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/xalloc.h"

struct config cfg;

enum opt_kind { OPT_STR, OPT_INT, OPT_SIZE, OPT_ENUM };

struct opt {
    const char *name;      /* flag --name, env GLM_NAME, file key */
    enum opt_kind kind;
    size_t offset;         /* into struct config */
    const char *def;       /* default, as text */
    const char *choices;   /* OPT_ENUM: "a|b|c"; an int field gets the index (config.h) */
    long min, max;         /* OPT_INT / OPT_SIZE bounds */
    const char *help;
};

#define S(f) offsetof(struct config, f)
static const struct opt opts[] = {
    { "host", OPT_STR, S(host), "0.0.0.0", NULL, 0, 0, "address to listen on" },
    { "port", OPT_INT, S(port), "8000", NULL, 0, 65535, "port to listen on (0 = any free port)" },
    { "url-prefix", OPT_STR, S(url_prefix), "", NULL, 0, 0, "serve under this path prefix, e.g. /glm" },
    { "log-level", OPT_ENUM, S(log_level), "info", "debug|info|warn|error", 0, 0, "log verbosity" },
    { "log-format", OPT_ENUM, S(log_format), "text", "text|json", 0, 0, "log line format" },
    { "log-file", OPT_STR, S(log_file), "", NULL, 0, 0, "log to this file (reopened on SIGHUP) instead of stderr" },
    { "config", OPT_STR, S(config_file), "", NULL, 0, 0, "read settings from this file (key = value lines)" },
    { "max-body", OPT_SIZE, S(max_body), "32M", NULL, 1024, 1L << 30, "largest request body accepted" },
    { "max-header", OPT_SIZE, S(max_header), "64K", NULL, 1024, 1L << 24, "largest request head accepted" },
    { "header-timeout", OPT_INT, S(header_timeout), "30", NULL, 1, 3600, "seconds a client has to send a whole request" },
    { "keepalive-timeout", OPT_INT, S(keepalive_timeout), "75", NULL, 1, 86400, "seconds an idle client connection is kept" },
    { "write-timeout", OPT_INT, S(write_timeout), "120", NULL, 1, 86400, "seconds a client may leave its answer unread before it is dropped" },
    { "keepalive-interval", OPT_INT, S(keepalive_interval), "15", NULL, 1, 3600, "seconds between SSE keep-alive comments while the upstream is silent" },
    { "shutdown-grace", OPT_INT, S(shutdown_grace), "30", NULL, 0, 3600, "seconds running answers get to finish after SIGTERM/SIGINT" },
    { "max-connections", OPT_INT, S(max_connections), "8192", NULL, 1, 10000000, "most client connections at once" },

    { "upstream", OPT_STR, S(upstream), "https://chatglm.cn", NULL, 0, 0, "chatglm.cn base URL" },
    { "path-refresh", OPT_STR, S(path_refresh), "/chatglm/user-api/user/refresh", NULL, 0, 0, "refresh endpoint path" },
    { "path-stream", OPT_STR, S(path_stream), "/chatglm/backend-api/assistant/stream", NULL, 0, 0, "chat stream endpoint path" },
    { "path-delete", OPT_STR, S(path_delete), "/chatglm/backend-api/assistant/conversation/delete", NULL, 0, 0, "conversation delete endpoint path of the 2025 site (delete-call delete)" },
    { "path-bulk-delete", OPT_STR, S(path_bulk_delete), "/chatglm/mainchat-api/conversation/bulk_delete", NULL, 0, 0, "conversation bulk delete endpoint path of today's site (delete-call bulk_delete)" },
    { "path-stop-stream", OPT_STR, S(path_stop_stream), "/chatglm/mainchat-api/stream/stop_stream", NULL, 0, 0, "stop_stream endpoint path (today's site: stop generating an answer whose client left)" },
    { "stop-stream", OPT_ENUM, S(stop_stream), "auto", "auto|true|false", 0, 0, "call stop_stream for an answer whose client left before the conversation is deleted (auto: with upstream-era 2026)" },
    { "delete-call", OPT_ENUM, S(delete_call), "auto", "auto|bulk_delete|delete", 0, 0, "how conversations are deleted: bulk_delete (today's web app: the ids of one account that pile up go in one call), delete (2025: one call each), or auto (what upstream-era says)" },
    { "path-upload", OPT_STR, S(path_upload), "/chatglm/backend-api/assistant/file_upload", NULL, 0, 0, "file upload endpoint path of the 2025 site (upload-call file_upload)" },
    { "path-chat-upload", OPT_STR, S(path_chat_upload), "/chatglm/productivity-api/file/chat_upload", NULL, 0, 0, "chat attachment upload endpoint path of today's site (upload-call chat_upload)" },
    { "upload-call", OPT_ENUM, S(upload_call), "auto", "auto|chat_upload|file_upload", 0, 0, "how attachments are uploaded: chat_upload (today's web app: signed, from=chat, assistant_id, the 2026 attachment items), file_upload (2025), or auto (what upstream-era says)" },
    { "sign-secret", OPT_STR, S(sign_secret), "8a1317a7468aa3ad86e997d08f3f31cb", NULL, 0, 0, "secret of the X-Sign request signature" },
    { "default-assistant", OPT_STR, S(default_assistant), "65940acff94777010aa6b796", NULL, 0, 0, "assistant id used for ordinary model names" },
    { "drawing-assistant", OPT_STR, S(drawing_assistant), "65a232c082ff90a2ad2f15e2", NULL, 0, 0, "assistant id used for image generation" },
    { "user-agent", OPT_STR, S(user_agent), "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/151.0.0.0 Safari/537.36 Edg/151.0.0.0", NULL, 0, 0, "browser User-Agent sent upstream" },
    { "sec-ch-ua", OPT_STR, S(sec_ch_ua), "\"Microsoft Edge\";v=\"151\", \"Chromium\";v=\"151\", \"Not.A/Brand\";v=\"99\"", NULL, 0, 0, "sec-ch-ua header sent upstream" },
    { "sec-ch-ua-platform", OPT_STR, S(sec_ch_ua_platform), "\"Windows\"", NULL, 0, 0, "sec-ch-ua-platform header sent upstream" },
    { "app-version", OPT_STR, S(app_version), "0.0.1", NULL, 0, 0, "X-App-Version header sent upstream" },
    { "app-fr", OPT_STR, S(app_fr), "default", NULL, 0, 0, "X-App-fr header sent upstream (the web app's \"default\"; empty: not sent)" },
    { "exp-groups", OPT_STR, S(exp_groups), "na_android_config:exp:NA,na_4o_config:exp:4o_A,na_glm4plus_config:exp:open,mainchat_server_app:exp:A,mobile_history_daycheck:exp:a,desktop_toolbar:exp:A,chat_drawing_server:exp:A,drawing_server_cogview:exp:cogview4,app_welcome_v2:exp:B,chat_drawing_streamv2:exp:A,mainchat_rm_fc:exp:add,mainchat_dr:exp:open,chat_auto_entrance:exp:A", NULL, 0, 0, "X-Exp-Groups header sent upstream" },
    { "accept-language", OPT_STR, S(accept_language), "zh-CN,zh;q=0.9,en;q=0.8", NULL, 0, 0, "Accept-Language header sent upstream" },
    { "models", OPT_STR, S(models), "", NULL, 0, 0, "extra model names: name=assistant_id[:chat_mode[:selected_model[:reasoning_effort]]],..." },
    { "upstream-era", OPT_ENUM, S(upstream_era), "2026", "2026|2025", 0, 0, "which chatglm.cn to speak: today's (selected_model, reasoning tiers) or the 2025 one (chat_mode zero, no model choice)" },
    { "upstream-profile", OPT_ENUM, S(upstream_profile), "auto", "auto|v1|v2", 0, 0, "upstream stream semantics: cumulative (v1), deltas (v2) or detect" },
    { "connect-timeout", OPT_INT, S(connect_timeout), "10", NULL, 1, 600, "seconds to connect to the upstream" },
    { "refresh-timeout", OPT_INT, S(refresh_timeout), "15", NULL, 1, 600, "seconds for a token refresh or a delete call" },
    { "idle-timeout", OPT_INT, S(idle_timeout), "120", NULL, 1, 3600, "seconds of upstream silence before an answer is abandoned" },
    { "max-answer", OPT_SIZE, S(max_answer), "8M", NULL, 1024, 1L << 30, "largest answer text relayed before it is cut" },
    { "max-frame", OPT_SIZE, S(max_frame), "16M", NULL, 1024, 1L << 30, "largest single upstream SSE event" },
    { "responses-ttl", OPT_INT, S(responses_ttl), "3600", NULL, 60, 86400 * 30, "seconds a stored Responses-API response (and its upstream conversation) is kept for previous_response_id" },
    { "responses-max", OPT_INT, S(responses_max), "10000", NULL, 1, 1000000, "stored Responses-API responses kept at most (the oldest goes first)" },
    { "token-ttl", OPT_INT, S(token_ttl), "3600", NULL, 60, 86400 * 30, "seconds an access token is used when its expiry is unknown" },

    { "refresh-tokens", OPT_STR, S(refresh_tokens), "", NULL, 0, 0, "server-side accounts: chatglm_refresh_token values, comma-separated" },
    { "api-keys", OPT_STR, S(api_keys), "", NULL, 0, 0, "client API keys, comma-separated: when set, clients must send one and only server-side accounts are used" },
    { "data-dir", OPT_STR, S(data_dir), "./data", NULL, 0, 0, "directory of the account store (rotated refresh tokens)" },
    { "queue-max", OPT_INT, S(queue_max), "1000", NULL, 0, 1000000, "requests that may wait for a free account" },
    { "queue-wait", OPT_INT, S(queue_wait), "60", NULL, 1, 3600, "seconds a request waits for a free account before 429" },
    { "failover-attempts", OPT_INT, S(failover_attempts), "3", NULL, 1, 100, "accounts tried for one request before giving up" },
    { "failover-time", OPT_INT, S(failover_time), "60", NULL, 1, 3600, "seconds spent trying accounts for one request" },
    { "busy-cool", OPT_INT, S(busy_cool), "3", NULL, 1, 60, "seconds an account rests after chatglm.cn says it is busy (10061: another answer is being generated on it)" },
    { "dead-recheck", OPT_INT, S(dead_recheck), "1800", NULL, 1, 86400 * 7, "seconds before an account whose refresh token was refused is tried again with one refresh (a token given by a client is forgotten then)" },
    { "first-frame-timeout", OPT_INT, S(first_frame_timeout), "30", NULL, 1, 3600, "seconds to wait for the first upstream frame before trying another account" },
    { "delete-policy", OPT_ENUM, S(delete_policy), "always", "always|never|unless-continued", 0, 0, "delete the upstream conversation after each answer" },
    { "think-mode", OPT_ENUM, S(think_mode), "reasoning", "reasoning|inline|hidden", 0, 0, "reasoning text as reasoning_content, <think> tags in content, or dropped" },

    { "fetch-allow", OPT_STR, S(fetch_allow), "", NULL, 0, 0, "hosts, addresses and CIDR ranges that downloads of attachments may reach although they are loopback, private, link-local...: comma-separated, e.g. files.lan,10.1.0.0/16,127.0.0.1:9000" },
    { "max-file", OPT_SIZE, S(max_file), "100M", NULL, 1, 1L << 30, "largest attachment or image downloaded or decoded" },
    { "fetch-timeout", OPT_INT, S(fetch_timeout), "60", NULL, 1, 3600, "seconds one download of an attachment or image may take" },
    { "fetch-connect-timeout", OPT_INT, S(fetch_connect_timeout), "10", NULL, 1, 600, "seconds to connect for a download" },
    { "max-redirects", OPT_INT, S(max_redirects), "3", NULL, 0, 20, "redirects a download may follow" },
    { "max-attachments", OPT_INT, S(max_attachments), "10", NULL, 0, 100, "files and images accepted in one request" },
    { "state", OPT_ENUM, S(state), "sqlite", "sqlite|redis", 0, 0, "where account state lives: sqlite (data-dir, one process) or redis (shared by several replicas, see redis-url)" },
    { "redis-url", OPT_STR, S(redis_url), "redis://127.0.0.1:6379/0", NULL, 0, 0, "Redis for state = redis: redis://[:password@]host[:port][/db] or unix:/path[?db=N&password=P]" },
    { "redis-prefix", OPT_STR, S(redis_prefix), "glm:", NULL, 0, 0, "prefix of every Redis key and channel (one per deployment sharing a Redis)" },
    { "redis-timeout-ms", OPT_INT, S(redis_timeout_ms), "2000", NULL, 50, 60000, "milliseconds for a Redis connect or command before the link is dropped and remade" },
    { "replica-id", OPT_STR, S(replica_id), "", NULL, 0, 0, "this replica's name in Redis locks and /v1/accounts (empty: host name and process id)" },
    { "lease-ttl-ms", OPT_INT, S(lease_ttl_ms), "15000", NULL, 300, 600000, "milliseconds a Redis lock (generation lease, refresh) lasts unless renewed: how soon a crashed replica's accounts are free again" },
    { "path-video", OPT_STR, S(path_video), "/chatglm/video-api/v1", NULL, 0, 0, "base path of the video service (upload, chat, chat/status, static/composite_video)" },
    { "video-poll-ms", OPT_INT, S(video_poll_ms), "3000", NULL, 20, 600000, "milliseconds between two status polls of a video job" },
    { "video-poll-max-ms", OPT_INT, S(video_poll_max_ms), "30000", NULL, 20, 3600000, "longest interval between polls once errors back it off" },
    { "video-timeout", OPT_INT, S(video_timeout), "900", NULL, 1, 86400, "seconds a video job may take before it fails" },
    { "video-max-running", OPT_INT, S(video_max_running), "2", NULL, 1, 1000, "video jobs running at once per account" },
    { "video-keep", OPT_INT, S(video_keep), "86400", NULL, 60, 86400 * 365, "seconds a video job (and its chat upstream) is kept after it ended" },
    { "video-wait", OPT_INT, S(video_wait), "600", NULL, 1, 86400, "seconds POST /v1/videos/generations waits for its video" },
    { "metrics-public", OPT_ENUM, S(metrics_public), "false", "false|true", 0, 0, "serve GET /metrics without an API key even when api-keys is set" },
};
#undef S
#define NOPTS (sizeof(opts) / sizeof(opts[0]))

static char **str_at(const struct opt *o)
{
    return (char **)((char *)&cfg + o->offset);
}

static int *int_at(const struct opt *o)
{
    return (int *)((char *)&cfg + o->offset);
}

static long *long_at(const struct opt *o)
{
    return (long *)((char *)&cfg + o->offset);
}

static const struct opt *opt_find(const char *name, size_t len)
{
    for (size_t i = 0; i < NOPTS; i++) {
        const char *n = opts[i].name;
        if (strlen(n) != len)
            continue;
        size_t j = 0;
        for (; j < len; j++) {
            char a = name[j] == '_' ? '-' : (char)tolower((unsigned char)name[j]);
            if (a != n[j])
                break;
        }
        if (j == len)
            return &opts[i];
    }
    return NULL;
}

static int parse_number(const char *s, int size_suffix, long *out)
{
    errno = 0;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (end == s || errno)
        return -1;
    long long mult = 1;
    if (size_suffix && *end) {
        switch (toupper((unsigned char)*end)) {
        case 'K': mult = 1024; break;
        case 'M': mult = 1024 * 1024; break;
        case 'G': mult = 1024LL * 1024 * 1024; break;
        default: return -1;
        }
        end++;
        if (toupper((unsigned char)*end) == 'B' || toupper((unsigned char)*end) == 'I')
            end++;
        if (*end == 'B')
            end++;
    }
    if (*end || v < 0 || v > LONG_MAX / mult)
        return -1;
    *out = (long)(v * mult);
    return 0;
}

/* Sets one option from text; on error writes the reason into err. */
static int opt_set(const struct opt *o, const char *value, char *err, size_t errlen)
{
    long v;
    switch (o->kind) {
    case OPT_STR:
        free(*str_at(o));
        *str_at(o) = xstrdup(value);
        return 0;
    case OPT_ENUM: {
        size_t n = strlen(value);
        int idx = 0;
        for (const char *c = o->choices; *c; idx++) {
            const char *bar = strchr(c, '|');
            size_t cl = bar ? (size_t)(bar - c) : strlen(c);
            if (cl == n && strncasecmp(c, value, n) == 0) {
                *int_at(o) = idx;
                return 0;
            }
            c += cl + (bar ? 1 : 0);
        }
        snprintf(err, errlen, "%s must be one of %s, not \"%s\"", o->name, o->choices, value);
        return -1;
    }
    case OPT_INT:
    case OPT_SIZE:
        if (parse_number(value, o->kind == OPT_SIZE, &v) < 0 || v < o->min || v > o->max) {
            snprintf(err, errlen, "%s must be a number from %ld to %ld%s, not \"%s\"", o->name,
                     o->min, o->max, o->kind == OPT_SIZE ? " (K/M/G suffixes allowed)" : "",
                     value);
            return -1;
        }
        *long_at(o) = v;
        return 0;
    }
    return -1;
}

static void trim(char **s, char **e)
{
    while (*s < *e && isspace((unsigned char)**s))
        (*s)++;
    while (*e > *s && isspace((unsigned char)(*e)[-1]))
        (*e)--;
}

/* Config file: "key = value" lines; '#' starts a comment line; values may be
 * wrapped in double quotes (then '#' inside is literal and \" \\ escape).
 * path only names the source in error messages. */
static int load_stream(FILE *f, const char *path)
{
    char line[8192];
    int lineno = 0, rc = 0;
    while (fgets(line, sizeof(line), f)) {
        lineno++;
        size_t len = strlen(line);
        if (len == sizeof(line) - 1 && line[len - 1] != '\n') {
            fprintf(stderr, "%s:%d: line too long\n", path, lineno);
            rc = -1;
            break;
        }
        char *s = line, *e = line + len;
        trim(&s, &e);
        if (s == e || *s == '#')
            continue;
        char *eq = memchr(s, '=', (size_t)(e - s));
        if (!eq) {
            fprintf(stderr, "%s:%d: expected \"key = value\"\n", path, lineno);
            rc = -1;
            break;
        }
        char *ks = s, *ke = eq, *vs = eq + 1, *ve = e;
        trim(&ks, &ke);
        trim(&vs, &ve);
        const struct opt *o = opt_find(ks, (size_t)(ke - ks));
        if (!o || o->offset == offsetof(struct config, config_file)) {
            fprintf(stderr, "%s:%d: unknown setting \"%.*s\"\n", path, lineno, (int)(ke - ks), ks);
            rc = -1;
            break;
        }
        char value[8192];
        size_t vn = 0;
        if (vs < ve && *vs == '"') {
            int closed = 0;
            for (char *p = vs + 1; p < ve; p++) {
                if (*p == '\\' && p + 1 < ve) {
                    value[vn++] = *++p;
                } else if (*p == '"') {
                    closed = p + 1 == ve;
                    break;
                } else {
                    value[vn++] = *p;
                }
            }
            if (!closed) {
                fprintf(stderr, "%s:%d: unterminated or misplaced quote in value\n", path, lineno);
                rc = -1;
                break;
            }
        } else {
            char *hash = memchr(vs, '#', (size_t)(ve - vs));
            if (hash && hash > vs && isspace((unsigned char)hash[-1])) {
                ve = hash;
                trim(&vs, &ve);
            }
            vn = (size_t)(ve - vs);
            memcpy(value, vs, vn);
        }
        value[vn] = '\0';
        char err[512];
        if (opt_set(o, value, err, sizeof(err)) < 0) {
            fprintf(stderr, "%s:%d: %s\n", path, lineno, err);
            rc = -1;
            break;
        }
    }
    return rc;
}

static int load_file(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "glm-free-api: cannot open config file %s: %s\n", path, strerror(errno));
        return -1;
    }
    int rc = load_stream(f, path);
    fclose(f);
    return rc;
}

int config_parse_text(const char *text, size_t len, const char *name)
{
    if (len == 0)
        return 0;
    FILE *f = fmemopen((void *)text, len, "r");
    if (!f) {
        fprintf(stderr, "glm-free-api: %s: %s\n", name, strerror(errno));
        return -1;
    }
    int rc = load_stream(f, name);
    fclose(f);
    return rc;
}

void config_usage(FILE *out)
{
    fprintf(out,
            "glm-free-api %s: an OpenAI-compatible API for chatglm.cn accounts\n\n"
            "usage: glm-free-api [options]\n\n"
            "  --help              this text\n"
            "  --version           print the version\n"
            "  --check-config      validate the settings (and --config file), then exit\n"
            "  --migrate-state     copy the account store of data-dir (SQLite) into\n"
            "                      redis-url under redis-prefix, then exit\n\n"
            "Every setting can be given as --name VALUE, --name=VALUE, the environment\n"
            "variable GLM_NAME, or \"name = value\" in the --config file\n"
            "(precedence: flag > environment > file > default).\n\n",
            GLM_VERSION);
    for (size_t i = 0; i < NOPTS; i++) {
        const struct opt *o = &opts[i];
        char env[64] = "GLM_";
        size_t k = 4;
        for (const char *p = o->name; *p && k < sizeof(env) - 1; p++)
            env[k++] = *p == '-' ? '_' : (char)toupper((unsigned char)*p);
        env[k] = '\0';
        fprintf(out, "  --%-20s %s\n  %-22s %s; default: %s%s%s\n", o->name, env, "", o->help,
                *o->def ? o->def : "(empty)", o->choices ? "; one of " : "",
                o->choices ? o->choices : "");
    }
}

static int set_or_report(const struct opt *o, const char *value, const char *where)
{
    char err[512];
    if (opt_set(o, value, err, sizeof(err)) < 0) {
        fprintf(stderr, "glm-free-api: %s: %s\n", where, err);
        return -1;
    }
    return 0;
}

int config_load(int argc, char **argv, int *exit_now, int *check_only)
{
    *exit_now = 0;
    *check_only = 0;
    config_free();
    cfg.migrate_state = 0;
    for (size_t i = 0; i < NOPTS; i++) {
        char err[256];
        if (opt_set(&opts[i], opts[i].def, err, sizeof(err)) < 0) {
            fprintf(stderr, "glm-free-api: bad built-in default: %s\n", err);
            return -1;
        }
    }

    /* First pass over flags: --help, --version, --check-config and --config
     * (the file must be read before the environment and the other flags). */
    const char *config_path = getenv("GLM_CONFIG");
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            config_usage(stdout);
            *exit_now = 1;
            return 0;
        }
        if (strcmp(a, "--version") == 0 || strcmp(a, "-V") == 0) {
            printf("glm-free-api %s\n", GLM_VERSION);
            *exit_now = 1;
            return 0;
        }
        if (strcmp(a, "--check-config") == 0)
            *check_only = 1;
        else if (strcmp(a, "--migrate-state") == 0)
            cfg.migrate_state = 1;
        else if (strcmp(a, "--config") == 0 && i + 1 < argc)
            config_path = argv[++i];
        else if (strncmp(a, "--config=", 9) == 0)
            config_path = a + 9;
    }
    if (config_path && *config_path) {
        free(cfg.config_file);
        cfg.config_file = xstrdup(config_path);
        if (load_file(config_path) < 0)
            return -1;
    }

    for (size_t i = 0; i < NOPTS; i++) {
        char env[64] = "GLM_";
        size_t k = 4;
        for (const char *p = opts[i].name; *p && k < sizeof(env) - 1; p++)
            env[k++] = *p == '-' ? '_' : (char)toupper((unsigned char)*p);
        env[k] = '\0';
        const char *v = getenv(env);
        if (v && opts[i].offset != offsetof(struct config, config_file) &&
            set_or_report(&opts[i], v, env) < 0)
            return -1;
    }

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--check-config") == 0 || strcmp(a, "--migrate-state") == 0)
            continue;
        if (strncmp(a, "--", 2) != 0) {
            fprintf(stderr, "glm-free-api: unexpected argument \"%s\" (see --help)\n", a);
            return -1;
        }
        const char *name = a + 2, *eq = strchr(name, '=');
        size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
        const struct opt *o = opt_find(name, nlen);
        if (!o) {
            fprintf(stderr, "glm-free-api: unknown option --%.*s (see --help)\n", (int)nlen, name);
            return -1;
        }
        const char *value;
        if (eq) {
            value = eq + 1;
        } else if (i + 1 < argc) {
            value = argv[++i];
        } else {
            fprintf(stderr, "glm-free-api: --%s needs a value\n", o->name);
            return -1;
        }
        if (o->offset == offsetof(struct config, config_file))
            continue; /* read above */
        if (set_or_report(o, value, a) < 0)
            return -1;
    }

    /* A prefix is "" or "/x" without a trailing slash. */
    size_t pl = strlen(cfg.url_prefix);
    while (pl > 0 && cfg.url_prefix[pl - 1] == '/')
        cfg.url_prefix[--pl] = '\0';
    if (pl > 0 && cfg.url_prefix[0] != '/') {
        fprintf(stderr, "glm-free-api: url-prefix must start with '/'\n");
        return -1;
    }
    pl = strlen(cfg.upstream);
    while (pl > 0 && cfg.upstream[pl - 1] == '/')
        cfg.upstream[--pl] = '\0';
    if (strncmp(cfg.upstream, "http://", 7) != 0 && strncmp(cfg.upstream, "https://", 8) != 0) {
        fprintf(stderr, "glm-free-api: upstream must be an http:// or https:// URL\n");
        return -1;
    }
    return 0;
}

void config_free(void)
{
    for (size_t i = 0; i < NOPTS; i++) {
        if (opts[i].kind == OPT_STR) {
            free(*str_at(&opts[i]));
            *str_at(&opts[i]) = NULL;
        }
    }
}
