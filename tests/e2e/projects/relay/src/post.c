#include <ptm.h>
#include <stdio.h>

#include "relay.h"

PTM_TRANSACTION(.transaction_id = "relay.post", .success_criteria = return >= 0)
int post(const char *path, const char *msg)
{
    char line[256];
    int n = store_count(); /* stores through a global pointer (store.c) */
    if (n < 0 || route_depth(msg, 3) < 0)
        return -1;
    if (format_line(line, sizeof line, route_for(msg), n, msg, sum_of(msg)) < 0)
        return -1;
    if (store_append(path, line) != 0)
        return -1;
    /* reads back what store_count stored: the mirror's own store */
    return store_posted();
}

PTM_TRANSACTION(.transaction_id = "relay.strict", .success_criteria = return >= 0)
int post_strict(const char *path, const char *msg)
{
    store_refuse(msg);
    return post(path, msg);
}
