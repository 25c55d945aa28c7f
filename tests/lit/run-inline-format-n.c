// A printf format's %n stores the count through a pointer argument: from
// an inline mirror, sprintf, snprintf, vsnprintf (in a clone the mirror
// calls) and the printf and fprintf shims stored into the host's globals,
// so a dry run changed them.  Now a call ptmcc lets the mirror make as it
// is forks unless its format is a literal without %n, and the shims (and
// ptm_local_sprintf) stop an inline mirror at run time when the format
// has one.  A literal without it ("%d%%n\n") still runs inline.
// RUN: %ptmcc -Wall -Wextra -Werror -Wno-format %s -o %t
// RUN: rm -f %t.trace
// RUN: env PTM_DRY_RUN=1 PTM_TRACE=%t.trace %t | FileCheck %s --check-prefix=DRY
// RUN: FileCheck %s --check-prefix=TRACE < %t.trace
// RUN: %ptmcc -Wall -Wextra -Werror -Wno-format -D_FORTIFY_SOURCE=2 -O2 %s -o %t.fortify
// RUN: env PTM_DRY_RUN=1 %t.fortify | FileCheck %s --check-prefix=DRY
// RUN: %t | FileCheck %s --check-prefix=REAL

#include <ptm.h>
#include <stdarg.h>
#include <stdio.h>

int g = 7, h = 8, k = 9, m = 10, q = 11, s = 12;
static const char *count_fmt = "%d%n";

#define TX PTM_TRANSACTION(.success_criteria = return >= 0, .mirror = auto)
TX int by_sprintf(int x) { char b[32]; sprintf(b, "abc%n", &g); return x; }
TX int by_snprintf(int x) { char b[32]; snprintf(b, sizeof b, "abcd%n", &h); return x; }
TX int by_printf(int x) { printf("%d%n\n", x, &k); return x; }
TX int by_fprintf(int x) { fprintf(stderr, "%d%n\n", x, &m); return x; }
static int wrapper(const char *f, ...)
{
    char b[32];
    va_list ap;
    va_start(ap, f);
    int r = vsnprintf(b, sizeof b, f, ap);
    va_end(ap);
    return r;
}
TX int by_vsnprintf(int x) { wrapper("abcdef%n", &q); return x; }
TX int by_pointer_format(int x) { char b[32]; snprintf(b, sizeof b, count_fmt, x, &s); return x; }
TX int no_count(int x) { char b[32]; return snprintf(b, sizeof b, "%d%%n\n", x); }

int main(void)
{
#define RUN(f) f(3); fflush(stdout); printf(#f ": g=%d h=%d k=%d m=%d q=%d s=%d\n", g, h, k, m, q, s);
    RUN(by_sprintf) RUN(by_snprintf) RUN(by_printf) RUN(by_fprintf) RUN(by_vsnprintf) RUN(by_pointer_format)
    RUN(no_count)
    return 0;
}

// DRY: by_sprintf: g=7 h=8 k=9 m=10 q=11 s=12
// DRY: by_snprintf: g=7 h=8 k=9 m=10 q=11 s=12
// DRY: by_printf: g=7 h=8 k=9 m=10 q=11 s=12
// DRY: by_fprintf: g=7 h=8 k=9 m=10 q=11 s=12
// DRY: by_vsnprintf: g=7 h=8 k=9 m=10 q=11 s=12
// DRY: by_pointer_format: g=7 h=8 k=9 m=10 q=11 s=12
// DRY: no_count: g=7 h=8 k=9 m=10 q=11 s=12

// TRACE: "function":"by_sprintf","mirror":"fork","mirror_reason":"by_sprintf: sprintf's format is no literal free of %n
// TRACE: "function":"by_snprintf","mirror":"fork"
// TRACE: "function":"by_printf","mirror":"fork","mirror_reason":"inline mirror stopped: a format's %n stores through an argument; fork"
// TRACE: "function":"by_fprintf","mirror":"fork","mirror_reason":"inline mirror stopped: a format's %n
// TRACE: "function":"by_vsnprintf","mirror":"fork","mirror_reason":"wrapper: vsnprintf's format is no literal free of %n
// TRACE: "function":"by_pointer_format","mirror":"fork"
// TRACE: "function":"no_count","mirror":"inline"

// REAL: by_sprintf: g=3 h=8
// REAL: by_snprintf: g=3 h=4
// REAL: by_printf: g=3 h=4 k=1
// REAL: by_fprintf: g=3 h=4 k=1 m=1
// REAL: by_vsnprintf: g=3 h=4 k=1 m=1 q=6 s=12
// REAL: by_pointer_format: g=3 h=4 k=1 m=1 q=6 s=1
