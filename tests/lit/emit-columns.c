// Diagnostics in a transaction keep the user's line and column, whatever
// the layout of its header: a one-line function, an annotation in the
// middle of a line, a storage class the primary trades for static, a tab.
// ptmcc must report each warning where the backend reports it on the file
// as written.
// RUN: %clang -I %ptm_include -Wall -Wextra -fsyntax-only %s 2>&1 | FileCheck %s
// RUN: %ptmcc -Wall -Wextra -c %s -o %t.o 2>&1 | FileCheck %s
// RUN: %if gcc %{ gcc -I %ptm_include -Wall -Wextra -fsyntax-only %s 2>&1 | FileCheck %s --check-prefix=GCC %}
// RUN: %if gcc %{ env PTM_CC=gcc %ptmcc -Wall -Wextra -c %s -o %t.gcc.o 2>&1 | FileCheck %s --check-prefix=GCC %}

#include <ptm.h>

PTM_TRANSACTION(.transaction_id = "one") int one(int x, int spare) { int idle; return x; }

static PTM_TRANSACTION(.transaction_id = "mid") int mid(int x) { int idle; return x; }

PTM_TRANSACTION(.transaction_id = "ext")
extern int ext(int x) { int idle; return x + one(x, 0) + mid(x); }

PTM_TRANSACTION(.transaction_id = "tab")
	int	tab(int x)	{	int idle; return x + ext(x); }

// CHECK-DAG: emit-columns.c:13:74: warning: unused variable 'idle'
// CHECK-DAG: emit-columns.c:13:61: warning: unused parameter 'spare'
// CHECK-DAG: emit-columns.c:15:70: warning: unused variable 'idle'
// CHECK-DAG: emit-columns.c:18:29: warning: unused variable 'idle'
// CHECK-DAG: emit-columns.c:21:23: warning: unused variable 'idle'
// gcc counts a tab up to the next multiple of 8.
// GCC-DAG: emit-columns.c:13:74: warning: unused variable {{.*}}idle
// GCC-DAG: emit-columns.c:13:61: warning: unused parameter {{.*}}spare
// GCC-DAG: emit-columns.c:15:70: warning: unused variable {{.*}}idle
// GCC-DAG: emit-columns.c:18:29: warning: unused variable {{.*}}idle
// GCC-DAG: emit-columns.c:21:45: warning: unused variable {{.*}}idle
