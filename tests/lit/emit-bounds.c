// Stores into local arrays in mirror clones: an element at a computed
// index is checked against the local variable (ptm_local_at), the index
// spelled once; a constant index inside the array is not checked.  A
// library call filling a local array gets its length checked
// (ptm_local_fit, with the destination copied: it names only locals), or,
// without a length (strcpy, sprintf), becomes its ptm_local_ version.  In
// an instrumented clone, the locals a pointer may reach are registered
// (ptm_redo_local) and a write through a pointer is held to its object
// (ptm_redo_fit, ptm_redo_strcpy).  What cannot be checked keeps the
// mirror from running inline.  The primary is left as written.
// RUN: %ptmcc --emit-source %s -o - | grep -v '^//' | FileCheck %s
// RUN: %ptmcc --emit-source %s -o - | grep -v '^//' | FileCheck %s --check-prefix=PRIMARY
// RUN: %ptmcc --emit-source %s -o - | grep -v '^//' | FileCheck %s --check-prefix=DESC
// RUN: %ptmcc -std=gnu17 -Wall -Wextra -Werror -Wno-fortify-source -c %s -o %t.o
// RUN: %ptmcc -std=gnu17 -O2 -D_FORTIFY_SOURCE=2 -Wall -Wextra -Werror -Wno-fortify-source -c %s -o %t.o
// RUN: %if gcc %{ %if !asan %{ env PTM_CC=gcc %ptmcc -std=gnu17 -O2 -Wall -Wextra -Werror -Wno-fortify-source -c %s -o %t.gcc.o %} %}

#include <ptm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct flags {
    unsigned on : 1;
    unsigned level : 3;
};

struct rec {
    int n;
    char name[8];
};

PTM_TRANSACTION(.success_criteria = return >= 0)
int stores(int i, int j, const char *src, size_t n)
{
    char buf[16];
    int g[4][4] = {{0}};
    struct rec s = {0, ""};
    struct flags f[2] = {{0, 0}, {0, 0}};
    int k = 0;
    buf[3] = 'c';
    buf[i] = 'x';
    buf[k++] = 'y';
    g[i][j] += 1;
    s.name[j]++;
    f[i].level = 1;
    memcpy(&buf[k], src, n);
    snprintf(buf, sizeof buf, "%s", src);
    strcpy(buf, src);
    sprintf(buf, "%d", i);
    return buf[0] + g[0][0] + s.n + f[0].on;
}

// CHECK-LABEL: /* The mirror clone of stores (
// CHECK: buf[3] = 'c';
// CHECK-NEXT: (*__extension__({ __auto_type __ptm_b1 = &(buf[i]); ptm_local_at(__ptm_b1, sizeof *__ptm_b1, &buf, sizeof buf, "buf at {{.*}}emit-bounds.c:[[#@LINE-14]]:5"); __ptm_b1; })) = 'x';
// CHECK-NEXT: (*__extension__({ __auto_type __ptm_b2 = &(buf[k++]); ptm_local_at(__ptm_b2, sizeof *__ptm_b2, &buf, sizeof buf, "buf at {{.*}}emit-bounds.c:[[#@LINE-14]]:5"); __ptm_b2; })) = 'y';
// CHECK-NEXT: (*__extension__({ __auto_type __ptm_b3 = &(g[i][j]); ptm_local_at(__ptm_b3, sizeof *__ptm_b3, &g, sizeof g, "g at {{.*}}"); __ptm_b3; })) += 1;
// CHECK-NEXT: (*__extension__({ __auto_type __ptm_b4 = &(s.name[j]); ptm_local_at(__ptm_b4, sizeof *__ptm_b4, &s, sizeof s, "s at {{.*}}"); __ptm_b4; }))++;
// CHECK-NEXT: (*__extension__({ __auto_type __ptm_b5 = &(f[i]); ptm_local_at(__ptm_b5, sizeof *__ptm_b5, &f, sizeof f, "f at {{.*}}"); __ptm_b5; })).level = 1;
// CHECK-NEXT: ptm_shim_memcpy(&buf[k], src, __extension__({ __auto_type __ptm_b6 = (n); ptm_local_fit((__SIZE_TYPE__)__ptm_b6, (1), (&buf[k]), &buf, sizeof buf, "buf at {{.*}}"); __ptm_b6; }));
// CHECK-NEXT: snprintf(buf, sizeof buf, "%s", src);
// CHECK-NEXT: ptm_local_strcpy(&buf, sizeof buf, "buf at {{.*}}", buf, src);
// CHECK-NEXT: ptm_local_sprintf(&buf, sizeof buf, "buf at {{.*}}", buf, "%d", i);

// PRIMARY-LABEL: stores__ptm_primary
// PRIMARY: buf[i] = 'x';
// PRIMARY-NEXT: buf[k++] = 'y';
// PRIMARY: memcpy(&buf[k], src, n);
// PRIMARY-NEXT: snprintf(buf, sizeof buf, "%s", src);
// PRIMARY-NEXT: strcpy(buf, src);

static int total;

static void put(char *p, size_t i, const char *s, size_t n)
{
    p[i] = 'p';
    snprintf(p, n, "%s", s);
    strcpy(p, s);
}

PTM_TRANSACTION(.success_criteria = return >= 0)
int pointers(size_t i, const char *s, size_t n)
{
    char buf[16];
    int one = 1, *q = &one;
    total += *q;
    put(buf, i, s, n);
    return buf[0];
}

// CHECK-LABEL: /* The mirror clone of pointers (
// CHECK: unsigned __ptm_frame __attribute__((__cleanup__(ptm_redo_unframe))) = ptm_redo_frame();
// CHECK-NEXT: char buf[16]; ptm_redo_local(&buf, sizeof buf);
// CHECK-NEXT: int one = 1, *q = &one; ptm_redo_local(&one, sizeof one);
// CHECK-LABEL: /* The mirror clone of put (
// CHECK: unsigned __ptm_frame __attribute__((__cleanup__(ptm_redo_unframe))) = ptm_redo_frame();
// CHECK: snprintf(p, __extension__({ __auto_type __ptm_f{{[0-9]+}} = (n); ptm_redo_fit((__SIZE_TYPE__)__ptm_f{{[0-9]+}}, (1), (p)); __ptm_f{{[0-9]+}}; }), "%s",
// CHECK-NEXT: ptm_redo_strcpy(p,

#define ZAP(i) (zbuf[(i)] = 0)

PTM_TRANSACTION(.success_criteria = return >= 0)
int in_macro(int i)
{
    char zbuf[4];
    ZAP(i);
    return zbuf[0];
}

PTM_TRANSACTION(.success_criteria = return >= 0)
int scans(const char *s)
{
    char word[8];
    return sscanf(s, "%s", word);
}

PTM_TRANSACTION(.success_criteria = return >= 0)
int scans_width(const char *s)
{
    char word[8], c;
    int n;
    return sscanf(s, "%7s %c %d %*s %n", word, &c, &n, &n);
}

PTM_TRANSACTION(.success_criteria = return >= 0)
int scans_wide(const char *s)
{
    char word[8];
    return sscanf(s, "%8s", word);
}

// DESC-LABEL: stores__ptm_desc = {
// DESC: .inline_ok = 1,
// DESC-NOT: .redo
// DESC-LABEL: pointers__ptm_desc = {
// DESC: .inline_ok = 1,
// DESC-NEXT: .redo = 1,
// DESC-LABEL: in_macro__ptm_desc = {
// DESC: .mirror_reason = "in_macro: stores into a local array inside a macro at {{.*}}emit-bounds.c:{{[0-9]+}}:5",
// DESC-LABEL: scans__ptm_desc = {
// DESC: .mirror_reason = "scans: sscanf fills a char array as far as its input goes at
// A width the array holds bounds %s; one more than it does not.
// DESC-LABEL: scans_width__ptm_desc = {
// DESC: .inline_ok = 1,
// DESC-NOT: .redo
// DESC-LABEL: scans_wide__ptm_desc = {
// DESC: .mirror_reason = "scans_wide: sscanf fills a char array as far as its input goes at
