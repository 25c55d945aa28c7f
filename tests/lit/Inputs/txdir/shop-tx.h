/* A project's annotation macro in a header reached through -isystem,
** -idirafter, CPATH or -include (driver-scan-paths.c). */
#include <ptm.h>
#define SHOP_TX PTM_TRANSACTION(.alternative_paths = { refuse }, .success_criteria = return >= 0)
