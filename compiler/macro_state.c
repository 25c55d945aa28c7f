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
** it, outside the blocks that a false #if skipped.  Not followed: an
** #undef in a header included after the function, and a macro with a -D
** or built-in definition (no text to copy: its clone keeps what the end
** of the file has).
*/
#include <stdlib.h>
#include <string.h>

#include <clang-c/Index.h>

#include "ptmcc.h"

/* One definition, in the order of the unit. */
typedef struct StateDef {
    int name;         /* its index in State.names */
    size_t at;        /* its place in the main file (see the header) */
    const char *text; /* its file's text */
    unsigned start, end;
    bool system;
} StateDef;

/* A name that a definition or an #undef of the main file has. */
typedef struct StateName {
    char *name;
    bool unreadable;  /* a definition of it has no text (-D, built-in) */
    bool in_a_body;   /* a user macro's body, not its own, names it */
    unsigned listed;  /* the last call of macro_state_at that listed it */
    unsigned spelled; /* the last call whose function's text names it */
    int *defs, ndefs; /* its definitions: indices into State.defs */
    size_t *undefs;   /* where its #undef lines start (those the */
    int nundefs;      /* preprocessor saw) */
} StateName;

/* An #undef line of the main file that the preprocessor saw. */
typedef struct StateUndef {
    size_t at;
    int name;
} StateUndef;

/* What macro_state_at knows of one unit, read once: it is called for
** every function, and a scan of the rest of the file and of every user
** macro's body for each macro, per function, took three minutes of
** SQLite's amalgamation (8 MB, 2,700 functions). */
static struct {
    CXTranslationUnit tu;
    StateDef *defs;
    int n, cap;
    size_t include_at; /* the last #include of the main file seen */
    StateName *names;
    int nnames, names_cap;
    int *slots; /* open addressing over names: index + 1, 0 empty */
    size_t nslots;
    StateUndef *undefs; /* in the file's order */
    int nundefs;
    unsigned call; /* macro_state_at's calls: marks need no clearing */
} State;

static bool ident_char(char c)
{
    return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* hash_of: FNV-1a of s[0, len). */
static size_t hash_of(const char *s, size_t len)
{
    size_t h = (size_t)14695981039346656037u;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)s[i]) * (size_t)1099511628211u;
    return h;
}

/* name_slot: the slot of State.slots that holds name s[0, len), or the
** empty one where it would go. */
static size_t name_slot(const char *s, size_t len)
{
    size_t mask = State.nslots - 1;
    for (size_t k = hash_of(s, len) & mask;; k = (k + 1) & mask) {
        int i = State.slots[k] - 1;
        if (i < 0 || (strncmp(State.names[i].name, s, len) == 0 && !State.names[i].name[len]))
            return k;
    }
}

/* name_find: the index of name s[0, len) in State.names; -1: none. */
static int name_find(const char *s, size_t len)
{
    return State.nslots ? State.slots[name_slot(s, len)] - 1 : -1;
}

/* name_add: the index of name s[0, len) in State.names, added if new. */
static int name_add(const char *s, size_t len)
{
    if (2 * (size_t)(State.nnames + 1) > State.nslots) {
        free(State.slots);
        State.nslots = State.nslots ? 2 * State.nslots : 1024;
        State.slots = xcalloc(State.nslots, sizeof *State.slots);
        for (int i = 0; i < State.nnames; i++)
            State.slots[name_slot(State.names[i].name, strlen(State.names[i].name))] = i + 1;
    }
    size_t k = name_slot(s, len);
    if (State.slots[k])
        return State.slots[k] - 1;
    if (State.nnames == State.names_cap) {
        State.names_cap = State.names_cap ? 2 * State.names_cap : 256;
        State.names = xrealloc(State.names, sizeof *State.names * (size_t)State.names_cap);
    }
    State.names[State.nnames] = (StateName){.name = xstrndup(s, len)};
    State.slots[k] = ++State.nnames;
    return State.nnames - 1;
}

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
    char *name = spelling(c);
    int id = name_add(name, strlen(name));
    free(name);
    StateName *sn = &State.names[id];
    sn->unreadable |= text == NULL;
    sn->defs = xrealloc(sn->defs, sizeof *sn->defs * (size_t)(sn->ndefs + 1));
    sn->defs[sn->ndefs++] = State.n;
    State.defs[State.n++] = (StateDef){id, main_file ? off : State.include_at, text, s, e,
                                       clang_Location_isInSystemHeader(loc) != 0};
    return CXChildVisit_Continue;
}

/* mark_names: for each identifier of t[lo, hi) that is a name of
** State.names other than except: marks it in_a_body (in_body) or spelled
** by this call of macro_state_at. */
static void mark_names(const char *t, size_t lo, size_t hi, int except, bool in_body)
{
    for (size_t i = lo; i < hi;) {
        if (!ident_char(t[i])) {
            i++;
            continue;
        }
        size_t w = i;
        while (i < hi && ident_char(t[i]))
            i++;
        int id = name_find(t + w, i - w);
        if (id < 0 || id == except)
            continue;
        if (in_body)
            State.names[id].in_a_body = true;
        else
            State.names[id].spelled = State.call;
    }
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


/* skipped_ranges: the main file's blocks that a false #if skipped, as
** offsets [v[2i], v[2i+1]), in order.  OUT: *n, their number. */
static unsigned *skipped_ranges(CXTranslationUnit tu, int *n)
{
    CXSourceRangeList *all = clang_getAllSkippedRanges(tu);
    unsigned *v = xcalloc(2 * (size_t)(all ? all->count : 0) + 1, sizeof *v);
    *n = 0;
    for (unsigned i = 0; all && i < all->count; i++) {
        CXSourceLocation s = clang_getRangeStart(all->ranges[i]);
        if (!clang_Location_isFromMainFile(s))
            continue;
        clang_getSpellingLocation(s, NULL, NULL, NULL, &v[2 * *n]);
        clang_getSpellingLocation(clang_getRangeEnd(all->ranges[i]), NULL, NULL, NULL,
                                  &v[2 * *n + 1]);
        ++*n;
    }
    if (all)
        clang_disposeSourceRangeList(all);
    return v;
}

/* read_undefs: the #undef lines of main that the preprocessor saw.  One
** in a false #if's block undefines nothing: SQLite's amalgamation
** undefines NDEBUG there, should SQLITE_DEBUG be set, and a clone that
** took it as undefined compiled the #ifndef NDEBUG code of its function,
** which names variables the file never declared. */
static void read_undefs(CXTranslationUnit tu, const SrcFile *main)
{
    int nskip, s = 0, cap = 0;
    unsigned *skip = skipped_ranges(tu, &nskip);
    for (size_t i = 0; i < main->len; i++) {
        char kind;
        size_t ns, ne;
        if ((i > 0 && main->text[i - 1] != '\n') ||
            !directive_at(main->text, main->len, i, &kind, &ns, &ne) || kind != 'u')
            continue;
        while (s < nskip && skip[2 * s + 1] <= i)
            s++;
        if (s < nskip && skip[2 * s] <= i)
            continue;
        int id = name_add(main->text + ns, ne - ns);
        StateName *sn = &State.names[id];
        sn->undefs = xrealloc(sn->undefs, sizeof *sn->undefs * (size_t)(sn->nundefs + 1));
        sn->undefs[sn->nundefs++] = i;
        if (State.nundefs == cap) {
            cap = cap ? 2 * cap : 64;
            State.undefs = xrealloc(State.undefs, sizeof *State.undefs * (size_t)cap);
        }
        State.undefs[State.nundefs++] = (StateUndef){i, id};
    }
    free(skip);
}

void macro_state_forget(CXTranslationUnit tu)
{
    if (!tu || State.tu != tu)
        return;
    for (int i = 0; i < State.nnames; i++) {
        free(State.names[i].name);
        free(State.names[i].defs);
        free(State.names[i].undefs);
    }
    free(State.names);
    free(State.slots);
    free(State.defs);
    free(State.undefs);
    memset(&State, 0, sizeof State);
}

/* load: reads tu's definitions, main's #undef lines and the names that
** user macros' bodies spell, unless tu is the unit read last. */
static void load(CXTranslationUnit tu, const SrcFile *main)
{
    if (State.tu == tu)
        return;
    macro_state_forget(State.tu);
    State.tu = tu;
    clang_visitChildren(clang_getTranslationUnitCursor(tu), collect, tu);
    read_undefs(tu, main);
    for (int i = 0; i < State.n; i++)
        if (!State.defs[i].system && State.defs[i].text)
            mark_names(State.defs[i].text, State.defs[i].start, State.defs[i].end,
                       State.defs[i].name, true);
}

/* list_name: id onto later (of *n), unless this call listed it. */
static void list_name(int *later, int *n, int id)
{
    if (State.names[id].listed == State.call)
        return;
    State.names[id].listed = State.call;
    later[(*n)++] = id;
}

char *macro_state_at(CXTranslationUnit tu, const SrcFile *main, size_t lo, size_t hi,
                     char **pops)
{
    load(tu, main);
    State.call++;
    int *later = xcalloc((size_t)State.nnames + 1, sizeof *later), nlater = 0;
    for (int i = 0; i < State.n; i++)
        if (State.defs[i].at >= lo)
            list_name(later, &nlater, State.defs[i].name);
    for (int i = 0; i < State.nundefs; i++)
        if (State.undefs[i].at >= lo)
            list_name(later, &nlater, State.undefs[i].name);
    mark_names(main->text, lo, hi < main->len ? hi : main->len, -1, false);
    Buf push = {0}, pop = {0};
    buf_puts(&push, "");
    buf_puts(&pop, "");
    bool *pushed = xcalloc((size_t)nlater + 1, sizeof *pushed);
    for (int k = 0; k < nlater; k++) {
        const StateName *sn = &State.names[later[k]];
        /* A -D or built-in definition has no text to restore: the clone
        ** keeps what the end of the file has, as without this. */
        if ((sn->spelled != State.call && !sn->in_a_body) || sn->unreadable)
            continue;
        const StateDef *in_force = NULL;
        for (int i = 0; i < sn->ndefs; i++)
            if (State.defs[sn->defs[i]].at < lo)
                in_force = &State.defs[sn->defs[i]];
        for (int i = 0; in_force && i < sn->nundefs; i++)
            if (sn->undefs[i] > in_force->at && sn->undefs[i] < lo)
                in_force = NULL;
        pushed[k] = true;
        buf_printf(&push, "#pragma push_macro(\"%s\")\n#undef %s\n", sn->name, sn->name);
        if (in_force)
            buf_printf(&push, "#define %.*s\n", (int)(in_force->end - in_force->start),
                       in_force->text + in_force->start);
    }
    for (int k = nlater - 1; k >= 0; k--)
        if (pushed[k])
            buf_printf(&pop, "#pragma pop_macro(\"%s\")\n", State.names[later[k]].name);
    free(pushed);
    free(later);
    *pops = pop.data;
    return push.data;
}
