/* The SSRF rules (net/guard), on memory: no socket, no DNS. Byte 0 picks:
 *   0: the input is an allow-list; then each of a few addresses is asked.
 *   1: the input is a URL for the URL check.
 *   2: the input is an address (and byte 1 a port).
 * Oracles: a refused list or URL says why; a URL that passes is http(s) with
 * a host; a refusal is a named rule; an address that is refused on its own is
 * let through by an allow-list holding just that address. */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "fuzz.h"
#include "net/guard.h"

static const char *const probes[] = { "127.0.0.1", "10.1.2.3", "::1", "fd00::5", "8.8.8.8",
                                      "::ffff:192.168.1.1", "169.254.169.254", "[::1]" };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 4096)
        return 0;
    unsigned mode = data[0] % 3;
    char *s = malloc(size);
    FUZZ_ASSERT(s);
    memcpy(s, data + 1, size - 1);
    s[size - 1] = '\0';
    char err[256] = "";
    if (mode == 0) {
        struct guard_allow *al = guard_allow_parse(s, err, sizeof(err));
        if (!al) {
            FUZZ_ASSERT(err[0]);
        } else {
            for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
                const char *r = guard_ip_refusal(probes[i], 443, al, "files.lan", 443);
                FUZZ_ASSERT(!r || r[0]);
            }
            guard_allow_free(al);
        }
    } else if (mode == 1) {
        char host[256];
        if (guard_url_check(s, host, sizeof(host), err, sizeof(err)) == 0)
            FUZZ_ASSERT((strncasecmp(s, "http://", 7) == 0 || strncasecmp(s, "https://", 8) == 0) &&
                        host[0]);
        else
            FUZZ_ASSERT(err[0]);
    } else {
        int port = size > 1 ? 1 + data[1] : 80;
        const char *ip = size > 1 ? s + 1 : s;
        const char *r = guard_ip_refusal(ip, port, NULL, NULL, port);
        FUZZ_ASSERT(!r || r[0]);
        int plain = *ip && strcspn(ip, ",/ \t\n\r\v\f") == strlen(ip);
        if (r && plain && strcmp(r, "not an IP address") != 0) {
            struct guard_allow *al = guard_allow_parse(ip, err, sizeof(err));
            if (al) {
                FUZZ_ASSERT(guard_ip_refusal(ip, port, al, NULL, port) == NULL);
                guard_allow_free(al);
            }
        }
    }
    free(s);
    return 0;
}
