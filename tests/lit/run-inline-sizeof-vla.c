// sizeof does not evaluate its operand, except a variable-length array's
// size: sizeof(char[++h]) stores into h.  The write-buffer rewrite skipped
// sizeof's operand, so an inline mirror incremented the host's h.  A
// store, an increment or a call inside sizeof now makes the mirror fork;
// a plain sizeof stays inline.
// RUN: %ptmcc -Wall -Wextra -Werror %s -o %t
// RUN: rm -f %t.trace
// RUN: env PTM_DRY_RUN=1 PTM_TRACE=%t.trace %t | FileCheck %s --check-prefix=DRY
// RUN: FileCheck %s --check-prefix=TRACE < %t.trace
// RUN: %t | FileCheck %s --check-prefix=REAL

#include <ptm.h>
#include <stdio.h>

int g = 7, h = 8;
int table[100];

#define TX PTM_TRANSACTION(.success_criteria = return >= 0, .mirror = auto)
TX int assigns(int x) { return (int)sizeof(int[(g = x) + 1]); }
TX int increments(int x) { return (int)sizeof(char[++h]) + x; }
TX int casts(int x) { return (int)sizeof(*(int (*)[h++])table) + x; }
TX int plain(int x) { g = x; return (int)sizeof(int[x]) + (int)sizeof table[g]; }

int main(void)
{
#define RUN(f) printf(#f ": %d g=%d h=%d\n", f(3), g, h);
    RUN(assigns) RUN(increments) RUN(casts) RUN(plain)
    return 0;
}

// DRY: assigns: 16 g=7 h=8
// DRY: increments: 12 g=7 h=8
// DRY: casts: 35 g=7 h=8
// DRY: plain: 16 g=7 h=8

// TRACE: "function":"assigns","mirror":"fork","mirror_reason":"assigns: stores or calls inside sizeof at {{.*}}:19:37"
// TRACE: "function":"increments","mirror":"fork","mirror_reason":"increments: stores or calls inside sizeof
// TRACE: "function":"casts","mirror":"fork","mirror_reason":"casts: stores or calls inside sizeof
// TRACE: "function":"plain","mirror":"inline"

// REAL: assigns: 16 g=3 h=8
// REAL: increments: 12 g=3 h=9
// REAL: casts: 39 g=3 h=10
// REAL: plain: 16 g=3 h=10
