/* net/guard: the SSRF rules and the allow-list as pure functions (no network
 * at all). The downloads that apply them are test_fetch.c. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "net/guard.h"
#include "test.h"

/* ---- the guard, no network --------------------------------------------- */

static const char *refused(const char *ip)
{
    return guard_ip_refusal(ip, 80, NULL, NULL, 80);
}

TEST(loopback_private_link_local_cgnat_and_unspecified_ipv4_are_refused)
{
    static const char *const bad[] = {
        "127.0.0.1", "127.1.2.3", "10.0.0.1", "10.255.255.255", "172.16.0.1", "172.31.255.254",
        "192.168.0.1", "192.168.255.255", "100.64.0.1", "100.127.255.255", "169.254.169.254",
        "169.254.0.1", "0.0.0.0", "0.1.2.3", "224.0.0.1", "239.255.255.250", "255.255.255.255",
        "240.0.0.1", "192.0.2.10", "198.51.100.7", "203.0.113.9", "198.18.0.1", "192.0.0.8",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (!refused(bad[i]))
            printf("# %s was allowed\n", bad[i]);
        CHECK(refused(bad[i]) != NULL);
    }
    CHECK_STR(refused("127.0.0.1"), "loopback");
    CHECK_STR(refused("10.1.2.3"), "private (RFC 1918)");
    CHECK_STR(refused("172.16.5.4"), "private (RFC 1918)");
    CHECK_STR(refused("192.168.1.1"), "private (RFC 1918)");
    CHECK_STR(refused("100.64.0.1"), "shared CGNAT (100.64.0.0/10)");
    CHECK_STR(refused("169.254.169.254"), "link-local");
    CHECK_STR(refused("0.0.0.0"), "unspecified (0.0.0.0/8)");
    CHECK_STR(refused("224.0.0.251"), "multicast");
    CHECK_STR(refused("255.255.255.255"), "broadcast");
}

TEST(ipv6_loopback_link_local_unique_local_multicast_and_mapped_are_refused)
{
    static const char *const bad[] = {
        "::1", "::", "fe80::1", "fe80::1%eth0", "febf::1", "fc00::1", "fd12:3456::1", "ff02::1",
        "ff0e::1", "[::ffff:127.0.0.1]", "::ffff:127.0.0.1", "::ffff:7f00:1", "::ffff:10.0.0.1",
        "::ffff:169.254.169.254", "::ffff:0.0.0.0", "64:ff9b::127.0.0.1", "64:ff9b::a00:1",
        "2002:7f00:1::1", "2002:c0a8:101::", "2001:db8::1", "::127.0.0.1", "2001::1",
        "fec0::1", "100::1",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (!refused(bad[i]))
            printf("# %s was allowed\n", bad[i]);
        CHECK(refused(bad[i]) != NULL);
    }
    CHECK_STR(refused("::1"), "loopback");
    CHECK_STR(refused("::"), "unspecified (::)");
    CHECK_STR(refused("fe80::1"), "link-local");
    CHECK_STR(refused("fc00::1"), "unique-local (fc00::/7)");
    CHECK_STR(refused("ff02::1"), "multicast");
    /* IPv4-mapped, NAT64 and 6to4 addresses are judged by their IPv4 part. */
    CHECK_STR(refused("[::ffff:127.0.0.1]"), "loopback");
    CHECK_STR(refused("::ffff:192.168.0.1"), "private (RFC 1918)");
    CHECK_STR(refused("64:ff9b::10.0.0.1"), "private (RFC 1918)");
    CHECK_STR(refused("2002:a9fe:a9fe::"), "link-local");
}

TEST(public_addresses_are_allowed)
{
    static const char *const good[] = {
        "8.8.8.8", "1.1.1.1", "93.184.216.34", "172.32.0.1", "172.15.255.255", "100.128.0.1",
        "100.63.255.255", "11.0.0.1", "192.169.0.1", "169.253.1.1", "223.255.255.255",
        "2606:4700:4700::1111", "2a00:1450:4001:80b::200e", "::ffff:8.8.8.8",
        "64:ff9b::808:808", "2002:808:808::1",
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        const char *r = refused(good[i]);
        if (r)
            printf("# %s was refused: %s\n", good[i], r);
        CHECK(r == NULL);
    }
}

TEST(unparsable_addresses_are_refused)
{
    CHECK_STR(refused("localhost"), "not an IP address");
    CHECK_STR(refused(""), "not an IP address");
    CHECK_STR(refused("1.2.3"), "not an IP address");
    CHECK_STR(guard_ip_refusal(NULL, 80, NULL, NULL, 80), "not an IP address");
}

TEST(the_sockaddr_form_checks_the_same_rules_and_the_port)
{
    struct sockaddr_in s4;
    memset(&s4, 0, sizeof(s4));
    s4.sin_family = AF_INET;
    s4.sin_port = htons(8080);
    inet_pton(AF_INET, "127.0.0.1", &s4.sin_addr);
    CHECK_STR(guard_addr_refusal((struct sockaddr *)&s4, NULL, "127.0.0.1", 8080), "loopback");
    struct sockaddr_in6 s6;
    memset(&s6, 0, sizeof(s6));
    s6.sin6_family = AF_INET6;
    s6.sin6_port = htons(8080);
    inet_pton(AF_INET6, "::ffff:127.0.0.1", &s6.sin6_addr);
    CHECK_STR(guard_addr_refusal((struct sockaddr *)&s6, NULL, "::ffff:127.0.0.1", 8080),
              "loopback");
    inet_pton(AF_INET6, "2606:4700:4700::1111", &s6.sin6_addr);
    CHECK(guard_addr_refusal((struct sockaddr *)&s6, NULL, NULL, 0) == NULL);

    char err[256];
    struct guard_allow *al = guard_allow_parse("127.0.0.1:8080", err, sizeof(err));
    CHECK(al != NULL);
    CHECK(guard_addr_refusal((struct sockaddr *)&s4, al, "127.0.0.1", 8080) == NULL);
    s4.sin_port = htons(8081);
    CHECK_STR(guard_addr_refusal((struct sockaddr *)&s4, al, "127.0.0.1", 8081), "loopback");
    /* The mapped form of an allowed IPv4 address is allowed too. */
    inet_pton(AF_INET6, "::ffff:127.0.0.1", &s6.sin6_addr);
    CHECK(guard_addr_refusal((struct sockaddr *)&s6, al, NULL, 8080) == NULL);
    guard_allow_free(al);
}

TEST(allow_list_addresses_ranges_ports_and_hosts_are_honoured)
{
    char err[256] = "";
    struct guard_allow *al = guard_allow_parse(
        " 10.1.0.0/16 , 127.0.0.1:9000,fd00::/8, [::1]:7000, files.lan, Intra.Example:8443, "
        "169.254.169.254, ::ffff:192.168.7.0/120",
        err, sizeof(err));
    CHECK(al != NULL);
    if (!al) {
        printf("# %s\n", err);
        return;
    }
    CHECK(guard_ip_refusal("10.1.200.3", 80, al, NULL, 80) == NULL);
    CHECK_STR(guard_ip_refusal("10.2.0.1", 80, al, NULL, 80), "private (RFC 1918)");
    CHECK(guard_ip_refusal("127.0.0.1", 9000, al, NULL, 9000) == NULL);
    CHECK_STR(guard_ip_refusal("127.0.0.1", 9001, al, NULL, 9001), "loopback");
    CHECK_STR(guard_ip_refusal("127.0.0.2", 9000, al, NULL, 9000), "loopback");
    CHECK(guard_ip_refusal("fd12::5", 443, al, NULL, 443) == NULL);
    CHECK_STR(guard_ip_refusal("fc12::5", 443, al, NULL, 443), "unique-local (fc00::/7)");
    CHECK(guard_ip_refusal("::1", 7000, al, NULL, 7000) == NULL);
    CHECK_STR(guard_ip_refusal("::1", 7001, al, NULL, 7001), "loopback");
    CHECK(guard_ip_refusal("169.254.169.254", 80, al, NULL, 80) == NULL);
    CHECK(guard_ip_refusal("192.168.7.9", 80, al, NULL, 80) == NULL);
    CHECK_STR(guard_ip_refusal("192.168.8.9", 80, al, NULL, 80), "private (RFC 1918)");
    /* Host entries match the URL's host, whatever the address. */
    CHECK(guard_ip_refusal("192.168.1.5", 80, al, "files.lan", 80) == NULL);
    CHECK(guard_ip_refusal("192.168.1.5", 80, al, "FILES.LAN", 1234) == NULL);
    CHECK_STR(guard_ip_refusal("192.168.1.5", 80, al, "other.lan", 80), "private (RFC 1918)");
    CHECK_STR(guard_ip_refusal("192.168.1.5", 80, al, "x.files.lan", 80), "private (RFC 1918)");
    CHECK(guard_ip_refusal("10.9.9.9", 8443, al, "intra.example", 8443) == NULL);
    CHECK_STR(guard_ip_refusal("10.9.9.9", 443, al, "intra.example", 443), "private (RFC 1918)");
    guard_allow_free(al);

    al = guard_allow_parse("", err, sizeof(err));
    CHECK(al != NULL);
    CHECK_STR(guard_ip_refusal("127.0.0.1", 80, al, "localhost", 80), "loopback");
    guard_allow_free(al);
    guard_allow_free(NULL);
}

TEST(malformed_allow_list_entries_are_reported)
{
    static const char *const bad[] = {
        "10.0.0.0/33", "fd00::/129", "10.0.0.0/x", "nothing/8", "host:0", "host:70000",
        "host:abc", "[::1", "[::1]x", "[::1]:", "bad host", "a@b", "1.2.3.4:",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char err[256] = "";
        struct guard_allow *al = guard_allow_parse(bad[i], err, sizeof(err));
        if (al)
            printf("# \"%s\" was accepted\n", bad[i]);
        CHECK(al == NULL);
        CHECK(err[0] != '\0');
        guard_allow_free(al);
    }
}

TEST(only_http_and_https_urls_pass_the_url_check)
{
    char host[256], err[256];
    CHECK_INT(guard_url_check("http://example.com/a.png", host, sizeof(host), err, sizeof(err)), 0);
    CHECK_STR(host, "example.com");
    CHECK_INT(guard_url_check("HTTPS://[::1]:8443/x?y=1", host, sizeof(host), err, sizeof(err)), 0);
    CHECK_STR(host, "::1");
    CHECK_INT(guard_url_check("file:///etc/passwd", host, sizeof(host), err, sizeof(err)), -1);
    CHECK(strstr(err, "file:") != NULL);
    CHECK_INT(guard_url_check("gopher://127.0.0.1:70/", host, sizeof(host), err, sizeof(err)), -1);
    CHECK(strstr(err, "gopher:") != NULL);
    CHECK_INT(guard_url_check("ftp://x/y", host, sizeof(host), err, sizeof(err)), -1);
    CHECK_INT(guard_url_check("//example.com/a", host, sizeof(host), err, sizeof(err)), -1);
    CHECK_INT(guard_url_check("http://", host, sizeof(host), err, sizeof(err)), -1);
    CHECK_INT(guard_url_check("http://exa mple.com/", host, sizeof(host), err, sizeof(err)), -1);
}

TEST_MAIN()
