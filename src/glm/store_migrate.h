/* --migrate-state: the SQLite account store copied into Redis, once. */
#ifndef GLM_STORE_MIGRATE_H
#define GLM_STORE_MIGRATE_H

struct event_base;
struct store;
struct redis;

/* Waits up to wait_ms for r to come up, copies every record of from (SQLite)
 * into to (Redis on r), and returns the process exit status: 0 when every
 * record was copied or kept, 1 otherwise (logged). */
int store_migrate(struct event_base *base, struct store *from, struct store *to,
                  struct redis *r, int wait_ms);

#endif
