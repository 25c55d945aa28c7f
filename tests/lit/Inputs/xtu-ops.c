#include <stdlib.h>
#include <string.h>

#include "xtu-ops.h"

int ops_calls;

static int twice(int v)
{
    ops_calls++;
    return 2 * v;
}

static int quit(int v)
{
    exit(v);
}

xtu_op ops_lookup(const char *name)
{
    if (strcmp(name, "twice") == 0)
        return twice;
    if (strcmp(name, "quit") == 0)
        return quit;
    return abs;
}
