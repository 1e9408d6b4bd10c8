/* Timeout queues: an intrusive doubly-linked FIFO per timeout length. Every node in one queue
 * has the same duration, so appending at the tail keeps the queue sorted by deadline and both
 * re-arming and expiry are O(1) with no allocation (the idea of lwan's timeout queue).
 * A node is in at most one queue; nodes belong to their owner (a connection) and are only
 * touched by the loop thread that owns the queue. */
#ifndef ISAPID_TIMEQ_H
#define ISAPID_TIMEQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct timeq_node {
    struct timeq_node *prev, *next; /* NULL when not queued */
    uint64_t deadline_ms;
} timeq_node_t;

typedef struct timeq {
    timeq_node_t head; /* sentinel: head.next is the earliest deadline */
    uint32_t timeout_ms;
} timeq_t;

static inline void timeq_init(timeq_t *q, uint32_t timeout_ms)
{
    q->head.prev = q->head.next = &q->head;
    q->timeout_ms = timeout_ms;
}

static inline bool timeq_node_armed(const timeq_node_t *n) { return n->next != NULL; }

static inline void timeq_disarm(timeq_node_t *n)
{
    if (!n->next)
        return;
    n->prev->next = n->next;
    n->next->prev = n->prev;
    n->prev = n->next = NULL;
}

/* (Re)arm: deadline = now + the queue's timeout; moves the node to the queue's tail. */
static inline void timeq_arm(timeq_t *q, timeq_node_t *n, uint64_t now_ms)
{
    timeq_disarm(n);
    n->deadline_ms = now_ms + q->timeout_ms;
    n->prev = q->head.prev;
    n->next = &q->head;
    q->head.prev->next = n;
    q->head.prev = n;
}

/* The earliest node whose deadline has passed, or NULL. The caller disarms or re-arms it. */
static inline timeq_node_t *timeq_expired(timeq_t *q, uint64_t now_ms)
{
    timeq_node_t *n = q->head.next;
    return (n != &q->head && n->deadline_ms <= now_ms) ? n : NULL;
}

/* Earliest deadline in the queue, or UINT64_MAX when empty. */
static inline uint64_t timeq_next_deadline(const timeq_t *q)
{
    return q->head.next != &q->head ? q->head.next->deadline_ms : UINT64_MAX;
}

#endif
