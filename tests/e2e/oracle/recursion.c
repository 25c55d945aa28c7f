/* Oracle: recursion inside a transaction, mutual recursion through static
 * helpers, and a recursive transaction whose results feed the exit code. */
#include <ptm.h>
#include <stdio.h>

static int is_odd(unsigned n);

static int is_even(unsigned n)
{
    return n == 0 ? 1 : is_odd(n - 1);
}

static int is_odd(unsigned n)
{
    return n == 0 ? 0 : is_even(n - 1);
}

PTM_TRANSACTION(.success_criteria = return >= 0)
long fib(int n)
{
    return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

PTM_TRANSACTION()
unsigned long ackermann(unsigned long m, unsigned long n)
{
    if (m == 0)
        return n + 1;
    if (n == 0)
        return ackermann(m - 1, 1);
    return ackermann(m - 1, ackermann(m, n - 1));
}

static void hanoi_moves(int n, char from, char to, char via, int *count, char *log, int cap)
{
    if (n == 0)
        return;
    hanoi_moves(n - 1, from, via, to, count, log, cap);
    if (*count * 3 + 3 < cap) {
        log[*count * 3] = from;
        log[*count * 3 + 1] = to;
        log[*count * 3 + 2] = ' ';
        log[*count * 3 + 3] = '\0';
    }
    ++*count;
    hanoi_moves(n - 1, via, to, from, count, log, cap);
}

PTM_TRANSACTION(.success_criteria = return > 0)
int hanoi(int n, char *log, int cap)
{
    int count = 0;
    log[0] = '\0';
    hanoi_moves(n, 'A', 'C', 'B', &count, log, cap);
    return count;
}

PTM_TRANSACTION()
int parity_sum(unsigned upto)
{
    int even = 0;
    for (unsigned i = 0; i <= upto; i++)
        even += is_even(i);
    return even;
}

int main(void)
{
    for (int i = 0; i <= 20; i += 5)
        printf("fib(%d) = %ld\n", i, fib(i));
    printf("ackermann(2, 3) = %lu\n", ackermann(2, 3));
    char log[128];
    int moves = hanoi(4, log, sizeof log);
    printf("hanoi(4): %d moves: %s\n", moves, log);
    printf("evens up to 50: %d\n", parity_sum(50));
    return (int)(fib(10) % 7);
}
