#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "relay.h"

static int posted;
int *store_counter = &posted;

int store_append(const char *path, const char *line)
{
    FILE *f = fopen(path, "a");
    if (!f)
        return -1;
    int rc = fputs(line, f) < 0 ? -1 : 0;
    return fclose(f) != 0 ? -1 : rc;
}

int store_count(void)
{
    *store_counter += 1;
    return *store_counter;
}

int store_posted(void)
{
    return posted;
}

void store_refuse(const char *msg)
{
    if (strcmp(msg, "halt") == 0)
        exit(3);
}
