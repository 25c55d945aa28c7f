// Idioms of SQLite's amalgamation that broke the clones under
// -fptm-mirror-all (the backend rejected the file, so every mirror that
// reached it forked):
//  - a store whose value is a macro's argument (SQLite's GLOBAL(T, v),
//    which expands to v): the wrapper closed inside the use;
//  - a builtin without a library function (__sync_synchronize) taken for a
//    function of another file;
//  - a static table whose initializer uses a macro the function defines
//    (UNIXVFS in sqlite3_os_init) moved above the function.
// And one that made an inline mirror write the host's memory: a library
// builtin (__builtin_strcpy) counted as pure with nothing written; it now
// answers as strcpy (arg 0 written, through the write buffer), and a
// builtin ptmcc does not know is an unknown call.  A dry run leaves the
// host as it was; the real run writes.
// RUN: %ptmcc -fptm-mirror-all -std=gnu11 -O2 -Wall -Wextra -Werror %s -o %t 2>&1 | FileCheck %s --check-prefix=WARN --implicit-check-not=warning:
// RUN: rm -f %t.trace
// RUN: env PTM_DRY_RUN=1 PTM_TRACE=%t.trace %t | FileCheck %s --check-prefix=DRY
// RUN: grep -c '"mirror":"inline"' %t.trace | FileCheck %s --check-prefix=COUNT
// RUN: %t | FileCheck %s --check-prefix=REAL
// RUN: %ptmcc -fptm-mirror-all --emit-source %s -o - 2>/dev/null | grep -v '^//' | FileCheck %s

#include <ptm.h>
#include <stdio.h>

#define GLOBAL(t, v) v

typedef struct Node { struct Node *next; int id; } Node;
static Node *shared_list;
static char name[16] = "host";
static int total;

struct Mode { const char *z; int n; };

static int mode_of(int i)
{
#define MODE(z, n) { z, n }
    static struct Mode modes[] = { MODE("ro", 1), MODE("rw", 2) };
#undef MODE
    return modes[i].n;
}

PTM_TRANSACTION(.transaction_id = "idioms", .success_criteria = return > 0, .mirror = inline)
int link_node(Node *n, const char *who)
{
    n->next = GLOBAL(Node *, shared_list);
    GLOBAL(Node *, shared_list) = n;
    total += GLOBAL(int, n->id);
    __sync_synchronize();
    __builtin_strcpy(name, who);
    if (__builtin_expect(n->next != NULL, 0))
        return -1;
    return mode_of(1) + __builtin_popcount((unsigned)total) + (int)__builtin_strlen(name);
}

int main(void)
{
    Node a = {NULL, 3};
    int r = link_node(&a, "mirror");
    printf("r=%d list=%s total=%d name=%s next=%s\n", r, shared_list == &a ? "a" : "null", total,
           name, a.next ? "set" : "null");
    return 0;
}

// WARN: warning: the mirror clone of 'mode_of' gets its own copy of static variable 'modes'
// WARN: note: {{.*}}cannot move 'modes': it uses a macro defined inside the function

// DRY: r=10 list=null total=0 name=host next=null
// COUNT: 1
// REAL: r=10 list=a total=3 name=mirror next=null

// CHECK: ptm_redo_st({{.*}} = GLOBAL(Node *, (*__extension__({ __auto_type __ptm_a{{[0-9]+}} = &(shared_list); (__typeof__(__ptm_a{{[0-9]+}}))ptm_redo_ld(
// CHECK-NOT: __sync_synchronize__ptm_xtu
