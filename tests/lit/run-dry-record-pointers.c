// A dry run hands back the mirror's result; a struct result's pointer
// members would point into the mirror's memory (its arena, its child),
// and the host's free() of them aborted.  They come back null, nested
// members too; a pointer in a union is cleared with the whole result.
// RUN: %ptmcc -Wall -Wextra -Werror %s -o %t
// RUN: %t | FileCheck %s --check-prefix=REAL
// RUN: env PTM_DRY_RUN=1 %t | FileCheck %s --check-prefix=DRY
// RUN: env PTM_DRY_RUN=1 PTM_MIRROR=fork %t | FileCheck %s --check-prefix=DRY
// RUN: %ptmcc --emit-source %s -o - | grep -v '^// ' | FileCheck %s --check-prefix=EMIT

#include <ptm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
struct inner { char *buf; int len; };
struct res { char *name; int n; struct inner in; };
union u { char *p; long v; };
struct odd { union u u; int n; };
PTM_TRANSACTION(.success_criteria = return.n > 0)
struct res mk(const char *s, int n) { struct res r = { strdup(s), n, { strdup(s), 1 } }; return r; }
PTM_TRANSACTION(.success_criteria = return.n > 0)
struct odd mo(int n) { struct odd o = { { .p = malloc(4) }, n }; return o; }
int main(void)
{
    struct res a = mk("alpha", 1), b = mk("beta", 2);
    struct odd o = mo(3);
    printf("a=%s b=%s n=%d,%d in=%s o=%d\n", a.name ? a.name : "(null)", b.name ? b.name : "(null)", a.n, b.n, a.in.buf ? a.in.buf : "(null)", o.n);
    free(a.name);
    free(b.name);
    free(a.in.buf);
    free(b.in.buf);
    free(o.u.p);
    return 0;
}

// REAL: a=alpha b=beta n=1,2 in=alpha o=3
// DRY: a=(null) b=(null) n=1,2 in=(null) o=0
// EMIT: fr->ret.name = 0;
// EMIT-NEXT: fr->ret.in.buf = 0;
// EMIT: memset(&fr->ret, 0, sizeof fr->ret);
