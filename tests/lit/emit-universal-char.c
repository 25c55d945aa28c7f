// \u and \U escapes, valid in C strings, are valid in annotation strings:
// the transaction_id holds their UTF-8, as a C string would.
// RUN: %ptmcc --emit-source %s -o - | FileCheck %s
// RUN: %ptmcc -Wall -Werror -c %s -o %t.o
// RUN: not %ptmcc -DBAD -c %s -o %t.o 2>&1 | FileCheck %s --check-prefix=BAD

#include <ptm.h>

#ifndef BAD
PTM_TRANSACTION(.transaction_id = "caf\u00e9 \U0001F600")
#else
PTM_TRANSACTION(.transaction_id = "caf\u00e")
#endif
int pay(int x) { return x; }

// CHECK: .transaction_id = "café 😀",
// BAD: emit-universal-char.c:12:39: error: incomplete universal character name
// BAD-NEXT: {{^}}   12 | PTM_TRANSACTION(.transaction_id = "caf\u00e"){{$}}
// BAD-NEXT: {{^}}      |                                       ^~~~~{{$}}
