// --help describes ptmcc's own options, -p included, and how -p is told
// from cc's -p; no arguments at all is a usage error.
// RUN: %ptmcc --help | FileCheck %s
// RUN: not %ptmcc 2>&1 | FileCheck %s --check-prefix=USAGE

// CHECK: usage: ptmcc [cc options] file...
// CHECK: ptmcc -p <build-dir> file.c...
// CHECK: --emit-source
// CHECK: --dump-annotations
// CHECK: -p <build-dir>       take each file's flags from <build-dir>/compile_commands.json
// CHECK: -p is this only when a directory
// CHECK: follows (or as -p=<build-dir>); else it is cc's -p
// CHECK: --ptm-verbose

// USAGE: usage: ptmcc
