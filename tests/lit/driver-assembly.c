// -S on an annotated source writes the assembly of the rewritten source,
// named after the user's source (or -o, or stdout for -o -), and its debug
// information names the user's file, not ptmcc's temporary copy.
// RUN: %ptmcc -S %s -o %t.s && FileCheck %s --input-file=%t.s
// RUN: %ptmcc -S %s -o - | FileCheck %s
// RUN: rm -rf %t.dir && mkdir -p %t.dir && cd %t.dir && %ptmcc -S %s && FileCheck %s --input-file=driver-assembly.s
// RUN: %ptmcc -S -g %s -o - | FileCheck %s --check-prefix=DEBUG
// RUN: %ptmcc -g -c %s -o %t.o && llvm-dwarfdump-19 --debug-info %t.o | FileCheck %s --check-prefix=DWARF
// RUN: %if gcc %{ env PTM_CC=gcc %ptmcc -g -c %s -o %t.gcc.o && llvm-dwarfdump-19 --debug-info %t.gcc.o | FileCheck %s --check-prefix=DWARF %}
// RUN: %if gcc %{ cd %t.dir && env PTM_CC=gcc %ptmcc -S -g %s -o gcc.s && FileCheck %s --check-prefix=GCC --input-file=gcc.s %}
// What -S wrote, and a .i, assemble and compile under -Werror: ptmcc adds
// its -D and -isystem only where the preprocessor runs.
// RUN: cd %t.dir && %ptmcc -Werror -c driver-assembly.s -o s.o
// RUN: cd %t.dir && printf 'int g(void) { return 1; }\n' > g.i && %ptmcc -Werror -c g.i -o g.o

#include <ptm.h>

PTM_TRANSACTION()
int twice(int x) { return 2 * x; }

// CHECK: .file "driver-assembly.c"
// CHECK: twice__ptm_mirror:
// CHECK: ptm_tx_run

// DEBUG-NOT: ptmcc.{{[A-Za-z0-9]+}}/
// DEBUG: .file 0 "{{[^"]*}}" "{{[^"]*}}tests/lit/driver-assembly.c"
// DEBUG-NOT: ptmcc.{{[A-Za-z0-9]+}}/

// DWARF: DW_TAG_compile_unit
// DWARF: DW_AT_name ("{{[^"]*}}tests/lit/driver-assembly.c")
// DWARF-NOT: ptmcc.{{[A-Za-z0-9]+}}/

// GCC-NOT: ptmcc.{{[A-Za-z0-9]+}}/
// GCC: twice__ptm_mirror
