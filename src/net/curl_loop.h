/* libcurl's multi-socket API driven by the libevent loop (the hiperfifo
 * pattern): one multi handle, one timer, one event per socket. Transfers end
 * in a callback that runs after curl_multi_socket_action() has returned, so
 * it may free, add or remove handles freely. */
#ifndef GLM_CURL_LOOP_H
#define GLM_CURL_LOOP_H

#include <curl/curl.h>

struct event_base;
struct curl_loop;

/* Called once when a transfer ends; the easy handle has been removed from the
 * multi handle and belongs to the callback again (to clean up or reuse). */
typedef void curl_done_fn(void *arg, CURL *easy, CURLcode result);

struct curl_loop *curl_loop_new(struct event_base *base);
/* Removes every running transfer (their done callbacks are not called). */
void curl_loop_free(struct curl_loop *l);

/* Starts a transfer. Uses CURLOPT_PRIVATE of easy. Returns 0 or -1. */
int curl_loop_add(struct curl_loop *l, CURL *easy, curl_done_fn *done, void *arg);
/* Stops a running transfer at once without calling its done callback; the
 * easy handle belongs to the caller again. Must not be called from inside a
 * libcurl callback (write, header, ...). */
void curl_loop_remove(struct curl_loop *l, CURL *easy);
/* An easy handle with default options: a spare one when there is one
 * (creating and destroying a handle for every call cost as much as a tenth
 * of a short answer), else a new one; NULL when out of memory. */
CURL *curl_loop_easy(struct curl_loop *l);
/* Gives back a handle that is in no transfer: kept as a spare (reset to the
 * defaults) or cleaned up when there are enough. NULL is ignored. */
void curl_loop_easy_put(struct curl_loop *l, CURL *easy);
#define CURL_LOOP_SPARE 32
struct event_base *curl_loop_base(const struct curl_loop *l);
/* Running transfers. */
unsigned curl_loop_running(const struct curl_loop *l);

#endif
