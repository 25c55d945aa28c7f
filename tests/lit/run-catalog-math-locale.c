// Catalog rows for pure library calls a mirror makes (Lua's number
// formatting and hashing): frexp writes only its int * argument, and
// localeconv reads the locale.  A mirror that calls them with a local
// stays inline, its stores outside its locals buffered (a dry run leaves
// the globals as they were); frexp handed a global's address is checked
// at run time (ptm_redo_own) and the mirror goes to the fork executor.
// RUN: %ptmcc -std=gnu11 -O2 -Wall -Wextra -Werror %s -o %t -lm
// RUN: rm -f %t.trace
// RUN: env PTM_DRY_RUN=1 PTM_TRACE=%t.trace %t | FileCheck %s --check-prefix=DRY
// RUN: grep '"transaction_id":"num"' %t.trace | grep -c '"mirror":"inline"' | FileCheck %s --check-prefix=ONE
// RUN: grep '"transaction_id":"num_global"' %t.trace | grep -c '"mirror":"fork"' | FileCheck %s --check-prefix=ONE
// RUN: grep -c '"criteria_failed":false' %t.trace | FileCheck %s --check-prefix=TWO
// RUN: %t | FileCheck %s --check-prefix=REAL

#include <locale.h>
#include <math.h>
#include <ptm.h>
#include <stdio.h>

static int exps;
static char point;

PTM_TRANSACTION(.transaction_id = "num", .success_criteria = return == 3, .mirror = inline)
int num(double d)
{
    int e;
    double m = frexp(d, &e);
    exps = e;
    point = localeconv()->decimal_point[0];
    return m == 0.5 && exps == 3 && point == '.' ? 3 : 0;
}

PTM_TRANSACTION(.transaction_id = "num_global", .success_criteria = return == 3)
int num_global(double d)
{
    return frexp(d, &exps) == 0.5 ? exps : 0;
}

int main(void)
{
    int a = num(4.0);
    printf("num %d exps %d point %d\n", a, exps, point);
    int b = num_global(4.0);
    printf("global %d exps %d\n", b, exps);
    return 0;
}

// DRY: num 3 exps 0 point 0
// DRY: global 3 exps 0
// ONE: 1
// TWO: 2
// REAL: num 3 exps 3 point 46
// REAL: global 3 exps 3
