/*
** positions.c - where a libclang cursor or location is: expansion and
** spelling offsets in a file, the loaded file, and a diagnostic position;
** libclang's own errors reported at theirs.  And the two small helpers
** every file of the front end uses: text_of (a CXString as a C string) and
** push_name (a list of names without repeats).
**
** Positions are expansion locations (where the text is in the file),
** except for redirects, which use spelling locations: a call written in a
** macro argument is spelled in the file and can be renamed there, a call
** written in a macro's body cannot and is redirected by the emitter with a
** scoped function-like macro instead (resolve.c).
*/
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <clang-c/Index.h>

#include "ptmcc.h"

/* The texts of the unit's files file_text handed out.  libclang finds the
** buffer of a file other than the main one by a linear search of the
** unit's source locations (one per macro expansion), and the rewrite asks
** at every access that a macro's body spells: on Lua's lvm.c under
** -fptm-mirror-all that search was a third of ptmcc's own time. */
#define TEXT_CACHE 16
static struct {
    CXTranslationUnit tu;
    CXFile file;
    const char *text;
    size_t len;
} text_cache[TEXT_CACHE];
static unsigned text_cache_next;

/* file_text: the text of f, a file of tu (NULL for none: f NULL, or no
** buffer), as clang_getFileContents gives it, which lives as long as tu.
** OUT: *len, its length (set only when the text is returned). */
const char *file_text(CXTranslationUnit tu, CXFile f, size_t *len)
{
    if (!f)
        return NULL;
    for (int i = 0; i < TEXT_CACHE; i++)
        if (text_cache[i].file == f && text_cache[i].tu == tu) {
            *len = text_cache[i].len;
            return text_cache[i].text;
        }
    size_t n = 0;
    const char *text = clang_getFileContents(tu, f, &n);
    if (!text)
        return NULL;
    unsigned k = text_cache_next++ % TEXT_CACHE;
    text_cache[k].tu = tu;
    text_cache[k].file = f;
    text_cache[k].text = text;
    text_cache[k].len = n;
    *len = n;
    return text;
}

/* file_text_forget: drops what file_text keeps of tu, before tu is
** disposed (a later unit may have the same address, its files too). */
void file_text_forget(CXTranslationUnit tu)
{
    for (int i = 0; i < TEXT_CACHE; i++)
        if (text_cache[i].tu == tu)
            text_cache[i].tu = NULL, text_cache[i].file = NULL;
}

/* text_of: a malloc'd copy of a CXString, disposing it. */
char *text_of(CXString s)
{
    const char *c = clang_getCString(s);
    char *r = xstrdup(c ? c : "");
    clang_disposeString(s);
    return r;
}

static bool name_in(const char *name, const char *const *names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(names[i], name) == 0)
            return true;
    return false;
}

/* push_name: appends a copy of name to a list unless it is there. */
void push_name(char ***v, int *n, const char *name)
{
    if (name_in(name, (const char *const *)*v, (size_t)*n))
        return;
    *v = xrealloc(*v, sizeof **v * (size_t)(*n + 1));
    (*v)[(*n)++] = xstrdup(name);
}

/* expansion_in: the expansion offset of loc, and whether it is in file. */
bool expansion_in(CXSourceLocation loc, CXFile file, size_t *off)
{
    CXFile f;
    unsigned o;
    clang_getExpansionLocation(loc, &f, NULL, NULL, &o);
    *off = o;
    return f && file && clang_File_isEqual(f, file);
}

/* spelling_in: the spelling offset of loc, and whether it is in file. */
bool spelling_in(CXSourceLocation loc, CXFile file, size_t *off)
{
    CXFile f;
    unsigned o;
    clang_getSpellingLocation(loc, &f, NULL, NULL, &o);
    *off = o;
    return f && file && clang_File_isEqual(f, file);
}

bool expansion_off(Front *fr, CXSourceLocation loc, size_t *off)
{
    return expansion_in(loc, fr->main_cx, off);
}

/* file_of: the loaded file of a libclang file. */
SrcFile *file_of(Front *fr, CXFile f)
{
    if (!f)
        return NULL;
    if (clang_File_isEqual(f, fr->main_cx))
        return fr->main;
    char *name = text_of(clang_getFileName(f));
    SrcFile *sf = src_load(name);
    free(name);
    return sf;
}

/* loc_at: a location as a diagnostic position (expansion). */
SrcLoc loc_at(Front *fr, CXSourceLocation loc)
{
    CXFile f;
    unsigned o;
    clang_getExpansionLocation(loc, &f, NULL, NULL, &o);
    SrcFile *sf = file_of(fr, f);
    return sf ? (SrcLoc){sf, o} : (SrcLoc){0};
}

/* loc_of: a cursor's location as a diagnostic position (expansion). */
SrcLoc loc_of(Front *fr, CXCursor c)
{
    return loc_at(fr, clang_getCursorLocation(c));
}

/* cursor_file: the file a cursor is written in (expansion), or NULL. */
CXFile cursor_file(CXCursor c)
{
    CXFile f;
    clang_getExpansionLocation(clang_getCursorLocation(c), &f, NULL, NULL, NULL);
    return f;
}

/* has_clang_errors: whether libclang found an error in the unit. */
bool has_clang_errors(Front *fr)
{
    unsigned n = clang_getNumDiagnostics(fr->tu);
    bool any = false;
    for (unsigned i = 0; i < n && !any; i++) {
        CXDiagnostic d = clang_getDiagnostic(fr->tu, i);
        any = clang_getDiagnosticSeverity(d) >= CXDiagnostic_Error;
        clang_disposeDiagnostic(d);
    }
    return any;
}

/* report_clang_errors: prints libclang's errors as diagnostics; true when
** there was at least one (the unit cannot be rewritten). */
bool report_clang_errors(Front *fr)
{
    bool any = false;
    unsigned n = clang_getNumDiagnostics(fr->tu);
    for (unsigned i = 0; i < n; i++) {
        CXDiagnostic d = clang_getDiagnostic(fr->tu, i);
        enum CXDiagnosticSeverity sev = clang_getDiagnosticSeverity(d);
        if (sev >= CXDiagnostic_Error) {
            any = true;
            SrcLoc loc = loc_at(fr, clang_getDiagnosticLocation(d));
            char *msg = text_of(clang_getDiagnosticSpelling(d));
            if (loc.file)
                error_at(loc, 1, "%s", msg);
            else
                error_plain("%s", msg);
            free(msg);
        }
        clang_disposeDiagnostic(d);
    }
    return any;
}

/* definition_spelled: whether def's name is written out in the file it is
** defined in (not produced by a macro), so that it can be cloned.
** OUT: *file. */
/* whole_conditionals: whether text[start, end) closes every #if it opens
** and no other: a clone copies that text elsewhere, so a definition split
** across a conditional's branches (SQLite's shell: #if ... int main(...){
** #else int wmain(...){ ... #endif) cannot be cloned. */
static bool whole_conditionals(const char *text, size_t start, size_t end)
{
    int depth = 0;
    for (size_t i = start; i < end; i++) {
        if (i > start && text[i - 1] != '\n')
            continue;
        size_t j = i;
        while (j < end && (text[j] == ' ' || text[j] == '\t'))
            j++;
        if (j >= end || text[j] != '#')
            continue;
        j++;
        while (j < end && (text[j] == ' ' || text[j] == '\t'))
            j++;
        const char *d = text + j;
        if (strncmp(d, "if", 2) == 0) /* #if, #ifdef, #ifndef */
            depth++;
        else if (strncmp(d, "endif", 5) == 0 && --depth < 0)
            return false;
        else if ((strncmp(d, "el", 2) == 0) && depth == 0) /* #else, #elif... */
            return false;
    }
    return depth == 0;
}

bool definition_spelled(CXCursor def, CXFile *file)
{
    CXSourceLocation loc = clang_getCursorLocation(def);
    CXFile ef, sf;
    unsigned eo, so;
    clang_getExpansionLocation(loc, &ef, NULL, NULL, &eo);
    clang_getSpellingLocation(loc, &sf, NULL, NULL, &so);
    *file = ef;
    if (!ef || !sf || !clang_File_isEqual(ef, sf) || eo != so)
        return false;
    CXSourceRange r = clang_getCursorExtent(def);
    CXFile f1, f2;
    unsigned start, end;
    clang_getExpansionLocation(clang_getRangeStart(r), &f1, NULL, NULL, &start);
    clang_getExpansionLocation(clang_getRangeEnd(r), &f2, NULL, NULL, &end);
    size_t size;
    const char *text = file_text(clang_Cursor_getTranslationUnit(def), ef, &size);
    return text && f1 && f2 && clang_File_isEqual(f1, ef) && clang_File_isEqual(f2, ef) &&
           start <= end && end <= size && whole_conditionals(text, start, end);
}
