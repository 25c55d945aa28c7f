// A crash of ptmcc's front end on a unit (a fault in libclang or in
// ptmcc, here made by a preloaded libclang function) must not fail a
// build that clang-19 passes: the unit is compiled as written, with a
// warning that says so, and the program runs as a plain build does (its
// transaction calls its function, with no mirror).  -Werror=ptm-uncloneable
// makes it an error.  (A sanitized ptmcc cannot take a preload.)
// UNSUPPORTED: asan
// RUN: %clang -shared -fPIC %inputs/crash-front.c -o %t.so
// RUN: env LD_PRELOAD=%t.so %ptmcc -Wall -Wextra -Werror %s -o %t 2>&1 | FileCheck %s --check-prefix=WARN
// RUN: rm -f %t.trace
// RUN: env PTM_TRACE=%t.trace %t | FileCheck %s
// RUN: test ! -s %t.trace
// RUN: env LD_PRELOAD=%t.so not %ptmcc -Werror=ptm-uncloneable %s -o %t.err 2>&1 | FileCheck %s --check-prefix=ERR
// WARN: warning: {{.*}}driver-front-crash.c: ptmcc's front end crashed (Segmentation fault); compiled as written, without mirrors: please report it [-Wptm-uncloneable]
// CHECK: 42
// ERR: error: {{.*}}driver-front-crash.c: ptmcc's front end crashed

#include <ptm.h>
#include <stdio.h>

PTM_TRANSACTION(.success_criteria = return >= 0)
int answer(int x)
{
    return x * 2;
}

int main(void)
{
    printf("%d\n", answer(21));
    return 0;
}
