/* Access tokens for refresh tokens: refresh calls, a cache until shortly
 * before the JWT's exp, coalescing of concurrent refreshes, invalidation on
 * 40103, and the refresh token the site rotates to. */
#ifndef GLM_SESSION_H
#define GLM_SESSION_H

#include <stddef.h>

struct curl_loop;
struct store;
struct session_mgr;
struct session_wait;

enum session_result {
    SESSION_OK,
    SESSION_REJECTED,   /* the site refused the refresh token (401 / 40102) */
    SESSION_FAILED,     /* network error, 5xx, an answer that is not the expected JSON */
    SESSION_TIMEOUT,
    SESSION_UNAVAILABLE, /* the account store (Redis) cannot be reached: nothing was tried */
    SESSION_GUEST,      /* the refresh answer said "is_guest":true: a visitor's token, not a
                           login (spec 12.1); the account is not to be used */
};

/* access_token is borrowed for the duration of the call; detail is a short
 * human-readable reason on failure (never containing a token). */
typedef void session_fn(void *arg, enum session_result res, const char *access_token,
                        const char *detail);

/* store may be NULL (rotations then live in memory only). */
struct session_mgr *session_mgr_new(struct curl_loop *loop, struct store *store);
/* state = redis: every refresh of an account takes the shared lock
 * "refresh:<key>", reads the record another replica may have just written
 * (and uses its access token when still valid), and writes the rotated
 * refresh token with the access token in one command before unlocking. */
struct shared;
void session_mgr_share(struct session_mgr *m, struct shared *shared);
/* Cancels refreshes in flight; their waiters are not called. */
void session_mgr_free(struct session_mgr *m);

/* Gets an access token for refresh_token. When one is cached, fn is called
 * before session_get returns and NULL is returned; otherwise a refresh is
 * started (or joined) and the returned handle can cancel the wait. */
struct session_wait *session_get(struct session_mgr *m, const char *refresh_token, session_fn *fn,
                                 void *arg);
void session_wait_cancel(struct session_wait *w);

/* Like session_get, but always asks the site (a liveness check). */
struct session_wait *session_check(struct session_mgr *m, const char *refresh_token,
                                   session_fn *fn, void *arg);

/* The site rejected this access token (40103): drop it from the cache. */
void session_invalidate(struct session_mgr *m, const char *refresh_token,
                        const char *access_token);

/* 1 when the last refresh of refresh_token said it is a guest's (a visitor's
 * token, not a login: spec 12, "Guests"). */
int session_is_guest(struct session_mgr *m, const char *refresh_token);

/* Refresh calls made so far (for tests and metrics). */
unsigned long session_refreshes(const struct session_mgr *m);

/* Parses the "exp" claim of a JWT (no signature check). Returns 0 or -1. */
int session_jwt_exp(const char *jwt, long long *exp);
/* Until when an access token of this exp is used, refreshed at now: 10
 * minutes before exp, or after 3/4 of a life shorter than 40 minutes;
 * now itself (refresh every time) for a token already expired. */
long long session_expiry(long long now, long long exp);
/* The "device_id" claim of a JWT (hex, 8 or more digits, shorter than
 * outlen), into out. Returns 0, or -1 with out "" when there is none. */
int session_jwt_device_id(const char *jwt, char *out, size_t outlen);

#endif
