// An errno that success_criteria counts as success (return == 0 || errno
// == EEXIST) is no sign of failure when the mirror meets it: mkdir of a
// directory that exists runs the primary, it does not divert.  An errno
// the criteria do not accept still diverts; so does one accepted only
// under '!'.
// RUN: %ptmcc -Wall -Wextra -Werror %s -o %t
// RUN: rm -rf %t.d %t.file && touch %t.file
// RUN: %t %t.d %t.file | FileCheck %s
// RUN: %ptmcc --emit-source %s -o - | grep -v '^// ' | FileCheck %s --check-prefix=EMIT

#include <errno.h>
#include <ptm.h>
#include <stdio.h>
#include <sys/stat.h>

static int skip(const char *d)
{
    printf("diverted %s\n", d[0] ? "" : "?");
    return -1;
}

PTM_TRANSACTION(.alternative_paths = { skip }, .success_criteria = return == 0 || errno == EEXIST)
int ensure_dir(const char *d)
{
    return mkdir(d, 0755);
}

PTM_TRANSACTION(.alternative_paths = { skip }, .success_criteria = return == 0 || !(errno == EEXIST))
int new_dir(const char *d)
{
    return mkdir(d, 0755);
}

int main(int argc, char **argv)
{
    if (argc < 3)
        return 2;
    printf("first %d\n", ensure_dir(argv[1]));
    printf("again %d\n", ensure_dir(argv[1]) == 0 || errno == EEXIST);
    /* A path under a regular file: ENOTDIR, which the criteria do not accept. */
    char under[4096];
    snprintf(under, sizeof under, "%s/x", argv[2]);
    printf("under %d\n", ensure_dir(under));
    printf("new %d\n", new_dir(argv[1]));
    return 0;
}

// CHECK: first 0
// CHECK-NEXT: again 1
// CHECK-NEXT: diverted
// CHECK-NEXT: under -1
// CHECK-NEXT: diverted
// CHECK-NEXT: new -1
// EMIT: static const int ensure_dir__ptm_accepted_errnos[] = { EEXIST };
// EMIT-NOT: new_dir__ptm_accepted_errnos
// EMIT: .accepted_errnos = ensure_dir__ptm_accepted_errnos,
// EMIT-NEXT: .n_accepted_errnos = 1,
