// Transactions returning structs and void, static ones, and recursive ones
// run correctly through the wrapper: results and side effects are the
// primary's.  A recursive call is part of its transaction: the primary
// calls itself and the mirror calls the mirror, so fib(10) is one
// transaction, not 177.
// RUN: %ptmcc -Wall -Wextra -Werror %s -o %t
// RUN: %t | FileCheck %s
// RUN: env PTM_DISABLE=1 %t | FileCheck %s
// RUN: %ptmcc --emit-source %s -o - | grep -v '^// ' | FileCheck %s --check-prefix=EMIT

// EMIT: {{^}}static long fib__ptm_primary{{$}}
// EMIT-NEXT: #line
// EMIT-NEXT: {{^ *}}(int n){{$}}
// EMIT-NEXT: {
// EMIT-NEXT:     return n < 2 ? n : fib__ptm_primary(n - 1) + fib__ptm_primary(n - 2);
// EMIT: {{^}}static long fib__ptm_mirror{{$}}
// EMIT-NEXT: #line
// EMIT-NEXT: {{^ *}}(int n);
// EMIT: {{^}}static long fib__ptm_mirror{{$}}
// EMIT-NEXT: #line
// EMIT-NEXT: {{^ *}}(int n){{$}}
// EMIT-NEXT: {
// EMIT-NEXT: if (ptm_mirror_cancel) ptm_mirror_cancelled();
// EMIT-NEXT: #line 50 "{{.*}}run-types.c"
// EMIT-NEXT: {{^ +$}}
// EMIT-NEXT:     return n < 2 ? n : fib__ptm_mirror(n - 1) + fib__ptm_mirror(n - 2);

#include <ptm.h>
#include <stdio.h>

struct pair { int lo, hi; };

PTM_TRANSACTION(.success_criteria = return.lo <= return.hi)
static struct pair order(int a, int b)
{
    struct pair p = { a < b ? a : b, a < b ? b : a };
    return p;
}

static int total;

PTM_TRANSACTION()
void add(int n)
{
    total += n;
}

PTM_TRANSACTION(.success_criteria = return > 0)
static long fib(int n)
{
    return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

int main(void)
{
    struct pair p = order(7, 3);
    add(2);
    add(5);
    printf("%d %d %d %ld\n", p.lo, p.hi, total, fib(10));
    struct ptm_stats s;
    ptm_stats_get(&s);
    printf("transactions %llu\n", (unsigned long long)s.transactions);
    return 0;
}

// CHECK: 3 7 7 55
// CHECK-NEXT: transactions 4
