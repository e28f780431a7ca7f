/* For the unit tests that run a libevent loop (with servers and transfers on
 * loopback): turn the loop until a condition holds, bounded in time. */
#ifndef GLM_TEST_LOOP_H
#define GLM_TEST_LOOP_H

#include <time.h>
#include <unistd.h>

#include <event2/event.h>

/* Runs base until done(arg) is true or secs seconds passed (generous:
 * valgrind is slow); returns done(arg). */
static inline int test_loop_until(struct event_base *base, int (*done)(void *arg), void *arg,
                                  int secs)
{
    struct timespec t0, now;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (!done(arg)) {
        event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec - t0.tv_sec > secs)
            return done(arg);
        usleep(500);
    }
    return 1;
}

#endif
