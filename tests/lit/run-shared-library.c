// A transaction in a shared library.  `ptmcc -shared -fPIC` links it
// (libptm's Lua, compiled by Debian for programs, reaches the standard
// streams through libptm's own pointers: see runtime/CMakeLists.txt), and a
// program built by plain clang-19, which knows nothing of PTM, calls it:
// the mirror sees the failed validation and the call diverts; a good call
// runs its primary.  The library exports no Lua symbol.
// RUN: %ptmcc -Wall -Wextra -Werror -fPIC -shared -DPTM_LIB %s -o %t.so
// RUN: %clang -Wall -Wextra -Werror %sanitize_link %s %t.so -o %t
// RUN: env PTM_TRACE=%t.jsonl %t | FileCheck %s
// RUN: %ptm_trace show %t.jsonl | FileCheck %s --check-prefix=TRACE
// RUN: nm -D --defined-only %t.so | FileCheck %s --check-prefix=SYMS

#include <stdio.h>

#ifdef PTM_LIB
#include <ptm.h>

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

int main(void)
{
    printf("charge(5) = %d\n", charge(5));
    printf("charge(-5) = %d\n", charge(-5));
    return 0;
}
#endif

// CHECK: charge(5) = 5
// CHECK-NEXT: charge(-5) = -1

// TRACE: lib.charge (charge)
// TRACE: lib.charge (charge)
// TRACE: divert to charge_refused

// nm sorts by name: every lua_*, luaL_* or luaopen_* would follow charge.
// SYMS-NOT: {{ (lua_|luaL_|luaopen_)}}
// SYMS: {{ T charge$}}
// SYMS-NOT: {{ (lua_|luaL_|luaopen_)}}
