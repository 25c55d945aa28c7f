/* Oracle: arithmetic: floating point, 64-bit and unsigned wrap-around, bit
 * operations, enums, compound literals, designated initializers, 2-D
 * arrays, a variadic helper (not a transaction), _Bool results. */
#include <ptm.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

enum shape { CIRCLE = 1, SQUARE = 4, TRIANGLE = 3 };

static double sum_doubles(int n, ...)
{
    va_list ap;
    va_start(ap, n);
    double s = 0;
    for (int i = 0; i < n; i++)
        s += va_arg(ap, double);
    va_end(ap);
    return s;
}

PTM_TRANSACTION()
double area(enum shape s, double size)
{
    switch (s) {
    case CIRCLE: return 3.141592653589793 * size * size;
    case SQUARE: return size * size;
    case TRIANGLE: return sqrt(3.0) / 4 * size * size;
    }
    return 0;
}

PTM_TRANSACTION()
uint64_t mix(uint64_t x, unsigned rounds)
{
    for (unsigned i = 0; i < rounds; i++) {
        x ^= x >> 33;
        x *= 0xff51afd7ed558ccdULL;
        x ^= x << 7 | x >> 57;
    }
    return x;
}

PTM_TRANSACTION()
bool is_power_of_two(unsigned long long v)
{
    return v && !(v & (v - 1));
}

PTM_TRANSACTION()
float mean3(const float m[][3], int rows)
{
    float s = 0;
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < 3; c++)
            s += m[r][c];
    return s / (float)(rows * 3);
}

PTM_TRANSACTION()
unsigned char wrap(unsigned char a, unsigned char b)
{
    return (unsigned char)(a + b);
}

int main(void)
{
    printf("%.6f %.6f %.6f\n", area(CIRCLE, 2), area(SQUARE, 1.5), area(TRIANGLE, 2));
    printf("%016llx\n", (unsigned long long)mix(0x123456789abcdefULL, 5));
    for (unsigned long long v = 0; v < 10; v++)
        printf("%d", is_power_of_two(v));
    printf("\n");
    static const float m[2][3] = {[0] = {1, 2, 3}, [1] = {.5f, .25f, .125f}};
    printf("%.4f\n", mean3(m, 2));
    printf("%u %u\n", wrap(200, 100), wrap(1, 2));
    printf("%.3f\n", sum_doubles(3, 1.5, 2.25, area(SQUARE, 2)));
    int *p = (int[]){3, 1, 4};
    printf("%d\n", p[0] * 100 + p[1] * 10 + p[2]);
    return 0;
}
