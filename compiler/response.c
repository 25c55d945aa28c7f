/*
** response.c - response files (@file) on ptmcc's command line, expanded
** before anything reads the arguments, as clang expands them.
*/
#include "ptmcc.h"

#include <stdlib.h>

/* add: s (copied) appended to the NULL-terminated list *v of *n. */
static void add(char ***v, int *n, const char *s)
{
    *v = xrealloc(*v, sizeof **v * (size_t)(*n + 2));
    (*v)[(*n)++] = xstrdup(s);
    (*v)[*n] = NULL;
}

/* response_words: the words of a response file's text, as gcc and clang
** split them: blanks separate, '...' and "..." quote, a backslash escapes
** the next character.  Appended to *v. */
static void response_words(const char *t, char ***v, int *n)
{
    Buf w = {0};
    bool in_word = false;
    for (char quote = 0;; t++) {
        if (*t == '\0' || (!quote && (*t == ' ' || *t == '\t' || *t == '\n' || *t == '\r'))) {
            if (in_word)
                add(v, n, w.data ? w.data : "");
            w.len = 0;
            if (w.data)
                w.data[0] = '\0';
            in_word = false;
            if (*t == '\0')
                break;
            continue;
        }
        in_word = true;
        if (*t == '\\' && t[1] && quote != '\'') {
            buf_put(&w, ++t, 1);
        } else if (quote && *t == quote) {
            quote = 0;
        } else if (!quote && (*t == '\'' || *t == '"')) {
            quote = *t;
            if (!w.data)
                buf_puts(&w, "");
        } else {
            buf_put(&w, t, 1);
        }
    }
    buf_free(&w);
}

/* expand: argv's words onto *v, each @file replaced by its words, nested
** ones to a depth of 16. */
static void expand(int argc, char **argv, char ***v, int *n, int depth)
{
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        size_t len;
        char *text = a[0] == '@' && a[1] && depth < 16 ? read_file(a + 1, &len) : NULL;
        if (!text) {
            add(v, n, a);
            continue;
        }
        char **words = NULL;
        int nwords = 0;
        response_words(text, &words, &nwords);
        expand(nwords, words, v, n, depth + 1);
        for (int k = 0; k < nwords; k++)
            free(words[k]);
        free(words);
        free(text);
    }
}

/*
** expand_responses: argv with each @file replaced by the words of file
** (nested ones too, to a depth of 16), as clang does: CMake and Ninja
** pass long command lines that way.  An @file that cannot be read stays
** an argument, as it does for clang.  OUT: *out, a NULL-terminated list
** of copies, the caller's to free (each word and the list).  Returns the
** number of words.
*/
int expand_responses(int argc, char **argv, char ***out)
{
    int n = 0;
    *out = NULL;
    expand(argc, argv, out, &n, 0);
    return n;
}
