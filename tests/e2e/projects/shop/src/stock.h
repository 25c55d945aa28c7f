/* stock.h - only inventory.c includes it: touching it rebuilds that unit alone. */
#define STOCK_WORD "stock"
