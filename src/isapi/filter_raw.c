/* SEND_RAW_DATA and READ_RAW_DATA (ISAPI-FILTERS.md §2.2, §2.11).
 *
 * SEND_RAW_DATA: every plan a request builds (plan_build: the head block, then each write's body
 * block) and the tail the loop sends at the end (an error page, an empty response, the last
 * chunk) passes the filters in reverse priority order before it is sent; a filter may point
 * pvInData at other bytes (its memory is copied at once, so it need live only until the next
 * notification). Framing segments the server adds (chunk lines) are not shown. A body block of
 * a file is read into memory first (the file's range of this write, in blocks of
 * RAW_FILE_BLOCK bytes: one notification each). When a filter changes the length of a block,
 * nothing is adjusted: a Content-Length or chunk size already sent no longer matches, as on IIS
 * (which leaves the framing alone too); such a filter must set its own framing.
 *
 * READ_RAW_DATA: the transport parses the head before the ISAPI host sees the request, so the
 * filters get the head as it was received (request line and header lines, rebuilt from the
 * parsed head) and then the body read-ahead, before PREPROC_HEADERS, to read: changes to these
 * blocks are ignored, SF_STATUS_REQ_READ_NEXT counts as NEXT_NOTIFICATION, and
 * SF_REQ_SET_NEXT_READ_SIZE has no effect. Later body reads of the extension are not shown. */
#define _GNU_SOURCE
#include "filter_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "isapi_internal.h"

#define RAW_FILE_BLOCK (64u * 1024u)

typedef struct growbuf {
    char *p;
    size_t len, cap;
    bool failed;
} growbuf_t;

static void gb_put(growbuf_t *b, const void *d, size_t n)
{
    if (b->failed || n == 0)
        return;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 4096;
        while (cap < b->len + n)
            cap *= 2;
        char *g = realloc(b->p, cap);
        if (!g) {
            b->failed = true;
            return;
        }
        b->p = g;
        b->cap = cap;
    }
    memcpy(b->p + b->len, d, n);
    b->len += n;
}

/* One block through SEND_RAW_DATA; what the filters left is appended to b. */
static void raw_block(request_t *r, const char *d, size_t n, growbuf_t *b)
{
    filter_req_t *fr = r->filt;
    HTTP_FILTER_RAW_DATA rd = {.pvInData = (PVOID)d, .cbInData = (DWORD)n, .cbInBuffer = (DWORD)n};
    bool was = fr->io_locked;
    fr->io_locked = true; /* plans are built and tails composed under io_lock */
    fr->in_raw = true;
    (void)filter_notify(r, fr->s, SF_NOTIFY_SEND_RAW_DATA, &rd);
    fr->in_raw = false;
    fr->io_locked = was;
    if (rd.pvInData) /* NULL: the filter dropped the block */
        gb_put(b, rd.pvInData, rd.cbInData);
}

static bool wants_raw(request_t *r)
{
    return r->filt && !r->filt->in_raw && (r->filt->s->filters->wanted & SF_NOTIFY_SEND_RAW_DATA);
}

/* Each shown segment's bytes, after the filters, go into one buffer the plan owns. */
BOOL filter_send_raw_plan(request_t *r, out_plan_t *p)
{
    if (!wants_raw(r) || p->n == 0)
        return TRUE;
    growbuf_t b = {0};
    size_t starts[p->n], lens[p->n];
    bool shown[p->n];
    for (size_t i = 0; i < p->n; i++) {
        out_seg_t *s = &p->segs[i];
        shown[i] = s->payload || (s->mem && s->mem == p->head);
        starts[i] = b.len;
        if (!shown[i])
            continue;
        if (s->mem) {
            raw_block(r, s->mem + s->off, (size_t)s->len, &b);
        } else { /* a file range: read in blocks */
            char *blk = malloc(RAW_FILE_BLOCK);
            if (!blk) {
                b.failed = true;
                break;
            }
            uint64_t done = 0;
            while (done < s->len && !b.failed) {
                size_t want = s->len - done < RAW_FILE_BLOCK ? (size_t)(s->len - done)
                                                             : RAW_FILE_BLOCK;
                ssize_t got = pread(s->fd, blk, want, (off_t)(s->off + done));
                if (got <= 0) {
                    b.failed = true;
                    break;
                }
                raw_block(r, blk, (size_t)got, &b);
                done += (uint64_t)got;
            }
            free(blk);
        }
        lens[i] = b.len - starts[i];
    }
    if (b.failed) {
        free(b.p);
        return fail(ERROR_NOT_ENOUGH_MEMORY);
    }
    for (size_t i = 0; i < p->n; i++)
        if (shown[i])
            p->segs[i] = (out_seg_t){.mem = b.p ? b.p + starts[i] : "",
                                     .fd = -1,
                                     .len = lens[i],
                                     .payload = p->segs[i].payload};
    free(p->filtered);
    p->filtered = b.p;
    return TRUE;
}

void filter_send_raw_tail(request_t *r, char **tail, size_t *len)
{
    if (!wants_raw(r) || !*tail || !*len)
        return;
    growbuf_t b = {0};
    raw_block(r, *tail, *len, &b);
    if (b.failed) {
        free(b.p);
        return; /* sent as it was */
    }
    free(*tail);
    *tail = b.p ? b.p : malloc(1);
    *len = b.len;
}

void filter_read_raw_head(request_t *r)
{
    filter_req_t *fr = r->filt;
    if (!(fr->s->filters->wanted & SF_NOTIFY_READ_RAW_DATA))
        return;
    growbuf_t b = {0};
    const reqinfo_t *ri = &r->ri;
    char version[32];
    int vn = snprintf(version, sizeof version, " HTTP/%u.%u\r\n", ri->http_major, ri->http_minor);
    gb_put(&b, ri->method, strlen(ri->method));
    gb_put(&b, " ", 1);
    gb_put(&b, ri->raw_target, strlen(ri->raw_target));
    gb_put(&b, version, (size_t)vn);
    for (size_t i = 0; i < ri->n_headers; i++) {
        gb_put(&b, ri->headers[i].name, ri->headers[i].name_len);
        gb_put(&b, ": ", 2);
        gb_put(&b, ri->headers[i].value, ri->headers[i].value_len);
        gb_put(&b, "\r\n", 2);
    }
    gb_put(&b, "\r\n", 2);
    if (!b.failed) {
        HTTP_FILTER_RAW_DATA rd = {
            .pvInData = b.p, .cbInData = (DWORD)b.len, .cbInBuffer = (DWORD)b.len};
        (void)filter_notify(r, fr->s, SF_NOTIFY_READ_RAW_DATA, &rd);
    }
    free(b.p);
    DWORD avail = r->cell->ecb.cbAvailable;
    if (avail) {
        char *copy = malloc(avail); /* the filter may write into the block: not into lpbData */
        if (copy) {
            memcpy(copy, r->readahead, avail);
            HTTP_FILTER_RAW_DATA rd = {.pvInData = copy, .cbInData = avail, .cbInBuffer = avail};
            (void)filter_notify(r, fr->s, SF_NOTIFY_READ_RAW_DATA, &rd);
            free(copy);
        }
    }
}
