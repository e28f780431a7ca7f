/* The Redis URL of --redis-url (net/redis): any text must parse or be refused
 * without a crash; what parses has its parts within their caps, a port in
 * range, and an error never quotes the password. */
#include <string.h>

#include "fuzz.h"
#include "net/redis.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    memcpy(s, data, size);
    s[size] = 0;
    struct redis_url u;
    char err[200];
    err[0] = 0;
    if (redis_url_parse(s, &u, err, sizeof(err)) == 0) {
        FUZZ_ASSERT(memchr(u.host, 0, sizeof(u.host)) && memchr(u.path, 0, sizeof(u.path)));
        FUZZ_ASSERT(memchr(u.password, 0, sizeof(u.password)) && memchr(u.user, 0, sizeof(u.user)));
        FUZZ_ASSERT(u.is_unix ? u.path[0] == '/' : (u.host[0] && u.port >= 1 && u.port <= 65535));
        FUZZ_ASSERT(u.db >= 0 && u.db <= 99999);
        char where[400];
        redis_url_describe(&u, where, sizeof(where));
        FUZZ_ASSERT(strlen(where) < sizeof(where));
    } else {
        FUZZ_ASSERT(err[0] && strlen(err) < sizeof(err));
    }
    free(s);
    return 0;
}
