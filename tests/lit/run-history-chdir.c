// PTM_HISTORY names a relative path, and the program changes directory
// after its first calls.  The history store opens its file again for
// each load and write (a connection kept open could write through a
// descriptor number the program reused), so the path is made absolute at
// the first use: no second history file appears in the new directory,
// and the first one counts every call.
// RUN: rm -rf %t.d && mkdir -p %t.d/a %t.d/b
// RUN: %ptmcc -O2 -Wall -Wextra -Werror %s -o %t
// RUN: cd %t.d/a && env PTM_HISTORY=h.db %t %t.d/b | FileCheck %s
// RUN: test ! -e %t.d/b/h.db
// RUN: /usr/bin/python3 -c "import sqlite3,sys; print('history: %%d calls' %% sqlite3.connect(sys.argv[1]).execute('select calls from ptm_tx where id = ?', ('moves.step',)).fetchone()[0])" %t.d/a/h.db | FileCheck %s --check-prefix=HISTORY
// CHECK: moved: 0
// HISTORY: history: 2000 calls

#include <ptm.h>
#include <stdio.h>
#include <unistd.h>

PTM_TRANSACTION(.transaction_id = "moves.step", .success_criteria = return >= 0, .mirror = auto)
int step(int x)
{
    return x;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return 2;
    for (int i = 0; i < 1000; i++)
        step(i);
    int moved = chdir(argv[1]);
    for (int i = 0; i < 1000; i++)
        step(i);
    printf("moved: %d\n", moved);
    return 0;
}
