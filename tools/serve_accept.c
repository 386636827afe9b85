/* serve_accept.c: accepting connections for libmicrohttpd's workers
 * (serve_accept.h). */
#define _GNU_SOURCE /* accept4 */
#include "serve_accept.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { ACC_BACKLOG = 1024, ACC_BURST = 64 };

struct Acceptor {
    int lfd;          /* the listening socket; -1 once stopped */
    int wake[2];      /* acc_stop writes to wake[1] */
    pthread_t thread;
    bool running;
    struct MHD_Daemon *d;
};

Acceptor *acc_open(const struct sockaddr *addr, socklen_t addrlen, unsigned *port, char *err,
                   size_t errlen)
{
    Acceptor *a = calloc(1, sizeof *a);
    if (!a) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    a->lfd = socket(addr->sa_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    a->wake[0] = a->wake[1] = -1;
    int one = 1;
    if (a->lfd >= 0) {
        setsockopt(a->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (addr->sa_family == AF_INET6)
            setsockopt(a->lfd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    }
    struct sockaddr_storage bound;
    socklen_t blen = sizeof bound;
    if (a->lfd < 0 || bind(a->lfd, addr, addrlen) != 0 || listen(a->lfd, ACC_BACKLOG) != 0 ||
        getsockname(a->lfd, (struct sockaddr *)&bound, &blen) != 0 ||
        pipe2(a->wake, O_CLOEXEC | O_NONBLOCK) != 0) {
        snprintf(err, errlen, "cannot listen on the address: %s", strerror(errno));
        acc_free(a);
        return NULL;
    }
    *port = bound.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&bound)->sin6_port)
                                        : ntohs(((struct sockaddr_in *)&bound)->sin_port);
    return a;
}

/* Accepts what is waiting (at most a burst), handing each to MHD. */
static void acc_drain(Acceptor *a)
{
    for (int i = 0; i < ACC_BURST; i++) {
        struct sockaddr_storage peer;
        socklen_t plen = sizeof peer;
        int fd = accept4(a->lfd, (struct sockaddr *)&peer, &plen, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                /* out of descriptors: leave the queue to the kernel a moment */
                struct timespec ts = {0, 10 * 1000 * 1000};
                nanosleep(&ts, NULL);
            }
            return; /* EAGAIN, a client gone (ECONNABORTED), EINTR: poll again */
        }
        /* MHD owns fd from here, and closes it when it cannot take it
         * (--max-connections reached) */
        MHD_add_connection(a->d, fd, (struct sockaddr *)&peer, plen);
    }
}

static void *acc_main(void *arg)
{
    Acceptor *a = arg;
    for (;;) {
        struct pollfd p[2] = {{.fd = a->lfd, .events = POLLIN}, {.fd = a->wake[0], .events = POLLIN}};
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR) continue;
            break;
        }
        if (p[1].revents) break;
        if (p[0].revents) acc_drain(a);
    }
    return NULL;
}

bool acc_start(Acceptor *a, struct MHD_Daemon *d)
{
    a->d = d;
    a->running = pthread_create(&a->thread, NULL, acc_main, a) == 0;
    return a->running;
}

void acc_stop(Acceptor *a)
{
    if (!a) return;
    if (a->running) {
        char byte = 'S';
        ssize_t w = write(a->wake[1], &byte, 1);
        (void)w;
        pthread_join(a->thread, NULL);
        a->running = false;
    }
    if (a->lfd >= 0) close(a->lfd);
    a->lfd = -1;
}

void acc_free(Acceptor *a)
{
    if (!a) return;
    acc_stop(a);
    if (a->wake[0] >= 0) close(a->wake[0]);
    if (a->wake[1] >= 0) close(a->wake[1]);
    free(a);
}
