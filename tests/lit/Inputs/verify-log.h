/* verify-log.h: logging helpers defined in a header, for verify-header.c.
** A mirror that calls them gets their mirror clones: write goes to its
** shim, system() has none. */
#ifndef VERIFY_LOG_H
#define VERIFY_LOG_H

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static inline void log_raw(const char *s)
{
    write(2, s, strlen(s));
}

/* system() can have no shim (no one can predict what a program does):
** even a mirror clone of this one would reach raw I/O. */
static inline void log_notify(void)
{
    system("logger -t bank settled");
}

static inline void log_line(const char *s)
{
    log_raw(s);
    log_notify();
}

#endif
