// The backend's diagnostics on a rewritten source point at the user's
// file and line everywhere: before the first transaction, inside one, and
// after; __FILE__ and __LINE__ are the user's too.  Both with clang (a VFS
// overlay) and with gcc (a copy that starts with #line 1).
// RUN: %ptmcc -DWARN -Wall -c %s -o %t.o 2>&1 | FileCheck %s
// RUN: %if gcc %{ env PTM_CC=gcc %ptmcc -DWARN -Wall -c %s -o %t.o 2>&1 | FileCheck %s %}
// RUN: %ptmcc %s -o %t && %t | FileCheck %s --check-prefix=OUT
// RUN: %if gcc %{ %if !asan %{ env PTM_CC=gcc %ptmcc %s -o %t.gcc && %t.gcc | FileCheck %s --check-prefix=OUT %} %}

#include <ptm.h>
#include <stdio.h>

#ifdef WARN
static void before(void) { int unused_before; }
#endif

PTM_TRANSACTION()
int inside(void)
{
#ifdef WARN
    int unused_inside;
#endif
    return printf("%s:%d\n", __FILE__, __LINE__);
}

#ifdef WARN
static void after(void) { int unused_after; }
#endif

int main(void)
{
    return inside() < 0;
}

// CHECK-DAG: driver-lines.c:14:{{[0-9]+}}: warning: unused variable {{.*}}unused_before
// CHECK-DAG: driver-lines.c:21:{{[0-9]+}}: warning: unused variable {{.*}}unused_inside
// CHECK-DAG: driver-lines.c:27:{{[0-9]+}}: warning: unused variable {{.*}}unused_after
// CHECK-NOT: ptmcc.{{[A-Za-z0-9]+}}/
// OUT-NOT: ptmcc.
// OUT: {{.*}}tests/lit/driver-lines.c:23
