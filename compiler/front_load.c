/*
** front_load.c - ptmcc's front end, loaded when a unit first needs it.
**
** libclang and libLLVM are 22 shared objects and about 520,000 relocations:
** some 20 ms of CPU at every start, which configure scripts and CMake's
** compiler probes pay hundreds of times for files that hold no annotation.
** So ptmcc itself links none of them.  The phases that need them are in
** libptmcc_front.so, found relative to the running executable
** (<prefix>/lib for <prefix>/bin/ptmcc, the layout of the build tree and of
** an install, wherever the tree was moved), and opened only when the scan (scan.c)
** says a unit must be parsed, or for --dump-annotations, --emit-source
** and --verify-mirror.
*/
#include <dlfcn.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ptmcc.h"
#include "ptmcc_config.h"

#define FRONT_NAME "libptmcc_front.so"

static const FrontApi *loaded;

/* front_path: <prefix>/lib/libptmcc_front.so for the executable
** <prefix>/bin/ptmcc (symlinks to it resolved), or NULL when the
** executable's path cannot be read.  Not $PTM_HOME: the front end must be
** the one built with this driver. */
static char *front_path(void)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return NULL;
    exe[n] = '\0';
    for (int up = 0; up < 2; up++) {
        char *slash = strrchr(exe, '/');
        if (!slash)
            return NULL;
        *slash = '\0';
    }
    return format("%s/lib/" FRONT_NAME, exe);
}

/* dl_reason: dlerror()'s message without the path it starts with. */
static const char *dl_reason(const char *path)
{
    const char *e = dlerror();
    size_t n = strlen(path);
    if (!e)
        return "unknown error";
    return strncmp(e, path, n) == 0 && strncmp(e + n, ": ", 2) == 0 ? e + n + 2 : e;
}

static bool failed;

/* load_failed: reports why the front end cannot be used.  Returns NULL. */
static const FrontApi *load_failed(char *path, const char *why)
{
    error_plain("cannot load ptmcc's front end '%s': %s", path ? path : FRONT_NAME, why);
    free(path);
    failed = true;
    return NULL;
}

const FrontApi *front(void)
{
    if (loaded || failed)
        return loaded;
    char *path = front_path();
    if (!path)
        return load_failed(NULL, "the path of the ptmcc executable is unknown");
    /* RTLD_LAZY, as ptmcc linked with libclang did: binding all of
    ** libclang's and libLLVM's calls now costs ~3,000 more lookups than a
    ** run makes.  (e2e.lazy_front loads it with LD_BIND_NOW=1: no symbol
    ** the front end needs is missing from ptmcc.) */
    void *h = dlopen(path, RTLD_LAZY | RTLD_LOCAL);
    if (!h)
        return load_failed(path, dl_reason(path));
    const FrontApi *api = dlsym(h, "ptmcc_front_api");
    if (!api)
        return load_failed(path, dl_reason(path));
    /* Another build's front end would disagree on Unit's layout. */
    if (api->size != sizeof(FrontApi) || strcmp(api->version, PTM_VERSION_STRING) != 0)
        return load_failed(path, "it belongs to another build of ptmcc");
    free(path);
    loaded = api;
    return loaded;
}
