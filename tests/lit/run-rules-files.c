// A rules script with a UTF-8 BOM and a '#!' first line loads, as lua(1)
// reads it, at build time (.rules) and at run time (PTM_RULES).  A
// PTM_RULES that names a FIFO or a directory is an error the call absorbs
// (the primary runs): opening a FIFO used to block the host forever.
// RUN: rm -rf %t.dir && mkdir -p %t.dir && cp %s %t.dir/t.c && cp %inputs/shebang.lua %t.dir/
// RUN: cd %t.dir && %ptmcc -Wall -Wextra -Werror t.c -o t && ./t | FileCheck %s --check-prefix=RULES
// RUN: cd %t.dir && %ptmcc -Wall -Wextra -Werror -DPLAIN t.c -o p
// RUN: cd %t.dir && env PTM_RULES=%t.dir/shebang.lua ./p | FileCheck %s --check-prefix=RULES
// RUN: cd %t.dir && mkfifo fifo && env PTM_RULES=%t.dir/fifo PTM_TRACE=fifo.trace timeout 20 ./p | FileCheck %s --check-prefix=PRIMARY
// RUN: grep -c 'read: .ot a regular file' %t.dir/fifo.trace | FileCheck %s --check-prefix=ONE
// RUN: cd %t.dir && env PTM_RULES=%t.dir timeout 20 ./p | FileCheck %s --check-prefix=PRIMARY

#include <ptm.h>
#include <stdio.h>

static int later(int x)
{
    (void)x;
    puts("diverted");
    return 0;
}

#ifdef PLAIN
PTM_TRANSACTION(.alternative_paths = { later })
#else
PTM_TRANSACTION(.alternative_paths = { later }, .rules = "shebang.lua")
#endif
int work(int x)
{
    puts("primary");
    return x;
}

int main(void)
{
    return work(0);
}

// RULES: diverted
// PRIMARY: primary
// ONE: 1
