#include "xtu-all.h"

int all_plain(int v)
{
    return v + 1;
}
