// `mirror = inline` takes a mirror whose stores go outside its locals, as
// long as each can go through the write buffer; a store a macro's body
// makes to an object it names itself can (the clone redefines the macro),
// unless the function also takes that object's address through the same
// macro (&CNT: the address of the buffer's view would escape), and the
// error says where, with the function's name.
// RUN: %ptmcc -DOK -Wall -Wextra -Werror -c %s -o %t.o
// RUN: not %ptmcc -c %s -o %t.o 2>&1 | FileCheck %s

#include <ptm.h>

static int counter;
#define CNT counter
#define BUMP(x) ((x) += 1, CNT += 1)

static void touch(int *p)
{
#ifdef OK
    *p += 1;
#else
    BUMP(*p);
    int *q = &CNT;
    *q = 0;
#endif
}

PTM_TRANSACTION(.mirror = inline)
int tick(void)
{
    touch(&counter);
    return counter;
}

// CHECK: diag-inline-redo.c:27:27: error: 'mirror = inline' needs the mirror of 'tick' to keep its stores from the host's memory: touch: takes the address of memory inside a macro at {{.*}}diag-inline-redo.c:21:5
// CHECK: diag-inline-redo.c:21:5: note: 'touch' cannot go through the write buffer here; use 'auto' or 'fork'
