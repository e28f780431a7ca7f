/* An asynchronous Redis client on the one event loop: hiredis (Debian's
 * 0.14) through its libevent adapter. One link per struct redis, connected
 * from a redis:// or unix: URL, with AUTH and SELECT, a reconnect with
 * back-off, and a timeout on the connect and on every command. Nothing here
 * blocks: host names are resolved with evdns.
 *
 * Callbacks are never called from inside the call that registered them. A
 * command sent while the link is down fails at once ("unreachable"); the
 * caller decides whether to retry. A command that times out drops the link
 * (the replies of one connection come in order, so the ones behind it would
 * be late too) and the link reconnects.
 *
 * The password of the URL is never logged, nor is the URL. */
#ifndef GLM_NET_REDIS_H
#define GLM_NET_REDIS_H

#include <stddef.h>

struct event_base;
struct redisReply;
struct redis;
struct redis_cmd;

/* A parsed redis://[user[:password]@]host[:port][/db] or
 * unix:/path[?db=N][&password=P] URL (also redis+unix://, rediss is not
 * supported: hiredis 0.14 has no TLS). */
struct redis_url {
    int is_unix;
    char host[256];
    int port;              /* default 6379 */
    char path[108];        /* unix socket */
    char user[128];        /* empty: AUTH password (Redis < 6 style) */
    char password[256];    /* empty: no AUTH */
    int db;                /* SELECT db when non-zero */
};

/* 0, or -1 with the reason in err (never quoting the password). */
int redis_url_parse(const char *s, struct redis_url *u, char *err, size_t errlen);
/* "host:port/db" or "unix:/path/db": where the link goes, for log lines. */
void redis_url_describe(const struct redis_url *u, char *out, size_t outlen);

struct redis_opts {
    const char *url;
    const char *label;        /* in log lines: "Redis (state)" */
    int timeout_ms;           /* connect + handshake, and each command */
    int backoff_min_ms;       /* first reconnect delay, doubled up to max */
    int backoff_max_ms;
    /* Called when the link comes up (1) or goes down (0). */
    void (*on_state)(void *arg, int up);
    void *state_arg;
};

/* Starts connecting at once. NULL when the URL is not valid (err says why). */
struct redis *redis_new(struct event_base *base, const struct redis_opts *o, char *err,
                        size_t errlen);
/* Drops the link; commands in flight are forgotten (their callbacks are not
 * called). NULL is fine. */
void redis_free(struct redis *r);

/* 1 when the link is up (AUTH and SELECT done). */
int redis_up(const struct redis *r);
/* Times the link went down after being up (a metric). */
unsigned long redis_drops(const struct redis *r);
/* "host:port/db": the URL without its password. */
const char *redis_where(const struct redis *r);

/* reply is hiredis's (a REDIS_REPLY_ERROR reply is still a reply), valid
 * during the call; on failure reply is NULL and err is a short reason
 * ("Redis is unreachable", "the Redis command timed out", "the Redis
 * connection was lost"). */
typedef void redis_reply_fn(void *arg, struct redisReply *reply, const char *err);

/* Sends one command given as argv (binary safe). The handle can cancel the
 * callback until it has run; it is invalid after that. Never NULL. */
struct redis_cmd *redis_cmdv(struct redis *r, redis_reply_fn *fn, void *arg, int argc,
                             const char **argv, const size_t *lens);
/* Same with hiredis's format string ("%s" strings, "%b" pointer + length). */
struct redis_cmd *redis_cmdf(struct redis *r, redis_reply_fn *fn, void *arg, const char *fmt,
                             ...);
/* The callback will not be called. NULL is fine. */
void redis_cancel(struct redis_cmd *c);

/* Subscriber mode: the link SUBSCRIBEs to channel (again after each
 * reconnect) and calls fn(arg, channel, message) for each message. Use a
 * struct redis of its own for this: such a link takes no other command. */
typedef void redis_message_fn(void *arg, const char *channel, const char *msg, size_t len);
void redis_subscribe(struct redis *r, const char *channel, redis_message_fn *fn, void *arg);

#endif
