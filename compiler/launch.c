/*
** launch.c - ptmcc among the other tools of a build: the launcher
** convention (`ptmcc clang-19 -c x.c`, as ccache takes it), the backend's
** environment under an exec interceptor (bear), and the stable place of a
** rewritten copy that a caching backend (PTM_CC="ccache clang-19") can
** find again.  A driver-side file: no libclang.
*/
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ptmcc.h"
#include "ptmcc_config.h"

extern char **environ;

/* Inputs a compiler takes, never a compiler itself. */
static const char *const input_ext[] = {".c", ".h", ".i", ".s", ".S", ".o", ".a", ".so", ".lo",
                                        ".obj", ".cc", ".cpp", ".cxx", ".m", ".ll", ".bc"};

/* Launchers that take the compiler as their next word. */
static const char *const launchers[] = {"ccache", "sccache", "distcc", "icecc"};

static const char *base_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

static bool is_executable_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

/* found_in_path: the executable a bare name runs ($PATH searched), or
** NULL. */
static char *found_in_path(const char *name)
{
    const char *path = getenv("PATH");
    if (!path || !*path)
        path = "/usr/local/bin:/usr/bin:/bin";
    char *copy = xstrdup(path);
    char *hit = NULL;
    for (char *save, *d = strtok_r(copy, ":", &save); d && !hit; d = strtok_r(NULL, ":", &save)) {
        char *p = format("%s/%s", *d ? d : ".", name);
        if (is_executable_file(p))
            hit = p;
        else
            free(p);
    }
    free(copy);
    return hit;
}

/* is_self: whether exe is the running ptmcc (CC="ptmcc ptmcc" must not
** recurse). */
static bool is_self(const char *exe)
{
    char self[PATH_MAX], real[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0 || !realpath(exe, real))
        return false;
    self[n] = '\0';
    return strcmp(self, real) == 0;
}

/* names_compiler: whether the word a, first on the command line, is a
** compiler rather than an option or an input: not an option, not a file
** of an input's kind, and an executable (by its path, or found in $PATH
** for a bare name), as ccache decides.  *self is set when it is ptmcc. */
static bool names_compiler(const char *a, bool *self)
{
    *self = false;
    if (!*a || a[0] == '-' || a[0] == '@')
        return false;
    const char *dot = strrchr(base_of(a), '.');
    for (size_t i = 0; dot && i < sizeof input_ext / sizeof *input_ext; i++)
        if (strcmp(dot, input_ext[i]) == 0)
            return false;
    char *exe = strchr(a, '/') ? (is_executable_file(a) ? xstrdup(a) : NULL) : found_in_path(a);
    if (!exe)
        return false;
    *self = is_self(exe);
    free(exe);
    return true;
}

/*
** launch_words: how many words after argv[0] (past the *skip that name
** ptmcc itself) name the backend in the launcher convention: 0, 1
** (`ptmcc clang-19 ...`) or 2 (`ptmcc ccache clang-19 ...`).  OUT: *skip.
*/
int launch_words(int argc, char *const *argv, int *skip)
{
    int i = 1;
    *skip = 0;
    bool self;
    /* ptmcc ptmcc clang-19 ...: the repeated ptmcc is dropped. */
    while (i < argc && names_compiler(argv[i], &self) && self) {
        i++;
        ++*skip;
    }
    if (i >= argc || !names_compiler(argv[i], &self))
        return 0;
    int n = 1;
    for (size_t k = 0; k < sizeof launchers / sizeof *launchers; k++)
        if (strcmp(base_of(argv[i]), launchers[k]) == 0 && i + 1 < argc &&
            names_compiler(argv[i + 1], &self) && !self)
            n = 2;
    return n;
}

/*
** backend_caches: whether the backend command cmd (n words, past `env` and
** VAR=value words) starts with a caching or distributing launcher.
*/
bool backend_caches(const char *const *cmd, int n)
{
    for (int i = 0; i < n; i++) {
        const char *base = base_of(cmd[i]);
        if (strchr(base, '=')) /* env VAR=value */
            continue;
        for (size_t k = 0; k < sizeof launchers / sizeof *launchers; k++)
            if (strcmp(base, launchers[k]) == 0)
                return true;
        if (strcmp(base, "env") != 0)
            return false;
    }
    return false;
}

/* ---------------------------------------------------------------------
** Paths
*/

/*
** path_absolute: path made absolute against the current directory (before
** -p moves into an entry's directory).  Returns a copy to free.
*/
char *path_absolute(const char *path)
{
    if (path[0] == '/')
        return xstrdup(path);
    char cwd[PATH_MAX];
    if (!getcwd(cwd, sizeof cwd))
        return xstrdup(path);
    return format("%s/%s", cwd, path);
}

/*
** path_lexical: path made absolute against the current directory and
** without . and .. components, without following symlinks: the spelling
** clang's VFS looks a source up by.  Returns a copy to free.
*/
char *path_lexical(const char *path)
{
    char *abs = path_absolute(path);
    char **parts = xcalloc(strlen(abs) + 1, sizeof *parts);
    int n = 0;
    for (char *w = strtok(abs, "/"); w; w = strtok(NULL, "/")) {
        if (strcmp(w, ".") == 0)
            continue;
        if (strcmp(w, "..") == 0) {
            n -= n > 0;
            continue;
        }
        parts[n++] = w;
    }
    Buf b = {0};
    for (int i = 0; i < n; i++) {
        buf_puts(&b, "/");
        buf_puts(&b, parts[i]);
    }
    if (!b.data)
        buf_puts(&b, "/");
    free(parts);
    free(abs);
    return b.data;
}

/*
** tmp_base_dir: $TMPDIR, else /tmp, absolute.  Returns a copy to free.
*/
char *tmp_base_dir(void)
{
    const char *base = getenv("TMPDIR");
    return path_absolute(base && *base ? base : "/tmp");
}

/* ---------------------------------------------------------------------
** The backend's environment.  bear (and other exec interceptors) records
** every compiler a build runs; the backend commands ptmcc runs name
** temporary files (a VFS overlay, a rewritten copy) gone when ptmcc ends,
** so an entry for them in compile_commands.json would be a command no tool
** can run.  The user's own command, `ptmcc ...`, is the one to record:
** ptmcc runs its backend without the interceptor.
*/

/* is_interceptor_lib: whether a word of LD_PRELOAD is an exec
** interceptor's library (bear's libexec.so, intercept-build's libear). */
static bool is_interceptor_lib(const char *lib)
{
    const char *base = base_of(lib);
    return strstr(lib, "/bear/") != NULL || strcmp(base, "libear.so") == 0;
}

/* without_interceptors: LD_PRELOAD's words minus the interceptors', or
** NULL when it names none.  OUT: *left, whether any word is left. */
static char *without_interceptors(const char *preload, bool *left)
{
    Buf b = {0};
    bool hit = false;
    char *copy = xstrdup(preload);
    for (char *save, *w = strtok_r(copy, ": ", &save); w; w = strtok_r(NULL, ": ", &save)) {
        if (is_interceptor_lib(w)) {
            hit = true;
            continue;
        }
        if (b.len)
            buf_puts(&b, " ");
        buf_puts(&b, w);
    }
    free(copy);
    *left = b.len > 0;
    if (!hit) {
        buf_free(&b);
        return NULL;
    }
    buf_put(&b, "", 0);
    return b.data;
}

/*
** backend_environ: environ without an exec interceptor's LD_PRELOAD words
** and INTERCEPT_* variables; environ itself when none is preloaded.
** Computed once; the result lives for the process.
*/
char **backend_environ(void)
{
    static char **env;
    static bool done;
    if (done)
        return env ? env : environ;
    done = true;
    const char *preload = getenv("LD_PRELOAD");
    bool left = false;
    char *kept = preload ? without_interceptors(preload, &left) : NULL;
    if (!kept)
        return environ;
    size_t n = 0;
    while (environ[n])
        n++;
    env = xcalloc(n + 1, sizeof *env);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const char *e = environ[i];
        /* bear's report channel goes with its library */
        if (strncmp(e, "INTERCEPT_", 10) == 0)
            continue;
        if (strncmp(e, "LD_PRELOAD=", 11) == 0) {
            if (left)
                env[k++] = format("LD_PRELOAD=%s", kept);
            continue;
        }
        env[k++] = (char *)e;
    }
    free(kept);
    return env;
}

/*
** interceptor_preloaded: whether an exec interceptor is preloaded.
*/
bool interceptor_preloaded(void)
{
    return backend_environ() != environ;
}

/* redirect: fd opened on path (write, truncate), in a child before exec:
** async-signal-safe calls only. */
static void redirect(int fd, const char *path)
{
    int f = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (f >= 0 && f != fd) {
        dup2(f, fd);
        close(f);
    }
}

/*
** spawn_direct: runs argv with envp through the execve system call, its
** stdout and stderr to stdout_to and stderr_to when not NULL.  OUT: *pid.
** Returns 0, or the errno of the fork or the exec (the child reaped).
*/
int spawn_direct(char *const *argv, char *const *envp, const char *stdout_to,
                 const char *stderr_to, pid_t *pid)
{
    char *exe = strchr(argv[0], '/') ? xstrdup(argv[0]) : found_in_path(argv[0]);
    if (!exe)
        return ENOENT;
    int report[2]; /* the child's exec errno; closed by a successful exec */
    if (pipe2(report, O_CLOEXEC) != 0) {
        free(exe);
        return errno;
    }
    pid_t p = fork();
    if (p == 0) {
        /* Child */
        close(report[0]);
        if (stdout_to)
            redirect(STDOUT_FILENO, stdout_to);
        if (stderr_to)
            redirect(STDERR_FILENO, stderr_to);
        /* the system call itself: the interceptor wraps libc's execve */
        syscall(SYS_execve, exe, argv, envp);
        int e = errno;
        ssize_t w = write(report[1], &e, sizeof e);
        (void)w;
        _exit(127);
    }
    /* Parent (p is -1 when fork failed: err says why) */
    int err = p < 0 ? errno : 0;
    close(report[1]);
    free(exe);
    if (p > 0) {
        ssize_t r;
        while ((r = read(report[0], &err, sizeof err)) < 0 && errno == EINTR)
            ;
        if (r != (ssize_t)sizeof err)
            err = 0;
        else
            waitpid(p, NULL, 0);
    }
    close(report[0]);
    *pid = p;
    return err;
}

/* ---------------------------------------------------------------------
** A stable place for a rewritten copy.  A caching backend hashes the
** path of what it compiles (the copy's, in its preprocessed output's line
** markers and in -fdebug-prefix-map): a copy at a fresh random path every
** run would never be found again.  So a copy for such a backend is put at
** $TMPDIR/ptmcc-<uid>/<hash of the source's path and the rewritten text>/,
** the same path for the same text.
*/

/* text_hash: FNV-1a of the source's path and its rewritten text. */
static unsigned long long text_hash(const char *source, const char *text)
{
    unsigned long long h = 14695981039346656037ull;
    for (const char *s = source; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    h = (h ^ 0xff) * 1099511628211ull;
    for (const char *s = text; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

/* own_dir: whether dir is a directory (not a symlink) of this user, mode
** 0700: the parent of the stable copies, in a shared /tmp. */
static bool own_dir(const char *dir)
{
    struct stat st;
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return false;
    return lstat(dir, &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == geteuid() &&
           (st.st_mode & 077) == 0;
}

/*
** stable_copy_dir: a new directory <tmp_base>/ptmcc-<uid>/<hash>, the same
** for the same source and text, or NULL (in use, or the parent not this
** user's own).  Returns a path to free.
*/
char *stable_copy_dir(const char *tmp_base, const char *source, const char *text)
{
    char *parent = format("%s/ptmcc-%u", tmp_base, (unsigned)geteuid());
    char *dir = NULL;
    if (own_dir(parent)) {
        dir = format("%s/%016llx", parent, text_hash(source, text));
        /* Taken: the same text compiled at this moment by another ptmcc,
        ** which removes it when done.  The caller uses a fresh path. */
        if (mkdir(dir, 0700) != 0) {
            free(dir);
            dir = NULL;
        }
    }
    free(parent);
    return dir;
}

/*
** print_usage: ptmcc --help's text, to out.
*/
void print_usage(FILE *out)
{
    fputs("usage: ptmcc [cc options] file...\n"
          "       ptmcc <compiler> [cc options] file...   (a launcher, as ccache)\n"
          "       ptmcc --emit-source file.c [-o out.c]\n"
          "       ptmcc --dump-annotations file.c...\n"
          "       ptmcc -p <build-dir> file.c... [ptmcc options]\n"
          "\n"
          "Compiles C like the backend compiler, first rewriting functions marked\n"
          "PTM_TRANSACTION(...) into a primary, a mirror and a wrapper that calls\n"
          "libptm; links libptm when linking.  Every cc option passes through; -E,\n"
          "-S, -M and -MD output name your source.  The backend is the compiler\n"
          "named first (ptmcc clang-19 -c x.c; CMAKE_C_COMPILER_LAUNCHER=ptmcc,\n"
          "CC=\"ptmcc gcc\"), else $PTM_CC, else " PTM_DEFAULT_CC ".\n"
          "\n"
          "ptmcc options:\n"
          "  --emit-source        write the rewritten C instead of compiling\n"
          "  --dump-annotations   print each transaction's metadata as JSON\n"
          "  --verify-mirror      prove on LLVM bitcode that no mirror reaches raw I/O\n"
          "  -p <build-dir>       take each file's flags from <build-dir>/compile_commands.json\n"
          "                       and compile it as that entry says (in its directory, to its\n"
          "                       output); with --emit-source or --dump-annotations, write to\n"
          "                       stdout or -o.  Other cc options given here are added after\n"
          "                       the entry's (relative paths in them are read from the\n"
          "                       entry's directory).  -p is this only when a directory\n"
          "                       follows (or as -p=<build-dir>); else it is cc's -p\n"
          "  -fptm-mirror-all     give every function of the file a mirror clone for the\n"
          "                       mirrors of other files, and send a mirror's calls of\n"
          "                       other files' functions to their clones (build the whole\n"
          "                       project with it); -fno-ptm-mirror-all: off (default)\n"
          "  -Wptm, -Wptm-<group>, -Wno-ptm-<group>, -Werror=ptm[-<group>]\n"
          "                       ptmcc's warnings (groups: unknown-external,\n"
          "                       function-pointer, uncloneable, static-copy,\n"
          "                       unverifiable, unnoted)\n"
          "  --ptm-verbose        print the backend commands on stderr\n"
          "  -fdiagnostics-format=json   diagnostics of ptmcc as JSON\n"
          "  --help               this summary\n"
          "  --version            the backend's --version, then PTM's version, its ABI\n"
          "                       version and the backend\n"
          "\n"
          "Environment: PTM_CC (the backend), PTM_PREFIX (where ptm.h and libptm are;\n"
          "default: the prefix ptmcc runs from).  See ptmcc(1), ptm(7), ptm-rules(5).\n",
          out);
}
