// A rules script is found next to the source and compiled by Lua at build
// time: a missing or broken script is a build error, not a runtime surprise.
// RUN: not %ptmcc -c %s -o %t.o 2>&1 | FileCheck %s

#include <ptm.h>

PTM_TRANSACTION(.rules = "Inputs/missing.lua")
int a(int x) { return x; }

PTM_TRANSACTION(.rules = "Inputs/broken.lua")
int b(int x) { return x; }

// CHECK: diag-rules.c:7:26: error: rules script 'Inputs/missing.lua' not found (looked for '{{.*}}Inputs/missing.lua')
// CHECK: broken.lua:4:1: error: unexpected symbol near 'end'
// CHECK: diag-rules.c:10:26: note: in the rules script of transaction 'b'
