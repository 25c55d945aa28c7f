// --verify-mirror on a program whose mirror is clean: every I/O call the
// mirror can reach goes to a shim, libc's pure functions run as they are,
// and I/O that only the primary reaches is none of the verifier's business.
// Success prints nothing; --ptm-verbose prints one summary line.  With -c
// it verifies, then compiles as usual.
// RUN: %ptmcc --verify-mirror %s 2>&1 | FileCheck --allow-empty --check-prefix=QUIET %s
// RUN: %ptmcc --verify-mirror --ptm-verbose %s 2>&1 | FileCheck --check-prefix=VERBOSE %s
// RUN: rm -f %t.o
// RUN: %ptmcc --verify-mirror -Wall -Wextra -Werror -c %s -o %t.o
// RUN: test -f %t.o

#include <ptm.h>
#include <stdio.h>
#include <string.h>

static int depth(int n) { return n <= 0 ? 0 : 1 + depth(n - 1); }

static void note(FILE *f, const char *what)
{
    char line[64];
    snprintf(line, sizeof line, "%s:%zu", what, strlen(what));
    fputs(line, f);
    fputc('\n', f);
}

/* Raw I/O, but only main calls it: no mirror reaches it. */
static void banner(void)
{
    FILE *f = fopen("/dev/null", "w");
    if (f) {
        fwrite("hi\n", 1, 3, f);
        fflush(f);
        fclose(f);
    }
}

PTM_TRANSACTION(.transaction_id = "clean.save", .success_criteria = return == 0)
int save(const char *path, int value)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    note(f, "value");
    fprintf(f, "%d %d\n", value, depth(3));
    return fclose(f);
}

int main(void)
{
    banner();
    return save("/dev/null", 1);
}

// QUIET-NOT: {{.}}

// VERBOSE: ptmcc: --verify-mirror: 1 transaction, 3 mirror functions, 3 functions reached: no raw I/O (0 warnings)
