/* shop - usage: shop reserve ITEM QTY | shop charge CENTS */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shop.h"

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "reserve") == 0) {
        struct order o = {argv[2], atoi(argv[3])};
        int rc = reserve(o);
        printf("rc %d left %d\n", rc, stock_left());
        return 0;
    }
    if (argc == 3 && strcmp(argv[1], "charge") == 0) {
        long rc = charge(atol(argv[2]));
        printf("rc %ld\n", rc);
        return 0;
    }
    fprintf(stderr, "usage: shop reserve ITEM QTY | shop charge CENTS\n");
    return 2;
}
