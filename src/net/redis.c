#include "net/redis.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/util.h>
#include <hiredis/adapters/libevent.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include "log.h"
#include "util/crypto.h"
#include "util/xalloc.h"

/* ---- URL ------------------------------------------------------------- */

static int copy_part(char *dst, size_t cap, const char *s, size_t n)
{
    if (n >= cap)
        return -1;
    /* %XX escapes, so that a password may hold '@', ':' or '/'. */
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%' && i + 2 < n &&
            isxdigit((unsigned char)s[i + 1]) && isxdigit((unsigned char)s[i + 2])) {
            char hex[3] = { s[i + 1], s[i + 2], 0 };
            dst[o++] = (char)strtol(hex, NULL, 16);
            i += 2;
        } else {
            dst[o++] = s[i];
        }
    }
    dst[o] = 0;
    return memchr(dst, 0, o) ? -1 : 0;
}

static int parse_db(const char *s, size_t n, int *db)
{
    if (n == 0 || n > 5)
        return -1;
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i]))
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *db = v;
    return 0;
}

/* unix:/path?db=N&password=P */
static int parse_unix(const char *p, struct redis_url *u, char *err, size_t errlen)
{
    u->is_unix = 1;
    const char *q = strchr(p, '?');
    size_t plen = q ? (size_t)(q - p) : strlen(p);
    if (plen == 0 || p[0] != '/' || copy_part(u->path, sizeof(u->path), p, plen) < 0) {
        snprintf(err, errlen, "a unix: Redis URL needs an absolute socket path (at most %zu bytes)",
                 sizeof(u->path) - 1);
        return -1;
    }
    while (q && *q) {
        const char *k = q + 1;
        const char *amp = strchr(k, '&');
        size_t n = amp ? (size_t)(amp - k) : strlen(k);
        if (n > 3 && strncmp(k, "db=", 3) == 0) {
            if (parse_db(k + 3, n - 3, &u->db) < 0) {
                snprintf(err, errlen, "the Redis URL's db is not a number from 0 to 99999");
                return -1;
            }
        } else if (n > 9 && strncmp(k, "password=", 9) == 0) {
            if (copy_part(u->password, sizeof(u->password), k + 9, n - 9) < 0) {
                snprintf(err, errlen, "the Redis URL's password is too long");
                return -1;
            }
        } else if (n) {
            snprintf(err, errlen, "unknown parameter in a unix: Redis URL (db= and password= are "
                                  "known)");
            return -1;
        }
        q = amp;
    }
    return 0;
}

int redis_url_parse(const char *s, struct redis_url *u, char *err, size_t errlen)
{
    memset(u, 0, sizeof(*u));
    u->port = 6379;
    if (strncmp(s, "unix:", 5) == 0) {
        const char *p = s + 5;
        if (strncmp(p, "//", 2) == 0)
            p += 2;
        return parse_unix(p, u, err, errlen);
    }
    if (strncmp(s, "redis+unix://", 13) == 0)
        return parse_unix(s + 13, u, err, errlen);
    if (strncmp(s, "rediss://", 9) == 0) {
        snprintf(err, errlen, "rediss:// (TLS) is not supported by this build's hiredis; use "
                              "redis:// on a private network or a unix: socket");
        return -1;
    }
    if (strncmp(s, "redis://", 8) != 0) {
        snprintf(err, errlen, "a Redis URL starts with redis:// or unix:");
        return -1;
    }
    const char *p = s + 8;
    const char *end = p + strcspn(p, "/?#");
    /* The last '@' before the path ends the credentials. */
    const char *at = NULL;
    for (const char *c = p; c < end; c++)
        if (*c == '@')
            at = c;
    if (at) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        int bad = 0;
        if (colon) {
            bad |= copy_part(u->user, sizeof(u->user), p, (size_t)(colon - p));
            bad |= copy_part(u->password, sizeof(u->password), colon + 1,
                             (size_t)(at - colon - 1));
        } else {
            /* redis://password@host, as some clients write it. */
            bad |= copy_part(u->password, sizeof(u->password), p, (size_t)(at - p));
        }
        if (bad) {
            snprintf(err, errlen, "the Redis URL's user name or password is too long");
            return -1;
        }
        p = at + 1;
    }
    const char *hend;
    const char *port = NULL;
    if (*p == '[') {
        hend = memchr(p, ']', (size_t)(end - p));
        if (!hend) {
            snprintf(err, errlen, "the Redis URL's IPv6 address lacks its ']'");
            return -1;
        }
        if (copy_part(u->host, sizeof(u->host), p + 1, (size_t)(hend - p - 1)) < 0)
            goto long_host;
        hend++;
        if (hend < end && *hend == ':')
            port = hend + 1;
        else if (hend != end)
            goto bad_port;
    } else {
        const char *colon = memchr(p, ':', (size_t)(end - p));
        hend = colon ? colon : end;
        if (copy_part(u->host, sizeof(u->host), p, (size_t)(hend - p)) < 0)
            goto long_host;
        if (colon)
            port = colon + 1;
    }
    if (!u->host[0]) {
        snprintf(err, errlen, "the Redis URL has no host");
        return -1;
    }
    if (port) {
        long v = 0;
        const char *c = port;
        for (; c < end && isdigit((unsigned char)*c) && v <= 65535; c++)
            v = v * 10 + (*c - '0');
        if (c != end || c == port || v < 1 || v > 65535)
            goto bad_port;
        u->port = (int)v;
    }
    if (*end == '/') {
        const char *d = end + 1;
        size_t n = strcspn(d, "?#");
        if (n && parse_db(d, n, &u->db) < 0) {
            snprintf(err, errlen, "the Redis URL's db is not a number from 0 to 99999");
            return -1;
        }
        end = d + n;
    }
    if (*end) {
        snprintf(err, errlen, "the Redis URL has parameters or a fragment this client does not "
                              "know");
        return -1;
    }
    return 0;
long_host:
    snprintf(err, errlen, "the Redis URL's host is too long");
    return -1;
bad_port:
    snprintf(err, errlen, "the Redis URL's port is not a number from 1 to 65535");
    return -1;
}

void redis_url_describe(const struct redis_url *u, char *out, size_t outlen)
{
    if (u->is_unix)
        snprintf(out, outlen, "unix:%s db %d", u->path, u->db);
    else if (strchr(u->host, ':'))
        snprintf(out, outlen, "[%s]:%d db %d", u->host, u->port, u->db);
    else
        snprintf(out, outlen, "%s:%d db %d", u->host, u->port, u->db);
}

/* ---- the link ---------------------------------------------------------- */

enum link_state { LINK_DOWN, LINK_RESOLVING, LINK_CONNECTING, LINK_UP };

struct redis_cmd {
    struct redis *r;
    redis_reply_fn *fn;       /* NULL once called or cancelled */
    void *arg;
    struct event *timer;
    const char *fail;         /* the error the timer reports */
    int in_hiredis;           /* hiredis holds it as privdata */
    struct redis_cmd *prev, *next;
};

struct redis {
    struct event_base *base;
    struct redis_url url;
    char where[400];
    char label[64];
    int timeout_ms, backoff_min_ms, backoff_max_ms, backoff_ms;
    void (*on_state)(void *arg, int up);
    void *state_arg;
    enum link_state state;
    int was_up;                /* the link has been up at least once */
    int warned;                /* a failure to connect was logged since the last up */
    unsigned long drops;
    redisAsyncContext *ac;
    struct evdns_base *dns;
    struct evdns_getaddrinfo_request *dnsreq;
    struct event *retry;       /* reconnect timer, also the connect timeout */
    struct redis_cmd *cmds;    /* every live command */
    char *channel;             /* subscriber mode */
    redis_message_fn *on_message;
    void *message_arg;
};

static void link_start(struct redis *r);

static void cmd_unlink_free(struct redis_cmd *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else if (c->r)
        c->r->cmds = c->next;
    if (c->next)
        c->next->prev = c->prev;
    event_free(c->timer);
    free(c);
}

/* Calls the user's callback once. */
static void cmd_finish(struct redis_cmd *c, redisReply *reply, const char *err)
{
    redis_reply_fn *fn = c->fn;
    c->fn = NULL;
    event_del(c->timer);
    if (fn)
        fn(c->arg, reply, err);
}

static void set_state(struct redis *r, enum link_state st, const char *why)
{
    int was = r->state == LINK_UP;
    r->state = st;
    int now = st == LINK_UP;
    if (was == now) {
        if (!now && why && !r->warned) {
            r->warned = 1;
            LOG(LOG_WARN, "%s at %s: cannot connect (%s); retrying", r->label, r->where, why);
        }
        return;
    }
    if (now) {
        LOG(r->was_up ? LOG_WARN : LOG_INFO, "%s at %s: link up%s", r->label, r->where,
            r->was_up ? " again" : "");
        r->was_up = 1;
        r->warned = 0;
    } else {
        r->drops++;
        r->warned = 1;
        LOG(LOG_WARN, "%s at %s: link down (%s); reconnecting", r->label, r->where,
            why ? why : "closed");
    }
    if (r->on_state)
        r->on_state(r->state_arg, now);
}

static void retry_cb(evutil_socket_t fd, short what, void *arg);

static void schedule_retry(struct redis *r)
{
    int ms = r->backoff_ms;
    /* Jitter of up to a quarter, so that replicas do not reconnect in step. */
    ms += (int)(crypto_random_u64() % (uint64_t)(ms / 4 + 1));
    r->backoff_ms = r->backoff_ms * 2 > r->backoff_max_ms ? r->backoff_max_ms : r->backoff_ms * 2;
    struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
    evtimer_add(r->retry, &tv);
}

/* Forgets the connection (if any) and plans the next one. */
static void link_fail(struct redis *r, const char *why)
{
    redisAsyncContext *ac = r->ac;
    r->ac = NULL;
    if (r->dnsreq) {
        struct evdns_getaddrinfo_request *q = r->dnsreq;
        r->dnsreq = NULL;
        evdns_getaddrinfo_cancel(q);
    }
    evtimer_del(r->retry);
    if (ac) {
        ac->data = NULL;
        /* Calls the pending callbacks with a NULL reply (now, or after the
         * hiredis callback we may be in returns). */
        redisAsyncFree(ac);
    }
    set_state(r, LINK_DOWN, why);
    schedule_retry(r);
}

static void retry_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct redis *r = arg;
    if (r->state == LINK_DOWN)
        link_start(r);
    else if (r->state != LINK_UP)
        link_fail(r, "connect timed out");
}

static void subscribed_cb(redisAsyncContext *ac, void *reply, void *priv);

/* The answers to AUTH, SELECT and the PING after them: an error fails the
 * link; the PING's answer (last) brings it up. */
static void handshake_cb(redisAsyncContext *ac, void *reply, void *priv)
{
    struct redis *r = priv;
    redisReply *rep = reply;
    if (!ac->data || ac != r->ac || r->state != LINK_CONNECTING)
        return;
    if (!rep || rep->type == REDIS_REPLY_ERROR) {
        char why[200];
        /* Redis's error texts do not quote the password. */
        snprintf(why, sizeof(why), "handshake refused: %.150s",
                 rep && rep->str ? rep->str : "no reply");
        link_fail(r, why);
        return;
    }
    if (rep->type != REDIS_REPLY_STATUS || strcmp(rep->str, "PONG") != 0)
        return;
    evtimer_del(r->retry);
    r->backoff_ms = r->backoff_min_ms;
    set_state(r, LINK_UP, NULL);
    if (r->channel)
        redisAsyncCommand(r->ac, subscribed_cb, r, "SUBSCRIBE %s", r->channel);
}

static void connect_cb(const redisAsyncContext *ac, int status)
{
    struct redis *r = ac->data;
    if (!r || ac != r->ac)
        return;
    if (status != REDIS_OK) {
        char why[160];
        snprintf(why, sizeof(why), "%.150s", ac->errstr[0] ? ac->errstr : "connect failed");
        /* hiredis frees the context after this callback. */
        r->ac = NULL;
        ((redisAsyncContext *)ac)->data = NULL;
        link_fail(r, why);
    }
}

static void disconnect_cb(const redisAsyncContext *ac, int status)
{
    (void)status;
    struct redis *r = ac->data;
    if (!r || ac != r->ac)
        return;
    char why[160];
    snprintf(why, sizeof(why), "%.150s", ac->errstr[0] ? ac->errstr : "connection closed");
    r->ac = NULL;
    ((redisAsyncContext *)ac)->data = NULL;
    link_fail(r, why);
}

static void link_connect(struct redis *r, const char *ip)
{
    redisAsyncContext *ac = r->url.is_unix ? redisAsyncConnectUnix(r->url.path)
                                           : redisAsyncConnect(ip, r->url.port);
    if (!ac) {
        link_fail(r, "out of memory");
        return;
    }
    if (ac->err) {
        char why[160];
        snprintf(why, sizeof(why), "%.150s", ac->errstr);
        redisAsyncFree(ac);
        link_fail(r, why);
        return;
    }
    r->ac = ac;
    ac->data = r;
    r->state = LINK_CONNECTING;
    redisLibeventAttach(ac, r->base);
    redisAsyncSetConnectCallback(ac, connect_cb);
    redisAsyncSetDisconnectCallback(ac, disconnect_cb);
    /* Pipelined behind the connect: AUTH, SELECT, then PING says ready. */
    if (r->url.password[0] && r->url.user[0])
        redisAsyncCommand(ac, handshake_cb, r, "AUTH %s %s", r->url.user, r->url.password);
    else if (r->url.password[0])
        redisAsyncCommand(ac, handshake_cb, r, "AUTH %s", r->url.password);
    if (r->url.db)
        redisAsyncCommand(ac, handshake_cb, r, "SELECT %d", r->url.db);
    redisAsyncCommand(ac, handshake_cb, r, "PING");
}

static void dns_cb(int result, struct evutil_addrinfo *res, void *arg)
{
    struct redis *r = arg;
    if (result == EVUTIL_EAI_CANCEL)
        return;
    r->dnsreq = NULL;
    char ip[INET6_ADDRSTRLEN] = "";
    if (result == 0 && res) {
        void *addr = res->ai_family == AF_INET6
                         ? (void *)&((struct sockaddr_in6 *)(void *)res->ai_addr)->sin6_addr
                         : (void *)&((struct sockaddr_in *)(void *)res->ai_addr)->sin_addr;
        inet_ntop(res->ai_family, addr, ip, sizeof(ip));
    }
    if (res)
        evutil_freeaddrinfo(res);
    if (r->state != LINK_RESOLVING)
        return;
    if (!ip[0]) {
        char why[160];
        snprintf(why, sizeof(why), "cannot resolve the host: %s", evutil_gai_strerror(result));
        link_fail(r, why);
        return;
    }
    link_connect(r, ip);
}

static void link_start(struct redis *r)
{
    struct timeval tv = { r->timeout_ms / 1000, (r->timeout_ms % 1000) * 1000 };
    evtimer_add(r->retry, &tv); /* the connect timeout */
    r->state = LINK_RESOLVING;
    unsigned char tmp[16];
    if (r->url.is_unix || inet_pton(AF_INET, r->url.host, tmp) == 1 ||
        inet_pton(AF_INET6, r->url.host, tmp) == 1) {
        link_connect(r, r->url.host);
        return;
    }
    if (!r->dns)
        r->dns = evdns_base_new(r->base, EVDNS_BASE_INITIALIZE_NAMESERVERS |
                                             EVDNS_BASE_DISABLE_WHEN_INACTIVE);
    if (!r->dns) {
        link_fail(r, "no DNS resolver (/etc/resolv.conf)");
        return;
    }
    struct evutil_addrinfo hints = { 0 };
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    /* May answer at once (e.g. from /etc/hosts): dns_cb then already ran. */
    struct evdns_getaddrinfo_request *q =
        evdns_getaddrinfo(r->dns, r->url.host, NULL, &hints, dns_cb, r);
    if (r->state == LINK_RESOLVING)
        r->dnsreq = q;
}

struct redis *redis_new(struct event_base *base, const struct redis_opts *o, char *err,
                        size_t errlen)
{
    struct redis *r = xcalloc(1, sizeof(*r));
    if (redis_url_parse(o->url, &r->url, err, errlen) < 0) {
        free(r);
        return NULL;
    }
    r->base = base;
    redis_url_describe(&r->url, r->where, sizeof(r->where));
    snprintf(r->label, sizeof(r->label), "%s", o->label ? o->label : "Redis");
    r->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : 2000;
    r->backoff_min_ms = o->backoff_min_ms > 0 ? o->backoff_min_ms : 100;
    r->backoff_max_ms = o->backoff_max_ms >= r->backoff_min_ms ? o->backoff_max_ms : 5000;
    r->backoff_ms = r->backoff_min_ms;
    r->on_state = o->on_state;
    r->state_arg = o->state_arg;
    r->retry = evtimer_new(base, retry_cb, r);
    link_start(r);
    return r;
}

void redis_free(struct redis *r)
{
    if (!r)
        return;
    /* Forget the callers first: freeing the link calls back with NULL. */
    for (struct redis_cmd *c = r->cmds; c; c = c->next)
        c->fn = NULL;
    r->on_state = NULL;
    if (r->dnsreq)
        evdns_getaddrinfo_cancel(r->dnsreq);
    r->dnsreq = NULL;
    redisAsyncContext *ac = r->ac;
    r->ac = NULL;
    if (ac) {
        ac->data = NULL;
        redisAsyncFree(ac);
    }
    /* What hiredis did not give back belongs to no one now. */
    while (r->cmds) {
        struct redis_cmd *c = r->cmds;
        r->cmds = c->next;
        if (r->cmds)
            r->cmds->prev = NULL;
        c->r = NULL;
        c->prev = c->next = NULL;
        cmd_unlink_free(c);
    }
    if (r->dns)
        evdns_base_free(r->dns, 0);
    event_free(r->retry);
    free(r->channel);
    free(r);
}

int redis_up(const struct redis *r)
{
    return r && r->state == LINK_UP;
}

unsigned long redis_drops(const struct redis *r)
{
    return r ? r->drops : 0;
}

const char *redis_where(const struct redis *r)
{
    return r ? r->where : "";
}

/* ---- commands ------------------------------------------------------------ */

static void reply_cb(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)ac;
    struct redis_cmd *c = priv;
    c->in_hiredis = 0;
    if (c->fn)
        cmd_finish(c, reply, reply ? NULL : "the Redis connection was lost");
    cmd_unlink_free(c);
}

static void cmd_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct redis_cmd *c = arg;
    struct redis *r = c->r;
    cmd_finish(c, NULL, c->fail);
    if (!c->in_hiredis) {
        cmd_unlink_free(c);
        return;
    }
    /* Sent but unanswered: every reply behind it on this connection is late
     * too. Dropping the link gives c back (reply_cb with NULL). */
    if (r && r->ac)
        link_fail(r, "a command timed out");
}

static struct redis_cmd *cmd_new(struct redis *r, redis_reply_fn *fn, void *arg)
{
    struct redis_cmd *c = xcalloc(1, sizeof(*c));
    c->r = r;
    c->fn = fn;
    c->arg = arg;
    c->timer = evtimer_new(r->base, cmd_timer_cb, c);
    c->next = r->cmds;
    if (r->cmds)
        r->cmds->prev = c;
    r->cmds = c;
    return c;
}

/* Arms c's timer: the timeout once sent, or at once with the failure. */
static struct redis_cmd *cmd_arm(struct redis_cmd *c, int sent)
{
    struct timeval tv = { 0, 0 };
    if (sent) {
        c->in_hiredis = 1;
        c->fail = "the Redis command timed out";
        tv.tv_sec = c->r->timeout_ms / 1000;
        tv.tv_usec = (c->r->timeout_ms % 1000) * 1000;
    } else {
        c->fail = c->r->channel ? "this Redis link only subscribes" : "Redis is unreachable";
    }
    evtimer_add(c->timer, &tv);
    return c;
}

struct redis_cmd *redis_cmdv(struct redis *r, redis_reply_fn *fn, void *arg, int argc,
                             const char **argv, const size_t *lens)
{
    struct redis_cmd *c = cmd_new(r, fn, arg);
    int sent = r->state == LINK_UP && !r->channel &&
               redisAsyncCommandArgv(r->ac, reply_cb, c, argc, argv, lens) == REDIS_OK;
    return cmd_arm(c, sent);
}

struct redis_cmd *redis_cmdf(struct redis *r, redis_reply_fn *fn, void *arg, const char *fmt,
                             ...)
{
    struct redis_cmd *c = cmd_new(r, fn, arg);
    int sent = 0;
    if (r->state == LINK_UP && !r->channel) {
        va_list ap;
        va_start(ap, fmt);
        sent = redisvAsyncCommand(r->ac, reply_cb, c, fmt, ap) == REDIS_OK;
        va_end(ap);
    }
    return cmd_arm(c, sent);
}

void redis_cancel(struct redis_cmd *c)
{
    if (!c)
        return;
    c->fn = NULL;
    event_del(c->timer);
    if (!c->in_hiredis)
        cmd_unlink_free(c);
}

/* ---- subscriber -------------------------------------------------------- */

static void subscribed_cb(redisAsyncContext *ac, void *reply, void *priv)
{
    struct redis *r = priv;
    redisReply *rep = reply;
    if (!rep || !ac->data || ac != r->ac)
        return;
    if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 3 ||
        rep->element[0]->type != REDIS_REPLY_STRING)
        return;
    if (strcmp(rep->element[0]->str, "message") == 0 &&
        rep->element[1]->type == REDIS_REPLY_STRING &&
        rep->element[2]->type == REDIS_REPLY_STRING && r->on_message)
        r->on_message(r->message_arg, rep->element[1]->str, rep->element[2]->str,
                      rep->element[2]->len);
}

void redis_subscribe(struct redis *r, const char *channel, redis_message_fn *fn, void *arg)
{
    free(r->channel);
    r->channel = xstrdup(channel);
    r->on_message = fn;
    r->message_arg = arg;
    if (r->state == LINK_UP)
        redisAsyncCommand(r->ac, subscribed_cb, r, "SUBSCRIBE %s", r->channel);
}
