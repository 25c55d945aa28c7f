/* shop.h - shared by every source of the shop: a change here must rebuild
 * them all. */
#ifndef SHOP_H
#define SHOP_H

#define SHOP_STOCK 10     /* items in stock at start */
#define SHOP_TAX_PCT 20

struct order {
    const char *item;
    int qty;
};

/* inventory.c (a transaction) and its alternative */
int reserve(struct order o);
int reserve_backorder(struct order o);
int stock_left(void);

/* payment.c (a transaction) and its alternative */
long charge(long cents);
long charge_declined(long cents);

/* money.c (no transaction) */
const char *money(long cents, char *buf, unsigned size);
long with_tax(long cents);

#endif
