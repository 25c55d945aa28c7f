/*
** macro_body.c - accesses to memory that a macro's body spells, for the
** write-buffer rewrite (redo_rewrite.c).
**
** The rewrite edits the function's text, and a macro's body is not in it:
** its text is shared by every expansion (#define val_(o) ((o)->value_),
** #define SET_ALL(v) (*gp = (v))).  The instrumented clone redefines such
** a macro instead, for the clone only (push_macro, #define, pop_macro
** around it, emit.c), with the accesses of its body wrapped as the
** function's own are: the object a body's tokens designate is reached
** through ptm_redo_ld or ptm_redo_st.  Since the new body serves every
** expansion in the clone, each wrapped range of the body must be an
** access wherever the clone expands it:
**
**   - a range whose address is taken or that decays to a pointer in some
**     expansion (&val_(o), an array member) would hand out the buffer's
**     view: the function stays uninstrumentable (a fork);
**   - a range read in one expansion and stored in another is reached
**     through ptm_redo_st everywhere (the store's view reads back too);
**   - an expansion where the range is a local is translated to itself.
**
** Ranges are the designators the AST can place in a body: a name, a
** member access whose member the body spells, a parenthesized expression,
** and *E of those; an access whose text crosses bodies (val_(o).i, spelled
** in two macros) is reached through its enclosing object's view
** ((*view).i) when that object's text is in one body.  A system header's
** macro is never redefined.
*/
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <clang-c/Index.h>

#include "ptmcc.h"

/* What the clone's new body does with a range of a macro's body: wraps an
** access (ptm_redo_ld/st), wraps the callee of a call through a pointer
** (ptm_clone_of), or inserts a statement at the range's end (a local's
** registration, ptm_redo_local: the range is empty). */
typedef enum RangeKind { RANGE_ACCESS, RANGE_CALLEE, RANGE_INSERT } RangeKind;

/* A range of a macro's body that the clone's new body wraps. */
typedef struct BodyRange {
    CXCursor def; /* the macro's definition */
    CXFile file;
    unsigned start, end; /* in file's text */
    bool load, store;    /* what the function's expansions do there */
    bool escapes;        /* some expansion takes its address */
    CXCursor at;         /* the first expansion seen, for the diagnostic */
    RangeKind kind;
    char *text;          /* RANGE_INSERT: what is inserted (owned) */
} BodyRange;

/* match_paren: the offset past the ')' closing the '(' at open, or 0. */
static size_t match_paren(const char *t, size_t len, size_t open)
{
    int depth = 0;
    for (size_t i = open; i < len; i++) {
        char c = t[i];
        if (c == '"' || c == '\'') {
            for (i++; i < len && t[i] != c; i++)
                if (t[i] == '\\')
                    i++;
        } else if (c == '/' && i + 1 < len && t[i + 1] == '*') {
            const char *close = strstr(t + i + 2, "*/");
            if (!close)
                return 0;
            i = (size_t)(close - t) + 1;
        } else if (c == '(') {
            depth++;
        } else if (c == ')' && --depth == 0) {
            return i + 1;
        } else if (c == '\n' && (i == 0 || t[i - 1] != '\\')) {
            return 0; /* the end of the definition */
        }
    }
    return 0;
}

/* match_bracket: the offset past the ']' closing the '[' at open, before
** end, or 0 (nothing but brackets and parentheses nest: a body's index). */
static size_t match_bracket(const char *t, size_t end, size_t open)
{
    int depth = 0;
    for (size_t i = open; i < end; i++) {
        if (t[i] == '"' || t[i] == '\'' || t[i] == '\n')
            return 0;
        if (t[i] == '[' || t[i] == '(')
            depth++;
        else if ((t[i] == ']' || t[i] == ')') && --depth == 0)
            return t[i] == ']' ? i + 1 : 0;
    }
    return 0;
}

static void spelled(CXSourceLocation loc, CXFile *f, unsigned *off)
{
    clang_getSpellingLocation(loc, f, NULL, NULL, off);
}

/* named_at: whether the token at off of t is name. */
static bool named_at(const char *t, size_t len, unsigned off, CXCursor c)
{
    char *name = spelling(c);
    size_t n = strlen(name);
    bool ok = n && off + n <= len && memcmp(t + off, name, n) == 0;
    free(name);
    return ok;
}

static bool def_of(CXTranslationUnit tu, CXFile file, unsigned s, unsigned t, CXCursor *def);

/* macro_def_of: the user macro whose body holds [s, t) of file, or NULL. */
static const UnitMacro *macro_def_of(CXTranslationUnit tu, CXFile file, unsigned s, unsigned t)
{
    const UnitMacro *defs;
    int n = macro_defs(tu, &defs);
    for (int i = 0; i < n; i++) {
        const UnitMacro *d = &defs[i];
        if (!clang_File_isEqual(d->file, file) || s < d->start || t > d->end)
            continue;
        return d->system || s < d->body ? NULL : d;
    }
    return NULL;
}

static bool is_ident(char c)
{
    return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* back_space: the offset before blanks (and continued lines) ending at i. */
static size_t back_space(const char *t, size_t i)
{
    for (;;) {
        if (i > 0 && (t[i - 1] == ' ' || t[i - 1] == '\t'))
            i--;
        else if (i > 1 && t[i - 1] == '\n' && t[i - 2] == '\\')
            i -= 2;
        else
            return i;
    }
}

/* back_ident: the start of the identifier ending at i, or i. */
static size_t back_ident(const char *t, size_t i)
{
    while (i > 0 && is_ident(t[i - 1]))
        i--;
    return i;
}

/* match_back: the offset of the '(' that the ')' at close closes, or
** SIZE_MAX (no strings or comments inside: a body's short argument list). */
static size_t match_back(const char *t, size_t close, size_t floor)
{
    int depth = 0;
    for (size_t i = close + 1; i-- > floor;) {
        if (t[i] == '"' || t[i] == '\'' || t[i] == '/')
            return SIZE_MAX;
        if (t[i] == ')')
            depth++;
        else if (t[i] == '(' && --depth == 0)
            return i;
    }
    return SIZE_MAX;
}

/* whole_argument: whether the identifier at [s, s+n) of t is a whole
** argument of a macro's use: between '(' or ',' and ')' or ','. */
static bool whole_argument(const char *t, size_t len, size_t s, size_t n)
{
    size_t b = back_space(t, s), a = s + n;
    while (a < len && (t[a] == ' ' || t[a] == '\t'))
        a++;
    return b > 0 && (t[b - 1] == '(' || t[b - 1] == ',') && a < len && (t[a] == ')' || t[a] == ',');
}

/* base_before: the start of the base of a member access whose member the
** body spells at lo of file, when the base's own text starts elsewhere:
** a parameter of the body (#define api_incr_top(L) {L->top++;}), whose
** argument, where it was written, is one name (L); or a use of a macro
** whose whole body is one parenthesized expression (G(L)->GCdebt, with
** #define G(L) (L->l_G)).  Those expand to exactly the AST's base.  OUT:
** *start. */
static bool base_before(Redo *r, CXCursor member, CXCursor base, CXFile file, unsigned lo,
                        unsigned *start)
{
    CXTranslationUnit tu = clang_Cursor_getTranslationUnit(member);
    size_t len;
    const char *t = file_text(tu, file, &len);
    if (!t || lo >= len)
        return false;
    size_t i = back_space(t, lo);
    if (i >= 2 && t[i - 1] == '>' && t[i - 2] == '-')
        i -= 2;
    else if (i >= 1 && t[i - 1] == '.')
        i -= 1;
    else
        return false;
    i = back_space(t, i);
    CXCursor b = base;
    while ((clang_getCursorKind(b) == CXCursor_UnexposedExpr) && kids_of(b).n == 1)
        b = kids_of(b).c[0];
    CXFile bf;
    unsigned bo;
    spelled(clang_getRangeStart(clang_getCursorExtent(b)), &bf, &bo);
    size_t blen;
    const char *bt = file_text(tu, bf, &blen);
    if (!bt || bo >= blen)
        return false;
    if (i > 0 && is_ident(t[i - 1])) {
        size_t id = back_ident(t, i);
        if (clang_getCursorKind(b) == CXCursor_MemberRefExpr && kids_of(b).n == 1) {
            /* A chain the body spells (L->ci->top): the base's own base. */
            CXFile mf;
            unsigned mo;
            spelled(clang_getCursorLocation(b), &mf, &mo);
            return mf && clang_File_isEqual(mf, file) && mo == id && named_at(t, len, mo, b) &&
                   base_before(r, b, kids_of(b).c[0], file, mo, start);
        }
        /* A parameter whose argument is one name: where it was written,
        ** and at every macro between (macro_args.c). */
        if (clang_getCursorKind(b) != CXCursor_DeclRefExpr || !named_at(bt, blen, bo, b))
            return false;
        char *name = spelling(b);
        bool whole = whole_argument(bt, blen, bo, strlen(name));
        free(name);
        const UnitMacro *def = macro_def_of(tu, file, (unsigned)id, (unsigned)i);
        if (!def)
            return false;
        if (!whole || !macro_param_plain(tu, def, t + id, i - id, r->file, r->lo, r->hi)) {
            r->macro_why = "accesses memory inside a macro whose parameter, the access's "
                           "base, is not one name at every level of its use";
            return false;
        }
        *start = (unsigned)id;
        return true;
    }
    if (i == 0 || t[i - 1] != ')' || clang_getCursorKind(b) != CXCursor_ParenExpr)
        return false;
    size_t open = match_back(t, i - 1, 0);
    if (open == SIZE_MAX)
        return false;
    size_t id = back_ident(t, back_space(t, open));
    size_t id_end = back_space(t, open);
    if (id == id_end)
        return false;
    /* The macro used there: its body is the base's parentheses, whole. */
    CXCursor def;
    if (!def_of(tu, bf, bo, bo + 1, &def))
        return false;
    char *name = spelling(def);
    bool same = (strlen(name) == id_end - id && memcmp(t + id, name, id_end - id) == 0) ||
                expands_to_use(tu, t + id, id_end - id, name);
    free(name);
    unsigned de;
    spelled(clang_getRangeEnd(clang_getCursorExtent(def)), NULL, &de);
    if (!same || bt[bo] != '(' || match_paren(bt, blen, bo) != de)
        return false;
    *start = (unsigned)id;
    return true;
}

/* body_text: where e's text is spelled, [*s, *t) of *file, when the AST
** lets it be placed (see the header).  False: it cannot. */
static bool body_text(Redo *r, CXCursor e, CXFile *file, unsigned *s, unsigned *t,
                      int depth)
{
    if (depth > 16)
        return false;
    CXTranslationUnit tu = clang_Cursor_getTranslationUnit(e);
    spelled(clang_getRangeStart(clang_getCursorExtent(e)), file, s);
    size_t len;
    const char *text = file_text(tu, *file, &len);
    if (!text || *s >= len)
        return false;
    CXFile lf;
    unsigned lo;
    spelled(clang_getCursorLocation(e), &lf, &lo);
    Kids k = kids_of(e);
    switch (clang_getCursorKind(e)) {
    case CXCursor_MemberRefExpr:
        if (k.n == 1 && base_before(r, e, k.c[0], lf, lo, s)) {
            *file = lf;
            text = file_text(tu, lf, &len);
        }
        /* fall through */
    case CXCursor_DeclRefExpr:
        if (!lf || !clang_File_isEqual(lf, *file) || lo < *s || !named_at(text, len, lo, e))
            return false;
        {
            char *name = spelling(e);
            *t = lo + (unsigned)strlen(name);
            free(name);
        }
        return true;
    case CXCursor_ParenExpr:
        if (text[*s] != '(')
            return false;
        *t = (unsigned)match_paren(text, len, *s);
        return *t != 0;
    case CXCursor_ArraySubscriptExpr: {
        /* X[E], X a range of the body and [E] spelled right after it there
        ** ((g)->tmname[e]): the subscript's whole text, to its ']'. */
        CXFile f2;
        unsigned s2, t2;
        if (k.n != 2 || !body_text(r, k.c[0], &f2, &s2, &t2, depth + 1) ||
            !clang_File_isEqual(f2, *file) || s2 != *s)
            return false;
        size_t i = t2;
        while (i < len && (text[i] == ' ' || text[i] == '\t'))
            i++;
        size_t close = i < len && text[i] == '[' ? match_bracket(text, len, i) : 0;
        if (!close)
            return false;
        *t = (unsigned)close;
        return true;
    }
    case CXCursor_UnexposedExpr:
        if (k.n != 1)
            return false;
        {
            CXFile f2;
            unsigned s2;
            if (!body_text(r, k.c[0], &f2, &s2, t, depth + 1) || !clang_File_isEqual(f2, *file) ||
                s2 != *s)
                return false;
        }
        return true;
    case CXCursor_UnaryOperator: {
        char *op = op_spelling_unary(e);
        bool deref = strcmp(op, "*") == 0;
        free(op);
        CXFile f2;
        unsigned s2;
        if (!deref || k.n != 1 || text[*s] != '*' ||
            !body_text(r, k.c[0], &f2, &s2, t, depth + 1) || !clang_File_isEqual(f2, *file) ||
            s2 <= *s)
            return false;
        for (unsigned i = *s + 1; i < s2; i++)
            if (text[i] != ' ' && text[i] != '\t')
                return false;
        return true;
    }
    default:
        return false;
    }
}

/* def_of: the user macro whose body holds [s, t) of file.  OUT: *def. */
static bool def_of(CXTranslationUnit tu, CXFile file, unsigned s, unsigned t, CXCursor *def)
{
    const UnitMacro *d = macro_def_of(tu, file, s, t);
    if (!d)
        return false;
    *def = d->cursor;
    return true;
}

/* add_range: the range [s, t) of file in def's body, of kind, recorded
** (once) in r; at is the expansion for the diagnostic. */
static BodyRange *add_range(Redo *r, CXCursor def, CXFile file, unsigned s, unsigned t,
                            RangeKind kind, CXCursor at)
{
    for (int i = 0; i < r->nbody; i++)
        if (clang_File_isEqual(r->body[i].file, file) && r->body[i].start == s &&
            r->body[i].end == t && r->body[i].kind == kind)
            return &r->body[i];
    r->body = xrealloc(r->body, sizeof *r->body * (size_t)(r->nbody + 1));
    BodyRange *b = &r->body[r->nbody++];
    *b = (BodyRange){def, file, s, t, false, false, false, at, kind, NULL};
    return b;
}

/* range_kind: the body range e's text is, of kind, recorded (once) in r. */
static BodyRange *range_kind(Redo *r, CXCursor e, RangeKind kind)
{
    CXFile file;
    unsigned s, t;
    CXCursor def;
    if (!body_text(r, e, &file, &s, &t, 0) || t <= s ||
        !def_of(clang_Cursor_getTranslationUnit(e), file, s, t, &def))
        return NULL;
    return add_range(r, def, file, s, t, kind, e);
}

/* range_of: the access range e's text is, recorded (once) in r. */
static BodyRange *range_of(Redo *r, CXCursor e)
{
    return range_kind(r, e, RANGE_ACCESS);
}

/* next_token_at: the offset of the first character after blanks (and
** continued lines) from i, before the definition's end de. */
static size_t next_token_at(const char *t, size_t i, size_t de)
{
    for (;;) {
        if (i < de && (t[i] == ' ' || t[i] == '\t'))
            i++;
        else if (i + 1 < de && t[i] == '\\' && t[i + 1] == '\n')
            i += 2;
        else
            return i;
    }
}

bool macro_body_spells(CXCursor e)
{
    /* An extent's end inside a macro is its expansion's (libclang): the
    ** start tells; macro_body_callee then finds the whole range, or the
    ** clone is not instrumented. */
    CXFile fs;
    unsigned s;
    spelled(clang_getRangeStart(clang_getCursorExtent(e)), &fs, &s);
    const UnitMacro *d = fs ? macro_def_of(clang_Cursor_getTranslationUnit(e), fs, s, s + 1) : NULL;
    return d && s >= d->body;
}

bool macro_body_callee(Redo *r, CXCursor callee)
{
    CXFile file;
    unsigned s, t;
    CXCursor def;
    CXTranslationUnit tu = clang_Cursor_getTranslationUnit(callee);
    if (!body_text(r, callee, &file, &s, &t, 0) || t <= s || !def_of(tu, file, s, t, &def))
        return false;
    /* The call's '(' is the body's too: in every expansion the range is
    ** what is called. */
    size_t len;
    const char *text = file_text(tu, file, &len);
    unsigned de;
    spelled(clang_getRangeEnd(clang_getCursorExtent(def)), NULL, &de);
    size_t next = next_token_at(text, t, de < len ? de : len);
    if (next >= de || text[next] != '(')
        return false;
    add_range(r, def, file, s, t, RANGE_CALLEE, callee);
    return true;
}

/* decl_end: the offset of the ';' ending the declaration whose declarator
** names the object at off of a body that ends at de: the first ';' outside
** brackets, strings and comments; 0 when the body holds none. */
static size_t decl_end(const char *t, size_t off, size_t de)
{
    int depth = 0;
    for (size_t i = off; i < de; i++) {
        char c = t[i];
        if (c == '"' || c == '\'') {
            for (i++; i < de && t[i] != c; i++)
                if (t[i] == '\\')
                    i++;
        } else if (c == '/' && i + 1 < de && (t[i + 1] == '*' || t[i + 1] == '/')) {
            return 0; /* a comment in a body: not followed */
        } else if (c == '(' || c == '[' || c == '{') {
            depth++;
        } else if (c == ')' || c == ']' || c == '}') {
            if (--depth < 0)
                return 0;
        } else if (c == ';' && depth == 0) {
            return i;
        }
    }
    return 0;
}

bool macro_body_insert(Redo *r, CXCursor stmt, CXCursor decl, char *text)
{
    CXTranslationUnit tu = clang_Cursor_getTranslationUnit(stmt);
    CXFile fs, fn;
    unsigned s, n;
    spelled(clang_getRangeStart(clang_getCursorExtent(stmt)), &fs, &s);
    spelled(clang_getCursorLocation(decl), &fn, &n);
    CXCursor def, def_n;
    size_t len;
    const char *body = fs ? file_text(tu, fs, &len) : NULL;
    unsigned de = 0;
    size_t semi = 0;
    /* The declaration from its start, its name and its ';' are one body's. */
    bool ok = body && fn && clang_File_isEqual(fs, fn) && n >= s && n < len &&
              named_at(body, len, n, decl) && def_of(tu, fs, s, s + 1, &def) &&
              def_of(tu, fn, n, n + 1, &def_n) && clang_equalCursors(def, def_n);
    if (ok) {
        spelled(clang_getRangeEnd(clang_getCursorExtent(def)), NULL, &de);
        semi = decl_end(body, n, de < len ? de : len);
        ok = semi != 0;
    }
    if (!ok) {
        free(text);
        return false;
    }
    BodyRange *b = add_range(r, def, fs, (unsigned)semi + 1, (unsigned)semi + 1, RANGE_INSERT, decl);
    if (!b->text) {
        b->text = text;
    } else if (!strstr(b->text, text)) { /* int a[2], b[2]; */
        char *both = format("%s %s", b->text, text);
        free(b->text);
        free(text);
        b->text = both;
    } else {
        free(text); /* another expansion's: the same registration */
    }
    return true;
}

bool macro_body_access(Redo *r, CXCursor e, bool store)
{
    BodyRange *b = range_of(r, e);
    if (!b)
        return false;
    if (store)
        b->store = true;
    else
        b->load = true;
    return true;
}

void macro_body_escape(Redo *r, CXCursor e)
{
    for (int depth = 0; depth < 16; depth++) {
        BodyRange *b = range_of(r, e);
        if (b)
            b->escapes = true;
        Kids k = kids_of(e);
        enum CXCursorKind kind = clang_getCursorKind(e);
        if (k.n < 1 ||
            !(kind == CXCursor_ParenExpr || kind == CXCursor_UnexposedExpr ||
              (kind == CXCursor_MemberRefExpr &&
               !is_pointer_type(clang_getCursorType(strip(k.c[0]))))))
            return;
        e = k.c[0];
    }
}

/* by_place: ranges by file, start, then outer first. */
static int by_place(const void *a, const void *b)
{
    const BodyRange *x = a, *y = b;
    if (!clang_File_isEqual(x->file, y->file)) {
        CXString nx = clang_getFileName(x->file), ny = clang_getFileName(y->file);
        int c = strcmp(clang_getCString(nx), clang_getCString(ny));
        clang_disposeString(nx);
        clang_disposeString(ny);
        return c;
    }
    if (x->start != y->start)
        return x->start < y->start ? -1 : 1;
    /* At one offset: an insertion first (it follows what ends there),
    ** then the outer range, then a callee around the access it holds. */
    if ((x->kind == RANGE_INSERT) != (y->kind == RANGE_INSERT))
        return x->kind == RANGE_INSERT ? -1 : 1;
    if (x->end != y->end)
        return (x->end < y->end) - (x->end > y->end);
    return (x->kind == RANGE_ACCESS) - (y->kind == RANGE_ACCESS);
}

/* wraps: whether the clone's new body changes b's text. */
static bool wraps(const BodyRange *b)
{
    return b->kind != RANGE_ACCESS || b->load || b->store;
}

/* redefine: def's text with the edits of its ranges [from, to) of r->body
** (sorted, nested), numbered from *seq. */
static char *redefine(const BodyRange *b, int from, int to, int *seq)
{
    CXTranslationUnit tu = clang_Cursor_getTranslationUnit(b[from].def);
    size_t len;
    const char *text = file_text(tu, b[from].file, &len);
    CXSourceRange ext = clang_getCursorExtent(b[from].def);
    unsigned ds, de;
    spelled(clang_getRangeStart(ext), NULL, &ds);
    spelled(clang_getRangeEnd(ext), NULL, &de);
    /* Closings wait on a stack: ranges nest. */
    int n = to - from, *open = xcalloc((size_t)n + 1, sizeof *open), nopen = 0;
    int *num = xcalloc((size_t)n + 1, sizeof *num);
    Buf out = {0};
    size_t at = ds;
    for (int i = from; i <= to; i++) {
        size_t next = i < to ? b[i].start : de;
        /* Close what ends before the next opening. */
        while (nopen > 0 && b[open[nopen - 1]].end <= next) {
            const BodyRange *c = &b[open[nopen - 1]];
            buf_put(&out, text + at, c->end - at);
            at = c->end;
            int k = num[open[nopen - 1] - from];
            if (c->kind == RANGE_CALLEE)
                buf_printf(&out, "); (__typeof__(__ptm_fpm%d))ptm_clone_of((void (*)(void))"
                                 "__ptm_fpm%d); }))", k, k);
            else
                buf_printf(&out, "); (__typeof__(__ptm_m%d))%s(__ptm_m%d, sizeof *__ptm_m%d); }))",
                           k, c->store ? "ptm_redo_st" : "ptm_redo_ld", k, k);
            nopen--;
        }
        if (i == to)
            break;
        if (!wraps(&b[i]))
            continue;
        buf_put(&out, text + at, next - at);
        at = next;
        if (b[i].kind == RANGE_INSERT) {
            buf_printf(&out, " %s", b[i].text);
            continue;
        }
        int k = ++*seq;
        num[i - from] = k;
        if (b[i].kind == RANGE_CALLEE)
            buf_printf(&out, "(__extension__({ __auto_type __ptm_fpm%d = (", k);
        else
            buf_printf(&out, "(*__extension__({ __auto_type __ptm_m%d = &(", k);
        open[nopen++] = i;
    }
    buf_put(&out, text + at, de - at);
    free(open);
    free(num);
    /* A continued line stays one logical line. */
    return out.data;
}

/* pasted_edge: whether an edit at [s, e) of a body (def's text ends at de)
** would split what '#' or '##' joins: a '#' before s, or '##' after e. */
static bool pasted_edge(const char *t, size_t ds, size_t de, size_t s, size_t e)
{
    size_t before = back_space(t, s);
    size_t after = next_token_at(t, e, de);
    return (before > ds && t[before - 1] == '#') ||
           (after + 1 < de && t[after] == '#' && t[after + 1] == '#');
}

/* wraps_use: whether the function's own rewrite designates, at the start
** of [s, e) of its text, the object a use of macro name designates
** (&(G(L)) around the use): that would take the address of the view the
** redefinition makes.  A use followed by -> is a pointer's value. */
static bool wraps_use(const char *t, size_t len, size_t s, size_t e, const char *name)
{
    size_t n = strlen(name);
    while (s < e && (t[s] == '+' || t[s] == '-' || t[s] == ' ' || t[s] == '\t'))
        s++;
    if (s + n > e || memcmp(t + s, name, n) != 0 || (s + n < len && is_ident(t[s + n])))
        return false;
    size_t end = s + n;
    while (end < e && (t[end] == ' ' || t[end] == '\t'))
        end++;
    if (end < e && t[end] == '(') {
        end = match_paren(t, len, end);
        if (!end)
            return true;
    }
    while (end < e && (t[end] == ' ' || t[end] == '\t'))
        end++;
    return !(end + 1 < e && t[end] == '-' && t[end + 1] == '>');
}

/* check_uses: neither the function's rewrite nor another body's range
** may also wrap whole uses of a macro the clone redefines (one object, one
** view: the address of a view is no object of the program's). */
static void check_uses(Redo *r, const BodyRange *b, const BodyRange *all, int n, const char *name)
{
    for (int i = 0; i < n && !r->out->redo_blocker; i++) {
        size_t len;
        const char *t = file_text(clang_Cursor_getTranslationUnit(all[i].def), all[i].file, &len);
        if ((all[i].load || all[i].store) && t &&
            wraps_use(t, len, all[i].start, all[i].end, name))
            redo_block_at(r, all[i].at, "accesses memory inside a macro whose use another "
                                        "access wraps");
    }
    for (int i = 0; i < r->ndone && !r->out->redo_blocker; i++) {
        const Done *d = &r->done[i];
        if ((strcmp(d->kind, "ptm_redo_ld") == 0 || strcmp(d->kind, "ptm_redo_st") == 0 ||
             strcmp(d->kind, "store") == 0) &&
            wraps_use(r->file->text, r->file->len, d->start, d->end, name))
            redo_block_at(r, b->at, "accesses memory inside a macro that the function also "
                                    "uses whole");
    }
}

/* edges_ok: whether every edit of def's ranges [from, to) leaves its
** body's '#' and '##' operands whole; else the function's clone cannot be
** instrumented (redo_block_at). */
static bool edges_ok(Redo *r, const BodyRange *b, int from, int to)
{
    CXTranslationUnit tu = clang_Cursor_getTranslationUnit(b[from].def);
    size_t len;
    const char *text = file_text(tu, b[from].file, &len);
    unsigned ds, de;
    spelled(clang_getRangeStart(clang_getCursorExtent(b[from].def)), NULL, &ds);
    spelled(clang_getRangeEnd(clang_getCursorExtent(b[from].def)), NULL, &de);
    for (int i = from; i < to; i++)
        if (wraps(&b[i]) && text && de <= len && pasted_edge(text, ds, de, b[i].start, b[i].end)) {
            redo_block_at(r, b[i].at, "needs to rewrite a macro's body next to '#' or '##'");
            return false;
        }
    return true;
}

void macro_body_finish(Redo *r)
{
    InlineFacts *out = r->out;
    BodyRange *b = r->body;
    int n = r->nbody;
    r->body = NULL;
    r->nbody = 0;
    if (out->redo_blocker || n == 0)
        goto done;
    qsort(b, (size_t)n, sizeof *b, by_place);
    for (int i = 0; i < n && !out->redo_blocker; i++) {
        if (b[i].kind == RANGE_ACCESS && (b[i].load || b[i].store) && b[i].escapes)
            redo_block_at(r, b[i].at, "takes the address of memory inside a macro");
        /* Ranges of one body nest or are apart. */
        if (i > 0 && clang_File_isEqual(b[i - 1].file, b[i].file) && b[i].start < b[i - 1].end &&
            b[i].end > b[i - 1].end)
            redo_block_at(r, b[i].at, "accesses memory inside a macro");
    }
    static int seq = 0; /* names unique across the clones of the unit */
    int first = out->nmacros;
    for (int i = 0; i < n && !out->redo_blocker;) {
        int j = i;
        bool edits = false, accesses = false;
        while (j < n && clang_equalCursors(b[j].def, b[i].def)) {
            edits |= wraps(&b[j]);
            accesses |= b[j].kind == RANGE_ACCESS && wraps(&b[j]);
            j++;
        }
        char *name = spelling(b[i].def);
        if (accesses)
            check_uses(r, &b[i], b, n, name);
        /* One definition serves the whole clone: none other may be made
        ** in its text, nor this one made twice. */
        for (int k = first; edits && k < out->nmacros && !out->redo_blocker; k++)
            if (strcmp(out->macros[k].name, name) == 0)
                redo_block_at(r, b[i].at, "rewrites a macro that is defined twice in it");
        if (edits && !out->redo_blocker && macro_directive_in(r->file, r->lo, r->hi, name))
            redo_block_at(r, b[i].at, "rewrites a macro that its text defines or undefines");
        if (edits && !out->redo_blocker && edges_ok(r, b, i, j)) {
            out->macros = xrealloc(out->macros, sizeof *out->macros * (size_t)(out->nmacros + 1));
            out->macros[out->nmacros++] = (MacroRedef){name, redefine(b, i, j, &seq)};
            name = NULL;
        }
        free(name);
        i = j;
    }
done:
    for (int i = 0; i < n; i++)
        free(b[i].text);
    free(b);
}
