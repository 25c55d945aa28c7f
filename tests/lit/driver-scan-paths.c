// ptmcc's cheap scan decides whether a unit has transactions at all; it
// used to look for the annotation's header only in -I and -iquote
// directories, so a transaction whose macro came through -isystem,
// -idirafter, CPATH or -include was silently built as a plain function.
// RUN: %ptmcc -isystem %inputs/txdir %s -o %t1 && %t1 | FileCheck %s
// RUN: %ptmcc -idirafter %inputs/txdir %s -o %t2 && %t2 | FileCheck %s
// RUN: env CPATH=%inputs/txdir %ptmcc %s -o %t3 && %t3 | FileCheck %s
// RUN: %ptmcc -DFORCED -include %inputs/txdir/shop-tx.h %s -o %t4 && %t4 | FileCheck %s

#include <stdio.h>
#ifndef FORCED
#include <shop-tx.h>
#endif

static int refuse(int qty)
{
    printf("refused %d\n", qty);
    return 0;
}

SHOP_TX
int buy(int qty)
{
    return ptm_validate(qty > 0, "qty %d", qty) ? qty : -1;
}

int main(void)
{
    printf("bought %d\n", buy(-2));
    return 0;
}

// CHECK: refused -2
// CHECK-NEXT: bought 0
