/* money.c - plain helpers, no transaction: ptmcc hands this file to the
 * backend untouched. */
#include <stdio.h>
#include <stdlib.h>

#include "shop.h"

const char *money(long cents, char *buf, unsigned size)
{
    snprintf(buf, size, "%s$%ld.%02ld", cents < 0 ? "-" : "", labs(cents) / 100,
             labs(cents) % 100);
    return buf;
}

long with_tax(long cents)
{
    return cents + cents * SHOP_TAX_PCT / 100;
}
