/* A program built with an installed PTM only (tests/e2e/test_install.py):
** put() is a transaction whose mirror sees a failed ptm_validate for a
** negative amount and diverts to refuse(). */
#include <ptm.h>
#include <stdio.h>
#include <stdlib.h>

int refuse(const char *path, long n);
int put(const char *path, long n);

int refuse(const char *path, long n)
{
    (void)path;
    printf("refused %ld\n", n);
    return 1;
}

PTM_TRANSACTION(.transaction_id = "installed.put", .alternative_paths = {refuse},
                .success_criteria = return >= 0)
int put(const char *path, long n)
{
    FILE *f;
    if (!ptm_validate(n >= 0, "negative amount %ld", n))
        return -1;
    f = fopen(path, "a");
    if (!f)
        return -1;
    fprintf(f, "%ld\n", n);
    if (fclose(f) != 0)
        return -1;
    printf("written %ld\n", n);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 3)
        return 2;
    return put(argv[1], atol(argv[2])) < 0;
}
