/*
** front_load.c - ptmcc's front end, loaded when a unit first needs it.
**
** libclang and libLLVM are 22 shared objects and about 520,000 relocations:
** some 20 ms of CPU at every start, which configure scripts and CMake's
** compiler probes pay hundreds of times for files that hold no annotation.
** So ptmcc itself links none of them.  The phases that need them are in
** libptmcc_front.so, found relative to the running executable
** (<prefix>/lib for <prefix>/bin/ptmcc, the layout of the build tree and of
** an install, wherever the tree was moved), and opened only when the scan (scan.c)
** says a unit must be parsed, or for --dump-annotations, --emit-source
** and --verify-mirror.
*/
#include <dlfcn.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ptmcc.h"
#include "ptmcc_config.h"

#define FRONT_NAME "libptmcc_front.so"

static const FrontApi *loaded;

/* front_path: <prefix>/lib/libptmcc_front.so for the executable
** <prefix>/bin/ptmcc (symlinks to it resolved), or NULL when the
** executable's path cannot be read.  Not $PTM_HOME: the front end must be
** the one built with this driver. */
static char *front_path(void)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return NULL;
    exe[n] = '\0';
    for (int up = 0; up < 2; up++) {
        char *slash = strrchr(exe, '/');
        if (!slash)
            return NULL;
        *slash = '\0';
    }
    return format("%s/lib/" FRONT_NAME, exe);
}

/* dl_reason: dlerror()'s message without the path it starts with. */
static const char *dl_reason(const char *path)
{
    const char *e = dlerror();
    size_t n = strlen(path);
    if (!e)
        return "unknown error";
    return strncmp(e, path, n) == 0 && strncmp(e + n, ": ", 2) == 0 ? e + n + 2 : e;
}

static bool failed;

/* load_failed: reports why the front end cannot be used.  Returns NULL. */
static const FrontApi *load_failed(char *path, const char *why)
{
    error_plain("cannot load ptmcc's front end '%s': %s", path ? path : FRONT_NAME, why);
    free(path);
    failed = true;
    return NULL;
}

const FrontApi *front(void)
{
    if (loaded || failed)
        return loaded;
    char *path = front_path();
    if (!path)
        return load_failed(NULL, "the path of the ptmcc executable is unknown");
    /* RTLD_LAZY, as ptmcc linked with libclang did: binding all of
    ** libclang's and libLLVM's calls now costs ~3,000 more lookups than a
    ** run makes.  (e2e.lazy_front loads it with LD_BIND_NOW=1: no symbol
    ** the front end needs is missing from ptmcc.) */
    void *h = dlopen(path, RTLD_LAZY | RTLD_LOCAL);
    if (!h)
        return load_failed(path, dl_reason(path));
    const FrontApi *api = dlsym(h, "ptmcc_front_api");
    if (!api)
        return load_failed(path, dl_reason(path));
    /* Another build's front end would disagree on Unit's layout. */
    if (api->size != sizeof(FrontApi) || strcmp(api->version, PTM_VERSION_STRING) != 0)
        return load_failed(path, "it belongs to another build of ptmcc");
    free(path);
    loaded = api;
    return loaded;
}

/* ---------------------------------------------------------------------
** A crash of the front end on one file
**
** A fault in the front end (a ptmcc bug, libclang on input it mishandles)
** must not fail a build that plain clang would pass: the unit is compiled
** as written instead, with a warning, and runs as a plain build would.
** The fault is caught on the thread that made it and jumped out of; the
** front end's state is not trusted after that, so every later unit of
** this run is compiled as written too.  libclang's own crash recovery
** (around its parse) chains to these handlers when a fault is not its own.
*/
static const int guarded_signals[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT};
#define N_GUARDED (sizeof guarded_signals / sizeof *guarded_signals)
static _Thread_local sigjmp_buf *guard_jmp;
static int front_crash; /* the signal of a crash caught; 0: none */

static void guard_handler(int sig)
{
    if (guard_jmp)
        siglongjmp(*guard_jmp, sig);
    signal(sig, SIG_DFL);
    raise(sig);
}

/* guard_altstack: a stack for the handler on this thread (a fault may be
** a stack overflow), made once per thread. */
static void guard_altstack(void)
{
    static _Thread_local char *alt;
    stack_t ss;
    if (alt || (sigaltstack(NULL, &ss) == 0 && !(ss.ss_flags & SS_DISABLE)))
        return;
    alt = xcalloc(1, 1 << 16);
    ss = (stack_t){.ss_sp = alt, .ss_size = 1 << 16};
    sigaltstack(&ss, NULL);
}

/*
** front_rewrite: fe's parse of source (args, nargs: clang's arguments), its
** rewrite when the unit needs one, and the rewrite's checks, with a crash
** of any of them caught.  OUT: *text (NULL: nothing to rewrite, or
** errors), *unit (NULL after errors).  Returns 0, or the signal of a crash
** (then *text and *unit are NULL, the unit's memory is left as it is, and
** every later call returns it at once).
*/
int front_rewrite(const FrontApi *fe, bool mirror_all, const char *source,
                  const char *const *args, int nargs, bool notes_only, char **text, Unit **unit)
{
    *text = NULL;
    *unit = NULL;
    if (front_crash)
        return front_crash;
    struct sigaction sa = {.sa_handler = guard_handler, .sa_flags = SA_ONSTACK | SA_NODEFER},
                     old[N_GUARDED];
    sigemptyset(&sa.sa_mask);
    guard_altstack();
    for (size_t i = 0; i < N_GUARDED; i++)
        sigaction(guarded_signals[i], &sa, &old[i]);
    sigjmp_buf jb;
    char *volatile out = NULL;
    Unit *volatile u = NULL;
    int sig = sigsetjmp(jb, 1);
    if (sig == 0) {
        guard_jmp = &jb;
        fe->set_mirror_all(mirror_all);
        u = fe->parse(source, args, nargs, notes_only);
        /* A unit without transactions is rewritten too when it defines
        ** PTM_MIRRORABLE functions (their clones are for other units'
        ** mirrors) or calls a note row's function (calls.def). */
        if (fe->needs_rewrite(u))
            out = fe->emit(u, source);
        if (out && !fe->check_exprs(u, source, out, args, nargs)) {
            free(out);
            out = NULL;
            fe->unit_free(u);
            u = NULL;
        }
    } else {
        front_crash = sig;
        out = NULL;
        u = NULL;
    }
    guard_jmp = NULL;
    for (size_t i = 0; i < N_GUARDED; i++)
        sigaction(guarded_signals[i], &old[i], NULL);
    *text = out;
    *unit = u;
    return sig;
}
