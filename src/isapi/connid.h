/* ConnIDs: the server's ECB cells (src/isapi/ecbcell.h) and the check every ECB callback makes.
 *
 * The one process-wide object of the server: a callback gets nothing but a ConnID, so the
 * arena its cell belongs to must be found from the address alone. A cell's owner is the
 * request (src/isapi/isapi.c), which decides when its session is over and when it ends.
 *
 * Who holds a request during a callback:
 *   - the request's own HttpExtensionProc or completion callback, on the thread running it
 *     (connid_own_enter / connid_own_leave around the call): nothing more is needed, and its
 *     calls are allowed also after DONE;
 *   - any other thread: connid_hold counts the call in the cell's state word, and fails once
 *     the cell is closed (DONE, or the session is over); connid_unhold says whether this was
 *     the last call out of a request whose end is due, which the caller then posts. */
#ifndef ISAPID_CONNID_H
#define ISAPID_CONNID_H

#include <stdbool.h>

#include "ecbcell.h"

/* Reserve the range (once per process; later calls return the first result), with tombstones
 * pointing to the server's callbacks. False when even the minimum cannot be reserved: then no
 * extension request can be made. Logs the arena's mode (src/isapi/ecbcell.h). */
bool connid_init(const ecb_callbacks_t *callbacks);

/* A dead cell for a new request, from the cursor of the calling thread's loop, or (NULL) from
 * the arena's shared one. NULL when there is none (logged). */
ecb_cell_t *connid_cell_take(ecb_cursor_t *cur, const char *what);
/* The request is gone: the ECB becomes a tombstone (its ConnID and the callbacks, which refuse
 * it; nothing points into the request); the cell is dead from now on. */
void connid_cell_free(ecb_cell_t *cell);

/* Around a call of the extension made for the cell's request on this thread; returns what to
 * pass to connid_own_leave (an outer call's cell, if calls nest). */
ecb_cell_t *connid_own_enter(ecb_cell_t *cell);
void connid_own_leave(ecb_cell_t *outer);

typedef struct connid_held {
    void *owner;         /* the request */
    ecb_cell_t *counted; /* the cell whose count this call holds; NULL for an own call */
} connid_held_t;

/* The live request named by h, held for one callback; false (the caller fails the call with
 * ERROR_INVALID_PARAMETER) for anything else. Reads no memory but the cell's state word. */
bool connid_hold(void *h, connid_held_t *out);

/* The call is over. True when it was the last call in flight of a request whose end is due:
 * the caller posts the end (and touches the request no more after that). */
static inline bool connid_unhold(const connid_held_t *h)
{
    return h->counted && ecb_call_leave(h->counted);
}

#endif
