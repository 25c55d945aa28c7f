/* The mirror reads the host's stdin (a pipe) and a file descriptor the host
 * opened.  Neither may change what the primary then reads: the mirror must
 * not consume the pipe's data nor move the file's offset. */
#include <ptm.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

PTM_TRANSACTION(.transaction_id = "fds.peek")
int consume(int fd)
{
    char buf[8];
    ssize_t n = read(0, buf, sizeof buf);
    ssize_t m = read(fd, buf, 4);
    return (int)(n + m);
}

int main(int argc, char **argv)
{
    if (argc != 2)
        return 2;
    FILE *f = fopen(argv[1], "r");
    if (!f)
        return 1;
    int got = consume(fileno(f));
    char rest[64] = {0};
    ssize_t left = read(0, rest, sizeof rest - 1);
    printf("%d %zd %s %ld\n", got, left, rest, (long)lseek(fileno(f), 0, SEEK_CUR));
    return 0;
}
