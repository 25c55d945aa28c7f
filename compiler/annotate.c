/*
** annotate.c - the annotate attributes ptm.h puts on declarations:
** annotate("ptm.transaction:..."), annotate("ptm.mirrorable"),
** annotate("ptm.mirror_of:fn"); and the unit's declarations and user shims
** by name.
*/
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <clang-c/Index.h>

#include "ptmcc.h"

enum CXChildVisitResult find_child(CXCursor c, CXCursor parent, CXClientData data)
{
    (void)parent;
    ChildSearch *s = data;
    if (clang_getCursorKind(c) != s->kind)
        return CXChildVisit_Continue;
    char *text = text_of(clang_getCursorSpelling(c));
    if (s->prefix ? strncmp(text, s->text, strlen(s->text)) == 0 : strcmp(text, s->text) == 0) {
        s->spelling = text;
        s->found = c;
        return CXChildVisit_Break;
    }
    free(text);
    return CXChildVisit_Continue;
}

/* annotation_of: the text after prefix of fn's first annotate attribute
** starting with prefix (inherited ones included), with the attribute
** cursor.  NULL when fn has none. */
char *annotation_of(CXCursor fn, const char *prefix, CXCursor *attr)
{
    ChildSearch s = {CXCursor_AnnotateAttr, prefix, true, NULL, clang_getNullCursor()};
    clang_visitChildren(fn, find_child, &s);
    if (!s.spelling)
        return NULL;
    if (attr)
        *attr = s.found;
    char *body = xstrdup(s.spelling + strlen(prefix));
    free(s.spelling);
    return body;
}

bool has_annotation(CXCursor fn, const char *prefix)
{
    char *t = annotation_of(fn, prefix, NULL);
    free(t);
    return t != NULL;
}

/* is_mirrorable: fn, or the first declaration of its function, carries
** PTM_MIRRORABLE. */
bool is_mirrorable(CXCursor fn)
{
    return has_annotation(fn, MIRRORABLE_ANNOT) ||
           has_annotation(clang_getCanonicalCursor(fn), MIRRORABLE_ANNOT);
}

CXCursor *find_decl(Front *fr, const char *name)
{
    for (int i = 0; i < fr->ndecls; i++)
        if (strcmp(fr->decls[i].name, name) == 0)
            return &fr->decls[i].cursor;
    return NULL;
}

UserShim *find_user_shim(Front *fr, const char *target)
{
    for (int i = 0; i < fr->nshims; i++)
        if (strcmp(fr->shims[i].target, target) == 0)
            return &fr->shims[i];
    return NULL;
}

bool has_user_shim(const void *ctx, const char *name)
{
    return find_user_shim((Front *)(uintptr_t)ctx, name) != NULL;
}
