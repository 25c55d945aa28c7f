/*
** compile_db.c - compile_commands.json, the compilation database that CMake,
** Bear and Meson write, read as clang tools read it: `ptmcc -p build x.c`
** compiles x.c with the flags, and in the directory, the build used.
**
** An entry is {"directory", "file", "arguments": [...]} or, instead of
** "arguments", a "command" string that a POSIX shell would split.  The file
** named on ptmcc's command line matches the entry whose file is the same
** file (by real path: the build may name it by a different relative or
** symlinked path).
*/
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ptmcc.h"

#define DB_NAME "compile_commands.json"

struct CompileDb {
    char *path;       /* as reported in messages: <dir>/compile_commands.json */
    char *dir;        /* the database's directory, absolute */
    json_t *root;     /* the array of entries */
};

/* db_path_in: <dir>/compile_commands.json, without a doubled slash. */
static char *db_path_in(const char *dir)
{
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/')
        n--;
    return format("%.*s/" DB_NAME, (int)n, dir);
}

bool compile_db_present(const char *dir)
{
    char *path = db_path_in(dir);
    struct stat st;
    bool ok = stat(path, &st) == 0 && S_ISREG(st.st_mode);
    free(path);
    return ok;
}

CompileDb *compile_db_open(const char *dir)
{
    CompileDb *db = xcalloc(1, sizeof *db);
    db->path = db_path_in(dir);
    json_error_t err;
    db->root = json_load_file(db->path, JSON_REJECT_DUPLICATES, &err);
    if (!db->root) {
        if (err.line <= 0)
            error_plain("cannot read %s: %s", db->path, err.text);
        else
            error_plain("%s:%d:%d: %s", db->path, err.line, err.column, err.text);
        compile_db_close(db);
        return NULL;
    }
    if (!json_is_array(db->root)) {
        error_plain("%s: not a compilation database (the top level is not an array)", db->path);
        compile_db_close(db);
        return NULL;
    }
    char real[PATH_MAX];
    db->dir = xstrdup(realpath(dir, real) ? real : dir);
    return db;
}

void compile_db_close(CompileDb *db)
{
    if (!db)
        return;
    json_decref(db->root);
    free(db->path);
    free(db->dir);
    free(db);
}

/* ---------------------------------------------------------------------
** "command": a shell command line, split as sh splits words.  The database
** format promises no expansions, so only quoting matters.
*/

/* shell_word: reads one word from *p (past leading blanks) into w.
** Returns false when a quote is not closed. */
static bool shell_word(const char **p, Buf *w)
{
    const char *s = *p;
    while (*s && !strchr(" \t\n\r", *s)) {
        if (*s == '\\') {
            s++;
            if (*s == '\n')
                s++; /* a line continuation */
            else if (*s)
                buf_put(w, s++, 1);
        } else if (*s == '\'') {
            const char *end = strchr(s + 1, '\'');
            if (!end)
                return false;
            buf_put(w, s + 1, (size_t)(end - s - 1));
            s = end + 1;
        } else if (*s == '"') {
            for (s++; *s != '"'; s++) {
                if (!*s)
                    return false;
                /* Inside double quotes a backslash escapes only these;
                ** before a newline it joins lines. */
                if (*s == '\\' && s[1] == '\n') {
                    s++;
                    continue;
                }
                if (*s == '\\' && s[1] && strchr("\\\"$`", s[1]))
                    s++;
                buf_put(w, s, 1);
            }
            s++;
        } else {
            buf_put(w, s++, 1);
        }
    }
    *p = s;
    return true;
}

bool shell_split(const char *line, char ***words, int *n)
{
    *words = xcalloc(1, sizeof **words);
    *n = 0;
    const char *p = line;
    for (;;) {
        while (*p && strchr(" \t\n\r", *p))
            p++;
        if (!*p)
            return true;
        Buf w = {0};
        buf_put(&w, "", 0); /* "" is a word too */
        bool ok = shell_word(&p, &w);
        *words = xrealloc(*words, sizeof **words * (size_t)(*n + 2));
        (*words)[(*n)++] = w.data;
        (*words)[*n] = NULL;
        if (!ok)
            return false;
    }
}

/* ---------------------------------------------------------------------
** Entries
*/

/* entry_string: member key of entry i, which must be a string. */
static const char *entry_string(const CompileDb *db, size_t i, json_t *entry, const char *key)
{
    json_t *v = json_object_get(entry, key);
    if (!json_is_string(v)) {
        error_plain("%s: entry %zu has no \"%s\" string", db->path, i + 1, key);
        return NULL;
    }
    return json_string_value(v);
}

/* entry_directory: the entry's directory, absolute (a relative one is taken
** relative to the database, as clang tools take it). */
static char *entry_directory(const CompileDb *db, const char *dir)
{
    return dir[0] == '/' ? xstrdup(dir) : format("%s/%s", db->dir, dir);
}

/* same_file: whether path names the file whose real path is real. */
static bool same_file(const char *path, const char *real)
{
    char buf[PATH_MAX];
    return realpath(path, buf) && strcmp(buf, real) == 0;
}

/* entry_argv: the entry's command as words.  OUT: c->argv, c->argc. */
static bool entry_argv(const CompileDb *db, size_t i, json_t *entry, CompileCommand *c)
{
    json_t *args = json_object_get(entry, "arguments");
    if (args) {
        if (!json_is_array(args) || json_array_size(args) == 0) {
            error_plain("%s: entry %zu: \"arguments\" is not a non-empty array", db->path, i + 1);
            return false;
        }
        c->argv = xcalloc(json_array_size(args) + 1, sizeof *c->argv);
        size_t k;
        json_t *a;
        json_array_foreach(args, k, a) {
            if (!json_is_string(a)) {
                error_plain("%s: entry %zu: argument %zu is not a string", db->path, i + 1, k + 1);
                return false;
            }
            c->argv[c->argc++] = xstrdup(json_string_value(a));
        }
        return true;
    }
    json_t *cmd = json_object_get(entry, "command");
    if (!json_is_string(cmd)) {
        error_plain("%s: entry %zu has neither \"arguments\" nor a \"command\" string", db->path,
                    i + 1);
        return false;
    }
    if (!shell_split(json_string_value(cmd), &c->argv, &c->argc)) {
        error_plain("%s: entry %zu: unterminated quote in \"command\"", db->path, i + 1);
        return false;
    }
    if (c->argc == 0) {
        error_plain("%s: entry %zu: \"command\" is empty", db->path, i + 1);
        return false;
    }
    return true;
}

bool compile_db_find(const CompileDb *db, const char *source, CompileCommand *out)
{
    *out = (CompileCommand){0};
    char real[PATH_MAX];
    if (!realpath(source, real)) {
        error_plain("no such file or directory: '%s'", source);
        return false;
    }
    size_t i;
    json_t *entry;
    json_array_foreach(db->root, i, entry) {
        if (!json_is_object(entry)) {
            error_plain("%s: entry %zu is not an object", db->path, i + 1);
            return false;
        }
        const char *dir = entry_string(db, i, entry, "directory");
        const char *file = entry_string(db, i, entry, "file");
        if (!dir || !file)
            return false;
        char *absdir = entry_directory(db, dir);
        char *path = file[0] == '/' ? xstrdup(file) : format("%s/%s", absdir, file);
        bool match = same_file(path, real);
        free(path);
        if (!match) {
            free(absdir);
            continue;
        }
        out->directory = absdir;
        out->file = xstrdup(file);
        if (!entry_argv(db, i, entry, out)) {
            compile_command_free(out);
            return false;
        }
        return true;
    }
    error_plain("no compile command for '%s' in %s", source, db->path);
    return false;
}

void compile_command_free(CompileCommand *c)
{
    for (int i = 0; i < c->argc; i++)
        free(c->argv[i]);
    free(c->argv);
    free(c->directory);
    free(c->file);
    *c = (CompileCommand){0};
}
