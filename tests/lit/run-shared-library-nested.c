// Two runtimes in one process: a program built by ptmcc, with a
// transaction of its own, calls a transaction in a shared library built by
// ptmcc (which carries its own copy of libptm).  Each call ends as its own
// transaction says; the program's mirror forks (the library's function is
// an unknown external to it) and, in that fork, the library's transaction
// runs its mirror, whose failed validation predicts the outer call's
// failure; every call has its trace record.
// RUN: %ptmcc -Wall -Wextra -Werror -fPIC -shared -DPTM_LIB %s -o %t.so
// RUN: %ptmcc -Wall -Wextra -Werror -Wno-ptm-unknown-external %sanitize_link %s %t.so -o %t
// RUN: env PTM_TRACE=%t.jsonl %t | FileCheck %s
// RUN: %ptm_trace show %t.jsonl | FileCheck %s --check-prefix=TRACE

#include <ptm.h>
#include <stdio.h>

#ifdef PTM_LIB
int charge_refused(int cents)
{
    (void)cents;
    return -1;
}

PTM_TRANSACTION(
    .transaction_id    = "lib.charge",
    .alternative_paths = { charge_refused },
    .success_criteria  = return >= 0)
int charge(int cents)
{
    if (!ptm_validate(cents > 0, "%d cents is not a charge", cents))
        return -2;
    return cents;
}
#else
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
#endif

// CHECK: pay(5) = 5
// CHECK-NEXT: pay(500) = -7
// CHECK-NEXT: pay(-5) = -7
// CHECK-NEXT: charge(-5) = -1

// TRACE: lib.charge (charge)
// TRACE: app.pay (pay)
// TRACE: app.pay (pay)
// TRACE: divert to pay_refused
// TRACE: app.pay (pay)
// TRACE: divert to pay_refused
// TRACE: lib.charge (charge)
// TRACE: divert to charge_refused
