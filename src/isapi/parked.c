#include "parked.h"

#include <malloc.h>
#include <stdatomic.h>
#include <stddef.h>
#include <time.h>

#include "conn.h"
#include "conn_async.h"
#include "log.h"

/* The request whose lock guards the connection's socket: a SEND_URL child shares its parent's
 * connection, and the parent's operation (the send-URL) is outstanding for the child's whole
 * life, so the socket is never released under a child. */
static request_t *socket_owner(request_t *r)
{
    while (r->parent)
        r = r->parent;
    return r;
}

/* sock_word's bit for a released socket (the rest counts the users: far fewer than 2^31). */
#define SOCK_RELEASED 0x80000000u

bool parked_socket_enter(request_t *r)
{
    request_t *o = socket_owner(r);
    if (atomic_fetch_add(&o->sock_word, 1) & SOCK_RELEASED) {
        atomic_fetch_sub(&o->sock_word, 1); /* released for good: nothing waits for this count */
        return false;
    }
    return true;
}

static void release_task(loop_task_t *t);

/* Under r->lock (r a root request). The end of the request is only ever posted after a later
 * acquisition of the lock, and the loop runs tasks in order: the release task never finds the
 * request freed. (Lock order: r->lock, then the loop's queue lock.) */
void parked_release_if_due_locked(request_t *r)
{
    if (r->parent || atomic_load(&r->sock_word) != 0 /* in use, or released */ ||
        r->release_posted || r->refs == 0 || r->op.kind != OP_NONE ||
        !conn_peer_gone_seen(r->conn))
        return;
    r->release_posted = true;
    loop_post(conn_loop(r->conn), &r->release_task, release_task);
}

void parked_socket_leave(request_t *r)
{
    request_t *o = socket_owner(r);
    /* Not the last user out, or the peer is still there: nothing is due (a hang-up the loop sees
     * after this finds the count at 0 itself: parked_peer_left). */
    if (atomic_fetch_sub(&o->sock_word, 1) != 1 || !conn_peer_gone_seen(o->conn))
        return;
    pthread_mutex_lock(&o->lock);
    parked_release_if_due_locked(o);
    pthread_mutex_unlock(&o->lock);
}

bool parked_peer_gone(request_t *r)
{
    if (!parked_socket_enter(r))
        return true;
    bool gone = conn_peer_gone(r->conn);
    parked_socket_leave(r);
    return gone;
}

/* Loop thread; r is its connection's request (conn_request) and alive (its end has not run). */
static void release_now_if_idle(request_t *r)
{
    conn_t *c = r->conn;
    pthread_mutex_lock(&r->lock);
    /* conn_request and conn_async_busy are the loop's, read on the loop. */
    /* Last, the claim: from no user to released, which no parked_socket_enter gets past. */
    unsigned unused = 0;
    bool idle = conn_request(c) == r && r->refs != 0 && r->op.kind == OP_NONE &&
                !conn_async_busy(c) && conn_peer_gone_seen(c) &&
                atomic_compare_exchange_strong(&r->sock_word, &unused, SOCK_RELEASED);
    if (idle) {
        conn_release_socket(c);
        r->host->loops[conn_loop_index(c)].trim_wanted = true;
        loop_deadline(conn_loop(c), 0); /* trim_tick */
    }
    pthread_mutex_unlock(&r->lock);
    if (idle)
        log_debug("%s: %s: the client left while the session is pending; its socket is released, "
                  "the request waits for HSE_REQ_DONE_WITH_SESSION", conn_peer_text(c),
                  r->ri.raw_target);
}

static void release_task(loop_task_t *t)
{
    request_t *r = (request_t *)((char *)t - offsetof(request_t, release_task));
    pthread_mutex_lock(&r->lock);
    r->release_posted = false;
    pthread_mutex_unlock(&r->lock);
    release_now_if_idle(r);
}

void parked_peer_left(request_t *r) { release_now_if_idle(socket_owner(r)); }

/* ------------------------------------------------------------------------------------------ */
/* The census */

/* A released socket frees the connection's input buffer and head block (some 20 KiB), but
 * malloc keeps freed memory in the middle of its heaps resident: hand whole free pages back to
 * the system, at most once a second per loop, and only after releases. */
#define TRIM_INTERVAL_MS 1000

static uint64_t trim_tick(isapi_loop_t *il, uint64_t now)
{
    if (!il->trim_wanted)
        return UINT64_MAX;
    if (now < il->trim_next_ms)
        return il->trim_next_ms;
#ifdef __GLIBC__
    malloc_trim(0);
#endif
    il->trim_wanted = false;
    il->trim_next_ms = now + TRIM_INTERVAL_MS;
    return UINT64_MAX;
}

typedef struct census {
    time_t wall, min_age; /* now, and the age that counts, in wall-clock seconds */
    unsigned pending, gone;
} census_t;

/* Requests keep their start as wall-clock seconds: "longer than the period" to the second. */
static void census_count(conn_t *c, request_t *r, void *arg)
{
    census_t *census = arg;
    /* r is freed only by this loop: alive */
    pthread_mutex_lock(&r->lock);
    bool parked = r->session == SESSION_PENDING;
    bool released = atomic_load(&r->sock_word) & SOCK_RELEASED;
    pthread_mutex_unlock(&r->lock);
    /* A client whose hang-up came before the extension owned the request (with the head,
     * say) caused no event since: look now (a poll, no wait), and release it. */
    if (parked && !released && !conn_peer_gone_seen(c) && conn_peer_gone(c)) {
        conn_note_peer_gone(c);
        release_now_if_idle(r);
        released = conn_fd(c) < 0;
    }
    if (parked && census->wall - r->start_time >= census->min_age) {
        census->pending++;
        census->gone += released;
    }
}

static uint64_t census_tick(isapi_host_t *host, netloop_t *nl, uint64_t now)
{
    isapi_loop_t *il = &host->loops[nl->index];
    uint32_t period = host->cfg->pending_report_ms;
    if (period == 0)
        return UINT64_MAX;
    if (il->census_next_ms == 0)
        il->census_next_ms = now + period;
    if (now < il->census_next_ms)
        return il->census_next_ms;
    il->census_next_ms = now + period;
    census_t census = {.wall = time(NULL), .min_age = (time_t)((period + 999) / 1000)};
    conn_for_each_request(nl, census_count, &census);
    atomic_store(&il->pending_long, census.pending);
    atomic_store(&il->pending_long_gone, census.gone);
    if (nl->index == 0) {
        static log_limiter_t limiter = LOG_LIMITER_INIT;
        unsigned total_gone, total = parked_sessions_pending_long(host, &total_gone);
        if (total)
            log_limited(&limiter, LOG_WARN,
                        "%u session(s) pending for more than %u ms (HSE_STATUS_PENDING without "
                        "HSE_REQ_DONE_WITH_SESSION yet), %u of them with their client gone and "
                        "socket released; each keeps its request until its extension ends it",
                        total, period, total_gone);
    }
    return il->census_next_ms;
}

typedef struct parked_count {
    unsigned n;
    time_t oldest;
} parked_count_t;

static void parked_count_one(conn_t *c, request_t *r, void *arg)
{
    (void)c;
    parked_count_t *pc = arg;
    pthread_mutex_lock(&r->lock);
    bool parked = r->session == SESSION_PENDING;
    pthread_mutex_unlock(&r->lock);
    if (!parked)
        return;
    pc->n++;
    if (!pc->oldest || r->start_time < pc->oldest)
        pc->oldest = r->start_time;
}

unsigned parked_sample(netloop_t *nl, time_t *oldest)
{
    parked_count_t pc = {0, 0};
    conn_for_each_request(nl, parked_count_one, &pc);
    *oldest = pc.oldest;
    return pc.n;
}

uint64_t parked_tick(isapi_host_t *host, netloop_t *nl, uint64_t now)
{
    uint64_t census = census_tick(host, nl, now), trim = trim_tick(&host->loops[nl->index], now);
    return census < trim ? census : trim;
}

unsigned parked_sessions_pending_long(isapi_host_t *host, unsigned *client_gone)
{
    unsigned total = 0, gone = 0;
    for (unsigned i = 0; i < host->n_loops; i++) {
        total += atomic_load(&host->loops[i].pending_long);
        gone += atomic_load(&host->loops[i].pending_long_gone);
    }
    if (client_gone)
        *client_gone = gone;
    return total;
}
