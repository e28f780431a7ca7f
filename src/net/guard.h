/* The SSRF guard's rules, pure (no socket, no transfer): which addresses a
 * download of a client-chosen URL may reach, an allow-list that lifts the rule
 * for its entries, and the URL check (http and https only, with a host).
 *
 * Forbidden by default: loopback, private (RFC 1918), CGNAT, link-local,
 * unique-local, multicast, broadcast, unspecified, documentation,
 * benchmarking and other reserved blocks, in IPv4 and IPv6, IPv4-mapped,
 * NAT64 and 6to4 addresses by their IPv4 part. net/fetch.c asks these rules
 * about the address actually connected to, after DNS and on every redirect. */
#ifndef GLM_GUARD_H
#define GLM_GUARD_H

#include <stddef.h>

#include <sys/socket.h>

struct guard_allow;

/* Parses a comma-separated allow-list. Entries: a host name (matches the
 * URL's host exactly, case-insensitively), an IPv4 or IPv6 address, a CIDR
 * range ("10.1.0.0/16", "fd00::/8"). A host or an address may name one port:
 * "files.lan:8080", "127.0.0.1:9000", "[::1]:9000". Spaces around entries are
 * ignored; "" is an empty list. Returns a new list, or NULL with the reason
 * in err. */
struct guard_allow *guard_allow_parse(const char *list, char *err, size_t errlen);
void guard_allow_free(struct guard_allow *a);

/* The guard, pure: NULL when a connection to sa is allowed, else the name of
 * the rule that forbids it ("loopback", "private (RFC 1918)", ...). host and
 * url_port are those of the URL being fetched (for host entries of the
 * allow-list); allow and host may be NULL. */
const char *guard_addr_refusal(const struct sockaddr *sa, const struct guard_allow *allow,
                               const char *host, int url_port);
/* The same for an address as text ("10.0.0.1", "::1", "[::ffff:127.0.0.1]")
 * and a port. An unparsable address is refused ("not an IP address"). */
const char *guard_ip_refusal(const char *ip, int port, const struct guard_allow *allow,
                             const char *host, int url_port);

/* Checks that url is an http or https URL with a host. Copies the host
 * (without IPv6 brackets) to host. Returns 0, or -1 with a reason in err. */
int guard_url_check(const char *url, char *host, size_t hostlen, char *err, size_t errlen);

/* Scheme (lower case), host (without IPv6 brackets) and port (the scheme's
 * default when the URL names none; 0 when unknown) of url. 0, or -1 with a
 * reason in err. */
int guard_url_parts(const char *url, char *scheme, size_t slen, char *host, size_t hlen, int *port,
                    char *err, size_t errlen);

#endif
