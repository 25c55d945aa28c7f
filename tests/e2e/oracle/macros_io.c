/* Oracle: I/O written through macros (to stdout and stderr), a thousand
 * buffered lines through printf/puts/putchar/fwrite/fputc (a mirror forked
 * with a full stdio buffer must not print it twice), big structs and
 * bit-fields by value, enum parameters, out-parameters into a static
 * buffer. */
#include <ptm.h>
#include <stdio.h>
#include <stdbool.h>
#include <string.h>

#define LOG(...) fprintf(stderr, "log: " __VA_ARGS__)
#define OUT(s) fputs(s, stdout)
#define SQUARE(x) ((x) * (x))

struct big { long v[8]; char name[20]; };
struct bits { unsigned a : 3, b : 5; bool flag : 1; };
enum color { RED, GREEN = 5, BLUE };

PTM_TRANSACTION()
struct big make_big(int seed, const char *name)
{
    struct big b;
    for (int i = 0; i < 8; i++)
        b.v[i] = SQUARE((long)seed + i);
    snprintf(b.name, sizeof b.name, "%s-%d", name, seed);
    LOG("made %s\n", b.name);
    return b;
}

PTM_TRANSACTION()
struct bits flip(struct bits x, bool on, enum color c)
{
    x.a = (unsigned)(x.a + 1) & 7u;
    x.b = (unsigned)c & 31u;
    x.flag = on;
    OUT("flipped\n");
    return x;
}

PTM_TRANSACTION()
int chatter(int lines)
{
    for (int i = 0; i < lines; i++) {
        printf("line %d of %d\n", i, lines);
        if (i % 100 == 0) {
            putchar('#');
            putchar('\n');
            puts("puts");
            fwrite("fwrite\n", 1, 7, stdout);
            fputc('c', stdout);
            fputc('\n', stdout);
        }
    }
    fflush(stdout);
    return lines;
}

PTM_TRANSACTION()
void split(const char *s, char **first, const char **rest)
{
    static char buf[64];
    const char *sp = strchr(s, ' ');
    size_t n = sp ? (size_t)(sp - s) : strlen(s);
    memcpy(buf, s, n);
    buf[n] = '\0';
    *first = buf;
    *rest = sp ? sp + 1 : "";
}

int main(void)
{
    struct big b = make_big(3, "big");
    printf("%s %ld %ld\n", b.name, b.v[0], b.v[7]);
    struct bits x = flip((struct bits){7, 1, false}, true, BLUE);
    printf("%u %u %d\n", x.a, x.b, x.flag);
    printf("chatter %d\n", chatter(1000));
    char *first;
    const char *rest;
    split("hello big world", &first, &rest);
    printf("[%s] [%s]\n", first, rest);
    return 0;
}
