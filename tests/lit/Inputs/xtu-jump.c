#include "xtu-jump.h"

jmp_buf xtu_on_error;

static void fail(int code)
{
    longjmp(xtu_on_error, code);
}

int xtu_body(int x)
{
    if (x < 0)
        fail(-x);
    return x * 2;
}
