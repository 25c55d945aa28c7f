/* audit() writes a line to a file: its mirror clone must not (xtu-*.c). */
#include <stdio.h>

#include "xtu-audit.h"

static int format_line(char *buf, size_t n, const char *who, long cents)
{
    return snprintf(buf, n, "%s %ld\n", who, cents);
}

int audit(const char *path, const char *who, long cents)
{
    char line[128];
    format_line(line, sizeof line, who, cents);
    FILE *f = fopen(path, "a");
    if (!f)
        return -1;
    fputs(line, f);
    return fclose(f);
}
