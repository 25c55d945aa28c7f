/* Oracle: __func__ inside a transaction.  A logging macro that prints the
 * function's name is common C; the name must be the user's function, as in
 * a plain build. */
#include <ptm.h>
#include <stdio.h>

#define TRACE(what) printf("%s: %s\n", __func__, what)

PTM_TRANSACTION()
int open_account(const char *owner)
{
    TRACE(owner);
    return 1;
}

static int helper(void)
{
    TRACE("helper");
    return 2;
}

PTM_TRANSACTION()
int audit(void)
{
    TRACE("audit");
    return helper();
}

int main(void)
{
    return open_account("ada") + audit() == 3 ? 0 : 1;
}
