// Helpers from a header: the rewrite gives the header's static inline
// functions mirror clones too, so log_raw's write goes to its shim.  What
// has no shim stays raw: log_line() -> log_notify() calls system(), which
// can have none.  The verifier names the chain through the clones at the
// offending call, exits non-zero, and with -c compiles nothing.
// RUN: not %ptmcc --verify-mirror -I %inputs %s 2>&1 | FileCheck %s
// RUN: rm -f %t.o
// RUN: not %ptmcc --verify-mirror -I %inputs -c %s -o %t.o 2>/dev/null
// RUN: not test -e %t.o
// RUN: not %ptmcc --verify-mirror -fdiagnostics-format=json -I %inputs %s 2>&1 | FileCheck --check-prefix=JSON %s

#include <ptm.h>
#include <stdio.h>

#include "verify-log.h"

static int settle(int amount)
{
    printf("settling %d\n", amount);
    log_line("settled");
    return 0;
}

PTM_TRANSACTION(.transaction_id = "bank.transfer")
int transfer(int amount)
{
    log_raw("transfer\n");
    return settle(amount);
}

int main(void) { return transfer(5); }

// CHECK-NOT: reaches 'write'
// CHECK: verify-log.h:20:5: error: mirror of 'transfer' reaches 'system' through transfer__ptm_mirror -> settle__ptm_mirror -> log_line__ptm_mirror -> log_notify__ptm_mirror -> system
// CHECK-NEXT: {{^}}   20 |     system("logger -t bank settled");
// CHECK-NEXT: {{^}}      |     ^~~~~~
// CHECK-NOT: reaches 'write'
// CHECK: 1 error generated.

// JSON: "kind": "error",
// JSON: "file": "{{.*}}verify-log.h",
// JSON-NEXT: "line": 20,
// JSON-NEXT: "column": 5,
// JSON: "message": "mirror of 'transfer' reaches 'system' through transfer__ptm_mirror -> settle__ptm_mirror -> log_line__ptm_mirror -> log_notify__ptm_mirror -> system"
