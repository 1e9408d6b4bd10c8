/* The output chain (src/http/outchain.h): sendmsg / sendfile from a list of segments, keeping
 * the unsent tail across a full socket. */
#define _GNU_SOURCE
#include "outchain.h"
#include "outchain_internal.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

/* Memory segments gathered into one sendmsg at most. */
#define OUT_CHAIN_IOV_MAX 16

static size_t sendfile_max = OUT_CHAIN_SENDFILE_MAX;

void out_chain_set_sendfile_max_for_tests(size_t max)
{
    sendfile_max = max ? max : OUT_CHAIN_SENDFILE_MAX;
}

/* n bytes went out from the position: move it over the segments they covered. */
static void out_chain_advance(out_chain_t *ch, uint64_t n)
{
    while (n > 0 && ch->i < ch->n) {
        const out_seg_t *s = &ch->segs[ch->i];
        uint64_t room = s->len - ch->seg_done;
        uint64_t take = n < room ? n : room;
        ch->seg_done += take;
        if (s->payload)
            ch->payload_sent += take;
        ch->bytes += take;
        n -= take;
        if (ch->seg_done == s->len) {
            ch->i++;
            ch->seg_done = 0;
        }
    }
}

static void out_chain_cork(int fd, out_chain_t *ch, bool on)
{
    int v = on;
    /* A socket without TCP (a test's socketpair) refuses it: nothing to share packets then. */
    (void)setsockopt(fd, IPPROTO_TCP, TCP_CORK, &v, sizeof v);
    ch->corked = on;
}

static void out_chain_cap_notsent(int fd, out_chain_t *ch, bool on)
{
    int v = on ? OUT_CHAIN_FILE_NOTSENT_LOWAT : 0; /* 0: the system's default again */
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &v, sizeof v);
    ch->notsent_capped = on;
}

void out_nagle_before_send(int fd, out_nagle_t *nagle)
{
    if (atomic_load_explicit(nagle, memory_order_relaxed) == OUT_NAGLE_OFF)
        return;
    if (atomic_exchange_explicit(nagle, OUT_NAGLE_SENT, memory_order_relaxed) == OUT_NAGLE_UNSENT)
        return;
    /* Not the first send: what went before may be unacknowledged. (Two senders racing here
     * may both set it: harmless.) A socket without TCP (a test's socketpair) refuses it. */
    int one = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    atomic_store_explicit(nagle, OUT_NAGLE_OFF, memory_order_relaxed);
}

int out_chain_send(int fd, out_chain_t *ch)
{
    return out_chain_send_nagle(fd, ch, NULL);
}

int out_chain_send_nagle(int fd, out_chain_t *ch, out_nagle_t *nagle)
{
    while (ch->i < ch->n) {
        const out_seg_t *seg = &ch->segs[ch->i];
        ssize_t n;
        if (seg->len == ch->seg_done) {
            ch->i++;
            ch->seg_done = 0;
            continue;
        }
        /* A memory group sent whole moves the position past it at once. */
        uint64_t group_len = UINT64_MAX, group_payload = 0;
        size_t group_end = ch->i;
        if (seg->mem) {
            struct iovec iov[OUT_CHAIN_IOV_MAX];
            int cnt = 0;
            size_t k = ch->i;
            group_len = 0;
            for (; k < ch->n && cnt < OUT_CHAIN_IOV_MAX && ch->segs[k].mem; k++) {
                uint64_t skip = k == ch->i ? ch->seg_done : 0;
                iov[cnt].iov_base = (char *)ch->segs[k].mem + skip;
                iov[cnt].iov_len = (size_t)(ch->segs[k].len - skip);
                group_len += iov[cnt].iov_len;
                if (ch->segs[k].payload)
                    group_payload += iov[cnt].iov_len;
                cnt++;
            }
            group_end = k;
            if (nagle)
                out_nagle_before_send(fd, nagle);
            int flags = MSG_NOSIGNAL | (k < ch->n ? MSG_MORE : 0);
            if (cnt == 1) { /* most responses (a batch, a loop's own): no iovec to import */
                n = send(fd, iov[0].iov_base, iov[0].iov_len, flags);
            } else {
                struct msghdr msg = {.msg_iov = iov, .msg_iovlen = (size_t)cnt};
                n = sendmsg(fd, &msg, flags);
            }
        } else {
            off_t off = (off_t)(seg->off + ch->seg_done);
            uint64_t left = seg->len - ch->seg_done;
            bool long_file = left >= OUT_CHAIN_LONG_FILE;
            if (!ch->corked && (ch->i + 1 < ch->n || long_file))
                out_chain_cork(fd, ch, true);
            if (!ch->notsent_capped && long_file)
                out_chain_cap_notsent(fd, ch, true);
            if (nagle)
                out_nagle_before_send(fd, nagle);
            n = sendfile(fd, seg->fd, &off, left > sendfile_max ? sendfile_max : (size_t)left);
            if (n == 0)
                return -EIO; /* the file is shorter than its range */
        }
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return errno == EAGAIN ? 0 : -errno;
        }
        if ((uint64_t)n == group_len) {
            ch->i = group_end;
            ch->seg_done = 0;
            ch->bytes += group_len;
            ch->payload_sent += group_payload;
            continue;
        }
        out_chain_advance(ch, (uint64_t)n);
    }
    if (ch->corked)
        out_chain_cork(fd, ch, false);
    if (ch->notsent_capped)
        out_chain_cap_notsent(fd, ch, false);
    return 1;
}
