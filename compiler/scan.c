/*
** scan.c - the cheap text scan that lets ptmcc hand a unit without
** annotations to the backend compiler untouched, without a libclang parse.
**
** A unit can only hold a transaction (or a PTM_MIRRORABLE function, whose
** clone other files' mirrors call) if its text, or a header it includes,
** names PTM_TRANSACTION (or PTM_MIRRORABLE): the user may wrap the
** annotation in a macro of their own, defined in a header.  Headers are
** searched in the source's directory and the directories the user named
** (-I, -iquote, -isystem, -idirafter, CPATH, C_INCLUDE_PATH; driver.c);
** the compiler's own system directories are not (the annotation lives in
** user code), and ptm.h itself does not count.
**
** A unit is parsed too when it names a note row of runtime/calls.def
** (sqlite3_busy_timeout): its calls in host code go to ptm_note_<name>
** (emit.c).  In the source, any mention counts; in a header (or a file of
** -include), only one in a macro's definition.  The name is searched as
** text, so a comment or a declaration in the source costs a parse that
** ends in no rewrite: a unit that names none of them costs one more strstr
** per file than before, and nothing else.
*/
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ptmcc.h"

#define MAX_DEPTH 32
#define MARKER "PTM_TRANSACTION"
#define MARKER_CLONE "PTM_MIRRORABLE" /* a clone for other files' mirrors */

typedef struct Scan {
    const char *const *dirs;
    int ndirs;
    char **seen;
    int nseen;
} Scan;

static bool seen_before(Scan *s, const char *path)
{
    for (int i = 0; i < s->nseen; i++)
        if (strcmp(s->seen[i], path) == 0)
            return true;
    s->seen = xrealloc(s->seen, sizeof *s->seen * (size_t)(s->nseen + 1));
    s->seen[s->nseen++] = xstrdup(path);
    return false;
}

/* find_header: the path of an included name, or NULL when it is not in the
** including file's directory or the given directories. */
static char *find_header(Scan *s, const char *includer, const char *name)
{
    const char *slash = strrchr(includer, '/');
    char *p = slash ? format("%.*s/%s", (int)(slash - includer), includer, name) : xstrdup(name);
    if (access(p, R_OK) == 0)
        return p;
    free(p);
    for (int i = 0; i < s->ndirs; i++) {
        p = format("%s/%s", s->dirs[i], name);
        if (access(p, R_OK) == 0)
            return p;
        free(p);
    }
    return NULL;
}

static bool is_ptm_header(const char *path)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    return strcmp(base, "ptm.h") == 0 || strcmp(base, "ptm_gen.h") == 0;
}

/* included_name: the name in an #include line starting at p, or NULL. */
static char *included_name(const char *p)
{
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p != '#')
        return NULL;
    p++;
    while (*p == ' ' || *p == '\t')
        p++;
    if (strncmp(p, "include", 7) != 0)
        return NULL;
    p += 7;
    while (*p == ' ' || *p == '\t')
        p++;
    char close = *p == '"' ? '"' : *p == '<' ? '>' : 0;
    if (!close)
        return NULL;
    const char *end = strchr(p + 1, close);
    const char *nl = strchr(p + 1, '\n');
    if (!end || (nl && nl < end))
        return NULL;
    return xstrndup(p + 1, (size_t)(end - p - 1));
}

/* in_macro_definition: whether at, in text, is on a #define's logical
** line (continuations included). */
static bool in_macro_definition(const char *text, const char *at)
{
    const char *bol = at;
    while (bol > text && !(bol[-1] == '\n' && (bol - 1 == text || bol[-2] != '\\')))
        bol--;
    while (*bol == ' ' || *bol == '\t')
        bol++;
    if (*bol++ != '#')
        return false;
    while (*bol == ' ' || *bol == '\t')
        bol++;
    return strncmp(bol, "define", 6) == 0;
}

/* names_a_note: whether text names a note row's function.  In a header,
** only a macro's definition counts: a header's declaration is no call, and
** its inline functions are compiled before ptmcc's renaming starts (emit.c),
** so that a unit that includes a library's header from an -I directory
** (SQLite's amalgamation) is not parsed for it. */
static bool names_a_note(const char *text, bool header)
{
    for (const char *const *n = call_note_names(); *n; n++)
        for (const char *at = strstr(text, *n); at; at = strstr(at + 1, *n))
            if (!header || in_macro_definition(text, at))
                return true;
    return false;
}

/* scan_file: what path and the headers it includes name; a note row's
** name does not end the walk (an annotation may come later), an
** annotation does. */
static ScanHit scan_file(Scan *s, const char *path, int depth, bool header)
{
    if (depth > MAX_DEPTH || seen_before(s, path))
        return SCAN_NONE;
    SrcFile *f = src_load(path);
    if (!f)
        return SCAN_NONE;
    ScanHit hit = SCAN_NONE;
    if (!is_ptm_header(path)) {
        if (strstr(f->text, MARKER) || strstr(f->text, MARKER_CLONE))
            return SCAN_PTM;
        if (names_a_note(f->text, header))
            hit = SCAN_NOTES;
    }
    for (const char *line = f->text; line && *line; line = strchr(line, '\n')) {
        if (*line == '\n')
            line++;
        char *name = included_name(line);
        if (!name)
            continue;
        if (is_ptm_header(name) && hit < SCAN_API)
            hit = SCAN_API;
        char *found = find_header(s, path, name);
        free(name);
        ScanHit in = found && !is_ptm_header(found) ? scan_file(s, found, depth + 1, true) : SCAN_NONE;
        free(found);
        if (in == SCAN_PTM)
            return SCAN_PTM;
        if (in > hit)
            hit = in;
    }
    return hit;
}

ScanHit scan_mentions_ptm(const char *path, const char *const *incdirs, int n, bool forced)
{
    Scan s = {incdirs, n, NULL, 0};
    ScanHit hit = scan_file(&s, path, 0, forced);
    for (int i = 0; i < s.nseen; i++)
        free(s.seen[i]);
    free(s.seen);
    return hit;
}
