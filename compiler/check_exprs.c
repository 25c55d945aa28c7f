/*
** check_exprs.c - the rewritten unit's expressions: success_criteria and
** snapshot are C the backend resolves (globals, enum constants, macros,
** types).  An error there, left to the backend, shows a line of the
** generated code (`retrun == 0)) != 0;`) and its follow-on errors.  So
** ptmcc compiles the rewritten unit with libclang first, and reports the
** first error inside each expression itself, at the user's text.
*/
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <clang-c/Index.h>

#include "ptmcc.h"

/* ExprSpan: where an expression of the annotation is in the source. */
typedef struct ExprSpan {
    SrcFile *file;
    size_t off, end;     /* [off, end): its source bytes */
    bool reported;       /* its first error is out: the rest follow from it */
} ExprSpan;

/* span_of: the source bytes of text span [off, end) of f's annotation.
** An annotation without a map puts everything at its origin. */
static ExprSpan span_of(const Func *f, size_t off, size_t end)
{
    SrcLoc a = annot_loc(&f->annot, off);
    SrcLoc b = annot_loc(&f->annot, end > off ? end - 1 : off);
    if (!f->annot.map || a.file != b.file || b.off < a.off)
        return (ExprSpan){a.file, a.off, a.off + 1, false};
    return (ExprSpan){a.file, a.off, b.off + 1, false};
}

/* expr_spans: the spans of the expressions of u that need the backend.
** OUT: *n.  Returns a malloc'd array (NULL when none). */
static ExprSpan *expr_spans(const Unit *u, int *n)
{
    ExprSpan *v = NULL;
    *n = 0;
    for (int i = 0; i < u->nfuncs; i++) {
        const Func *f = &u->funcs[i];
        const char **names = xcalloc((size_t)f->nparams + 1, sizeof *names);
        for (int k = 0; k < f->nparams; k++)
            names[k] = f->params[k].name;
        FuncSig sig = {f->name, f->returns_void, f->returns_record, names, f->nparams, NULL,
                       NULL};
        const Node *e[2] = {f->meta.success, f->meta.snapshot};
        bool need[2] = {expr_needs_backend(e[0], &sig), expr_needs_backend(e[1], &sig)};
        free(names);
        for (int k = 0; k < 2; k++) {
            if (!need[k])
                continue;
            v = xrealloc(v, sizeof *v * (size_t)(*n + 1));
            v[(*n)++] = span_of(f, e[k]->off, e[k]->end);
        }
    }
    return v;
}

/* presumed_loc: where a location of the rewritten unit is by its #line
** directives: the user's file and offset.  OUT: *len, the bytes of the
** diagnostic's range on that line (at least 1).  {0} when unknown. */
static SrcLoc presumed_loc(CXDiagnostic d, size_t *len)
{
    CXString name;
    unsigned line, col;
    clang_getPresumedLocation(clang_getDiagnosticLocation(d), &name, &line, &col);
    char *path = text_of(name);
    SrcFile *f = *path && line ? src_load(path) : NULL;
    free(path);
    *len = 1;
    if (!f)
        return (SrcLoc){0};
    unsigned l0, c0;
    src_line_col((SrcLoc){f, 0}, &l0, &c0); /* builds the line index */
    if (line > f->nlines)
        return (SrcLoc){0};
    size_t off = f->lines[line - 1] + (col ? col - 1 : 0);
    if (clang_getDiagnosticNumRanges(d) > 0) {
        CXSourceRange r = clang_getDiagnosticRange(d, 0);
        CXString n2;
        unsigned l1, c1, l2, c2;
        clang_getPresumedLocation(clang_getRangeStart(r), &n2, &l1, &c1);
        clang_disposeString(n2);
        clang_getPresumedLocation(clang_getRangeEnd(r), &n2, &l2, &c2);
        clang_disposeString(n2);
        if (l1 == line && l2 == line && c1 == col && c2 > c1)
            *len = c2 - c1;
    }
    return (SrcLoc){f, off < f->len ? off : f->len};
}

/* fixit_len: the source bytes fix-it i of d replaces, when it starts at
** at (d's place) and stays on its line; -1 otherwise.  OUT: *text. */
static long fixit_len(CXDiagnostic d, unsigned i, SrcLoc at, char **text)
{
    CXSourceRange r;
    *text = text_of(clang_getDiagnosticFixIt(d, i, &r));
    CXString n1, n2;
    unsigned l1, c1, l2, c2, la, ca;
    clang_getPresumedLocation(clang_getRangeStart(r), &n1, &l1, &c1);
    clang_getPresumedLocation(clang_getRangeEnd(r), &n2, &l2, &c2);
    clang_disposeString(n1);
    clang_disposeString(n2);
    src_line_col(at, &la, &ca);
    return l1 == la && c1 == ca && l2 == l1 && c2 >= c1 ? (long)(c2 - c1) : -1;
}

/* report_with_fixits: d at `at`, with clang's replacements ('retrun' ->
** 'return') shown as clang shows them; the caret spans what the first
** one replaces when d has no range of its own. */
static void report_with_fixits(CXDiagnostic d, SrcLoc at, size_t len)
{
    unsigned n = clang_getDiagnosticNumFixIts(d);
    char *text;
    long first = n ? fixit_len(d, 0, at, &text) : -1;
    if (n)
        free(text);
    char *msg = text_of(clang_getDiagnosticSpelling(d));
    error_at(at, len == 1 && first > 1 ? (size_t)first : len, "%s", msg);
    free(msg);
    for (unsigned i = 0; i < n; i++) {
        long k = fixit_len(d, i, at, &text);
        if (k >= 0)
            fixit(at, (size_t)k, text);
        free(text);
    }
}

/* report_in_spans: reports d if it is an error inside one of the spans
** whose first error is not out yet.  Returns whether it was reported. */
static bool report_in_spans(CXDiagnostic d, ExprSpan *spans, int n)
{
    if (clang_getDiagnosticSeverity(d) < CXDiagnostic_Error)
        return false;
    size_t len;
    SrcLoc at = presumed_loc(d, &len);
    for (int i = 0; at.file && i < n; i++) {
        ExprSpan *s = &spans[i];
        if (s->file != at.file || at.off < s->off || at.off >= s->end)
            continue;
        if (s->reported)
            return false;
        s->reported = true;
        report_with_fixits(d, at, len);
        return true;
    }
    return false;
}

/* front_check_exprs: see ptmcc.h. */
bool front_check_exprs(const Unit *u, const char *path, const char *text,
                       const char *const *args, int nargs)
{
    int n;
    ExprSpan *spans = expr_spans(u, &n);
    if (!n)
        return true;
    /* libclang turns typo correction off unless asked: "did you mean" */
    const char **argv = xcalloc((size_t)nargs + 1, sizeof *argv);
    memcpy(argv, args, sizeof *argv * (size_t)nargs);
    argv[nargs] = "-fspell-checking";
    CXIndex index = clang_createIndex(0, 0);
    struct CXUnsavedFile unsaved = {path, text, (unsigned long)strlen(text)};
    CXTranslationUnit tu = NULL;
    enum CXErrorCode rc = clang_parseTranslationUnit2(index, path, argv, nargs + 1, &unsaved, 1,
                                                      CXTranslationUnit_KeepGoing, &tu);
    free(argv);
    int errors = 0;
    for (unsigned i = 0; rc == CXError_Success && i < clang_getNumDiagnostics(tu); i++) {
        CXDiagnostic d = clang_getDiagnostic(tu, i);
        errors += report_in_spans(d, spans, n);
        clang_disposeDiagnostic(d);
    }
    /* A parse that failed, or an error elsewhere, is the backend's to report. */
    if (tu)
        clang_disposeTranslationUnit(tu);
    clang_disposeIndex(index);
    free(spans);
    return errors == 0;
}
