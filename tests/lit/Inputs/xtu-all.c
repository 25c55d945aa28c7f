#include <stdlib.h>

#include "xtu-all.h"

int all_total;

static int twice(int v)
{
    return 2 * v;
}

int all_add(int v)
{
    all_total += twice(v);
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
