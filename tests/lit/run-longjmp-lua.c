// A C function of an embedded Lua 5.4, annotated as a transaction with an
// alternative, raises Lua errors (luaL_error, luaL_checkinteger's "bad
// argument"): liblua leaves it by longjmp (__longjmp_chk) to lua_pcall's
// setjmp in liblua.  Its fork mirror ends there ("longjmp"), which is no
// reason to divert, and the primary's error surfaces exactly as in a plain
// build, through pcall and through lua_pcall from C.
// RUN: %clang -I%ptm_include -I/usr/include/lua5.4 %s -o %t.plain -llua5.4
// RUN: %t.plain > %t.expected
// RUN: %ptmcc -Wall -Wextra -Werror -I/usr/include/lua5.4 %s -o %t -llua5.4
// RUN: rm -f %t.trace && env PTM_TRACE=%t.trace %t > %t.out
// RUN: diff %t.expected %t.out
// RUN: FileCheck %s < %t.out
// RUN: FileCheck %s --check-prefix=TRACE < %t.trace

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <ptm.h>
#include <stdio.h>

static int doubled_alt(lua_State *L)
{
    lua_pushstring(L, "the alternative ran");
    return 1;
}

PTM_TRANSACTION(.alternative_paths = { doubled_alt })
int doubled(lua_State *L)
{
    lua_Integer n = luaL_checkinteger(L, 1);
    if (n < 0)
        return luaL_error(L, "negative: %d", (int)n);
    lua_pushinteger(L, n * 2);
    return 1;
}

static const char script[] =
    "print(pcall(doubled, 21))\n"
    "print(pcall(doubled, -4))\n"
    "print(pcall(doubled, {}))\n"
    "print(select('#', pcall(doubled, {})))\n"
    "for i = 1, 3 do print(i, pcall(doubled, i - 2)) end\n"
    "local ok, e = pcall(function() return doubled(1) + doubled(-1) end)\n"
    "print(ok, e)\n";

int main(void)
{
    lua_State *L = luaL_newstate();
    luaL_openlibs(L);
    lua_register(L, "doubled", doubled);
    if (luaL_dostring(L, script) != LUA_OK)
        printf("script: %s\n", lua_tostring(L, -1));
    lua_getglobal(L, "doubled");
    lua_pushinteger(L, -7);
    int rc = lua_pcall(L, 1, 1, 0);
    printf("lua_pcall: %d %s\n", rc, lua_tostring(L, -1));
    lua_settop(L, 0);
    lua_pushcfunction(L, doubled);
    lua_pushinteger(L, 8);
    rc = lua_pcall(L, 1, 1, 0);
    printf("lua_pcall: %d %s\n", rc, lua_tostring(L, -1));
    lua_close(L);
    struct ptm_stats st = {0};
    ptm_stats_get(&st);
    printf("diversions: %llu\n", (unsigned long long)st.diversions);
    return 0;
}

// CHECK:      true	42
// CHECK-NEXT: false	negative: -4
// CHECK-NEXT: false	bad argument #1 to 'doubled' (number expected, got table)
// CHECK-NEXT: 2
// CHECK-NEXT: 1	false	{{.*}}negative: -1
// CHECK-NEXT: 2	true	0
// CHECK-NEXT: 3	true	2
// CHECK-NEXT: false	{{.*}}negative: -1
// CHECK-NEXT: lua_pcall: 2 negative: -7
// CHECK-NEXT: lua_pcall: 0 16
// CHECK-NEXT: diversions: 0

// TRACE:      "transaction_id":"doubled",{{.*}}"mirror":"fork",{{.*}}"mirror_status":"returned",{{.*}}"outcome":"success","left_by_longjmp":false
// TRACE-NEXT: "transaction_id":"doubled",{{.*}}"mirror":"fork",{{.*}}"mirror_status":"longjmp",{{.*}}"mirror_result":"left by longjmp",{{.*}}"validation":false,{{.*}}"decision":"primary","path":"doubled","attempts":1,"outcome":"failure","left_by_longjmp":true
// TRACE-NEXT: "transaction_id":"doubled",{{.*}}"mirror_status":"longjmp",{{.*}}"decision":"primary",{{.*}}"left_by_longjmp":true
// TRACE-NOT: "decision":"divert"
