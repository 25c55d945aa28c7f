// A function-like macro with the transaction's name, defined after its
// definition (a tracing wrapper), applies to the calls below it, as in
// the plain build; the wrapper ptmcc writes at the end of the file names
// the function in parentheses, where the macro does not expand.
// RUN: %ptmcc -Wall -Wextra -Werror %s -o %t
// RUN: %t | FileCheck %s
// RUN: %if gcc %{ %if !asan %{ env PTM_CC=gcc %ptmcc -Wall -Wextra -Werror %s -o %t.gcc && %t.gcc | FileCheck %s %} %}

#include <ptm.h>
#include <stdio.h>

PTM_TRANSACTION(.success_criteria = return >= 0)
static int bump(int v)
{
    return v + 1;
}
#define bump(v) (printf("bump(%d)\n", v), bump(v))

int main(void)
{
    printf("got %d\n", bump(1));
    return 0;
}

// CHECK: bump(1)
// CHECK-NEXT: got 2
