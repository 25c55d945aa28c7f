/*
** calls.c - what the compiler knows about a library call a mirror makes,
** read from the catalog, runtime/calls.def (docs/DESIGN.md §3).
**
** Five questions, asked by the phases that judge a mirror's calls:
**
**   call_written         which arguments the call writes through (the
**                        inline proof, the write-buffer and bounds rewrites
**                        of inline.c), or that it changes library state;
**   call_routed          which of them a built-in shim fills in the
**                        mirror's view itself (the write-buffer rewrite);
**   call_through_buffer  whether the shims send the call's memory accesses
**                        through the write buffer (runtime/redo.c);
**   call_shim_family     whether it is a built-in shim, and of which
**                        family;
**   call_is_pure         whether it has no effect outside the process, so
**                        a mirror calls it as it is;
**   call_is_noted        whether calls of it in host code go to its note,
**                        ptm_note_<name> (a note row; call_note_names lists
**                        them for the cheap scan).
**
** Every answer comes from one row of calls.def, so that a call the inline
** proof must know about is added in one place, and a new shim that writes
** through an argument cannot be missing from the proof's table.
*/
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "ptmcc.h"

typedef struct Call {
    const char *name;
    const char *family; /* a built-in shim's family; NULL for the others */
    unsigned written;
    unsigned routed;
    bool buffered;
    bool pure;
} Call;

static const Call calls[] = {
#define PTM_SHIM_CALL(name, family, io, effect, written, routed, unwritten, buffered)        \
    {#name, #family, written, routed, buffered, false},
#define PTM_PURE_CALL(name, family, written) {#name, NULL, written, 0, false, true},
#define PTM_RAW_CALL(name, family, written) {#name, NULL, written, 0, false, false},
#define PTM_FORK_CALL(name, family, written, why) {#name, NULL, written, 0, false, false},
#include "calls.def"
};

#define N_CALLS (sizeof calls / sizeof *calls)

_Static_assert(CALL_WRITES_STATE == ~0u && CALL_ALL_FROM(2) == (~0u << 2),
               "calls.def's PTM_STATE and PTM_ALL_FROM are ptmcc.h's");

static int by_name(const void *a, const void *b)
{
    return strcmp((*(const Call *const *)a)->name, (*(const Call *const *)b)->name);
}

/* row_of: name's row, or NULL.  The catalog has a thousand rows and every
** call of every mirror asks: they are sorted by name on first use. */
static const Call *row_of(const char *name)
{
    static const Call *sorted[N_CALLS];
    static bool ready;
    if (!ready) {
        for (size_t i = 0; i < N_CALLS; i++)
            sorted[i] = &calls[i];
        qsort(sorted, N_CALLS, sizeof *sorted, by_name);
        ready = true;
    }
    Call key = {.name = name};
    const Call *k = &key;
    const Call *const *hit = bsearch(&k, sorted, N_CALLS, sizeof *sorted, by_name);
    return hit ? *hit : NULL;
}

/* A clang builtin that has no library function behind it, by the prefix of
** its name after "__builtin_": it touches no memory but its arguments'
** values (bit counts, byte swaps, floating-point constants and tests, the
** optimizer's hints), except where `written` says it stores through one.
** A builtin that is neither here nor a library function with a pure row
** is an unknown call (the mirror forks): __builtin_strcpy once passed for
** pure here and an inline mirror wrote the host's memory with it. */
static const struct {
    const char *prefix;
    unsigned written;
} builtin_families[] = {
    {"expect", 0},       {"unreachable", 0},  {"constant_p", 0},   {"classify_type", 0},
    {"clz", 0},          {"ctz", 0},          {"popcount", 0},     {"parity", 0},
    {"ffs", 0},          {"clrsb", 0},        {"bswap", 0},        {"bitreverse", 0},
    {"rotateleft", 0},   {"rotateright", 0},  {"nan", 0},          {"inf", 0},
    {"huge_val", 0},     {"isnan", 0},        {"isinf", 0},        {"isfinite", 0},
    {"isnormal", 0},     {"signbit", 0},      {"fpclassify", 0},   {"isgreater", 0},
    {"isless", 0},       {"isunordered", 0},  {"copysign", 0},     {"fabs", 0},
    {"abs", 0},          {"labs", 0},         {"llabs", 0},        {"object_size", 0},
    {"dynamic_object_size", 0},               {"trap", 0},         {"debugtrap", 0},
    {"prefetch", 0},     {"assume", 0},       {"frame_address", 0},
    {"return_address", 0},                    {"extract_return_addr", 0},
    {"LINE", 0},         {"FILE", 0},         {"FUNCTION", 0},     {"va_arg_pack", 0},
    {"complex", 0},      {"alloca", 0},       {"speculation_safe_value", 0},
    {"va_start", 1u << 0}, {"va_end", 1u << 0}, {"va_copy", 1u << 0},
    {"c23_va_start", 1u << 0},
    {"add_overflow", 1u << 2}, {"sub_overflow", 1u << 2}, {"mul_overflow", 1u << 2},
    {"sadd", 1u << 2},   {"uadd", 1u << 2},   {"ssub", 1u << 2},   {"usub", 1u << 2},
    {"smul", 1u << 2},   {"umul", 1u << 2},
};

/* answer: the row that answers for name.  Its own; else, for a clang
** builtin, the pure row of the library function it stands for
** (__builtin_strcpy answers as strcpy) or a row built from
** builtin_families (__builtin_alloca: bounds_rewrite.c judges it); NULL:
** an unknown call.  OUT: *built, the built row. */
static const Call *answer(const char *name, Call *built)
{
    const Call *c = row_of(name);
    if (c || strncmp(name, "__builtin_", 10) != 0)
        return c;
    const char *base = name + 10;
    c = row_of(base);
    if (c && c->pure)
        return c;
    for (size_t i = 0; i < sizeof builtin_families / sizeof *builtin_families; i++) {
        size_t n = strlen(builtin_families[i].prefix);
        if (strncmp(base, builtin_families[i].prefix, n) == 0) {
            *built = (Call){name, NULL, builtin_families[i].written, 0, false, true};
            return built;
        }
    }
    return NULL;
}

unsigned call_written(const char *name)
{
    Call built;
    const Call *c = answer(name, &built);
    return c ? c->written : 0;
}

unsigned call_routed(const char *name)
{
    const Call *c = row_of(name);
    return c ? c->routed : 0;
}

bool call_through_buffer(const char *name)
{
    const Call *c = row_of(name);
    return c && c->buffered;
}

const char *call_shim_family(const char *name)
{
    const Call *c = row_of(name);
    return c ? c->family : NULL;
}

bool call_is_pure(const char *name)
{
    Call built;
    const Call *c = answer(name, &built);
    return c && c->pure;
}

/* The note rows' names, in the catalog's order. */
static const char *const notes[] = {
#define PTM_NOTE_CALL(name, family) #name,
#include "calls.def"
    NULL
};

const char *const *call_note_names(void)
{
    return notes;
}

bool call_is_noted(const char *name)
{
    for (const char *const *n = notes; *n; n++)
        if (strcmp(*n, name) == 0)
            return true;
    return false;
}
