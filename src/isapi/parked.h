/* Parked sessions: requests an extension owns (connection state CONN_EXTENSION), typically left
 * pending (HSE_STATUS_PENDING) until HSE_REQ_DONE_WITH_SESSION comes, maybe much later.
 *
 * The socket. Extension threads use the connection's descriptor (and, to read the body, its input
 * buffer) only between parked_socket_enter() and parked_socket_leave(), which count them in the
 * sock_word of the request that owns the connection (atomic: no lock on the path of every
 * synchronous write). When the peer has gone (the loop saw a hang-up), no operation is
 * outstanding and no thread is inside, the loop releases the socket at once: under that
 * request's lock it turns sock_word from 0 (no user) to SOCK_RELEASED, which no enter gets past,
 * then closes the descriptor and frees the input buffer and head block, so no extension thread
 * can use the old descriptor number once it may belong to another connection. The last user out
 * and the loop's hang-up see each other through sequentially consistent atomics (the count, and
 * the connection's peer_gone): whichever comes second releases or posts the release. A release
 * that has to wait is posted to the loop by whichever thread removes the last obstacle (the last
 * thread to leave, an operation given back or completed). The request
 * (the ECB) lives on until the session ends; the connection is then freed without a response.
 * After the release every call behaves as for a client that has gone: writes and reads fail with
 * ERROR_NETNAME_DELETED, HSE_REQ_IS_CONNECTED says FALSE, asynchronous operations are failed by
 * the loop and completed on the pool, never inline.
 * Lock order: r->io_lock, then r->lock. enter takes no lock; leave takes the lock (of the root
 * request for a HSE_REQ_SEND_URL child, whose socket is its root's) only when it was the last user
 * and the peer has gone.
 *
 * The census. Every --pending-report period each loop counts its sessions that have been pending
 * longer than that period; the first loop logs the server's total when it is not 0. It also
 * looks at parked sessions whose hang-up came before the extension owned the request (no event
 * announced it) and releases their sockets. */
#ifndef ISAPID_PARKED_H
#define ISAPID_PARKED_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "isapi.h"
#include "server.h"

/* Any extension thread, before using r's socket: false when it was released (the client has
 * gone), and then the caller must not touch the connection's descriptor or buffers. */
bool parked_socket_enter(request_t *r);
void parked_socket_leave(request_t *r);

/* HSE_REQ_IS_CONNECTED's answer for the socket: the peer has closed or reset (no blocking). */
bool parked_peer_gone(request_t *r);

/* Loop thread: r's peer has gone (a hang-up event in CONN_EXTENSION); release its socket now if
 * nothing uses it, else when the last use ends. */
void parked_peer_left(request_t *r);

/* Under r->lock, when an obstacle to a wanted release went away (r's operation slot is free
 * again): posts the release to the loop if it is due. */
void parked_release_if_due_locked(request_t *r);

/* Loop thread (nl's), from its tick: the census when due, and the return of memory freed by
 * releases (at most once a second); returns when it next needs a tick (UINT64_MAX: never). */
uint64_t parked_tick(isapi_host_t *host, netloop_t *nl, uint64_t now_ms);

/* Loop thread (nl's): its sessions left pending now, and in *oldest the wall-clock second the
 * oldest of them began (0: none). For the status page (src/status.h). */
unsigned parked_sample(netloop_t *nl, time_t *oldest);

/* The last census's count over all loops: sessions pending longer than --pending-report, and how
 * many of them have lost their client (socket released). Any thread. */
unsigned parked_sessions_pending_long(isapi_host_t *host, unsigned *client_gone);

#endif
