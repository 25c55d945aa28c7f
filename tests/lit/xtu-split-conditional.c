// -fptm-mirror-all on a function whose definition is split across the
// branches of a preprocessor conditional (SQLite's shell.c: #if ... int
// main(...){ #else int wmain(...){ ... #endif): a clone copies the
// definition's text elsewhere, where the conditional would not be whole,
// so that function gets no clone (a mirror that reaches it forks) and the
// others of the unit do.  A conditional wholly inside a body is copied.
// RUN: %ptmcc -fptm-mirror-all -Wall -Wextra -Werror -c %s -o %t.o 2>&1 | FileCheck %s --allow-empty --check-prefix=WARN
// RUN: nm %t.o | FileCheck %s --check-prefix=NM

#define WIDE 0

int helper(int x);
int helper(int x)
{
#if WIDE
    return x * 2;
#else
    return x + 1;
#endif
}

#if !WIDE
int entry(int argc, char **argv){
#else
int wentry(int argc, wchar_t **wargv){
  char **argv = 0;
#endif
  (void)argv;
  return helper(argc);
}

// WARN-NOT: {{.}}

// NM-DAG: T entry
// NM-DAG: T helper
// NM-DAG: T helper__ptm_mirror
// NM-NOT: entry__ptm_mirror
