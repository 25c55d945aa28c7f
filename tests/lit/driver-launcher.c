// The launcher convention, as ccache's: a first argument that names an
// executable (by path, or found in PATH) and is not an option or an input
// is the backend, over PTM_CC; `ptmcc ccache clang-19` takes both words; a
// repeated ptmcc is dropped; a first argument that is a source or an
// option is not a compiler.  --help says so.
// RUN: rm -rf %t.dir && mkdir -p %t.dir
// RUN: %ptmcc clang-19 --ptm-verbose -c %s -o %t.o 2>&1 | FileCheck %s --check-prefix=NAMED
// RUN: env PTM_CC=no-such-compiler %ptmcc %clang --ptm-verbose -c %s -o %t.o 2>&1 | FileCheck %s --check-prefix=PATH
// RUN: %ptmcc %ptmcc clang-19 --ptm-verbose -c %s -o %t.o 2>&1 | FileCheck %s --check-prefix=NAMED
// RUN: %if gcc %{ %if !asan %{ %ptmcc gcc --ptm-verbose %s -o %t.gcc 2>&1 | FileCheck %s --check-prefix=GCC %} %}
// RUN: %if gcc %{ %if !asan %{ %t.gcc | FileCheck %s --check-prefix=OUT %} %}
// RUN: %ptmcc --ptm-verbose -c %s -o %t.o 2>&1 | FileCheck %s --check-prefix=DEFAULT
// A source named like a compiler (cc.c) is an input, not a backend.
// RUN: printf 'int twice(int x) { return 2 * x; }\n' > %t.dir/cc.c
// RUN: cd %t.dir && %ptmcc --ptm-verbose -c cc.c -o cc.o 2>&1 | FileCheck %s --check-prefix=INPUT
// RUN: %ptmcc --version | FileCheck %s --check-prefix=VERSION
// RUN: %if gcc %{ %ptmcc gcc --version | FileCheck %s --check-prefix=GCCVERSION %}
// RUN: %ptmcc --help | FileCheck %s --check-prefix=HELP

#include <ptm.h>
#include <stdio.h>

PTM_TRANSACTION(.success_criteria = return == 0)
int greet(void)
{
    return puts("hello") < 0;
}

int main(void)
{
    return greet();
}

// NAMED: {{^}}clang-19 -D__PTMCC__=1 {{.*}}-ivfsoverlay
// PATH: {{^}}{{.*}}clang{{[^ ]*}} -D__PTMCC__=1
// GCC: {{^}}gcc -D__PTMCC__=1 {{.*}}-iquote
// OUT: hello
// DEFAULT: {{^}}clang-19 -D__PTMCC__=1
// INPUT: {{^}}clang-19 -D__PTMCC__=1 {{.*}} -c cc.c -o cc.o
// VERSION: ptmcc (PTM) {{[0-9.]+}}, ABI {{[0-9]+}}, backend: clang-19{{$}}
// GCCVERSION: Free Software Foundation
// GCCVERSION: ptmcc (PTM) {{[0-9.]+}}, ABI {{[0-9]+}}, backend: gcc{{$}}
// HELP: ptmcc <compiler> [cc options] file...   (a launcher, as ccache)
// HELP: PTM_PREFIX
