// A name in success_criteria or snapshot that C does not know (a typo) is
// the backend's error, reported at the name in the annotation, with both
// backends: not at a line of the generated code.
// RUN: not %ptmcc -c %s -o %t.o 2>&1 | FileCheck %s
// RUN: %if gcc %{ env PTM_CC=gcc not %ptmcc -c %s -o %t.o 2>&1 | FileCheck %s %}

#include <ptm.h>
#include <stddef.h>

static char *vals[4];

PTM_TRANSACTION(.transaction_id = "get",
                .success_criteria = return == 0 && vall != NULL)
int get(int k)
{
    return vals[k] ? 0 : -1;
}

PTM_TRANSACTION(.snapshot = {{ nokey, 4 }})
int put(int k)
{
    vals[k] = "x";
    return 0;
}

// ptmcc compiles the rewritten unit with libclang and reports the first
// error of each expression itself, with either backend, under the user's own
// line (not the generated one), and nothing that follows from it.
// CHECK: diag-undeclared.c:13:52: error: use of undeclared identifier 'vall'; did you mean 'vals'?
// CHECK-NEXT: {{^}}   13 |                 .success_criteria = return == 0 && vall != NULL){{$}}
// CHECK-NEXT: {{^}}      |                                                    ^~~~{{$}}
// CHECK-NEXT: {{^}}      |                                                    vals{{$}}
// CHECK-NEXT: diag-undeclared.c:19:32: error: use of undeclared identifier 'nokey'
// CHECK-NEXT: {{^}}   19 | PTM_TRANSACTION(.snapshot = {{[{][{]}} nokey, 4 }}){{$}}
// CHECK-NEXT: {{^}}      |                                ^{{$}}
// CHECK-NEXT: {{^}}2 errors generated.{{$}}
