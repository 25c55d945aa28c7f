// A library function that calls back (qsort, bsearch) given a function
// pointer that ptmcc cannot replace by a clone: a global, a member, a
// parameter, a local copied from a global.  The library called the host's
// own comparator from the inline mirror, and its g++ reached the host (a
// dry run changed g).  Such a call now makes the mirror fork; a comparator
// named at the call is passed as its clone and stays inline.
// RUN: %ptmcc -Wall -Wextra -Werror %s -o %t
// RUN: rm -f %t.trace
// RUN: env PTM_DRY_RUN=1 PTM_TRACE=%t.trace %t | FileCheck %s --check-prefix=DRY
// RUN: FileCheck %s --check-prefix=TRACE < %t.trace
// RUN: %t | FileCheck %s --check-prefix=REAL

#include <ptm.h>
#include <stdio.h>
#include <stdlib.h>

int g = 7;
static int cmp(const void *a, const void *b) { g++; return *(const int *)a - *(const int *)b; }
int (*gcmp)(const void *, const void *) = cmp;
struct Ops { int (*cmp)(const void *, const void *); } gops = {cmp};

#define TX PTM_TRANSACTION(.success_criteria = return >= 0, .mirror = auto)
TX int global_ptr(int x) { int a[4] = {4, 3, 2, 1}; qsort(a, 4, sizeof *a, gcmp); return a[0] + x; }
TX int param(int (*c)(const void *, const void *)) { int a[4] = {4, 3, 2, 1}; qsort(a, 4, sizeof *a, c); return a[0]; }
TX int member(int x) { int a[4] = {4, 3, 2, 1}; qsort(a, 4, sizeof *a, gops.cmp); return a[0] + x; }
TX int searches(int x) { int a[4] = {1, 2, 3, 4}, k = 3; return bsearch(&k, a, 4, sizeof *a, gcmp) ? x : 0; }
TX int local_copy(int x) { int (*c)(const void *, const void *) = gcmp; int a[4] = {4, 3, 2, 1}; qsort(a, 4, sizeof *a, c); return a[0] + x; }
TX int named(int x) { int a[4] = {4, 3, 2, 1}; qsort(a, 4, sizeof *a, cmp); qsort(a, 4, sizeof *a, &cmp); return a[0] + x; }

int main(void)
{
#define RUN(f, a) printf(#f ": %d g=%d\n", f(a), g);
    RUN(global_ptr, 3) RUN(param, cmp) RUN(member, 3) RUN(searches, 3) RUN(local_copy, 3) RUN(named, 3)
    return 0;
}

// DRY: global_ptr: 4 g=7
// DRY: param: 1 g=7
// DRY: member: 4 g=7
// DRY: searches: 3 g=7
// DRY: local_copy: 4 g=7
// DRY: named: 4 g=7

// TRACE: "function":"global_ptr","mirror":"fork","mirror_reason":"global_ptr: passes qsort a function pointer that is not a clone at {{.*}}:23:53"
// TRACE: "function":"param","mirror":"fork","mirror_reason":"param: passes qsort a function pointer that is not a clone
// TRACE: "function":"member","mirror":"fork","mirror_reason":"member: passes qsort a function pointer that is not a clone
// TRACE: "function":"searches","mirror":"fork","mirror_reason":"searches: passes bsearch a function pointer that is not a clone
// TRACE: "function":"local_copy","mirror":"fork","mirror_reason":"local_copy: passes qsort a function pointer that is not a clone
// TRACE: "function":"named","mirror":"inline"

// REAL: global_ptr: 4
// REAL: named: 4
