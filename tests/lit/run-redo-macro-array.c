// An array member that a macro's body names and that decays to a pointer
// (Lua's getstr: #define getstr(ts) ((ts)->contents), a struct hack's
// char contents[1]) keeps the mirror inline: the use is the pointer it
// decays to.  A subscript on the use (getstr(ts)[1] = 'X') is rewritten
// around the use and its index; a string reader (strcmp) gets the
// string's view, so it sees what the mirror stored; a writer (memcpy into
// a string the mirror allocated) is checked as any pointer is.  A dry run
// leaves the host's string as it was; the real run changes it.
// RUN: %ptmcc --emit-source %s -o - | grep -v '^//' | FileCheck %s
// RUN: %ptmcc -std=gnu11 -O2 -Wall -Wextra -Werror %s -o %t
// RUN: rm -f %t.trace
// RUN: env PTM_DRY_RUN=1 PTM_TRACE=%t.trace %t | FileCheck %s --check-prefix=DRY
// RUN: grep -c '"mirror":"inline"' %t.trace | FileCheck %s --check-prefix=COUNT
// RUN: grep -c '"criteria_failed":false' %t.trace | FileCheck %s --check-prefix=COUNT
// RUN: %t | FileCheck %s --check-prefix=REAL

#include <ptm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct TString { size_t len; char contents[1]; } TString;
#define getstr(ts) ((ts)->contents)
#define G(l) ((l)->g)
typedef struct global { TString *cache[2]; int hits; } global;
typedef struct state { global *g; } state;

static TString *newstr(const char *s)
{
    size_t l = strlen(s);
    TString *ts = malloc(sizeof *ts + l);
    if (!ts)
        return NULL;
    ts->len = l;
    memcpy(getstr(ts), s, l);
    getstr(ts)[l] = '\0';
    return ts;
}

PTM_TRANSACTION(.transaction_id = "getstr", .success_criteria = return == 1, .mirror = inline)
int touch(state *L, const char *str)
{
    TString **p = G(L)->cache;
    for (int j = 0; j < 2; j++) {
        if (strcmp(str, getstr(p[j])) != 0)
            continue;
        G(L)->hits++;
        getstr(p[j])[1] = 'X';
        /* The mirror's own write, read back by a library reader. */
        if (strcmp(getstr(p[j]), "aXcdef") != 0)
            return 2;
        TString *copy = newstr(getstr(p[j]));
        int copied = copy && getstr(copy)[1] == 'X' && strlen(getstr(copy)) == 6;
        free(copy);
        return copied;
    }
    return 0;
}

int main(void)
{
    static global g;
    static state L = {&g};
    g.cache[0] = newstr("zzz");
    g.cache[1] = newstr("abcdef");
    int r = touch(&L, "abcdef");
    printf("r %d hits %d s %s\n", r, g.hits, getstr(g.cache[1]));
    return 0;
}

// The subscript on the use, its index and the use's argument wrapped:
// CHECK: &(getstr((*__extension__({ __auto_type __ptm_a[[P:[0-9]+]] = &(p[j]); (__typeof__(__ptm_a[[P]]))ptm_redo_ld(__ptm_a[[P]], sizeof *__ptm_a[[P]]); })))[1] ); __typeof__(*__ptm_a{{[0-9]+}}) __ptm_v{{[0-9]+}} = ( 'X'); *(__typeof__(__ptm_a{{[0-9]+}}))ptm_redo_st(
// The decayed array handed to strcmp as the string's view:
// CHECK: if (strcmp((__extension__({ __auto_type __ptm_a[[S:[0-9]+]] = (getstr(
// CHECK-SAME: ptm_redo_str(__ptm_a[[S]]); })), "aXcdef") != 0)

// DRY: r 1 hits 0 s abcdef
// COUNT: 1
// REAL: r 1 hits 1 s aXcdef
