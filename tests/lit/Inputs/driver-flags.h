/* Force-included into driver-flags.c with -include. */
#define FROM_INCLUDE 30
