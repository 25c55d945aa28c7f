// strerror and strsignal of a number glibc has no text for format into a
// per-thread buffer of glibc's and free the one before: the string the
// host got from its own last such call.  Called as pure functions, an
// inline mirror freed it (a dry run changed the host's text under its
// pointer).  Now their shims put such a text in the mirror's heap; the
// texts are glibc's own (the mirror's result, a sum of their bytes, is
// the primary's), and strerror_l, which has no buffer-free form, forks.
// RUN: %ptmcc -Wall -Wextra -Werror %s -o %t
// RUN: rm -f %t.trace
// RUN: env PTM_DRY_RUN=1 PTM_TRACE=%t.trace %t | FileCheck %s
// RUN: FileCheck %s --check-prefix=TRACE < %t.trace
// RUN: env PTM_DRY_RUN=1 PTM_MIRROR=fork %t | FileCheck %s

#include <ptm.h>
#include <errno.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

static int sum(const char *s)
{
    int n = 0;
    while (*s)
        n += (unsigned char)*s++;
    return n;
}

#define TX PTM_TRANSACTION(.success_criteria = return >= 0, .mirror = auto)
TX int texts(int e, int s)
{
    errno = 7;
    int n = sum(strerror(e)) + sum(strerror(ENOENT)) + sum(strsignal(s)) + sum(strsignal(SIGRTMIN + 2)) +
            sum(strsignal(SIGINT));
    return errno == 7 ? n : -1;
}
TX int text_l(int e)
{
    return sum(strerror_l(e, uselocale((locale_t)0)));
}

int main(void)
{
    char *he = strerror(9999), *hs = strsignal(999);
    char ce[64], cs[64];
    snprintf(ce, sizeof ce, "%s", he);
    snprintf(cs, sizeof cs, "%s", hs);
    int want = sum(strerror(8888)) + sum(strerror(ENOENT)) + sum(strsignal(888)) + sum(strsignal(SIGRTMIN + 2)) +
               sum(strsignal(SIGINT));
    he = strerror(9999);
    hs = strsignal(999);
    int got = texts(8888, 888);
    printf("same text: %d\n", got == want);
    printf("host's strerror: %s, %s\n", he, strcmp(he, ce) ? "changed" : "kept");
    printf("host's strsignal: %s, %s\n", hs, strcmp(hs, cs) ? "changed" : "kept");
    he = strerror(9999);
    text_l(7777);
    printf("host's strerror after strerror_l: %s\n", strcmp(he, ce) ? "changed" : "kept");
    return 0;
}

// CHECK: same text: 1
// CHECK-NEXT: host's strerror: Unknown error 9999, kept
// CHECK-NEXT: host's strsignal: Unknown signal 999, kept
// CHECK-NEXT: host's strerror after strerror_l: kept

// TRACE: "function":"texts","mirror":"inline"
// TRACE: "function":"text_l","mirror":"fork","mirror_reason":"calls unknown external 'strerror_l'
