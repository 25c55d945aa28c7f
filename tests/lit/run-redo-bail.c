// A library call that would write host memory through a pointer cannot go
// through the write buffer (its size is the library's business): the
// inline mirror stops at the call, before anything is written, and the
// fork executor runs the mirror instead.  The trace says so.
// RUN: %ptmcc -Wall -Wextra -Werror %s -o %t
// RUN: rm -f %t.trace
// RUN: env PTM_TRACE=%t.trace %t | FileCheck %s
// RUN: grep -o '"mirror":"[a-z]*","mirror_reason":"[^"]*","mirror_status":"[a-z]*"' %t.trace | FileCheck %s --check-prefix=TRACE

#include <ptm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct user {
    char *name; /* on the heap: strcpy's size is unknown to ptmcc */
    int renames;
};

PTM_TRANSACTION(.success_criteria = return == 0)
int rename_user(struct user *u, const char *name)
{
    if (strlen(name) >= 16)
        return -1;
    strcpy(u->name, name);
    u->renames++;
    return 0;
}

int main(void)
{
    struct user u = {malloc(16), 0};
    strcpy(u.name, "ada");
    int rc = rename_user(&u, "grace");
    printf("rc %d name %s renames %d\n", rc, u.name, u.renames);
    free(u.name);
    return 0;
}

// CHECK: rc 0 name grace renames 1
// TRACE: "mirror":"fork","mirror_reason":"inline mirror stopped: a library call writes memory it does not own; fork","mirror_status":"returned"
