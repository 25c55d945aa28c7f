// An annotation written through the user's own macro: errors point at the
// macro's use.
// RUN: not %ptmcc -c %s -o %t.o 2>&1 | FileCheck %s

#include <ptm.h>

#define BANK_TX(id) PTM_TRANSACTION(.transaction_id = id, .mirror = sometimes)

BANK_TX("bank.transfer")
int transfer(int from, int to) { return from + to; }

// CHECK: diag-user-macro.c:9:1: error: unknown mirror mode 'sometimes'; modes are auto, inline, fork and off
