/*
** calls.c - what the compiler knows about a library call a mirror makes.
**
** Four questions, asked by the phases that judge a mirror's calls:
**
**   call_written         which arguments the call writes through (the
**                        inline proof, the write-buffer and bounds rewrites
**                        of inline.c), or that it changes library state;
**   call_routed          which of them a built-in shim fills in the
**                        mirror's view itself (the write-buffer rewrite);
**   call_through_buffer  whether the shims send the call's memory accesses
**                        through the write buffer (runtime/redo.c);
**   call_shim_family     whether it is a built-in shim
**                        (runtime/shims/shims.def), and of which family;
**   call_is_pure         whether it has no effect outside the process
**                        (externals.def), so a mirror calls it as it is.
**
** The answers live here, in one file, so that a call the inline proof
** must know about is added in one place (docs/DESIGN.md §3).
*/
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "ptmcc.h"

/* Library functions that write memory through pointer arguments: which
** arguments (bit i = argument i; ALL_FROM(n) = argument n and after). */
#define ARG(i) (1u << (i))
#define ALL_FROM(n) CALL_ALL_FROM(n)

static const struct {
    const char *name;
    unsigned written;
} writers[] = {
    {"memcpy", ARG(0)},    {"memmove", ARG(0)},   {"memset", ARG(0)},
    {"mempcpy", ARG(0)},   {"bzero", ARG(0)},     {"explicit_bzero", ARG(0)},
    {"strcpy", ARG(0)},    {"strncpy", ARG(0)},   {"stpcpy", ARG(0)},
    {"stpncpy", ARG(0)},   {"strcat", ARG(0)},    {"strncat", ARG(0)},
    {"strlcpy", ARG(0)},   {"strlcat", ARG(0)},   {"sprintf", ARG(0)},
    {"snprintf", ARG(0)},  {"vsprintf", ARG(0)},  {"vsnprintf", ARG(0)},
    {"sscanf", ALL_FROM(2)}, {"fscanf", ALL_FROM(2)}, {"scanf", ALL_FROM(1)},
    {"fgets", ARG(0)},     {"fread", ARG(0)},     {"read", ARG(1)},
    {"pread", ARG(1)},     {"recv", ARG(1)},      {"recvfrom", ARG(1) | ARG(4) | ARG(5)},
    {"strtol", ARG(1)},    {"strtoul", ARG(1)},   {"strtoll", ARG(1)},
    {"strtoull", ARG(1)},  {"strtod", ARG(1)},    {"strtof", ARG(1)},
    {"strtold", ARG(1)},   {"strtok_r", ARG(0) | ARG(2)}, {"time", ARG(0)},
    {"localtime_r", ARG(1)}, {"gmtime_r", ARG(1)}, {"strftime", ARG(0)},
    {"clock_gettime", ARG(1)}, {"gettimeofday", ARG(0) | ARG(1)},
    {"qsort", ARG(0)},     {"stat", ARG(1)},      {"fstat", ARG(1)},
    {"lstat", ARG(1)},     {"getline", ARG(0) | ARG(1)},
    /* The same under _FORTIFY_SOURCE, as clang and glibc spell them. */
    {"__builtin_memcpy", ARG(0)},          {"__builtin_memmove", ARG(0)},
    {"__builtin_memset", ARG(0)},          {"__builtin___memcpy_chk", ARG(0)},
    {"__builtin___memmove_chk", ARG(0)},   {"__builtin___memset_chk", ARG(0)},
    {"__builtin___mempcpy_chk", ARG(0)},   {"__builtin___strcpy_chk", ARG(0)},
    {"__builtin___stpcpy_chk", ARG(0)},    {"__builtin___strncpy_chk", ARG(0)},
    {"__builtin___stpncpy_chk", ARG(0)},   {"__builtin___strcat_chk", ARG(0)},
    {"__builtin___strncat_chk", ARG(0)},   {"__builtin___sprintf_chk", ARG(0)},
    {"__builtin___snprintf_chk", ARG(0)},  {"__builtin___vsprintf_chk", ARG(0)},
    {"__builtin___vsnprintf_chk", ARG(0)}, {"__read_chk", ARG(1)},
    {"__pread_chk", ARG(1)},               {"__fgets_chk", ARG(0)},
    {"__fread_chk", ARG(0)},               {"__recv_chk", ARG(1)},
    {"__recvfrom_chk", ARG(1) | ARG(5) | ARG(6)},
    {"strerror_r", ARG(1)}, {"strxfrm", ARG(0)}, {"posix_memalign", ARG(0)},
    {"strtoimax", ARG(1)}, {"strtoumax", ARG(1)}, {"__isoc23_strtol", ARG(1)},
    {"__isoc23_strtoll", ARG(1)}, {"__isoc23_strtoul", ARG(1)},
    {"__isoc23_strtoull", ARG(1)}, {"__isoc99_sscanf", ALL_FROM(2)},
    {"__isoc23_sscanf", ALL_FROM(2)},
    /* Writers into state of their own, or through what they cannot show
    ** (a va_list, the string strsep walks), or that release memory the
    ** host may own: refused. */
    {"strtok", CALL_WRITES_STATE},  {"setlocale", CALL_WRITES_STATE},
    {"srand", CALL_WRITES_STATE},   {"rand", CALL_WRITES_STATE},
    {"putenv", CALL_WRITES_STATE},  {"setenv", CALL_WRITES_STATE},
    {"strsep", CALL_WRITES_STATE},  {"vsscanf", CALL_WRITES_STATE},
    {"reallocarray", CALL_WRITES_STATE}, {"recvmsg", CALL_WRITES_STATE},
    {"vfscanf", CALL_WRITES_STATE},
    {"nanosleep", ARG(1)}, {"clock_nanosleep", ARG(3)},
    {"getdelim", ARG(0) | ARG(1)}, {"fgetpos", ARG(1)}, {"fgets_unlocked", ARG(0)},
    {"fread_unlocked", ARG(0)},
    {"setjmp", ARG(0)},    {"_setjmp", ARG(0)},   {"sigsetjmp", ARG(0)},
    {"__sigsetjmp", ARG(0)},
};

/* Shims that write the mirror's view of the buffers they fill themselves
** (they know the size): which arguments. */
static const struct {
    const char *name;
    unsigned routed;
} routing_shims[] = {
    {"read", ARG(1)},  {"pread", ARG(1)}, {"fread", ARG(0)},   {"fgets", ARG(0)},
    {"recv", ARG(1)},  {"recvfrom", ARG(1) | ARG(4) | ARG(5)}, {"stat", ARG(1)},
    {"lstat", ARG(1)}, {"fstat", ARG(1)}, {"time", ARG(0)},    {"clock_gettime", ARG(1)},
    {"gettimeofday", ARG(0)}, {"getline", ARG(0) | ARG(1)}, {"getdelim", ARG(0) | ARG(1)},
    {"fgetpos", ARG(1)}, {"fgets_unlocked", ARG(0)}, {"fread_unlocked", ARG(0)},
};

/* Library calls that the shims send through the write buffer. */
static const char *const buffered[] = {"memcpy", "memmove", "memset", "memcmp", "memchr",
                                       "strncmp", "strnlen", "free", "realloc", "strdup",
                                       "strndup"};

/* The built-in shims, with their families. */
static const struct {
    const char *name;
    const char *family;
} shims[] = {
#define PTM_SHIM(name, family) {#name, #family},
#include "shims/shims.def"
#undef PTM_SHIM
};

/* Library functions without effects outside the process. */
static const char *const pure_names[] = {
#define PTM_PURE(name, family) #name,
#include "externals.def"
#undef PTM_PURE
};

unsigned call_written(const char *name)
{
    for (size_t i = 0; i < sizeof writers / sizeof *writers; i++)
        if (strcmp(writers[i].name, name) == 0)
            return writers[i].written;
    return 0;
}

unsigned call_routed(const char *name)
{
    for (size_t i = 0; i < sizeof routing_shims / sizeof *routing_shims; i++)
        if (strcmp(routing_shims[i].name, name) == 0)
            return routing_shims[i].routed;
    return 0;
}

bool call_through_buffer(const char *name)
{
    for (size_t i = 0; i < sizeof buffered / sizeof *buffered; i++)
        if (strcmp(buffered[i], name) == 0)
            return true;
    return false;
}

const char *call_shim_family(const char *name)
{
    for (size_t i = 0; i < sizeof shims / sizeof *shims; i++)
        if (strcmp(shims[i].name, name) == 0)
            return shims[i].family;
    return NULL;
}

bool call_is_pure(const char *name)
{
    if (strncmp(name, "__builtin_", 10) == 0)
        return true;
    for (size_t i = 0; i < sizeof pure_names / sizeof *pure_names; i++)
        if (strcmp(pure_names[i], name) == 0)
            return true;
    return false;
}
