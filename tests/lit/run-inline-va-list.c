// va_start(ap, n), va_copy(ap, src) and va_end(ap) store into ap, and the
// write-buffer rewrite leaves their operands as written (they name the
// function's own parameters): with a global va_list, an inline mirror
// wrote the host's.  Now a va_list outside the function's locals makes
// the mirror fork; a local one stays inline.
// RUN: %ptmcc -Wall -Wextra -Werror %s -o %t
// RUN: rm -f %t.trace
// RUN: env PTM_DRY_RUN=1 PTM_TRACE=%t.trace %t | FileCheck %s --check-prefix=DRY
// RUN: FileCheck %s --check-prefix=TRACE < %t.trace

#include <ptm.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

va_list gva;
int total;

static int copy_out(int n, ...) { va_list ap; va_start(ap, n); va_copy(gva, ap); va_end(ap); return n; }
static int start_global(int n, ...) { va_start(gva, n); return n; }
static int sum(int n, ...)
{
    va_list ap, again;
    va_start(ap, n);
    va_copy(again, ap);
    int s = 0;
    for (int i = 0; i < n; i++)
        s += va_arg(again, int);
    va_end(again);
    va_end(ap);
    total = s;
    return s;
}

#define TX PTM_TRANSACTION(.success_criteria = return >= 0, .mirror = auto)
TX int copies(int x) { return copy_out(x, 1, 2); }
TX int starts(int x) { return start_global(x, 1, 2); }
TX int ends(int x) { va_end(gva); return x; }
TX int local_only(int x) { return sum(x, 1, 2, 3); }

int main(void)
{
    unsigned char before[sizeof gva];
    memset(&gva, 0x5a, sizeof gva);
    memcpy(before, &gva, sizeof gva);
#define RUN(f) printf(#f ": %d gva %s total=%d\n", f(3), memcmp(before, &gva, sizeof gva) ? "changed" : "same", total);
    RUN(copies) RUN(starts) RUN(ends) RUN(local_only)
    return 0;
}

// DRY: copies: 3 gva same total=0
// DRY: starts: 3 gva same total=0
// DRY: ends: 3 gva same total=0
// DRY: local_only: 6 gva same total=0

// TRACE: "function":"copies","mirror":"fork","mirror_reason":"copy_out: a va_list outside its locals is written at {{.*}}:19:64"
// TRACE: "function":"starts","mirror":"fork","mirror_reason":"start_global: a va_list outside its locals is written
// TRACE: "function":"ends","mirror":"fork","mirror_reason":"ends: a va_list outside its locals is written
// TRACE: "function":"local_only","mirror":"inline"
