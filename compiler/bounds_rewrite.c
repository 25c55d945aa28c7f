/*
** bounds_rewrite.c - the run-time checks of a mirror clone's stores into
** its local arrays: an index or a length the clone computes is checked
** against the local it stays in (ptm_local_at, ptm_local_fit,
** ptm_local_strcpy of ptm_gen.h), in every mirror clone, proved local or
** instrumented.  What cannot be checked keeps the mirror from running
** inline.
*/
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <clang-c/Index.h>

#include "ptmcc.h"

/* ------------------------------------------------------------------------
** Stores into local arrays
**
** A store into a local is in place, on the host's stack when the mirror
** runs inline; but C's a[i] is *(a + i), and an index past the array
** stores into whatever lies beyond it: the executor's frame, the host's
** frames, another thread's stack.  So, in every mirror clone (proved or
** instrumented), a store into an element of a local array whose index is
** not a constant inside the array is checked against the local variable
** X it is part of (a store that stays in X harms nothing of the host's):
**
**   E = V, E op= V, E++   (*({ __auto_type B = &(E); ptm_local_at(B, sizeof *B,
**                             &X, sizeof X, "X at f.c:3:5"); B; })) = V ...
**   a library call        its length, checked against the room from the
**   filling X             destination to X's end: memcpy(buf + k, s,
**                         ({ __auto_type B = (n); ptm_local_fit(B, 1, (buf + k),
**                         &X, sizeof X, ...); B; }))
**   strcpy, stpcpy,       into X become ptm_local_strcpy(&X, sizeof X,
**   strcat, strncat,      "...", buf, s), which checks the length it
**   sprintf, vsprintf     writes before writing
**
** The index (the length) is evaluated once; the destination, copied into
** the check, must name only locals and have no side effects.  What cannot
** be checked -- a store written inside a macro's body, sscanf into a char
** array without a width it holds, a destination with side effects or
** reading memory other than locals, a variable-length array or
** alloca (which move the stack pointer by a size the mirror computes, into
** another thread's stack if it likes) -- keeps the mirror from running
** inline, in either mode: it runs in a fork.
*/

/* Edits of these checks go outside every write-buffer edit at one offset. */
#define BOUNDS_ORDER 1000000

typedef struct Bounds {
    Redo r;
} Bounds;

/* bounds_block: records why the function cannot run inline at all. */
static void bounds_block(Bounds *b, CXCursor at, const char *fmt, ...) PTMCC_PRINTF(3, 4);
static void bounds_block(Bounds *b, CXCursor at, const char *fmt, ...)
{
    InlineFacts *f = b->r.out;
    if (f->blocker && f->redo_blocker)
        return;
    va_list ap;
    va_start(ap, fmt);
    char *why = reason_at(b->r.file, at, fmt, ap);
    va_end(ap);
    if (!f->blocker) {
        f->blocker = xstrdup(why);
        f->blocker_off = cursor_offset(at);
    }
    if (!f->redo_blocker) {
        f->redo_blocker = xstrdup(why);
        f->redo_blocker_off = cursor_offset(at);
    }
    free(why);
}

static void bounds_add(Bounds *b, size_t off, int order, char *text)
{
    InlineFacts *f = b->r.out;
    f->bounds = xrealloc(f->bounds, sizeof *f->bounds * (size_t)(f->nbounds + 1));
    f->bounds[f->nbounds++] = (RedoEdit){off, 0, order, text};
}

/* index_inside: whether base[idx] is inside the array base whatever runs:
** a constant index in [0, size) of an array of constant size. */
static bool index_inside(CXCursor base, CXCursor idx)
{
    CXType t = clang_getCanonicalType(clang_getCursorType(strip(base)));
    if (t.kind != CXType_ConstantArray)
        return false;
    long long n = clang_getArraySize(t);
    CXEvalResult r = clang_Cursor_Evaluate(idx);
    if (!r)
        return false;
    bool inside = false;
    if (clang_EvalResult_getKind(r) == CXEval_Int) {
        if (clang_EvalResult_isUnsignedInt(r))
            inside = clang_EvalResult_getAsUnsigned(r) < (unsigned long long)n;
        else
            inside = clang_EvalResult_getAsLongLong(r) >= 0 &&
                     clang_EvalResult_getAsLongLong(r) < n;
    }
    clang_EvalResult_dispose(r);
    return inside;
}

/* local_root: the local variable a local object e (is_local_object) is
** part of, in *root; *computed is set when one of its subscripts is not
** constant inside its array. */
bool local_root(CXCursor e, CXCursor *root, bool *computed)
{
    for (int depth = 0; depth < 64; depth++) {
        e = strip(e);
        Kids k = kids_of(e);
        switch (clang_getCursorKind(e)) {
        case CXCursor_DeclRefExpr:
            *root = clang_getCursorReferenced(e);
            return is_own_local(*root);
        case CXCursor_MemberRefExpr:
            if (k.n < 1)
                return false;
            e = k.c[0];
            break;
        case CXCursor_ArraySubscriptExpr:
            if (k.n < 2)
                return false;
            if (!index_inside(k.c[0], k.c[1]))
                *computed = true;
            e = k.c[0];
            break;
        case CXCursor_UnaryOperator: {
            /* (&x)->f: x's member (is_local_object) */
            char *op = op_spelling_unary(e);
            bool addr = strcmp(op, "&") == 0;
            free(op);
            if (!addr || k.n != 1)
                return false;
            e = k.c[0];
            break;
        }
        default:
            return false;
        }
    }
    return false;
}

/* c_literal: s as a C string literal. */
static char *c_literal(const char *s)
{
    size_t n = strlen(s);
    char *out = xcalloc(4 * n + 3, 1), *o = out;
    *o++ = '"';
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\') {
            *o++ = '\\';
            *o++ = (char)ch;
        } else if (ch < 0x20 || ch >= 0x7f) {
            o += sprintf(o, "\\%03o", ch);
        } else {
            *o++ = (char)ch;
        }
    }
    *o++ = '"';
    *o = '\0';
    return out;
}

/* bounds_place: "X at f.c:3:5" as a C literal, for the event. */
static char *bounds_place(Bounds *b, const char *x, CXCursor at)
{
    unsigned line, col;
    src_line_col((SrcLoc){b->r.file, cursor_offset(at)}, &line, &col);
    char *place = format("%s at %s:%u:%u", x, b->r.file->path, line, col);
    char *lit = c_literal(place);
    free(place);
    return lit;
}

/* bounds_span: where the text of c is, when it can be edited in the body. */
static bool bounds_span(Bounds *b, CXCursor c, size_t *s, size_t *t)
{
    return span(&b->r, c, s, t) && *s >= b->r.lo && *t <= b->r.hi;
}

/* checkable_root: X can be named in a check (its address taken). */
static bool checkable_root(Bounds *b, CXCursor root, CXCursor at)
{
    if (clang_Cursor_getStorageClass(root) != CX_SC_Register)
        return true;
    bounds_block(b, at, "stores into a register array at an index it computes");
    return false;
}

/* bounds_store: the store to lhs is checked when lhs is an element of a
** local array at a computed index. */
static void bounds_store(Bounds *b, CXCursor lhs, CXCursor at)
{
    CXCursor e = strip_parens(lhs), root;
    bool computed = false;
    if (!is_local_object(e) || !local_root(e, &root, &computed) || !computed ||
        !checkable_root(b, root, at))
        return;
    /* A bit-field has no address: its struct is checked. */
    CXCursor target = e;
    if (is_bit_field(e)) {
        Kids k = kids_of(e);
        if (k.n < 1)
            return;
        target = k.c[0];
    }
    size_t s, t;
    if (!bounds_span(b, target, &s, &t)) {
        bounds_block(b, at, "stores into a local array inside a macro");
        return;
    }
    if (!once(&b->r, s, t, "bounds"))
        return;
    int n = ++b->r.seq;
    char *x = spelling(root);
    char *place = bounds_place(b, x, at);
    bounds_add(b, s, -BOUNDS_ORDER + n, format("(*__extension__({ __auto_type __ptm_b%d = &(", n));
    bounds_add(b, t, BOUNDS_ORDER - n,
               format("); ptm_local_at(__ptm_b%d, sizeof *__ptm_b%d, &%s, sizeof %s, %s); "
                      "__ptm_b%d; }))",
                      n, n, x, x, place, n));
    free(place);
    free(x);
}

/* local_dest: the local variable a destination a library call writes
** points into: buf, &obj, &buf[i], buf + k, k + buf, buf - k.  False when
** it is not a local's address. */
bool local_dest(CXCursor arg, CXCursor *root)
{
    bool computed = false;
    CXCursor e = strip(arg);
    Kids k = kids_of(e);
    switch (clang_getCursorKind(e)) {
    case CXCursor_UnaryOperator: {
        char *op = op_spelling_unary(e);
        bool addr = strcmp(op, "&") == 0;
        free(op);
        return addr && k.n == 1 && is_local_object(k.c[0]) && local_root(k.c[0], root, &computed);
    }
    case CXCursor_BinaryOperator: {
        char *op = op_spelling_binary(e);
        bool arith = strcmp(op, "+") == 0 || strcmp(op, "-") == 0;
        free(op);
        if (!arith || k.n != 2)
            return false;
        for (int i = 0; i < 2; i++)
            if (is_array_object(k.c[i]) && is_local_object(k.c[i]))
                return local_root(k.c[i], root, &computed);
        return false;
    }
    default:
        return is_array_object(e) && is_local_object(e) && local_root(e, root, &computed);
    }
}

/* pure_local: e reads only the function's locals and constants, without
** side effects: copied into a check, it gives what it gives in the call. */
static enum CXChildVisitResult pure_visit(CXCursor c, CXCursor parent, CXClientData data)
{
    (void)parent;
    bool *pure = data;
    switch (clang_getCursorKind(c)) {
    case CXCursor_DeclRefExpr: {
        CXCursor d = clang_getCursorReferenced(c);
        enum CXCursorKind k = clang_getCursorKind(d);
        if (k != CXCursor_EnumConstantDecl && !is_own_local(d))
            *pure = false;
        break;
    }
    case CXCursor_MemberRefExpr:
    case CXCursor_ArraySubscriptExpr:
        if (!is_local_object(c))
            *pure = false;
        break;
    case CXCursor_UnaryOperator: {
        char *op = op_spelling_unary(c);
        if (strcmp(op, "*") == 0 || strcmp(op, "++") == 0 || strcmp(op, "--") == 0)
            *pure = false;
        free(op);
        break;
    }
    case CXCursor_BinaryOperator: {
        char *op = op_spelling_binary(c);
        if (strcmp(op, "=") == 0)
            *pure = false;
        free(op);
        break;
    }
    case CXCursor_UnaryExpr: /* sizeof: not evaluated */
        return CXChildVisit_Continue;
    case CXCursor_IntegerLiteral:
    case CXCursor_CharacterLiteral:
    case CXCursor_ParenExpr:
    case CXCursor_UnexposedExpr:
    case CXCursor_CStyleCastExpr:
    case CXCursor_ConditionalOperator:
    case CXCursor_TypeRef:
        break;
    default:
        *pure = false;
        break;
    }
    return *pure ? CXChildVisit_Recurse : CXChildVisit_Break;
}

bool pure_local(CXCursor e)
{
    bool pure = true;
    pure_visit(e, clang_getNullCursor(), &pure);
    if (pure)
        clang_visitChildren(e, pure_visit, &pure);
    return pure;
}

/* Library calls that fill a destination with a length they are given:
** the destination, the count, and the argument giving the size of a unit
** (-1: one byte). */
static const struct {
    const char *name;
    int dest, count, unit;
} fillers[] = {
    {"memcpy", 0, 2, -1},   {"memmove", 0, 2, -1},  {"mempcpy", 0, 2, -1},
    {"memset", 0, 2, -1},   {"bzero", 0, 1, -1},    {"explicit_bzero", 0, 1, -1},
    {"strncpy", 0, 2, -1},  {"stpncpy", 0, 2, -1},  {"snprintf", 0, 1, -1},
    {"vsnprintf", 0, 1, -1}, {"fgets", 0, 1, -1},   {"fgets_unlocked", 0, 1, -1},
    {"fread", 0, 2, 1},     {"fread_unlocked", 0, 2, 1}, {"read", 1, 2, -1},
    {"pread", 1, 2, -1},    {"recv", 1, 2, -1},     {"recvfrom", 1, 2, -1},
    {"strftime", 0, 1, -1}, {"strxfrm", 0, 2, -1},  {"strerror_r", 1, 2, -1},
    {"strlcpy", 0, 2, -1},  {"strlcat", 0, 2, -1},  {"qsort", 0, 1, 2},
    {"qsort_r", 0, 1, 2},   {"memccpy", 0, 3, -1},  {"memfrob", 0, 1, -1},
    {"bcopy", 1, 2, -1},    {"__mempcpy", 0, 2, -1}, {"__stpncpy", 0, 2, -1},
    {"strfromd", 0, 1, -1}, {"strfromf", 0, 1, -1}, {"strfroml", 0, 1, -1},
    {"__builtin_memcpy", 0, 2, -1},         {"__builtin_memmove", 0, 2, -1},
    {"__builtin_memset", 0, 2, -1},         {"__builtin___memcpy_chk", 0, 2, -1},
    {"__builtin___memmove_chk", 0, 2, -1},  {"__builtin___memset_chk", 0, 2, -1},
    {"__builtin___mempcpy_chk", 0, 2, -1},  {"__builtin___strncpy_chk", 0, 2, -1},
    {"__builtin___stpncpy_chk", 0, 2, -1},  {"__builtin___snprintf_chk", 0, 1, -1},
    {"__builtin___vsnprintf_chk", 0, 1, -1}, {"__read_chk", 1, 2, -1},
    {"__pread_chk", 1, 2, -1},              {"__fgets_chk", 0, 2, -1},
    {"__fread_chk", 0, 3, 2},               {"__recv_chk", 1, 2, -1},
    {"__recvfrom_chk", 1, 2, -1},
};

bool filler_of(const char *name, int *dest, int *count, int *unit)
{
    for (size_t i = 0; i < sizeof fillers / sizeof *fillers; i++) {
        if (strcmp(fillers[i].name, name) == 0) {
            *dest = fillers[i].dest;
            *count = fillers[i].count;
            *unit = fillers[i].unit;
            return true;
        }
    }
    return false;
}

/* Library calls that fill a destination (argument 0) as far as their data
** goes: the ones with a checked version in libptm (ptm_local_<name>), by
** the name the call is written with. */
static const char *const unbounded[] = {"strcpy", "stpcpy", "strcat", "strncat", "sprintf",
                                        "vsprintf"};

bool is_unbounded_writer(const char *name)
{
    static const char *const also[] = {
        "__builtin_strcpy", "__builtin_stpcpy", "__builtin_strcat", "__builtin_strncat",
        "__builtin_sprintf", "__builtin_vsprintf", "__builtin___strcpy_chk",
        "__builtin___stpcpy_chk", "__builtin___strcat_chk", "__builtin___strncat_chk",
        "__builtin___sprintf_chk", "__builtin___vsprintf_chk"};
    for (size_t i = 0; i < sizeof unbounded / sizeof *unbounded; i++)
        if (strcmp(unbounded[i], name) == 0)
            return true;
    for (size_t i = 0; i < sizeof also / sizeof *also; i++)
        if (strcmp(also[i], name) == 0)
            return true;
    return false;
}

/* constant_of: e's value when it is an integer constant expression. */
static bool constant_of(CXCursor e, long long *v)
{
    CXEvalResult r = clang_Cursor_Evaluate(e);
    if (!r)
        return false;
    bool yes = clang_EvalResult_getKind(r) == CXEval_Int;
    if (yes && clang_EvalResult_isUnsignedInt(r))
        yes = (*v = (long long)clang_EvalResult_getAsUnsigned(r)) >= 0;
    else if (yes)
        *v = clang_EvalResult_getAsLongLong(r);
    clang_EvalResult_dispose(r);
    return yes;
}

/* fill_inside: a call fills, from the start of X (buf, &obj), a constant
** length that X holds (snprintf(buf, sizeof buf, ...)): nothing to check. */
static bool fill_inside(CXCursor dest, CXCursor root, CXCursor count, CXCursor unit)
{
    CXCursor e = strip(dest);
    if (clang_getCursorKind(e) == CXCursor_UnaryOperator) {
        char *op = op_spelling_unary(e);
        bool addr = strcmp(op, "&") == 0;
        free(op);
        Kids k = kids_of(e);
        if (!addr || k.n != 1)
            return false;
        e = strip(k.c[0]);
    }
    long long n, u = 1, size = clang_Type_getSizeOf(clang_getCursorType(root));
    return clang_getCursorKind(e) == CXCursor_DeclRefExpr &&
           clang_equalCursors(clang_getCursorReferenced(e), root) && size > 0 &&
           constant_of(count, &n) && n >= 0 &&
           (clang_Cursor_isNull(unit) || constant_of(unit, &u)) && u >= 0 &&
           (u == 0 || n <= size / u);
}

/* bounds_fill: a filler's count is checked against the room its local
** destination has. */
static void bounds_fill(Bounds *b, CXCursor call, int di, int ci, int ui)
{
    int n = clang_Cursor_getNumArguments(call);
    if (di >= n || ci >= n || ui >= n)
        return;
    CXCursor dest = clang_Cursor_getArgument(call, (unsigned)di), root;
    CXCursor count = clang_Cursor_getArgument(call, (unsigned)ci);
    if (!local_dest(dest, &root) || !checkable_root(b, root, call))
        return;
    CXCursor unit = ui >= 0 ? clang_Cursor_getArgument(call, (unsigned)ui) : clang_getNullCursor();
    if (fill_inside(dest, root, count, unit))
        return;
    size_t ds, dt, cs, ct, us = 0, ut = 0;
    if (!bounds_span(b, dest, &ds, &dt) || (ui >= 0 && !bounds_span(b, unit, &us, &ut)) ||
        !bounds_span(b, count, &cs, &ct)) {
        bounds_block(b, call, "fills a local array inside a macro");
        return;
    }
    if (!pure_local(dest) || (ui >= 0 && !pure_local(unit))) {
        bounds_block(b, call, "fills a local array at a place it computes with side effects or "
                              "from memory other than its locals");
        return;
    }
    if (!once(&b->r, cs, ct, "bounds"))
        return;
    int k = ++b->r.seq;
    char *x = spelling(root);
    char *place = bounds_place(b, x, call);
    char *d = xstrndup(b->r.file->text + ds, dt - ds);
    char *u = ui >= 0 ? xstrndup(b->r.file->text + us, ut - us) : xstrdup("1");
    bounds_add(b, cs, -BOUNDS_ORDER + k, format("__extension__({ __auto_type __ptm_b%d = (", k));
    bounds_add(b, ct, BOUNDS_ORDER - k,
               format("); ptm_local_fit((__SIZE_TYPE__)__ptm_b%d, (%s), (%s), &%s, sizeof %s, %s); "
                      "__ptm_b%d; })",
                      k, u, d, x, x, place, k));
    free(u);
    free(d);
    free(place);
    free(x);
}

/* unbounded_name: where the name of an unbounded writer's call is written
** (*at) and its '(' (*open), in the body's own text: strcpy(, or sprintf(
** expanding to a fortified builtin.  False when it is not written there
** (from a macro's body), or the call was already renamed. */
bool unbounded_name(Redo *r, CXCursor call, size_t *at, size_t *open)
{
    const char *t = r->file->text;
    unsigned a;
    CXFile cf;
    CXSourceLocation start = clang_getRangeStart(clang_getCursorExtent(call));
    clang_getSpellingLocation(start, &cf, NULL, NULL, &a);
    if (!cf || !clang_File_isEqual(cf, r->cxfile) || a < r->lo || a >= r->hi)
        clang_getExpansionLocation(start, &cf, NULL, NULL, &a);
    if (!cf || !clang_File_isEqual(cf, r->cxfile) || a < r->lo || a >= r->hi)
        return false;
    for (size_t i = 0; i < sizeof unbounded / sizeof *unbounded; i++) {
        size_t len = strlen(unbounded[i]);
        if (a + len > r->hi || strncmp(t + a, unbounded[i], len) != 0)
            continue;
        size_t o = skip_space(r->file, a + len, r->hi);
        if (o >= r->hi || t[o] != '(')
            return false;
        *at = a;
        *open = o;
        return once(r, a, a, "name");
    }
    return false;
}

/* bounds_unbounded: strcpy(buf, s) and its kind, into a local, become
** their checked versions: the name as written gets the prefix ptm_local_,
** and the local object comes first. */
static void bounds_unbounded(Bounds *b, CXCursor call)
{
    CXCursor root;
    if (clang_Cursor_getNumArguments(call) < 1 ||
        !local_dest(clang_Cursor_getArgument(call, 0), &root) || !checkable_root(b, root, call))
        return;
    size_t at, open;
    if (!unbounded_name(&b->r, call, &at, &open)) {
        bounds_block(b, call, "fills a local array with a call written inside a macro");
        return;
    }
    char *x = spelling(root);
    char *place = bounds_place(b, x, call);
    bounds_add(b, at, 2 * BOUNDS_ORDER, xstrdup("ptm_local_"));
    bounds_add(b, open + 1, -2 * BOUNDS_ORDER, format("&%s, sizeof %s, %s, ", x, x, place));
    free(place);
    free(x);
}

/* array_room: the size of the array arg decays from (a local, a member,
** a global), or -1 when it is not an array of constant size. */
static long long array_room(CXCursor arg)
{
    if (!is_array_object(arg))
        return -1;
    CXType t = clang_getCanonicalType(clang_getCursorType(strip(arg)));
    return t.kind == CXType_ConstantArray ? clang_Type_getSizeOf(t) : -1;
}

/* scan_fits: whether each char array a scanf-family call fills (its
** format a literal, its arguments from first on) is given a width the
** array holds: "%63s" into char[64].  Other conversions write an object
** of their argument's type. */
static bool scan_fits(CXCursor call, int first)
{
    int n = clang_Cursor_getNumArguments(call);
    if (first < 1 || first > n)
        return false;
    CXCursor fmt = strip(clang_Cursor_getArgument(call, (unsigned)first - 1));
    if (clang_getCursorKind(fmt) != CXCursor_StringLiteral)
        return false;
    char *lit = spelling(fmt);
    const char *f = lit;
    bool fits = *f == '"' && !strchr(f, '\\');
    int arg = first;
    for (f++; fits && *f && *f != '"'; f++) {
        if (*f != '%')
            continue;
        f++;
        if (*f == '%')
            continue;
        bool assign = *f != '*';
        if (!assign)
            f++;
        long long width = -1;
        if (*f >= '0' && *f <= '9')
            width = strtoll(f, (char **)&f, 10);
        if (*f == '$') {
            fits = false; /* positional arguments: not followed */
            break;
        }
        bool wide = false, alloc = false;
        while (*f && strchr("hljztLqm", *f)) {
            wide |= *f == 'l';
            alloc |= *f == 'm';
            f++;
        }
        char conv = *f;
        if (conv == '[') {
            f++;
            if (*f == '^')
                f++;
            if (*f == ']')
                f++;
            while (*f && *f != ']' && *f != '"')
                f++;
        }
        if (!conv || conv == '"') {
            fits = false;
            break;
        }
        if (!assign)
            continue;
        if (conv == 'n') {
            arg++; /* an int the count goes to */
            continue;
        }
        if (arg >= n) {
            fits = false;
            break;
        }
        CXCursor a = clang_Cursor_getArgument(call, (unsigned)arg++);
        if ((conv == 's' || conv == '[' || conv == 'c') && !wide && !alloc) {
            long long room = array_room(a);
            long long need = conv == 'c' ? (width < 0 ? 1 : width) : width + 1;
            if (room < 0 && need == 1 && is_pointer_type(clang_getCursorType(strip(a))))
                room = 1; /* one char, into the char pointed to: &ch */
            fits = width >= 0 || conv == 'c' ? room >= need && room > 0 : false;
        }
    }
    free(lit);
    return fits;
}

/* desugared: t without its outermost typedef or elaboration (t itself when
** it has neither). */
static CXType desugared(CXType t)
{
    if (t.kind == CXType_Elaborated)
        return clang_Type_getNamedType(t);
    if (t.kind == CXType_Typedef)
        return clang_getTypedefDeclUnderlyingType(clang_getTypeDeclaration(t));
    return t;
}

/* is_wide_char: t is wchar_t, char16_t, char32_t or wint_t, through any
** typedefs of them (typedef wchar_t wc): their canonical type is a plain
** integer, so only the names tell. */
static bool is_wide_char(CXType t)
{
    static const char *const wide[] = {"wchar_t", "char16_t", "char32_t", "wint_t"};
    for (int depth = 0; depth < 32; depth++) {
        if (t.kind == CXType_Typedef) {
            CXString s = clang_getTypedefName(t);
            const char *name = clang_getCString(s);
            bool hit = false;
            for (size_t i = 0; i < sizeof wide / sizeof *wide && !hit; i++)
                hit = strcmp(name, wide[i]) == 0;
            clang_disposeString(s);
            if (hit)
                return true;
        }
        CXType next = desugared(t);
        if (clang_equalTypes(next, t))
            break;
        t = next;
    }
    enum CXTypeKind k = clang_getCanonicalType(t).kind;
    return k == CXType_WChar || k == CXType_Char16 || k == CXType_Char32;
}

/* is_buffer_element: void, a character type or a wide character: a call
** given a pointer to them writes as many as it likes, not one object. */
static bool is_buffer_element(CXType pointee)
{
    switch (clang_getCanonicalType(pointee).kind) {
    case CXType_Void:
    case CXType_Char_S:
    case CXType_Char_U:
    case CXType_SChar:
    case CXType_UChar:
        return true;
    default:
        return is_wide_char(pointee);
    }
}

/* element_of: what a pointer or array type (through typedefs: typedef wc
** wcs4[4]) points to or holds; an invalid type for anything else. */
static CXType element_of(CXType t)
{
    for (int depth = 0; depth < 32; depth++) {
        switch (t.kind) {
        case CXType_Pointer:
            return clang_getPointeeType(t);
        case CXType_ConstantArray:
        case CXType_IncompleteArray:
        case CXType_VariableArray:
        case CXType_DependentSizedArray:
            return clang_getArrayElementType(t);
        default:
            break;
        }
        CXType next = desugared(t);
        if (clang_equalTypes(next, t))
            break;
        t = next;
    }
    return (CXType){.kind = CXType_Invalid};
}

/* bounds_unsized: a library call that writes into a local buffer (through
** a pointer to void or characters) as far as a length ptmcc does not
** check (memfrob(b, n), bcopy(s, b, n), memccpy(b, s, c, n), gcvt(v, 60,
** b), mbstowcs(b, s, n), strfromd(b, n, ...)): it overflowed the mirror's
** frame on the host's stack.  The mirror cannot run inline.  A pointer to
** one object (strtol's &end, frexp's &e, localtime_r's &tm) is written as
** one; strtok_r writes only inside the string it is given. */
static void bounds_unsized(Bounds *b, CXCursor call, CXCursor callee, const char *name,
                           unsigned written)
{
    if (strcmp(name, "strtok_r") == 0 || strcmp(name, "__strtok_r") == 0)
        return;
    CXType fn = clang_getCursorType(callee);
    int nparams = clang_getNumArgTypes(fn);
    int n = clang_Cursor_getNumArguments(call);
    for (int a = 0; a < n && a < 32; a++) {
        CXCursor arg = clang_Cursor_getArgument(call, (unsigned)a), root;
        if (!(written & (1u << a)) || (!local_dest(arg, &root) && !is_local_address(arg)))
            continue;
        /* The parameter (void *dst) and what it is given (a char array,
        ** not &in_addr) are both buffers. */
        CXType param = a < nparams ? clang_getArgType(fn, (unsigned)a) : clang_getCursorType(arg);
        CXType pointee = clang_getPointeeType(param);
        CXType element = element_of(clang_getCursorType(strip(arg)));
        /* An int array handed to mbstowcs (through a cast) is a buffer
        ** of wide characters too: wchar_t is an int. */
        bool same = element.kind != CXType_Invalid &&
                    clang_getCanonicalType(element).kind == clang_getCanonicalType(pointee).kind;
        if (is_buffer_element(pointee) && (is_buffer_element(element) || same))
            bounds_block(b, call, "%s writes a local buffer as far as a length ptmcc cannot check",
                         name);
    }
}

/* bounds_callback: a library call given a function pointer that the
** mirror's rewrite does not replace by a clone (a variable, a member, a
** parameter: qsort(a, n, size, gcmp)): the library calls the host's own
** function from the inline mirror, and its stores reach the host's
** memory (a dry run changed it).  Only a function named at the call
** (passed as its clone, or a pure or shim library function) or a null
** pointer leaves the mirror inline. */
static void bounds_callback(Bounds *b, CXCursor call, const Callees *callees, const char *name)
{
    int n = clang_Cursor_getNumArguments(call);
    for (int a = 0; a < n; a++) {
        CXCursor arg = clang_Cursor_getArgument(call, (unsigned)a);
        CXType t = clang_getCanonicalType(clang_getCursorType(arg));
        if (t.kind != CXType_Pointer || is_null_constant(arg))
            continue;
        enum CXTypeKind pointee = clang_getCanonicalType(clang_getPointeeType(t)).kind;
        if (pointee != CXType_FunctionProto && pointee != CXType_FunctionNoProto)
            continue;
        CXCursor e = strip(arg);
        Kids k = kids_of(e);
        if (clang_getCursorKind(e) == CXCursor_UnaryOperator && k.n == 1)
            e = strip(k.c[0]); /* &f */
        CXCursor fn = clang_getCursorReferenced(e);
        if (clang_getCursorKind(e) == CXCursor_DeclRefExpr &&
            clang_getCursorKind(fn) == CXCursor_FunctionDecl) {
            char *fname = spelling(fn);
            bool replaced = (callees && callees->is_clone(callees->ctx, fn)) ||
                            call_is_pure(fname) || call_shim_family(fname);
            free(fname);
            if (replaced)
                continue;
        }
        bounds_block(b, call, "passes %s a function pointer that is not a clone", name);
    }
}

/* The printf family's calls that a mirror makes as they are, by the index
** of their format: a %n conversion stores the count through a pointer
** argument, wherever it points (the stdio shims and ptm_local_sprintf
** check the format at run time, these cannot). */
static const struct {
    const char *name;
    int format;
} formatters[] = {
    {"sprintf", 1},           {"vsprintf", 1},           {"snprintf", 2},
    {"vsnprintf", 2},         {"__sprintf_chk", 3},      {"__vsprintf_chk", 3},
    {"__snprintf_chk", 4},    {"__vsnprintf_chk", 4},    {"__builtin___sprintf_chk", 3},
    {"__builtin___vsprintf_chk", 3}, {"__builtin___snprintf_chk", 4},
    {"__builtin___vsnprintf_chk", 4}, {"sqlite3_snprintf", 2}, {"sqlite3_vsnprintf", 2},
};

/* format_may_store: whether argument i of call, a printf format, may have
** a %n conversion: it is not one string literal whose escapes are all of
** one character (\n, \", ...: an octal one could spell "%n"), or it has
** one. */
static bool format_may_store(CXCursor call, int i)
{
    if (i >= clang_Cursor_getNumArguments(call))
        return true;
    CXCursor fmt = strip(clang_Cursor_getArgument(call, (unsigned)i));
    if (clang_getCursorKind(fmt) != CXCursor_StringLiteral)
        return true;
    char *lit = spelling(fmt);
    size_t len = strlen(lit);
    bool stores = len < 2 || lit[0] != '"' || lit[len - 1] != '"';
    for (size_t k = 1; !stores && k < len - 1; k++) {
        if (lit[k] == '\\') {
            stores = !strchr("ntrabfv\\'\"?", lit[++k]);
        } else if (lit[k] == '"') {
            stores = true; /* literals pasted together: not read */
        } else if (lit[k] == '%') {
            k++;
            if (lit[k] == '%')
                continue;
            k += strspn(lit + k, "0123456789$#-+ '*.I!,"); /* SQLite's ! and , too */
            k += strspn(lit + k, "hlLqjzt");
            stores = lit[k] == 'n';
            k--;
        }
    }
    free(lit);
    return stores;
}

/* scan_allocates: whether a scanf-family call's format (argument first-1)
** may have an m conversion ("%ms"), which allocates from the host's heap:
** the mirror's free leaves host memory to the primary, so every mirror
** would leak it.  A format that is no literal is scan_fits' to refuse. */
static bool scan_allocates(CXCursor call, int first)
{
    if (first < 1 || first > clang_Cursor_getNumArguments(call))
        return false;
    CXCursor fmt = strip(clang_Cursor_getArgument(call, (unsigned)first - 1));
    if (clang_getCursorKind(fmt) != CXCursor_StringLiteral)
        return false;
    char *lit = spelling(fmt);
    bool allocates = false;
    for (const char *f = lit; !allocates && (f = strchr(f, '%'));) {
        f++;
        if (*f == '%') {
            f++;
            continue;
        }
        f += strspn(f, "*0123456789$");
        allocates = f[strcspn(f, "m")] && strcspn(f, "m") < strspn(f, "hljztLqm");
    }
    free(lit);
    return allocates;
}

/* bounds_call: what a library call writes into a local array. */
static void bounds_call(Bounds *b, CXCursor call, const Callees *callees)
{
    CXCursor callee = clang_getCursorReferenced(call);
    if (clang_getCursorKind(callee) != CXCursor_FunctionDecl ||
        (callees && callees->is_clone(callees->ctx, callee)))
        return;
    char *name = spelling(callee);
    bounds_callback(b, call, callees, name);
    if (strcmp(name, "alloca") == 0 || strncmp(name, "__builtin_alloca", 16) == 0)
        bounds_block(b, call, "calls %s, which takes stack of a size it computes", name);
    bool filled = false;
    for (size_t i = 0; i < sizeof fillers / sizeof *fillers; i++)
        if (strcmp(fillers[i].name, name) == 0) {
            bounds_fill(b, call, fillers[i].dest, fillers[i].count, fillers[i].unit);
            filled = true;
        }
    if (is_unbounded_writer(name))
        bounds_unbounded(b, call);
    for (size_t i = 0; i < sizeof formatters / sizeof *formatters; i++)
        if (strcmp(formatters[i].name, name) == 0 && format_may_store(call, formatters[i].format))
            bounds_block(b, call, "%s's format is no literal free of %%n, which stores through an argument", name);
    /* sscanf's %s fills a char array as far as its input goes, wherever
    ** the array is: only a width that the array holds bounds it. */
    unsigned written = call_written(name);
    int first = written == CALL_ALL_FROM(2) ? 2 : written == CALL_ALL_FROM(1);
    if (first && scan_allocates(call, first))
        bounds_block(b, call, "%s's %%m allocates from the host's heap, which the mirror cannot free", name);
    else if (first && !scan_fits(call, first))
        bounds_block(b, call, "%s fills a char array as far as its input goes", name);
    else if (!filled && !first && !is_unbounded_writer(name) && written != CALL_WRITES_STATE)
        bounds_unsized(b, call, callee, name, written);
    free(name);
}

static enum CXChildVisitResult bounds_visit(CXCursor c, CXCursor parent, CXClientData data)
{
    (void)parent;
    void **ctx = data;
    Bounds *b = ctx[0];
    const Callees *callees = ctx[1];
    switch (clang_getCursorKind(c)) {
    case CXCursor_BinaryOperator: {
        char *op = op_spelling_binary(c);
        if (strcmp(op, "=") == 0) {
            Kids k = kids_of(c);
            if (k.n >= 1)
                bounds_store(b, k.c[0], c);
        }
        free(op);
        break;
    }
    case CXCursor_CompoundAssignOperator: {
        Kids k = kids_of(c);
        if (k.n >= 1)
            bounds_store(b, k.c[0], c);
        break;
    }
    case CXCursor_UnaryOperator:
        if (is_increment(c)) {
            Kids k = kids_of(c);
            if (k.n >= 1)
                bounds_store(b, k.c[0], c);
        }
        break;
    case CXCursor_CallExpr:
        bounds_call(b, c, callees);
        break;
    case CXCursor_VarDecl: {
        enum CX_StorageClass sc = clang_Cursor_getStorageClass(c);
        if (sc != CX_SC_Static && sc != CX_SC_Extern &&
            clang_getCanonicalType(clang_getCursorType(c)).kind == CXType_VariableArray)
            bounds_block(b, c, "declares a variable-length array");
        break;
    }
    case CXCursor_UnaryExpr: /* sizeof, _Alignof: not evaluated */
        return CXChildVisit_Continue;
    default:
        break;
    }
    return CXChildVisit_Recurse;
}

/* bounds_checks: the checks of fn's stores into local arrays (out->bounds),
** or why it cannot run inline (out->blocker and out->redo_blocker). */
void bounds_checks(CXCursor body, SrcFile *file, const Callees *callees, InlineFacts *out)
{
    Bounds b = {.r = redo_start(body, file, callees, out)};
    void *ctx[2] = {&b, (void *)callees};
    clang_visitChildren(body, bounds_visit, ctx);
    free(b.r.done);
}
