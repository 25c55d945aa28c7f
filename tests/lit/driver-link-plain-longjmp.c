// A program with no transaction links nothing of PTM, even when it calls
// longjmp: libptm's jump functions come only with libptm (the link names
// them after libc), so the program keeps libc's and needs no libseccomp,
// libjansson or Lua.  The same source with a transaction gets them.
// RUN: %ptmcc -O1 %s -o %t && %t | FileCheck %s --check-prefix=OUT
// RUN: nm %t | FileCheck %s --check-prefix=PLAIN --implicit-check-not=ptm
// RUN: ldd %t | FileCheck %s --check-prefix=LIBS --implicit-check-not=seccomp --implicit-check-not=jansson
// RUN: %ptmcc -O1 -DWITH_TX %s -o %t.tx && %t.tx | FileCheck %s --check-prefix=OUT
// RUN: nm %t.tx | FileCheck %s --check-prefix=TX
// RUN: %if !asan %{ %ptmcc -O1 -static %s -o %t.static && %t.static | FileCheck %s --check-prefix=OUT %}

#include <setjmp.h>
#include <stdio.h>

#ifdef WITH_TX
#include <ptm.h>
PTM_TRANSACTION(.success_criteria = return >= 0)
int work(int x)
{
    return x;
}
#else
static int work(int x)
{
    return x;
}
#endif

static jmp_buf back;

int main(void)
{
    if (!setjmp(back)) {
        printf("before %d\n", work(1));
        longjmp(back, 7);
    }
    puts("after the jump");
    return 0;
}

// OUT: before 1
// OUT-NEXT: after the jump
// PLAIN: {{[TU]}} main
// LIBS: libc.so
// TX-DAG: T longjmp
// TX-DAG: T ptm_tx_run
