/* Oracle: function pointers: a transaction that takes a callback, one that
 * sorts with a comparator through qsort, and a table of operations. */
#include <ptm.h>
#include <stdio.h>
#include <stdlib.h>

typedef int (*binop)(int, int);

static int add(int a, int b) { return a + b; }
static int mul(int a, int b) { return a * b; }
static int max(int a, int b) { return a > b ? a : b; }

static const struct {
    const char *name;
    binop fn;
} ops[] = {{"add", add}, {"mul", mul}, {"max", max}};

PTM_TRANSACTION()
int fold(const int *v, int n, binop f, int init)
{
    int acc = init;
    for (int i = 0; i < n; i++)
        acc = f(acc, v[i]);
    return acc;
}

static int by_value_desc(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x < y) - (x > y);
}

PTM_TRANSACTION()
void sort_desc(int *v, size_t n)
{
    qsort(v, n, sizeof *v, by_value_desc);
}

PTM_TRANSACTION(.success_criteria = return != 0)
binop pick(const char *name)
{
    for (size_t i = 0; i < sizeof ops / sizeof *ops; i++)
        if (name[0] == ops[i].name[0] && name[1] == ops[i].name[1])
            return ops[i].fn;
    return add;
}

int main(void)
{
    int v[] = {4, -1, 7, 3, 9, 2};
    int n = (int)(sizeof v / sizeof *v);
    for (size_t i = 0; i < sizeof ops / sizeof *ops; i++)
        printf("%s = %d\n", ops[i].name, fold(v, n, ops[i].fn, ops[i].fn == mul ? 1 : 0));
    sort_desc(v, (size_t)n);
    for (int i = 0; i < n; i++)
        printf("%d%c", v[i], i + 1 < n ? ' ' : '\n');
    printf("picked max: %d\n", pick("max")(3, 8));
    return 0;
}
