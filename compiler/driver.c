/*
** driver.c - ptmcc, a compiler driver in the spirit of ccache: it takes cc
** arguments, rewrites the C sources that hold transactions, and runs the
** backend compiler ($PTM_CC, default clang-19) on the result with the same
** arguments.  Sources without an annotation reach the backend untouched;
** when linking, libptm and its dependencies are added.
**
**   ptmcc [cc flags] -c x.c -o x.o
**   ptmcc x.o y.o -o app
**   ptmcc --emit-source x.c -o x.ptm.c     the rewritten C
**   ptmcc --dump-annotations x.c           the parsed metadata, as JSON
*/
#include <errno.h>
#include <limits.h>
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

typedef enum { MODE_LINK, MODE_COMPILE, MODE_EMIT, MODE_DUMP } Mode;

/* A list of argument strings. */
typedef struct Args {
    char **v;
    int n;
} Args;

static void push(Args *a, const char *s)
{
    a->v = xrealloc(a->v, sizeof *a->v * (size_t)(a->n + 2));
    a->v[a->n++] = xstrdup(s);
    a->v[a->n] = NULL;
}

static void args_free(Args *a)
{
    for (int i = 0; i < a->n; i++)
        free(a->v[i]);
    free(a->v);
    *a = (Args){0};
}

/* What the command line says. */
typedef struct Cmd {
    Args args;          /* the cc arguments, ptmcc's own removed */
    Mode mode;
    bool only_compile;  /* -c -S -E -M -MM -fsyntax-only: no link step */
    bool verbose;
    const char *output; /* -o */
    const char *dep_file; /* -MF */
    bool deps;          /* -MD or -MMD */
    Args incdirs;       /* -I and -iquote directories, for the scan */
} Cmd;

/* Options whose value is the next argument. */
static const char *const takes_value[] = {
    "-o", "-I", "-D", "-U", "-include", "-imacros", "-isystem", "-iquote", "-idirafter",
    "-iprefix", "-iwithprefix", "-iwithprefixbefore", "-isysroot", "-MF", "-MT", "-MQ",
    "-x", "-L", "-l", "-Xlinker", "-Xpreprocessor", "-Xassembler", "-Xclang", "-target",
    "-arch", "-T", "-u", "-z", "-aux-info", "--param", "-mllvm", "-dependency-file",
    "-serialize-diagnostics", "-include-pch", "-Xanalyzer",
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
    static const char *const with_value[] = {"-o", "-MF", "-MT", "-MQ", "-L", "-l", "-Xlinker",
                                             "-dependency-file", "-serialize-diagnostics", "-T",
                                             "-u", "-z"};
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
           strncmp(a, "-MT", 3) == 0 || strncmp(a, "-MQ", 3) == 0 ||
           strncmp(a, "-save-temps=", 12) == 0;
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

static void usage(FILE *out)
{
    fputs("usage: ptmcc [cc options] file...\n"
          "       ptmcc --emit-source file.c [-o out.c]\n"
          "       ptmcc --dump-annotations file.c...\n"
          "\n"
          "Compiles C like the backend compiler ($PTM_CC, default " PTM_DEFAULT_CC "), first\n"
          "rewriting functions marked PTM_TRANSACTION(...) into a primary, a mirror\n"
          "and a wrapper that calls libptm; links libptm when linking.\n"
          "\n"
          "ptmcc options:\n"
          "  --emit-source        write the rewritten C instead of compiling\n"
          "  --dump-annotations   print each transaction's metadata as JSON\n"
          "  --ptm-verbose        print the backend commands on stderr\n"
          "  -fdiagnostics-format=json   diagnostics of ptmcc as JSON\n"
          "  --help, --version\n",
          out);
}

/* parse_cmd: splits argv into ptmcc's options and the cc arguments. */
static void parse_cmd(int argc, char **argv, Cmd *c)
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
            usage(stdout);
            exit(0);
        }
        if (strcmp(a, "--version") == 0) {
            printf("ptmcc (PTM) " PTM_VERSION_STRING "\n");
            fflush(stdout);
        }
        if (strcmp(a, "-c") == 0 || strcmp(a, "-S") == 0 || strcmp(a, "-E") == 0 ||
            strcmp(a, "-M") == 0 || strcmp(a, "-MM") == 0 || strcmp(a, "-fsyntax-only") == 0)
            c->only_compile = true;
        if (strcmp(a, "-MD") == 0 || strcmp(a, "-MMD") == 0)
            c->deps = true;
        push(&c->args, a);
        if (option_takes_value(a) && i + 1 < argc) {
            const char *v = argv[++i];
            push(&c->args, v);
            if (strcmp(a, "-o") == 0)
                c->output = v;
            else if (strcmp(a, "-MF") == 0)
                c->dep_file = v;
            else if (strcmp(a, "-I") == 0 || strcmp(a, "-iquote") == 0)
                push(&c->incdirs, v);
        } else if (strncmp(a, "-I", 2) == 0 && a[2]) {
            push(&c->incdirs, a + 2);
        } else if (strncmp(a, "-o", 2) == 0 && a[2]) {
            c->output = a + 2;
        }
    }
    if (c->mode == MODE_LINK && c->only_compile)
        c->mode = MODE_COMPILE;
}

/* ---------------------------------------------------------------------
** Where ptmcc's own files are: <prefix>/bin/ptmcc, <prefix>/include/ptm.h,
** <prefix>/lib/libptm.a, both in the build tree and once installed.
*/
static char *prefix_dir(void)
{
    const char *home = getenv("PTM_HOME");
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
** Temporary files: one directory per run, removed at exit.
*/
static char *tmp_dir;
static Args tmp_files;

static void remove_temps(void)
{
    for (int i = 0; i < tmp_files.n; i++)
        unlink(tmp_files.v[i]);
    if (tmp_dir)
        rmdir(tmp_dir);
}

/* tmp_path: a path in the temporary directory with the given base name, so
** that outputs named after the source (x.o, x.d) keep their names. */
static char *tmp_path(const char *source)
{
    if (!tmp_dir) {
        const char *base = getenv("TMPDIR");
        char *templ = format("%s/ptmcc.XXXXXX", base && *base ? base : "/tmp");
        if (!mkdtemp(templ)) {
            error_plain("cannot create a temporary directory: %s", strerror(errno));
            exit(1);
        }
        tmp_dir = templ;
        atexit(remove_temps);
    }
    const char *name = strrchr(source, '/');
    name = name ? name + 1 : source;
    char *p = format("%s/%s", tmp_dir, name);
    push(&tmp_files, p);
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

/* parse_args: the arguments libclang parses a source with: the cc flags
** minus inputs, outputs and link flags, plus ptmcc's own. */
static Args parse_args(const Cmd *c, const char *incdir)
{
    Args p = {0};
    const char *resource = getenv("PTM_CLANG_RESOURCE_DIR");
    push(&p, "-resource-dir");
    push(&p, resource && *resource ? resource : PTM_CLANG_RESOURCE_DIR);
    push(&p, "-D__PTMCC__=1");
    push(&p, "-isystem");
    push(&p, incdir);
    /* Warnings are the backend's to report, on the rewritten code; here
    ** -Werror must not make them errors that stop the rewrite. */
    push(&p, "-w");
    for (int i = 0; i < c->args.n; i++) {
        const char *a = c->args.v[i];
        bool drop_value;
        if (parse_drops(a, &drop_value)) {
            i += drop_value;
            continue;
        }
        if (a[0] != '-' || strcmp(a, "-") == 0)
            continue; /* an input */
        push(&p, a);
        if (option_takes_value(a) && i + 1 < c->args.n)
            push(&p, c->args.v[++i]);
    }
    return p;
}

/* rewrite: parses a source and, when it holds transactions, writes its
** rewritten text.  OUT: *text (NULL: nothing to rewrite).  Returns false
** after errors. */
static bool rewrite(const Cmd *c, const char *source, const char *incdir, char **text,
                    Unit **unit_out)
{
    *text = NULL;
    if (!scan_mentions_ptm(source, (const char *const *)c->incdirs.v, c->incdirs.n))
        return true;
    Args p = parse_args(c, incdir);
    Unit *u = front_parse(source, (const char *const *)p.v, p.n);
    args_free(&p);
    if (!u)
        return false;
    if (u->nfuncs)
        *text = emit_unit(u, source);
    if (unit_out)
        *unit_out = u;
    else
        unit_free(u);
    return true;
}

/* ---------------------------------------------------------------------
** The backend
*/
static void split_words(Args *a, const char *s)
{
    char *copy = xstrdup(s);
    for (char *w = strtok(copy, " \t"); w; w = strtok(NULL, " \t"))
        push(a, w);
    free(copy);
}

/* run: runs a command and waits.  Returns its exit status (128 + signal
** when it was killed). */
static int run(const Args *cmd, bool verbose)
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

/* fix_dep_file: a dependency file written for a rewritten source names the
** temporary copy; make it name the user's source again. */
static void fix_dep_file(const char *dep, const char *tmp, const char *source)
{
    SrcFile *f = src_load(dep);
    if (!f)
        return;
    Buf b = {0};
    size_t n = strlen(tmp);
    for (const char *p = f->text; *p;) {
        const char *hit = strstr(p, tmp);
        if (!hit) {
            buf_puts(&b, p);
            break;
        }
        buf_put(&b, p, (size_t)(hit - p));
        buf_puts(&b, source);
        p = hit + n;
    }
    write_file(dep, b.data ? b.data : "");
    buf_free(&b);
}

/* dep_file_of: where the backend writes -MD output for a source. */
static char *dep_file_of(const Cmd *c, const char *source)
{
    if (c->dep_file)
        return xstrdup(c->dep_file);
    const char *base = c->output;
    if (!base) {
        base = strrchr(source, '/');
        base = base ? base + 1 : source;
    }
    const char *dot = strrchr(base, '.');
    const char *slash = strrchr(base, '/');
    size_t stem = dot && (!slash || dot > slash) ? (size_t)(dot - base) : strlen(base);
    return format("%.*s.d", (int)stem, base);
}

static int compile(Cmd *c, const char *prefix)
{
    char *incdir = format("%s/include", prefix);
    Args cmd = {0};
    const char *cc = getenv("PTM_CC");
    split_words(&cmd, cc && *cc ? cc : PTM_DEFAULT_CC);
    push(&cmd, "-D__PTMCC__=1");
    push(&cmd, "-isystem");
    push(&cmd, incdir);

    Args originals = {0}, temps = {0};
    const char *lang = NULL;
    int ninputs = 0;
    bool failed = false;
    for (int i = 0; i < c->args.n; i++) {
        const char *a = c->args.v[i];
        if (a[0] == '-' && strcmp(a, "-") != 0) {
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
        if (strcmp(a, "-") == 0 || !is_c_source(a, lang))
            continue;
        char *text;
        if (!rewrite(c, a, incdir, &text, NULL)) {
            failed = true;
            continue;
        }
        if (!text)
            continue;
        char *tmp = tmp_path(a);
        if (!write_file(tmp, text))
            failed = true;
        free(text);
        char *dir = xstrdup(a);
        char *slash = strrchr(dir, '/');
        if (slash)
            *slash = '\0';
        push(&cmd, "-iquote");
        push(&cmd, slash ? dir : ".");
        free(dir);
        push(&originals, a);
        push(&temps, tmp);
        free(c->args.v[i]);
        c->args.v[i] = tmp;
    }
    finish_diagnostics();
    if (failed) {
        args_free(&cmd);
        args_free(&originals);
        args_free(&temps);
        free(incdir);
        return 1;
    }

    for (int i = 0; i < c->args.n; i++)
        push(&cmd, c->args.v[i]);
    if (c->mode == MODE_LINK && ninputs > 0) {
        char *libdir = format("-L%s/lib", prefix);
        push(&cmd, libdir);
        free(libdir);
        split_words(&cmd, PTM_LINK_LIBS);
    }
    int rc = run(&cmd, c->verbose);
    if (rc == 0 && c->deps)
        for (int i = 0; i < temps.n; i++) {
            char *dep = dep_file_of(c, originals.v[i]);
            fix_dep_file(dep, temps.v[i], originals.v[i]);
            free(dep);
        }
    args_free(&cmd);
    args_free(&originals);
    args_free(&temps);
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
        push(&in, a);
    }
    return in;
}

static int emit_source(const Cmd *c, const char *prefix)
{
    Args in = c_inputs(c);
    if (in.n != 1) {
        error_plain("--emit-source takes exactly one C source, not %d", in.n);
        args_free(&in);
        return 1;
    }
    char *incdir = format("%s/include", prefix);
    char *text;
    bool ok = rewrite(c, in.v[0], incdir, &text, NULL);
    finish_diagnostics();
    free(incdir);
    if (ok && !text) {
        SrcFile *f = src_load(in.v[0]);
        if (f)
            text = xstrdup(f->text);
        else
            error_plain("cannot read '%s'", in.v[0]);
    }
    ok = ok && text && write_file(c->output ? c->output : "-", text);
    free(text);
    args_free(&in);
    return ok ? 0 : 1;
}

static int dump(const Cmd *c, const char *prefix)
{
    Args in = c_inputs(c);
    char *incdir = format("%s/include", prefix);
    Args p = parse_args(c, incdir);
    free(incdir);
    bool ok = in.n > 0;
    if (!ok)
        error_plain("--dump-annotations needs a C source");
    Unit **units = xcalloc((size_t)in.n + 1, sizeof *units);
    Unit all = {0};
    for (int i = 0; i < in.n; i++) {
        Unit *u = units[i] = front_parse(in.v[i], (const char *const *)p.v, p.n);
        if (!u) {
            ok = false;
            continue;
        }
        all.funcs = xrealloc(all.funcs, sizeof *all.funcs * (size_t)(all.nfuncs + u->nfuncs + 1));
        memcpy(all.funcs + all.nfuncs, u->funcs, sizeof *u->funcs * (size_t)u->nfuncs);
        all.nfuncs += u->nfuncs;
    }
    finish_diagnostics();
    FILE *out = ok ? (c->output ? fopen(c->output, "w") : stdout) : NULL;
    if (ok && !out) {
        error_plain("cannot write '%s': %s", c->output, strerror(errno));
        ok = false;
    }
    if (out) {
        dump_annotations(&all, out);
        ok = (out == stdout ? fflush(out) : fclose(out)) == 0;
    }
    free(all.funcs); /* shallow: the functions belong to the units */
    for (int i = 0; i < in.n; i++)
        unit_free(units[i]);
    free(units);
    args_free(&in);
    args_free(&p);
    return ok ? 0 : 1;
}

int main(int argc, char **argv)
{
    Cmd c = {0};
    parse_cmd(argc, argv, &c);
    if (c.args.n == 0 && c.mode != MODE_DUMP && c.mode != MODE_EMIT) {
        usage(stderr);
        return 1;
    }
    char *prefix = prefix_dir();
    int rc;
    switch (c.mode) {
    case MODE_EMIT: rc = emit_source(&c, prefix); break;
    case MODE_DUMP: rc = dump(&c, prefix); break;
    default: rc = compile(&c, prefix); break;
    }
    free(prefix);
    args_free(&c.args);
    args_free(&c.incdirs);
    return rc;
}
