/*
** sandbox_table.c - prints the fork executor's seccomp table as Markdown
** (runtime/exec_fork.c, ptmForkFilterDescribe): the generated part of
** docs/sandbox.md, which check_sandbox.py compares against it.
*/
#include <stdio.h>

#include "ptm_int.h"

int main(void)
{
    return ptmForkFilterDescribe(stdout) == 0 ? 0 : 1;
}
