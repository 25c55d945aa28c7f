// Calls a mirror cannot keep inside the mirror: a function that is neither
// a shim, a mirror clone, PTM_MIRRORABLE, nor on ptmcc's list of library
// functions without external effects (runtime/calls.def), and calls
// through function pointers.  A transaction's mirror that reaches them gets a
// warning per group, at the first, with the path (clones, macros too); the descriptor tells the runtime that the mirror
// needs the fork executor and why, and the trace says so.  Under
// `mirror = fork` nobody needs telling; under `mirror = inline` it is an
// error that lists them.
// RUN: %ptmcc -Wall -Wextra -Werror -c %s -o %t.o 2>&1 | FileCheck %s --check-prefix=WARN --implicit-check-not=warning:
// RUN: %ptmcc --emit-source %s -o - 2>/dev/null | grep -v '^// ' | FileCheck %s --check-prefix=DESC
// RUN: %ptmcc %s -o %t 2>/dev/null
// RUN: rm -f %t.trace && env PTM_TRACE=%t.trace %t && FileCheck %s --check-prefix=TRACE --input-file=%t.trace
// RUN: not %ptmcc -DINLINE -c %s -o %t.o 2>&1 | FileCheck %s --check-prefix=INLINE

#include <ptm.h>
#include <stdlib.h>
#include <string.h>

#define STAMP() (setenv("PTM_STAMPED", "1", 1) == 0)

static int checksum(const char *s)
{
    return (int)strlen(s) + rand() % 2;
}

static int apply(int (*op)(int), int v)
{
    return op(v);
}

static int twice(int v) { return 2 * v; }

#define GETTER(name, value) static int get_##name(void) { return value; }
GETTER(limit, 3)

#ifdef INLINE
PTM_TRANSACTION(.mirror = inline)
#else
PTM_TRANSACTION(.transaction_id = "remote.put")
#endif
int put(const char *key)
{
    char *copy = strdup(key);
    int sum = checksum(copy) + apply(twice, 1) + get_limit();
    free(copy);
    return sum + STAMP();
}

PTM_TRANSACTION(.mirror = fork)
int forked(const char *key)
{
    return (int)strlen(key) + rand();
}

int main(void)
{
    return put("key") > 0 && forked("key") ? 0 : 1;
}

// One warning per transaction and group, at the first such call its mirror
// reaches (breadth first), with the path there.
// WARN: extern-unknown.c:44:50: warning: the mirror of 'put' forks: it reaches 'get_limit' via put, and ptmcc cannot clone it (a macro writes its definition) [-Wptm-uncloneable]
// WARN-NEXT: {{^}}   44 |     int sum = checksum(copy) + apply(twice, 1) + get_limit();
// WARN-NEXT: {{^}}      |                                                  ^~~~~~~~~{{$}}
// WARN: extern-unknown.c:46:18: warning: the mirror of 'put' forks: it reaches unknown external 'setenv' via put [-Wptm-unknown-external]
// WARN-NEXT: {{^}}   46 |     return sum + STAMP();
// WARN-NEXT: {{^}}      |                  ^{{$}}
// WARN: extern-unknown.c:28:12: warning: the mirror of 'put' forks: it calls through a function pointer via put -> apply [-Wptm-function-pointer]

// Under -Werror=ptm they are errors, named as clang names them, and the build fails.
// WERROR: extern-unknown.c:44:50: error: the mirror of 'put' forks: it reaches 'get_limit' {{.*}} [-Werror,-Wptm-uncloneable]
// WERROR: extern-unknown.c:46:18: error: the mirror of 'put' forks: it reaches unknown external 'setenv' {{.*}} [-Werror,-Wptm-unknown-external]
// WERROR: 3 errors generated.
// RUN: not %ptmcc -Wall -Wextra -Werror=ptm -c %s -o %t.o 2>&1 | FileCheck %s --check-prefix=WERROR

// DESC: static const struct ptm_tx_desc put__ptm_desc = {
// DESC: .needs_fork = 1,
// DESC-NEXT: .mirror_reason = "calls 'get_limit', defined by a macro ({{.*}}extern-unknown.c:44)",
// DESC: static const struct ptm_tx_desc forked__ptm_desc = {
// DESC: .needs_fork = 1,
// DESC-NEXT: .mirror_reason = "calls unknown external 'rand' ({{.*}}extern-unknown.c:52)",

// TRACE: "transaction_id":"remote.put",{{.*}}"mirror":"fork","mirror_reason":"calls 'get_limit', defined by a macro ({{.*}}extern-unknown.c:44)"
// TRACE: "transaction_id":"forked",{{.*}}"mirror_reason":"mirror = fork"

// INLINE: extern-unknown.c:37:27: error: 'mirror = inline' needs every call in the mirror of 'put' to reach a shim or a mirror clone
// INLINE: extern-unknown.c:44:50: note: 'put' calls 'get_limit' here, which a macro defines
// INLINE: extern-unknown.c:46:18: note: 'put' calls unknown external 'setenv' here
// INLINE: extern-unknown.c:23:29: note: 'checksum' calls unknown external 'rand' here
// INLINE: extern-unknown.c:28:12: note: 'apply' calls through a function pointer here
