/* A string-keyed hash map for the mock's tables (accounts, tokens,
 * conversations). Entries are never removed one by one, only all at once by
 * freeing the map, so iteration can follow insertion order cheaply. */
#ifndef MOCK_MAP_H
#define MOCK_MAP_H

#include <stddef.h>

struct mock_map;

/* free_value (may be NULL) releases a value when the map is freed or the
 * value is replaced. */
struct mock_map *mock_map_new(void (*free_value)(void *));
void mock_map_free(struct mock_map *m);
/* Borrowed value, or NULL. */
void *mock_map_get(const struct mock_map *m, const char *key);
/* Inserts or replaces; the key is copied, the map owns the value. */
void mock_map_put(struct mock_map *m, const char *key, void *value);
size_t mock_map_count(const struct mock_map *m);
/* Calls fn for every entry, in insertion order. */
void mock_map_each(const struct mock_map *m,
                   void (*fn)(const char *key, void *value, void *arg), void *arg);

#endif
