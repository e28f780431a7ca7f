/* bench/loadgen: the benchmark's own HTTP/1.1 load client, for what wrk
 * cannot do: time the first token of a stream, give every connection its
 * own account token, hang up in the middle of a stream, hold thousands of
 * slow streams at a bounded connect rate, sample a server's RSS at a given
 * request count, and time a server's start-up. Loopback only: it connects to
 * 127.0.0.1 and nothing else.
 *
 *   loadgen -p PORT [-c CONNS] (-n REQUESTS | -d SECONDS) [-P PATH]
 *           [-b BODYFILE]... [-k TOKEN_SUFFIX | -T TOKENFILE] [-m FIRST_MARKER]
 *           [-e END_MARKER] [-E ERROR_MARKER] [-g GAP_MS] [-x ABORT_PERCENT]
 *           [-r CONNECTS_PER_S] [-t TIMEOUT_S] [-L LIMIT_S] [-O SAVEFILE]
 *           [-W PID [-N AT_COMPLETIONS]] [-K POOL]
 *   loadgen -p PORT -S -- COMMAND ARGS...     (start-up time to a served /ping)
 *
 * Each connection sends its requests one after another (keep-alive), with a
 * pause of GAP_MS between them (-g; the connections then start spread over
 * one gap, so that the load is even); the bodies (-b, up to 8) are used in
 * turn. -k gives connection i the header
 * "Authorization: Bearer <i>-<suffix>" (one account per connection, so no
 * two requests of a run share an account); with -K POOL, request n names
 * account n % POOL instead; -T gives connection i line i of a file. -L
 * bounds the whole run (what is still running then counts as timed out).
 * A request is an error when its status is not 200, the connection breaks,
 * it times out, its body lacks END_MARKER or contains ERROR_MARKER. With -x,
 * that share of requests is dropped by the client right after the first
 * marker (counted as aborted, not as errors). Prints one line of key=value
 * pairs starting with "LOADGEN". */
#define _GNU_SOURCE /* memmem */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#define MAX_BODIES 8
#define MAX_MARK 64

enum rstate { RS_IDLE, RS_HEAD, RS_BODY_LEN, RS_CHUNK_SIZE, RS_CHUNK_DATA, RS_CHUNK_CRLF,
              RS_TRAILER };

/* Finds a fixed string in a byte stream that arrives in pieces. */
struct finder {
    const char *pat;
    size_t len;
    char carry[MAX_MARK];
    size_t ncarry;
    int found;
};

struct conn {
    struct gen *g;
    int idx;
    struct bufferevent *bev;
    struct event *timer;
    enum rstate st;
    int status;
    int chunked, close_after;
    size_t remaining;
    double t_send, t_first;
    int abort_this;
    struct finder first, end, err;
    FILE *save;
    int busy;               /* a request is in flight */
    int failed;             /* the connection broke */
};

struct gen {
    struct event_base *base;
    int port;
    int conns;
    long total;             /* requests to start (-n), or -1 */
    double deadline;        /* stop starting (-d), or 0 */
    const char *path;
    char *bodies[MAX_BODIES];
    size_t body_len[MAX_BODIES];
    int nbodies;
    const char *token_suffix;
    long token_pool;        /* -K: account by request number, not connection */
    char **tokens;
    size_t ntokens;
    const char *m_first, *m_end, *m_err;
    int gap_ms, abort_pct, timeout_s;
    double ramp;            /* connects per second, 0 = all at once */
    const char *save_path;
    int rss_pid;
    long rss_at;
    long rss_at_kb;

    struct conn *c;
    long started, done, ok, aborted;
    long err_status, err_conn, err_timeout, err_body;
    long open_now, open_peak;
    double *lat, *ttft;
    size_t nlat, nttft, cap_lat, cap_ttft;
    double t_start;
    int connected;          /* connections opened so far */
    struct event *ramp_ev;
    unsigned long long rnd;
};

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static void finder_init(struct finder *f, const char *pat)
{
    memset(f, 0, sizeof(*f));
    f->pat = pat;
    f->len = pat ? strlen(pat) : 0;
}

/* Looks for the pattern in carry + data without copying data. */
static void finder_feed(struct finder *f, const char *data, size_t n)
{
    if (!f->len || f->found || !n)
        return;
    if (f->ncarry) {
        char tmp[2 * MAX_MARK];
        size_t take = n < f->len - 1 ? n : f->len - 1;
        memcpy(tmp, f->carry, f->ncarry);
        memcpy(tmp + f->ncarry, data, take);
        if (memmem(tmp, f->ncarry + take, f->pat, f->len)) {
            f->found = 1;
            return;
        }
    }
    if (memmem(data, n, f->pat, f->len)) {
        f->found = 1;
        return;
    }
    /* Keep the last len-1 bytes seen. */
    size_t keep = f->len - 1;
    if (n >= keep) {
        memcpy(f->carry, data + n - keep, keep);
        f->ncarry = keep;
    } else {
        size_t old = f->ncarry + n > keep ? keep - n : f->ncarry;
        memmove(f->carry, f->carry + f->ncarry - old, old);
        memcpy(f->carry + old, data, n);
        f->ncarry = old + n;
    }
}

static void push(double **v, size_t *n, size_t *cap, double x)
{
    if (*n == *cap) {
        *cap = *cap ? 2 * *cap : 4096;
        *v = realloc(*v, *cap * sizeof(**v));
        if (!*v)
            abort();
    }
    (*v)[(*n)++] = x;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct(double *v, size_t n, double p)
{
    if (!n)
        return -1;
    size_t i = (size_t)(p / 100.0 * (double)(n - 1) + 0.5);
    return v[i < n ? i : n - 1];
}

/* A "Name:  N kB" line of /proc/<pid>/status, or -1. */
static long status_kb(int pid, const char *name)
{
    char path[64], line[256];
    size_t n = strlen(name);
    long kb = -1;
    snprintf(path, sizeof(path), "/proc/%d/status", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    while (fgets(line, sizeof(line), f))
        if (strncmp(line, name, n) == 0 && line[n] == ':')
            kb = strtol(line + n + 1, NULL, 10);
    fclose(f);
    return kb;
}

static long rss_kb(int pid)
{
    return status_kb(pid, "VmRSS");
}

static void conn_open(struct conn *c);
static void conn_send(struct conn *c);

static int more_to_start(const struct gen *g)
{
    if (g->total >= 0 && g->started >= g->total)
        return 0;
    if (g->deadline > 0 && now_ms() >= g->deadline)
        return 0;
    return 1;
}

static void maybe_stop(struct gen *g)
{
    if (g->open_now == 0 && !more_to_start(g))
        event_base_loopexit(g->base, NULL);
    if (g->open_now == 0 && g->deadline > 0 && now_ms() >= g->deadline)
        event_base_loopexit(g->base, NULL);
}

static void conn_close(struct conn *c)
{
    if (c->bev) {
        bufferevent_free(c->bev);
        c->bev = NULL;
        c->g->open_now--;
    }
    if (c->save) {
        fclose(c->save);
        c->save = NULL;
    }
}

/* The current request is over: ok, an error of some kind, or aborted. */
static void request_end(struct conn *c, long *err_counter, int aborted)
{
    struct gen *g = c->g;
    double t = now_ms();

    c->busy = 0;
    g->done++;
    if (aborted) {
        g->aborted++;
    } else if (err_counter) {
        (*err_counter)++;
    } else {
        g->ok++;
        push(&g->lat, &g->nlat, &g->cap_lat, t - c->t_send);
    }
    if (c->t_first > 0 && !err_counter)
        push(&g->ttft, &g->nttft, &g->cap_ttft, c->t_first - c->t_send);
    if (g->rss_pid && g->rss_at > 0 && g->done == g->rss_at)
        g->rss_at_kb = rss_kb(g->rss_pid);
    evtimer_del(c->timer);
}

/* After a request: the next one on this connection (or a new connection). */
static void conn_next(struct conn *c, int reuse)
{
    struct gen *g = c->g;

    if (!reuse)
        conn_close(c);
    if (!more_to_start(g)) {
        conn_close(c);
        maybe_stop(g);
        return;
    }
    /* After a broken connection, a pause: a dead server must not make us
     * reconnect in a tight loop. */
    int ms = !reuse && c->failed && g->gap_ms < 10 ? 10 : g->gap_ms;
    c->failed = 0;
    if (ms > 0) {
        struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
        c->st = RS_IDLE;
        evtimer_add(c->timer, &tv);
        return;
    }
    if (c->bev)
        conn_send(c);
    else
        conn_open(c);
}

static void body_bytes(struct conn *c, const char *p, size_t n)
{
    finder_feed(&c->first, p, n);
    finder_feed(&c->end, p, n);
    finder_feed(&c->err, p, n);
    if (c->save)
        fwrite(p, 1, n, c->save);
    if (c->first.found && c->t_first == 0)
        c->t_first = now_ms();
}

static void response_done(struct conn *c)
{
    struct gen *g = c->g;
    long *err = NULL;

    if (c->status != 200)
        err = &g->err_status;
    else if ((c->end.len && !c->end.found) || c->err.found)
        err = &g->err_body;
    request_end(c, err, 0);
    conn_next(c, !c->close_after);
}

/* Moves through the response; returns 0 to wait for more bytes, -1 when the
 * connection was closed or reused (stop reading). */
static int parse(struct conn *c)
{
    struct evbuffer *in = bufferevent_get_input(c->bev);

    for (;;) {
        switch (c->st) {
        case RS_IDLE:
            evbuffer_drain(in, evbuffer_get_length(in));
            return 0;
        case RS_HEAD: {
            size_t n;
            char *line = evbuffer_readln(in, &n, EVBUFFER_EOL_CRLF);
            if (!line)
                return 0;
            if (c->status == 0) {
                if (strncmp(line, "HTTP/1.", 7) != 0 || n < 12) {
                    free(line);
                    request_end(c, &c->g->err_conn, 0);
                    conn_next(c, 0);
                    return -1;
                }
                c->status = atoi(line + 9);
            } else if (n == 0) {
                c->st = c->chunked ? RS_CHUNK_SIZE : RS_BODY_LEN;
            } else if (strncasecmp(line, "content-length:", 15) == 0) {
                c->remaining = strtoul(line + 15, NULL, 10);
            } else if (strncasecmp(line, "transfer-encoding:", 18) == 0 && strstr(line, "chunked")) {
                c->chunked = 1;
            } else if (strncasecmp(line, "connection:", 11) == 0 && strstr(line, "close")) {
                c->close_after = 1;
            }
            free(line);
            break;
        }
        case RS_BODY_LEN: {
            size_t avail = evbuffer_get_length(in);
            size_t take = avail < c->remaining ? avail : c->remaining;
            if (take) {
                struct evbuffer_iovec v[16];
                int k = evbuffer_peek(in, (ev_ssize_t)take, NULL, v, 16);
                size_t seen = 0;
                for (int i = 0; i < k && i < 16 && seen < take; i++) {
                    size_t m = v[i].iov_len < take - seen ? v[i].iov_len : take - seen;
                    body_bytes(c, v[i].iov_base, m);
                    seen += m;
                }
                evbuffer_drain(in, seen);
                c->remaining -= seen;
            }
            if (c->remaining == 0) {
                response_done(c);
                return -1;
            }
            return 0;
        }
        case RS_CHUNK_SIZE: {
            size_t n;
            char *line = evbuffer_readln(in, &n, EVBUFFER_EOL_CRLF);
            if (!line)
                return 0;
            c->remaining = strtoul(line, NULL, 16);
            free(line);
            c->st = c->remaining ? RS_CHUNK_DATA : RS_TRAILER;
            break;
        }
        case RS_CHUNK_DATA: {
            size_t avail = evbuffer_get_length(in);
            if (!avail)
                return 0;
            size_t take = avail < c->remaining ? avail : c->remaining;
            struct evbuffer_iovec v[16];
            int k = evbuffer_peek(in, (ev_ssize_t)take, NULL, v, 16);
            size_t seen = 0;
            for (int i = 0; i < k && i < 16 && seen < take; i++) {
                size_t m = v[i].iov_len < take - seen ? v[i].iov_len : take - seen;
                body_bytes(c, v[i].iov_base, m);
                seen += m;
            }
            evbuffer_drain(in, seen);
            c->remaining -= seen;
            if (c->remaining == 0)
                c->st = RS_CHUNK_CRLF;
            if (c->abort_this && c->first.found) {
                /* Hang up in the middle of the stream. */
                request_end(c, NULL, 1);
                conn_next(c, 0);
                return -1;
            }
            break;
        }
        case RS_CHUNK_CRLF: {
            if (evbuffer_get_length(in) < 2)
                return 0;
            evbuffer_drain(in, 2);
            c->st = RS_CHUNK_SIZE;
            break;
        }
        case RS_TRAILER: {
            size_t n;
            char *line = evbuffer_readln(in, &n, EVBUFFER_EOL_CRLF);
            if (!line)
                return 0;
            free(line);
            if (n == 0) {
                response_done(c);
                return -1;
            }
            break;
        }
        }
    }
}

static void read_cb(struct bufferevent *bev, void *arg)
{
    (void)bev;
    struct conn *c = arg;
    if (c->busy)
        (void)parse(c);
    else
        evbuffer_drain(bufferevent_get_input(c->bev), evbuffer_get_length(bufferevent_get_input(c->bev)));
}

static void event_cb(struct bufferevent *bev, short what, void *arg)
{
    (void)bev;
    struct conn *c = arg;
    if (what & BEV_EVENT_CONNECTED) {
        int one = 1;
        setsockopt(bufferevent_getfd(c->bev), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        conn_send(c);
        return;
    }
    /* EOF or error: the request in flight failed; a connection that broke
     * (or never connected) before its request counts as one failed request,
     * so that a run against a dead server ends. */
    if (!c->busy && (what & BEV_EVENT_ERROR)) {
        c->g->started++;
        c->busy = 1;
    }
    c->failed = 1;
    if (c->busy)
        request_end(c, &c->g->err_conn, 0);
    conn_next(c, 0);
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct conn *c = arg;
    if (c->busy) {
        request_end(c, &c->g->err_timeout, 0);
        conn_next(c, 0);
        return;
    }
    /* The gap between two requests is over. */
    if (!more_to_start(c->g)) {
        conn_close(c);
        maybe_stop(c->g);
    } else if (c->bev) {
        conn_send(c);
    } else {
        conn_open(c);
    }
}

static void conn_send(struct conn *c)
{
    struct gen *g = c->g;

    if (!more_to_start(g)) {
        conn_close(c);
        maybe_stop(g);
        return;
    }
    long k = g->started++;
    struct evbuffer *out = bufferevent_get_output(c->bev);
    int b = g->nbodies ? (int)(k % g->nbodies) : -1;
    evbuffer_add_printf(out, "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n", b >= 0 ? "POST" : "GET",
                        g->path, g->port);
    if (g->token_suffix)
        evbuffer_add_printf(out, "Authorization: Bearer %ld-%s\r\n",
                            g->token_pool ? k % g->token_pool : (long)c->idx, g->token_suffix);
    else if (g->ntokens)
        evbuffer_add_printf(out, "Authorization: Bearer %s\r\n", g->tokens[c->idx % g->ntokens]);
    if (b >= 0) {
        evbuffer_add_printf(out, "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
                            g->body_len[b]);
        evbuffer_add(out, g->bodies[b], g->body_len[b]);
    } else {
        evbuffer_add(out, "\r\n", 2);
    }
    c->st = RS_HEAD;
    c->status = 0;
    c->chunked = c->close_after = 0;
    c->remaining = 0;
    c->t_first = 0;
    c->busy = 1;
    finder_init(&c->first, g->m_first);
    finder_init(&c->end, g->m_end);
    finder_init(&c->err, g->m_err);
    g->rnd = g->rnd * 6364136223846793005ull + 1442695040888963407ull;
    c->abort_this = g->abort_pct > 0 && (int)((g->rnd >> 33) % 100) < g->abort_pct;
    if (g->save_path && !c->save)
        c->save = fopen(g->save_path, "w");
    else if (c->save)
        rewind(c->save);
    struct timeval tv = { g->timeout_s, 0 };
    evtimer_add(c->timer, &tv);
    c->t_send = now_ms();
}

static void conn_open(struct conn *c)
{
    struct gen *g = c->g;
    struct sockaddr_in sin;

    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_port = htons((unsigned short)g->port);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    c->bev = bufferevent_socket_new(g->base, -1, BEV_OPT_CLOSE_ON_FREE);
    bufferevent_setcb(c->bev, read_cb, NULL, event_cb, c);
    bufferevent_enable(c->bev, EV_READ | EV_WRITE);
    g->open_now++;
    if (g->open_now > g->open_peak)
        g->open_peak = g->open_now;
    c->busy = 0;
    if (bufferevent_socket_connect(c->bev, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
        g->err_conn++;
        conn_close(c);
        maybe_stop(g);
    }
}

/* Opens connections at the ramp rate (all at once without one). */
static void ramp_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct gen *g = arg;
    double elapsed = (now_ms() - g->t_start) / 1000.0;
    if (g->gap_ms > 0 && g->ramp <= 0 && g->connected == 0) {
        /* Paced: connection i starts i/conns of a gap late, so that the
         * requests are spread evenly instead of leaving in bursts. */
        for (int i = 0; i < g->conns; i++) {
            long us = (long)g->gap_ms * 1000 * i / g->conns;
            struct timeval tv = { us / 1000000, us % 1000000 };
            evtimer_add(g->c[i].timer, &tv);
        }
        g->connected = g->conns;
        return;
    }
    int want = g->ramp > 0 ? (int)(elapsed * g->ramp) + 1 : g->conns;
    if (want > g->conns)
        want = g->conns;
    while (g->connected < want && more_to_start(g)) {
        struct conn *c = &g->c[g->connected++];
        conn_open(c);
    }
    if (g->connected < g->conns && more_to_start(g)) {
        struct timeval tv = { 0, 10000 };
        evtimer_add(g->ramp_ev, &tv);
    } else {
        maybe_stop(g);
    }
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    if (!s || fread(s, 1, (size_t)n, f) != (size_t)n) {
        free(s);
        fclose(f);
        return NULL;
    }
    s[n] = '\0';
    fclose(f);
    *len = (size_t)n;
    return s;
}

/* -S: starts the command and times it to the first served GET /ping. */
static int spawn_mode(int port, char **argv)
{
    double t0 = now_ms();
    pid_t pid = fork();
    if (pid < 0)
        return 1;
    if (pid == 0) {
        execvp(argv[0], argv);
        _exit(127);
    }
    double served = -1;
    while (now_ms() - t0 < 10000) {
        int s = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in sin;
        memset(&sin, 0, sizeof(sin));
        sin.sin_family = AF_INET;
        sin.sin_port = htons((unsigned short)port);
        sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        int connected = connect(s, (struct sockaddr *)&sin, sizeof(sin)) == 0;
        struct sockaddr_in self;
        socklen_t slen = sizeof(self);
        /* A socket the kernel gave the very port it dialled connects to
         * itself and would keep the server from binding: drop it at once. */
        if (connected && getsockname(s, (struct sockaddr *)&self, &slen) == 0 &&
            self.sin_port == sin.sin_port)
            connected = 0;
        if (connected) {
            static const char req[] = "GET /ping HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
            char buf[256];
            ssize_t k = 0;
            if (write(s, req, sizeof(req) - 1) == (ssize_t)sizeof(req) - 1)
                k = read(s, buf, sizeof(buf) - 1);
            close(s);
            if (k > 12 && memcmp(buf, "HTTP/1.1 200", 12) == 0) {
                served = now_ms() - t0;
                break;
            }
        } else {
            close(s);
        }
        usleep(200);
    }
    long rss = rss_kb(pid), anon = status_kb(pid, "RssAnon");
    kill(pid, SIGTERM);
    int st;
    waitpid(pid, &st, 0);
    printf("LOADGEN startup_ms=%.2f idle_rss_kb=%ld idle_anon_kb=%ld\n", served, rss, anon);
    return served < 0;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: loadgen -p PORT [-c CONNS] (-n REQUESTS | -d SECONDS) [-P PATH] [-b BODY]...\n"
            "               [-k TOKEN_SUFFIX | -T TOKENFILE] [-m FIRST] [-e END] [-E ERROR]\n"
            "               [-g GAP_MS] [-x ABORT_PERCENT] [-r CONNECTS_PER_S] [-t TIMEOUT_S]\n"
            "               [-L LIMIT_S] [-O SAVEFILE] [-W PID [-N AT]] [-K POOL]\n"
            "       loadgen -p PORT -S -- COMMAND ARGS...\n");
}

int main(int argc, char **argv)
{
    struct gen g;
    int opt, spawn = 0;
    double duration = 0, limit = 0;

    memset(&g, 0, sizeof(g));
    g.conns = 1;
    g.total = -1;
    g.path = "/v1/chat/completions";
    g.timeout_s = 120;
    g.rnd = 88172645463325252ull;
    while ((opt = getopt(argc, argv, "p:c:n:d:P:b:k:K:T:m:e:E:g:x:r:t:O:W:N:L:S")) != -1) {
        switch (opt) {
        case 'p': g.port = atoi(optarg); break;
        case 'c': g.conns = atoi(optarg); break;
        case 'n': g.total = atol(optarg); break;
        case 'd': duration = atof(optarg); break;
        case 'P': g.path = optarg; break;
        case 'b':
            if (g.nbodies == MAX_BODIES ||
                !(g.bodies[g.nbodies] = slurp(optarg, &g.body_len[g.nbodies]))) {
                fprintf(stderr, "loadgen: cannot use body %s\n", optarg);
                return 2;
            }
            g.nbodies++;
            break;
        case 'k': g.token_suffix = optarg; break;
        case 'K': g.token_pool = atol(optarg); break;
        case 'L': limit = atof(optarg); break;
        case 'T': {
            size_t n;
            char *s = slurp(optarg, &n), *save = NULL;
            if (!s) {
                fprintf(stderr, "loadgen: cannot read %s\n", optarg);
                return 2;
            }
            for (char *t = strtok_r(s, "\n", &save); t; t = strtok_r(NULL, "\n", &save)) {
                g.tokens = realloc(g.tokens, (g.ntokens + 1) * sizeof(*g.tokens));
                g.tokens[g.ntokens++] = t;
            }
            break;
        }
        case 'm': g.m_first = optarg; break;
        case 'e': g.m_end = optarg; break;
        case 'E': g.m_err = optarg; break;
        case 'g': g.gap_ms = atoi(optarg); break;
        case 'x': g.abort_pct = atoi(optarg); break;
        case 'r': g.ramp = atof(optarg); break;
        case 't': g.timeout_s = atoi(optarg); break;
        case 'O': g.save_path = optarg; break;
        case 'W': g.rss_pid = atoi(optarg); break;
        case 'N': g.rss_at = atol(optarg); break;
        case 'S': spawn = 1; break;
        default: usage(); return 2;
        }
    }
    if (g.port <= 0 || g.port > 65535 || g.conns < 1 ||
        (!spawn && g.total < 0 && duration <= 0) || (spawn && optind >= argc)) {
        usage();
        return 2;
    }
    if ((g.m_first && strlen(g.m_first) >= MAX_MARK) || (g.m_end && strlen(g.m_end) >= MAX_MARK) ||
        (g.m_err && strlen(g.m_err) >= MAX_MARK)) {
        fprintf(stderr, "loadgen: markers are at most %d bytes\n", MAX_MARK - 1);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    if (spawn)
        return spawn_mode(g.port, argv + optind);

    g.base = event_base_new();
    g.c = calloc((size_t)g.conns, sizeof(*g.c));
    for (int i = 0; i < g.conns; i++) {
        g.c[i].g = &g;
        g.c[i].idx = i;
        g.c[i].timer = evtimer_new(g.base, timer_cb, &g.c[i]);
    }
    g.t_start = now_ms();
    if (duration > 0)
        g.deadline = g.t_start + duration * 1000;
    g.ramp_ev = evtimer_new(g.base, ramp_cb, &g);
    ramp_cb(-1, 0, &g);
    if (limit > 0) {
        /* The whole run's bound: what is still running then is a timeout. */
        struct timeval tv = { (long)limit, (long)((limit - (long)limit) * 1e6) };
        event_base_loopexit(g.base, &tv);
    }
    event_base_dispatch(g.base);
    for (int i = 0; i < g.conns; i++)
        if (g.c[i].busy) {
            g.c[i].busy = 0;
            g.done++;
            g.err_timeout++;
        }
    double secs = (now_ms() - g.t_start) / 1000;

    long rss_end = -1;
    if (g.rss_pid) {
        /* Let the server finish what it defers (deletes, frees). */
        usleep(1000 * 1000);
        rss_end = rss_kb(g.rss_pid);
    }
    qsort(g.lat, g.nlat, sizeof(*g.lat), cmp_double);
    qsort(g.ttft, g.nttft, sizeof(*g.ttft), cmp_double);
    long errors = g.err_status + g.err_conn + g.err_timeout + g.err_body;
    printf("LOADGEN requests=%ld ok=%ld errors=%ld aborted=%ld err_status=%ld err_conn=%ld "
           "err_timeout=%ld err_body=%ld duration_s=%.3f rps=%.1f lat_p50_ms=%.3f "
           "lat_p99_ms=%.3f lat_max_ms=%.3f ttft_p50_ms=%.3f ttft_p99_ms=%.3f ttft_n=%zu "
           "open_peak=%ld rss_at_kb=%ld rss_end_kb=%ld\n",
           g.done, g.ok, errors, g.aborted, g.err_status, g.err_conn, g.err_timeout, g.err_body,
           secs, (double)g.ok / (secs > 0 ? secs : 1), pct(g.lat, g.nlat, 50),
           pct(g.lat, g.nlat, 99), g.nlat ? g.lat[g.nlat - 1] : -1, pct(g.ttft, g.nttft, 50),
           pct(g.ttft, g.nttft, 99), g.nttft, g.open_peak, g.rss_at_kb, rss_end);
    for (int i = 0; i < g.conns; i++) {
        conn_close(&g.c[i]);
        event_free(g.c[i].timer);
    }
    event_free(g.ramp_ev);
    event_base_free(g.base);
    free(g.c);
    free(g.lat);
    free(g.ttft);
    return 0;
}
