#include "connid.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "log.h"

#define CONNID_RANGE_MAX ((size_t)16 << 40) /* 16 TiB: ~68 billion requests before a wrap */
#define CONNID_RANGE_MIN ((size_t)1 << 30)  /* 1 GiB: ~4 million */

static ecb_arena_t *arena; /* set once, by connid_init */
static pthread_once_t arena_once = PTHREAD_ONCE_INIT;

/* The cell of the request whose HttpExtensionProc or completion callback this thread runs. */
static __thread ecb_cell_t *own_cell;

static void arena_make(void)
{
    arena = ecb_arena_create(CONNID_RANGE_MAX, CONNID_RANGE_MIN);
    if (!arena) {
        log_error("cannot reserve %zu MiB of address space for ECBs: %s", CONNID_RANGE_MIN >> 20,
                  strerror(errno));
        return;
    }
    ecb_arena_stats_t st;
    ecb_arena_stats(arena, &st);
    log_debug("ECB cells: %zu GiB of address space reserved (%llu requests before addresses "
              "are used again)", st.size >> 30,
              (unsigned long long)(st.size / ECB_BLOCK_SIZE * (ECB_CELLS_PER_BLOCK - 1)));
}

bool connid_init(void)
{
    pthread_once(&arena_once, arena_make);
    return arena != NULL;
}

ecb_cell_t *connid_cell_take(ecb_cursor_t *cur, const char *what)
{
    ecb_cell_t *cell = !connid_init() ? NULL
                       : cur      ? ecb_cell_take(arena, cur)
                                  : ecb_cell_take_shared(arena);
    if (!cell) {
        static log_limiter_t lim = LOG_LIMITER_INIT;
        log_limited(&lim, LOG_ERROR, "%s: no ECB for the request (the address space for ECBs is "
                    "used up by sessions that never end, or could not be reserved)", what);
    }
    return cell;
}

void connid_cell_free(ecb_cell_t *cell)
{
    static char empty[1];
    EXTENSION_CONTROL_BLOCK *ecb = &cell->ecb;
    ecb->lpszLogData[0] = '\0';
    ecb->lpszMethod = ecb->lpszQueryString = ecb->lpszPathInfo = ecb->lpszPathTranslated =
        ecb->lpszContentType = empty;
    ecb->cbTotalBytes = ecb->cbAvailable = 0;
    ecb->lpbData = (LPBYTE)empty;
    ecb_cell_free(arena, cell);
}

ecb_cell_t *connid_own_enter(ecb_cell_t *cell)
{
    ecb_cell_t *outer = own_cell;
    own_cell = cell;
    return outer;
}

void connid_own_leave(ecb_cell_t *outer) { own_cell = outer; }

bool connid_hold(void *h, connid_held_t *out)
{
    if (h && h == (void *)own_cell) {
        out->owner = own_cell->owner;
        out->counted = NULL;
        return true;
    }
    ecb_cell_t *cell = arena ? ecb_call_enter(arena, h) : NULL;
    if (!cell)
        return false;
    out->owner = cell->owner;
    out->counted = cell;
    return true;
}
