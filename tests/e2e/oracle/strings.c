/* Oracle: string processing.  Transactions take const and restrict
 * pointers, write into caller buffers, and call static helpers (which get
 * mirror clones). */
#include <ptm.h>
#include <ctype.h>
#include <stdio.h>
#include <string.h>

static int is_sep(char c)
{
    return c == ' ' || c == ',' || c == ';' || c == '\t';
}

static void reverse(char *s, size_t n)
{
    for (size_t i = 0, j = n ? n - 1 : 0; i < j; i++, j--) {
        char t = s[i];
        s[i] = s[j];
        s[j] = t;
    }
}

/* normalize: words of src, lowercased, one blank apart, into dst. */
PTM_TRANSACTION(.success_criteria = return >= 0)
int normalize(char *restrict dst, const char *restrict src, size_t cap)
{
    size_t n = 0;
    int words = 0;
    for (const char *p = src; *p;) {
        while (*p && is_sep(*p))
            p++;
        if (!*p)
            break;
        if (words++ && n + 1 < cap)
            dst[n++] = ' ';
        while (*p && !is_sep(*p) && n + 1 < cap)
            dst[n++] = (char)tolower((unsigned char)*p++);
        while (*p && !is_sep(*p))
            p++;
    }
    dst[n] = '\0';
    return words;
}

/* reverse_words: each word of s reversed in place. */
PTM_TRANSACTION()
void reverse_words(char *s)
{
    char *w = s;
    for (char *p = s;; p++) {
        if (*p == ' ' || *p == '\0') {
            reverse(w, (size_t)(p - w));
            if (!*p)
                break;
            w = p + 1;
        }
    }
}

PTM_TRANSACTION(.success_criteria = return != NULL)
const char *longest(const char *const *words, int n)
{
    const char *best = "";
    for (int i = 0; i < n; i++)
        if (strlen(words[i]) > strlen(best))
            best = words[i];
    return best;
}

int main(void)
{
    static const char *const inputs[] = {
        "  Hello,   World;this\tIS  a TEST  ",
        "",
        ";;;",
        "single",
        "Predictive Transaction Mirror, in C",
    };
    char buf[64];
    for (size_t i = 0; i < sizeof inputs / sizeof *inputs; i++) {
        int words = normalize(buf, inputs[i], sizeof buf);
        printf("%d [%s]", words, buf);
        reverse_words(buf);
        printf(" -> [%s]\n", buf);
    }
    char small[8];
    printf("%d [%s]\n", normalize(small, "truncate this please", sizeof small), small);
    const char *words[] = {"mirror", "transaction", "ptm", "predictive"};
    printf("longest %s\n", longest(words, 4));
    return 0;
}
