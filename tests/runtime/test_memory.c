/* libisapi: heaps, LocalAlloc/GlobalAlloc, VirtualAlloc/VirtualFree. */
#include <windows.h>

#include "check.h"

static BOOL all_zero(const void *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (((const unsigned char *)p)[i] != 0)
            return FALSE;
    return TRUE;
}

static void test_heaps(void)
{
    HANDLE heap = GetProcessHeap();
    CHECK(heap != NULL);
    char *p = HeapAlloc(heap, HEAP_ZERO_MEMORY, 100);
    CHECK(p != NULL && all_zero(p, 100));
    CHECK(((uintptr_t)p & 15) == 0);
    CHECK_INT(HeapSize(heap, 0, p), 100);
    memset(p, 'x', 100);
    p = HeapReAlloc(heap, HEAP_ZERO_MEMORY, p, 300);
    CHECK(p != NULL && p[99] == 'x' && all_zero(p + 100, 200));
    CHECK(HeapReAlloc(heap, HEAP_REALLOC_IN_PLACE_ONLY, p, 1000) == NULL);
    CHECK(HeapFree(heap, 0, p));
    CHECK(HeapFree(heap, 0, NULL));
    CHECK(HeapReAlloc(heap, 0, NULL, 10) == NULL);

    /* A private heap: HeapDestroy frees what is still allocated (ASan would report a leak). */
    HANDLE mine = HeapCreate(0, 0, 0);
    CHECK(mine != NULL && mine != heap);
    for (int i = 0; i < 10; i++)
        CHECK(HeapAlloc(mine, 0, 64) != NULL);
    void *freed = HeapAlloc(mine, 0, 8);
    CHECK(HeapFree(mine, 0, freed));
    CHECK(HeapDestroy(mine));
    CHECK(HeapAlloc(mine, 0, 8) == NULL);
    CHECK_INT(GetLastError(), ERROR_INVALID_HANDLE);
    CHECK(!HeapDestroy(mine));
    CHECK(!HeapDestroy(heap)); /* the process heap stays */
    CHECK(HeapAlloc((HANDLE)(intptr_t)12345, 0, 8) == NULL);
    CHECK_INT(GetLastError(), ERROR_INVALID_HANDLE);
    CHECK(HeapAlloc(heap, 0, (SIZE_T)-1) == NULL);
    CHECK_INT(GetLastError(), ERROR_NOT_ENOUGH_MEMORY);
}

static void test_local_global(void)
{
    char *l = LocalAlloc(LPTR, 50);
    CHECK(l != NULL && all_zero(l, 50));
    CHECK(LocalFree(l) == NULL);
    char *g = GlobalAlloc(GPTR, 70);
    CHECK(g != NULL && all_zero(g, 70));
    CHECK(GlobalLock(g) == g);
    GlobalUnlock(g);
    CHECK(GlobalFree(g) == NULL);
    CHECK(LocalFree(NULL) == NULL);

    /* Moveable memory: lock it to use it; its size; reallocation (in place only for a block
     * that is not moveable, as Windows does; LMEM_ZEROINIT zeroes the growth). */
    HLOCAL h = LocalAlloc(LHND, 16);
    char *p = LocalLock(h);
    CHECK(p != NULL && all_zero(p, 16));
    memset(p, 'x', 16);
    CHECK(LocalUnlock(h) == FALSE);
    CHECK_INT(GetLastError(), ERROR_SUCCESS);
    CHECK_INT(LocalSize(h), 16);
    h = LocalReAlloc(h, 4000, LMEM_MOVEABLE | LMEM_ZEROINIT);
    p = LocalLock(h);
    CHECK(p != NULL && p[15] == 'x' && all_zero(p + 16, 4000 - 16));
    CHECK_INT(LocalSize(h), 4000);
    CHECK(LocalReAlloc(h, 100000, LMEM_FIXED) == NULL); /* may not move */
    CHECK(LocalReAlloc(h, 10, LMEM_FIXED) == h); /* shrinking in place */
    CHECK_INT(LocalSize(h), 10);
    CHECK(LocalFree(h) == NULL);
    HGLOBAL gh = GlobalAlloc(GHND, 8);
    CHECK_INT(GlobalSize(gh), 8);
    gh = GlobalReAlloc(gh, 64, GMEM_MOVEABLE | GMEM_ZEROINIT);
    CHECK(gh != NULL && all_zero(GlobalLock(gh), 64));
    GlobalUnlock(gh);
    CHECK(GlobalFree(gh) == NULL);
    CHECK(LocalLock(NULL) == NULL);
    CHECK_INT(GetLastError(), ERROR_INVALID_HANDLE);
    CHECK_INT(LocalSize(NULL), 0);
}

static void test_virtual(void)
{
    char *p = VirtualAlloc(NULL, 10000, MEM_COMMIT | MEM_RESERVE, PAGE_READWRITE);
    CHECK(p != NULL && all_zero(p, 10000));
    p[9999] = 1;
    CHECK(!VirtualFree(p, 10000, MEM_RELEASE)); /* MEM_RELEASE takes size 0 */
    CHECK_INT(GetLastError(), ERROR_INVALID_PARAMETER);
    CHECK(VirtualFree(p, 0, MEM_RELEASE));
    CHECK(!VirtualFree(p, 0, MEM_RELEASE));
    CHECK_INT(GetLastError(), ERROR_INVALID_ADDRESS);

    /* Reserve, then commit part of it. */
    char *r = VirtualAlloc(NULL, 1 << 20, MEM_RESERVE, PAGE_NOACCESS);
    CHECK(r != NULL);
    char *c = VirtualAlloc(r + 8192, 4096, MEM_COMMIT, PAGE_READWRITE);
    CHECK(c == r + 8192);
    c[0] = 'a';
    c[4095] = 'b';
    CHECK(VirtualFree(c, 4096, MEM_DECOMMIT));
    c = VirtualAlloc(r + 8192, 4096, MEM_COMMIT, PAGE_READWRITE);
    CHECK(c != NULL && c[0] == 0); /* zero again */
    CHECK(VirtualAlloc(r + (2 << 20), 4096, MEM_COMMIT, PAGE_READWRITE) == NULL); /* outside */
    CHECK_INT(GetLastError(), ERROR_INVALID_ADDRESS);
    CHECK(VirtualFree(r, 0, MEM_RELEASE));
    CHECK(VirtualAlloc(NULL, 0, MEM_COMMIT, PAGE_READWRITE) == NULL);
    CHECK_INT(GetLastError(), ERROR_INVALID_PARAMETER);
    CHECK(VirtualAlloc(NULL, 4096, MEM_COMMIT, 0x12345) == NULL);
    p = VirtualAlloc(NULL, 4096, MEM_COMMIT | MEM_RESERVE | MEM_TOP_DOWN, PAGE_READWRITE);
    CHECK(p != NULL && all_zero(p, 4096));
    CHECK(VirtualFree(p, 0, MEM_RELEASE));
    CHECK(VirtualAlloc(NULL, 4096, MEM_TOP_DOWN, PAGE_READWRITE) == NULL); /* neither reserve nor commit */
    CHECK_INT(GetLastError(), ERROR_INVALID_PARAMETER);

    char buf[8];
    ZeroMemory(buf, sizeof buf);
    FillMemory(buf, 4, 'z');
    CopyMemory(buf + 4, "abc", 4);
    CHECK_STR(buf, "zzzzabc");
    MoveMemory(buf + 1, buf, 3);
    CHECK_STR(buf, "zzzzabc");
    CHECK(SecureZeroMemory(buf, 4) == buf);
    CHECK(all_zero(buf, 4) && buf[4] == 'a');
    RtlZeroMemory(buf, sizeof buf);
    CHECK(all_zero(buf, sizeof buf));
    CHECK_INT(ARRAYSIZE(buf), 8);
    DWORD words[5];
    CHECK_INT(RTL_NUMBER_OF(words), 5);
}

int main(void)
{
    test_heaps();
    test_local_global();
    test_virtual();
    return check_report("memory");
}
