/*
** rules.c - the rules script a transaction names, found relative to the
** source file (as #include "..." is), read, and compiled by Lua to catch
** syntax errors at build time rather than at the first call.  The text is
** then embedded in the program, so a binary does not depend on where its
** rules were at build time; PTM_RULES overrides it at run time.
*/
#include <errno.h>
#include <lauxlib.h>
#include <lua.h>
#include <stdlib.h>
#include <string.h>

#include "ptmcc.h"

/* The largest rules script ptmcc embeds: libptm's cap for PTM_RULES. */
#define RULES_FILE_MAX (1u << 20)

/* resolve: the path of name, relative to the directory of the source. */
static char *resolve(const char *source, const char *name)
{
    if (name[0] == '/')
        return xstrdup(name);
    const char *slash = strrchr(source, '/');
    if (!slash)
        return xstrdup(name);
    return format("%.*s/%s", (int)(slash - source), source, name);
}

/* lua_error_line: the line number in a Lua message "path:LINE: ...". */
static unsigned lua_error_line(const char *msg, const char *path)
{
    size_t n = strlen(path);
    if (strncmp(msg, path, n) != 0 || msg[n] != ':')
        return 0;
    return (unsigned)strtoul(msg + n + 1, NULL, 10);
}

/* offset_of_line: the offset where line (1-based) starts in f. */
static size_t offset_of_line(const SrcFile *f, unsigned line)
{
    size_t off = 0;
    for (unsigned l = 1; l < line && off < f->len; off++)
        if (f->text[off] == '\n')
            l++;
    return off;
}

/* check_syntax: compiles text with Lua; reports the first error. */
static bool check_syntax(const Func *f, SrcFile *script)
{
    lua_State *L = luaL_newstate();
    if (!L) {
        error_plain("out of memory checking '%s'", script->path);
        return false;
    }
    char *chunk = format("@%s", script->path);
    /* As lua(1) and libptm read it: past a UTF-8 BOM and a '#' first line. */
    const char *text = script->text;
    if (strncmp(text, "\xEF\xBB\xBF", 3) == 0)
        text += 3;
    if (*text == '#')
        text += strcspn(text, "\n");
    int rc = luaL_loadbuffer(L, text, script->len - (size_t)(text - script->text), chunk);
    free(chunk);
    bool ok = rc == LUA_OK;
    if (!ok) {
        const char *msg = lua_tostring(L, -1);
        unsigned line = lua_error_line(msg, script->path);
        const char *text = line ? strchr(msg + strlen(script->path) + 1, ':') + 2 : msg;
        if (line)
            error_at((SrcLoc){script, offset_of_line(script, line)}, 0, "%s", text);
        else
            error_plain("%s", text);
        size_t len = strlen(f->meta.rules) + 2;
        note_at(annot_loc(&f->annot, f->meta.rules_off), len,
                "in the rules script of transaction '%s'", f->meta.transaction_id);
    }
    lua_close(L);
    return ok;
}

/* cannot_load: the error for a rules script that src_load_regular
** refused with err, at the `rules` key. */
static void cannot_load(const Func *f, const char *path, int err)
{
    SrcLoc at = annot_loc(&f->annot, f->meta.rules_off);
    size_t len = strlen(f->meta.rules) + 2;
    const char *name = f->meta.rules;
    if (err == ENOENT || err == ENOTDIR)
        error_at(at, len, "rules script '%s' not found (looked for '%s')", name, path);
    else if (err == EINVAL || err == EISDIR)
        error_at(at, len, "rules script '%s' is not a regular file ('%s' is %s)", name, path,
                 err == EISDIR ? "a directory" : "a device, a FIFO or a socket");
    else if (err == EFBIG)
        error_at(at, len, "rules script '%s' is larger than %u KiB ('%s')", name,
                 RULES_FILE_MAX / 1024, path);
    else
        error_at(at, len, "cannot read rules script '%s' ('%s'): %s", name, path, strerror(err));
}

/* rules_load: see ptmcc.h.  A script must be a regular file of at most
** RULES_FILE_MAX bytes: `.rules = "/dev/zero"` read for ever, and a FIFO
** blocked the build. */
bool rules_load(const Func *f, char **text, char **resolved)
{
    char *path = resolve(f->file->path, f->meta.rules);
    int err = 0;
    SrcFile *script = src_load_regular(path, RULES_FILE_MAX, &err);
    if (!script) {
        cannot_load(f, path, err);
        free(path);
        return false;
    }
    if (!check_syntax(f, script)) {
        free(path);
        return false;
    }
    *text = xstrndup(script->text, script->len);
    *resolved = path;
    return true;
}
