/* The HTTP/1.1 server (http/server) is the parser every client on the
 * network reaches first. One server runs on 127.0.0.1 for the whole session;
 * each input is sent over a fresh connection, the write side is closed, and
 * the loop runs until the server has answered and closed it. The handler
 * answers plainly, or streams when the path starts with /s, so both reply
 * paths meet pipelined, chunked, oversized and broken requests. Small caps
 * (head 2 KiB, body 4 KiB) make the limits reachable. */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "fuzz.h"
#include "http/server.h"

static struct event_base *base;
static struct http_server *srv;
static int port = -1;

static void handler(void *arg, struct http_req *r)
{
    (void)arg;
    size_t n;
    const char *body = http_req_body(r, &n);
    FUZZ_ASSERT(body[n] == '\0');
    (void)http_req_header(r, "Content-Type");
    (void)http_req_query(r);
    if (strncmp(http_req_path(r), "/s", 2) == 0) {
        http_req_start(r, 200, "text/event-stream");
        (void)http_req_write(r, body, n);
        (void)http_req_write(r, "data: [DONE]\n\n", 14);
        http_req_end(r);
    } else {
        http_req_add_header(r, "X-Method", http_req_method(r));
        http_req_respond(r, 200, "application/octet-stream", body, n);
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    base = event_base_new();
    struct http_server_opts o = { 2048, 4096, 0, 0, 0, 64 };
    srv = http_server_new(base, &o, handler, NULL);
    port = http_server_listen(srv, "127.0.0.1", 0);
    FUZZ_ASSERT(port > 0);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    FUZZ_ASSERT(fd >= 0);
    /* The server closes first, so each connection leaves a TIME_WAIT entry
     * for a minute: tens of thousands of inputs a second use up the source
     * ports of one address. Spread the client over 127.0.0.2-127.0.0.254
     * (the destination stays 127.0.0.1). */
    static unsigned next_src;
    struct sockaddr_in src;
    memset(&src, 0, sizeof(src));
    src.sin_family = AF_INET;
    src.sin_addr.s_addr = htonl(INADDR_LOOPBACK + 1 + (next_src++ % 253));
    FUZZ_ASSERT(bind(fd, (struct sockaddr *)&src, sizeof(src)) == 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        /* The machine ran out of something (ports, backlog): not the
         * parser's fault, and the input tells nothing; skip it. */
        static int said;
        if (!said++)
            fprintf(stderr, "fuzz_http: connect: %s (inputs skipped while it lasts)\n",
                    strerror(errno));
        close(fd);
        return 0;
    }
    /* Inputs are small (max_len), so the socket buffer takes them at once. */
    FUZZ_ASSERT(send(fd, data, size, MSG_NOSIGNAL) == (ssize_t)size);
    shutdown(fd, SHUT_WR);
    /* Until the server closes: every answer is read and dropped. */
    char buf[65536];
    for (int spins = 0; spins < 100000; spins++) {
        event_base_loop(base, EVLOOP_NONBLOCK);
        ssize_t r = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK))
            break;
        FUZZ_ASSERT(spins < 99999); /* the server never answered or closed */
    }
    close(fd);
    /* The server has closed its side: its connection must be gone too. */
    for (int i = 0; i < 1000 && http_server_connections(srv) > 0; i++)
        event_base_loop(base, EVLOOP_NONBLOCK);
    FUZZ_ASSERT(http_server_connections(srv) == 0);
    return 0;
}
