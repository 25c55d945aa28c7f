// An expression nested as deep as clang-19 compiles (a sum of 20,000
// terms: a syntax tree 20,000 levels deep) in a transaction and in a
// function its mirror reaches.  ptmcc's walks recurse once per level and
// overflowed its 8 MiB main stack at about 5,000 (a segfault: the build
// failed where clang-19's succeeded); they now run on a thread with a
// deep stack.  The mirror computes what the primary does.
// RUN: /usr/bin/python3 -c "import sys; t='+'.join(['x'] * 20000); sys.stdout.write(open(sys.argv[1]).read().replace('TERMS', t))" %s > %t.c
// RUN: %ptmcc -O1 -Wall -Wextra -Werror %t.c -o %t
// RUN: rm -f %t.trace
// RUN: env PTM_TRACE=%t.trace %t | FileCheck %s
// RUN: grep -c '"mirror":"inline"' %t.trace | FileCheck %s --check-prefix=INLINE
// CHECK: 20000 40000
// INLINE: 1

#include <ptm.h>
#include <stdio.h>

static int sum(int x)
{
    return TERMS;
}

PTM_TRANSACTION(.success_criteria = return > 0, .mirror = auto)
int deep(int x)
{
    return sum(x) + TERMS;
}

int main(void)
{
    printf("%d %d\n", sum(1), deep(1));
    return 0;
}
