// An #undef in a block that a false #if skipped undefines nothing: the
// clone of a function after it keeps the definition in force (SQLite's
// amalgamation defines NDEBUG, then undefines it only if SQLITE_DEBUG is
// set; a clone that took NDEBUG as undefined compiled the function's
// #ifndef NDEBUG code, naming a variable the file never declared, and the
// backend rejected the file's clones).  The dry run's result is the
// mirror's, computed under NDEBUG as the primary's is.
// RUN: %ptmcc --emit-source %s -o - | grep -v '^//' | FileCheck %s
// RUN: %ptmcc -std=gnu11 -O2 -Wall -Wextra -Werror %s -o %t
// RUN: env PTM_DRY_RUN=1 %t | FileCheck %s --check-prefix=OUT
// RUN: %t | FileCheck %s --check-prefix=OUT
// Under -fptm-mirror-all every function's clone compiles too.
// RUN: %ptmcc -fptm-mirror-all -std=gnu11 -O2 -Wall -Wextra -Werror %s -o %t.all
// RUN: env PTM_DRY_RUN=1 %t.all | FileCheck %s --check-prefix=OUT

#include <ptm.h>
#include <stdio.h>

#if !defined(NDEBUG) && !defined(MY_DEBUG)
# define NDEBUG 1
#endif
#if defined(NDEBUG) && defined(MY_DEBUG)
# undef NDEBUG
#endif
#ifndef NDEBUG
static FILE *trace_file;
#endif

PTM_TRANSACTION(.transaction_id = "t", .success_criteria = return == 3, .mirror = auto)
int t(int x)
{
#ifndef NDEBUG
    if (trace_file)
        fprintf(trace_file, "t %d\n", x);
    return x + 100;
#else
    return x + 1;
#endif
}

/* A second copy of the guard, after the function, as the amalgamation's
** next part has. */
#if defined(NDEBUG) && defined(MY_DEBUG)
# undef NDEBUG
#endif

int main(void)
{
    printf("t %d\n", t(2));
    return 0;
}

// CHECK-LABEL: /* The mirror clone of t (
// CHECK-NOT: #undef NDEBUG
// CHECK: return x + 1;

// OUT: t 3
