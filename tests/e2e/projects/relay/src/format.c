#include <stdio.h>
#include <string.h>

#include "relay.h"

int format_line(char *out, size_t cap, const char *route, int n, const char *msg,
                unsigned sum)
{
    int len = snprintf(out, cap, "%s %d %s #%u\n", route, n, msg, sum);
    return len < 0 || (size_t)len >= cap ? -1 : len;
}

int format_depth(const char *msg, int depth)
{
    return depth <= 0 ? (int)strlen(msg) : route_depth(msg, depth - 1) + 1;
}
