/* inventory.c - reserving stock is a transaction: a reservation larger than
 * the stock is predicted to fail and goes to the backorder path. */
#include <ptm.h>
#include <stdio.h>

#include "shop.h"
#include "stock.h"

static int stock = SHOP_STOCK;

int stock_left(void)
{
    return stock;
}

int reserve_backorder(struct order o)
{
    printf("backordered %d %s\n", o.qty, o.item);
    return 1;
}

PTM_TRANSACTION(.transaction_id = "shop.reserve",
                .alternative_paths = { reserve_backorder },
                .success_criteria = return == 0)
int reserve(struct order o)
{
    if (!ptm_validate(o.qty > 0 && o.qty <= stock, "cannot reserve %d of %d", o.qty, stock))
        return -1;
    stock -= o.qty;
    printf("reserved %d %s (%s %d)\n", o.qty, o.item, STOCK_WORD, stock);
    return 0;
}
