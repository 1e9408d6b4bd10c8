#define _GNU_SOURCE
#include "status.h"

#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cidr.h"
#include "conn.h"
#include "extension.h"
#include "log.h"
#include "parked.h"
#include "pool.h"

#define STATUS_SAMPLE_MS 250u
#define RSS_SAMPLE_MS 1000u

/* Where each of this worker's extensions is in the board's table (under worker_busy). */
typedef struct ext_index {
    const extension_t *ext;
    int index; /* -1: the table is full */
} ext_index_t;

typedef struct status_loop {
    uint64_t next_sample_ms;
    uint64_t published_requests;
} status_loop_t;

struct status {
    server_t *srv;
    status_board_t *board;
    status_slot_t *slot;
    status_loop_t *loops;     /* one per event loop: loop i's thread only */
    /* The worker's part of the slot (pools, RSS, extensions) has one writer at a time: the
     * loop that holds worker_busy, the first loop on its ticks or any loop serving the page. */
    atomic_flag worker_busy;
    ext_index_t *ext_cache;   /* under worker_busy */
    size_t n_ext_cache, cap_ext_cache;
    uint64_t next_rss_ms;     /* under worker_busy */
};

status_t *status_new(server_t *srv, status_board_t *board, status_slot_t *slot)
{
    status_t *st = calloc(1, sizeof *st);
    if (!st)
        return NULL;
    st->loops = calloc(srv->n_loops, sizeof *st->loops);
    if (!st->loops) {
        free(st);
        return NULL;
    }
    atomic_flag_clear(&st->worker_busy);
    st->srv = srv;
    st->board = board;
    st->slot = slot;
    status_slot_set_loops(slot, srv->n_loops);
    return st;
}

void status_free(status_t *st)
{
    if (!st)
        return;
    free(st->loops);
    free(st->ext_cache);
    free(st);
}

/* ---- publishing ---- */

static void publish_loop(status_t *st, netloop_t *nl, const conn_t *serving, uint64_t now)
{
    status_loop_t *sl = &st->loops[nl->index];
    conn_census_t census;
    conn_census(nl, serving, &census);
    uint64_t served = atomic_load_explicit(&nl->requests, memory_order_relaxed);
    status_loop_sample_t v = {.requests = served, .active = census.active,
                              .reading = census.reading, .writing = census.writing,
                              .idle = census.idle};
    time_t oldest = 0;
    v.parked = parked_sample(nl, &oldest);
    v.parked_oldest = (int64_t)oldest;
    status_slot_publish_loop(st->slot, nl->index, &v);
    sl->published_requests = v.requests;
    sl->next_sample_ms = now + STATUS_SAMPLE_MS;
}

static status_pool_sample_t pool_sample(pool_t *p, unsigned max)
{
    unsigned threads = 0, busy = pool_busy_count(p, &threads);
    return (status_pool_sample_t){.busy = busy, .threads = threads, .max = max};
}

static uint64_t read_rss_bytes(void)
{
    char buf[128];
    int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    unsigned long long size, resident;
    if (sscanf(buf, "%llu %llu", &size, &resident) != 2)
        return 0;
    return resident * (uint64_t)sysconf(_SC_PAGESIZE);
}

static int ext_index_of(status_t *st, const extension_t *e)
{
    for (size_t i = 0; i < st->n_ext_cache; i++)
        if (st->ext_cache[i].ext == e)
            return st->ext_cache[i].index;
    if (st->n_ext_cache == st->cap_ext_cache) {
        size_t cap = st->cap_ext_cache ? st->cap_ext_cache * 2 : 8;
        ext_index_t *grown = realloc(st->ext_cache, cap * sizeof *grown);
        if (!grown)
            return -1; /* looked up again next time */
        st->ext_cache = grown;
        st->cap_ext_cache = cap;
    }
    int index = status_board_ext_index(st->board, e->path);
    if (index < 0) {
        static log_limiter_t full = LOG_LIMITER_INIT;
        log_limited(&full, LOG_WARN, "status page: more than %u extensions; %s is left off it",
                    status_board_max_extensions(st->board), e->path);
    }
    st->ext_cache[st->n_ext_cache++] = (ext_index_t){e, index};
    return index;
}

static void publish_ext(extension_t *e, bool loaded, void *arg)
{
    status_t *st = arg;
    uint64_t started = atomic_load_explicit(&e->requests_started, memory_order_relaxed);
    uint64_t ended = atomic_load_explicit(&e->requests_ended, memory_order_relaxed);
    status_slot_publish_ext(st->slot, ext_index_of(st, e), loaded, started,
                            started > ended ? (uint32_t)(started - ended) : 0);
}

/* What belongs to the whole worker; skipped when another loop is at it. */
static void publish_worker(status_t *st, uint64_t now)
{
    if (atomic_flag_test_and_set_explicit(&st->worker_busy, memory_order_acquire))
        return;
    const config_t *cfg = st->srv->cfg;
    status_pool_sample_t calls = pool_sample(st->srv->pool, cfg->workers_max);
    status_pool_sample_t completions = pool_sample(st->srv->completions,
                                                   cfg->completion_workers_max);
    status_slot_publish_pools(st->slot, &calls, &completions);
    extensions_for_each(st->srv->extensions, publish_ext, st);
    if (now >= st->next_rss_ms) {
        status_slot_publish_rss(st->slot, read_rss_bytes());
        st->next_rss_ms = now + RSS_SAMPLE_MS;
    }
    atomic_flag_clear_explicit(&st->worker_busy, memory_order_release);
}

uint64_t status_loop_tick(status_t *st, netloop_t *nl, uint64_t now)
{
    status_loop_t *sl = &st->loops[nl->index];
    if (now >= sl->next_sample_ms) {
        publish_loop(st, nl, NULL, now);
        if (nl->index == 0)
            publish_worker(st, now);
    } else if (atomic_load_explicit(&nl->requests, memory_order_relaxed) !=
               sl->published_requests) {
        uint64_t served = atomic_load_explicit(&nl->requests, memory_order_relaxed);
        status_slot_publish_requests(st->slot, nl->index, served);
        sl->published_requests = served;
    }
    return sl->next_sample_ms;
}

/* ---- the page ---- */

typedef struct totals {
    status_loop_sample_t conns;
    status_pool_sample_t calls, completions;
    uint64_t requests;
} totals_t;

static void json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            fprintf(f, "\\%c", ch);
        else if (ch < 0x20 || ch == 0x7f)
            fprintf(f, "\\u%04x", ch);
        else
            fputc(ch, f);
    }
    fputc('"', f);
}

static void add_pool(status_pool_sample_t *sum, const status_pool_sample_t *p)
{
    sum->busy += p->busy;
    sum->threads += p->threads;
    sum->max += p->max;
}

static totals_t sum_workers(const status_worker_t *w, unsigned n)
{
    totals_t t = {0};
    for (unsigned i = 0; i < n; i++) {
        t.requests += w[i].total.requests;
        t.conns.active += w[i].total.active;
        t.conns.reading += w[i].total.reading;
        t.conns.writing += w[i].total.writing;
        t.conns.idle += w[i].total.idle;
        t.conns.parked += w[i].total.parked;
        int64_t oldest = w[i].total.parked_oldest;
        if (oldest && (!t.conns.parked_oldest || oldest < t.conns.parked_oldest))
            t.conns.parked_oldest = oldest;
        add_pool(&t.calls, &w[i].calls);
        add_pool(&t.completions, &w[i].completions);
    }
    return t;
}

static uint64_t age_s(uint64_t start_ms, uint64_t now_ms)
{
    return now_ms > start_ms ? (now_ms - start_ms) / 1000 : 0;
}

static long long parked_age_s(int64_t oldest, time_t wall)
{
    return oldest && wall > oldest ? (long long)(wall - oldest) : 0;
}

static void write_text(FILE *f, const status_worker_t *w, unsigned nw,
                       const status_extension_t *x, unsigned nx, uint64_t now)
{
    totals_t t = sum_workers(w, nw);
    time_t wall = time(NULL);
    fprintf(f, "Active connections: %u\n", t.conns.active);
    fprintf(f, "Reading: %u Writing: %u Waiting: %u\n", t.conns.reading, t.conns.writing,
            t.conns.idle);
    fprintf(f, "Requests: %llu\n", (unsigned long long)t.requests);
    fprintf(f, "Parked sessions: %u oldest: %lld s\n", t.conns.parked,
            parked_age_s(t.conns.parked_oldest, wall));
    fprintf(f, "Call pool: busy %u threads %u max %u\n", t.calls.busy, t.calls.threads,
            t.calls.max);
    fprintf(f, "Completion pool: busy %u threads %u max %u\n", t.completions.busy,
            t.completions.threads, t.completions.max);
    fprintf(f, "Workers: %u\n", nw);
    for (unsigned i = 0; i < nw; i++)
        fprintf(f, "worker %d age %llu s requests %llu rss %llu KiB\n", (int)w[i].pid,
                (unsigned long long)age_s(w[i].start_ms, now),
                (unsigned long long)w[i].total.requests,
                (unsigned long long)(w[i].rss_bytes / 1024));
    fprintf(f, "Extensions: %u\n", nx);
    for (unsigned i = 0; i < nx; i++)
        fprintf(f, "extension %s loaded %u requests %llu in-flight %u crashes %u disabled %s\n",
                x[i].path, x[i].loaded, (unsigned long long)x[i].requests, x[i].in_flight,
                x[i].crashes, x[i].disabled ? "yes" : "no");
}

static void json_pool(FILE *f, const char *name, const status_pool_sample_t *p)
{
    fprintf(f, "\"%s\":{\"busy\":%u,\"threads\":%u,\"max\":%u}", name, p->busy, p->threads,
            p->max);
}

static void json_conns(FILE *f, const status_loop_sample_t *v)
{
    fprintf(f, "\"connections\":{\"active\":%u,\"idle\":%u,\"reading\":%u,\"writing\":%u}",
            v->active, v->idle, v->reading, v->writing);
}

static void write_json(FILE *f, const char *software, const status_worker_t *w, unsigned nw,
                       const status_extension_t *x, unsigned nx, uint64_t now)
{
    totals_t t = sum_workers(w, nw);
    time_t wall = time(NULL);
    fprintf(f, "{\"server\":");
    json_string(f, software);
    fprintf(f, ",\"requests\":%llu,", (unsigned long long)t.requests);
    json_conns(f, &t.conns);
    fprintf(f, ",\"parked\":{\"sessions\":%u,\"oldest_age_s\":%lld},", t.conns.parked,
            parked_age_s(t.conns.parked_oldest, wall));
    fprintf(f, "\"pools\":{");
    json_pool(f, "calls", &t.calls);
    fputc(',', f);
    json_pool(f, "completions", &t.completions);
    fprintf(f, "},\"workers\":[");
    for (unsigned i = 0; i < nw; i++) {
        fprintf(f, "%s{\"pid\":%d,\"age_s\":%llu,\"requests\":%llu,\"rss_bytes\":%llu,",
                i ? "," : "", (int)w[i].pid, (unsigned long long)age_s(w[i].start_ms, now),
                (unsigned long long)w[i].total.requests, (unsigned long long)w[i].rss_bytes);
        json_conns(f, &w[i].total);
        fprintf(f, ",\"parked\":{\"sessions\":%u,\"oldest_age_s\":%lld},", w[i].total.parked,
                parked_age_s(w[i].total.parked_oldest, wall));
        json_pool(f, "calls", &w[i].calls);
        fputc(',', f);
        json_pool(f, "completions", &w[i].completions);
        fputc('}', f);
    }
    fprintf(f, "],\"extensions\":[");
    for (unsigned i = 0; i < nx; i++) {
        fprintf(f, "%s{\"path\":", i ? "," : "");
        json_string(f, x[i].path);
        fprintf(f, ",\"loaded\":%s,\"workers_loaded\":%u,\"requests\":%llu,\"in_flight\":%u,"
                   "\"crashes\":%u,\"disabled\":%s}",
                x[i].loaded ? "true" : "false", x[i].loaded, (unsigned long long)x[i].requests,
                x[i].in_flight, x[i].crashes, x[i].disabled ? "true" : "false");
    }
    fprintf(f, "]}\n");
}

/* ?json, alone or among other parameters. */
static bool wants_json(const char *query)
{
    for (const char *p = query; *p;) {
        const char *end = strchr(p, '&');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if ((len == 4 && memcmp(p, "json", 4) == 0) || (len > 4 && memcmp(p, "json=", 5) == 0))
            return true;
        p += len + (end != NULL);
    }
    return false;
}

static bool peer_allowed(const config_t *cfg, const char *peer)
{
    struct in6_addr a;
    if (!cidr_addr_parse(peer, &a))
        return false;
    if (cfg->n_status_allow == 0)
        return cidr_is_loopback(&a);
    for (size_t i = 0; i < cfg->n_status_allow; i++)
        if (cidr_contains(&cfg->status_allow[i], &a))
            return true;
    return false;
}

static void status_respond(void *ctx, conn_t *c, route_t *route)
{
    status_t *st = ctx;
    route_free(route);
    const reqinfo_t *ri = conn_reqinfo(c);
    const config_t *cfg = st->srv->cfg;
    if (!peer_allowed(cfg, conn_peer_text(c))) {
        static log_limiter_t refused = LOG_LIMITER_INIT;
        log_limited(&refused, LOG_WARN, "%s: status page %s refused (403): the peer is not in "
                    "--status-allow (%s)", conn_peer_text(c), cfg->status_path,
                    cfg->n_status_allow ? "as configured" : "default: loopback only");
        conn_respond_error(c, 403, false);
        return;
    }
    if (strcmp(ri->method, "GET") != 0 && strcmp(ri->method, "HEAD") != 0) {
        static const char allow[] = "Allow: GET, HEAD\r\nContent-Type: text/plain\r\n";
        static const char body[] = "the status page answers GET and HEAD only\n";
        conn_respond(c, 405, allow, sizeof allow - 1, body, sizeof body - 1, -1, 0, 0, true);
        return;
    }
    uint64_t now = loop_now(conn_loop(c));
    /* This loop's numbers and the worker's are fresh; the other loops' from their last tick
     * (at most STATUS_SAMPLE_MS old). */
    publish_loop(st, &st->srv->loops[conn_loop_index(c)], c, now);
    publish_worker(st, now);
    unsigned max_w = status_board_max_workers(st->board);
    unsigned max_x = status_board_max_extensions(st->board);
    status_worker_t *w = calloc(max_w, sizeof *w);
    status_extension_t *x = calloc(max_x, sizeof *x);
    char *body = NULL;
    size_t len = 0;
    FILE *f = w && x ? open_memstream(&body, &len) : NULL;
    if (!f) {
        free(w);
        free(x);
        conn_respond_error(c, 503, false);
        return;
    }
    unsigned nw = status_board_workers(st->board, w, max_w);
    unsigned nx = status_board_extensions(st->board, x, max_x);
    bool json = wants_json(ri->query);
    if (json)
        write_json(f, st->srv->software, w, nw, x, nx, clock_now_ms());
    else
        write_text(f, w, nw, x, nx, clock_now_ms());
    bool ok = !ferror(f);
    ok &= fclose(f) == 0;
    free(w);
    free(x);
    if (!ok) {
        free(body);
        conn_respond_error(c, 503, false);
        return;
    }
    static const char json_lines[] = "Content-Type: application/json\r\nCache-Control: no-store\r\n";
    static const char text_lines[] = "Content-Type: text/plain; charset=utf-8\r\n"
                                     "Cache-Control: no-store\r\n";
    if (json)
        conn_respond(c, 200, json_lines, sizeof json_lines - 1, body, len, -1, 0, 0, true);
    else
        conn_respond(c, 200, text_lines, sizeof text_lines - 1, body, len, -1, 0, 0, true);
    free(body);
}

handler_t status_handler(status_t *st)
{
    return (handler_t){.ctx = st, .respond = status_respond};
}
