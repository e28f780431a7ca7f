/* Stored Responses-API responses (store: true, OpenAI's default): the whole
 * response object, so GET /v1/responses/{id} and item_reference inputs can be
 * answered, and the upstream conversation it lives on with the account that
 * owns it, so previous_response_id continues it natively. Kept in memory for
 * a configurable time, at most a configurable number; the oldest goes first.
 * Each entry belongs to one owner (a fingerprint of the API key or token the
 * client used), and no other owner can see it. No I/O: deleting the upstream
 * conversation of an evicted or deleted entry is the caller's job, through
 * the on_drop callback. */
#ifndef GLM_RESP_STORE_H
#define GLM_RESP_STORE_H

#include <jansson.h>
#include <stddef.h>

struct resp_entry {
    const char *id;             /* "resp_..." */
    const char *owner;          /* fingerprint of the client's credential */
    const char *conversation;   /* upstream conversation id, "" when none */
    const char *account;        /* fingerprint of the account it lives on, "" when none */
    const char *assistant;      /* assistant id of that conversation */
    const char *model;
    json_t *response;           /* the response object */
    long long created, expires; /* unix seconds */
};

struct resp_store;

/* on_drop runs for each entry that leaves the store (expired, evicted,
 * deleted, or at resp_store_free) with the entry still readable. */
typedef void (*resp_drop_fn)(void *arg, const struct resp_entry *e, int deleted_by_client);

struct resp_store *resp_store_new(size_t max_entries, long ttl_seconds, resp_drop_fn on_drop,
                                  void *arg);
void resp_store_free(struct resp_store *s);

/* Stores a copy of everything; the response is referenced (json_incref). An
 * entry with the same id is replaced. */
void resp_store_put(struct resp_store *s, const struct resp_entry *e, long long now);
/* The live entry with this id and owner, or NULL (borrowed until the next
 * call that changes the store). */
const struct resp_entry *resp_store_get(struct resp_store *s, const char *id, const char *owner,
                                        long long now);
/* The output item with this id in any live response of this owner
 * (borrowed), or NULL. */
json_t *resp_store_item(struct resp_store *s, const char *item_id, const char *owner,
                        long long now);
/* Removes the entry (on_drop with deleted_by_client 1). 0, or -1 when absent. */
int resp_store_del(struct resp_store *s, const char *id, const char *owner, long long now);
/* Drops expired entries; returns how many. */
size_t resp_store_expire(struct resp_store *s, long long now);
size_t resp_store_count(const struct resp_store *s);

#endif
