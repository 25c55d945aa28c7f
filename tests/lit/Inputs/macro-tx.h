/* A project's own annotation macro, defined in a header (macro-diag.c). */
#include <ptm.h>
#define HEADER_TX(id, ...) PTM_TRANSACTION(.transaction_id = id, .retires = 3, __VA_ARGS__)
