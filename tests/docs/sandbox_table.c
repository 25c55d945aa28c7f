/*
** sandbox_table.c - prints the fork executor's seccomp table as Markdown
** (runtime/sandbox.c, ptmSandboxDescribe): the generated part of
** docs/sandbox.md, which check_sandbox.py compares against it.
*/
#include <stdio.h>

#include "ptm_int.h"

int main(void)
{
    return ptmSandboxDescribe(stdout) == 0 ? 0 : 1;
}
