#include <stdio.h>
#include <string.h>

#include "relay.h"

/* relay LOG MSG...: posts each message (post_strict with --strict), then
** prints how many posts the host counted. */
int main(int argc, char **argv)
{
    int strict = argc > 1 && strcmp(argv[1], "--strict") == 0;
    if (argc < 3 + strict) {
        fprintf(stderr, "usage: relay [--strict] LOG MSG...\n");
        return 2;
    }
    const char *log = argv[1 + strict];
    for (int i = 2 + strict; i < argc; i++) {
        int rc = strict ? post_strict(log, argv[i]) : post(log, argv[i]);
        printf("%s -> %d\n", argv[i], rc);
    }
    printf("posted %d\n", store_posted());
    return 0;
}
