/* A project's annotation macro whose criteria has a typo (diag-criteria-backend.c). */
#include <ptm.h>
#define CHECKED_TX(id) PTM_TRANSACTION(.transaction_id = id, .success_criteria = retrun == 0)
