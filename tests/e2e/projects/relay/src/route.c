#include <string.h>

#include "relay.h"

static const char *routes[] = {"north", "south"};

const char *route_for(const char *msg)
{
    return routes[strlen(msg) % 2];
}

int route_depth(const char *msg, int depth)
{
    return format_depth(msg, depth);
}
