// `mirror = inline` takes a mirror whose stores go outside its locals, as
// long as each can go through the write buffer; a store a macro's body
// makes to an object it names itself cannot (one into its argument can),
// and the error says where, with the function's name.
// RUN: %ptmcc -DOK -Wall -Wextra -Werror -c %s -o %t.o
// RUN: not %ptmcc -c %s -o %t.o 2>&1 | FileCheck %s

#include <ptm.h>

static int counter;
#define BUMP(x) ((x) += 1, counter += 1)

static void touch(int *p)
{
#ifdef OK
    *p += 1;
#else
    BUMP(*p);
#endif
}

PTM_TRANSACTION(.mirror = inline)
int tick(void)
{
    touch(&counter);
    return counter;
}

// CHECK: diag-inline-redo.c:22:27: error: 'mirror = inline' needs the mirror of 'tick' to keep its stores from the host's memory: touch: stores to memory inside a macro at {{.*}}diag-inline-redo.c:18:5
// CHECK: diag-inline-redo.c:18:5: note: 'touch' cannot go through the write buffer here; use 'auto' or 'fork'
