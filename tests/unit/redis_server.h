/* A throwaway redis-server for the unit tests: Debian's /usr/bin/redis-server
 * on a free loopback port, in a temporary directory, with no persistence
 * (no RDB, no AOF). test_redis_start() picks the port the first time and
 * reuses it on a restart, so clients can reconnect to the same address.
 * The server dies with the test process (PR_SET_PDEATHSIG). */
#ifndef GLM_TEST_REDIS_SERVER_H
#define GLM_TEST_REDIS_SERVER_H

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct test_redis {
    pid_t pid;
    int port;
    char dir[64];
    char url[96];
};

static inline const char *test_redis_bin(void)
{
    const char *b = getenv("REDIS_SERVER_BIN");
    return b && *b ? b : "/usr/bin/redis-server";
}

/* Whether a redis-server can be run here (tests SKIP otherwise). */
static inline int test_redis_available(void)
{
    return access(test_redis_bin(), X_OK) == 0;
}

static inline int test_redis_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(a);
    int port = -1;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

static inline int test_redis_accepts(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
    if (fd >= 0)
        close(fd);
    return ok;
}

static inline void test_redis_sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

/* 0 once the server accepts connections (within 20 s), -1 otherwise. */
static inline int test_redis_start(struct test_redis *t)
{
    if (!t->dir[0]) {
        snprintf(t->dir, sizeof(t->dir), "/tmp/glm-redis-test-XXXXXX");
        if (!mkdtemp(t->dir))
            return -1;
    }
    int keep = t->port != 0; /* a restart: same port, so clients find it again */
    for (int attempt = 0; attempt < 5; attempt++) {
        if (!keep)
            t->port = test_redis_free_port();
        if (t->port <= 0)
            return -1;
        char port[16], log[96];
        snprintf(port, sizeof(port), "%d", t->port);
        snprintf(log, sizeof(log), "%s/redis.log", t->dir);
        pid_t pid = fork();
        if (pid < 0)
            return -1;
        if (pid == 0) {
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
            if (fd >= 0) {
                dup2(fd, 1);
                dup2(fd, 2);
            }
            execl(test_redis_bin(), test_redis_bin(), "--port", port, "--bind", "127.0.0.1",
                  "--save", "", "--appendonly", "no", "--dir", t->dir, "--daemonize", "no",
                  "--loglevel", "warning", (char *)NULL);
            _exit(127);
        }
        t->pid = pid;
        for (int i = 0; i < 400; i++) {
            if (test_redis_accepts(t->port)) {
                snprintf(t->url, sizeof(t->url), "redis://127.0.0.1:%d/0", t->port);
                return 0;
            }
            int st;
            if (waitpid(pid, &st, WNOHANG) == pid) {
                t->pid = 0;
                break; /* the port was taken meanwhile: another one */
            }
            test_redis_sleep_ms(50);
        }
        if (t->pid) {
            kill(t->pid, SIGKILL);
            waitpid(t->pid, NULL, 0);
            t->pid = 0;
        }
        if (keep)
            test_redis_sleep_ms(200);
    }
    return -1;
}

/* Stops the server (SIGKILL: like a crash, and nothing to save anyway). */
static inline void test_redis_stop(struct test_redis *t)
{
    if (t->pid > 0) {
        kill(t->pid, SIGKILL);
        waitpid(t->pid, NULL, 0);
    }
    t->pid = 0;
}

/* Stops it and removes its directory. */
static inline void test_redis_cleanup(struct test_redis *t)
{
    test_redis_stop(t);
    if (t->dir[0]) {
        char p[128];
        snprintf(p, sizeof(p), "%s/redis.log", t->dir);
        unlink(p);
        snprintf(p, sizeof(p), "%s/dump.rdb", t->dir);
        unlink(p);
        rmdir(t->dir);
    }
    t->dir[0] = 0;
}

#endif
