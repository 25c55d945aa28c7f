// Under _FORTIFY_SOURCE (with -O1 and up) glibc's headers make printf and
// fprintf macros for __printf_chk and __fprintf_chk.  The bitcode the
// verifier reads is compiled with the user's -O and -D flags, so it sees
// the same calls the real build makes; in a fortified build these reach
// the mirror under their __*_chk names, which have no shim.
// RUN: not %ptmcc --verify-mirror -O2 -D_FORTIFY_SOURCE=2 %s 2>&1 | FileCheck %s
// The same source without fortification redirects both calls to shims.
// RUN: %ptmcc --verify-mirror -O2 %s 2>&1 | FileCheck --allow-empty --check-prefix=PLAIN %s

#include <ptm.h>
#include <stdio.h>

PTM_TRANSACTION(.transaction_id = "report")
int report(FILE *f, int value)
{
    fprintf(f, "value %d\n", value);
    printf("reported\n");
    return 0;
}

int main(void) { return report(stdout, 1); }

// CHECK: verify-fortify.c:16:5: error: mirror of 'report' reaches '__fprintf_chk' through report__ptm_mirror -> __fprintf_chk
// CHECK-NEXT: {{^}}   16 |     fprintf(f, "value %d\n", value);
// CHECK-NEXT: {{^}}      |     ^~~~~~~
// CHECK-NEXT: verify-fortify.c:16:5: note: '__fprintf_chk' is what _FORTIFY_SOURCE makes of this call
// CHECK: verify-fortify.c:17:5: error: mirror of 'report' reaches '__printf_chk' through report__ptm_mirror -> __printf_chk
// CHECK: 2 errors generated.

// PLAIN-NOT: {{.}}
