// memcmp, memchr, strncmp and strnlen in an instrumented mirror read the
// mirror's view of exactly the bytes they are handed, through pointers
// whose size ptmcc cannot see: binary records with NUL bytes inside, a
// buffer with no terminator, a struct compared whole.  memchr's result is
// the same place in real memory.  Each transaction returns 0 only when its
// reads saw its writes; a dry run leaves host memory as it was.
// RUN: %ptmcc -std=gnu11 -O2 -Wall -Wextra -Werror %s -o %t
// RUN: rm -f %t.trace
// RUN: env PTM_DRY_RUN=1 PTM_TRACE=%t.trace %t | FileCheck %s --check-prefix=DRY
// RUN: grep -c '"mirror":"inline"' %t.trace | FileCheck %s --check-prefix=COUNT
// RUN: grep -c '"criteria_failed":false' %t.trace | FileCheck %s --check-prefix=COUNT
// RUN: %t | FileCheck %s --check-prefix=REAL
// RUN: %ptmcc --emit-source %s -o - | grep -v '^// ' | FileCheck %s --check-prefix=EMIT

#include <ptm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TX PTM_TRANSACTION(.success_criteria = return == 0, .mirror = inline)

struct blob { unsigned char *data; size_t len; };
struct point { int x, y; };

static unsigned char store[8] = {1, 0, 2, 0, 3, 0, 4, 0};
static struct blob blob = {store, sizeof store};
static char tag[4] = {'a', 'b', 'c', 'd'}; /* no terminator */

TX int patch(struct blob *b, size_t at, unsigned char v)
{
    static const unsigned char want[8] = {1, 0, 2, 0, 9, 0, 4, 0};
    b->data[at] = v;
    unsigned char *hit = memchr(b->data, 9, b->len);
    return memcmp(b->data, want, b->len) == 0 && hit == b->data + 4 ? 0 : 1;
}

TX int retag(char *t)
{
    t[3] = 'x';
    return strncmp(t, "abcx", 4) == 0 && strnlen(t, 4) == 4 && strncmp(t, "abcd", 4) > 0 ? 0 : 1;
}

TX int move(struct point *p, const struct point *to)
{
    p->x = to->x;
    p->y = to->y;
    return memcmp(p, to, sizeof *p) == 0 ? 0 : 1;
}

int main(void)
{
    struct point *p = calloc(1, sizeof *p);
    struct point to = {3, -4};
    int fails = patch(&blob, 4, 9) + retag(tag) + move(p, &to);
    printf("fails %d store4 %d tag3 %c p %d,%d\n", fails, store[4], tag[3], p->x, p->y);
    free(p);
    return 0;
}

// DRY: fails 0 store4 3 tag3 d p 0,0
// COUNT: 3
// REAL: fails 0 store4 9 tag3 x p 3,-4
// EMIT: ptm_shim_memchr(
// EMIT: ptm_shim_memcmp(
// EMIT: ptm_shim_strncmp(
// EMIT: ptm_shim_strnlen(
