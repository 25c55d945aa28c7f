// Alternatives must be declared functions with the transaction's type; the
// mismatch shows both declarations.
// RUN: not %ptmcc -c %s -o %t.o 2>&1 | FileCheck %s

#include <ptm.h>

int queue_it(int x);
int queue_long(long x);
int not_a_function;

PTM_TRANSACTION(.alternative_paths = { queue_it, queu_it, queue_long })
int f(int x) { return x; }

PTM_TRANSACTION(.alternative_paths = { g })
int g(int x) { return x; }

PTM_TRANSACTION(.alternative_paths = queue_it)
int h(int x) { return x; }

PTM_TRANSACTION(.alternative_paths = { not_a_function })
int k(int x) { return x; }

// CHECK: diag-alternatives.c:11:50: error: 'queu_it' is not declared; did you mean 'queue_it'?
// CHECK-NEXT: PTM_TRANSACTION(.alternative_paths = { queue_it, queu_it, queue_long })
// CHECK-NEXT: {{^ +\| +\^~~~~~~$}}
// CHECK-NEXT: {{^ +\| +queue_it$}}
// CHECK: diag-alternatives.c:11:59: error: alternative path 'queue_long' has type 'int (long)', but transaction 'f' has type 'int (int)'
// CHECK: diag-alternatives.c:8:5: note: 'queue_long' declared here
// CHECK: diag-alternatives.c:12:5: note: transaction 'f' defined here
// CHECK: diag-alternatives.c:14:40: error: transaction 'g' cannot be its own alternative
// CHECK: diag-alternatives.c:17:38: error: {{.*}}
// CHECK: {{^ +\| +}}{ queue_it }
// CHECK: diag-alternatives.c:20:40: error: alternative path 'not_a_function' is not a function
// CHECK: diag-alternatives.c:9:5: note: 'not_a_function' is declared here as a variable of type 'int'
