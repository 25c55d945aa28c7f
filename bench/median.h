/*
** median.h - the median of a sample, which every benchmark here reports
** (a median resists the outliers a shared machine adds).
*/
#ifndef PTM_BENCH_MEDIAN_H
#define PTM_BENCH_MEDIAN_H

#include <stdlib.h>

static int benchCmpDouble(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* median: the median of the n values of v, which it sorts in place. */
static inline double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, benchCmpDouble);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

#endif
