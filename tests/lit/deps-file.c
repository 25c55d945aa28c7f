// A dependency file written for a rewritten source names the user's source
// (and the headers it includes), never ptmcc's temporary copy.
// RUN: %ptmcc -MMD -MF %t.d -c %s -o %t.o
// RUN: FileCheck %s --input-file=%t.d
// RUN: cd %T && %ptmcc -MD -c %s -o deps-md.o && FileCheck %s --input-file=deps-md.d

#include <ptm.h>

PTM_TRANSACTION()
int f(int x) { return x; }

// CHECK-NOT: ptmcc.
// CHECK: {{[^ ]*}}/tests/lit/deps-file.c
// CHECK-NOT: ptmcc.
