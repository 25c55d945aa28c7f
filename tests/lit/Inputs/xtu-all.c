#include <stdlib.h>

#include "xtu-all.h"

#define local static

int all_total;

static int twice(int v)
{
    return 2 * v;
}

/* static through a macro, as zlib writes it: its clone is not "static local" */
local int once(int v)
{
    return v;
}

int all_add(int v)
{
    all_total += twice(once(v));
    return all_total;
}

int all_total_now(void)
{
    return all_total;
}

int all_shell(const char *cmd)
{
    return system(cmd);
}
