// A name in success_criteria or snapshot that C does not know (a typo) is
// the backend's error, reported at the name in the annotation, with both
// backends: not at a line of the generated code.
// RUN: not %ptmcc -c %s -o %t.o 2>&1 | FileCheck %s
// RUN: %if gcc %{ env PTM_CC=gcc not %ptmcc -c %s -o %t.o 2>&1 | FileCheck %s --check-prefix=GCC %}

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

// CHECK: diag-undeclared.c:13:52: error: use of undeclared identifier 'vall'
// CHECK: diag-undeclared.c:19:32: error: use of undeclared identifier 'nokey'
// GCC: diag-undeclared.c:13:52: error: {{.*}}vall{{.*}} undeclared
// GCC: diag-undeclared.c:19:32: error: {{.*}}nokey{{.*}} undeclared
