/* The connection's buffers (split out of src/http/conn.c): the input buffer, head block and
 * response block a connection takes for a request and gives back, and the loop's spare lists
 * of them (and of conn_t blocks) that let the next connections take them without malloc.
 * Ownership: a block is the connection's while it points to it, else the loop's list's (or
 * freed); everything here runs on the loop thread. */
#define _GNU_SOURCE
#include "conn.h"
#include "conn_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "sendrate.h"

static uint32_t conn_input_cap(conn_t *c)
{
    uint32_t cap = conn_cfg(c)->max_header_bytes;
    return cap < 1024 ? 1024 : cap;
}

void *spare_pop(void **list, unsigned *n)
{
    void *blk = *list;
    if (blk) {
        *list = *(void **)blk;
        (*n)--;
    }
    return blk;
}

void spare_push(void **list, unsigned *n, unsigned keep, void *blk)
{
    if (!blk)
        return;
    if (*n >= keep) {
        free(blk);
        return;
    }
    *(void **)blk = *list;
    *list = blk;
    (*n)++;
}

void conn_spares_free(netloop_t *nl)
{
    void **lists[] = {&nl->spare_in, &nl->spare_hd, &nl->spare_rs, &nl->spare_conn,
                      &nl->spare_batch};
    unsigned *counts[] = {&nl->n_spare_in, &nl->n_spare_hd, &nl->n_spare_rs, &nl->n_spare_conn,
                          &nl->n_spare_batch};
    for (size_t i = 0; i < sizeof lists / sizeof lists[0]; i++) {
        void *blk;
        while ((blk = spare_pop(lists[i], counts[i])) != NULL)
            free(blk);
    }
    free(atomic_exchange(&nl->handy_rs, NULL));
}

/* Give the connection's buffers (input, head block, response block) back to the loop's spares
 * while they hold fewer than keep
 * (CONN_SPARES; 1 where memory is to go back: a parked session's released socket), else free
 * them. */
void conn_release_input(conn_t *c, unsigned keep)
{
    netloop_t *nl = c->nl;
    conn_pathbuf_free(c); /* before the head block it may live in */
    spare_push(&nl->spare_in, &nl->n_spare_in, keep, c->in);
    spare_push(&nl->spare_hd, &nl->n_spare_hd, keep, c->hd);
    if (c->rs) {
        timeq_disarm(&c->rs->send_rate.timer); /* not armed here: kept as a safety net */
        /* Into the handy slot first: the handler's first write takes it from there when the
         * request is handed over with nothing left to read (conn_release_unreadable). */
        void *displaced = atomic_exchange_explicit(&nl->handy_rs, c->rs, memory_order_acq_rel);
        spare_push(&nl->spare_rs, &nl->n_spare_rs,
                   keep == CONN_SPARES ? CONN_SPARE_RESPONSES : keep, displaced);
    }
    c->in = NULL;
    c->hd = NULL;
    c->rs = NULL;
    c->in_cap = c->in_start = c->in_end = 0;
}

/* A handler takes the request over (CONN_EXTENSION) with its own copy of the head: when no
 * byte of the input can be read any more (body over, nothing pipelined), the buffers and the
 * decoded path go now, not when the request ends, so a parked request holds none of them. The
 * first write takes a response block again (conn_resp_take), the next request the rest. */
void conn_release_unreadable(conn_t *c)
{
    if (!conn_body_over(c) || c->in_end != c->in_start || conn_output_pending(c) || c->batch_len)
        return; /* (earlier responses waiting in the batch: src/http/conn_batch.c) */
    conn_release_input(c, CONN_SPARES); /* the decoded path with them (conn_pathbuf_free) */
}

/* First read of a request on a connection without buffers: into the loop's spare buffer, which
 * becomes the connection's only if bytes came. 1 bytes read, 0 would block, -1 EOF/error/ENOMEM. */
int conn_first_read(conn_t *c)
{
    netloop_t *nl = c->nl;
    uint32_t cap = conn_input_cap(c);
    char *in = spare_pop(&nl->spare_in, &nl->n_spare_in);
    if (!in && !(in = malloc(cap)))
        return -1;
    ssize_t n = recv(c->watch.fd, in, cap, 0);
    if (n <= 0) {
        int err = errno;
        spare_push(&nl->spare_in, &nl->n_spare_in, CONN_SPARES, in);
        if (n < 0 && (err == EAGAIN || err == EINTR)) {
            if (err == EAGAIN)
                c->readable = false;
            return 0;
        }
        return -1;
    }
    c->hd = spare_pop(&nl->spare_hd, &nl->n_spare_hd);
    if (!c->hd && !(c->hd = malloc(sizeof *c->hd)))
        goto no_memory;
    if (!c->rs) { /* taken and given back with hd, but released last (conn_release_input) */
        c->rs = spare_pop(&nl->spare_rs, &nl->n_spare_rs);
        if (!c->rs)
            c->rs = atomic_exchange_explicit(&nl->handy_rs, NULL, memory_order_acq_rel);
        if (!c->rs && !(c->rs = malloc(sizeof *c->rs)))
            goto no_memory;
    }
    memset(&c->hd->ri, 0, sizeof c->hd->ri);
    llhttp_init(&c->hd->parser, HTTP_REQUEST, conn_parser_settings());
    /* Any HTTP/d.d gets through (llhttp_reset keeps the flag): conn_build_reqinfo answers 505
     * for a major version other than 1 and serves a higher 1.x as 1.1 (RFC 9110 §2.5), which
     * strict llhttp would refuse outright. */
    c->hd->parser.lenient_flags |= LENIENT_VERSION;
    c->hd->parser.data = c;
    send_rate_reset(&c->rs->send_rate, c);
    out_chain_init(&c->rs->out, NULL, 0);
    c->in = in;
    c->in_cap = cap;
    c->in_start = 0;
    c->in_end = (uint32_t)n;
    conn_note_short_read(c, (size_t)n, cap);
    return 1;

no_memory: /* what was taken goes back (spare_push takes a NULL hd) */
    spare_push(&nl->spare_hd, &nl->n_spare_hd, CONN_SPARES, c->hd);
    c->hd = NULL;
    spare_push(&nl->spare_in, &nl->n_spare_in, CONN_SPARES, in);
    return -1;
}

