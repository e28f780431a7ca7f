/* Every setting of the server. Each has one name used everywhere: the flag
 * --name, the environment variable GLM_NAME (upper case, '-' -> '_') and the
 * config-file key name (either '-' or '_'). Precedence: defaults < config
 * file < environment < flags. Everything the site may change lives here. */
#ifndef GLM_CONFIG_H
#define GLM_CONFIG_H

#include <stddef.h>
#include <stdio.h>

#ifndef GLM_VERSION
#define GLM_VERSION "dev"
#endif

/* Settings with a fixed set of values are stored as the index of the value in
 * their list of choices (config.c), so that nothing compares strings per
 * request. Each enum below is in the order of its choices. */
enum cfg_log_format { CFG_LOG_TEXT, CFG_LOG_JSON };                  /* text|json */
enum cfg_era { CFG_ERA_2026, CFG_ERA_2025 };                         /* 2026|2025 */
enum cfg_profile { CFG_PROFILE_AUTO, CFG_PROFILE_V1, CFG_PROFILE_V2 }; /* auto|v1|v2 */
enum cfg_delete { CFG_DELETE_ALWAYS, CFG_DELETE_NEVER, CFG_DELETE_UNLESS_CONTINUED };
enum cfg_think { CFG_THINK_REASONING, CFG_THINK_INLINE, CFG_THINK_HIDDEN };
enum cfg_state { CFG_STATE_SQLITE, CFG_STATE_REDIS };                 /* sqlite|redis */
/* auto = what upstream-era says (2026: chat_upload, 2025: file_upload) */
enum cfg_upload { CFG_UPLOAD_AUTO, CFG_UPLOAD_CHAT, CFG_UPLOAD_FILE }; /* auto|chat_upload|file_upload */
enum cfg_stop { CFG_STOP_AUTO, CFG_STOP_TRUE, CFG_STOP_FALSE };        /* auto|true|false */
enum cfg_delete_call { CFG_DELETE_CALL_AUTO, CFG_DELETE_CALL_BULK, CFG_DELETE_CALL_ONE }; /* auto|bulk_delete|delete */

struct config {
    /* serving */
    char *host;
    long port;
    char *url_prefix;
    int log_level;           /* enum log_level (log.h): the choices are in its order */
    int log_format;          /* enum cfg_log_format */
    char *log_file;
    char *config_file;
    long max_body;           /* bytes of a request body */
    long max_header;         /* bytes of a request head */
    long header_timeout;     /* s to receive a request head */
    long keepalive_timeout;  /* s an idle client connection is kept */
    long write_timeout;      /* s a client may leave its stream unread */
    long keepalive_interval; /* s between SSE comments while upstream is silent */
    long max_connections;
    long shutdown_grace;     /* s running answers get to finish after SIGTERM */

    /* upstream: chatglm.cn */
    char *upstream;
    char *path_refresh;
    char *path_stream;
    char *path_delete;
    char *path_bulk_delete;
    char *path_stop_stream;
    int stop_stream;         /* enum cfg_stop: stop_stream when a client leaves mid-answer */
    int delete_call;         /* enum cfg_delete_call */
    char *path_upload;
    char *path_chat_upload;
    int upload_call;         /* enum cfg_upload */
    char *sign_secret;
    char *default_assistant;
    char *drawing_assistant;
    char *user_agent;
    char *sec_ch_ua;
    char *sec_ch_ua_platform;
    char *app_version;
    char *app_fr;
    char *exp_groups;
    char *accept_language;
    char *models;            /* extra models: name=assistant_id[:chat_mode[:selected_model[:effort]]],... */
    int upstream_profile;    /* enum cfg_profile */
    int upstream_era;        /* enum cfg_era */
    long connect_timeout;    /* s */
    long refresh_timeout;    /* s for a refresh or delete call */
    long idle_timeout;       /* s of upstream silence before giving up */
    long max_answer;         /* bytes of answer text before the stream is cut */
    long responses_ttl;      /* s a stored Responses-API response is kept */
    long responses_max;      /* stored responses kept at most */
    long max_frame;          /* bytes of one upstream SSE line */
    long token_ttl;          /* s an access token is used when its JWT has no exp */

    /* accounts */
    char *refresh_tokens;    /* server-side accounts: a,b,c */
    char *api_keys;          /* client keys: k1,k2 */
    char *data_dir;
    long queue_max;          /* requests waiting for an account */
    long queue_wait;         /* s a request waits for an account */
    long failover_attempts;  /* accounts tried per request */
    long failover_time;      /* s spent on tries before giving up */
    long first_frame_timeout;/* s for the first upstream frame before trying another account */
    long busy_cool;          /* s an account cools after 10061 (busy) */
    long dead_recheck;       /* s before a dead account is tried again (or forgotten) */

    /* behaviour */
    int delete_policy;       /* enum cfg_delete */
    int think_mode;          /* enum cfg_think */

    /* attachments and downloads of user URLs (net/fetch) */
    char *fetch_allow;       /* hosts, addresses, CIDR ranges the SSRF guard lets through */
    long max_file;           /* bytes of one downloaded or decoded file */
    long fetch_timeout;      /* s for one download */
    long fetch_connect_timeout; /* s */
    long max_redirects;
    long max_attachments;    /* files and images in one request */

    /* shared state (several replicas) */
    int state;               /* enum cfg_state */
    char *redis_url;         /* redis://... or unix:/path (may hold a password: never logged) */
    char *redis_prefix;      /* of every key and channel */
    long redis_timeout_ms;   /* connect or command */
    char *replica_id;        /* empty: hostname-pid */
    long lease_ttl_ms;       /* of a Redis lock, renewed every third of it */
    int migrate_state;       /* --migrate-state: copy SQLite into Redis and exit */

    /* video generation (api/videos.c, glm/video.c) */
    char *path_video;        /* the video service's base path */
    long video_poll_ms;      /* ms between two status polls of a job */
    long video_poll_max_ms;  /* longest interval the back-off reaches */
    long video_timeout;      /* s a job may take before it fails */
    long video_max_running;  /* running video jobs per account */
    long video_keep;         /* s a finished job (and its upstream chat) is kept */
    long video_wait;         /* s POST /v1/videos/generations waits */

    /* operations */
    int metrics_public;      /* 1: GET /metrics without an API key */
};

/* The one configuration of the process, filled by config_load(). */
extern struct config cfg;

/* Fills cfg from defaults, the config file (--config / GLM_CONFIG), the
 * environment and argv. Handles --help and --version (sets *exit_now and
 * returns 0). Returns -1 after printing an error to stderr. */
int config_load(int argc, char **argv, int *exit_now, int *check_only);
void config_free(void);
/* Applies "key = value" lines from memory on top of the current settings, as
 * a --config file would (the fuzz target's entry point). name labels error
 * messages. Returns 0, or -1 after printing the first error to stderr. */
int config_parse_text(const char *text, size_t len, const char *name);
/* Prints the --help text. */
void config_usage(FILE *out);

#endif
