/*
** verify.c - `ptmcc --verify-mirror`: proves, on the code the compiler
** really produces, that no mirror clone reaches a raw I/O call except
** through PTM's shims.
**
** The source rewrite redirects the I/O calls it can see, by name, in the
** file it rewrites.  It cannot see a helper compiled in another file, a
** name that is another symbol (an asm label, an alias), or a macro that
** becomes another function (under _FORTIFY_SOURCE, fprintf is
** __fprintf_chk).  The verifier looks at what clang made of the rewritten
** source instead:
**
**   1. Every C source of the command (each rewritten one in place of its
**      original) is compiled by clang-19 to bitcode, with the user's flags,
**      line tables for positions, and no LLVM passes.  The user's -O still
**      reaches the preprocessor, so _FORTIFY_SOURCE picks the same __*_chk
**      functions as the real build, but no inlining folds a link of a call
**      chain away.  Skipping the optimizer loses nothing: its library-call
**      rewrites turn raw I/O into other raw I/O (printf -> puts, fputs ->
**      fwrite) and never make raw I/O out of a shim or a non-I/O call.
**   2. The modules are linked (LLVMLinkModules2): a chain that crosses
**      files is one graph.
**   3. The call graph: for each defined function, its direct calls
**      (through aliases), its calls through pointers, its inline assembly,
**      and the functions it hands to external code (qsort's comparison),
**      taken as called; a function whose address is used other than by
**      calling it is a possible target of a pointer.
**   4. A breadth-first search from every function named *__ptm_mirror
**      (transactions' own mirrors first, so that each chain names its
**      transaction).  A call to a raw I/O symbol (runtime/calls.def)
**      from a reached function is an error naming the chain; ptm_shim_*
**      ends a path; a call through a pointer or an asm statement is a
**      warning, since what it runs is not known statically.  The
**      warning's notes name the functions the pointer may hold (address
**      taken, same type) that do reach raw I/O.
**
** Not proven: what external functions without bitcode do (libc's own
** internals, other libraries, other files not on the command line),
** syscall(), and the targets of pointers.
*/
#include <ctype.h>
#include <errno.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <llvm-c/BitReader.h>
#include <llvm-c/Core.h>
#include <llvm-c/Linker.h>

#include "ptmcc.h"

#ifndef PTM_VERIFY_CLANG
#define PTM_VERIFY_CLANG "clang-19"
#endif

extern char **environ;

static const char mirror_suffix[] = "__ptm_mirror";
static const char shim_prefix[] = "ptm_shim_";

/* ---------------------------------------------------------------------
** The table of raw I/O symbols
*/
typedef struct RawIo {
    const char *name;
    const char *family;  /* the raw rows' family (file fs stdio socket process
                            sqlite ...), the shims' io column */
} RawIo;

/* calls.def's raw rows, and its shims whose real call is raw I/O (their io
** column; "none" for the others). */
static const RawIo raw_io[] = {
#define PTM_SHIM_CALL(name, family, io, effect, written, routed, unwritten, buffered) {#name, #io},
#define PTM_RAW_CALL(name, family, written) {#name, #family},
#include "calls.def"
};

static const char note_prefix[] = "ptm_note_";

/* raw_io_entry: the table's entry for a link name, or NULL.  A linear scan:
** it runs once per function of the module (and per alias called).  A
** note, ptm_note_<name> (a note row of calls.def, which host code calls in
** place of name), makes the real call: it is what name is.  A mirror never
** calls a note itself (emit.c), but it may reach host code of a file
** without transactions, where the calls went to their notes. */
static const RawIo *raw_io_entry(const char *name)
{
    if (strncmp(name, note_prefix, sizeof note_prefix - 1) == 0 &&
        call_is_noted(name + sizeof note_prefix - 1))
        name += sizeof note_prefix - 1;
    for (size_t i = 0; i < sizeof raw_io / sizeof *raw_io; i++)
        if (strcmp(raw_io[i].name, name) == 0)
            return strcmp(raw_io[i].family, "none") == 0 ? NULL : &raw_io[i];
    return NULL;
}

static bool has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* ---------------------------------------------------------------------
** Compiling to bitcode
*/

/* A list of strings, NULL-terminated for posix_spawn. */
typedef struct Words {
    char **v;
    int n;
} Words;

static void words_push(Words *w, const char *s)
{
    w->v = xrealloc(w->v, sizeof *w->v * (size_t)(w->n + 2));
    w->v[w->n++] = xstrdup(s);
    w->v[w->n] = NULL;
}

static void words_free(Words *w)
{
    for (int i = 0; i < w->n; i++)
        free(w->v[i]);
    free(w->v);
    *w = (Words){0};
}

/* drops_output: the user's options that name or select outputs; ours are
** different (bitcode into a temporary directory).  *with_value: the option
** takes the next argument. */
static bool drops_output(const char *a, bool *with_value)
{
    static const char *const valued[] = {"-o", "-MF", "-MT", "-MQ", "-x",
                                         "-dependency-file", "-serialize-diagnostics"};
    static const char *const plain[] = {"-c", "-S", "-E", "-M", "-MM", "-MD", "-MMD", "-MP",
                                        "-MG", "-fsyntax-only", "-emit-llvm", "-save-temps",
                                        "-v", "-###", "-pipe"};
    *with_value = false;
    for (size_t i = 0; i < sizeof valued / sizeof *valued; i++)
        if (strcmp(a, valued[i]) == 0)
            return *with_value = true;
    for (size_t i = 0; i < sizeof plain / sizeof *plain; i++)
        if (strcmp(a, plain[i]) == 0)
            return true;
    /* -Wp,-MD,file: kbuild's dependency file, the backend's to write. */
    return (a[1] == 'o' && a[2]) || strncmp(a, "-MF", 3) == 0 || strncmp(a, "-MT", 3) == 0 ||
           strncmp(a, "-MQ", 3) == 0 || (a[1] == 'x' && a[2]) ||
           strncmp(a, "-save-temps=", 12) == 0 || strncmp(a, "-Wp,-MD,", 8) == 0 ||
           strncmp(a, "-Wp,-MMD,", 9) == 0;
}

/* A source to compile and where its bitcode goes. */
typedef struct Source {
    const char *path;
    bool force_c;        /* -x c was in effect: the name may not say .c */
    char *bitcode;
} Source;

/* split_job: the flags every bitcode compile shares and the C sources of
** the job.  The backend words of job->backend (the compiler, possibly
** behind a wrapper like ccache) are skipped: bitcode needs clang-19. */
static void split_job(const VerifyJob *job, Words *flags, Source **src, int *nsrc)
{
    int i = 0;
    while (i < job->nbackend && job->backend[i][0] != '-')
        i++;
    for (; i < job->nbackend; i++)
        words_push(flags, job->backend[i]);
    /* -O0 first: the user's -O, later on the line, wins for the
    ** preprocessor; the passes are off either way. */
    words_push(flags, "-O0");
    const char *lang = NULL;
    for (i = 0; i < job->nargs; i++) {
        const char *a = job->args[i];
        bool valued;
        if (a[0] == '-' && a[1]) {
            bool takes = job->takes_value && job->takes_value(a) && i + 1 < job->nargs;
            if (strcmp(a, "-x") == 0 && i + 1 < job->nargs)
                lang = job->args[i + 1];
            else if (strncmp(a, "-x", 2) == 0 && a[2])
                lang = a + 2;
            if (drops_output(a, &valued)) {
                i += valued && i + 1 < job->nargs;
                continue;
            }
            words_push(flags, a);
            if (takes)
                words_push(flags, job->args[++i]);
            continue;
        }
        bool by_lang = lang && strcmp(lang, "none") != 0;
        if (strcmp(a, "-") == 0 || (by_lang ? strcmp(lang, "c") != 0 : !has_suffix(a, ".c")))
            continue; /* stdin (never rewritten), objects, libraries, other languages */
        *src = xrealloc(*src, sizeof **src * (size_t)(*nsrc + 1));
        (*src)[(*nsrc)++] = (Source){a, by_lang, NULL};
    }
    /* Positions for the diagnostics; warnings are the backend's to give. */
    static const char *const ours[] = {"-gline-tables-only", "-Xclang", "-disable-llvm-passes",
                                       "-w", "-Qunused-arguments", "-c", "-emit-llvm"};
    for (size_t k = 0; k < sizeof ours / sizeof *ours; k++)
        words_push(flags, ours[k]);
}

static pid_t spawn(const Words *cmd, bool verbose)
{
    if (verbose) {
        for (int i = 0; i < cmd->n; i++)
            fprintf(stderr, "%s%s", i ? " " : "", cmd->v[i]);
        fputc('\n', stderr);
    }
    pid_t pid;
    int rc = posix_spawnp(&pid, cmd->v[0], NULL, NULL, cmd->v, environ);
    if (rc != 0) {
        error_plain("cannot run '%s': %s", cmd->v[0], strerror(rc));
        return -1;
    }
    return pid;
}

/* reap: waits for pid; true when it exited with status 0. */
static bool reap(pid_t pid)
{
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return false;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/* compile_all: runs the bitcode compiles, as many at a time as there are
** processors, and waits for all of them.  clang's own errors reach the
** user's stderr.  Returns false when one failed. */
static bool compile_all(const Words *flags, Source *src, int nsrc, bool verbose)
{
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    int width = ncpu > 0 ? (int)ncpu : 1;
    pid_t *pids = xcalloc((size_t)nsrc + 1, sizeof *pids);
    bool ok = true;
    int next_wait = 0;
    for (int i = 0; i < nsrc; i++) {
        if (i - next_wait >= width) {
            ok = (pids[next_wait] < 0 || reap(pids[next_wait])) && ok;
            next_wait++;
        }
        Words cmd = {0};
        words_push(&cmd, PTM_VERIFY_CLANG);
        for (int k = 0; k < flags->n; k++)
            words_push(&cmd, flags->v[k]);
        if (src[i].force_c) {
            words_push(&cmd, "-x");
            words_push(&cmd, "c");
        }
        words_push(&cmd, src[i].path);
        words_push(&cmd, "-o");
        words_push(&cmd, src[i].bitcode);
        pids[i] = spawn(&cmd, verbose);
        ok = pids[i] >= 0 && ok;
        words_free(&cmd);
    }
    for (; next_wait < nsrc; next_wait++)
        ok = (pids[next_wait] < 0 || reap(pids[next_wait])) && ok;
    if (!ok)
        error_plain("--verify-mirror: cannot compile the sources to LLVM bitcode");
    free(pids);
    return ok;
}

/* ---------------------------------------------------------------------
** Loading and linking the bitcode
*/

/* LLVM reports bitcode and link errors through the context; without a
** handler it prints them and exits.  The handler keeps the first error. */
static void on_llvm_diagnostic(LLVMDiagnosticInfoRef di, void *ctx)
{
    char **first = ctx;
    if (LLVMGetDiagInfoSeverity(di) != LLVMDSError || *first)
        return;
    char *msg = LLVMGetDiagInfoDescription(di);
    *first = xstrdup(msg);
    LLVMDisposeMessage(msg);
}

static LLVMModuleRef load_module(LLVMContextRef ctx, const char *path, char **why)
{
    LLVMMemoryBufferRef buf;
    char *msg = NULL;
    if (LLVMCreateMemoryBufferWithContentsOfFile(path, &buf, &msg)) {
        error_plain("--verify-mirror: cannot read '%s': %s", path, msg ? msg : "?");
        LLVMDisposeMessage(msg);
        return NULL;
    }
    LLVMModuleRef m = NULL;
    if (LLVMParseBitcodeInContext2(ctx, buf, &m)) {
        error_plain("--verify-mirror: '%s' is not valid bitcode: %s", path,
                    *why ? *why : "unknown error");
        m = NULL;
    }
    LLVMDisposeMemoryBuffer(buf);
    return m;
}

/* is_strong_definition: a definition another file may not repeat. */
static bool is_strong_definition(LLVMValueRef g)
{
    return !LLVMIsDeclaration(g) && LLVMGetLinkage(g) == LLVMExternalLinkage;
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A file's bitcode and the names it defines for good, sorted. */
typedef struct Unitbc {
    LLVMModuleRef mod;   /* NULL once linked into a group */
    char **defs;
    int ndefs;
} Unitbc;

static void add_def(Unitbc *u, LLVMValueRef g)
{
    size_t len;
    if (!is_strong_definition(g))
        return;
    u->defs = xrealloc(u->defs, sizeof *u->defs * (size_t)(u->ndefs + 1));
    u->defs[u->ndefs++] = xstrdup(LLVMGetValueName2(g, &len));
}

static void collect_defs(Unitbc *u)
{
    for (LLVMValueRef f = LLVMGetFirstFunction(u->mod); f; f = LLVMGetNextFunction(f))
        add_def(u, f);
    for (LLVMValueRef v = LLVMGetFirstGlobal(u->mod); v; v = LLVMGetNextGlobal(v))
        add_def(u, v);
    if (u->ndefs)
        qsort(u->defs, (size_t)u->ndefs, sizeof *u->defs, compare_names);
}

/* clash: a name both files define (two programs' main), or NULL. */
static const char *clash(const Unitbc *a, const Unitbc *b)
{
    for (int i = 0, j = 0; i < a->ndefs && j < b->ndefs;) {
        int c = strcmp(a->defs[i], b->defs[j]);
        if (c == 0)
            return a->defs[i];
        if (c < 0)
            i++;
        else
            j++;
    }
    return NULL;
}

/* Sets of files checked together: each is linked into one module. */
typedef struct Groups {
    bool *member;        /* ngroups x nfiles */
    int n, nfiles;
} Groups;

static bool fits(const Groups *gs, const Unitbc *u, int g, int file)
{
    for (int k = 0; k < gs->nfiles; k++)
        if (gs->member[g * gs->nfiles + k] && clash(&u[k], &u[file]))
            return false;
    return true;
}

/* make_groups: every file joins each group it fits in (no name defined
** twice); one that fits none starts a group, which the files before it
** join when they fit.  `ptmcc -c a.c b.c lib.c` may hold two programs: a
** and b are checked apart, each with lib. */
static void make_groups(Groups *gs, const Unitbc *u, int n, const char *const *names,
                        bool verbose)
{
    *gs = (Groups){.nfiles = n};
    for (int i = 0; i < n; i++) {
        bool joined = false;
        for (int g = 0; g < gs->n; g++)
            if (fits(gs, u, g, i))
                joined = gs->member[g * n + i] = true;
        if (joined)
            continue;
        if (verbose && gs->n)
            fprintf(stderr, "ptmcc: --verify-mirror: '%s' repeats a definition: checked apart\n",
                    names[i]);
        gs->member = xrealloc(gs->member, sizeof *gs->member * (size_t)((gs->n + 1) * n));
        memset(gs->member + gs->n * n, 0, sizeof *gs->member * (size_t)n);
        gs->member[gs->n * n + i] = true;
        for (int k = 0; k < i; k++)
            if (fits(gs, u, gs->n, k))
                gs->member[gs->n * n + k] = true;
        gs->n++;
    }
}

/* link_group: one module of group g's files; a file already linked into
** another group is read again (linking consumes a module).  NULL after an
** error. */
static LLVMModuleRef link_group(LLVMContextRef ctx, const Groups *gs, int g, Unitbc *u,
                                const char *const *paths, const char *const *names, char **why)
{
    LLVMModuleRef all = NULL;
    for (int k = 0; k < gs->nfiles; k++) {
        if (!gs->member[g * gs->nfiles + k])
            continue;
        LLVMModuleRef m = u[k].mod ? u[k].mod : load_module(ctx, paths[k], why);
        u[k].mod = NULL;
        if (!m)
            break;
        if (!all) {
            all = m;
            continue;
        }
        /* Links m into all and destroys m, failed or not. */
        if (LLVMLinkModules2(all, m)) {
            error_plain("--verify-mirror: cannot link '%s' with the files before it: %s",
                        names[k], *why ? *why : "unknown error");
            LLVMDisposeModule(all);
            return NULL;
        }
    }
    return all;
}

/* ---------------------------------------------------------------------
** The call graph
*/
typedef enum {
    SITE_CALL,     /* a direct call of node callee */
    SITE_RAW,      /* a direct call of a raw I/O symbol (name) */
    SITE_POINTER,  /* a call through a pointer */
    SITE_ASM,      /* inline assembly */
    SITE_CALLBACK, /* function callee handed to external function name,
                      which may call it: followed like a call */
} SiteKind;

typedef struct Site {
    SiteKind kind;
    LLVMValueRef inst;
    int callee;          /* SITE_CALL, SITE_CALLBACK: a node */
    const char *name;    /* SITE_RAW: the symbol; SITE_CALLBACK: the receiver;
                            SITE_CALL: the alias called, or NULL */
} Site;

/* is_edge: whether a site leads to another function of the graph. */
static bool is_edge(const Site *s)
{
    return s->kind == SITE_CALL || s->kind == SITE_CALLBACK;
}

typedef struct GNode {
    LLVMValueRef fn;
    const char *name;    /* owned by LLVM */
    bool defined;        /* has a body we analyse (not available_externally) */
    bool address_taken;  /* may be the target of a call through a pointer */
    const RawIo *raw;    /* its raw I/O entry, or NULL */
    Site *sites;
    int nsites;
    /* The forward search from the mirrors */
    bool seen;
    int parent;          /* the node that called it first (-1: a root) */
    int parent_site;     /* index in the parent's sites of that call */
    int root;
    /* The backward search from raw I/O: the shortest way down to it */
    int down;            /* next node (-1: a raw call of its own is next) */
    int down_site;       /* index in sites of the step */
} GNode;

typedef struct Graph {
    LLVMModuleRef mod;
    GNode *nodes;
    int n;
    LLVMValueRef *keys;  /* open addressing: function -> index in vals */
    int *vals;
    size_t cap;
    bool down_done;
} Graph;

static size_t hash_ptr(const void *p)
{
    uintptr_t x = (uintptr_t)p;
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    return (size_t)x;
}

static void map_put(Graph *g, LLVMValueRef fn, int idx)
{
    size_t i = hash_ptr(fn) & (g->cap - 1);
    while (g->keys[i])
        i = (i + 1) & (g->cap - 1);
    g->keys[i] = fn;
    g->vals[i] = idx;
}

/* node_of: the node of function fn, or -1 if fn is not a function of the
** module. */
static int node_of(const Graph *g, LLVMValueRef fn)
{
    for (size_t i = hash_ptr(fn) & (g->cap - 1); g->keys[i]; i = (i + 1) & (g->cap - 1))
        if (g->keys[i] == fn)
            return g->vals[i];
    return -1;
}

/* add_nodes: one node per function of the module. */
static void add_nodes(Graph *g)
{
    int n = 0;
    for (LLVMValueRef f = LLVMGetFirstFunction(g->mod); f; f = LLVMGetNextFunction(f))
        n++;
    g->nodes = xcalloc((size_t)n + 1, sizeof *g->nodes);
    g->cap = 16;
    while (g->cap < (size_t)n * 2)
        g->cap *= 2;
    g->keys = xcalloc(g->cap, sizeof *g->keys);
    g->vals = xcalloc(g->cap, sizeof *g->vals);
    for (LLVMValueRef f = LLVMGetFirstFunction(g->mod); f; f = LLVMGetNextFunction(f)) {
        size_t len;
        GNode *v = &g->nodes[g->n];
        v->fn = f;
        v->name = LLVMGetValueName2(f, &len);
        /* available_externally: a header's copy of a library function
        ** (glibc's fortify wrappers); the library's is what runs. */
        v->defined = !LLVMIsDeclaration(f) &&
                     LLVMGetLinkage(f) != LLVMAvailableExternallyLinkage;
        v->raw = raw_io_entry(v->name);
        v->parent = v->parent_site = v->root = v->down = v->down_site = -1;
        map_put(g, f, g->n++);
    }
}

/* callee_function: the function a called operand names, through aliases;
** NULL for anything else (a pointer).  OUT: *alias_name, the name the call
** used when it went through an alias. */
static LLVMValueRef callee_function(LLVMValueRef callee, const char **alias_name)
{
    *alias_name = NULL;
    for (int depth = 0; callee && LLVMIsAGlobalAlias(callee) && depth < 16; depth++) {
        size_t len;
        if (!*alias_name)
            *alias_name = LLVMGetValueName2(callee, &len);
        callee = LLVMAliasGetAliasee(callee);
    }
    return callee && LLVMIsAFunction(callee) ? callee : NULL;
}

static void add_site(GNode *v, Site s)
{
    v->sites = xrealloc(v->sites, sizeof *v->sites * (size_t)(v->nsites + 1));
    v->sites[v->nsites++] = s;
}

/* add_callback: a site for value arg of call inst when it names a
** function. */
static void add_callback(const Graph *g, GNode *v, LLVMValueRef inst, LLVMValueRef arg,
                         const char *receiver)
{
    const char *alias;
    LLVMValueRef fn = callee_function(arg, &alias);
    int w = fn ? node_of(g, fn) : -1;
    if (w >= 0)
        add_site(v, (Site){SITE_CALLBACK, inst, w, receiver});
}

/* add_callbacks: functions passed as arguments of call inst to external
** code, which may call them; the search takes them as called.  An argument
** `c ? f : g` is a phi or a select of functions at -O0; pointers loaded
** from memory are not followed (their targets are address-taken, and a
** call through them in code with bitcode is a warning). */
static void add_callbacks(const Graph *g, GNode *v, LLVMValueRef inst, const char *receiver)
{
    unsigned nargs = LLVMGetNumArgOperands(inst);
    for (unsigned i = 0; i < nargs; i++) {
        LLVMValueRef arg = LLVMGetOperand(inst, i);
        if (LLVMIsAPHINode(arg)) {
            for (unsigned k = 0; k < LLVMCountIncoming(arg); k++)
                add_callback(g, v, inst, LLVMGetIncomingValue(arg, k), receiver);
        } else if (LLVMIsASelectInst(arg)) {
            add_callback(g, v, inst, LLVMGetOperand(arg, 1), receiver);
            add_callback(g, v, inst, LLVMGetOperand(arg, 2), receiver);
        } else {
            add_callback(g, v, inst, arg, receiver);
        }
    }
}

/* classify_call: the site of one call instruction of node v. */
static void classify_call(Graph *g, GNode *v, LLVMValueRef inst)
{
    LLVMValueRef called = LLVMGetCalledValue(inst);
    if (called && LLVMIsAInlineAsm(called)) {
        add_site(v, (Site){SITE_ASM, inst, -1, NULL});
        return;
    }
    const char *alias;
    LLVMValueRef fn = callee_function(called, &alias);
    if (!fn) {
        add_site(v, (Site){SITE_POINTER, inst, -1, NULL});
        return;
    }
    if (LLVMGetIntrinsicID(fn))
        return; /* llvm.memcpy, llvm.dbg.*: no I/O */
    int w = node_of(g, fn);
    const char *name = alias ? alias : g->nodes[w].name;
    const RawIo *raw = alias ? raw_io_entry(alias) : g->nodes[w].raw;
    /* A user's own function named like libc's (a static `error`) has a
    ** body to analyse; only libc's is raw. */
    if (raw && (alias || !g->nodes[w].defined)) {
        add_site(v, (Site){SITE_RAW, inst, w, name});
        return;
    }
    if (strncmp(name, shim_prefix, sizeof shim_prefix - 1) == 0)
        return; /* the shims are the way out */
    add_site(v, (Site){SITE_CALL, inst, w, alias});
    if (!g->nodes[w].defined)
        add_callbacks(g, v, inst, name);
}

static bool is_call(LLVMValueRef inst)
{
    return LLVMIsACallInst(inst) || LLVMIsAInvokeInst(inst) || LLVMIsACallBrInst(inst);
}

/* add_sites: the calls in the body of node v. */
static void add_sites(Graph *g, GNode *v)
{
    for (LLVMBasicBlockRef bb = LLVMGetFirstBasicBlock(v->fn); bb; bb = LLVMGetNextBasicBlock(bb))
        for (LLVMValueRef i = LLVMGetFirstInstruction(bb); i; i = LLVMGetNextInstruction(i))
            if (is_call(i))
                classify_call(g, v, i);
}

/* used_only_as_callee: whether every use of fn calls it.  Any other use
** (stored, passed, in an initializer) may end in a call through a
** pointer. */
static bool used_only_as_callee(LLVMValueRef fn)
{
    for (LLVMUseRef u = LLVMGetFirstUse(fn); u; u = LLVMGetNextUse(u)) {
        LLVMValueRef user = LLVMGetUser(u);
        if (!is_call(user) || LLVMGetCalledValue(user) != fn)
            return false;
        unsigned nargs = LLVMGetNumArgOperands(user);
        for (unsigned i = 0; i < nargs; i++)
            if (LLVMGetOperand(user, i) == fn)
                return false;
    }
    return true;
}

static void graph_build(Graph *g, LLVMModuleRef mod)
{
    *g = (Graph){.mod = mod};
    add_nodes(g);
    for (int i = 0; i < g->n; i++) {
        GNode *v = &g->nodes[i];
        if (!v->defined)
            continue;
        add_sites(g, v);
        v->address_taken = !used_only_as_callee(v->fn);
    }
}

static void graph_free(Graph *g)
{
    for (int i = 0; i < g->n; i++)
        free(g->nodes[i].sites);
    free(g->nodes);
    free(g->keys);
    free(g->vals);
    *g = (Graph){0};
}

/* ---------------------------------------------------------------------
** Reporting
*/

/* offset_of: the byte offset of 1-based line:col in f. */
static bool offset_of(const SrcFile *f, unsigned line, unsigned col, size_t *off)
{
    size_t o = 0;
    for (unsigned l = 1; l < line; l++) {
        const char *nl = memchr(f->text + o, '\n', f->len - o);
        if (!nl)
            return false;
        o = (size_t)(nl - f->text) + 1;
    }
    *off = o + (col ? col - 1 : 0);
    return *off <= f->len;
}

static bool is_ident_char(char c, bool first)
{
    return c == '_' || isalpha((unsigned char)c) || (!first && isdigit((unsigned char)c));
}

/* A position from debug info. */
typedef struct Pos {
    char *file;          /* as the line tables name it (#line keeps the
                            user's names); NULL: unknown */
    unsigned line, col;
    SrcLoc loc;          /* loaded, for the source line and caret */
    size_t len;          /* of the identifier there */
} Pos;

static char *debug_string(const char *s, unsigned len)
{
    return s && len ? xstrndup(s, len) : NULL;
}

/* pos_of: where instruction (or function) val is in the user's sources. */
static Pos pos_of(LLVMValueRef val)
{
    Pos p = {0};
    unsigned len = 0, dlen = 0;
    p.line = LLVMGetDebugLocLine(val);
    if (!p.line)
        return p;
    const char *name = LLVMGetDebugLocFilename(val, &len); /* sets len */
    p.file = debug_string(name, len);
    if (!p.file)
        return p;
    if (LLVMIsAInstruction(val))
        p.col = LLVMGetDebugLocColumn(val);
    SrcFile *f = src_load(p.file);
    const char *dname = LLVMGetDebugLocDirectory(val, &dlen);
    char *dir = debug_string(dname, dlen);
    if (!f && dir && p.file[0] != '/') {
        char *joined = format("%s/%s", dir, p.file);
        f = src_load(joined);
        free(joined);
    }
    free(dir);
    size_t off;
    if (f && offset_of(f, p.line, p.col, &off)) {
        p.loc = (SrcLoc){f, off};
        /* The caret spans the callee's name when the position starts one
        ** (for an asm statement it may fall inside a keyword). */
        bool starts = off == 0 || !is_ident_char(f->text[off - 1], false);
        while (starts && off + p.len < f->len && is_ident_char(f->text[off + p.len], p.len == 0))
            p.len++;
    }
    return p;
}

/* where: "file:line:col" of p for a message, or "" when unknown. */
static char *where(const Pos *p)
{
    if (!p->file)
        return xstrdup("");
    if (!p->col)
        return format("%s:%u", p->file, p->line);
    return format("%s:%u:%u", p->file, p->line, p->col);
}

typedef enum { SEV_ERROR, SEV_WARNING, SEV_NOTE } Severity;

/* say: one diagnostic at val's position; without a loadable source it
** still names the position, in the message. */
static void say(Severity sev, LLVMValueRef val, const char *msg)
{
    Pos p = pos_of(val);
    if (p.loc.file) {
        if (sev == SEV_ERROR)
            error_at(p.loc, p.len, "%s", msg);
        else if (sev == SEV_WARNING)
            warning_at(W_UNVERIFIABLE, p.loc, p.len, "%s", msg);
        else
            note_at(p.loc, p.len, "%s", msg);
    } else {
        char *at = where(&p);
        const char *sep = *at ? ": " : "";
        if (sev == SEV_ERROR)
            error_plain("%s%s%s", at, sep, msg);
        else if (sev == SEV_WARNING)
            warning_at(W_UNVERIFIABLE, (SrcLoc){0}, 0, "%s%s%s", at, sep, msg);
        else
            note_at((SrcLoc){0}, 0, "%s%s%s", at, sep, msg);
        free(at);
    }
    free(p.file);
}

/* transaction_of: the name a mirror root's diagnostics use ('transfer' for
** transfer__ptm_mirror). */
static char *transaction_of(const GNode *root)
{
    return xstrndup(root->name, strlen(root->name) - (sizeof mirror_suffix - 1));
}

/* put_step: " -> to" for one call of a chain, naming what is between:
** the external function a callback is handed to, or the alias called. */
static void put_step(Buf *b, const Site *step, const GNode *to)
{
    if (step->kind == SITE_CALLBACK)
        buf_printf(b, " -> %s", step->name);
    if (step->kind == SITE_CALL && step->name)
        buf_printf(b, " -> %s (alias of %s)", step->name, to->name);
    else
        buf_printf(b, " -> %s", to->name);
}

/* chain_to: "root -> ... -> v" along the first calls that reached v. */
static void chain_to(const Graph *g, int v, Buf *b)
{
    int depth = 0;
    for (int u = v; u >= 0; u = g->nodes[u].parent)
        depth++;
    int *path = xcalloc((size_t)depth, sizeof *path);
    int k = depth;
    for (int u = v; u >= 0; u = g->nodes[u].parent)
        path[--k] = u;
    buf_puts(b, g->nodes[path[0]].name);
    for (int i = 1; i < depth; i++) {
        const GNode *to = &g->nodes[path[i]];
        put_step(b, &g->nodes[path[i - 1]].sites[to->parent_site], to);
    }
    free(path);
}

/* ---------------------------------------------------------------------
** Where raw I/O can be reached from: a breadth-first search backwards
** from every raw call, so each function knows its shortest way down.
** Only the warnings' notes need it; it runs once, on demand.
*/
static void find_ways_down(Graph *g)
{
    if (g->down_done)
        return;
    g->down_done = true;
    /* callers[]: reverse edges in one array, sliced by first[]. */
    int *first = xcalloc((size_t)g->n + 1, sizeof *first);
    for (int u = 0; u < g->n; u++)
        for (int s = 0; s < g->nodes[u].nsites; s++)
            if (is_edge(&g->nodes[u].sites[s]))
                first[g->nodes[u].sites[s].callee + 1]++;
    for (int v = 0; v < g->n; v++)
        first[v + 1] += first[v];
    int *fill = xcalloc((size_t)g->n + 1, sizeof *fill);
    int *callers = xcalloc((size_t)first[g->n] + 1, sizeof *callers);
    int *via = xcalloc((size_t)first[g->n] + 1, sizeof *via);
    int *queue = xcalloc((size_t)g->n + 1, sizeof *queue);
    int head = 0, tail = 0;
    for (int u = 0; u < g->n; u++) {
        GNode *v = &g->nodes[u];
        for (int s = 0; s < v->nsites; s++) {
            Site *st = &v->sites[s];
            if (is_edge(st)) {
                int slot = first[st->callee] + fill[st->callee]++;
                callers[slot] = u;
                via[slot] = s;
            } else if (st->kind == SITE_RAW && v->down_site < 0) {
                v->down_site = s;
                queue[tail++] = u;
            }
        }
    }
    while (head < tail) {
        int v = queue[head++];
        for (int k = first[v]; k < first[v + 1]; k++) {
            GNode *u = &g->nodes[callers[k]];
            if (u->down_site >= 0)
                continue;
            u->down = v;
            u->down_site = via[k];
            queue[tail++] = callers[k];
        }
    }
    free(first);
    free(fill);
    free(callers);
    free(via);
    free(queue);
}

/* note_way_down: a note at the raw call that v reaches, naming the chain,
** when it reaches one.  what: how v comes in ("'cb', which the pointer may
** hold,"). */
static bool note_way_down(Graph *g, int v, const char *what)
{
    find_ways_down(g);
    if (g->nodes[v].down_site < 0)
        return false;
    Buf b = {0};
    int u = v;
    buf_puts(&b, g->nodes[u].name);
    while (g->nodes[u].down >= 0) {
        const Site *step = &g->nodes[u].sites[g->nodes[u].down_site];
        u = g->nodes[u].down;
        put_step(&b, step, &g->nodes[u]);
    }
    const Site *raw = &g->nodes[u].sites[g->nodes[u].down_site];
    buf_printf(&b, " -> %s", raw->name);
    char *msg = format("%s reaches '%s' through %s", what, raw->name, b.data);
    say(SEV_NOTE, raw->inst, msg);
    free(msg);
    buf_free(&b);
    return true;
}

/* note_spelling: when the raw call is written under another name (the
** source rewrite saw that name, not the symbol), a note saying so. */
static void note_spelling(const Site *s)
{
    Pos p = pos_of(s->inst);
    char *spelled = p.len ? xstrndup(p.loc.file->text + p.loc.off, p.len) : NULL;
    if (spelled && strcmp(spelled, s->name) != 0) {
        char *why = strcmp(raw_io_entry(s->name)->family, "fortify") == 0
                        ? format("'%s' is what _FORTIFY_SOURCE makes of this call", s->name)
                        : format("'%s' here is the symbol '%s' (an asm label or a macro)",
                                 spelled, s->name);
        say(SEV_NOTE, s->inst, why);
        free(why);
    }
    free(spelled);
    free(p.file);
}

/* note_pointer_targets: for a call through a pointer, the functions of
** its type whose address is taken and which reach raw I/O (at most a
** few).  PTM's own generated functions are left out: only its descriptors
** take their addresses. */
static void note_pointer_targets(Graph *g, LLVMValueRef inst)
{
    LLVMTypeRef type = LLVMGetCalledFunctionType(inst);
    int shown = 0, more = 0;
    for (int w = 0; w < g->n; w++) {
        GNode *t = &g->nodes[w];
        if (!t->defined || !t->address_taken || LLVMGlobalGetValueType(t->fn) != type ||
            strstr(t->name, "__ptm_"))
            continue;
        if (shown == 3) {
            find_ways_down(g);
            more += t->down_site >= 0;
            continue;
        }
        char *what = format("'%s', which the pointer may hold,", t->name);
        shown += note_way_down(g, w, what);
        free(what);
    }
    if (more) {
        char *msg = format("and %d more function%s of this type", more, more == 1 ? "" : "s");
        say(SEV_NOTE, inst, msg);
        free(msg);
    }
}

/* ---------------------------------------------------------------------
** The search from the mirrors
*/
typedef struct Census {
    int transactions;    /* mirrors with a primary: the searches' roots */
    int mirrors;         /* functions named *__ptm_mirror reached */
    int reached;         /* functions reached, mirrors included */
    int errors, warnings;
} Census;

/* site_message: the diagnostic's text for a raw call, a call through a
** pointer or inline assembly in reached node u. */
static char *site_message(const Graph *g, int u, const Site *s)
{
    char *tx = transaction_of(&g->nodes[g->nodes[u].root]);
    Buf chain = {0};
    chain_to(g, u, &chain);
    char *msg;
    if (s->kind == SITE_RAW)
        msg = format("mirror of '%s' reaches '%s' through %s -> %s", tx, s->name, chain.data,
                     s->name);
    else
        msg = format("cannot verify the %s in the mirror of '%s' (%s)",
                     s->kind == SITE_ASM ? "inline assembly" : "call through a pointer", tx,
                     chain.data);
    free(tx);
    buf_free(&chain);
    return msg;
}

/* report_site: the diagnostic for one site of reached node u, if it needs
** one: an error for raw I/O, a warning for what cannot be judged. */
static void report_site(Graph *g, int u, const Site *s, Census *c)
{
    if (is_edge(s))
        return;
    char *msg = site_message(g, u, s);
    if (s->kind == SITE_RAW) {
        say(SEV_ERROR, s->inst, msg);
        c->errors++;
        note_spelling(s);
    } else {
        say(SEV_WARNING, s->inst, msg);
        c->warnings++;
        if (s->kind == SITE_POINTER)
            note_pointer_targets(g, s->inst);
    }
    free(msg);
}

/* is_transaction_mirror: whether root is a transaction's own mirror (it
** has a primary), not the clone of a function a mirror calls. */
static bool is_transaction_mirror(const Graph *g, const GNode *root)
{
    char *tx = transaction_of(root);
    char *primary = format("%s__ptm_primary", tx);
    bool yes = LLVMGetNamedFunction(g->mod, primary) != NULL;
    free(primary);
    free(tx);
    return yes;
}

/* search_from: the breadth-first search from root r over direct calls,
** reporting the sites of every function it reaches first. */
static void search_from(Graph *g, int r, int *queue, Census *c)
{
    int head = 0, tail = 0;
    g->nodes[r].seen = true;
    g->nodes[r].root = r;
    queue[tail++] = r;
    c->transactions += is_transaction_mirror(g, &g->nodes[r]);
    while (head < tail) {
        int u = queue[head++];
        c->reached++;
        c->mirrors += has_suffix(g->nodes[u].name, mirror_suffix);
        for (int s = 0; s < g->nodes[u].nsites; s++) {
            const Site *st = &g->nodes[u].sites[s];
            report_site(g, u, st, c);
            if (!is_edge(st) || !g->nodes[st->callee].defined)
                continue;
            GNode *w = &g->nodes[st->callee];
            if (w->seen)
                continue;
            w->seen = true;
            w->parent = u;
            w->parent_site = s;
            w->root = r;
            queue[tail++] = st->callee;
        }
    }
}

/* search: every mirror root, transactions' own first. */
static void search(Graph *g, Census *c)
{
    int *queue = xcalloc((size_t)g->n + 1, sizeof *queue);
    for (int pass = 0; pass < 2; pass++)
        for (int r = 0; r < g->n; r++) {
            GNode *v = &g->nodes[r];
            if (!v->defined || v->seen || !has_suffix(v->name, mirror_suffix) ||
                strlen(v->name) == sizeof mirror_suffix - 1)
                continue;
            if (is_transaction_mirror(g, v) == (pass == 0))
                search_from(g, r, queue, c);
        }
    free(queue);
}

/* ---------------------------------------------------------------------
** Entry points
*/

static const char *plural(int n)
{
    return n == 1 ? "" : "s";
}

/* check_module: the search on one linked module.  Returns the errors. */
static int check_module(LLVMModuleRef mod, bool verbose)
{
    Census c = {0};
    Graph g;
    graph_build(&g, mod);
    search(&g, &c);
    if (verbose && !c.errors)
        fprintf(stderr,
                "ptmcc: --verify-mirror: %d transaction%s, %d mirror function%s, "
                "%d function%s reached: no raw I/O (%d warning%s)\n",
                c.transactions, plural(c.transactions), c.mirrors, plural(c.mirrors), c.reached,
                plural(c.reached), c.warnings, plural(c.warnings));
    graph_free(&g);
    return c.errors;
}

/* verify_bitcode: links the bitcode files and checks their mirrors. */
bool verify_bitcode(const char *const *paths, const char *const *names, int n, bool verbose)
{
    names = names ? names : paths;
    LLVMContextRef ctx = LLVMContextCreate();
    char *why = NULL;
    LLVMContextSetDiagnosticHandler(ctx, on_llvm_diagnostic, &why);
    /* Local names are not needed and cost time to keep. */
    LLVMContextSetDiscardValueNames(ctx, 1);
    Unitbc *u = xcalloc((size_t)n + 1, sizeof *u);
    bool ok = true;
    for (int i = 0; ok && i < n; i++) {
        u[i].mod = load_module(ctx, paths[i], &why);
        ok = u[i].mod != NULL;
        if (ok)
            collect_defs(&u[i]);
    }
    Groups gs = {0};
    if (ok)
        make_groups(&gs, u, n, names, verbose);
    /* Every group is checked, so that all errors are shown at once. */
    for (int g = 0, errors = 0; ok && g < gs.n; g++) {
        LLVMModuleRef mod = link_group(ctx, &gs, g, u, paths, names, &why);
        if (mod)
            errors += check_module(mod, verbose);
        ok = mod && (g + 1 < gs.n || errors == 0);
        if (mod)
            LLVMDisposeModule(mod);
    }
    for (int i = 0; i < n; i++) {
        if (u[i].mod)
            LLVMDisposeModule(u[i].mod);
        for (int k = 0; k < u[i].ndefs; k++)
            free(u[i].defs[k]);
        free(u[i].defs);
    }
    free(u);
    free(gs.member);
    free(why);
    LLVMContextDispose(ctx);
    return ok;
}

/* A private directory for the bitcode, removed before returning. */
static char *make_tmp_dir(void)
{
    const char *base = getenv("TMPDIR");
    char *templ = format("%s/ptmcc-verify.XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(templ)) {
        error_plain("--verify-mirror: cannot create a temporary directory: %s",
                    strerror(errno));
        free(templ);
        return NULL;
    }
    return templ;
}

/* verify_mirror: compiles the job's C sources to bitcode and checks them
** together. */
bool verify_mirror(const VerifyJob *job)
{
    Words flags = {0};
    Source *src = NULL;
    int nsrc = 0;
    split_job(job, &flags, &src, &nsrc);
    bool ok = true;
    char *dir = nsrc ? make_tmp_dir() : NULL;
    if (nsrc && !dir)
        ok = false;
    if (dir) {
        const char **bc = xcalloc((size_t)nsrc, sizeof *bc);
        const char **names = xcalloc((size_t)nsrc, sizeof *names);
        for (int i = 0; i < nsrc; i++) {
            const char *base = strrchr(src[i].path, '/');
            src[i].bitcode = format("%s/%d-%s.bc", dir, i, base ? base + 1 : src[i].path);
            bc[i] = src[i].bitcode;
            names[i] = src[i].path;
        }
        ok = compile_all(&flags, src, nsrc, job->verbose) &&
             verify_bitcode(bc, names, nsrc, job->verbose);
        for (int i = 0; i < nsrc; i++) {
            unlink(src[i].bitcode);
            free(src[i].bitcode);
        }
        rmdir(dir);
        free(bc);
        free(names);
        free(dir);
    }
    free(src);
    words_free(&flags);
    return ok;
}
