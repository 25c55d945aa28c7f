/*
** link_libs.c - what ptmcc adds to a link: libptm and the libraries it
** needs, and whether an option of the command can add an input the link
** reads (then the link cannot be known to need none of them); and the
** argument lists the driver builds commands in.  A driver-side file: no
** libclang.
*/
#include <stdlib.h>
#include <string.h>

#include "ptmcc.h"
#include "ptmcc_config.h"

/* args_push: appends a copy of s to a (still NULL-terminated). */
void args_push(Args *a, const char *s)
{
    a->v = xrealloc(a->v, sizeof *a->v * (size_t)(a->n + 2));
    a->v[a->n++] = xstrdup(s);
    a->v[a->n] = NULL;
}

/* args_free: frees a's strings and list, and empties it. */
void args_free(Args *a)
{
    for (int i = 0; i < a->n; i++)
        free(a->v[i]);
    free(a->v);
    *a = (Args){0};
}

/* split_words: appends the blank-separated words of s to a. */
void split_words(Args *a, const char *s)
{
    char *copy = xstrdup(s);
    for (char *w = strtok(copy, " \t"); w; w = strtok(NULL, " \t"))
        args_push(a, w);
    free(copy);
}

/* link_option_adds_input: whether the option a can add an input to a
** link: a library (-l: it may hold transactions), the linker's own
** options (-Wl, -Xlinker), a linker script (-T). */
bool link_option_adds_input(const char *a)
{
    return strncmp(a, "-l", 2) == 0 || strncmp(a, "-Wl", 3) == 0 ||
           strcmp(a, "-Xlinker") == 0 || strncmp(a, "-T", 2) == 0;
}

/* links_sqlite: whether the link line names SQLite's library: then
** libptm_sqlite's members, which call it, need it after them. */
static bool links_sqlite(const Args *cmd)
{
    for (int i = 0; i < cmd->n; i++) {
        const char *a = cmd->v[i], *base = strrchr(a, '/');
        base = base ? base + 1 : a;
        if (strcmp(a, "-lsqlite3") == 0 || strncmp(base, "libsqlite3.", 11) == 0)
            return true;
    }
    return false;
}

/* add_link_libs: libptm and what it needs.  --as-needed keeps a program
** that uses no transaction free of libptm's shared libraries.
** libptm_sqlite (the SQLite shims) comes before libptm, whose symbols it
** uses; an archive, it adds nothing to a program that calls no SQLite in a
** mirror. */
void add_link_libs(Args *cmd, const char *prefix)
{
    char *libdir = format("-L%s/lib", prefix);
    bool is_static = false, is_shared = false, sqlite = links_sqlite(cmd);
    for (int i = 0; i < cmd->n; i++) {
        if (strcmp(cmd->v[i], "-static") == 0 || strcmp(cmd->v[i], "-static-pie") == 0)
            is_static = true;
        if (strcmp(cmd->v[i], "-shared") == 0)
            is_shared = true;
    }
    args_push(cmd, libdir);
    free(libdir);
    /* A shared object's libptm is its own, hidden: no ptm_* (nor its
    ** longjmp) is exported, so the program's copy, or another library's,
    ** cannot interpose it; the copies share what must be shared through
    ** runtime/peers.c (docs/DESIGN.md §9). */
    if (is_shared)
        args_push(cmd, "-Wl,--exclude-libs,libptm.a:libptm_jump.a:libptm_sqlite.a");
    args_push(cmd, "-Wl,--push-state,--as-needed");
    args_push(cmd, "-lptm_sqlite");
    if (sqlite)
        args_push(cmd, "-lsqlite3");
    if (is_static) {
        /* libc.a's __longjmp_chk is not weak: libptm's jump functions
        ** come first, for any program that jumps.  They jump through
        ** libc's under glibc's internal name, linked in. */
        args_push(cmd, "-Wl,--start-group");
        args_push(cmd, "-lptm");
        args_push(cmd, "-lptm_jump");
        args_push(cmd, "-Wl,--end-group");
        args_push(cmd, "-Wl,-u,__libc_siglongjmp");
        split_words(cmd, PTM_LINK_LIBS);
    } else {
        /* After libc: a program's longjmp is libptm's (runtime/longjmp_api.c)
        ** only when it links libptm, which refers to them; one without a
        ** transaction keeps libc's and links nothing of PTM. */
        args_push(cmd, "-lptm");
        split_words(cmd, PTM_LINK_LIBS);
        args_push(cmd, "-lc");
        args_push(cmd, "-lptm_jump");
    }
    args_push(cmd, "-Wl,--pop-state");
}
