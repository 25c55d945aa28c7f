/* A transaction with a bug: a line without ':' makes it read through a NULL
 * pointer.  The mirror meets the crash first, in its own process; the host
 * survives and diverts to the defensive version. */
#include <ptm.h>
#include <stdio.h>
#include <string.h>

int count_fields_safe(const char *line);

PTM_TRANSACTION(.transaction_id = "crash.count", .alternative_paths = { count_fields_safe })
int count_fields(const char *line)
{
    const char *colon = strchr(line, ':');
    int n = 1;
    for (const char *p = colon + 1; *p; p++)
        n += *p == ',';
    return n;
}

int count_fields_safe(const char *line)
{
    const char *colon = strchr(line, ':');
    if (!colon)
        return 0;
    int n = 1;
    for (const char *p = colon + 1; *p; p++)
        n += *p == ',';
    return n;
}

int main(int argc, char **argv)
{
    if (argc != 2)
        return 2;
    printf("%d\n", count_fields(argv[1]));
    return 0;
}
