// PTM_MIRROR_OF(fn) in a header makes a function the mirror's stand-in for
// fn: it comes first in the order user shim, built-in shim, mirror clone,
// unknown external, so it replaces even a built-in shim (fopen below), a
// call in a macro's body included, and it is called with fn's arguments.
// Here the stand-in predicts a bounce that the real send_mail() would only
// see after sending, so the call diverts to the alternative.
// RUN: %ptmcc --emit-source -I %inputs %s -o - | grep -v '^// ' | FileCheck %s
// RUN: %ptmcc -Wall -Wextra -Werror -I %inputs %s -o %t
// RUN: %t alice@example.org | FileCheck %s --check-prefix=SENT
// RUN: %t bob | FileCheck %s --check-prefix=DIVERT
// RUN: not %ptmcc -DBAD_SHIMS -I %inputs -c %s -o %t.o 2>&1 | FileCheck %s --check-prefix=ERR

#include <ptm.h>
#include <shim-mail.h>
#include <stdio.h>
#include <string.h>

#ifdef BAD_SHIMS
PTM_MIRROR_OF(sned_mail) int typo_shim(const char *to, const char *body);
PTM_MIRROR_OF(puts) int wrong_type(const char *s, int extra);
PTM_MIRROR_OF(send_mail) int second_shim(const char *to, const char *body);
#endif

int send_mail(const char *to, const char *body)
{
    printf("sent to %s: %s\n", to, body);
    return 0;
}

int send_mail_check(const char *to, const char *body)
{
    (void)body;
    return strchr(to, '@') ? 0 : -1;
}

PTM_MIRROR_OF(fopen) FILE *no_fopen(const char *restrict path, const char *restrict mode);
FILE *no_fopen(const char *restrict path, const char *restrict mode)
{
    (void)path, (void)mode;
    return NULL;
}

int mail_later(const char *to)
{
    printf("queued for %s\n", to);
    return 0;
}

#define MAIL(to) send_mail(to, "hello")

PTM_TRANSACTION(.alternative_paths = { mail_later }, .success_criteria = return == 0)
int notify(const char *to)
{
    FILE *seen = fopen("/nonexistent/seen", "r");
    if (seen)
        fclose(seen);
    return MAIL(to);
}

int main(int argc, char **argv)
{
    return argc == 2 ? notify(argv[1]) : 1;
}

// CHECK: /* The mirror clone of notify
// CHECK-NEXT: #pragma push_macro("send_mail")
// CHECK-NEXT: #undef send_mail
// CHECK-NEXT: #define send_mail(...) send_mail_check(__VA_ARGS__)
// CHECK: {{^}}static{{$}}
// CHECK-NEXT: #line
// CHECK-NEXT: {{^}}int notify__ptm_mirror{{$}}
// CHECK-NEXT: #line
// CHECK-NEXT: {{^ *}}(const char *to)
// CHECK: FILE *seen = no_fopen("/nonexistent/seen", "r");
// CHECK: ptm_shim_fclose(seen);
// CHECK: return MAIL(to);
// CHECK: #pragma pop_macro("send_mail")

// SENT: sent to alice@example.org: hello
// DIVERT: queued for bob
// DIVERT-NOT: sent

// ERR: shim-user.c:21:1: error: 'send_mail' already has a user shim, 'send_mail_check'
// ERR: shim-mail.h:9:30: note: 'send_mail_check' declared here
// ERR: shim-user.c:19:15: error: 'sned_mail' is not declared; did you mean 'send_mail'?
// ERR: {{^}}      |               send_mail
// ERR: shim-user.c:20:25: error: user shim 'wrong_type' has type 'int (const char *, int)', but 'puts' has type 'int (const char *)': a mirror calls it with the same arguments
// ERR: note: 'puts' declared here
