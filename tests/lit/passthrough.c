// A unit with no annotation reaches the backend untouched: no rewrite, no
// temporary copy, the user's path on the command line.
// RUN: %ptmcc --ptm-verbose -c %s -o %t.o 2>&1 | FileCheck %s
// RUN: %ptmcc --emit-source %s -o %t.c && diff %s %t.c

int plain(int x) { return x + 1; }

// CHECK: clang-19 -D__PTMCC__=1 -isystem {{[^ ]*}}include -c {{[^ ]*}}/tests/lit/passthrough.c -o
