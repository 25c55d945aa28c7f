// A variadic function cannot be a transaction: the frame cannot hold '...'.
// RUN: not %ptmcc -c %s -o %t.o 2>&1 | FileCheck %s

#include <ptm.h>

PTM_TRANSACTION(.transaction_id = "v")
int logf_tx(const char *fmt, ...) { return fmt != 0; }

// CHECK: diag-variadic.c:7:5: error: transaction 'logf_tx' is variadic; a mirror cannot replay '...' arguments
// CHECK: diag-variadic.c:6:1: note: 'logf_tx' is marked as a transaction here
