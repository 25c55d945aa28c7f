// The C people write: C11/C17 (_Generic, _Static_assert, compound
// literals, designated initializers, anonymous members), struct and union
// parameters and results, const and restrict, arrays of structs, goto and
// labels, nested blocks, a switch.  The mirror clones keep all of it as
// written; the output compiles warning-free with clang and gcc, and the
// program computes what the plain build computes.
// RUN: %ptmcc --emit-source %s -o - | grep -v '^// ' | FileCheck %s
// RUN: %ptmcc -std=c17 -Wall -Wextra -Werror -pedantic %s -o %t
// RUN: %t | FileCheck %s --check-prefix=OUT
// RUN: env PTM_DISABLE=1 %t | FileCheck %s --check-prefix=OUT
// RUN: %clang -std=c17 -Wall -Wextra -Werror -I %ptm_include %s -o %t.plain
// RUN: %t.plain | FileCheck %s --check-prefix=OUT
// RUN: env PTM_CC=gcc %ptmcc -std=c11 -Wall -Wextra -Werror -c %s -o %t.gcc.o

#include <ptm.h>
#include <stdio.h>
#include <string.h>

struct item { const char *name; int qty; double price; };
union word { unsigned u; float f; unsigned char b[4]; };
struct order {
    struct item items[4];
    int n;
    union { int flags; struct { unsigned rush : 1, gift : 1; }; };
};

_Static_assert(sizeof(union word) == 4, "a word is four bytes");

#define KIND(x) _Generic((x), int: "int", double: "double", default: "other")

static double line_total(const struct item *restrict it)
{
    return it->qty * it->price;
}

static union word flip(union word w)
{
    union word r = { .u = w.u ^ 0xffu };
    return r;
}

static int count_rush(const struct order orders[], int n)
{
    int rush = 0;
    for (int i = 0; i < n; i++) {
        {
            const struct order *o = &orders[i];
            if (!o->rush)
                continue;
        }
        rush++;
    }
    return rush;
}

PTM_TRANSACTION(.success_criteria = return.n > 0 && return.items[0].qty > 0)
struct order price(const struct order in, const char *restrict tag, int *const out)
{
    struct order o = in;
    double total = 0;
    int i = 0;
    _Static_assert(sizeof o.items / sizeof o.items[0] == 4, "four items");
again:
    if (i < o.n) {
        total += line_total(&o.items[i]);
        i++;
        goto again;
    }
    switch (o.n) {
    case 0:
        goto done;
    default: {
        struct item extra = (struct item){ .name = tag, .qty = 1, .price = 0.5 };
        if (o.n < 4)
            o.items[o.n++] = extra;
        break;
    }
    }
done:
    *out = (int)(total * 100);
    printf("%s %s %s %u\n", KIND(i), KIND(total), KIND(tag), flip((union word){ .u = 1 }).u);
    return o;
}

int main(void)
{
    struct order orders[2] = {
        { .items = { { "tea", 2, 1.25 }, [1] = { .name = "cup", .qty = 1, .price = 3 } },
          .n = 2, .rush = 1 },
        { .n = 0 },
    };
    int cents = 0;
    struct order o = price(orders[0], "bag", &cents);
    printf("%d items, %d cents, %s, rush %d\n", o.n, cents, o.items[2].name,
           count_rush(orders, 2));
    return 0;
}

// CHECK: /* The mirror clone of price (
// CHECK: {{^}}static{{$}}
// CHECK-NEXT: #line
// CHECK-NEXT: {{^}}struct order price__ptm_mirror{{$}}
// CHECK-NEXT: #line
// CHECK-NEXT: {{^ *}}(const struct order in, const char *restrict tag, int *const out)
// CHECK: _Static_assert(sizeof o.items / sizeof o.items[0] == 4, "four items");
// CHECK: again:
// CHECK: total += line_total__ptm_mirror(&o.items[i]);
// CHECK: goto again;
// CHECK: struct item extra = (struct item){ .name = tag, .qty = 1, .price = 0.5 };
// CHECK: ptm_shim_printf("%s %s %s %u\n", KIND(i), KIND(total), KIND(tag), flip__ptm_mirror((union word){ .u = 1 }).u);
// CHECK: struct price__ptm_frame {
// CHECK-NEXT:     struct {
// CHECK-NEXT:         struct order in;
// CHECK-NEXT:         const char *tag;
// CHECK-NEXT:         int *out;
// CHECK-NEXT:     } arg;
// CHECK-NEXT:     struct order ret;
// CHECK: return (((frame->ret.n > 0) && (frame->ret.items[0].qty > 0))) != 0;

// OUT: int double other 254
// OUT-NEXT: 3 items, 550 cents, bag, rush 1
