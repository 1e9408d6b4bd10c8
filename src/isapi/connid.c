#include "connid.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "log.h"

#define CONNID_RANGE_MAX ((size_t)16 << 40) /* 16 TiB: ~68 billion requests before a wrap */
#define CONNID_RANGE_MIN ((size_t)1 << 30)  /* 1 GiB: ~4 million */

static ecb_arena_t *arena; /* set once, by connid_init */
static pthread_mutex_t arena_lock = PTHREAD_MUTEX_INITIALIZER; /* connid_init */
static bool arena_tried;                                       /* under arena_lock */

/* The cell of the request whose HttpExtensionProc or completion callback this thread runs. */
static __thread ecb_cell_t *own_cell;

static ecb_arena_t *arena_make(const ecb_callbacks_t *callbacks)
{
    ecb_arena_params_t params = {.max_bytes = CONNID_RANGE_MAX, .min_bytes = CONNID_RANGE_MIN,
                                 .callbacks = callbacks};
    ecb_arena_t *a = ecb_arena_create(&params);
    if (!a) {
        log_error("cannot reserve %zu MiB of address space for ECBs: %s", CONNID_RANGE_MIN >> 20,
                  strerror(errno));
        return NULL;
    }
    ecb_arena_stats_t st;
    ecb_arena_stats(a, &st);
    log_debug("ECB cells: %zu GiB of address space reserved (%llu requests before addresses "
              "are used again)", st.size >> 30,
              (unsigned long long)(st.size / ECB_BLOCK_SIZE * (ECB_CELLS_PER_BLOCK - 1)));
    const char *why;
    if (ecb_arena_mode(a, &why) == ECB_MODE_USERFAULTFD)
        log_info("ECB cells: an ended ECB stays callable for good (its memory, once given back, "
                 "reads as dead ECBs through userfaultfd)");
    else
        log_info("ECB cells: userfaultfd is not used (%s): an ended ECB stays callable until "
                 "%u s after its end or until %zu MiB of later ended ones are kept, whichever "
                 "comes first; then its memory is given back and reads as zeros", why,
                 ECB_KEEP_MS_DEFAULT / 1000, ECB_KEEP_BYTES_DEFAULT >> 20);
    return a;
}

bool connid_init(const ecb_callbacks_t *callbacks)
{
    pthread_mutex_lock(&arena_lock);
    if (!arena_tried) {
        arena_tried = true;
        arena = arena_make(callbacks); /* before any request: no other thread reads it yet */
    }
    pthread_mutex_unlock(&arena_lock);
    return arena != NULL;
}

ecb_cell_t *connid_cell_take(ecb_cursor_t *cur, const char *what)
{
    ecb_cell_t *cell = !arena ? NULL
                       : cur  ? ecb_cell_take(arena, cur)
                                  : ecb_cell_take_shared(arena);
    if (!cell) {
        static log_limiter_t lim = LOG_LIMITER_INIT;
        log_limited(&lim, LOG_ERROR, "%s: no ECB for the request (the address space for ECBs is "
                    "used up by sessions that never end, or could not be reserved)", what);
    }
    return cell;
}

void connid_cell_free(ecb_cell_t *cell) { ecb_cell_free(arena, cell); }

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
