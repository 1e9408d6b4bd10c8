/* libisapi: Win32 memory: heaps (HeapAlloc and friends), LocalAlloc/GlobalAlloc, VirtualAlloc.
 *
 * Heaps. Every block from HeapAlloc/LocalAlloc/GlobalAlloc is malloc memory with a header in
 * front: the heap it belongs to, its requested size (HeapSize, HeapReAlloc's zeroing), and
 * links in its heap's list of blocks, so HeapDestroy frees every block still allocated, as on
 * Windows. The process heap (GetProcessHeap, and LocalAlloc/GlobalAlloc) is never destroyed.
 * A heap handle is checked against the list of live heaps before use, so a wrong or destroyed
 * one fails with ERROR_INVALID_HANDLE rather than crashing. HEAP_NO_SERIALIZE and
 * HEAP_GENERATE_EXCEPTIONS are accepted and ignored: every heap is locked, and failures
 * return NULL. LMEM_MOVEABLE/GMEM_MOVEABLE memory does not move: its handle is its address,
 * and GlobalLock returns it.
 *
 * VirtualAlloc is mmap; VirtualFree(MEM_RELEASE) is given no size, so each reservation's base
 * and length are remembered in a list. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>
#include <windows.h>

#define HEAP_MAGIC 0x48454150u /* "HEAP" */

struct heap;

/* 32 bytes, so the block after it keeps malloc's 16-byte alignment. */
struct block_header {
    struct heap *heap;
    size_t size;
    struct block_header *prev, *next; /* in heap->blocks; guarded by heap->lock */
};
_Static_assert(sizeof(struct block_header) % 16 == 0, "block header keeps alignment");

struct heap {
    unsigned magic;
    pthread_mutex_t lock;
    struct block_header blocks; /* list head (a sentinel) */
    struct heap *next_live;     /* guarded by heaps_lock */
};

static struct heap process_heap = {
    .magic = HEAP_MAGIC,
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .blocks = {.prev = &process_heap.blocks, .next = &process_heap.blocks},
};
static pthread_mutex_t heaps_lock = PTHREAD_MUTEX_INITIALIZER;
static struct heap *live_heaps = &process_heap;

/* The heap h names, or NULL with ERROR_INVALID_HANDLE set. */
static struct heap *find_heap(HANDLE h)
{
    pthread_mutex_lock(&heaps_lock);
    struct heap *found = live_heaps;
    while (found != NULL && (HANDLE)found != h)
        found = found->next_live;
    pthread_mutex_unlock(&heaps_lock);
    if (found == NULL)
        SetLastError(ERROR_INVALID_HANDLE);
    return found;
}

static struct block_header *header_of(LPCVOID mem)
{
    return (struct block_header *)mem - 1;
}

__attribute__((visibility("default"))) HANDLE WINAPI GetProcessHeap(void)
{
    return (HANDLE)&process_heap;
}

__attribute__((visibility("default"))) HANDLE WINAPI HeapCreate(DWORD options, SIZE_T initial, SIZE_T maximum)
{
    struct heap *heap = calloc(1, sizeof *heap);
    if (heap == NULL) {
        SetLastError(ERROR_NOT_ENOUGH_MEMORY);
        return NULL;
    }
    heap->magic = HEAP_MAGIC;
    pthread_mutex_init(&heap->lock, NULL);
    heap->blocks.prev = heap->blocks.next = &heap->blocks;
    pthread_mutex_lock(&heaps_lock);
    heap->next_live = live_heaps;
    live_heaps = heap;
    pthread_mutex_unlock(&heaps_lock);
    return (HANDLE)heap;
}

__attribute__((visibility("default"))) BOOL WINAPI HeapDestroy(HANDLE h)
{
    if (h == (HANDLE)&process_heap || find_heap(h) == NULL) {
        SetLastError(ERROR_INVALID_HANDLE);
        return FALSE;
    }
    struct heap *heap = h;
    pthread_mutex_lock(&heaps_lock);
    struct heap **link = &live_heaps;
    while (*link != heap)
        link = &(*link)->next_live;
    *link = heap->next_live;
    pthread_mutex_unlock(&heaps_lock);
    for (struct block_header *b = heap->blocks.next, *next; b != &heap->blocks; b = next) {
        next = b->next;
        free(b);
    }
    pthread_mutex_destroy(&heap->lock);
    free(heap);
    return TRUE;
}

static void link_block(struct heap *heap, struct block_header *b)
{
    pthread_mutex_lock(&heap->lock);
    b->heap = heap;
    b->next = heap->blocks.next;
    b->prev = &heap->blocks;
    heap->blocks.next->prev = b;
    heap->blocks.next = b;
    pthread_mutex_unlock(&heap->lock);
}

static void unlink_block(struct block_header *b)
{
    struct heap *heap = b->heap;
    pthread_mutex_lock(&heap->lock);
    b->prev->next = b->next;
    b->next->prev = b->prev;
    pthread_mutex_unlock(&heap->lock);
}

static void *heap_alloc(struct heap *heap, DWORD flags, SIZE_T n)
{
    if (n > SIZE_MAX - sizeof(struct block_header)) {
        SetLastError(ERROR_NOT_ENOUGH_MEMORY);
        return NULL;
    }
    size_t total = sizeof(struct block_header) + n;
    struct block_header *b = (flags & HEAP_ZERO_MEMORY) ? calloc(1, total) : malloc(total);
    if (b == NULL) {
        SetLastError(ERROR_NOT_ENOUGH_MEMORY);
        return NULL;
    }
    b->size = n;
    link_block(heap, b);
    return b + 1;
}

__attribute__((visibility("default"))) LPVOID WINAPI HeapAlloc(HANDLE h, DWORD flags, SIZE_T n)
{
    struct heap *heap = find_heap(h);
    return heap != NULL ? heap_alloc(heap, flags, n) : NULL;
}

__attribute__((visibility("default"))) SIZE_T WINAPI HeapSize(HANDLE h, DWORD flags, LPCVOID mem)
{
    if (mem == NULL || find_heap(h) == NULL) {
        SetLastError(ERROR_INVALID_PARAMETER);
        return (SIZE_T)-1;
    }
    return header_of(mem)->size;
}

/* HeapReAlloc(NULL) fails, as on Windows (unlike realloc). */
__attribute__((visibility("default"))) LPVOID WINAPI HeapReAlloc(HANDLE h, DWORD flags, LPVOID mem, SIZE_T n)
{
    struct heap *heap = find_heap(h);
    if (heap == NULL)
        return NULL;
    if (mem == NULL || n > SIZE_MAX - sizeof(struct block_header)) {
        SetLastError(mem == NULL ? ERROR_INVALID_PARAMETER : ERROR_NOT_ENOUGH_MEMORY);
        return NULL;
    }
    struct block_header *b = header_of(mem);
    size_t old_size = b->size;
    if ((flags & HEAP_REALLOC_IN_PLACE_ONLY) && n > old_size) {
        SetLastError(ERROR_NOT_ENOUGH_MEMORY);
        return NULL;
    }
    if (n <= old_size && (flags & HEAP_REALLOC_IN_PLACE_ONLY)) {
        b->size = n;
        return mem;
    }
    struct heap *owner = b->heap;
    unlink_block(b);
    struct block_header *grown = realloc(b, sizeof *b + n);
    if (grown == NULL) {
        link_block(owner, b);
        SetLastError(ERROR_NOT_ENOUGH_MEMORY);
        return NULL;
    }
    grown->size = n;
    if ((flags & HEAP_ZERO_MEMORY) && n > old_size)
        memset((char *)(grown + 1) + old_size, 0, n - old_size);
    link_block(owner, grown);
    return grown + 1;
}

__attribute__((visibility("default"))) BOOL WINAPI HeapFree(HANDLE h, DWORD flags, LPVOID mem)
{
    if (find_heap(h) == NULL)
        return FALSE;
    if (mem == NULL)
        return TRUE; /* Windows accepts NULL */
    struct block_header *b = header_of(mem);
    unlink_block(b);
    free(b);
    return TRUE;
}

__attribute__((visibility("default"))) HLOCAL WINAPI LocalAlloc(UINT flags, SIZE_T n)
{
    return heap_alloc(&process_heap, (flags & LMEM_ZEROINIT) ? HEAP_ZERO_MEMORY : 0, n);
}

/* NULL on success, the argument on failure (as on Windows). */
__attribute__((visibility("default"))) HLOCAL WINAPI LocalFree(HLOCAL mem)
{
    return HeapFree(&process_heap, 0, mem) ? NULL : mem;
}

__attribute__((visibility("default"))) HGLOBAL WINAPI GlobalAlloc(UINT flags, SIZE_T n)
{
    return heap_alloc(&process_heap, (flags & GMEM_ZEROINIT) ? HEAP_ZERO_MEMORY : 0, n);
}

__attribute__((visibility("default"))) HGLOBAL WINAPI GlobalFree(HGLOBAL mem)
{
    return HeapFree(&process_heap, 0, mem) ? NULL : mem;
}

__attribute__((visibility("default"))) LPVOID WINAPI GlobalLock(HGLOBAL mem)
{
    if (mem == NULL)
        SetLastError(ERROR_INVALID_HANDLE);
    return mem;
}

/* FALSE with ERROR_SUCCESS: "no longer locked", what Windows answers for fixed memory. */
__attribute__((visibility("default"))) BOOL WINAPI GlobalUnlock(HGLOBAL mem)
{
    SetLastError(mem != NULL ? ERROR_SUCCESS : ERROR_INVALID_HANDLE);
    return FALSE;
}

__attribute__((visibility("default"))) LPVOID WINAPI LocalLock(HLOCAL mem)
{
    return GlobalLock(mem);
}

__attribute__((visibility("default"))) BOOL WINAPI LocalUnlock(HLOCAL mem)
{
    return GlobalUnlock(mem);
}

__attribute__((visibility("default"))) SIZE_T WINAPI LocalSize(HLOCAL mem)
{
    return mem != NULL ? header_of(mem)->size : 0;
}

__attribute__((visibility("default"))) SIZE_T WINAPI GlobalSize(HGLOBAL mem)
{
    return LocalSize(mem);
}

/* LMEM_ and GMEM_ flags have the same values. */
__attribute__((visibility("default"))) HLOCAL WINAPI LocalReAlloc(HLOCAL mem, SIZE_T n, UINT flags)
{
    DWORD heap_flags = ((flags & LMEM_ZEROINIT) ? HEAP_ZERO_MEMORY : 0) |
                       ((flags & LMEM_MOVEABLE) ? 0 : HEAP_REALLOC_IN_PLACE_ONLY);
    return HeapReAlloc(&process_heap, heap_flags, mem, n);
}

__attribute__((visibility("default"))) HGLOBAL WINAPI GlobalReAlloc(HGLOBAL mem, SIZE_T n, UINT flags)
{
    return LocalReAlloc(mem, n, flags);
}

/* ---- VirtualAlloc ------------------------------------------------------------------------ */

struct reservation {
    char *base;
    size_t length;
    struct reservation *next;
};
static pthread_mutex_t reservations_lock = PTHREAD_MUTEX_INITIALIZER;
static struct reservation *reservations; /* guarded by reservations_lock */

static int protection_of(DWORD protect)
{
    switch (protect & 0xffu) {
    case PAGE_NOACCESS:
        return PROT_NONE;
    case PAGE_READONLY:
        return PROT_READ;
    case PAGE_READWRITE:
        return PROT_READ | PROT_WRITE;
    case PAGE_EXECUTE:
        return PROT_EXEC;
    case PAGE_EXECUTE_READ:
        return PROT_READ | PROT_EXEC;
    case PAGE_EXECUTE_READWRITE:
        return PROT_READ | PROT_WRITE | PROT_EXEC;
    }
    return -1;
}

/* Under reservations_lock: the reservation that contains [p, p+n), or NULL. */
static struct reservation *reservation_holding(const char *p, size_t n)
{
    for (struct reservation *r = reservations; r != NULL; r = r->next)
        if (p >= r->base && n <= r->length && (size_t)(p - r->base) <= r->length - n)
            return r;
    return NULL;
}

static size_t page_size(void)
{
    return (size_t)sysconf(_SC_PAGESIZE);
}

/* lpAddress is honoured only to commit pages of an existing reservation; a new reservation
 * goes where the kernel puts it (NULL when a specific address was asked for). Pages are
 * zeroed when first committed, as on Windows. */
__attribute__((visibility("default"))) LPVOID WINAPI VirtualAlloc(LPVOID address, SIZE_T size, DWORD type,
                                                                  DWORD protect)
{
    int prot = protection_of(protect);
    type &= ~(DWORD)MEM_TOP_DOWN;
    if (size == 0 || prot < 0 || !(type & (MEM_RESERVE | MEM_COMMIT)) ||
        (type & ~(DWORD)(MEM_RESERVE | MEM_COMMIT))) {
        SetLastError(ERROR_INVALID_PARAMETER);
        return NULL;
    }
    size_t page = page_size();
    if (address != NULL) {
        if (type & MEM_RESERVE) {
            SetLastError(ERROR_INVALID_ADDRESS);
            return NULL;
        }
        char *start = (char *)((uintptr_t)address & ~(uintptr_t)(page - 1));
        size_t length = (((char *)address - start) + size + page - 1) & ~(page - 1);
        pthread_mutex_lock(&reservations_lock);
        BOOL reserved = reservation_holding(start, length) != NULL;
        pthread_mutex_unlock(&reservations_lock);
        if (!reserved || mprotect(start, length, prot) != 0) {
            SetLastError(ERROR_INVALID_ADDRESS);
            return NULL;
        }
        return start;
    }
    if (size > SIZE_MAX - page) {
        SetLastError(ERROR_NOT_ENOUGH_MEMORY);
        return NULL;
    }
    size_t length = (size + page - 1) & ~(page - 1);
    struct reservation *r = malloc(sizeof *r);
    if (r == NULL) {
        SetLastError(ERROR_NOT_ENOUGH_MEMORY);
        return NULL;
    }
    int map_prot = (type & MEM_COMMIT) ? prot : PROT_NONE;
    void *base = mmap(NULL, length, map_prot, MAP_PRIVATE | MAP_ANONYMOUS | ((type & MEM_COMMIT) ? 0 : MAP_NORESERVE),
                      -1, 0);
    if (base == MAP_FAILED) {
        free(r);
        isapi_set_last_error_from_errno(errno);
        return NULL;
    }
    r->base = base;
    r->length = length;
    pthread_mutex_lock(&reservations_lock);
    r->next = reservations;
    reservations = r;
    pthread_mutex_unlock(&reservations_lock);
    return base;
}

/* MEM_RELEASE: size must be 0 and the address a reservation's base; the whole reservation goes.
 * MEM_DECOMMIT: the pages return to the kernel (zero again if committed later). */
__attribute__((visibility("default"))) BOOL WINAPI VirtualFree(LPVOID address, SIZE_T size, DWORD type)
{
    if (address == NULL || (type != MEM_RELEASE && type != MEM_DECOMMIT) || (type == MEM_RELEASE && size != 0)) {
        SetLastError(ERROR_INVALID_PARAMETER);
        return FALSE;
    }
    pthread_mutex_lock(&reservations_lock);
    if (type == MEM_RELEASE) {
        struct reservation **link = &reservations;
        while (*link != NULL && (*link)->base != (char *)address)
            link = &(*link)->next;
        struct reservation *r = *link;
        if (r != NULL)
            *link = r->next;
        pthread_mutex_unlock(&reservations_lock);
        if (r == NULL) {
            SetLastError(ERROR_INVALID_ADDRESS);
            return FALSE;
        }
        munmap(r->base, r->length);
        free(r);
        return TRUE;
    }
    size_t page = page_size();
    char *start = (char *)((uintptr_t)address & ~(uintptr_t)(page - 1));
    struct reservation *r = reservation_holding(start, 1);
    size_t length = size == 0 && r != NULL ? r->length - (size_t)(start - r->base)
                                           : (((char *)address - start) + size + page - 1) & ~(page - 1);
    BOOL ok = r != NULL && reservation_holding(start, length) == r;
    pthread_mutex_unlock(&reservations_lock);
    if (!ok) {
        SetLastError(ERROR_INVALID_ADDRESS);
        return FALSE;
    }
    madvise(start, length, MADV_DONTNEED);
    mprotect(start, length, PROT_NONE);
    return TRUE;
}
