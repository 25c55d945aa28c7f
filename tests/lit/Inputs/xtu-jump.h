/* The other file of run-longjmp-xtu.c: a callee that leaves by longjmp. */
#include <setjmp.h>

extern jmp_buf xtu_on_error;
int xtu_body(int x);
