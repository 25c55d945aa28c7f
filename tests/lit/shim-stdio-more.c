// Everyday stdio in a transaction -- a getline loop, ferror/feof after it,
// clearerr, fileno, perror, remove -- compiles without an unknown-external
// warning (each call has a shim), so the mirror runs inline; under
// PTM_DRY_RUN it reads the file as the mirror sees it and changes nothing.
// RUN: %ptmcc -O2 -Wall -Wextra -Werror -c %s -o %t.o 2>&1 | FileCheck %s --check-prefix=WARN --allow-empty --implicit-check-not=warning:
// RUN: %ptmcc -O2 -Wall -Wextra -Werror %s -o %t
// RUN: rm -rf %t.d && mkdir %t.d && printf 'one\ntwo\nthree\n' > %t.d/in && touch %t.d/done
// RUN: cp %t.d/in %t.d/in.orig
// RUN: rm -f %t.trace && env PTM_DRY_RUN=1 PTM_TRACE=%t.trace %t %t.d/in %t.d/done | FileCheck %s --check-prefix=DRY
// RUN: FileCheck %s --check-prefix=TRACE --input-file=%t.trace
// RUN: cmp %t.d/in %t.d/in.orig && test -e %t.d/done
// RUN: %t %t.d/in %t.d/done | FileCheck %s --check-prefix=REAL
// RUN: not test -e %t.d/done

#include <ptm.h>
#include <stdio.h>
#include <stdlib.h>

PTM_TRANSACTION(.transaction_id = "lines.count", .success_criteria = return >= 0)
long count_lines(const char *path, const char *done)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char *line = NULL;
    size_t cap = 0;
    long n = 0;
    while (getline(&line, &cap, f) != -1)
        n++;
    int bad = ferror(f) || !feof(f) || fileno(f) < 0;
    clearerr(f);
    free(line);
    fclose(f);
    if (bad)
        return -1;
    if (remove(done) != 0)
        perror("remove");
    return n;
}

int main(int argc, char **argv)
{
    if (argc != 3)
        return 2;
    printf("lines: %ld\n", count_lines(argv[1], argv[2]));
    return 0;
}

// WARN-NOT: unknown external
// DRY: lines: 3
// REAL: lines: 3
// TRACE: "mirror":"inline"
