/* The account sets of Authorization token lists ("Bearer t1,t2,..."): a list
 * is split, its accounts found or created and made into one account set the
 * first time it is seen; requests that send the same header again reuse
 * that set, so their cost does not grow with the list. Entries are keyed by
 * the SHA-256 of the header: the cache keeps no copy of it. At most max
 * lists, and AUTHCACHE_MAX_TOKENS accounts in all, are kept (a cached set
 * keeps its accounts in the pool); the least recently used list is dropped
 * first. A list longer than that on its own is parsed for each request. */
#ifndef GLM_API_AUTHCACHE_H
#define GLM_API_AUTHCACHE_H

#include <stddef.h>

struct account_pool;
struct account_set;
struct authcache;

#define AUTHCACHE_MAX 256
#define AUTHCACHE_MAX_TOKENS 8192

struct authcache *authcache_new(size_t max, size_t max_tokens);
/* Gives back the cached sets (before accounts_free). */
void authcache_free(struct authcache *c, struct account_pool *p);
/* The set of the tokens authorization names, with a reference for the
 * caller (accounts_set_unref); NULL when it names none. */
struct account_set *authcache_get(struct authcache *c, struct account_pool *p,
                                  const char *authorization);
size_t authcache_count(const struct authcache *c);
/* Lookups served from the cache and lists parsed (tests, metrics). */
unsigned long authcache_hits(const struct authcache *c);
unsigned long authcache_misses(const struct authcache *c);

#endif
