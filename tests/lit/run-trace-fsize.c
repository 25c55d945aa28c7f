// A trace that reaches the file size limit (RLIMIT_FSIZE) stops growing;
// writing past the limit would raise SIGXFSZ and kill the host.
// RUN: %ptmcc -Wall -Wextra -Werror %s -o %t
// RUN: rm -f %t.trace && sh -c 'ulimit -f 50; PTM_TRACE=%t.trace %t 2000' | FileCheck %s
// RUN: test -s %t.trace

#include <ptm.h>
#include <stdio.h>
#include <stdlib.h>

PTM_TRANSACTION(.success_criteria = return >= 0)
int tick(int i)
{
    return i;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 1;
    long sum = 0;
    for (int i = 0; i < n; i++)
        sum += tick(i);
    printf("sum %ld\n", sum);
    return 0;
}

// CHECK: sum 1999000
