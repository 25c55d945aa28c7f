// /dev/full fails every write with ENOSPC: a mirror that writes to it,
// through a descriptor it opened or the host's own (stdout redirected to
// it, under either executor), predicts the failure (validation), and the
// call diverts.  A
// PTM_TRACE file that cannot be created is said once on stderr, and by
// ptm_last_error() after each call.
// RUN: %ptmcc %s -o %t 2>/dev/null
// RUN: rm -f %t.trace && env PTM_TRACE=%t.trace %t /dev/full 2>&1 | FileCheck %s --check-prefix=FULL
// RUN: env PTM_TRACE=%t.trace %t /dev/null 2>&1 | FileCheck %s --check-prefix=NULL
// RUN: env PTM_TRACE=%t.trace PTM_MIRROR=inline %t - 2>&1 >/dev/full | FileCheck %s --check-prefix=FULL
// RUN: env PTM_TRACE=%t.trace PTM_MIRROR=fork %t - 2>&1 >/dev/full | FileCheck %s --check-prefix=FULL
// RUN: FileCheck %s < %t.trace
// RUN: env PTM_TRACE=%t.missing/dir/trace %t /dev/null 2>&1 | FileCheck %s --check-prefix=NOTRACE
// RUN: test ! -e %t.missing

#include <ptm.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int keep(const char *path)
{
    (void)path;
    return 2;
}

PTM_TRANSACTION(.alternative_paths = { keep }, .success_criteria = return == 0)
int save(const char *path)
{
    if (strcmp(path, "-") == 0)
        return write(1, "saved\n", 6) == 6 ? 0 : -1;
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    int bad = fputs("saved\n", f) < 0;
    bad |= fclose(f) != 0;
    return bad ? -1 : 0;
}

int main(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : "/dev/full";
    for (int i = 0; i < 2; i++) {
        int r = save(path);
        fprintf(stderr, "save %d [%s]\n", r, ptm_last_error());
    }
    return 0;
}

// FULL: save 2 []
// FULL-NEXT: save 2 []
// NULL: save 0 []
// NULL-NEXT: save 0 []
// CHECK: "errno":28,"errname":"ENOSPC","class":"validation"{{.*}}"decision":"divert","path":"keep"
// CHECK: "decision":"divert","path":"keep"
// CHECK: "decision":"primary","path":"save"
// CHECK: "decision":"primary","path":"save"
// CHECK: "errno":28,"errname":"ENOSPC"{{.*}}"decision":"divert","path":"keep"
// CHECK: "decision":"divert","path":"keep"
// CHECK: "mirror":"fork",{{.*}}"errno":28,"errname":"ENOSPC"{{.*}}"decision":"divert","path":"keep"
// CHECK: "mirror":"fork",{{.*}}"decision":"divert","path":"keep"
// NOTRACE: ptm: PTM_TRACE={{.*}}.missing/dir/trace: cannot open it: No such file or directory; no trace is written
// NOTRACE-NEXT: save 0 [ptm: PTM_TRACE={{.*}}: cannot open it: No such file or directory; no trace is written]
// NOTRACE-NEXT: save 0 [ptm: PTM_TRACE={{.*}}: cannot open it: No such file or directory; no trace is written]
// NOTRACE-NOT: cannot open
