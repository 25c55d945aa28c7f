/*
** spans.c - where the text of an expression of a mirror clone is, so that
** a rewrite can wrap it: through macros (an argument spelled in the file
** can be wrapped, a macro's body cannot), with balanced parentheses, and
** once per text when a macro expands its argument twice.
**
** The write-buffer rewrite (redo_rewrite.c) and the bounds checks
** (bounds_rewrite.c) edit the same text by the same rules.
*/
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <clang-c/Index.h>

#include "ptmcc.h"

Redo redo_start(CXCursor body, SrcFile *file, const Callees *callees, InlineFacts *out)
{
    Redo r = {out, file, NULL, callees, 0, false, CXCursor_FirstInvalid, NULL, 0, 0, 0, NULL, 0, NULL, NULL, 0};
    CXSourceRange ext = clang_getCursorExtent(body);
    unsigned lo, hi;
    clang_getExpansionLocation(clang_getRangeStart(ext), &r.cxfile, NULL, NULL, &lo);
    clang_getExpansionLocation(clang_getRangeEnd(ext), NULL, NULL, NULL, &hi);
    r.lo = lo;
    r.hi = hi;
    return r;
}

/* skip_space: past blanks and comments from i. */
size_t skip_space(const SrcFile *file, size_t i, size_t end)
{
    const char *t = file->text;
    while (i < end) {
        if (t[i] == ' ' || t[i] == '\t' || t[i] == '\n' || t[i] == '\r' || t[i] == '\f' ||
            t[i] == '\v' || (t[i] == '\\' && i + 1 < end && t[i + 1] == '\n')) {
            i++;
        } else if (t[i] == '/' && i + 1 < end && t[i + 1] == '*') {
            const char *close = strstr(t + i + 2, "*/");
            i = close ? (size_t)(close - t) + 2 : end;
        } else if (t[i] == '/' && i + 1 < end && t[i + 1] == '/') {
            while (i < end && t[i] != '\n')
                i++;
        } else {
            break;
        }
    }
    return i;
}

/* balanced: whether text[from, to) is one macro argument's worth: its
** brackets balanced, no comma outside them, no literal left open. */
static bool balanced(const SrcFile *file, size_t from, size_t to)
{
    const char *t = file->text;
    int depth = 0;
    for (size_t i = from; i < to; i++) {
        if (t[i] == '"' || t[i] == '\'') {
            i = skip_literal(t, i, to) - 1;
            if (i >= to)
                return false;
        } else if (t[i] == '(' || t[i] == '[' || t[i] == '{') {
            depth++;
        } else if (t[i] == ')' || t[i] == ']' || t[i] == '}') {
            if (--depth < 0)
                return false;
        } else if (t[i] == ',' && depth == 0) {
            return false;
        }
    }
    return depth == 0;
}

/* invocation_end: the end (past its ')') of the function-like macro
** invocation whose name is at off; 0 when there is none. */
static size_t invocation_end(const SrcFile *file, size_t off)
{
    const char *t = file->text;
    size_t i = off;
    while (i < file->len && (t[i] == '_' || (t[i] >= 'a' && t[i] <= 'z') ||
                             (t[i] >= 'A' && t[i] <= 'Z') || (t[i] >= '0' && t[i] <= '9')))
        i++;
    i = skip_space(file, i, file->len);
    if (i == off || i >= file->len || t[i] != '(')
        return 0;
    int depth = 0;
    for (; i < file->len; i++) {
        if (t[i] == '"' || t[i] == '\'')
            i = skip_literal(t, i, file->len) - 1;
        else if (t[i] == '(')
            depth++;
        else if (t[i] == ')' && --depth == 0)
            return i + 1;
    }
    return 0;
}

/* span: the offsets of c's text in the function's file, when c is written
** there as it is compiled: in plain code, or whole inside one argument of
** a macro invocation (assert(acct->balance >= 0)), whose text the
** expansion copies.  False otherwise (c comes from a macro's body). */
/* macro_body: the body of the #define whose text holds off, in text:
** [*body, *body_end), and the macro's name and whether it takes
** arguments.  False when off is not in a #define's body. */
static bool macro_body(const char *text, size_t len, size_t off, size_t *body,
                       size_t *body_end, char **name, bool *function_like)
{
    size_t line = off;
    for (;;) { /* back to the first line of a continued #define */
        while (line > 0 && text[line - 1] != '\n')
            line--;
        if (line >= 2 && text[line - 2] == '\\')
            line--;
        else
            break;
    }
    size_t i = line;
    while (i < len && (text[i] == ' ' || text[i] == '\t'))
        i++;
    if (i >= len || text[i] != '#')
        return false;
    i++;
    while (i < len && (text[i] == ' ' || text[i] == '\t'))
        i++;
    if (len - i < 7 || strncmp(text + i, "define", 6) != 0 ||
        (text[i + 6] != ' ' && text[i + 6] != '\t'))
        return false;
    i += 6;
    while (i < len && (text[i] == ' ' || text[i] == '\t'))
        i++;
    size_t n0 = i;
    while (i < len && (text[i] == '_' || (text[i] >= 'a' && text[i] <= 'z') ||
                       (text[i] >= 'A' && text[i] <= 'Z') || (text[i] >= '0' && text[i] <= '9')))
        i++;
    if (i == n0)
        return false;
    *name = xstrndup(text + n0, i - n0);
    *function_like = i < len && text[i] == '(';
    if (*function_like) {
        while (i < len && text[i] != ')')
            i++;
        i++;
    }
    while (i < len && (text[i] == ' ' || text[i] == '\t'))
        i++;
    *body = i;
    while (i < len && !(text[i] == '\n' && text[i - 1] != '\\'))
        i++;
    while (i > *body && (text[i - 1] == ' ' || text[i - 1] == '\t' || text[i - 1] == '\r'))
        i--;
    *body_end = i;
    return true;
}

/* closes: the index of the ')' that closes the '(' at text[open], or 0. */
static size_t closes(const char *text, size_t open, size_t end)
{
    int depth = 0;
    for (size_t i = open; i < end; i++) {
        if (text[i] == '"' || text[i] == '\'')
            i = skip_literal(text, i, end) - 1;
        else if (text[i] == '(')
            depth++;
        else if (text[i] == ')' && --depth == 0)
            return i;
    }
    return 0;
}

/* opens: the index of the '[' that the ']' at text[close] closes, or 0. */
static size_t opens(const char *text, size_t from, size_t close)
{
    int depth = 0;
    for (size_t i = close + 1; i-- > from;) {
        if (text[i] == ']')
            depth++;
        else if (text[i] == '[' && --depth == 0)
            return i;
    }
    return 0;
}

/* covers_body: whether c, which starts where a macro's body does, is the
** whole body: a body in one pair of parentheses ((p)[0]) has no other
** expression starting there; a designator (stats.n, p->count) ends with
** the name c is located at (its base, stats, is located earlier); a
** subscript (stats.hits[i], grid[r][c]) ends with its last bracket, after
** a base that covers the rest. */
static bool covers_body(CXCursor c, const char *text, size_t body, size_t body_end)
{
    if (text[body] == '(') {
        /* Only the parentheses' own expression starts at '(' and ends at
        ** ')': ((o)->value_).gc starts there too. */
        while (clang_getCursorKind(c) == CXCursor_UnexposedExpr && kids_of(c).n == 1)
            c = kids_of(c).c[0];
        return clang_getCursorKind(c) == CXCursor_ParenExpr &&
               closes(text, body, body_end) == body_end - 1;
    }
    enum CXCursorKind k = clang_getCursorKind(c);
    if (k == CXCursor_ArraySubscriptExpr && body_end > body && text[body_end - 1] == ']') {
        size_t open = opens(text, body, body_end - 1);
        while (open > body && (text[open - 1] == ' ' || text[open - 1] == '\t'))
            open--;
        Kids kids = kids_of(c);
        return open > body && kids.n == 2 && covers_body(strip(kids.c[0]), text, body, open);
    }
    if (k != CXCursor_DeclRefExpr && k != CXCursor_MemberRefExpr)
        return false;
    unsigned at;
    clang_getSpellingLocation(clang_getCursorLocation(c), NULL, NULL, NULL, &at);
    size_t i = at;
    while (i < body_end && (text[i] == '_' || (text[i] >= 'a' && text[i] <= 'z') ||
                            (text[i] >= 'A' && text[i] <= 'Z') || (text[i] >= '0' && text[i] <= '9')))
        i++;
    return i > at && i == body_end;
}

/* whole_invocation: c is everything one macro invocation in the function's
** file expands to (#define FIRST(p) ((p)[0]), #define COUNT stats.n): the
** invocation's text [a, b) can be rewritten around whole.  (libclang
** reports the end of a macro's tokens at the invocation's end: where c
** ends is judged from the #define's text.) */
/* the_macro: the one definition of the user macro [t, t+n) in tu, or NULL
** (none, a system header's, or defined more than once). */
static const UnitMacro *the_macro(CXTranslationUnit tu, const char *t, size_t n)
{
    const UnitMacro *defs, *found = NULL;
    int count = macro_defs(tu, &defs);
    for (int i = 0; i < count; i++) {
        if (strlen(defs[i].name) != n || memcmp(defs[i].name, t, n) != 0)
            continue;
        if (found || defs[i].system)
            return NULL;
        found = &defs[i];
    }
    return found;
}

/* expands_to_use: whether the macro [t, t+n) expands to exactly one use
** of the macro inner, through bodies that are each one whole use of the
** next (hvalue(o) -> check_exp(c, gco2t(...)), whose body (e) is the
** expression): its use then expands to what inner's does. */
bool expands_to_use(CXTranslationUnit tu, const char *t, size_t n, const char *inner)
{
    for (int depth = 0; depth < 8; depth++) {
        const UnitMacro *d = the_macro(tu, t, n);
        if (!d)
            return false;
        const char *x = d->text;
        size_t i = d->body, end = d->end;
        while (i < end && (x[i] == ' ' || x[i] == '\t'))
            i++;
        size_t id = i;
        while (i < end && (x[i] == '_' || (x[i] >= 'a' && x[i] <= 'z') ||
                           (x[i] >= 'A' && x[i] <= 'Z') || (x[i] >= '0' && x[i] <= '9')))
            i++;
        size_t id_end = i;
        while (i < end && (x[i] == ' ' || x[i] == '\t'))
            i++;
        if (id == id_end || i >= end || x[i] != '(' || closes(x, i, end) != end - 1)
            return false;
        const UnitMacro *next = the_macro(tu, x + id, id_end - id);
        if (!next || !next->fnlike)
            return false;
        if (strlen(inner) == id_end - id && memcmp(x + id, inner, id_end - id) == 0)
            return true;
        t = x + id;
        n = id_end - id;
    }
    return false;
}

static bool whole_invocation(Redo *r, CXCursor c, unsigned a, unsigned b, CXFile s1, unsigned sa)
{
    size_t len;
    CXTranslationUnit tu = clang_Cursor_getTranslationUnit(c);
    const char *text = file_text(tu, s1, &len);
    size_t body, body_end;
    char *name = NULL;
    bool function_like, whole = false;
    if (text && sa < len && macro_body(text, len, sa, &body, &body_end, &name, &function_like) &&
        sa == body && body < body_end && covers_body(c, text, body, body_end)) {
        size_t n = strlen(name);
        size_t end = function_like ? invocation_end(r->file, a) : a + n;
        whole = a + n <= r->file->len && memcmp(r->file->text + a, name, n) == 0 && end == b;
        if (!whole && a < r->file->len) {
            /* The use is of a macro that expands to one use of name. */
            size_t u = a;
            const char *t = r->file->text;
            while (u < r->file->len && (t[u] == '_' || (t[u] >= 'a' && t[u] <= 'z') ||
                                        (t[u] >= 'A' && t[u] <= 'Z') || (t[u] >= '0' && t[u] <= '9')))
                u++;
            const UnitMacro *outer = u > a ? the_macro(tu, t + a, u - a) : NULL;
            whole = outer && outer->fnlike && invocation_end(r->file, a) == b &&
                    expands_to_use(tu, t + a, u - a, name);
        }
    }
    free(name);
    return whole;
}

/* written_in_file: whether c's text is written out where it stands -- not
** by a macro, and starting and ending in one file (in file, unless NULL).
** OUT: *start, *end: its expansion offsets, set either way. */
bool written_in_file(CXCursor c, CXFile file, unsigned *start, unsigned *end)
{
    CXSourceRange ext = clang_getCursorExtent(c);
    CXFile fs, fe;
    unsigned ss, se;
    clang_getExpansionLocation(clang_getRangeStart(ext), &fs, NULL, NULL, start);
    clang_getExpansionLocation(clang_getRangeEnd(ext), &fe, NULL, NULL, end);
    clang_getSpellingLocation(clang_getRangeStart(ext), NULL, NULL, NULL, &ss);
    clang_getSpellingLocation(clang_getRangeEnd(ext), NULL, NULL, NULL, &se);
    return ss == *start && se == *end && clang_File_isEqual(fs, fe) &&
           (!file || clang_File_isEqual(fs, file));
}

/* postfix_on_use: c is a subscript E[i] (or, with members, E->m or E.m)
** whose base E is a macro's whole use in the function's text and whose
** own tokens after it, up to b, are written there too (getstr(ts)[l],
** with #define getstr(ts) ((ts)->contents)): its text is the use
** followed by those tokens, which the AST says parse as c.  (A member on
** a use in plain code, G(L)->f, is the pointer's view: member_of_view.)
** OUT: *start, *end. */
static bool postfix_on_use(Redo *r, CXCursor c, unsigned b, bool members, size_t *start,
                           size_t *end)
{
    enum CXCursorKind k = clang_getCursorKind(c);
    Kids kids = kids_of(c);
    bool subscript = k == CXCursor_ArraySubscriptExpr && kids.n == 2;
    if (!subscript && !(members && k == CXCursor_MemberRefExpr && kids.n == 1))
        return false;
    CXCursor base = kids.c[0];
    while (clang_getCursorKind(base) == CXCursor_UnexposedExpr && kids_of(base).n == 1)
        base = kids_of(base).c[0];
    size_t bs, bt;
    bool from = r->from_macro;
    if (!(members ? span_postfix(r, base, &bs, &bt) : span(r, base, &bs, &bt)) ||
        !r->from_macro || bt >= b || !balanced(r->file, bt, b)) {
        r->from_macro = from;
        return false;
    }
    /* The index (or member) is the file's own text. */
    size_t i = skip_space(r->file, bt, b);
    const char *t = r->file->text;
    if (i >= b || !(subscript ? t[i] == '['
                              : t[i] == '.' || (i + 1 < b && t[i] == '-' && t[i + 1] == '>')))
        return false;
    *start = bs;
    *end = b;
    return true;
}

/* use_in_argument: c is a macro's whole use, or a postfix access on one,
** written inside an argument of another macro's use in the function's
** text (fasttm(L, hvalue(t)->metatable, TM_INDEX)): the expansion range
** [a, b) is the outer use's, and the use's own text starts where c's
** start is from the file's point of view.  OUT: *start, *end. */
static bool use_in_argument(Redo *r, CXCursor c, unsigned a, unsigned b, CXFile s1, unsigned sa,
                            CXFile s2, unsigned sb, size_t *start, size_t *end)
{
    CXFile ff;
    unsigned fa;
    clang_getFileLocation(clang_getRangeStart(clang_getCursorExtent(c)), &ff, NULL, NULL, &fa);
    /* libclang reports both ends of a token from a nested expansion at
    ** the outer use's start: the outer use ends where its ')' does. */
    size_t outer = invocation_end(r->file, a);
    (void)b;
    if (!ff || !clang_File_isEqual(ff, r->cxfile) || !outer || fa <= a || fa >= outer)
        return false;
    size_t fb = invocation_end(r->file, fa);
    if (!fb || fb > outer || !balanced(r->file, fa, fb))
        return false;
    if (whole_invocation(r, c, fa, (unsigned)fb, s1, sa)) {
        *start = fa;
        *end = fb;
        return true;
    }
    return s2 && clang_File_isEqual(s2, r->cxfile) && sb > fb && sb < outer &&
           postfix_on_use(r, c, sb, true, start, end);
}

bool span(Redo *r, CXCursor c, size_t *start, size_t *end)
{
    CXSourceRange ext = clang_getCursorExtent(c);
    CXFile f1, f2, s1, s2;
    unsigned a, b, sa, sb;
    clang_getExpansionLocation(clang_getRangeStart(ext), &f1, NULL, NULL, &a);
    clang_getExpansionLocation(clang_getRangeEnd(ext), &f2, NULL, NULL, &b);
    clang_getSpellingLocation(clang_getRangeStart(ext), &s1, NULL, NULL, &sa);
    clang_getSpellingLocation(clang_getRangeEnd(ext), &s2, NULL, NULL, &sb);
    /* The end of a header macro's own last token is reported at the use's
    ** end (sb == b): whole_invocation judges it from the #define. */
    bool header_end = s1 && s2 && !clang_File_isEqual(s1, r->cxfile) &&
                      clang_File_isEqual(s2, r->cxfile) && sb == b;
    if (!f1 || !clang_File_isEqual(f1, r->cxfile) || !clang_File_isEqual(f2, r->cxfile) || !s1 ||
        !s2)
        return false;
    if (!clang_File_isEqual(s1, s2) && !header_end) {
        /* A header macro's use, and tokens after it, in another's argument. */
        r->from_macro = true;
        return !clang_File_isEqual(s1, r->cxfile) &&
               use_in_argument(r, c, a, b, s1, sa, s2, sb, start, end);
    }
    if (!clang_File_isEqual(s1, r->cxfile) || sa > sb || sb > r->file->len) {
        /* From a macro defined elsewhere: only a whole invocation, or a
        ** postfix access on one. */
        r->from_macro = true;
        if (a < b && !whole_invocation(r, c, a, b, s1, sa) && clang_File_isEqual(s2, r->cxfile) &&
            sb == b && postfix_on_use(r, c, b, is_array_object(c), start, end))
            return true;
        if (!whole_invocation(r, c, a, b, s1, sa) &&
            use_in_argument(r, c, a, b, s1, sa, s2, sb, start, end)) {
            r->from_macro = true;
            return true;
        }
        if (a >= b || !whole_invocation(r, c, a, b, s1, sa))
            return false;
        *start = a;
        *end = b;
        return true;
    }
    r->from_macro = a != sa || b != sb;
    if (r->from_macro) {
        if (whole_invocation(r, c, a, b, s1, sa)) {
            *start = a;
            *end = b;
            return true;
        }
        if (sa < a && sb == b && postfix_on_use(r, c, b, is_array_object(c), start, end))
            return true;
        if (sa < a && use_in_argument(r, c, a, b, s1, sa, s2, sb, start, end)) {
            r->from_macro = true;
            return true;
        }
        size_t call_end = invocation_end(r->file, a);
        if (!call_end || sa <= a || sb > call_end || !balanced(r->file, sa, sb))
            return false;
    }
    *start = sa;
    *end = sb;
    return true;
}

bool in_macro_argument(const SrcFile *file, CXCursor c, size_t s, size_t e)
{
    unsigned a;
    clang_getExpansionLocation(clang_getRangeStart(clang_getCursorExtent(c)), NULL, NULL, NULL,
                               &a);
    size_t call_end = a < file->len ? invocation_end(file, a) : 0;
    return call_end && a < s && s < e && e < call_end && balanced(file, s, e);
}

bool span_postfix(Redo *r, CXCursor c, size_t *start, size_t *end)
{
    if (span(r, c, start, end))
        return true;
    while (clang_getCursorKind(c) == CXCursor_UnexposedExpr && kids_of(c).n == 1)
        c = kids_of(c).c[0];
    CXFile sf;
    unsigned sb;
    clang_getSpellingLocation(clang_getRangeEnd(clang_getCursorExtent(c)), &sf, NULL, NULL, &sb);
    if (clang_getCursorKind(c) != CXCursor_MemberRefExpr || !sf ||
        !clang_File_isEqual(sf, r->cxfile) || sb > r->file->len)
        return false;
    bool from = r->from_macro;
    if (postfix_on_use(r, c, sb, true, start, end)) {
        r->from_macro = true;
        return true;
    }
    r->from_macro = from;
    return false;
}

/* once: whether [start, end), just spanned, is still to be rewritten as
** kind.  A macro argument the macro expands twice is rewritten once per
** kind; rewrites of different kinds on one span nest (a string's view
** around the load of the pointer, in plain code or in an argument). */
bool once(Redo *r, size_t start, size_t end, const char *kind)
{
    for (int i = 0; r->from_macro && i < r->ndone; i++)
        if (r->done[i].start == start && r->done[i].end == end &&
            strcmp(r->done[i].kind, kind) == 0)
            return false;
    r->done = xrealloc(r->done, sizeof *r->done * (size_t)(r->ndone + 1));
    r->done[r->ndone++] = (Done){start, end, kind};
    return true;
}

/* find_op: where the operator token op is, first thing in [from, to). */
bool find_op(const SrcFile *file, size_t from, size_t to, const char *op, size_t *at)
{
    size_t i = skip_space(file, from, to);
    size_t n = strlen(op);
    if (i + n > to || memcmp(file->text + i, op, n) != 0)
        return false;
    *at = i;
    return true;
}
