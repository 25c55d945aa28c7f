// SQLite's printf has %n too: sqlite3_snprintf (called as it is) and the
// sqlite3_mprintf shim stored the count into the host's globals from an
// inline mirror.  Now the first forks unless its format is a literal
// without %n, and the shim stops an inline mirror whose format has one
// (sqlite3_mprintf of a format without it stays inline).
// RUN: %ptmcc -Wall -Wextra -Werror %s -lsqlite3 -o %t
// RUN: rm -f %t.trace
// RUN: env PTM_DRY_RUN=1 PTM_TRACE=%t.trace %t | FileCheck %s --check-prefix=DRY
// RUN: FileCheck %s --check-prefix=TRACE < %t.trace
// RUN: %t | FileCheck %s --check-prefix=REAL

#include <ptm.h>
#include <sqlite3.h>
#include <stdio.h>

int g = 7, h = 8;

#define TX PTM_TRANSACTION(.success_criteria = return >= 0, .mirror = auto)
TX int by_snprintf(int x) { char b[32]; sqlite3_snprintf(sizeof b, b, "abc%n", &g); return x; }
TX int by_mprintf(int x) { char *p = sqlite3_mprintf("%d%n", x, &h); sqlite3_free(p); return x; }
TX int no_count(int x) { char *p = sqlite3_mprintf("%d%%n %q", x, "it's"); sqlite3_free(p); return x; }

int main(void)
{
#define RUN(f) f(3); printf(#f ": g=%d h=%d\n", g, h);
    RUN(by_snprintf) RUN(by_mprintf) RUN(no_count)
    return 0;
}

// DRY: by_snprintf: g=7 h=8
// DRY: by_mprintf: g=7 h=8
// DRY: no_count: g=7 h=8

// TRACE: "function":"by_snprintf","mirror":"fork","mirror_reason":"by_snprintf: sqlite3_snprintf's format is no literal free of %n
// TRACE: "function":"by_mprintf","mirror":"fork","mirror_reason":"inline mirror stopped: a format's %n stores through an argument; fork"
// TRACE: "function":"no_count","mirror":"inline"

// REAL: by_snprintf: g=3 h=8
// REAL: by_mprintf: g=3 h=1
