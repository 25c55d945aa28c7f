// aligned_alloc and posix_memalign in an inline mirror.  Called as pure
// functions, each mirror allocated from the host's heap and its free(),
// the shim that leaves host memory to the primary, freed nothing: 20,000
// calls grew the process by 160 MB where a plain build stays flat.  Now
// they allocate from the mirror's heap, aligned, and an alignment POSIX
// refuses gives EINVAL as the real call does.
// RUN: %ptmcc -Wall -Wextra -Werror %s -o %t
// RUN: rm -f %t.trace
// RUN: env PTM_DRY_RUN=1 PTM_TRACE=%t.trace %t 3 | FileCheck %s
// RUN: FileCheck %s --check-prefix=TRACE < %t.trace
// RUN: env PTM_DRY_RUN=1 %t 20000 | FileCheck %s --check-prefix=GROWTH
// A sanitizer is told that the refused alignment the primary (and a fork
// mirror) asks for is no error, and to keep no freed memory aside (its
// quarantine is no leak).
// RUN: env ASAN_OPTIONS=allocator_may_return_null=1:quarantine_size_mb=0 %t 20000 | FileCheck %s --check-prefix=GROWTH
// RUN: env PTM_DRY_RUN=1 PTM_MIRROR=fork ASAN_OPTIONS=allocator_may_return_null=1 %t 3 | FileCheck %s

#include <ptm.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TX PTM_TRANSACTION(.success_criteria = return >= 0, .mirror = auto)
TX int by_aligned_alloc(int x)
{
    char *p = aligned_alloc(256, 8192);
    if (!p)
        return -1;
    memset(p, x, 8192);
    int r = (uintptr_t)p % 256 == 0 && p[8191] == x;
    free(p);
    return r;
}
TX int by_posix_memalign(int x)
{
    void *p = NULL;
    if (posix_memalign(&p, 4096, 8192))
        return -1;
    ((char *)p)[0] = (char)x;
    int r = (uintptr_t)p % 4096 == 0;
    free(p);
    return r;
}
TX int refused(int x)
{
    void *p = &p;
    int e = posix_memalign(&p, 24, 64);
    return (e == EINVAL) + (p == &p) + x * 0;
}

static long rss_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "VmRSS:", 6))
            kb = atol(line + 6);
    if (f)
        fclose(f);
    return kb;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 3;
    by_aligned_alloc(1);
    by_posix_memalign(1);
    long before = rss_kb();
    int a = 0, b = 0;
    for (int i = 0; i < n; i++) {
        a += by_aligned_alloc(i & 0x7f);
        b += by_posix_memalign(i);
    }
    long grew = rss_kb() - before;
    printf("aligned: %d %d\n", a == n, b == n);
    printf("refused: %d\n", refused(0));
    printf("grew under 16 MB: %d\n", grew < 16 * 1024);
    return 0;
}

// CHECK: aligned: 1 1
// CHECK-NEXT: refused: 2
// GROWTH: grew under 16 MB: 1

// TRACE: "function":"by_aligned_alloc","mirror":"inline"
// TRACE: "function":"by_posix_memalign","mirror":"inline"
