// A computed-goto table (static, initialized with label addresses, as
// interpreters write their dispatch) cannot move to file scope: each clone
// keeps its own copy, whose labels are its own.  A const static that stays
// in the clone needs no warning, since neither copy can change; a
// const volatile one still gets it.
// RUN: %ptmcc -Wall -Wextra -Werror %s -o %t 2>&1 | FileCheck %s --check-prefix=WARN --implicit-check-not=warning:
// RUN: %t | FileCheck %s --check-prefix=OUT
// RUN: %ptmcc --emit-source %s -o - 2>/dev/null | grep -v '^// ' | FileCheck %s
// RUN: env PTM_CC=gcc %ptmcc -Wall -Wextra -Werror -c %s -o %t.gcc.o 2>/dev/null

#include <ptm.h>
#include <stdio.h>

static int run(int op, int v)
{
    static const void *const table[] = { &&add, &&sub };
    int buf[3];
    static const size_t nbuf = sizeof buf;
    static const volatile int bias = sizeof buf - sizeof buf;
    (void)buf;
    goto *table[op];
add:
    return v + (int)nbuf / (int)sizeof(int) + bias;
sub:
    return v - (int)nbuf / (int)sizeof(int) - bias;
}

int refuse(int op, int v)
{
    printf("refused %d %d\n", op, v);
    return -1;
}

PTM_TRANSACTION(.alternative_paths = { refuse }, .success_criteria = return >= 0)
int calc(int op, int v)
{
    int r = run(op, v);
    if (!ptm_validate(r >= 0, "%d would go negative", r))
        return -1;
    printf("calc %d %d = %d\n", op, v, r);
    return r;
}

int main(void)
{
    calc(0, 1);
    calc(1, 5);
    calc(1, 1);
    return 0;
}

// WARN: emit-static-label-table.c:19:31: warning: the mirror clone of 'run' gets its own copy of static variable 'bias'
// WARN: note: {{.*}}cannot move 'bias': its declaration refers to names declared inside the function

// OUT: calc 0 1 = 4
// OUT-NEXT: calc 1 5 = 2
// OUT-NEXT: refused 1 1

// CHECK-NOT: __ptm_static_table
// CHECK: {{^}}static int run(int op, int v)
// CHECK: static const void *const table[] = { &&add, &&sub };
// CHECK: {{^}}static int run__ptm_mirror{{$}}
// CHECK-NEXT: #line 14
// CHECK-NEXT: {{^ *}}(int op, int v);
// CHECK: {{^}}static int run__ptm_mirror{{$}}
// CHECK-NEXT: #line 14
// CHECK-NEXT: {{^ *}}(int op, int v){{$}}
// CHECK-NEXT: {
// CHECK: static const void *const table[] = { &&add, &&sub };
