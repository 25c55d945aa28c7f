// A store into a local array at a computed index past its end (by 128
// bytes or more, or below it) in an inline mirror: ptmcc checks each such
// store against the local variable it is part of, and one that would leave
// it is not done.  The mirror ends as crashed (SIGSEGV) with an
// out_of_bounds event naming the variable, as a fork child ends (the same
// check runs there), and the call diverts to its alternative; the host's
// stack is untouched and every call has its trace record.  An index that
// stays inside the variable (a row past the first of a 2-D array, a member
// array into the next member) is C's business, not a fault: the mirror
// returns.  An index with side effects is evaluated once.
// RUN: %ptmcc -O2 -Wall -Wextra -Werror %s -o %t
// RUN: rm -f %t.trace %t.dry.trace %t.fork.trace
// RUN: env PTM_TRACE=%t.trace %t 200 | FileCheck %s
// RUN: env PTM_TRACE=%t.trace %t 100000 | FileCheck %s
// RUN: env PTM_DRY_RUN=1 PTM_TRACE=%t.dry.trace %t 4096 | FileCheck %s --check-prefix=DRY
// RUN: env PTM_MIRROR=fork PTM_TRACE=%t.fork.trace %t 200 | FileCheck %s
// RUN: grep -c '"transaction_id"' %t.trace | FileCheck %s --check-prefix=RECORDS
// RUN: grep -c '"mirror":"inline",[^{]*"mirror_status":"crashed","mirror_duration_us":[0-9]*,"mirror_signal":11' %t.trace | FileCheck %s --check-prefix=CRASHES
// RUN: grep -c '"mirror":"inline",[^{]*"mirror_status":"returned"' %t.trace | FileCheck %s --check-prefix=RETURNS
// RUN: grep -o '"kind":"out_of_bounds","call":"?","target":"[^"]*"' %t.trace | sort | uniq -c | FileCheck %s --check-prefix=EVENTS
// RUN: grep -c '"mirror":"inline",[^{]*"mirror_status":"crashed"' %t.dry.trace | FileCheck %s --check-prefix=DRYCRASHES
// RUN: grep -c '"mirror":"fork",[^{]*"mirror_status":"crashed","mirror_duration_us":[0-9]*,"mirror_signal":11' %t.fork.trace | FileCheck %s --check-prefix=FORKCRASHES
// RUN: grep -c '"kind":"out_of_bounds"' %t.fork.trace | FileCheck %s --check-prefix=FORKCRASHES
// RUN: %ptm_trace show %t.trace | FileCheck %s --check-prefix=SHOW
// RUN: %if gcc %{ %if !asan %{ env PTM_CC=gcc %ptmcc -O2 -Wall -Wextra -Werror %s -o %t.gcc && %t.gcc 300 | FileCheck %s %} %}

#include <ptm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TX(alt) PTM_TRANSACTION(.alternative_paths = {alt}, .success_criteria = return >= 0)

static int refuse(int i) { (void)i; return -2; }
static int refuse2(int r, int c) { (void)r; (void)c; return -2; }

TX(refuse)
int poke(int i)
{
    char buf[16];
    buf[0] = 1;
    buf[i] = 'x';
    return buf[0];
}

TX(refuse)
int poke_below(int i)
{
    long v[8];
    v[0] = 2;
    v[-i] = 7;
    return (int)v[0];
}

TX(refuse2)
int grid(int r, int c)
{
    int g[4][4] = {{0}};
    g[r][c] = 5;
    return g[0][0] + 1;
}

struct rec {
    int n;
    char name[8];
    int tail;
};

TX(refuse)
int member(int i)
{
    struct rec s = {0, "", 0};
    s.name[i] = 'x';
    return s.n + 1;
}

TX(refuse)
int bump(int i)
{
    unsigned char counts[32] = {0};
    counts[i]++;
    counts[i] += 2;
    return counts[i];
}

struct flags {
    unsigned on : 1;
    unsigned level : 3;
};

TX(refuse)
int flag(int i)
{
    struct flags f[4] = {{0, 0}};
    f[i].level = 5;
    return f[0].level;
}

/* The index has side effects: each store takes the next slot, once. */
TX(refuse)
int fill(int n)
{
    char buf[8];
    int k = 0;
    while (k < n)
        buf[k++] = (char)('a' + n);
    return buf[0] * 100 + k;
}

int main(int argc, char **argv)
{
    int far = argc > 1 ? atoi(argv[1]) : 200;
    volatile unsigned char canary[512];
    memset((void *)canary, 0x5a, sizeof canary);

    printf("poke in %d out %d\n", poke(3), poke(far));
    printf("below in %d out %d\n", poke_below(0), poke_below(far / 8 + 1));
    printf("grid in %d flat %d out %d\n", grid(1, 1), grid(0, 5), grid(far, 0));
    printf("member in %d next %d out %d\n", member(2), member(9), member(far));
    printf("bump in %d out %d\n", bump(31), bump(far));
    printf("flag in %d out %d\n", flag(0), flag(far));
    printf("fill %d out %d\n", fill(5), fill(far));

    for (size_t k = 0; k < sizeof canary; k++)
        if (canary[k] != 0x5a) {
            printf("the host's stack changed\n");
            return 1;
        }
    printf("host stack intact\n");
    return 0;
}

// Out-of-bounds calls divert (the alternative returns -2); the others run
// their primary.
// CHECK: poke in 1 out -2
// CHECK-NEXT: below in 7 out -2
// CHECK-NEXT: grid in 1 flat 1 out -2
// CHECK-NEXT: member in 1 next 1 out -2
// CHECK-NEXT: bump in 3 out -2
// CHECK-NEXT: flag in 5 out -2
// CHECK-NEXT: fill 10205 out -2
// CHECK-NEXT: host stack intact

// A dry run returns the mirror's result when it returned; a crashed
// mirror's call returns the caller's zeroed result.
// DRY: poke in 1 out 0
// DRY-NEXT: below in 7 out 0
// DRY-NEXT: grid in 1 flat 1 out 0
// DRY-NEXT: member in 1 next 1 out 0
// DRY-NEXT: bump in 3 out 0
// DRY-NEXT: flag in 5 out 0
// DRY-NEXT: fill 10205 out 0
// DRY-NEXT: host stack intact

// Two runs of 16 calls, 7 of each out of bounds.
// RECORDS: 32
// CRASHES: 14
// RETURNS: 18
// EVENTS: 2 "kind":"out_of_bounds","call":"?","target":"buf at {{.*}}run-inline-oob.c:{{[0-9]+}}:{{[0-9]+}}"
// EVENTS-NEXT: 2 "kind":"out_of_bounds","call":"?","target":"buf at {{.*}}run-inline-oob.c:{{[0-9]+}}:{{[0-9]+}}"
// EVENTS-NEXT: 2 "kind":"out_of_bounds","call":"?","target":"counts at
// EVENTS-NEXT: 2 "kind":"out_of_bounds","call":"?","target":"f at
// EVENTS-NEXT: 2 "kind":"out_of_bounds","call":"?","target":"g at
// EVENTS-NEXT: 2 "kind":"out_of_bounds","call":"?","target":"s at
// EVENTS-NEXT: 2 "kind":"out_of_bounds","call":"?","target":"v at
// DRYCRASHES: 7
// FORKCRASHES: 7

// SHOW: poke · mirror inline crashed (signal 11, SIGSEGV)
// SHOW-NEXT: saw: out-of-bounds store (buf at {{.*}}run-inline-oob.c:{{[0-9]+}}:5): not done
