/* The output chain: the one way response bytes reach a socket, for the loop's own responses
 * (static files, errors, the tail of an extension's response: src/http/conn_out.c) and for an
 * extension's writes (WriteClient, TransmitFile, vector send, send-URL: src/isapi/isapi_plan.c,
 * driven by src/isapi/isapi_op.c or src/http/conn_io.c).
 *
 * A chain is a list of segments, memory or a range of a file, and a position in it.
 * out_chain_send sends from the position without blocking: consecutive memory segments are
 * gathered into one sendmsg (MSG_MORE while anything follows them), a file range goes with
 * sendfile, and TCP_CORK is set while a file range is followed by more segments (sendfile has
 * no MSG_MORE), so a head, a file and a tail share packets, and while a long file range is sent
 * even when it is the last (OUT_CHAIN_LONG_FILE, which also caps the socket's unsent queue:
 * OUT_CHAIN_FILE_NOTSENT_LOWAT); both are cleared when the chain is sent. A full socket leaves
 * the position where the socket stopped taking bytes: the next call goes on from there.
 *
 * Ownership: a chain owns nothing. The segments' array, their memory and their descriptors
 * belong to whoever built the chain (conn_t's output, out_plan_t) and must outlive its sending.
 * One thread sends a chain at a time. */
#ifndef ISAPID_OUTCHAIN_H
#define ISAPID_OUTCHAIN_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One piece of outgoing data: memory (mem != NULL) or len bytes of file fd from off.
 * `payload` marks the response's own bytes (the body; for an extension, what it wrote), as
 * opposed to the server's framing (heads, chunk lines): the access log and WriteClient's byte
 * counts are payload, the send rate counts both. */
typedef struct out_seg {
    const char *mem;
    uint64_t off;
    uint64_t len;
    int fd;
    bool payload;
} out_seg_t;

typedef struct out_chain {
    out_seg_t *segs;
    size_t n, i;            /* segments; the one being sent */
    uint64_t seg_done;      /* bytes of segs[i] already sent */
    uint64_t payload_sent;  /* payload bytes sent so far */
    uint64_t bytes;         /* every byte sent so far, framing included */
    bool corked;            /* TCP_CORK set: a file range is followed by more segments, or long */
    bool notsent_capped;    /* TCP_NOTSENT_LOWAT set: a long file range is being sent */
} out_chain_t;

/* The most one sendfile call is asked to send (the kernel's own limit is about 2 GiB). */
#define OUT_CHAIN_SENDFILE_MAX ((size_t)1 << 30)

/* A file range at least this long is sent as a bulk transfer: corked even when nothing follows
 * it, with the socket's unsent queue capped (OUT_CHAIN_FILE_NOTSENT_LOWAT). Below this length
 * the four setsockopt calls would cost about what they save.
 * - Corked (nginx's tcp_nopush corks every file it sends): uncorked, with TCP_NODELAY on, an
 *   acknowledgement that arrives while sendfile runs pushes the socket's last, partly filled
 *   segment out early: a 64 MiB file on the loopback left in about 1,270 data segments instead
 *   of 1,030 full ones, each extra one costing a transmit, the receiver's processing and its
 *   acknowledgement.
 * - The unsent queue capped: with megabytes queued and not yet sent, the acknowledgements,
 *   handled on the receiving peer's core, send the queued data from there too, while sendfile
 *   sends from the loop's core: on the loopback the two streams arrive out of order (per 64 MiB:
 *   5-25 spurious fast retransmits and SACK recoveries, for nginx as well), and the two cores
 *   contend for the socket. With the cap the loop's sendfile sends nearly all of it, in order:
 *   none of those, and on a quiet machine half the sender's CPU time per file. The price is
 *   more waits for the socket (some 80 per 64 MiB instead of 2), which cost more when other
 *   work shares the loop's core (bench/HISTORY.md). */
#define OUT_CHAIN_LONG_FILE ((uint64_t)512 << 10)
#define OUT_CHAIN_FILE_NOTSENT_LOWAT (32 << 10)

/* A chain at the start of segs[0..n). */
static inline void out_chain_init(out_chain_t *ch, out_seg_t *segs, size_t n)
{
    *ch = (out_chain_t){.segs = segs, .n = n};
}

/* Something is left to send. */
static inline bool out_chain_pending(const out_chain_t *ch) { return ch->i < ch->n; }

/* Send what is left of ch on socket fd, without blocking: 1 all sent (the cork, if set, is
 * cleared), 0 the socket is full (call again when it is writable), -EIO a file ended before
 * its range did (the length the head promised cannot be kept), or another -errno of
 * sendmsg/sendfile (-EPIPE, -ECONNRESET...). EINTR is retried. */
int out_chain_send(int fd, out_chain_t *ch);

/* TCP_NODELAY, set lazily: a socket's first send cannot wait on Nagle (nothing of the
 * connection is unacknowledged yet), so the option is set only before its second send call,
 * whatever that is (the rest of a partial send, a file range after its head, a second write, a
 * pipelined response): a `Connection: close` response sent in one call never sets it. One
 * state per socket, shared by every thread that sends on it (atomic: a 100 Continue may be sent
 * by a reader while a writer sends). Starts OUT_NAGLE_UNSENT. */
typedef enum { OUT_NAGLE_UNSENT, OUT_NAGLE_SENT, OUT_NAGLE_OFF } out_nagle_state_t;
typedef _Atomic unsigned char out_nagle_t;
/* Call before each send call on fd: sets TCP_NODELAY unless this is the socket's first. */
void out_nagle_before_send(int fd, out_nagle_t *nagle);
/* out_chain_send, with out_nagle_before_send before each of its send calls. */
int out_chain_send_nagle(int fd, out_chain_t *ch, out_nagle_t *nagle);

#endif
