/* A transaction with its own rules script, embedded at build time. */
#include <ptm.h>
#include <stdio.h>

int plan_b(int x)
{
    printf("plan b %d\n", x);
    return 0;
}

PTM_TRANSACTION(.transaction_id = "rules.custom",
                .alternative_paths = { plan_b },
                .rules = "always_divert.lua")
int plan_a(int x)
{
    printf("plan a %d\n", x);
    return 0;
}

int main(void)
{
    return plan_a(42);
}
