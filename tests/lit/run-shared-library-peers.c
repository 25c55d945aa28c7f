// Several runtimes in one process (docs/DESIGN.md §9): two shared libraries
// built by ptmcc, each with its own libptm, hidden.  Neither exports a PTM
// function, its longjmp or Lua.
// RUN: %ptmcc -Wall -Wextra -Werror -fPIC -shared -DPTM_LIB -DLIB_ONE %s -o %t.one.so
// RUN: %ptmcc -Wall -Wextra -Werror -fPIC -shared -DPTM_LIB %s -o %t.two.so
// RUN: nm -D --defined-only %t.one.so | FileCheck %s --check-prefix=SYMS
//
// A plain program dlopen()s both (RTLD_LOCAL: they cannot see each other's
// symbols), calls their transactions, and dlcloses them while their
// runtimes' threads run (the watchdog, the PTM_METRICS writer every second,
// the history writer): each library stays mapped, the threads go on, and
// exit is clean.  The trace, the metrics and the history file are shared.
// RUN: %clang -Wall -Wextra -Werror -I%ptm_include %sanitize_link -DDLOPEN %s -ldl -lpthread -o %t.dl
// RUN: rm -rf %t.d && mkdir %t.d
// RUN: env PTM_TRACE=%t.d/trace PTM_METRICS=%t.d/metrics PTM_METRICS_INTERVAL=1 PTM_HISTORY=%t.d/history.db %t.dl %t.one.so %t.two.so | FileCheck %s --check-prefix=DL
// RUN: %ptm_trace show %t.d/trace | FileCheck %s --check-prefix=DL-TRACE
// RUN: FileCheck %s --check-prefix=METRICS < %t.d/metrics
//
// A program built by ptmcc, with transactions of its own, linked with both:
// three runtimes.  Crashes in each one's inline mirrors are contained, a
// crash outside any mirror still reaches the host's handler (the runtimes'
// handlers chain, and none re-installs itself over another's), and
// longjmps across modules end the calls they leave in every runtime.
// RUN: %ptmcc -Wall -Wextra -Werror -Wno-ptm-unknown-external %sanitize_link %s %t.one.so %t.two.so -o %t.app
// RUN: rm -rf %t.e && mkdir %t.e
// RUN: env PTM_TRACE=%t.e/trace PTM_METRICS=%t.e/metrics %t.app | FileCheck %s --check-prefix=APP
// RUN: FileCheck %s --check-prefix=APP-TRACE < %t.e/trace
// RUN: FileCheck %s --check-prefix=APP-METRICS < %t.e/metrics

#include <ptm.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>

#ifdef PTM_LIB
// One body; the transactions are written out (ptmcc reads their names).
static int charge_body(int cents)
{
    if (!ptm_validate(cents > 0, "%d cents is not a charge", cents))
        return -2;
    if (cents == 13) /* the mirror reads through a null pointer */
        return *(volatile int *)(cents - 13L);
    return cents;
}

static int refused(int cents)
{
    (void)cents;
    return -1;
}

#ifdef LIB_ONE
PTM_TRANSACTION(
    .transaction_id    = "lib.one",
    .alternative_paths = { refused },
    .success_criteria  = return >= 0,
    .mirror            = inline)
int charge_one(int cents)
{
    return charge_body(cents);
}

// Its primary calls back into the program, which may longjmp out of it.
PTM_TRANSACTION(
    .transaction_id = "lib.one.callback",
    .mirror         = fork)
int callback_one(int (*fn)(int), int v)
{
    return fn(v) + 1;
}

// A jump inside the library, with its own longjmp: it must not trip on a
// call a jump through libc's longjmp left unseen.
int jump_inside_one(int v)
{
    jmp_buf b;
    if (setjmp(b))
        return v;
    longjmp(b, 1);
}
#else
PTM_TRANSACTION(
    .transaction_id    = "lib.two",
    .alternative_paths = { refused },
    .success_criteria  = return >= 0,
    .mirror            = inline)
int charge_two(int cents)
{
    return charge_body(cents);
}

// A plain function of the library that jumps, with its own longjmp.
void jump_two(jmp_buf env, int v)
{
    if (v < 0)
        longjmp(env, 1);
}
#endif
#elif defined(DLOPEN)
#include <dlfcn.h>
#include <pthread.h>
#include <semaphore.h>
#include <unistd.h>

static void *h[2];
static sem_t called, closed;

static jmp_buf out;

static int bail(int v)
{
    if (v < 0)
        longjmp(out, 1); /* libc's: the library's runtime does not see it */
    return v;
}

/* A plain program's jump out of a library's primary, which the library's
** runtime cannot see; its later calls and jumps go on as in a plain build. */
static void left_unseen(void *lib)
{
    int (*callback)(int (*)(int), int) =
        (int (*)(int (*)(int), int))dlsym(lib, "callback_one");
    int (*inside)(int) = (int (*)(int))dlsym(lib, "jump_inside_one");
    for (int k = 0; callback && inside && k < 3; k++) {
        if (setjmp(out) == 0)
            printf("callback_one = %d\n", callback(bail, -1));
        else
            printf("left callback_one by longjmp\n");
        printf("jump_inside_one = %d\n", inside(k));
        printf("callback_one = %d\n", callback(bail, k));
    }
}

/* The calls run on a thread that outlives the dlclose: its exit runs the
** runtimes' thread-key destructors, code of the libraries. */
static void *caller(void *arg)
{
    char **argv = arg;
    for (int i = 0; i < 2; i++) {
        if (!(h[i] = dlopen(argv[i + 1], RTLD_NOW | RTLD_LOCAL))) {
            printf("dlopen: %s\n", dlerror());
            break;
        }
        const char *name = i == 0 ? "charge_one" : "charge_two";
        int (*charge)(int) = (int (*)(int))dlsym(h[i], name);
        if (!charge)
            break;
        for (int k = 0; k < 3; k++)
            printf("%s(5) = %d\n", name, charge(5));
        printf("%s(-5) = %d\n", name, charge(-5));
        printf("%s(13) = %d\n", name, charge(13));
        if (i == 0)
            left_unseen(h[0]);
    }
    sem_post(&called);
    sem_wait(&closed);
    return NULL;
}

int main(int argc, char **argv)
{
    pthread_t t;
    if (argc < 3)
        return 2;
    sem_init(&called, 0, 0);
    sem_init(&closed, 0, 0);
    pthread_create(&t, NULL, caller, argv);
    sem_wait(&called);
    for (int i = 0; i < 2; i++)
        printf("dlclose = %d\n", h[i] ? dlclose(h[i]) : -1);
    fflush(stdout);
    usleep(1500 * 1000); /* the metrics writers wake up at least once */
    sem_post(&closed);
    pthread_join(t, NULL);
    printf("after dlclose\n");
    return 0;
}
#else
#include <string.h>
#include <time.h>

int charge_one(int cents);
int charge_two(int cents);
int callback_one(int (*fn)(int), int v);
void jump_two(jmp_buf env, int v);

int pay_refused(int cents)
{
    (void)cents;
    return -7;
}

// A fork mirror: both libraries' functions are unknown to it.  In its
// child they run as plain code (their transactions run their primaries).
PTM_TRANSACTION(
    .transaction_id    = "app.pay",
    .alternative_paths = { pay_refused },
    .success_criteria  = return >= 0,
    .mirror            = fork)
int pay(int cents)
{
    return charge_one(cents) + charge_two(cents);
}

PTM_TRANSACTION(
    .transaction_id    = "app.own",
    .alternative_paths = { pay_refused },
    .success_criteria  = return >= 0,
    .mirror            = inline)
int own(int cents)
{
    if (cents == 13)
        return *(volatile int *)(cents - 13L);
    return cents;
}

static jmp_buf top;

static int bail(int v)
{
    if (v < 0)
        longjmp(top, 2);
    return v;
}

// Its primary is left by the library's longjmp.
PTM_TRANSACTION(.transaction_id = "app.guard", .mirror = fork)
int guard(int v)
{
    jump_two(top, v);
    return v;
}

static sigjmp_buf fault;

static void host_segv(int sig)
{
    (void)sig;
    siglongjmp(fault, 1);
}

int main(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = host_segv;
    sigaction(SIGSEGV, &sa, NULL);

    printf("pay(5) = %d\n", pay(5));
    printf("pay(-5) = %d\n", pay(-5));
    /* Every runtime installs its handlers, then verifies them again after
    ** 100 ms: none may take back the place of another. */
    for (int round = 0; round < 3; round++) {
        printf("own(13) = %d, charge_one(13) = %d, charge_two(13) = %d\n", own(13),
               charge_one(13), charge_two(13));
        nanosleep(&(struct timespec){0, 150 * 1000 * 1000}, NULL);
    }
    if (sigsetjmp(fault, 1) == 0) {
        volatile int *volatile p = NULL;
        printf("read %d\n", *p);
    } else {
        printf("host handler ran\n");
    }

    if (setjmp(top) == 0)
        printf("callback_one = %d\n", callback_one(bail, -1));
    else
        printf("left callback_one by longjmp\n");
    printf("callback_one = %d\n", callback_one(bail, 4));
    if (setjmp(top) == 0)
        printf("guard = %d\n", guard(-1));
    else
        printf("left guard by jump_two\n");
    printf("guard = %d\n", guard(3));
    return 0;
}
#endif

// SYMS-NOT: {{ (ptm_|ptm[A-Z]|lua_|luaL_|luaopen_|longjmp|_longjmp|siglongjmp|__longjmp_chk)}}
// SYMS: {{ T charge_one$}}
// SYMS-NOT: {{ (ptm_|ptm[A-Z]|lua_|luaL_|luaopen_|longjmp|_longjmp|siglongjmp|__longjmp_chk)}}

// DL:      charge_one(5) = 5
// DL-NEXT: charge_one(5) = 5
// DL-NEXT: charge_one(5) = 5
// DL-NEXT: charge_one(-5) = -1
// DL-NEXT: charge_one(13) = -1
// DL-NEXT: left callback_one by longjmp
// DL-NEXT: jump_inside_one = 0
// DL-NEXT: callback_one = 1
// DL-NEXT: left callback_one by longjmp
// DL-NEXT: jump_inside_one = 1
// DL-NEXT: callback_one = 2
// DL-NEXT: left callback_one by longjmp
// DL-NEXT: jump_inside_one = 2
// DL-NEXT: callback_one = 3
// DL-NEXT: charge_two(5) = 5
// DL-NEXT: charge_two(5) = 5
// DL-NEXT: charge_two(5) = 5
// DL-NEXT: charge_two(-5) = -1
// DL-NEXT: charge_two(13) = -1
// DL-NEXT: dlclose = 0
// DL-NEXT: dlclose = 0
// DL-NEXT: after dlclose

// DL-TRACE-COUNT-3: lib.one (charge_one) · mirror inline returned
// DL-TRACE:         lib.one (charge_one) · mirror inline returned
// DL-TRACE:         divert to refused
// DL-TRACE:         lib.one (charge_one) · mirror inline crashed
// DL-TRACE:         divert to refused
// DL-TRACE-COUNT-3: lib.two (charge_two) · mirror inline returned
// DL-TRACE:         lib.two (charge_two) · mirror inline returned
// DL-TRACE:         divert to refused
// DL-TRACE:         lib.two (charge_two) · mirror inline crashed
// DL-TRACE:         divert to refused

// Each runtime's file holds both runtimes' figures, each family once.
// METRICS:     # TYPE ptm_calls_total counter
// METRICS-DAG: ptm_calls_total{transaction_id="lib.one"} 5
// METRICS-DAG: ptm_calls_total{transaction_id="lib.two"} 5
// METRICS:     # TYPE ptm_mirrors_total counter
// METRICS-NOT: # TYPE ptm_calls_total

// APP:      pay(5) = 10
// APP-NEXT: pay(-5) = -7
// APP-NEXT: own(13) = -7, charge_one(13) = -1, charge_two(13) = -1
// APP-NEXT: own(13) = -7, charge_one(13) = -1, charge_two(13) = -1
// APP-NEXT: own(13) = -7, charge_one(13) = -1, charge_two(13) = -1
// APP-NEXT: host handler ran
// APP-NEXT: left callback_one by longjmp
// APP-NEXT: callback_one = 5
// APP-NEXT: left guard by jump_two
// APP-NEXT: guard = 3

// The libraries' transactions in app.pay's fork child ran as plain code:
// no record of theirs before app.pay's.
// APP-TRACE:      "transaction_id":"lib.one",{{.*}}"outcome":"success"
// APP-TRACE-NEXT: "transaction_id":"lib.two",{{.*}}"outcome":"success"
// APP-TRACE-NEXT: "transaction_id":"app.pay",{{.*}}"mirror":"fork",{{.*}}"decision":"primary"
// APP-TRACE-NEXT: "transaction_id":"app.pay",{{.*}}"decision":"divert"
// APP-TRACE-NEXT: "transaction_id":"app.own",{{.*}}"mirror_status":"crashed",{{.*}}"decision":"divert"
// APP-TRACE-NEXT: "transaction_id":"lib.one",{{.*}}"mirror_status":"crashed",{{.*}}"decision":"divert"
// APP-TRACE-NEXT: "transaction_id":"lib.two",{{.*}}"mirror_status":"crashed",{{.*}}"decision":"divert"
// APP-TRACE:      "transaction_id":"lib.one.callback",{{.*}}"decision":"primary",{{.*}}"left_by_longjmp":true
// APP-TRACE-NEXT: "transaction_id":"lib.one.callback",{{.*}}"outcome":"success","left_by_longjmp":false
// APP-TRACE-NEXT: "transaction_id":"app.guard",{{.*}}"decision":"primary",{{.*}}"left_by_longjmp":true
// APP-TRACE-NEXT: "transaction_id":"app.guard",{{.*}}"outcome":"success","left_by_longjmp":false

// APP-METRICS-DAG: ptm_calls_total{transaction_id="app.pay"} 2
// APP-METRICS-DAG: ptm_calls_total{transaction_id="lib.one"} 4
// APP-METRICS-DAG: ptm_calls_total{transaction_id="lib.two"} 4
// APP-METRICS-DAG: ptm_calls_total{transaction_id="lib.one.callback"} 2
