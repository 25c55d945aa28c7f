/* Oracle: I/O to files.  Transactions create, append to and read back
 * files with stdio and POSIX calls; the mirrors must write nothing, and the
 * primaries must write exactly what a plain build writes. */
#include <ptm.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

PTM_TRANSACTION(.success_criteria = return == 0)
int write_report(const char *path, const int *values, int n)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fprintf(f, "report of %d values\n", n);
    long sum = 0;
    for (int i = 0; i < n; i++) {
        fprintf(f, "%d: %d\n", i, values[i]);
        sum += values[i];
    }
    fprintf(f, "sum %ld\n", sum);
    return fclose(f) == 0 ? 0 : -1;
}

PTM_TRANSACTION(.success_criteria = return >= 0)
int append_log(const char *path, const char *line)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd < 0)
        return -1;
    size_t len = strlen(line);
    ssize_t w = write(fd, line, len);
    w += write(fd, "\n", 1);
    close(fd);
    return (int)w;
}

PTM_TRANSACTION(.success_criteria = return >= 0)
long count_lines(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    long lines = 0;
    int c;
    while ((c = fgetc(f)) != EOF)
        lines += c == '\n';
    fclose(f);
    return lines;
}

int main(void)
{
    int values[] = {5, 8, 13, 21};
    printf("report %d\n", write_report("report.txt", values, 4));
    for (int i = 0; i < 3; i++) {
        char line[32];
        snprintf(line, sizeof line, "entry %d", i);
        printf("append %d\n", append_log("app.log", line));
    }
    printf("lines %ld %ld\n", count_lines("report.txt"), count_lines("app.log"));
    fputs("partial line without newline, flushed at exit", stdout);
    return 3;
}
