// -E on an annotated source prints the rewritten source, preprocessed,
// with line markers naming the user's file as the backend's -E does: to
// stdout, to -o -, or to -o file.  -fsyntax-only checks the rewritten
// source and writes nothing.
// RUN: %ptmcc -E %s | FileCheck %s
// RUN: %ptmcc -E %s -o - | FileCheck %s
// RUN: %ptmcc -E %s -o %t.i && FileCheck %s --input-file=%t.i
// RUN: %ptmcc -E -P %s | FileCheck %s --check-prefix=NOMARKERS
// RUN: %if gcc %{ env PTM_CC=gcc %ptmcc -E %s | FileCheck %s %}
// RUN: %if gcc %{ env PTM_CC=gcc %ptmcc -E %s -o %t.gcc.i && FileCheck %s --input-file=%t.gcc.i %}
// RUN: rm -rf %t.dir && mkdir -p %t.dir && cd %t.dir && %ptmcc -fsyntax-only -Wall -Wextra -Werror %s
// RUN: ls -A %t.dir | FileCheck %s --allow-empty --check-prefix=EMPTY

#include <ptm.h>

PTM_TRANSACTION()
int twice(int x) { return 2 * x; }

// CHECK: # {{[01]}} "{{[^"]*}}tests/lit/driver-preprocess.c"
// CHECK-NOT: ptmcc.{{[A-Za-z0-9]+}}/
// CHECK: {{^}}static{{$}}
// CHECK-NEXT: # 17 "
// CHECK-NEXT: {{^}}int twice__ptm_primary{{$}}
// CHECK-NEXT: # 17 "
// CHECK-NEXT: {{^ *}}(int x) { return 2 * x; }
// CHECK-NOT: ptmcc.{{[A-Za-z0-9]+}}/
// CHECK: twice__ptm_mirror
// CHECK-NOT: ptmcc.{{[A-Za-z0-9]+}}/

// EMPTY-NOT: {{.}}

// NOMARKERS-NOT: {{^}}# {{[0-9]}}
// NOMARKERS: twice__ptm_primary
