// A chain the source rewrite can never see: the transaction calls
// audit_record(), defined in another translation unit that has no
// annotation (ptmcc passes it to the backend untouched), where it prints.
// Given both files, --verify-mirror compiles each to bitcode, links the
// modules and follows the chain into the other file.  Given this file
// alone, audit_record is an unknown external (the rewrite warns about it):
// the verifier has nothing to prove either way.
// RUN: not %ptmcc --verify-mirror %s %inputs/verify-audit.c 2>&1 | FileCheck %s
// RUN: %ptmcc --verify-mirror %s 2>&1 | FileCheck --allow-empty --check-prefix=ALONE %s
// RUN: rm -rf %t.dir && mkdir %t.dir && cd %t.dir
// RUN: not %ptmcc --verify-mirror -c %s %inputs/verify-audit.c 2>/dev/null
// RUN: not test -e verify-cross-tu.o

#include <ptm.h>

void audit_record(const char *what, int amount);
int audit_fee(int amount);

PTM_TRANSACTION(.transaction_id = "bank.pay", .success_criteria = return >= 0)
int pay(int amount)
{
    int fee = audit_fee(amount);
    audit_record("pay", amount);
    return amount - fee;
}

int main(void) { return pay(100) < 0; }

// CHECK: verify-audit.c:9:5: error: mirror of 'pay' reaches 'fputs' through pay__ptm_mirror -> audit_record -> audit_emit -> fputs
// CHECK-NEXT: {{^}}    9 |     fputs(what, f);
// CHECK: verify-audit.c:10:5: error: mirror of 'pay' reaches 'fprintf' through pay__ptm_mirror -> audit_record -> audit_emit -> fprintf
// CHECK: 2 errors generated.

// ALONE-NOT: error
// ALONE-NOT: reaches '
