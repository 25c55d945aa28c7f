// Library functions in an instrumented mirror see what the mirror wrote:
// strchr, strcpy and atoi (an inline function of glibc's headers at -O2,
// not a clone) read the mirror's view of a global; a pointer strchr returns
// into that view is mapped back to the real array, so it subtracts and
// compares as the primary's does.  Under _FORTIFY_SOURCE, snprintf into a
// member stays inline (its __builtin_object_size operand is not
// evaluated); a string read through a variadic logging macro too; and
// appending with snprintf(buf + used, ...) writes the view of buf.  Each
// transaction returns 0 only when its reads saw its writes.
// RUN: %ptmcc -std=gnu11 -O2 -D_FORTIFY_SOURCE=2 -Wall -Wextra -Werror %s -o %t
// RUN: rm -f %t.trace
// RUN: env PTM_DRY_RUN=1 PTM_TRACE=%t.trace %t | FileCheck %s --check-prefix=DRY
// RUN: grep -c '"mirror":"inline"' %t.trace | FileCheck %s --check-prefix=COUNT
// RUN: grep -c '"criteria_failed":false' %t.trace | FileCheck %s --check-prefix=COUNT
// RUN: %t | FileCheck %s --check-prefix=REAL

#include <ptm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOG(fmt, ...) printf("[log] " fmt "\n", __VA_ARGS__)
#define TX PTM_TRANSACTION(.success_criteria = return == 0)

static char text[32];
static struct rec { char name[16]; int n; } recs[2];
static struct item { const char *name; int n; } items[2] = {{"a", 0}, {"b", 0}};
static char report[64];
static size_t used;

TX int split(int k)
{
    char local[32];
    snprintf(text, sizeof text, "k=%d;rest", k);
    strcpy(local, text);
    const char *semi = strchr(text, ';');
    return semi && semi - text == 3 && strcmp(semi, ";rest") == 0 && strcmp(local, text) == 0 &&
                   atoi(text + 2) == k
               ? 0
               : 1;
}

TX int set_name(int i, const char *name)
{
    snprintf(recs[i].name, sizeof recs[i].name, "%s", name);
    recs[i].n++;
    return strcmp(recs[i].name, name) == 0 && recs[i].n == 1 ? 0 : 1;
}

TX int touch(int k)
{
    items[k].n++;
    LOG("%s", items[k].name);
    return items[k].n == 1 ? 0 : 1;
}

TX int add_line(const char *what, int n)
{
    int w = snprintf(report + used, sizeof report - used, "%s=%d;", what, n);
    if (w < 0 || (size_t)w >= sizeof report - used)
        return -1;
    used += (size_t)w;
    const char *last = strrchr(&report[0], ';');
    return last == report + used - 1 && strlen(report) == used ? 0 : 1;
}

int main(void)
{
    int fails = split(7) + set_name(1, "zed") + touch(1) + add_line("a", 1) + add_line("bb", 2);
    printf("fails %d text %s name %s n %d report %s\n", fails, text, recs[1].name, items[1].n,
           report);
    return 0;
}

// DRY: fails 0 text  name  n 0 report {{$}}
// COUNT: 5
// REAL: [log] b
// REAL: fails 0 text k=7;rest name zed n 1 report a=1;bb=2;
