/* serve_accept.h: the listening socket of `pcrvm serve` and the thread that
 * accepts its connections and hands them to libmicrohttpd's workers.
 *
 * Why not MHD's own listening socket: with a thread pool, every worker
 * polls the one socket and the first awake takes a burst of connections,
 * so 64 connections opened at once all landed on one worker of two (one
 * thread did all the work; measured with the workers' CPU times in
 * /proc/PID/task, docs/benchmarks.md). MHD_add_connection on a pooled
 * daemon gives each connection to the worker at (socket % pool size) that
 * has room, which spreads a burst evenly. */
#ifndef PCR_TOOLS_SERVE_ACCEPT_H
#define PCR_TOOLS_SERVE_ACCEPT_H

#include <microhttpd.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

typedef struct Acceptor Acceptor;

/* Binds and listens on addr (backlog 1024). *port: the port bound (the
 * kernel's choice for port 0). NULL with err on failure. */
Acceptor *acc_open(const struct sockaddr *addr, socklen_t addrlen, unsigned *port, char *err,
                   size_t errlen);

/* Starts the accepting thread, which adds every connection to d (started
 * with MHD_USE_NO_LISTEN_SOCKET | MHD_USE_ITC). Call with the signals the
 * main thread handles blocked: the thread inherits the mask. */
bool acc_start(Acceptor *a, struct MHD_Daemon *d);

/* Stops accepting and closes the listening socket: new connections are
 * refused from here on. Idempotent. */
void acc_stop(Acceptor *a);

/* acc_stop, then frees a (NULL is fine). */
void acc_free(Acceptor *a);

#endif
