/* The status page (--status /PATH): served by the server itself, on the loop that read the
 * request (a handler with respond, src/http/handler.h), from the status board (src/statusboard.h),
 * so that any worker's page shows every worker. Plain text like nginx's stub_status; JSON with
 * ?json. Only peers inside --status-allow (default: loopback) get it; others get 403.
 *
 * What each loop publishes, and when: status_loop_tick runs on every tick of every loop while
 * the page is on (a loop ticks when something is due, at least every STATUS_SAMPLE_MS while the
 * page is on: loop.h). It stores the loop's count of responses every tick (a relaxed store when
 * it changed), and every STATUS_SAMPLE_MS (status.c) its connections by state (conn_census) and
 * its parked sessions (parked_sample); the first loop also samples the worker's pools, RSS and
 * extensions then, and so does the loop serving the page, before it answers. The request path
 * itself only increments netloop_t.requests (a relaxed atomic add by the loop's thread) and an
 * extension's two counters (extension.h).
 *
 * Ownership: server.c creates it after the loops, pools and extension table, which it borrows,
 * and frees it after the loops have stopped. Loop i's part (loops[i]) is loop i's thread's; the
 * extension cache is the first loop's. */
#ifndef ISAPID_STATUS_H
#define ISAPID_STATUS_H

#include <stdint.h>

#include "handler.h"
#include "server.h"
#include "statusboard.h"

typedef struct status status_t;

/* NULL on ENOMEM. board and slot: where this worker publishes (slot claimed already). */
status_t *status_new(server_t *srv, status_board_t *board, status_slot_t *slot);
void status_free(status_t *st);
/* The page's handler (respond only). */
handler_t status_handler(status_t *st);
/* Loop thread (nl's), from its tick: publish; returns when it next needs a tick. */
uint64_t status_loop_tick(status_t *st, netloop_t *nl, uint64_t now_ms);

#endif
