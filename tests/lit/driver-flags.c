// Every cc flag reaches the backend, in the user's order, for a rewritten
// source as for any other: -I -D -U -O -g -std= -f... -W... -include
// -isystem -x c, and options ptmcc has never heard of.  --version, -v and
// -### are the backend's (--version: ptmcc's own line last, for Meson).
// RUN: %ptmcc --ptm-verbose -DGREETING='"hello"' -DDROPPED -UDROPPED -include %S/Inputs/driver-flags.h -isystem %S/Inputs/driver-sys -std=c11 -O1 -g -fno-ident -fno-omit-frame-pointer -Wall -Wextra -Werror -Wno-unknown-warning-option -Wno-no-such-warning -x c %s -o %t 2>&1 | FileCheck %s --check-prefix=CMD
// RUN: %t | FileCheck %s
// RUN: not %ptmcc -DDROPPED -std=c11 -include %S/Inputs/driver-flags.h -isystem %S/Inputs/driver-sys -c %s -o %t.o 2>&1 | FileCheck %s --check-prefix=DROPPED
// RUN: %ptmcc --version | FileCheck %s --check-prefix=VERSION
// RUN: %ptmcc -v 2>&1 | FileCheck %s --check-prefix=V
// RUN: %ptmcc -### -DGREETING='"x"' -include %S/Inputs/driver-flags.h -isystem %S/Inputs/driver-sys -c %s -o %t.o 2>&1 | FileCheck %s --check-prefix=HASH

#include <driver-sys.h>
#include <ptm.h>
#include <stdio.h>

#ifdef DROPPED
#error -U did not reach the backend
#endif

PTM_TRANSACTION()
int total(int x) { return x + FROM_INCLUDE + FROM_ISYSTEM; }

int main(void)
{
    printf("%s %d\n", GREETING, total(8));
    return 0;
}

// CMD: -DGREETING="hello" -DDROPPED -UDROPPED -include {{[^ ]*}}driver-flags.h -isystem {{[^ ]*}}driver-sys -std=c11 -O1 -g -fno-ident -fno-omit-frame-pointer -Wall -Wextra -Werror -Wno-unknown-warning-option -Wno-no-such-warning -x c {{[^ ]*}}driver-flags.c -o
// CHECK: hello 42
// DROPPED: driver-flags.c:17:2: error: -U did not reach the backend
// VERSION: clang version 19
// VERSION: ptmcc (PTM) {{[0-9.]+}}, ABI {{[0-9]+}}, backend: clang-19{{$}}
// V: clang version 19
// HASH: "-cc1"
// HASH-SAME: "-D" "GREETING=\"x\""
