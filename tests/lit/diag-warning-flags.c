// ptmcc's own warnings obey the warning flags as clang's do: each group has
// a -W name shown in brackets, -Werror=ptm makes them all errors (the build
// fails), -Werror=<group> one, -Wno-<group> silences one, -Wno-error=<group>
// keeps one a warning, -w silences all.  A plain -Werror is the backend's:
// a -Werror build does not break because ptmcc was put in.  The -Wptm
// flags never reach the backend, which would reject them.
// RUN: %ptmcc -c %s -o %t.o 2>&1 | FileCheck %s --check-prefix=WARN
// RUN: %ptmcc -Werror -c %s -o %t.o 2>&1 | FileCheck %s --check-prefix=WARN
// RUN: not %ptmcc -Werror=ptm -c %s -o %t.o 2>&1 | FileCheck %s --check-prefix=WERROR
// RUN: %ptmcc -Werror=ptm -Wno-error=ptm-unknown-external -Wno-error=ptm-function-pointer -c %s -o %t.o 2>&1 | FileCheck %s --check-prefix=WARN
// RUN: %ptmcc -Werror -Wno-ptm-unknown-external -Wno-ptm-function-pointer -c %s -o %t.o 2>&1 | FileCheck %s --allow-empty --check-prefix=NONE
// RUN: %ptmcc -Werror -Wno-ptm -c %s -o %t.o 2>&1 | FileCheck %s --allow-empty --check-prefix=NONE
// RUN: %ptmcc -Werror -w -c %s -o %t.o 2>&1 | FileCheck %s --allow-empty --check-prefix=NONE
// RUN: not %ptmcc -Werror=ptm-function-pointer -c %s -o %t.o 2>&1 | FileCheck %s --check-prefix=ONE
// RUN: %ptmcc -Werror=ptm -Wno-error=ptm -Wno-ptm-unknown-external -c %s -o %t.o 2>&1 | FileCheck %s --check-prefix=NOEXT
// RUN: %if gcc %{ env PTM_CC=gcc %ptmcc -Werror -Wno-error=ptm -c %s -o %t.o 2>&1 | FileCheck %s --check-prefix=WARN %}
// RUN: %ptmcc -Wno-ptm-unknown-extern -c %s -o %t.o 2>&1 | FileCheck %s --check-prefix=TYPO

#include <ptm.h>
#include <stdlib.h>

static int (*hook)(int) = abs;

PTM_TRANSACTION()
int draw(int n)
{
    return rand() % n + hook(n);
}

// WARN: diag-warning-flags.c:27:12: warning: the mirror of 'draw' forks: it reaches unknown external 'rand' via draw [-Wptm-unknown-external]
// WARN: diag-warning-flags.c:27:25: warning: the mirror of 'draw' forks: it calls through a function pointer via draw [-Wptm-function-pointer]
// WARN-NOT: error

// WERROR: diag-warning-flags.c:27:12: error: the mirror of 'draw' forks: it reaches unknown external 'rand' {{.*}} [-Werror,-Wptm-unknown-external]
// WERROR: diag-warning-flags.c:27:25: error: the mirror of 'draw' forks: it calls through a function pointer {{.*}} [-Werror,-Wptm-function-pointer]
// WERROR: 2 errors generated.

// NONE-NOT: {{.}}

// ONE: warning: the mirror of 'draw' forks: it reaches unknown external 'rand' {{.*}} [-Wptm-unknown-external]
// ONE: error: the mirror of 'draw' forks: it calls through a function pointer {{.*}} [-Werror,-Wptm-function-pointer]
// ONE: 1 error generated.

// NOEXT-NOT: rand
// NOEXT: warning: the mirror of 'draw' forks: it calls through a function pointer {{.*}} [-Wptm-function-pointer]
// NOEXT-NOT: error

// TYPO: ptmcc: warning: unknown warning option '-Wno-ptm-unknown-extern'; did you mean '-Wno-ptm-unknown-external'? [-Wunknown-warning-option]
// TYPO: warning: the mirror of 'draw' forks: it reaches unknown external 'rand'
