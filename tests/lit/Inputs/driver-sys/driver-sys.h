/* Found through -isystem by driver-flags.c. */
#define FROM_ISYSTEM 4
