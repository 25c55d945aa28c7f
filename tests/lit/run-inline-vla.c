// A variable-length array or alloca moves the stack pointer by a size the
// mirror computes: past the thread's stack, into another thread's.  Such a
// mirror does not run inline (the trace says why; `mirror = inline` is an
// error): in a fork child, its store lands in the child's copy.  Here a
// second thread keeps a canary on its stack, and the mirror sizes its
// array to reach it; in a dry run (the mirror alone) the canary survives.
// RUN: %ptmcc -O2 -Wall -Wextra -Werror %s -o %t -lpthread
// RUN: rm -f %t.trace
// RUN: env PTM_DRY_RUN=1 PTM_TRACE=%t.trace %t | FileCheck %s
// RUN: grep -o '"mirror":"[a-z]*","mirror_reason":"[^"]*"' %t.trace | FileCheck %s --check-prefix=TRACE
// RUN: not %ptmcc -DFORCE_INLINE -c %s -o %t.o 2>&1 | FileCheck %s --check-prefix=ERR

#include <alloca.h>
#include <pthread.h>
#include <ptm.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define SPAN 65536

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static volatile unsigned char *canary;
static int done;

static void *keeper(void *arg)
{
    (void)arg;
    volatile unsigned char mine[3 * SPAN];
    memset((void *)mine, 0x5a, sizeof mine);
    pthread_mutex_lock(&mu);
    canary = mine;
    pthread_cond_broadcast(&cv);
    while (!done)
        pthread_cond_wait(&cv, &mu);
    pthread_mutex_unlock(&mu);
    for (size_t k = 0; k < sizeof mine; k++)
        if (mine[k] != 0x5a)
            return (void *)1;
    return NULL;
}

#ifdef FORCE_INLINE
PTM_TRANSACTION(.mirror = inline, .success_criteria = return >= 0)
#else
PTM_TRANSACTION(.success_criteria = return >= 0)
#endif
int with_vla(size_t n)
{
    char v[n];
    memset(v, 'X', SPAN);
    return v[0];
}

#ifdef FORCE_INLINE
PTM_TRANSACTION(.mirror = inline, .success_criteria = return >= 0)
#else
PTM_TRANSACTION(.success_criteria = return >= 0)
#endif
int with_alloca(size_t n)
{
    char *p = alloca(n);
    memset(p, 'X', SPAN);
    return p[0];
}

/* How far below this frame the keeper's canary is (its middle). */
static __attribute__((noinline)) size_t distance(void)
{
    volatile char here;
    return (size_t)((uintptr_t)&here - (uintptr_t)(canary + SPAN));
}

int main(void)
{
    pthread_t t;
    if (pthread_create(&t, NULL, keeper, NULL) != 0)
        return 2;
    pthread_mutex_lock(&mu);
    while (!canary)
        pthread_cond_wait(&cv, &mu);
    pthread_mutex_unlock(&mu);

    size_t n = distance();
    printf("vla %d\n", with_vla(n));
    printf("alloca %d\n", with_alloca(n));

    pthread_mutex_lock(&mu);
    done = 1;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
    void *changed;
    pthread_join(t, &changed);
    printf("%s\n", changed ? "the other thread's stack changed" : "other thread's stack intact");
    return 0;
}

// CHECK: other thread's stack intact

// TRACE: "mirror":"fork","mirror_reason":"with_vla: declares a variable-length array at {{.*}}run-inline-vla.c:{{[0-9]+}}:{{[0-9]+}}"
// TRACE: "mirror":"fork","mirror_reason":"with_alloca: calls __builtin_alloca, which takes stack of a size it computes at {{.*}}run-inline-vla.c:{{[0-9]+}}:{{[0-9]+}}"

// ERR: error: 'mirror = inline' needs the mirror of 'with_vla' to keep its stores from the host's memory: with_vla: declares a variable-length array
// ERR: error: 'mirror = inline' needs the mirror of 'with_alloca' to keep its stores from the host's memory: with_alloca: calls __builtin_alloca
