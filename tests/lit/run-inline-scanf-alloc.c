// sscanf's %ms allocates the string from the host's heap; an inline
// mirror's free() leaves host memory to the primary, so each mirror leaked
// it (50,000 calls grew the process by 5 MB; a plain build stays flat).
// Now a scanf-family format with an m conversion keeps the mirror from
// running inline: the fork child's allocation ends with the child.
// RUN: %ptmcc -Wall -Wextra -Werror %s -o %t
// RUN: rm -f %t.trace
// RUN: env PTM_DRY_RUN=1 PTM_TRACE=%t.trace %t 3 | FileCheck %s
// RUN: FileCheck %s --check-prefix=TRACE < %t.trace
// RUN: %t 3 | FileCheck %s

#include <ptm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TX PTM_TRANSACTION(.success_criteria = return >= 0, .mirror = auto)
TX int word_length(const char *s)
{
    char *p = NULL;
    if (sscanf(s, "%ms", &p) != 1)
        return -1;
    int n = (int)strlen(p);
    free(p);
    return n;
}
TX int fixed_word(const char *s)
{
    char w[16];
    return sscanf(s, "%15s", w) == 1 ? (int)strlen(w) : -1;
}

int main(void)
{
    printf("%d %d\n", word_length("hello world"), fixed_word("hello world"));
    return 0;
}

// CHECK: 5 5
// TRACE: "function":"word_length","mirror":"fork","mirror_reason":"word_length: sscanf's %m allocates from the host's heap, which the mirror cannot free
// TRACE: "function":"fixed_word","mirror":"inline"
