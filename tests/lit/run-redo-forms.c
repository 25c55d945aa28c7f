// The write buffer over the forms of C that store: each transaction
// stores through one form, reads the result back the ways C can, and
// returns 0 only when every read saw the write.  Mirrors only
// (PTM_DRY_RUN), each must meet `return == 0` while the host's memory
// stays as it was; with primaries, the program's results are plain C's.
// Built warning-free by both backends.
// REQUIRES: gcc
// UNSUPPORTED: asan
// RUN: %ptmcc -std=gnu11 -Wall -Wextra -Wshadow -Werror %s -o %t
// RUN: rm -f %t.trace
// RUN: printf 'hello\n' > %t.txt
// RUN: env PTM_DRY_RUN=1 PTM_TRACE=%t.trace %t %t.txt | FileCheck %s --check-prefix=DRY
// RUN: grep -c '"mirror":"inline"' %t.trace | FileCheck %s --check-prefix=COUNT
// RUN: grep -c '"criteria_failed":false' %t.trace | FileCheck %s --check-prefix=COUNT
// RUN: %t %t.txt | FileCheck %s --check-prefix=REAL
// RUN: env PTM_CC=gcc %ptmcc -std=gnu11 -Wall -Wextra -Wshadow -Werror %s -o %t.gcc
// RUN: env PTM_DRY_RUN=1 %t.gcc %t.txt | FileCheck %s --check-prefix=DRY

#include <fcntl.h>
#include <ptm.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct inner { int u; int v[4]; };
struct node {
    int x;
    unsigned flag : 3;
    double d;
    struct inner in;
    char name[16];
    struct node *next;
    union { int i; float f; } un;
};

static struct node nodes[4];
static struct node *head = &nodes[0];
static int counter;
static long matrix[3][3];
static int *cursor = &nodes[2].in.v[0];
static char text[32] = "start";
static volatile int vol;
static uint8_t small = 3;
static char label_storage[16] = "alpha";
static char *label = label_storage;
static char filebuf_storage[32];
static char *filebuf = filebuf_storage;
static struct stat file_stat;

#define TX PTM_TRANSACTION(.success_criteria = return == 0)

TX int member_through_pointer(struct node *p)
{
    p->x = 41;
    p->x++;
    ++p->x;
    p->x -= 1;
    return p->x == 42 && nodes[0].x == 42 && head->x == 42 ? 0 : 1;
}

TX int global_scalars(int k)
{
    counter = k;
    counter *= 3;
    counter <<= 1;
    vol = counter;
    small <<= 2;
    return counter == 6 * k && vol == 6 * k && small == 12 ? 0 : 1;
}

TX int struct_copy(int k)
{
    struct node tmp = nodes[1];
    tmp.x = k;
    nodes[3] = tmp;
    *head->next = nodes[3];
    struct node *q = &nodes[3];
    return q->x == k && nodes[1].x == k && head->next->x == k ? 0 : 1;
}

TX int arrays_and_matrix(int k)
{
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++)
            matrix[i][j] = i * 3 + j + k;
    long sum = 0;
    for (int i = 0; i < 3; i++)
        sum += matrix[i][i];
    nodes[2].in.v[matrix[0][0] - k] = 7;
    return sum == 12 + 3 * k && nodes[2].in.v[0] == 7 ? 0 : 1;
}

TX int pointer_walk(int k)
{
    *cursor++ = k;
    *cursor++ = k + 1;
    cursor[0] = k + 2;
    int *base = &nodes[2].in.v[0];
    return base[0] == k && base[1] == k + 1 && base[2] == k + 2 && cursor == base + 2 ? 0 : 1;
}

TX int bit_fields_and_unions(int k)
{
    struct node *p = &nodes[1];
    p->flag = 5;
    p->flag++;
    nodes[0].flag = 1;
    p->un.f = 1.5f;
    p->d = p->un.f * k;
    return p->flag == 6 && nodes[0].flag == 1 && p->d == 1.5 * k ? 0 : 1;
}

TX int strings(int k)
{
    snprintf(nodes[0].name, sizeof nodes[0].name, "n%d", k);
    strcpy(text, "changed");
    memcpy(nodes[1].name, nodes[0].name, sizeof nodes[1].name);
    char *copy = strdup(text);
    int ok = strcmp(nodes[1].name, "n3") == 0 && strcmp(copy, "changed") == 0 &&
             strlen(text) == 7;
    free(copy);
    return ok ? 0 : 1;
}

TX int heap_list(int k)
{
    struct node *n = calloc(1, sizeof *n);
    if (!n)
        return 1;
    n->x = k;
    n->next = head->next;
    head->next = n;
    int seen = head->next->x;
    n = realloc(n, 2 * sizeof *n);
    int after = n->x;
    free(n);
    return seen == k && after == k ? 0 : 1;
}

TX int through_an_int_pointer(int *out)
{
    int before = counter;
    *out = 9;
    (*out)--;
    int *alias = &counter;
    *alias += *out;
    return *out == 8 && counter == before + 8 ? 0 : 1;
}

TX int string_pointer(int k)
{
    label[0] = (char)('A' + k);
    char buf[16];
    snprintf(buf, sizeof buf, "%s!", label);
    return strcmp(buf, "Blpha!") == 0 && strlen(label) == 5 && label_storage[0] == 'B' ? 0 : 1;
}

/* Shims that fill buffers (read, stat) fill the mirror's view of them. */
TX int read_into_globals(const char *path)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return 1;
    ssize_t n = read(fd, filebuf, 5);
    close(fd);
    if (stat(path, &file_stat) != 0)
        return 1;
    return n == 5 && strncmp(filebuf, "hello", 5) == 0 && file_stat.st_size == 6 ? 0 : 1;
}

int main(int argc, char **argv)
{
    nodes[0].next = &nodes[1];
    int v = 0;
    int fails = member_through_pointer(head) + global_scalars(1) + struct_copy(3) +
                arrays_and_matrix(2) + pointer_walk(5) + bit_fields_and_unions(2) +
                strings(3) + heap_list(4) + through_an_int_pointer(&v) + string_pointer(1) +
                (argc > 1 ? read_into_globals(argv[1]) : 1);
    printf("fails %d x %d counter %d m %ld cursor %d flag %u d %.1f name %s text %s v %d %s\n", fails,
           nodes[0].x, counter, matrix[2][2], (int)(cursor - &nodes[2].in.v[0]), nodes[1].flag,
           nodes[1].d, nodes[1].name, text, v, label);
    printf("file %s size %lld\n", filebuf, (long long)file_stat.st_size);
    return 0;
}

// Mirrors only: nothing changed, and each mirror saw its own writes.
// DRY: fails 0 x 0 counter 0 m 0 cursor 0 flag 0 d 0.0 name  text start v 0 alpha
// DRY-NEXT: file  size 0
// COUNT: 11
// REAL: fails 0 x 42 counter 14 m 10 cursor 2 flag 6 d 3.0 name n3 text changed v 8 Blpha
// REAL-NEXT: file hello size 6
