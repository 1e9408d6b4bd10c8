/* Responses to pipelined requests gathered into one send (src/http/conn_internal.h).
 *
 * A client that pipelines sends many requests in one write; answering each with a system call
 * of its own costs more than the answer. The responses to the requests already in the input
 * buffer go into the connection's batch instead, and one sendmsg carries the batch with the
 * response to the last of them, or before anything else happens on the connection. Into the
 * batch go the loop's own responses (a small file is read into it, not sent with sendfile)
 * and the synchronous writes of an extension call the loop's thread runs (conn_gather_begin
 * to conn_gather_end), both only while the connection stays open and more input waits.
 *
 * Invariants (responses leave in the order of their requests, and nothing is lost):
 * - the batch holds complete pieces of responses in order, none of it sent;
 * - whatever is written to the socket after bytes entered the batch goes behind them: the
 *   loop's output (conn_batch_prepend, conn_batch_queue), an extension's synchronous writes
 *   (conn_batch_write, from any thread, under the handler's lock), its asynchronous writes
 *   and a shutdown it asks for (the ISAPI host sends the batch first, conn_send_blocking with
 *   an empty chain), 100 Continue (no gathering while the client waits for it, and the loop
 *   sends the batch before it reads a body);
 * - the loop never reads the socket, waits for anything or closes after a response with a
 *   batch waiting (src/http/conn.c sends it first), and the batch never grows past
 *   CONN_BATCH_MAX: a client that stops reading makes the server hold no more than that, and
 *   the send timeout and minimum send rate apply to the batch's send like any other;
 * - an extension call that goes on (HSE_STATUS_PENDING) sends the batch when it returns, so
 *   earlier responses do not wait for the end of its session.
 * Ownership: conn_t.batch (who may touch it while a handler owns the request). */
#define _GNU_SOURCE
#include "conn.h"
#include "conn_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Identifies the calling thread for gather_owner (its address differs per thread). */
static _Thread_local char gather_token;

static uintptr_t this_thread(void)
{
    return (uintptr_t)&gather_token;
}

/* Loop thread: the connection's batch buffer, from the loop's spare when there is one. */
static bool batch_alloc(conn_t *c)
{
    if (c->batch)
        return true;
    c->batch = spare_pop(&c->nl->spare_batch, &c->nl->n_spare_batch);
    if (!c->batch)
        c->batch = malloc(CONN_BATCH_MAX);
    return c->batch != NULL;
}

void conn_batch_release_slow(conn_t *c)
{
    spare_push(&c->nl->spare_batch, &c->nl->n_spare_batch, CONN_BATCH_SPARES, c->batch);
    c->batch = NULL;
    conn_batch_sent(c);
}

/* The connection stays open after this response and pipelined input may follow. */
static bool batch_may_grow(const conn_t *c)
{
    return !c->close_after && c->keep_alive && !c->nl->draining && !conn_body_pending(c);
}

/* len bytes of fd from off into dst: false if the file ended first or failed. */
static bool read_range(int fd, char *dst, uint64_t off, uint64_t len)
{
    while (len > 0) {
        ssize_t n = pread(fd, dst, (size_t)len, (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        dst += n;
        off += (uint64_t)n;
        len -= (uint64_t)n;
    }
    return true;
}

bool conn_batch_take_slow(conn_t *c)
{
    /* conn_batch_take called this only with pipelined input or a batch waiting. */
    bool more = c->in_end > c->in_start;
    if (c->state != CONN_SENDING || c->batch_queued || !batch_may_grow(c))
        return false;
    out_chain_t *out = &c->rs->out;
    if (out->i || out->seg_done || out->bytes)
        return false;
    uint64_t len = 0;
    for (size_t i = 0; i < out->n; i++) {
        if (!out->segs[i].mem && out->segs[i].len > CONN_BATCH_FILE_MAX)
            return false;
        len += out->segs[i].len;
    }
    if (len > CONN_BATCH_MAX - c->batch_len || !batch_alloc(c))
        return false;
    char *at = c->batch + c->batch_len;
    uint64_t payload = 0;
    for (size_t i = 0; i < out->n; i++) {
        const out_seg_t *s = &out->segs[i];
        if (s->mem)
            memcpy(at, s->mem, (size_t)s->len);
        else if (!read_range(s->fd, at, s->off, s->len))
            return false; /* shorter than announced: sendfile finds it too, and says so */
        at += s->len;
        if (s->payload)
            payload += s->len;
    }
    c->batch_len += (uint32_t)len;
    c->log_bytes += payload; /* as conn_flush would have counted it */
    conn_output_free(c);
    if (!more)
        conn_batch_queue(c); /* the last request read: the batch leaves now */
    return true;
}

void conn_batch_prepend_slow(conn_t *c)
{
    out_chain_t *out = &c->rs->out;
    out_seg_t *segs = c->rs->out_segs;
    /* The output is the loop's own (at most two segments), none of it sent yet. */
    memmove(segs + 1, segs, out->n * sizeof *segs);
    segs[0] = (out_seg_t){.mem = c->batch, .len = c->batch_len, .fd = -1};
    out_chain_init(out, segs, out->n + 1);
    c->batch_queued = true;
}

void conn_batch_queue(conn_t *c)
{
    if (!c->batch_len || c->batch_queued)
        return;
    if (!conn_output_pending(c))
        out_chain_init(&c->rs->out, c->rs->out_segs, 0);
    conn_batch_prepend(c);
}

void conn_batch_sent(conn_t *c)
{
    c->batch_len = 0;
    c->batch_queued = false;
}

/* The read-ahead needs bytes that are not in the buffer yet (or 100 Continue first). */
bool conn_readahead_reads_socket(const conn_t *c)
{
    if (c->expect_continue && !c->sent_continue)
        return true;
    uint64_t want = c->readahead_want - c->readahead_got;
    if (want == 0 || c->body_mode == BODY_NONE || c->body_done)
        return false;
    if (c->body_mode == BODY_CHUNKED)
        return true;
    if (c->body_left < want)
        want = c->body_left;
    return want > c->in_end - c->in_start;
}

void conn_gather_begin_slow(conn_t *c)
{
    /* Not with filters (their calls write on threads of their own), not while the client
     * waits for 100 Continue, and not while body bytes, not requests, follow the head. */
    if (c->in_end > c->in_start && batch_may_grow(c) && !conn_handler(c)->takes_every_route &&
        !(c->expect_continue && !c->sent_continue) && c->batch_len < CONN_BATCH_MAX &&
        batch_alloc(c))
        atomic_store_explicit(&c->gather_owner, this_thread(), memory_order_relaxed);
}

void conn_batch_try_send(conn_t *c)
{
    if (!c->batch_len || c->watch.fd < 0)
        return;
    out_seg_t seg = {.mem = c->batch, .len = c->batch_len, .fd = -1};
    out_chain_t ch;
    out_chain_init(&ch, &seg, 1);
    (void)out_chain_send_nagle(c->watch.fd, &ch, &c->nagle); /* a failure shows at the next write */
    if (ch.bytes) {
        /* The batch keeps only what was not sent, from its start. */
        memmove(c->batch, c->batch + ch.bytes, (size_t)(c->batch_len - ch.bytes));
        c->batch_len -= (uint32_t)ch.bytes;
        if (c->rs)
            send_rate_took(&c->rs->send_rate, ch.bytes);
    }
}

/* The most segments of a chain sent together with the batch in one go. */
#define BATCH_JOIN_SEGS 8

int conn_batch_write(conn_t *c, out_chain_t *ch)
{
    /* An empty chain asks for the batch to be sent (before an asynchronous write, a shutdown
     * or the end of a call), even from the gathering thread. */
    if (ch->i < ch->n &&
        atomic_load_explicit(&c->gather_owner, memory_order_relaxed) == this_thread()) {
        uint64_t len = 0, payload = 0;
        bool memory = true;
        for (size_t i = ch->i; i < ch->n; i++) {
            memory = memory && ch->segs[i].mem;
            len += ch->segs[i].len - (i == ch->i ? ch->seg_done : 0);
        }
        if (memory && len <= CONN_BATCH_MAX - c->batch_len) {
            for (size_t i = ch->i; i < ch->n; i++) {
                const out_seg_t *s = &ch->segs[i];
                uint64_t skip = i == ch->i ? ch->seg_done : 0;
                memcpy(c->batch + c->batch_len, s->mem + skip, (size_t)(s->len - skip));
                c->batch_len += (uint32_t)(s->len - skip);
                if (s->payload)
                    payload += s->len - skip;
            }
            ch->i = ch->n;
            ch->seg_done = 0;
            ch->bytes += len;
            ch->payload_sent += payload;
            return 0;
        }
    }
    if (!c->batch_len)
        return conn_send_chain_blocking(c, ch);
    out_seg_t segs[1 + BATCH_JOIN_SEGS];
    segs[0] = (out_seg_t){.mem = c->batch, .len = c->batch_len, .fd = -1};
    out_chain_t both;
    if (ch->i == 0 && ch->seg_done == 0 && ch->n <= BATCH_JOIN_SEGS) {
        if (ch->n) /* an empty chain (segs NULL: the batch alone) has nothing to copy */
            memcpy(segs + 1, ch->segs, ch->n * sizeof *segs);
        out_chain_init(&both, segs, 1 + ch->n);
        int rc = conn_send_chain_blocking(c, &both);
        c->batch_len = 0; /* sent, or the connection fails */
        if (rc == 0) {
            ch->i = ch->n;
            ch->bytes += both.bytes - segs[0].len;
            ch->payload_sent += both.payload_sent;
        }
        return rc;
    }
    out_chain_init(&both, segs, 1);
    int rc = conn_send_chain_blocking(c, &both);
    c->batch_len = 0;
    return rc < 0 ? rc : conn_send_chain_blocking(c, ch);
}
