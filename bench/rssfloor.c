/* bench/rssfloor: the resident memory a process has before it does any work,
 * only for linking the libraries the server links (the same pkg-config
 * list). Prints "main_kb=N init_kb=M": VmRSS on entering main() (the dynamic
 * loader and the libraries' constructors have run), and after the one-time
 * set-up every libcurl program must do (curl_global_init). The server's idle
 * RSS is measured against these. */
#include <stdio.h>
#include <string.h>

#include <curl/curl.h>
#include <event2/event.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <sqlite3.h>

static long rss_kb(void)
{
    char line[256];
    long kb = -1;
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return -1;
    while (fgets(line, sizeof(line), f))
        if (strncmp(line, "VmRSS:", 6) == 0)
            sscanf(line + 6, "%ld", &kb);
    fclose(f);
    return kb;
}

int main(void)
{
    long at_main = rss_kb();
    curl_global_init(CURL_GLOBAL_DEFAULT);
    long after_init = rss_kb();
    /* Keep every library a real dependency (no --as-needed drop). */
    volatile const void *keep[] = { (const void *)event_get_version, (const void *)jansson_version_str,
                                    (const void *)OpenSSL_version, (const void *)sqlite3_libversion };
    (void)keep;
    printf("main_kb=%ld init_kb=%ld\n", at_main, after_init);
    curl_global_cleanup();
    return 0;
}
