/* A function of another file that mirrors may call (xtu-*.c tests). */
#ifndef XTU_AUDIT_H
#define XTU_AUDIT_H
#include <ptm.h>

PTM_MIRRORABLE int audit(const char *path, const char *who, long cents);

#endif
