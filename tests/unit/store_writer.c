/*
** store_writer.c - a program for test_store.c: one "run" of a program
** whose transaction records outcomes into the history file PTM_HISTORY,
** written in batches by the store's thread and at exit.
**
** usage: store_writer id calls fail_every
**   calls labelled outcomes of cell 2 (validation alone); every
**   fail_every-th one a failure (0: none); each with a 1000 us latency.
** Prints "warm <n>" first: the labelled outcomes the file already had.
*/
#include <stdio.h>
#include <stdlib.h>

#include "ptm_int.h"

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: store_writer id calls fail_every\n");
        return 2;
    }
    struct ptm_tx_desc d = {.abi = PTM_ABI_VERSION, .transaction_id = argv[1],
                            .function = "store_writer", .threshold = 0.5};
    long calls = strtol(argv[2], NULL, 10), every = strtol(argv[3], NULL, 10);
    struct ptmHistory *h = ptmHistoryFor(&d);
    struct ptmModelView mv;
    ptmHistoryModel(h, NULL, &mv);
    printf("warm %llu\n", (unsigned long long)mv.outcomes);
    fflush(stdout);
    for (long i = 0; i < calls; i++) {
        int fail = every > 0 && (i + 1) % every == 0;
        uint64_t us = 1000;
        ptmHistoryRecord(h, !fail, 0, &us, 1, NULL);
        ptmHistoryLearn(h, "store_writer", fail, 1, fail, 1, 2);
    }
    return 0;
}
