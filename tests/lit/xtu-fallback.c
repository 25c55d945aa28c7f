// -fptm-mirror-all on a unit without transactions whose mirror clones the
// backend rejects (a rewrite ptmcc gets wrong): the unit is compiled as
// written, with a warning, so the build goes on; it has no clones and no
// facts, and a mirror that reaches its functions forks, naming them.
// RUN: %ptmcc -fptm-mirror-all -Wall -Wextra -Werror -c %inputs/xtu-vector.c -o %t.lib.o 2>&1 | FileCheck %s --check-prefix=WARN
// RUN: nm %t.lib.o | FileCheck %s --check-prefix=NM
// RUN: %ptmcc -fptm-mirror-all -Wno-ptm-uncloneable -c %inputs/xtu-vector.c -o %t.lib2.o 2>&1 | FileCheck %s --allow-empty --check-prefix=QUIET
// RUN: not %ptmcc -fptm-mirror-all -Werror=ptm-uncloneable -c %inputs/xtu-vector.c -o %t.lib3.o 2>&1 | FileCheck %s --check-prefix=WERROR
// The same with a note call in the unit (its note is lost, the build goes on):
// RUN: %ptmcc -fptm-mirror-all -Wall -Wextra -Werror -c %inputs/xtu-vector-note.c -o %t.note.o 2>&1 | FileCheck %s --check-prefix=WARN-NOTE
// RUN: nm %t.note.o | FileCheck %s --check-prefix=NM-NOTE
// RUN: %ptmcc -fptm-mirror-all -Wall -Wextra -Werror %s %t.lib.o -o %t
// RUN: rm -f %t.trace && env PTM_TRACE=%t.trace %t | FileCheck %s --check-prefix=OUT
// RUN: FileCheck %s --check-prefix=TRACE < %t.trace

#include <ptm.h>
#include <stdio.h>

typedef int v4 __attribute__((vector_size(16)));
struct proto {
    v4 lanes;
};
int patch(struct proto *p, int v);

PTM_TRANSACTION(.transaction_id = "fix")
int fix(struct proto *p)
{
    return patch(p, 7);
}

int main(void)
{
    struct proto p = {{0, 0, 0, 0}};
    printf("%d\n", fix(&p));
    return 0;
}

// WARN: ptmcc: warning: {{.*}}xtu-vector.c: the backend rejected its mirror clones; compiled without them (mirrors that reach its functions fork) [-Wptm-uncloneable]
// WARN-NOT: error

// QUIET-NOT: {{.}}

// WERROR: ptmcc: error: {{.*}}xtu-vector.c: the backend rejected its mirror clones; {{.*}} [-Werror,-Wptm-uncloneable]

// NM: T patch
// WARN-NOTE: ptmcc: warning: {{.*}}xtu-vector-note.c: the backend rejected its mirror clones; compiled without them
// NM-NOTE-NOT: ptm_note
// NM-NOTE: T patch_noted
// NM-NOTE-NOT: ptm_note
// NM-NOT: patch__ptm

// OUT: 7

// TRACE: "transaction_id":"fix",{{.*}}"mirror":"fork","mirror_reason":"reaches 'patch' via fix: no mirror clone (its file was not built by ptmcc -fptm-mirror-all)"
