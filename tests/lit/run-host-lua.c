// libptm's Lua is its own, whatever Lua the host embeds.  A host that embeds
// Lua 5.3 (shared or static) used to bind libptm's rules engine to its 5.3:
// every rules call failed with "version mismatch".  A host with its own Lua
// 5.4 symbols (here: its own lua_newstate) used to run the rules on them.
// RUN: rm -rf %t.dir && mkdir -p %t.dir && cp %s %t.dir/t.c && cp %inputs/version.lua %t.dir/
// RUN: cd %t.dir && %ptmcc -Wall -Wextra -Werror -DLUA53 -I/usr/include/lua5.3 t.c -o h53 -llua5.3
// RUN: cd %t.dir && env PTM_TRACE=h53.trace ./h53 | FileCheck %s --check-prefix=H53
// RUN: cd %t.dir && %ptmcc -Wall -Wextra -Werror -DLUA53 -I/usr/include/lua5.3 t.c -o s53 /usr/lib/x86_64-linux-gnu/liblua5.3.a -lm
// RUN: cd %t.dir && env PTM_TRACE=s53.trace ./s53 | FileCheck %s --check-prefix=H53
// RUN: cd %t.dir && %ptmcc -Wall -Wextra -Werror -I/usr/include/lua5.4 t.c -o h54 -llua5.4
// RUN: cd %t.dir && env PTM_TRACE=h54.trace ./h54 | FileCheck %s --check-prefix=H54
// RUN: cd %t.dir && cat h53.trace s53.trace h54.trace | FileCheck %s --check-prefix=TRACE
// Not one Lua symbol is global in libptm.a, defined or undefined.
// RUN: nm -g %ptm_libdir/libptm.a > %t.nm && not grep -i ' lua' %t.nm
// The globals it defines are its own (and a sanitizer's, in that build).
// RUN: nm -g --defined-only %ptm_libdir/libptm.a | grep ' [A-Z] ' > %t.defined
// RUN: not grep -v ' ptm\| ___asan_\| __odr_asan_gen_ptm' %t.defined
// RUN: nm %ptm_libdir/libptm.a | FileCheck %s --check-prefix=LOCAL

#define _GNU_SOURCE
#include <dlfcn.h>
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <ptm.h>
#include <stdio.h>
#include <stdlib.h>

#ifndef LUA53
/* The host's own lua_newstate, as a host with a patched Lua 5.4 has:
** libptm must never call it. */
static int host_newstates;
lua_State *lua_newstate(lua_Alloc f, void *ud)
{
    lua_State *(*real)(lua_Alloc, void *) =
        (lua_State * (*)(lua_Alloc, void *)) dlsym(RTLD_NEXT, "lua_newstate");
    host_newstates++;
    return real(f, ud);
}
#endif

static int later(int x)
{
    (void)x;
    puts("diverted");
    return 1;
}

PTM_TRANSACTION(.alternative_paths = { later }, .rules = "version.lua")
int work(int x)
{
    puts("primary");
    return x;
}

static void *hostAlloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    (void)ud;
    (void)osize;
    if (nsize == 0) {
        free(ptr);
        return NULL;
    }
    return realloc(ptr, nsize);
}

/* Runs chunk on the host's interpreter and prints what it returns. */
static void hostRun(lua_State *L, const char *chunk)
{
    if (luaL_loadstring(L, chunk) != LUA_OK || lua_pcall(L, 0, 1, 0) != LUA_OK) {
        printf("host lua error: %s\n", lua_tostring(L, -1));
        return;
    }
    printf("host: %s\n", lua_tostring(L, -1));
    lua_pop(L, 1);
}

int main(void)
{
    lua_State *L = lua_newstate(hostAlloc, NULL);
    luaL_openlibs(L);
    hostRun(L, "n = 6 * 7 return _VERSION .. ' ' .. n");
    work(0);
    work(0);
    hostRun(L, "return _VERSION .. ' ' .. n .. ' ' .. string.rep('x', 3)");
#ifndef LUA53
    printf("host lua_newstate calls: %d\n", host_newstates);
#endif
    lua_close(L);
    return 0;
}

// H53: host: Lua 5.3 42
// H53-NEXT: diverted
// H53-NEXT: diverted
// H53-NEXT: host: Lua 5.3 42 xxx
// H54: host: Lua 5.4 42
// H54-NEXT: diverted
// H54-NEXT: diverted
// H54-NEXT: host: Lua 5.4 42 xxx
// H54-NEXT: host lua_newstate calls: 1
// Six records (two per program), each with the rules' probability and
// reasons from libptm's own Lua 5.4, none with a rules error.
// TRACE-COUNT-6: "probability":0.9{{0*[0-9]?}},"reasons":["rules run on Lua 5.4"],"rules":"version.lua","rules_error":null
// TRACE-NOT: rules_error":"
// Lua is in libptm.a, local.
// LOCAL-DAG: t lua_newstate
// LOCAL-DAG: t luaL_loadbufferx
// LOCAL-DAG: t luaopen_string
