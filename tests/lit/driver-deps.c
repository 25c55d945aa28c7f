// Dependency output for an annotated source names the user's source, the
// headers it includes (searched from its own directory) and the rules
// script ptmcc embeds, never ptmcc's temporary copy: -M, -MM, -MD, -MMD,
// -MF, -MT, -MQ and -MP behave as the backend's.  With gcc as the backend
// (no VFS overlay: the copy is compiled and the output rewritten) too.
// RUN: %ptmcc -M %s | FileCheck %s --check-prefixes=CHECK,SYS
// RUN: %ptmcc -MM %s | FileCheck %s --check-prefixes=CHECK,NOSYS
// RUN: %ptmcc -MM %s -o %t.dep && FileCheck %s --check-prefixes=CHECK,NOSYS --input-file=%t.dep
// RUN: %ptmcc -MM -MT first -MQ 'cost$' -MP %s | FileCheck %s --check-prefix=TARGETS
// RUN: %ptmcc -MMD -MF %t.d -MT custom.o -c %s -o %t.o && FileCheck %s --check-prefix=MF --input-file=%t.d
// RUN: rm -rf %t.dir && mkdir -p %t.dir && cd %t.dir && %ptmcc -MD -c %s && FileCheck %s --check-prefixes=CHECK,SYS --input-file=driver-deps.d
// RUN: cd %t.dir && %ptmcc -MMD -c %s -o sub.o && FileCheck %s --check-prefixes=SUB --input-file=sub.d
// RUN: cd %t.dir && %ptmcc -Wp,-MMD,kbuild.d -c %s -o k.o && FileCheck %s --check-prefixes=KB --input-file=kbuild.d
// RUN: %if gcc %{ env PTM_CC=gcc %ptmcc -MM %s | FileCheck %s --check-prefixes=CHECK,NOSYS %}
// RUN: %if gcc %{ env PTM_CC=gcc %ptmcc -MM -MT first -MQ 'cost$' -MP %s | FileCheck %s --check-prefix=TARGETS %}
// RUN: %if gcc %{ env PTM_CC=gcc %ptmcc -MMD -MF %t.gcc.d -MT custom.o -c %s -o %t.o && FileCheck %s --check-prefix=MF --input-file=%t.gcc.d %}
// RUN: %if gcc %{ cd %t.dir && env PTM_CC=gcc %ptmcc -MD -c %s && FileCheck %s --check-prefixes=CHECK,SYS --input-file=driver-deps.d %}

#include <ptm.h>
#include "Inputs/driver-deps.h"

PTM_TRANSACTION(.rules = "Inputs/driver-deps.lua")
int answer(int x) { return DEPS_BASE + x; }

// CHECK-NOT: ptmcc.
// CHECK: driver-deps.o:
// CHECK-DAG: {{[^ ]*}}tests/lit/driver-deps.c
// CHECK-DAG: {{[^ ]*}}tests/lit/Inputs/driver-deps.h
// CHECK-DAG: {{[^ ]*}}tests/lit/Inputs/driver-deps.lua
// SYS-DAG: include/ptm.h
// NOSYS-NOT: ptm.h
// CHECK-NOT: ptmcc.

// TARGETS: first cost$$:
// TARGETS-DAG: driver-deps.c
// TARGETS-DAG: Inputs/driver-deps.h
// TARGETS-DAG: {{^}}{{[^ ]*}}Inputs/driver-deps.h:
// TARGETS-DAG: {{^}}{{[^ ]*}}Inputs/driver-deps.lua:

// MF: custom.o:
// MF-SAME: driver-deps.
// MF-NOT: ptmcc.

// SUB: sub.o: {{.*}}driver-deps.
// SUB-NOT: ptmcc.

// KB: k.o: {{.*}}driver-deps.
// KB-NOT: ptmcc.
