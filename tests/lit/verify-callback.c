// A function handed to external code is followed as if called: qsort will
// call audit_compare, defined in another translation unit, which prints.
// The chain shows the external function in between.
// RUN: not %ptmcc --verify-mirror %s %inputs/verify-audit.c 2>&1 | FileCheck %s
// Two programs' files on one command line (both define main) are checked
// apart, each linked with the file they share, whatever the order.
// RUN: not %ptmcc --verify-mirror %inputs/verify-audit.c %s %S/verify-cross-tu.c 2>&1 | FileCheck --check-prefix=TWO %s

#include <ptm.h>
#include <stdlib.h>

int audit_compare(const void *a, const void *b);

PTM_TRANSACTION(.transaction_id = "sorter")
int smallest(int a, int b, int c)
{
    int v[3] = {a, b, c};
    qsort(v, 3, sizeof *v, audit_compare);
    return v[0];
}

int main(void) { return smallest(3, 1, 2) != 1; }

// CHECK: verify-audit.c:9:5: error: mirror of 'smallest' reaches 'fputs' through smallest__ptm_mirror -> qsort -> audit_compare -> audit_record -> audit_emit -> fputs
// CHECK: verify-audit.c:10:5: error: mirror of 'smallest' reaches 'fprintf' through smallest__ptm_mirror -> qsort -> audit_compare -> audit_record -> audit_emit -> fprintf
// CHECK: 2 errors generated.

// TWO-DAG: error: mirror of 'smallest' reaches 'fputs' through smallest__ptm_mirror -> qsort -> audit_compare
// TWO-DAG: error: mirror of 'pay' reaches 'fputs' through pay__ptm_mirror -> audit_record
// TWO: 4 errors generated.
