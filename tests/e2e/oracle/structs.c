/* Oracle: structs and unions by value, arrays of structs, nested blocks
 * with shadowing, const pointers to structs. */
#include <ptm.h>
#include <stdio.h>
#include <string.h>

struct point {
    int x, y;
};

struct rect {
    struct point min, max;
    char label[12];
};

union number {
    long i;
    double d;
    unsigned char bytes[8];
};

struct tagged {
    enum { INT, REAL } kind;
    union number v;
};

PTM_TRANSACTION(.success_criteria = return.min.x <= return.max.x)
struct rect bounds(const struct point *pts, int n)
{
    struct rect r = {pts[0], pts[0], "bounds"};
    for (int i = 1; i < n; i++) {
        struct point p = pts[i];
        {
            int x = p.x; /* shadows nothing; a nested block */
            if (x < r.min.x)
                r.min.x = x;
            if (x > r.max.x)
                r.max.x = x;
        }
        {
            int i = p.y; /* shadows the loop counter */
            if (i < r.min.y)
                r.min.y = i;
            if (i > r.max.y)
                r.max.y = i;
        }
    }
    return r;
}

PTM_TRANSACTION()
struct point translate(struct point p, struct point by)
{
    p.x += by.x;
    p.y += by.y;
    return p;
}

PTM_TRANSACTION()
double as_real(struct tagged t)
{
    return t.kind == INT ? (double)t.v.i : t.v.d;
}

PTM_TRANSACTION()
union number negate(union number n, int real)
{
    if (real)
        n.d = -n.d;
    else
        n.i = -n.i;
    return n;
}

PTM_TRANSACTION()
void scale_all(struct rect rects[], int n, int k)
{
    for (int i = 0; i < n; i++) {
        rects[i].min.x *= k;
        rects[i].min.y *= k;
        rects[i].max.x *= k;
        rects[i].max.y *= k;
        strcat(rects[i].label, "*");
    }
}

int main(void)
{
    struct point pts[] = {{3, 4}, {-2, 7}, {5, -1}, {0, 0}};
    struct rect r = bounds(pts, 4);
    printf("%s: (%d,%d)-(%d,%d)\n", r.label, r.min.x, r.min.y, r.max.x, r.max.y);
    struct point t = translate(pts[0], (struct point){10, -10});
    printf("translated (%d,%d), original (%d,%d)\n", t.x, t.y, pts[0].x, pts[0].y);
    struct tagged a = {INT, {.i = 42}}, b = {REAL, {.d = 2.5}};
    printf("%.2f %.2f\n", as_real(a), as_real(b));
    union number n = negate((union number){.d = 1.25}, 1);
    union number m = negate((union number){.i = 7}, 0);
    printf("%.2f %ld\n", n.d, m.i);
    struct rect rs[2] = {r, {{1, 1}, {2, 2}, "unit"}};
    scale_all(rs, 2, 3);
    for (int i = 0; i < 2; i++)
        printf("%s (%d,%d)-(%d,%d)\n", rs[i].label, rs[i].min.x, rs[i].min.y, rs[i].max.x,
               rs[i].max.y);
    return 0;
}
