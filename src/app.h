/* The process-wide state shared by the endpoints: one event loop, one curl
 * multi handle, the token sessions, the HTTP server. */
#ifndef GLM_APP_H
#define GLM_APP_H

struct event_base;
struct curl_loop;
struct session_mgr;
struct http_server;
struct account_pool;
struct account_set;
struct authcache;
struct store;
struct redis;
struct shared;

struct app {
    struct event_base *base;
    struct curl_loop *curl;
    struct session_mgr *sessions;
    struct http_server *http;
    struct account_pool *accounts;
    struct store *store;            /* NULL when the store could not be opened */
    struct redis *redis;            /* state = redis: the link to the shared state */
    struct shared *shared;          /* state = redis: locks shared by the replicas */
    char replica[96];               /* this replica's name (state = redis) */
    struct account **configured;    /* the server-side accounts */
    size_t nconfigured;
    struct account_set *configured_set; /* the same as one account set, or NULL */
    struct authcache *auth;         /* account sets of Authorization lists */
    long long started;             /* unix seconds */
    int stopping;                  /* a stop signal arrived */
    unsigned long requests;        /* served so far */
    unsigned jobs_running;         /* jobs in progress: chat answers, drawings */
};

extern struct app app;

#endif
