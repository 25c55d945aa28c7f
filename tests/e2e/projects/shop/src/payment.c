/* payment.c - charging is a transaction too, in its own unit. */
#include <ptm.h>
#include <stdio.h>

#include "shop.h"

long charge_declined(long cents)
{
    char buf[32];
    printf("declined %s\n", money(cents, buf, sizeof buf));
    return -1;
}

PTM_TRANSACTION(.transaction_id = "shop.charge",
                .alternative_paths = { charge_declined },
                .success_criteria = return >= 0)
long charge(long cents)
{
    char buf[32];
    if (!ptm_validate(cents > 0, "amount %ld is not positive", cents))
        return -1;
    long total = with_tax(cents);
    printf("charged %s\n", money(total, buf, sizeof buf));
    return total;
}
