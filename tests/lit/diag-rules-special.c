// A rules path must name a regular file of at most 1 MiB: /dev/zero and
// /dev/urandom read for ever, and a FIFO blocked the build.  Each is now
// an error at the `rules` key, at once.
// RUN: rm -rf %t.d && mkdir -p %t.d/dir.lua && cp %s %t.d/r.c
// RUN: mkfifo %t.d/fifo.lua && truncate -s 2M %t.d/big.lua
// RUN: printf 'function analyze(m) return {} end\n' > %t.d/ok.lua
// RUN: not timeout 60 %ptmcc -c %t.d/r.c -o %t.o 2>&1 | FileCheck %s

#include <ptm.h>

PTM_TRANSACTION(.rules = "/dev/zero")
int zero(int x) { return x; }

PTM_TRANSACTION(.rules = "/dev/urandom")
int noise(int x) { return x; }

PTM_TRANSACTION(.rules = "fifo.lua")
int fifo(int x) { return x; }

PTM_TRANSACTION(.rules = "dir.lua")
int dir(int x) { return x; }

PTM_TRANSACTION(.rules = "big.lua")
int big(int x) { return x; }

PTM_TRANSACTION(.rules = "ok.lua")
int fine(int x) { return x; }

// CHECK: r.c:11:26: error: rules script '/dev/zero' is not a regular file ('/dev/zero' is a device, a FIFO or a socket)
// CHECK: r.c:14:26: error: rules script '/dev/urandom' is not a regular file
// CHECK: r.c:17:26: error: rules script 'fifo.lua' is not a regular file ('{{.*}}fifo.lua' is a device, a FIFO or a socket)
// CHECK-NEXT: {{^}}   17 | PTM_TRANSACTION(.rules = "fifo.lua"){{$}}
// CHECK-NEXT: {{^}}      |                          ^~~~~~~~~~{{$}}
// CHECK: r.c:20:26: error: rules script 'dir.lua' is not a regular file ('{{.*}}dir.lua' is a directory)
// CHECK: r.c:23:26: error: rules script 'big.lua' is larger than 1024 KiB ('{{.*}}big.lua')
// CHECK-NOT: ok.lua
// CHECK: 5 errors generated.
