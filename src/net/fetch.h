/* Downloads of URLs chosen by clients (attachments, b64_json images) on the
 * curl loop, behind an SSRF guard.
 *
 * The guard checks the address actually connected to, after DNS and on every
 * redirect: CURLOPT_OPENSOCKETFUNCTION refuses a forbidden address before the
 * socket exists, and CURLOPT_PREREQFUNCTION checks again before each request
 * (a connection curl reused never passes the socket callback). Only http and
 * https, for the first URL and every redirect. No proxy (its address would
 * hide the real one), no connection reuse. Forbidden by default: loopback,
 * private (RFC 1918), CGNAT, link-local, unique-local, multicast, broadcast,
 * unspecified, documentation, benchmarking and other reserved blocks, in IPv4
 * and IPv6, IPv4-mapped, NAT64 and 6to4 addresses by their IPv4 part. An
 * allow-list (hosts, addresses, CIDR ranges) lifts the rule for its entries. */
#ifndef GLM_FETCH_H
#define GLM_FETCH_H

#include <stddef.h>

#include <sys/socket.h>

struct curl_loop;
struct fetch_allow;
struct fetch;

/* Parses a comma-separated allow-list. Entries: a host name (matches the
 * URL's host exactly, case-insensitively), an IPv4 or IPv6 address, a CIDR
 * range ("10.1.0.0/16", "fd00::/8"). A host or an address may name one port:
 * "files.lan:8080", "127.0.0.1:9000", "[::1]:9000". Spaces around entries are
 * ignored; "" is an empty list. Returns a new list, or NULL with the reason
 * in err. */
struct fetch_allow *fetch_allow_parse(const char *list, char *err, size_t errlen);
void fetch_allow_free(struct fetch_allow *a);

/* The guard, pure: NULL when a connection to sa is allowed, else the name of
 * the rule that forbids it ("loopback", "private (RFC 1918)", ...). host and
 * url_port are those of the URL being fetched (for host entries of the
 * allow-list); allow and host may be NULL. */
const char *fetch_addr_refusal(const struct sockaddr *sa, const struct fetch_allow *allow,
                               const char *host, int url_port);
/* The same for an address as text ("10.0.0.1", "::1", "[::ffff:127.0.0.1]")
 * and a port. An unparsable address is refused ("not an IP address"). */
const char *fetch_ip_refusal(const char *ip, int port, const struct fetch_allow *allow,
                             const char *host, int url_port);

/* Checks that url is an http or https URL with a host. Copies the host
 * (without IPv6 brackets) to host. Returns 0, or -1 with a reason in err. */
int fetch_url_check(const char *url, char *host, size_t hostlen, char *err, size_t errlen);

enum fetch_status {
    FETCH_OK,           /* a 2xx answer, body in data */
    FETCH_BAD_URL,      /* not an http(s) URL */
    FETCH_REFUSED,      /* the guard refused the address */
    FETCH_TOO_BIG,      /* the body passed max_bytes: stopped there */
    FETCH_TIMEOUT,      /* connect or total timeout */
    FETCH_HTTP,         /* the answer's status was not 2xx */
    FETCH_FAILED,       /* DNS, connect, TLS, reset, too many redirects */
};

struct fetch_opts {
    size_t max_bytes;           /* cap on the body */
    long connect_timeout;       /* s */
    long timeout;               /* s for the whole download */
    long max_redirects;
    const struct fetch_allow *allow;  /* borrowed; may be NULL */
    const char *rid;            /* names the request in the log; may be NULL */
};

struct fetch_result {
    enum fetch_status status;
    long http_status;           /* of the last answer, 0 when there was none */
    unsigned char *data;        /* the body (NUL-terminated); owned by the fetch:
                                   set it to NULL to take it (then free()) */
    size_t len;
    char content_type[128];     /* lower case, without parameters; "" when none */
    char host[256];             /* the host the failure is about (or the URL's) */
    char error[512];            /* a human-readable reason on failure; names the host */
};

/* Called once when the download ends; the fetch is freed when it returns. */
typedef void fetch_done_fn(void *arg, struct fetch_result *res);

/* Starts a download. done is never called before fetch_start returns (a bad
 * URL is reported from the loop). Returns NULL only when libcurl refused to
 * start the transfer. */
struct fetch *fetch_start(struct curl_loop *l, const char *url, const struct fetch_opts *o,
                          fetch_done_fn *done, void *arg);
/* Stops a download without calling done. Accepts NULL. Not from inside its
 * own done callback. */
void fetch_cancel(struct fetch *f);

#endif
