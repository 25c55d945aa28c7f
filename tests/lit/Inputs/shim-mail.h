/* send_mail() and the mirror's stand-in for it (shim-user.c). */
#ifndef SHIM_MAIL_H
#define SHIM_MAIL_H
#include <ptm.h>

int send_mail(const char *to, const char *body);

/* In a mirror a mail is only checked: an address without '@' bounces. */
PTM_MIRROR_OF(send_mail) int send_mail_check(const char *to, const char *body);

#endif
