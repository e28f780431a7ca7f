/* bench/relay: the least a proxy can add. Accepts on 127.0.0.1:PORT and
 * copies bytes both ways to 127.0.0.1:TARGET, two blocking threads per
 * connection, each write as soon as its read returns. Time to first token
 * through it, minus the same straight to the mock, is what one more process
 * in the path costs on this machine (the extra wake-ups and copies) before
 * any work is done: the floor under "added by the server".
 *
 *   relay PORT TARGET        (PORT 0: prints "listening on N")
 * Loopback only; runs until killed. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct pipe_end {
    int from, to;
};

static int target_port;

static void *copy(void *arg)
{
    struct pipe_end *p = arg;
    char buf[65536];
    for (;;) {
        ssize_t n = read(p->from, buf, sizeof(buf));
        if (n <= 0)
            break;
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(p->to, buf + off, (size_t)(n - off));
            if (w <= 0)
                goto out;
            off += w;
        }
    }
out:
    /* One side ended: end the other direction too. */
    shutdown(p->to, SHUT_WR);
    shutdown(p->from, SHUT_RD);
    return NULL;
}

static void *serve(void *arg)
{
    int client = (int)(long)arg;
    int up = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)target_port) };
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int one = 1;
    if (up < 0 || connect(up, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        close(client);
        if (up >= 0)
            close(up);
        return NULL;
    }
    setsockopt(up, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    struct pipe_end there = { client, up }, back = { up, client };
    pthread_t t;
    if (pthread_create(&t, NULL, copy, &there) != 0) {
        close(client);
        close(up);
        return NULL;
    }
    copy(&back);
    pthread_join(t, NULL);
    close(client);
    close(up);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: relay PORT TARGET\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    target_port = atoi(argv[2]);
    int ls = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[1])) };
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(sa);
    if (bind(ls, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(ls, 1024) < 0 ||
        getsockname(ls, (struct sockaddr *)&sa, &len) < 0) {
        perror("relay");
        return 1;
    }
    printf("listening on %d\n", ntohs(sa.sin_port));
    fflush(stdout);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    for (;;) {
        int c = accept(ls, NULL, NULL);
        if (c < 0)
            continue;
        pthread_t t;
        if (pthread_create(&t, &attr, serve, (void *)(long)c) != 0)
            close(c);
    }
}
