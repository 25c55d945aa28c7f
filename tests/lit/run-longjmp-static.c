// A static program has no dynamic libc in which libptm's longjmp can find
// libc's: ptmcc links glibc's internal one in, and every jump still works,
// in a program with transactions (run-longjmp-mirror.c's) and in one
// without any.  Not under AddressSanitizer, which does not link statically.
// UNSUPPORTED: asan
// RUN: %clang -I%ptm_include %S/run-longjmp-mirror.c -o %t.plain
// RUN: %t.plain > %t.expected
// RUN: %ptmcc -static %S/run-longjmp-mirror.c -o %t.tx
// RUN: %t.tx > %t.out
// RUN: diff %t.expected %t.out
// RUN: %ptmcc -static %s -o %t
// RUN: %t | FileCheck %s

#include <setjmp.h>
#include <stdio.h>

static jmp_buf env;

int main(void)
{
    volatile int n = 0;
    if (setjmp(env) < 3) {
        n++;
        longjmp(env, n);
    }
    printf("jumped %d times\n", n);
    return 0;
}

// CHECK: jumped 3 times
