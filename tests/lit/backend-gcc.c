// PTM_CC picks the backend: the rewritten code compiles warning-free with
// gcc too, and the program links and runs (a diversion, predicted by the
// mirror from a failed ptm_validate).
// REQUIRES: gcc
// UNSUPPORTED: asan
// RUN: env PTM_CC=gcc %ptmcc --ptm-verbose -std=gnu17 -Wall -Wextra -Werror %s -o %t 2>&1 | FileCheck %s --check-prefix=CMD
// RUN: %t 5 | FileCheck %s --check-prefix=GOOD
// RUN: %t -5 | FileCheck %s --check-prefix=DIVERT

#include <ptm.h>
#include <stdio.h>
#include <stdlib.h>

int refuse(int amount)
{
    printf("refused %d\n", amount);
    return 1;
}

PTM_TRANSACTION(.alternative_paths = { refuse }, .success_criteria = return >= 0)
int pay(int amount)
{
    if (!ptm_validate(amount > 0, "amount %d is not positive", amount))
        return -1;
    printf("paid %d\n", amount);
    return 0;
}

int main(int argc, char **argv)
{
    return argc == 2 && pay(atoi(argv[1])) >= 0 ? 0 : 1;
}

// CMD: gcc -D__PTMCC__=1 -isystem {{[^ ]*}}include -iquote {{.*}} -std=gnu17
// GOOD: paid 5
// DIVERT: refused -5
