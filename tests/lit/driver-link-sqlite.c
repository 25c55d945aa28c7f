// ptmcc links libptm_sqlite (the SQLite shims) before libptm, inside the
// --as-needed state, and SQLite's library after it when the link line
// names -lsqlite3.  A program that calls no SQLite in a mirror links none
// of libptm_sqlite: libptm refers to its family only weakly, and the
// mirror core skips it.
// RUN: %ptmcc --ptm-verbose -O1 %s -o %t 2>&1 | FileCheck %s --check-prefix=CMD
// RUN: %t | FileCheck %s --check-prefix=OUT
// RUN: nm %t | FileCheck %s --check-prefix=NM --implicit-check-not=ptmSqliteFamily --implicit-check-not=ptm_shim_sqlite3
// RUN: %ptmcc --ptm-verbose -O1 %s -lsqlite3 -o %t.sql 2>&1 | FileCheck %s --check-prefix=CMDSQL
// RUN: %t.sql | FileCheck %s --check-prefix=OUT
// RUN: %if !asan %{ %ptmcc -O1 -static %s -o %t.static && %t.static | FileCheck %s --check-prefix=OUT %}

#include <ptm.h>
#include <stdio.h>

PTM_TRANSACTION(.success_criteria = return >= 0)
int work(int x)
{
    return x + 1;
}

int main(void)
{
    printf("work %d\n", work(41));
    return 0;
}

// CMD: -Wl,--push-state,--as-needed -lptm_sqlite -lptm {{.*}}-Wl,--pop-state
// CMDSQL: -Wl,--push-state,--as-needed -lptm_sqlite -lsqlite3 -lptm {{.*}}-Wl,--pop-state
// OUT: work 42
// NM: ptm_tx_run
