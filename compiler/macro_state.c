/*
** macro_state.c - the macros in force where a function is, restored
** around its clone.
**
** The clones go to the end of the file (emit.c), where a macro the file
** defines again or undefines after the function would expand otherwise
** than in the function: a clone would then run code that ptmcc never
** looked at (#define M(p) ((p) + 1) before the function, #undef M and
** #define M(p) (host = (p)) after it: the inline mirror stored into the
** host's memory).  So each clone of a function of the main file is
** preceded by, for each macro that a directive at or after the function's
** start defines or undefines, and that the function's text or a user
** macro's body names: #pragma push_macro, #undef, and the definition in
** force at the function's start (its text, copied), if any; and followed
** by the pop_macro.  A macro that the function's own text defines again
** is refused by macro_body.c when the clone must rewrite it; else the
** clone's text replays that directive as the function did.
**
** Where a definition is: its offset in the main file, or that of the
** #include that brought it in (the translation unit's cursors come in
** source order).  #undef has no cursor: the main file's text is read for
** it.  Not followed: an #undef in a header included after the function,
** and a macro with a -D or built-in definition (no text to copy: its clone
** keeps what the end of the file has).
*/
#include <stdlib.h>
#include <string.h>

#include <clang-c/Index.h>

#include "ptmcc.h"

/* One definition, in the order of the unit. */
typedef struct StateDef {
    char *name;
    size_t at;        /* its place in the main file (see the header) */
    const char *text; /* its file's text */
    unsigned start, end;
    bool system;
} StateDef;

static struct {
    CXTranslationUnit tu;
    StateDef *defs;
    int n, cap;
    size_t include_at; /* the last #include of the main file seen */
} State;

static enum CXChildVisitResult collect(CXCursor c, CXCursor parent, CXClientData data)
{
    (void)parent;
    CXTranslationUnit tu = data;
    enum CXCursorKind k = clang_getCursorKind(c);
    CXSourceLocation loc = clang_getCursorLocation(c);
    CXFile f;
    unsigned off;
    clang_getSpellingLocation(loc, &f, NULL, NULL, &off);
    bool main_file = clang_Location_isFromMainFile(loc) != 0;
    if (k == CXCursor_InclusionDirective && main_file)
        State.include_at = off;
    if (k != CXCursor_MacroDefinition)
        return CXChildVisit_Continue;
    CXSourceRange ext = clang_getCursorExtent(c);
    unsigned s, e;
    clang_getSpellingLocation(clang_getRangeStart(ext), NULL, NULL, NULL, &s);
    clang_getSpellingLocation(clang_getRangeEnd(ext), NULL, NULL, NULL, &e);
    size_t len = 0;
    const char *text = file_text(tu, f, &len);
    if (!text || e > len || s >= e)
        text = NULL; /* a built-in or -D definition: no text to copy */
    if (State.n == State.cap) {
        State.cap = State.cap ? 2 * State.cap : 256;
        State.defs = xrealloc(State.defs, sizeof *State.defs * (size_t)State.cap);
    }
    State.defs[State.n++] =
        (StateDef){spelling(c), main_file ? off : State.include_at, text, s, e,
                   clang_Location_isInSystemHeader(loc) != 0};
    return CXChildVisit_Continue;
}

static void load(CXTranslationUnit tu)
{
    if (State.tu == tu)
        return;
    for (int i = 0; i < State.n; i++)
        free(State.defs[i].name);
    State.tu = tu;
    State.n = 0;
    State.include_at = 0;
    clang_visitChildren(clang_getTranslationUnitCursor(tu), collect, tu);
}

static bool ident_char(char c)
{
    return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* names: whether t[lo, hi) holds the identifier name. */
static bool names(const char *t, size_t lo, size_t hi, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = lo; i + n <= hi; i++)
        if (memcmp(t + i, name, n) == 0 && (i == 0 || !ident_char(t[i - 1])) &&
            (i + n == hi || !ident_char(t[i + n])))
            return true;
    return false;
}

/* directive_at: when a line of t starts at i with #define or #undef (kind
** 'd' or 'u'), the name it defines, [*ns, *ne).  False: no such line. */
static bool directive_at(const char *t, size_t len, size_t i, char *kind, size_t *ns, size_t *ne)
{
    while (i < len && (t[i] == ' ' || t[i] == '\t'))
        i++;
    if (i >= len || t[i] != '#')
        return false;
    for (i++; i < len && (t[i] == ' ' || t[i] == '\t'); i++)
        ;
    size_t w = i;
    while (i < len && ident_char(t[i]))
        i++;
    if (i - w == 6 && memcmp(t + w, "define", 6) == 0)
        *kind = 'd';
    else if (i - w == 5 && memcmp(t + w, "undef", 5) == 0)
        *kind = 'u';
    else
        return false;
    while (i < len && (t[i] == ' ' || t[i] == '\t'))
        i++;
    *ns = i;
    while (i < len && ident_char(t[i]))
        i++;
    *ne = i;
    return *ne > *ns;
}

/* directive_between: whether a line of [lo, hi) of file is a #define or
** #undef of name, of a kind in kinds ("u", "du"). */
static bool directive_between(const SrcFile *file, size_t lo, size_t hi, const char *name,
                              const char *kinds)
{
    size_t n = strlen(name);
    for (size_t i = lo; i < hi && i < file->len; i++) {
        if (i > 0 && file->text[i - 1] != '\n')
            continue;
        char kind;
        size_t ns, ne;
        if (directive_at(file->text, file->len, i, &kind, &ns, &ne) && strchr(kinds, kind) &&
            ne - ns == n && memcmp(file->text + ns, name, n) == 0)
            return true;
    }
    return false;
}

bool macro_directive_in(const SrcFile *file, size_t lo, size_t hi, const char *name)
{
    return directive_between(file, lo, hi, name, "du");
}

/* add_name: name into the list *v of *n (once). */
static void add_name(char ***v, int *n, const char *name, size_t len)
{
    for (int i = 0; i < *n; i++)
        if (strlen((*v)[i]) == len && memcmp((*v)[i], name, len) == 0)
            return;
    *v = xrealloc(*v, sizeof **v * (size_t)(*n + 1));
    (*v)[(*n)++] = xstrndup(name, len);
}

/* used: whether the function's text [lo, hi) of main, or a user macro's
** body, names name. */
static bool used(const SrcFile *main, size_t lo, size_t hi, const char *name)
{
    if (names(main->text, lo, hi < main->len ? hi : main->len, name))
        return true;
    for (int i = 0; i < State.n; i++)
        if (!State.defs[i].system && State.defs[i].text &&
            names(State.defs[i].text, State.defs[i].start, State.defs[i].end, name) &&
            strcmp(State.defs[i].name, name) != 0)
            return true;
    return false;
}

char *macro_state_at(CXTranslationUnit tu, const SrcFile *main, size_t lo, size_t hi,
                     char **pops)
{
    load(tu);
    char **later = NULL;
    int nlater = 0;
    for (int i = 0; i < State.n; i++)
        if (State.defs[i].at >= lo)
            add_name(&later, &nlater, State.defs[i].name, strlen(State.defs[i].name));
    for (size_t i = lo; i < main->len; i++) {
        char kind;
        size_t ns, ne;
        if ((i == 0 || main->text[i - 1] == '\n') &&
            directive_at(main->text, main->len, i, &kind, &ns, &ne) && kind == 'u')
            add_name(&later, &nlater, main->text + ns, ne - ns);
    }
    Buf push = {0}, pop = {0};
    buf_puts(&push, "");
    buf_puts(&pop, "");
    bool *pushed = xcalloc((size_t)nlater + 1, sizeof *pushed);
    for (int k = 0; k < nlater; k++) {
        const char *name = later[k];
        if (!used(main, lo, hi, name))
            continue;
        const StateDef *in_force = NULL;
        bool unreadable = false;
        for (int i = 0; i < State.n; i++) {
            if (strcmp(State.defs[i].name, name) != 0)
                continue;
            unreadable |= State.defs[i].text == NULL;
            if (State.defs[i].at < lo)
                in_force = &State.defs[i];
        }
        /* A -D or built-in definition has no text to restore: the clone
        ** keeps what the end of the file has, as without this. */
        if (unreadable)
            continue;
        if (in_force && directive_between(main, in_force->at + 1, lo, name, "u"))
            in_force = NULL;
        pushed[k] = true;
        buf_printf(&push, "#pragma push_macro(\"%s\")\n#undef %s\n", name, name);
        if (in_force)
            buf_printf(&push, "#define %.*s\n", (int)(in_force->end - in_force->start),
                       in_force->text + in_force->start);
    }
    for (int k = nlater - 1; k >= 0; k--) {
        if (pushed[k])
            buf_printf(&pop, "#pragma pop_macro(\"%s\")\n", later[k]);
        free(later[k]);
    }
    free(pushed);
    free(later);
    *pops = pop.data;
    return push.data;
}
