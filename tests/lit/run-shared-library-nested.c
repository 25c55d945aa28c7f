// Two runtimes in one process: a program built by ptmcc, with a
// transaction of its own, calls a transaction in a shared library built by
// ptmcc (run-shared-library.c's library half), which carries its own copy
// of libptm, hidden: each module runs on its own runtime (docs/DESIGN.md
// §9 "Several runtimes in one process").
// - The program's mirror forks (the library's function is unknown to it);
//   in its child the library's transaction is plain code: its primary runs
//   once, and only its ptm_validate reaches the program's mirror, as an
//   event.  The library writes no record from the child.
// - A call of the library's transaction outside the program's runs on the
//   library's runtime: its inline mirror, its record.
// - One PTM_TRACE and one PTM_METRICS for both: every call has its record,
//   and the metrics file has both runtimes' transactions.
// RUN: %ptmcc -Wall -Wextra -Werror -fPIC -shared -DPTM_LIB %S/run-shared-library.c -o %t.so
// RUN: nm -D --defined-only %t.so | FileCheck %s --check-prefix=SYMS
// RUN: %ptmcc -Wall -Wextra -Werror -Wno-ptm-unknown-external %sanitize_link %s %t.so -o %t
// RUN: rm -f %t.jsonl %t.prom && env PTM_TRACE=%t.jsonl PTM_METRICS=%t.prom %t | FileCheck %s
// RUN: %ptm_trace show %t.jsonl | FileCheck %s --check-prefix=TRACE
// RUN: FileCheck %s --check-prefix=METRICS < %t.prom
// RUN: grep -c transaction_id %t.jsonl | FileCheck %s --check-prefix=COUNT

#include <ptm.h>
#include <stdio.h>

int charge(int cents);

int pay_refused(int cents)
{
    (void)cents;
    return -7;
}

PTM_TRANSACTION(
    .transaction_id    = "app.pay",
    .alternative_paths = { pay_refused },
    .success_criteria  = return >= 0)
int pay(int cents)
{
    if (!ptm_validate(cents < 100, "%d cents is too much", cents))
        return -3;
    return charge(cents);
}

int main(void)
{
    printf("pay(5) = %d\n", pay(5));
    printf("pay(500) = %d\n", pay(500));
    printf("pay(-5) = %d\n", pay(-5));
    printf("charge(-5) = %d\n", charge(-5));
    return 0;
}

// The library exports its own functions only: no ptm_* (the program's
// copy cannot interpose it), no longjmp, no Lua.
// SYMS-NOT: {{ (ptm_|ptm[A-Z]|lua_|luaL_|luaopen_|longjmp|_longjmp|siglongjmp|__longjmp_chk)}}
// SYMS: {{ T charge$}}
// SYMS-NOT: {{ (ptm_|ptm[A-Z]|lua_|luaL_|luaopen_|longjmp|_longjmp|siglongjmp|__longjmp_chk)}}

// CHECK: pay(5) = 5
// CHECK-NEXT: pay(500) = -7
// CHECK-NEXT: pay(-5) = -7
// CHECK-NEXT: charge(-5) = -1

// pay(5): the library's record (its real call, from the program's primary)
// comes first; its call in the program's fork child left none.
// TRACE:      lib.charge (charge) · mirror inline returned
// TRACE-NEXT:   saw: no I/O
// TRACE-NEXT:   probability 0.00 < threshold → primary · success
// TRACE-NEXT: app.pay (pay) · mirror fork returned
// TRACE-NEXT:   saw: no I/O
// TRACE-NEXT:   probability 0.00 < threshold → primary · success
// TRACE-NEXT: app.pay (pay) · mirror fork returned
// TRACE-NEXT:   saw: ptm_validate failed: "500 cents is too much"
// TRACE-NEXT:   probability 0.40 (validation error) ≥ threshold → divert to pay_refused
// The library's check, in the program's mirror:
// TRACE-NEXT: app.pay (pay) · mirror fork returned
// TRACE-NEXT:   saw: ptm_validate failed: "-5 cents is not a charge"
// TRACE-NEXT:   probability 0.40 (validation error) ≥ threshold → divert to pay_refused
// TRACE-NEXT: lib.charge (charge) · mirror inline returned
// TRACE-NEXT:   saw: ptm_validate failed: "-5 cents is not a charge"
// TRACE-NEXT:   probability 0.40 (validation error) ≥ threshold → divert to charge_refused

// Five records, no more.
// COUNT: {{^5$}}

// METRICS-DAG: ptm_calls_total{transaction_id="app.pay"} 3
// METRICS-DAG: ptm_calls_total{transaction_id="lib.charge"} 2
// METRICS-DAG: ptm_diversions_total{transaction_id="app.pay"} 2
// METRICS-DAG: ptm_diversions_total{transaction_id="lib.charge"} 1
