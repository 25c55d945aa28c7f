// #line directives keep the backend's diagnostics on the user's lines: a
// warning in the transaction's body is reported at its line in this file,
// once (the mirror clone, a copy of the body, keeps quiet), never in a
// temporary file.
// RUN: %ptmcc -Wall -c %s -o %t.o 2>&1 | FileCheck %s
// RUN: %ptmcc --emit-source %s -o %t.c && %clang -I %ptm_include -D__PTMCC__ -g -c %t.c -o %t.g.o
// RUN: llvm-dwarfdump-19 --debug-line %t.g.o | FileCheck %s --check-prefix=DWARF

#include <ptm.h>

PTM_TRANSACTION(.transaction_id = "line")
int f(int x)
{
    int unused_here;
    return x;
}

int after(void)
{
    int unused_after;
    return f(1);
}

// CHECK: emit-line.c:14:9: warning: unused variable 'unused_here'
// CHECK: emit-line.c:20:9: warning: unused variable 'unused_after'
// CHECK-NOT: unused_here
// CHECK-NOT: ptmcc.
// DWARF: emit-line.c
