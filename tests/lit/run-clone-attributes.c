// A mirror clone does not take the attributes that belong to its original
// only: a constructor's clone used to run at startup too (inits counted
// twice, even with PTM_DISABLE), a weak function's clone failed to build
// (weak and static), and gcc -Werror rejected an always_inline clone.
// RUN: %ptmcc -Wall -Wextra -Werror %s -o %t && %t | FileCheck %s
// RUN: env PTM_DISABLE=1 %t | FileCheck %s
// RUN: %if gcc %{ %if !asan %{ env PTM_CC=gcc %ptmcc -Wall -Wextra -Werror %s -o %t.gcc && %t.gcc | FileCheck %s %} %}
// RUN: %clang -I %ptm_include %s -o %t.plain && %t.plain | FileCheck %s

#include <ptm.h>
#include <stdio.h>
static int inits;
__attribute__((constructor)) static void setup(void) { inits++; }
__attribute__((weak)) int hook(int x) { return x + 1; }
static inline __attribute__((always_inline)) int clamp(register int d) { return d < 0 ? 0 : d; }
__attribute__((noinline, constructor(101))) static void setup2(void) { inits += 10; }
PTM_TRANSACTION(.success_criteria = return >= 0)
int tx(int x) { setup(); setup2(); return hook(clamp(x)); }
int main(void)
{
    printf("inits=%d\n", inits);
    int r = tx(3);
    printf("r=%d inits=%d\n", r, inits);
    return 0;
}

// CHECK: inits=11
// CHECK-NEXT: r=4 inits=22
