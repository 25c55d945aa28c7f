/*
** driver.c - ptmcc, a compiler driver in the spirit of ccache: it takes cc
** arguments, rewrites the C sources that hold transactions, and runs the
** backend compiler ($PTM_CC, default clang-19) on the result with the same
** arguments.  Sources without an annotation reach the backend untouched,
** and cost no libclang: the front end is called only through front()
** (front_load.c), which loads it for the first unit that needs a parse;
** when linking, libptm and its dependencies are added.
**
**   ptmcc [cc flags] -c x.c -o x.o
**   ptmcc x.o y.o -o app
**   ptmcc --emit-source x.c -o x.ptm.c     the rewritten C
**   ptmcc --dump-annotations x.c           the parsed metadata, as JSON
**   ptmcc -p build x.c                     x.c as build/compile_commands.json says
**
** A rewritten source is written to a temporary directory (one
** subdirectory per source, so that a/x.c and b/x.c can share a command),
** and everything the backend writes must read as if it had compiled the
** user's file.  With clang, a VFS overlay (-ivfsoverlay) shows the rewritten
** text at the user's path: the command line is the user's, quoted includes
** resolve from the source's directory, and dependency files, -E, -S and
** debug information name the source by themselves.  Other backends (gcc)
** compile the copy: it starts with #line 1 "x.c", -iquote adds the
** source's directory, -fdebug-prefix-map renames it in debug information,
** and text outputs that name it (dependency files, -E and -M output) are
** rewritten to name the user's source.
*/
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ptmcc.h"
#include "ptmcc_config.h"

extern char **environ;

typedef enum { MODE_LINK, MODE_COMPILE, MODE_EMIT, MODE_DUMP, MODE_VERIFY } Mode;

/* What the command line says. */
typedef struct Cmd {
    Args args;          /* the cc arguments, ptmcc's own removed */
    Mode mode;
    bool only_compile;  /* -c -S -E -M -MM -fsyntax-only: no link step */
    bool verbose;
    bool verify_mirror; /* --verify-mirror */
    bool mirror_all;    /* -fptm-mirror-all */
    bool version;       /* --version */
    const char *output; /* -o */
    const char *dep_file; /* -MF, or the file of -Wp,-MD,file */
    bool deps;          /* -MD or -MMD */
    bool phony_deps;    /* -MP */
    bool print_deps;    /* -M or -MM: dependencies are the output */
    bool preprocess;    /* -E */
    bool assembly;      /* -S */
    const char *db_dir; /* -p: the directory of compile_commands.json */
    Args incdirs;       /* the user's include directories, for the scan */
    Args forced;        /* -include files, for the scan */
} Cmd;

/* Options whose value is the next argument. */
static const char *const takes_value[] = {
    "-o", "-I", "-D", "-U", "-include", "-imacros", "-isystem", "-iquote", "-idirafter",
    "-iprefix", "-iwithprefix", "-iwithprefixbefore", "-isysroot", "-MF", "-MT", "-MQ",
    "-x", "-L", "-l", "-Xlinker", "-Xpreprocessor", "-Xassembler", "-Xclang", "-target",
    "-arch", "-T", "-u", "-z", "-aux-info", "--param", "-mllvm", "-dependency-file",
    "-serialize-diagnostics", "-include-pch", "-Xanalyzer", "-MJ", "--output", "--include",
    "--sysroot", "-B", "-F", "-ivfsoverlay", "-iframework", "-isystem-after", "-iwithsysroot",
    "-imultilib", "-e", "--serialize-diagnostics", "-dumpdir", "-dumpbase", "-dumpbase-ext",
    "-Xopenmp-target",
};

static bool option_takes_value(const char *a)
{
    for (size_t i = 0; i < sizeof takes_value / sizeof *takes_value; i++)
        if (strcmp(a, takes_value[i]) == 0)
            return true;
    return false;
}

/* Options that only concern outputs and linking: not given to libclang. */
static bool parse_drops(const char *a, bool *drop_value)
{
    static const char *const with_value[] = {"-o", "--output", "-MF", "-MT", "-MQ", "-MJ", "-L",
                                             "-l", "-Xlinker", "-dependency-file",
                                             "-serialize-diagnostics",
                                             "--serialize-diagnostics", "-T", "-u", "-z", "-e",
                                             "-dumpdir", "-dumpbase", "-dumpbase-ext"};
    static const char *const plain[] = {"-c", "-S", "-E", "-M", "-MM", "-MD", "-MMD", "-MP",
                                        "-MG", "-shared", "-static", "-rdynamic", "-s", "-pie",
                                        "-no-pie", "-v", "-###", "-save-temps", "-pipe",
                                        "-fsyntax-only"};
    *drop_value = false;
    for (size_t i = 0; i < sizeof with_value / sizeof *with_value; i++)
        if (strcmp(a, with_value[i]) == 0)
            return *drop_value = true;
    for (size_t i = 0; i < sizeof plain / sizeof *plain; i++)
        if (strcmp(a, plain[i]) == 0)
            return true;
    return strncmp(a, "-Wl,", 4) == 0 || (strncmp(a, "-l", 2) == 0 && a[2]) ||
           (strncmp(a, "-L", 2) == 0 && a[2]) || strncmp(a, "-MF", 3) == 0 ||
           strncmp(a, "-MT", 3) == 0 || strncmp(a, "-MQ", 3) == 0 || strncmp(a, "-MJ", 3) == 0 ||
           strncmp(a, "-Wp,-M", 6) == 0 || strncmp(a, "-save-temps=", 12) == 0;
}

/* is_c_source: whether input a is C, given the current -x language. */
static bool is_c_source(const char *a, const char *lang)
{
    if (lang && strcmp(lang, "none") != 0)
        return strcmp(lang, "c") == 0;
    size_t n = strlen(a);
    return n > 2 && strcmp(a + n - 2, ".c") == 0;
}

static bool json_diagnostics;

/* finish_diagnostics: ends the diagnostics of a run as clang does, with
** "N errors generated." (or closes the JSON array). */
static void finish_diagnostics(void)
{
    diag_flush();
    int n = diag_error_count();
    if (n && !json_diagnostics)
        fprintf(stderr, "%d error%s generated.\n", n, n == 1 ? "" : "s");
}

static bool is_directory(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* database_flag: the build directory of `-p <dir>` or `-p=<dir>` at
** argv[*i], moving *i past it; NULL when argv[*i] is not that flag.  gcc's
** -p (profiling) takes no value, so `-p` followed by anything but a
** directory is left to the backend: a directory is never a cc input. */
static const char *database_flag(int argc, char **argv, int *i)
{
    const char *a = argv[*i];
    if (strncmp(a, "-p=", 3) == 0)
        return a + 3;
    if (strcmp(a, "-p") == 0 && *i + 1 < argc && is_directory(argv[*i + 1]))
        return argv[++*i];
    return NULL;
}

/* note_output_flags: what an argument says about the outputs. */
static void note_output_flags(Cmd *c, const char *a)
{
    if (strcmp(a, "-c") == 0 || strcmp(a, "-S") == 0 || strcmp(a, "-E") == 0 ||
        strcmp(a, "-M") == 0 || strcmp(a, "-MM") == 0 || strcmp(a, "-fsyntax-only") == 0)
        c->only_compile = true;
    if (strcmp(a, "-MD") == 0 || strcmp(a, "-MMD") == 0)
        c->deps = true;
    if (strcmp(a, "-M") == 0 || strcmp(a, "-MM") == 0)
        c->print_deps = true;
    if (strcmp(a, "-MP") == 0)
        c->phony_deps = true;
    if (strcmp(a, "-E") == 0)
        c->preprocess = true;
    if (strcmp(a, "-S") == 0)
        c->assembly = true;
    if (strncmp(a, "-MF", 3) == 0 && a[3])
        c->dep_file = a + 3;
    /* -Wp,-MD,file (Linux's kbuild): the preprocessor's own -MD. */
    if (strncmp(a, "-Wp,-MD,", 8) == 0 || strncmp(a, "-Wp,-MMD,", 9) == 0) {
        c->deps = true;
        c->dep_file = strchr(a + 4, ',') + 1;
    }
}

/* The backend named in the launcher convention (`ptmcc clang-19 ...`,
** CMAKE_C_COMPILER_LAUNCHER=ptmcc), over $PTM_CC. */
static Args launch_cc;

/* backend_words: the backend compiler's words, appended to cmd: the
** launcher convention's, else $PTM_CC (several words allowed), else the
** default. */
static void backend_words(Args *cmd)
{
    const char *cc = getenv("PTM_CC");
    for (int i = 0; i < launch_cc.n; i++)
        args_push(cmd, launch_cc.v[i]);
    if (!launch_cc.n)
        split_words(cmd, cc && *cc ? cc : PTM_DEFAULT_CC);
}

/* print_version: --version's line of PTM's, after the backend's. */
static void print_version(void)
{
    Args a = {0};
    backend_words(&a);
    printf("ptmcc (PTM) " PTM_VERSION_STRING ", ABI " PTM_ABI_STRING ", backend:");
    for (int i = 0; i < a.n; i++)
        printf(" %s", a.v[i]);
    putchar('\n');
    fflush(stdout);
    args_free(&a);
}

/* parse_cmd: splits argv into ptmcc's options and the cc arguments.
** allow_db: whether -p may name a compilation database (not inside a
** command taken from one). */
static void parse_cmd(int argc, char **argv, Cmd *c, bool allow_db)
{
    c->mode = MODE_LINK;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--emit-source") == 0) {
            c->mode = MODE_EMIT;
            continue;
        }
        if (strcmp(a, "--dump-annotations") == 0) {
            c->mode = MODE_DUMP;
            continue;
        }
        if (strcmp(a, "--verify-mirror") == 0) {
            c->verify_mirror = true;
            continue;
        }
        if (strcmp(a, "-fptm-mirror-all") == 0) {
            c->mirror_all = true;
            continue;
        }
        if (strcmp(a, "-fno-ptm-mirror-all") == 0) {
            c->mirror_all = false;
            continue;
        }
        if (strcmp(a, "--ptm-verbose") == 0) {
            c->verbose = true;
            continue;
        }
        if (strcmp(a, "-fdiagnostics-format=json") == 0) {
            diag_set_format(DIAG_JSON);
            json_diagnostics = true;
            continue;
        }
        if (strcmp(a, "--help") == 0) {
            print_usage(stdout);
            exit(0);
        }
        /* after the backend's own --version (main): build systems
        ** (Meson) identify the compiler by the first lines */
        if (strcmp(a, "--version") == 0)
            c->version = true;
        /* -Wno-ptm-... is ptmcc's alone: a backend would not know it */
        if (diag_option(a) == DIAG_OPT_OWN)
            continue;
        if (allow_db) {
            const char *dir = database_flag(argc, argv, &i);
            if (dir) {
                c->db_dir = dir;
                continue;
            }
        }
        note_output_flags(c, a);
        args_push(&c->args, a);
        if (option_takes_value(a) && i + 1 < argc) {
            const char *v = argv[++i];
            args_push(&c->args, v);
            if (strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0)
                c->output = v;
            else if (strcmp(a, "-MF") == 0)
                c->dep_file = v;
            else if (strcmp(a, "-I") == 0 || strcmp(a, "-iquote") == 0 ||
                     strcmp(a, "-isystem") == 0 || strcmp(a, "-idirafter") == 0 ||
                     strcmp(a, "-isystem-after") == 0)
                args_push(&c->incdirs, v);
            else if (strcmp(a, "-include") == 0 || strcmp(a, "--include") == 0)
                args_push(&c->forced, v);
        } else if (strncmp(a, "-I", 2) == 0 && a[2]) {
            args_push(&c->incdirs, a + 2);
        } else if (strncmp(a, "-isystem", 8) == 0 && a[8]) {
            args_push(&c->incdirs, a + 8);
        } else if (strncmp(a, "-idirafter", 10) == 0 && a[10]) {
            args_push(&c->incdirs, a + 10);
        } else if (strncmp(a, "-o", 2) == 0 && a[2]) {
            c->output = a + 2;
        }
    }
    if (c->mode == MODE_LINK && c->only_compile)
        c->mode = MODE_COMPILE;
    /* --verify-mirror alone only verifies; with -c, -S, -E or -o it builds too. */
    if (c->verify_mirror && c->mode == MODE_LINK && !c->output)
        c->mode = MODE_VERIFY;
}

static void cmd_free(Cmd *c)
{
    args_free(&c->args);
    args_free(&c->incdirs);
    args_free(&c->forced);
}

/* ---------------------------------------------------------------------
** Where ptmcc's own files are: <prefix>/bin/ptmcc, <prefix>/include/ptm.h,
** <prefix>/lib/libptm.a, both in the build tree and once installed
** (wherever the prefix was moved), or $PTM_PREFIX.
*/
static char *prefix_dir(void)
{
    /* PTM_HOME: this variable's older name */
    const char *home = getenv("PTM_PREFIX");
    if (!home || !*home)
        home = getenv("PTM_HOME");
    if (home && *home)
        return xstrdup(home);
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return xstrdup("/usr/local");
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (slash)
        *slash = '\0';
    slash = strrchr(exe, '/');
    if (slash)
        *slash = '\0';
    return xstrdup(exe);
}

/* ---------------------------------------------------------------------
** Temporary files: one directory per run, removed at exit, with one
** subdirectory per rewritten source.
*/
static char *tmp_dir;
static Args tmp_files, tmp_subdirs;

static void remove_temps(void)
{
    for (int i = 0; i < tmp_files.n; i++)
        unlink(tmp_files.v[i]);
    for (int i = tmp_subdirs.n - 1; i >= 0; i--)
        rmdir(tmp_subdirs.v[i]);
    if (tmp_dir)
        rmdir(tmp_dir);
}

/* on_fatal_signal: an interrupted build (make -j and ^C) must not leave
** temporary directories behind: remove them, then die of the signal.
** unlink and rmdir are async-signal-safe. */
static void on_fatal_signal(int sig)
{
    remove_temps();
    signal(sig, SIG_DFL);
    raise(sig);
}

/* tmp_root: the run's temporary directory, created on first use, absolute
** (a -p entry runs in another directory). */
static const char *tmp_root(void)
{
    if (!tmp_dir) {
        char *root = tmp_base_dir();
        char *templ = format("%s/ptmcc.XXXXXX", root);
        free(root);
        if (!mkdtemp(templ)) {
            error_plain("cannot create a temporary directory: %s", strerror(errno));
            exit(1);
        }
        tmp_dir = templ;
        atexit(remove_temps);
        static const int fatal[] = {SIGHUP, SIGINT, SIGTERM};
        for (size_t i = 0; i < sizeof fatal / sizeof *fatal; i++)
            signal(fatal[i], on_fatal_signal);
    }
    return tmp_dir;
}

/* tmp_path: a fresh path <tmp>/<n>/<base name of source>: outputs named
** after the source (x.o, x.d, x.s) keep their names, and two sources with
** one base name do not collide. */
static char *tmp_path(const char *source)
{
    char *sub = format("%s/%d", tmp_root(), tmp_subdirs.n);
    if (mkdir(sub, 0700) != 0) {
        error_plain("cannot create '%s': %s", sub, strerror(errno));
        exit(1);
    }
    args_push(&tmp_subdirs, sub);
    const char *name = strrchr(source, '/');
    name = name ? name + 1 : source;
    char *p = format("%s/%s", sub, name);
    free(sub);
    args_push(&tmp_files, p);
    return p;
}

static bool write_file(const char *path, const char *text)
{
    FILE *fp = strcmp(path, "-") == 0 ? stdout : fopen(path, "w");
    if (!fp) {
        error_plain("cannot write '%s': %s", path, strerror(errno));
        return false;
    }
    size_t n = strlen(text);
    bool ok = fwrite(text, 1, n, fp) == n;
    ok = (fp == stdout ? fflush(fp) == 0 : fclose(fp) == 0) && ok;
    if (!ok)
        error_plain("cannot write '%s': %s", path, strerror(errno));
    return ok;
}

/* ---------------------------------------------------------------------
** The rewrite of one source
*/

/* add_isystem: -isystem incdir, unless incdir is a directory the compiler
** searches anyway (ptm.h installed in /usr/include): there -isystem would
** move it ahead of the compiler's own headers, which #include_next them. */
static void add_isystem(Args *a, const char *incdir)
{
    if (strcmp(incdir, "/usr/include") == 0 || strcmp(incdir, "/usr/local/include") == 0)
        return;
    args_push(a, "-isystem");
    args_push(a, incdir);
}

/* parse_args: the arguments libclang parses a source with: the cc flags
** minus inputs, outputs and link flags, plus ptmcc's own. */
static Args parse_args(const Cmd *c, const char *incdir)
{
    Args p = {0};
    const char *resource = getenv("PTM_CLANG_RESOURCE_DIR");
    args_push(&p, "-resource-dir");
    args_push(&p, resource && *resource ? resource : PTM_CLANG_RESOURCE_DIR);
    args_push(&p, "-D__PTMCC__=1");
    add_isystem(&p, incdir);
    /* Warnings are the backend's to report, on the rewritten code; here
    ** -Werror must not make them errors that stop the rewrite. */
    args_push(&p, "-w");
    for (int i = 0; i < c->args.n; i++) {
        const char *a = c->args.v[i];
        bool drop_value;
        if (parse_drops(a, &drop_value)) {
            i += drop_value;
            continue;
        }
        if (a[0] != '-' || strcmp(a, "-") == 0)
            continue; /* an input */
        args_push(&p, a);
        if (option_takes_value(a) && i + 1 < c->args.n)
            args_push(&p, c->args.v[++i]);
    }
    return p;
}

/* mentions_ptm: whether source, a header it includes from the user's
** include directories (-I, -iquote, -isystem, -idirafter, CPATH,
** C_INCLUDE_PATH), or a file of -include names PTM_TRANSACTION or
** PTM_MIRRORABLE: only then is the unit parsed. */
static ScanHit mentions_ptm(const Cmd *c, const char *source)
{
    Args dirs = {0};
    for (int i = 0; i < c->incdirs.n; i++)
        args_push(&dirs, c->incdirs.v[i]);
    static const char *const vars[] = {"CPATH", "C_INCLUDE_PATH"};
    char *paths[2] = {NULL, NULL};
    for (int k = 0; k < 2; k++) {
        const char *v = getenv(vars[k]);
        if (!v || !*v)
            continue;
        paths[k] = xstrdup(v);
        for (char *save, *d = strtok_r(paths[k], ":", &save); d; d = strtok_r(NULL, ":", &save))
            args_push(&dirs, d);
    }
    ScanHit found = scan_mentions_ptm(source, (const char *const *)dirs.v, dirs.n, false);
    for (int i = 0; found != SCAN_PTM && i < c->forced.n; i++) {
        ScanHit in = scan_mentions_ptm(c->forced.v[i], (const char *const *)dirs.v, dirs.n, true);
        found = in > found ? in : found;
    }
    args_free(&dirs);
    free(paths[0]);
    free(paths[1]);
    return found;
}

/* rewrite: parses a source and, when it holds transactions, writes its
** rewritten text.  OUT: *text (NULL: nothing to rewrite), *unit_out when
** given (NULL when nothing was parsed), *hit_out when given (what the text
** scan found).  Returns false after errors. */
static bool rewrite(const Cmd *c, const char *source, const char *incdir, char **text,
                    Unit **unit_out, ScanHit *hit_out)
{
    *text = NULL;
    if (unit_out)
        *unit_out = NULL;
    ScanHit hit = mentions_ptm(c, source);
    if (hit_out)
        *hit_out = hit;
    /* -fptm-mirror-all: every unit compiled has clones for others; what
    ** -E and -M print of a unit without annotations stays as written (a
    ** configure script's probes read it). */
    bool clones_for_others = c->mirror_all && !c->preprocess && !c->print_deps;
    if (hit <= SCAN_API && !clones_for_others)
        return true;
    const FrontApi *fe = front();
    if (!fe)
        return false;
    Args p = parse_args(c, incdir);
    Unit *u;
    int errors = diag_error_count();
    int crash = front_rewrite(fe, c->mirror_all, source, (const char *const *)p.v, p.n,
                              hit == SCAN_NOTES, text, &u);
    args_free(&p);
    if (crash) {
        warning_at(W_UNCLONEABLE, (SrcLoc){NULL, 0}, 0, "%s: ptmcc's front end crashed (%s); "
                   "compiled as written, without mirrors: please report it", source,
                   strsignal(crash));
        return diag_error_count() == errors; /* -Werror=ptm-uncloneable */
    }
    if (!u)
        return false;
    if (unit_out)
        *unit_out = u;
    else
        fe->unit_free(u);
    return true;
}

/* ---------------------------------------------------------------------
** The backend
*/
/* run: runs a command and waits; its stdout goes to the file stdout_to
** when that is not NULL.  Returns its exit status (128 + signal when it
** was killed). */
/* Where run sends the command's stderr (NULL: ptmcc's). */
static const char *run_stderr_to;

static int run(const Args *cmd, bool verbose, const char *stdout_to)
{
    if (verbose) {
        for (int i = 0; i < cmd->n; i++)
            fprintf(stderr, "%s%s", i ? " " : "", cmd->v[i]);
        fputc('\n', stderr);
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    if (stdout_to)
        posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, stdout_to,
                                         O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (run_stderr_to)
        posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, run_stderr_to,
                                         O_WRONLY | O_CREAT | O_TRUNC, 0600);
    fflush(stdout);
    pid_t pid;
    int rc = interceptor_preloaded()
                 ? spawn_direct(cmd->v, backend_environ(), stdout_to, run_stderr_to, &pid)
                 : posix_spawnp(&pid, cmd->v[0], &fa, NULL, cmd->v, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) {
        error_plain("cannot run '%s': %s", cmd->v[0], strerror(rc));
        return 1;
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) {
            error_plain("waiting for '%s': %s", cmd->v[0], strerror(errno));
            return 1;
        }
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    return 128 + WTERMSIG(status);
}

/* ---------------------------------------------------------------------
** Outputs that name the temporary copy, made to name the user's source
*/

/* A source compiled from a rewritten copy. */
typedef struct Rewritten {
    char *source;       /* as the user named it */
    char *tmp;          /* the copy */
    Args rules;         /* the rules scripts it embeds: dependencies too */
} Rewritten;

typedef struct Rewrites {
    Rewritten *v;
    int n;
    bool overlay;       /* shown at the sources' paths through a VFS overlay */
    bool stable;        /* copies at stable paths, for a caching backend */
} Rewrites;

static void rewrites_free(Rewrites *r)
{
    for (int i = 0; i < r->n; i++) {
        free(r->v[i].source);
        free(r->v[i].tmp);
        args_free(&r->v[i].rules);
    }
    free(r->v);
    *r = (Rewrites){0};
}

/* put_make_path: path as a dependency file spells it (clang's and gcc's
** escapes: a blank or # after a backslash, $ doubled). */
static void put_make_path(Buf *b, const char *path)
{
    for (const char *p = path; *p; p++) {
        if (*p == ' ' || *p == '\t' || *p == '#')
            buf_put(b, "\\", 1);
        else if (*p == '$')
            buf_put(b, "$", 1);
        buf_put(b, p, 1);
    }
}

/* rename_temps: text with every rewritten copy's path replaced by its
** source.  In a dependency file (make) the source is escaped for make and
** followed by its rules scripts, and with -MP each script gets a phony
** target as headers do.  Returns NULL when text names no copy. */
static char *rename_temps(const char *text, const Rewrites *rw, bool make, bool phony)
{
    Buf b = {0};
    bool hit = false;
    const char *p = text;
    while (*p) {
        int which = -1;
        const char *at = NULL;
        for (int i = 0; i < rw->n; i++) {
            const char *h = strstr(p, rw->v[i].tmp);
            if (h && (!at || h < at)) {
                at = h;
                which = i;
            }
        }
        if (!at) {
            buf_puts(&b, p);
            break;
        }
        hit = true;
        const Rewritten *r = &rw->v[which];
        buf_put(&b, p, (size_t)(at - p));
        if (make) {
            put_make_path(&b, r->source);
            for (int k = 0; k < r->rules.n; k++) {
                buf_puts(&b, " ");
                put_make_path(&b, r->rules.v[k]);
            }
        } else {
            buf_puts(&b, r->source);
        }
        p = at + strlen(r->tmp);
    }
    if (make && phony && hit) {
        for (int i = 0; i < rw->n; i++)
            for (int k = 0; k < rw->v[i].rules.n; k++) {
                buf_puts(&b, "\n");
                put_make_path(&b, rw->v[i].rules.v[k]);
                buf_puts(&b, ":\n");
            }
    }
    if (!hit) {
        buf_free(&b);
        return NULL;
    }
    buf_put(&b, "", 0);
    return b.data;
}

/* fix_text_file: a text output the backend wrote (a dependency file, -E
** or -M output, assembly), made to name the user's sources.  Files that
** do not exist or name no copy are left alone. */
static void fix_text_file(const char *path, const Rewrites *rw, bool make, bool phony)
{
    size_t len;
    char *text = read_file(path, &len);
    if (!text)
        return;
    char *fixed = rename_temps(text, rw, make, phony);
    if (fixed)
        write_file(path, fixed);
    free(fixed);
    free(text);
}

/* stem_with: base without its extension, plus ext ("x.o" -> "x.d"). */
static char *stem_with(const char *base, const char *ext)
{
    const char *dot = strrchr(base, '.');
    const char *slash = strrchr(base, '/');
    size_t stem = dot && (!slash || dot > slash) ? (size_t)(dot - base) : strlen(base);
    return format("%.*s%s", (int)stem, base, ext);
}

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

/* fix_outputs: after the backend ran, every text file it may have written
** for a rewritten source: the -MF file, <output or source stem>.d for -MD,
** the -o of -E, -M and -S, or <source stem>.s for -S without -o. */
static void fix_outputs(const Cmd *c, const Rewrites *rw)
{
    bool to_file = c->output && strcmp(c->output, "-") != 0;
    if (c->dep_file)
        fix_text_file(c->dep_file, rw, true, c->phony_deps);
    if ((c->preprocess || c->print_deps || c->assembly) && to_file)
        fix_text_file(c->output, rw, c->print_deps, c->phony_deps);
    for (int i = 0; i < rw->n; i++) {
        const char *base = base_name(rw->v[i].source);
        if (c->deps && !c->dep_file) {
            char *d = stem_with(to_file ? c->output : base, ".d");
            fix_text_file(d, rw, true, c->phony_deps);
            free(d);
        }
        if (c->assembly && !c->output) {
            char *s = stem_with(base, ".s");
            fix_text_file(s, rw, false, false);
            free(s);
        }
    }
}

/* captures_stdout: whether the backend's stdout is text that may name a
** copy (-E, -M, -MM without a file, or -S -o -), to be fixed before the
** user sees it. */
static bool captures_stdout(const Cmd *c, const Rewrites *rw)
{
    if (rw->n == 0 || rw->overlay || !(c->preprocess || c->print_deps || c->assembly))
        return false;
    if (c->output)
        return strcmp(c->output, "-") == 0;
    return !c->assembly;
}

/* pass_stdout: the captured stdout, fixed, to ptmcc's own stdout. */
static void pass_stdout(const char *path, const Cmd *c, const Rewrites *rw)
{
    size_t len;
    char *text = read_file(path, &len);
    if (!text)
        return;
    char *fixed = rename_temps(text, rw, c->print_deps, c->phony_deps);
    const char *out = fixed ? fixed : text;
    fwrite(out, 1, strlen(out), stdout);
    fflush(stdout);
    free(fixed);
    free(text);
}

/* ---------------------------------------------------------------------
** Compiling and linking
*/

/* put_line_directive: #line 1 "source", so that a copy's first lines
** (before emit's own #line directives) belong to the user's file: in
** diagnostics, __FILE__ and -E output. */
static void put_line_directive(Buf *b, const char *source)
{
    buf_puts(b, "#line 1 \"");
    for (const char *p = source; *p; p++) {
        if (*p == '"' || *p == '\\')
            buf_put(b, "\\", 1);
        buf_put(b, p, 1);
    }
    buf_puts(b, "\"\n");
}

/* source_dir: the directory of source as written ("." when none). */
static char *source_dir(const char *source)
{
    const char *slash = strrchr(source, '/');
    if (!slash)
        return xstrdup(".");
    if (slash == source)
        return xstrdup("/");
    return xstrndup(source, (size_t)(slash - source));
}

/* backend_is_clang: whether the compiler of the backend command (past a
** launcher such as ccache) is clang, which reads VFS overlays. */
static bool backend_is_clang(const Args *cmd)
{
    static const char *const launchers[] = {"ccache", "sccache", "distcc", "icecc", "env"};
    for (int i = 0; i < cmd->n; i++) {
        const char *slash = strrchr(cmd->v[i], '/');
        const char *base = slash ? slash + 1 : cmd->v[i];
        bool launcher = strchr(base, '=') != NULL;
        for (size_t k = 0; k < sizeof launchers / sizeof *launchers; k++)
            launcher |= strcmp(base, launchers[k]) == 0;
        if (!launcher)
            return strstr(base, "clang") != NULL;
    }
    return false;
}

/* stable_tmp_path: <tmp>/ptmcc-<uid>/<hash>/<base name of source>, the
** same path for the same text (launch.c), removed at exit as the run's
** other temporaries; NULL when it cannot be had (then tmp_path). */
static char *stable_tmp_path(const char *source, const char *text)
{
    tmp_root(); /* the run's cleanup, set up */
    char *root = tmp_base_dir();
    char *dir = stable_copy_dir(root, source, text);
    free(root);
    if (!dir)
        return NULL;
    args_push(&tmp_subdirs, dir);
    char *p = format("%s/%s", dir, base_name(source));
    free(dir);
    args_push(&tmp_files, p);
    return p;
}

/* add_rewrite: writes the rewritten text of source to a temporary file and
** records it, with the rules scripts its transactions embed. */
static bool add_rewrite(Rewrites *rw, const char *source, const char *text, const Unit *u)
{
    Buf b = {0};
    if (!rw->overlay)
        put_line_directive(&b, source);
    buf_puts(&b, text);
    char *tmp = rw->stable ? stable_tmp_path(source, b.data) : NULL;
    if (!tmp)
        tmp = tmp_path(source);
    bool ok = write_file(tmp, b.data);
    buf_free(&b);
    rw->v = xrealloc(rw->v, sizeof *rw->v * (size_t)(rw->n + 1));
    Rewritten *r = &rw->v[rw->n++];
    *r = (Rewritten){xstrdup(source), tmp, {0}};
    for (int i = 0; u && i < u->nfuncs; i++)
        if (u->funcs[i].rules_path)
            args_push(&r->rules, u->funcs[i].rules_path);
    return ok;
}

/* use_copy: the backend compiles the copy of the last rewrite in place of
** the source, with -iquote <its directory> (quoted includes are searched
** next to the copy first) and a debug prefix map from the copy's
** directory to the source's. */
static void use_copy(Args *cmd, const Rewrites *rw)
{
    const Rewritten *r = &rw->v[rw->n - 1];
    char *dir = source_dir(r->source);
    args_push(cmd, "-iquote");
    args_push(cmd, dir);
    free(dir);
    const char *slash = strrchr(r->source, '/');
    char *map = format("-fdebug-prefix-map=%.*s=%.*s", (int)(base_name(r->tmp) - r->tmp), r->tmp,
                       slash ? (int)(slash - r->source + 1) : 0, r->source);
    args_push(cmd, map);
    free(map);
}

/* overlay_entry: a VFS root showing the file external at path. */
static json_t *overlay_entry(const char *path, const char *external)
{
    const char *slash = strrchr(path, '/');
    char *dir = slash == path ? xstrdup("/") : xstrndup(path, (size_t)(slash - path));
    json_t *e = json_pack("{s:s, s:s, s:[{s:s, s:s, s:s}]}", "name", dir, "type", "directory",
                          "contents", "name", slash + 1, "type", "file", "external-contents",
                          external);
    free(dir);
    return e;
}

/* use_overlay: adds -ivfsoverlay with a file that shows each rewritten
** text at its source's path (both as spelled and as its real path, since
** the user may reach it through a symlink), and names the rules scripts as
** dependencies. */
static bool use_overlay(Args *cmd, const Cmd *c, const Rewrites *rw)
{
    json_t *roots = json_array();
    for (int i = 0; i < rw->n; i++) {
        char *lexical = path_lexical(rw->v[i].source);
        json_array_append_new(roots, overlay_entry(lexical, rw->v[i].tmp));
        char real[PATH_MAX];
        if (realpath(rw->v[i].source, real) && strcmp(real, lexical) != 0)
            json_array_append_new(roots, overlay_entry(real, rw->v[i].tmp));
        free(lexical);
    }
    json_t *yaml = json_pack("{s:i, s:b, s:o}", "version", 0, "use-external-names", 0, "roots",
                             roots);
    char *text = json_dumps(yaml, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
    json_decref(yaml);
    char *path = format("%s/overlay.yaml", tmp_root());
    args_push(&tmp_files, path);
    bool ok = text && write_file(path, text);
    free(text);
    args_push(cmd, "-ivfsoverlay");
    args_push(cmd, path);
    free(path);
    if (c->deps || c->print_deps)
        for (int i = 0; i < rw->n; i++)
            for (int k = 0; k < rw->v[i].rules.n; k++) {
                char *entry = format("-fdepfile-entry=%s", rw->v[i].rules.v[k]);
                args_push(cmd, "-Xclang");
                args_push(cmd, entry);
                free(entry);
            }
    return ok;
}

/* preprocesses: whether an input of c goes through the preprocessor (C,
** a header, assembly with cpp, stdin), where ptmcc's -D and -isystem
** apply; for .s, .i and objects alone they would be unused arguments,
** which -Werror turns into errors. */
static bool preprocesses(const Cmd *c)
{
    static const char *const cpp_langs[] = {"c", "c-header", "assembler-with-cpp"};
    static const char *const raw_ext[] = {".s", ".i", ".o", ".a", ".so", ".lo"};
    const char *lang = NULL;
    for (int i = 0; i < c->args.n; i++) {
        const char *a = c->args.v[i];
        if (a[0] == '-' && a[1]) {
            if (option_takes_value(a) && i + 1 < c->args.n) {
                if (strcmp(a, "-x") == 0)
                    lang = c->args.v[i + 1];
                i++;
            }
            continue;
        }
        if (lang && strcmp(lang, "none") != 0) {
            for (size_t k = 0; k < sizeof cpp_langs / sizeof *cpp_langs; k++)
                if (strcmp(lang, cpp_langs[k]) == 0)
                    return true;
            continue;
        }
        const char *dot = strrchr(a, '.');
        bool raw = false;
        for (size_t k = 0; dot && k < sizeof raw_ext / sizeof *raw_ext; k++)
            raw = raw || strcmp(dot, raw_ext[k]) == 0;
        if (!raw)
            return true;
    }
    return false;
}

/* backend_command: the backend (backend_words) and ptmcc's flags. */
static Args backend_command(const Cmd *c, const char *incdir)
{
    Args cmd = {0};
    backend_words(&cmd);
    if (preprocesses(c)) {
        args_push(&cmd, "-D__PTMCC__=1");
        add_isystem(&cmd, incdir);
    }
    return cmd;
}

/* pass_stderr: what the backend said, saved in path, to ptmcc's stderr. */
static void pass_stderr(const char *path)
{
    size_t len;
    char *t = read_file(path, &len);
    if (t)
        fwrite(t, 1, len, stderr);
    free(t);
}

/* compile_without_clones: the backend rejected the mirror clones of units
** compiled under -fptm-mirror-all for other files' mirrors: each is
** compiled as written (args: the command line's), with a warning.  Returns
** the backend's status. */
static int compile_without_clones(Cmd *c, const char *incdir, const Args *args,
                                  const char *prefix, const Rewrites *rw)
{
    int errors = diag_error_count();
    for (int i = 0; i < rw->n; i++)
        warning_at(W_UNCLONEABLE, (SrcLoc){NULL, 0}, 0, "%s: the backend rejected its mirror "
                   "clones; compiled without them (mirrors that reach its functions fork)",
                   rw->v[i].source);
    if (diag_error_count() > errors) /* -Werror=ptm-uncloneable */
        return 1;
    Args cmd = backend_command(c, incdir);
    for (int i = 0; i < args->n; i++)
        args_push(&cmd, args->v[i]);
    if (c->mode == MODE_LINK)
        add_link_libs(&cmd, prefix);
    int rc = run(&cmd, c->verbose, NULL);
    args_free(&cmd);
    return rc;
}

static int compile(Cmd *c, const char *prefix)
{
    char *incdir = format("%s/include", prefix);
    Args cmd = backend_command(c, incdir);
    /* A caching backend (ccache) cannot hash what an overlay shows: it
    ** compiles a copy, at a path that is the same for the same text. */
    bool caches = backend_caches((const char *const *)cmd.v, cmd.n);
    Rewrites rw = {.overlay = backend_is_clang(&cmd) && !caches, .stable = caches};
    const char *lang = NULL;
    int ninputs = 0;
    bool failed = false, has_tx = false;
    /* Whether what this command links can refer to nothing of PTM: its
    ** inputs are all C sources compiled here, none rewritten nor including
    ** ptm.h, and no option could add another input (a library of -l may
    ** hold transactions).  Such a link needs no PTM library: searching
    ** them cost a configure script's link probe about 10 ms. */
    bool ptm_free = true;
    Args orig = {0};
    for (int i = 0; i < c->args.n; i++)
        args_push(&orig, c->args.v[i]);
    for (int i = 0; i < c->args.n; i++) {
        const char *a = c->args.v[i];
        if (a[0] == '-' && strcmp(a, "-") != 0) {
            if (link_option_adds_input(a))
                ptm_free = false;
            if (option_takes_value(a) && i + 1 < c->args.n) {
                if (strcmp(a, "-x") == 0)
                    lang = c->args.v[i + 1];
                i++;
            } else if (strncmp(a, "-x", 2) == 0 && a[2]) {
                lang = a + 2;
            }
            continue;
        }
        ninputs++;
        if (strcmp(a, "-") == 0 || !is_c_source(a, lang)) {
            ptm_free = false;
            continue;
        }
        char *text;
        Unit *u;
        ScanHit hit;
        if (!rewrite(c, a, incdir, &text, &u, &hit)) {
            failed = true;
            continue;
        }
        ptm_free &= hit == SCAN_NONE && !text;
        has_tx |= u && u->nfuncs > 0;
        if (text) {
            failed |= !add_rewrite(&rw, a, text, u);
            if (!rw.overlay) {
                use_copy(&cmd, &rw);
                free(c->args.v[i]);
                c->args.v[i] = xstrdup(rw.v[rw.n - 1].tmp);
            }
        }
        free(text);
        if (u)
            front()->unit_free(u);
    }
    if (!failed && rw.overlay && rw.n > 0)
        failed = !use_overlay(&cmd, c, &rw);
    if (!failed && c->verify_mirror && rw.n > 0)
        failed = !front()->verify_mirror(&(VerifyJob){(const char *const *)cmd.v, cmd.n,
                                             (const char *const *)c->args.v, c->args.n,
                                             option_takes_value, c->verbose});
    finish_diagnostics();
    int rc = 1;
    if (!failed && c->mode == MODE_VERIFY) {
        rc = 0;
    } else if (!failed) {
        for (int i = 0; i < c->args.n; i++)
            args_push(&cmd, c->args.v[i]);
        if (c->mode == MODE_LINK && ninputs > 0 && !ptm_free)
            add_link_libs(&cmd, prefix);
        char *out = captures_stdout(c, &rw) ? format("%s/stdout", tmp_root()) : NULL;
        if (out)
            args_push(&tmp_files, out);
        /* -fptm-mirror-all on units without transactions: their clones
        ** are for other files' mirrors, an extra.  Should the backend
        ** reject them (a construct the rewrite gets wrong), the units are
        ** compiled as written, without clones: mirrors that reach their
        ** functions fork (the runtime finds no facts), and the build goes
        ** on as a plain one would.  Their notes go too (a busy timeout
        ** they set is not seen): a failed build would be worse. */
        char *err = c->mirror_all && !has_tx && rw.n > 0 && !out
                        ? format("%s/stderr", tmp_root()) : NULL;
        if (err)
            args_push(&tmp_files, err);
        run_stderr_to = err;
        rc = run(&cmd, c->verbose, out);
        run_stderr_to = NULL;
        if (err && rc != 0)
            rc = compile_without_clones(c, incdir, &orig, prefix, &rw);
        else if (err)
            pass_stderr(err);
        if (out)
            pass_stdout(out, c, &rw);
        if (!rw.overlay)
            fix_outputs(c, &rw);
        free(out);
        free(err);
    }
    args_free(&cmd);
    args_free(&orig);
    rewrites_free(&rw);
    free(incdir);
    return rc;
}

/* inputs: the C sources among the arguments (for --emit-source and
** --dump-annotations). */
static Args c_inputs(const Cmd *c)
{
    Args in = {0};
    for (int i = 0; i < c->args.n; i++) {
        const char *a = c->args.v[i];
        if (a[0] == '-') {
            i += option_takes_value(a) && i + 1 < c->args.n;
            continue;
        }
        args_push(&in, a);
    }
    return in;
}

static int emit_source(const Cmd *c, const Args *in, const char *prefix)
{
    if (in->n != 1) {
        error_plain("--emit-source takes exactly one C source, not %d", in->n);
        return 1;
    }
    char *incdir = format("%s/include", prefix);
    char *text;
    bool ok = rewrite(c, in->v[0], incdir, &text, NULL, NULL);
    finish_diagnostics();
    free(incdir);
    if (ok && !text) {
        SrcFile *f = src_load(in->v[0]);
        if (f)
            text = xstrdup(f->text);
        else
            error_plain("cannot read '%s'", in->v[0]);
    }
    ok = ok && text && write_file(c->output ? c->output : "-", text);
    free(text);
    return ok ? 0 : 1;
}

/* Units parsed for --dump-annotations, printed together at the end. */
typedef struct Units {
    Unit **v;
    int n;
} Units;

/* dump_parse: parses each input for --dump-annotations into units.
** Returns false after errors. */
static bool dump_parse(const Cmd *c, const Args *in, const char *prefix, Units *units)
{
    char *incdir = format("%s/include", prefix);
    Args p = parse_args(c, incdir);
    free(incdir);
    bool ok = in->n > 0;
    if (!ok)
        error_plain("--dump-annotations needs a C source");
    const FrontApi *fe = ok ? front() : NULL;
    ok = ok && fe;
    if (fe)
        fe->set_mirror_all(c->mirror_all);
    for (int i = 0; fe && i < in->n; i++) {
        Unit *u = fe->parse(in->v[i], (const char *const *)p.v, p.n, false);
        if (!u) {
            ok = false;
            continue;
        }
        units->v = xrealloc(units->v, sizeof *units->v * (size_t)(units->n + 1));
        units->v[units->n++] = u;
    }
    args_free(&p);
    return ok;
}

static void units_free(Units *units)
{
    for (int i = 0; i < units->n; i++)
        front()->unit_free(units->v[i]);
    free(units->v);
    *units = (Units){0};
}

/* dump_write: every transaction of units as one JSON array, to output
** (NULL or "-": stdout). */
static bool dump_write(const Units *units, const char *output)
{
    Unit all = {0};
    for (int i = 0; i < units->n; i++) {
        const Unit *u = units->v[i];
        all.funcs = xrealloc(all.funcs, sizeof *all.funcs * (size_t)(all.nfuncs + u->nfuncs + 1));
        memcpy(all.funcs + all.nfuncs, u->funcs, sizeof *u->funcs * (size_t)u->nfuncs);
        all.nfuncs += u->nfuncs;
    }
    FILE *out = output && strcmp(output, "-") != 0 ? fopen(output, "w") : stdout;
    bool ok = out != NULL;
    if (!out)
        error_plain("cannot write '%s': %s", output, strerror(errno));
    if (out) {
        front()->dump(&all, out);
        ok = (out == stdout ? fflush(out) : fclose(out)) == 0;
    }
    free(all.funcs); /* shallow: the functions belong to the units */
    return ok;
}

static int dump(const Cmd *c, const Args *in, const char *prefix)
{
    Units units = {0};
    bool ok = dump_parse(c, in, prefix, &units);
    finish_diagnostics();
    ok = ok && dump_write(&units, c->output);
    units_free(&units);
    return ok ? 0 : 1;
}

/* run_mode: does what a parsed command line asks, on inputs (the C
** sources, for --emit-source and --dump-annotations). */
static int run_mode(Cmd *c, const Args *inputs, const char *prefix)
{
    switch (c->mode) {
    case MODE_EMIT: return emit_source(c, inputs, prefix);
    case MODE_DUMP: return dump(c, inputs, prefix);
    default: return compile(c, prefix);
    }
}

/* ---------------------------------------------------------------------
** -p <build-dir>: commands from compile_commands.json
*/

/* first_flag: the index of the entry's first argument after the compiler
** (and after a launcher such as ccache in front of it). */
static int first_flag(const CompileCommand *e)
{
    static const char *const launchers[] = {"ccache", "sccache", "distcc", "icecc"};
    for (size_t i = 0; e->argc > 1 && i < sizeof launchers / sizeof *launchers; i++)
        if (strcmp(base_name(e->argv[0]), launchers[i]) == 0 && e->argv[1][0] != '-')
            return 2;
    return 1;
}

/* command_line_extras: ptmcc's command line without -p <dir>, its sources
** and -o: ptmcc's own options and extra cc flags, applied to every entry. */
static Args command_line_extras(int argc, char **argv)
{
    Args x = {0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (database_flag(argc, argv, &i))
            continue;
        if (strcmp(a, "-o") == 0) {
            i++;
            continue;
        }
        if (strncmp(a, "-o", 2) == 0 || a[0] != '-')
            continue;
        args_push(&x, a);
        if (option_takes_value(a) && i + 1 < argc)
            args_push(&x, argv[++i]);
    }
    return x;
}

/* entry_argv: the argument vector ptmcc runs for an entry: its flags
** (without its -o when the user gave one), then the extras, then the
** user's -o for a compilation. */
static Args entry_argv(const CompileCommand *e, const Args *extras, const char *out, Mode mode)
{
    Args v = {0};
    args_push(&v, "ptmcc");
    for (int i = first_flag(e); i < e->argc; i++) {
        const char *a = e->argv[i];
        if (out && strcmp(a, "-o") == 0) {
            i++;
            continue;
        }
        if (out && strncmp(a, "-o", 2) == 0 && a[2])
            continue;
        args_push(&v, a);
    }
    for (int i = 0; i < extras->n; i++)
        args_push(&v, extras->v[i]);
    if (out && (mode == MODE_LINK || mode == MODE_COMPILE)) {
        args_push(&v, "-o");
        args_push(&v, out);
    }
    return v;
}

/* run_entry: one source, as its entry says, in the entry's directory.
** --dump-annotations parses it into dumped, for from_database to print. */
static int run_entry(const CompileCommand *e, const Args *extras, const char *out, Mode mode,
                     const char *prefix, Units *dumped)
{
    if (chdir(e->directory) != 0) {
        error_plain("cannot enter '%s', the directory of the command for '%s': %s", e->directory,
                    e->file, strerror(errno));
        return 1;
    }
    Args v = entry_argv(e, extras, out, mode);
    Cmd c = {0};
    parse_cmd(v.n, v.v, &c, false);
    Args inputs = {0};
    args_push(&inputs, e->file);
    if (c.mode == MODE_EMIT || c.mode == MODE_DUMP)
        c.output = out;
    int rc = c.mode == MODE_DUMP ? !dump_parse(&c, &inputs, prefix, dumped)
                                 : run_mode(&c, &inputs, prefix);
    args_free(&inputs);
    cmd_free(&c);
    args_free(&v);
    return rc;
}

/* from_database: ptmcc -p <dir> x.c...: each source compiled (or emitted,
** or dumped) with the command of its compile_commands.json entry. */
static int from_database(const Cmd *c, int argc, char **argv, const char *prefix)
{
    if (!*c->db_dir) {
        error_plain("-p= needs a build directory");
        return 1;
    }
    if (!compile_db_present(c->db_dir)) {
        error_plain("no compilation database: '%s' holds no compile_commands.json", c->db_dir);
        return 1;
    }
    Args sources = c_inputs(c);
    if (sources.n == 0 || (c->mode == MODE_EMIT && sources.n > 1)) {
        if (sources.n == 0)
            error_plain("-p %s: which source? (ptmcc -p <build-dir> file.c)", c->db_dir);
        else
            error_plain("--emit-source takes exactly one C source, not %d", sources.n);
        args_free(&sources);
        return 1;
    }
    CompileDb *db = compile_db_open(c->db_dir);
    if (!db) {
        args_free(&sources);
        return 1;
    }
    Args extras = command_line_extras(argc, argv);
    char *out = !c->output || strcmp(c->output, "-") == 0 ? NULL : path_absolute(c->output);
    if (c->output && !out)
        out = xstrdup("-");
    Units dumped = {0};
    int home = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int rc = home < 0;
    if (home < 0)
        error_plain("cannot open the current directory: %s", strerror(errno));
    for (int i = 0; home >= 0 && i < sources.n; i++) {
        CompileCommand e;
        if (!compile_db_find(db, sources.v[i], &e)) {
            rc = 1;
            continue;
        }
        int r = run_entry(&e, &extras, out, c->mode, prefix, &dumped);
        compile_command_free(&e);
        if (fchdir(home) != 0) {
            error_plain("cannot return to the first directory: %s", strerror(errno));
            r = 1;
            i = sources.n;
        }
        if (r && !rc)
            rc = r;
    }
    if (home >= 0)
        close(home);
    if (c->mode == MODE_DUMP) {
        finish_diagnostics();
        if (rc == 0 && !dump_write(&dumped, out))
            rc = 1;
        units_free(&dumped);
    }
    free(out);
    args_free(&extras);
    args_free(&sources);
    compile_db_close(db);
    return rc;
}

static int ptmcc_main(int argc, char **argv)
{
    Cmd c = {0};
    Args all = {0};
    all.n = expand_responses(argc, argv, &all.v);
    argc = all.n;
    argv = all.v;
    /* ptmcc clang-19 -c x.c: the first words name the backend; argv is
    ** then a view of all without them (all owns the strings) */
    int skip, words = launch_words(argc, argv, &skip);
    for (int i = 0; i < words; i++)
        args_push(&launch_cc, argv[1 + skip + i]);
    argc -= skip + words;
    argv = xcalloc((size_t)argc + 1, sizeof *argv);
    argv[0] = all.v[0];
    memcpy(argv + 1, all.v + 1 + skip + words, sizeof *argv * (size_t)(argc - 1));
    parse_cmd(argc, argv, &c, true);
    if (c.args.n == 0 && !c.db_dir && c.mode != MODE_DUMP && c.mode != MODE_EMIT) {
        print_usage(stderr);
        return 1;
    }
    char *prefix = prefix_dir();
    int rc;
    if (c.db_dir) {
        rc = from_database(&c, argc, argv, prefix);
    } else {
        Args inputs = c_inputs(&c);
        rc = run_mode(&c, &inputs, prefix);
        args_free(&inputs);
    }
    if (c.version)
        print_version();
    free(prefix);
    cmd_free(&c);
    free(argv);
    args_free(&launch_cc);
    args_free(&all);
    return rc;
}

int main(int argc, char **argv)
{
    return run_on_deep_stack(ptmcc_main, argc, argv);
}
