// __attribute__((cleanup(fn))) on a local of a mirror: fn runs when the
// variable leaves scope, a call the AST does not show.  The mirror calls
// fn's clone, whose free() is the mirror's: it used to call the real
// free() on memory from the mirror's arena, crash, and divert every call.
// RUN: %ptmcc -Wall -Wextra -Werror %s -o %t
// RUN: rm -f %t.trace
// RUN: env PTM_TRACE=%t.trace %t | FileCheck %s
// RUN: grep -c '"mirror_status":"returned"' %t.trace | FileCheck %s --check-prefix=COUNT
// RUN: env PTM_MIRROR=fork %t | FileCheck %s
// RUN: %ptmcc --emit-source %s -o - | grep -v '^// ' | FileCheck %s --check-prefix=EMIT

#include <ptm.h>
#include <stdio.h>
#include <stdlib.h>

static void freep(void *p)
{
    free(*(void **)p);
}

static int total;

static int later(int n)
{
    (void)n;
    puts("diverted");
    return -1;
}

PTM_TRANSACTION(.alternative_paths = { later }, .success_criteria = return >= 0)
int work(int n)
{
    __attribute__((cleanup(freep))) int *buf = malloc(sizeof *buf * (size_t)n);
    if (!buf)
        return -1;
    buf[0] = n;
    total += buf[0];
    return total;
}

int main(void)
{
    printf("%d\n", work(4));
    printf("%d\n", work(3));
    return 0;
}

// CHECK-NOT: diverted
// CHECK: 4
// CHECK-NEXT: 7
// COUNT: 2
// EMIT: __attribute__((cleanup(freep__ptm_mirror))) int *buf = ptm_shim_malloc(
// EMIT: ptm_shim_free(
