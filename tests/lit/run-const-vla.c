// A const variably modified parameter (const int m[n][n]) travels in the
// frame as void *, assigned with a cast: -Werror builds with both backends
// (it used to discard the qualifier, reported at a generated line).
// RUN: %ptmcc -std=gnu11 -Wall -Wextra -Werror %s -o %t && %t | FileCheck %s
// RUN: %if gcc %{ %if !asan %{ env PTM_CC=gcc %ptmcc -std=gnu11 -Wall -Wextra -Werror %s -o %t.gcc && %t.gcc | FileCheck %s %} %}
// CHECK: trace 3

#include <stdio.h>
#include <ptm.h>

PTM_TRANSACTION(.success_criteria = return >= 0)
long trace_sum(int n, const int m[n][n])
{
    long t = 0;
    for (int i = 0; i < n; i++)
        t += m[i][i];
    return t;
}

int main(void)
{
    int m[2][2] = {{1, 0}, {0, 2}};
    printf("trace %ld\n", trace_sum(2, (const int (*)[2])m));
    return 0;
}
