// Under _FORTIFY_SOURCE=2 (with -O1 and up) glibc's headers make printf,
// fprintf and dprintf macros for __printf_chk, __fprintf_chk and
// __dprintf_chk when the compiler is clang.  The rewrite redirects those
// too (scoped macros in the mirror clone, to the fortified shims), and the
// verifier, which compiles the bitcode with the user's -O and -D flags,
// confirms it.  A fortified call with no shim (vdprintf, which fortify
// wraps around __vdprintf_chk) is still caught.
// RUN: %ptmcc --verify-mirror -O2 -D_FORTIFY_SOURCE=2 -DSHIMMED %s 2>&1 | FileCheck --allow-empty --check-prefix=CLEAN %s
// RUN: %ptmcc --emit-source -O2 -D_FORTIFY_SOURCE=2 -DSHIMMED %s -o - | FileCheck --check-prefix=EMIT %s
// RUN: %ptmcc --verify-mirror -O2 %s -DSHIMMED 2>&1 | FileCheck --allow-empty --check-prefix=CLEAN %s
// RUN: not %ptmcc --verify-mirror -O2 -D_FORTIFY_SOURCE=2 %s 2>&1 | FileCheck %s

#include <ptm.h>
#include <stdarg.h>
#include <stdio.h>

#ifdef SHIMMED
PTM_TRANSACTION(.transaction_id = "report")
int report(FILE *f, int value)
{
    fprintf(f, "value %d\n", value);
    printf("reported\n");
    return 0;
}
#else
static int say(int fd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vdprintf(fd, fmt, ap);
    va_end(ap);
    return n;
}

PTM_TRANSACTION(.transaction_id = "report")
int report(FILE *f, int value)
{
    return say(fileno(f), "value %d\n", value) < 0;
}
#endif

int main(void) { return report(stdout, 1); }

// CLEAN-NOT: {{.}}
// EMIT: #define __fprintf_chk(...) ptm_shim___fprintf_chk(__VA_ARGS__)
// EMIT: #define __printf_chk(...) ptm_shim___printf_chk(__VA_ARGS__)
// CHECK: verify-fortify.c:30:13: error: mirror of 'report' reaches 'vdprintf' through report__ptm_mirror -> say__ptm_mirror -> vdprintf
