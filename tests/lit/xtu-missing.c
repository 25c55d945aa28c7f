// A PTM_MIRRORABLE function whose file was built by a plain compiler has no
// mirror clone.  The mirror then calls the function itself, as it would an
// unknown external, but never silently: the runtime records the missing
// clone, and the fork executor's seccomp filter stops its writes (the
// open for append is denied), so the log still gets only the primary's line.
// RUN: %clang -I %ptm_include -I %inputs -c %inputs/xtu-audit.c -o %t.plain.o
// RUN: %ptmcc -Wall -Wextra -Werror -I %inputs %s %t.plain.o -o %t
// RUN: rm -f %t.log %t.trace && env PTM_TRACE=%t.trace %t %t.log
// RUN: FileCheck %s --check-prefix=LOG --input-file=%t.log
// RUN: FileCheck %s --input-file=%t.trace

#include <ptm.h>
#include <xtu-audit.h>

PTM_TRANSACTION(.success_criteria = return == 0)
int pay(const char *log, long cents)
{
    return audit(log, "pay", cents);
}

int main(int argc, char **argv)
{
    return argc == 2 && pay(argv[1], 5) == 0 ? 0 : 1;
}

// LOG: pay 5
// LOG-NOT: pay

// CHECK: "mirror_status":"denied"
// CHECK: "kind":"missing_clone","call":"?","target":"audit","detail":"no mirror clone: ran as it is"
// CHECK: "kind":"denied"
// CHECK: "decision":"primary"
