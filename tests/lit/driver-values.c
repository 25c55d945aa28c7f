// Options whose value is the next argument are read as such: -MJ used to
// be taken for a flag, its file for an input, and libclang then wrote the
// source file as -MJ's output -- deleting it.  Each of these builds, as
// with clang, and the source is still there.
// RUN: rm -rf %t.dir && mkdir -p %t.dir && cp %s %t.dir/t.c && cd %t.dir
// RUN: %ptmcc -MJ j.json -c t.c -o a.o && ls t.c a.o j.json
// RUN: %ptmcc -MJk.json -c t.c -o b.o && ls t.c b.o k.json
// RUN: %ptmcc --output c.o -c t.c && ls c.o
// RUN: %ptmcc --sysroot / -c t.c -o d.o
// RUN: %ptmcc -B /usr/bin -c t.c -o e.o
// RUN: %ptmcc -dumpdir dd -c t.c -o f.o
// RUN: %ptmcc --serialize-diagnostics g.dia -c t.c -o g.o && ls g.dia
// RUN: grep -c '"file": "t.c"' j.json | FileCheck %s

#include <ptm.h>

PTM_TRANSACTION(.success_criteria = return >= 0)
int f(int x)
{
    return x;
}

// CHECK: 1
