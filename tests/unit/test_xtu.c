/*
** test_xtu.c - the runtime's walk of a mirror's reachable set across files
** (runtime/clones.c, ABI 7): cycles in the call graph, missing records, a
** needs-fork leaf, a buffered store with an unbuffered reader, the path in
** the reason, and threads resolving one transaction at once.
*/
#include <criterion/criterion.h>
#include <pthread.h>
#include <string.h>

#include "ptm_int.h"

/* f -> g -> h -> f (a cycle across three files), h -> leaf. */
static const struct ptm_xfacts xf, xg, xh, xleaf;
static const struct ptm_xcall fCalls[] = {{"g", &xg}};
static const struct ptm_xcall gCalls[] = {{"h", &xh}};
static const struct ptm_xcall hCalls[] = {{"f", &xf}, {"leaf", &xleaf}};
static const struct ptm_xfacts xf = {"f", "f.c", 0, 1, NULL, 1, fCalls, 0};
static const struct ptm_xfacts xg = {"g", "g.c", 0, 1, NULL, 1, gCalls, 0};
static const struct ptm_xfacts xh = {"h", "h.c", 0, 1, NULL, 2, hCalls, 0};
static const struct ptm_xfacts xleaf = {"leaf", "leaf.c", 0, 1, NULL, 0, NULL, 0};

Test(xtu, a_cycle_across_files_resolves_inline)
{
    struct ptm_xstate s = {0};
    ptmXtuWalk(&xf, 0, &s);
    cr_assert_eq(s.inline_ok, 1, "%s", s.reason);
    cr_expect_eq(s.redo, 0);
    cr_expect_eq(s.nfuncs, 4);
    cr_expect(strstr(s.reason, "4 functions across files store only into their locals"),
              "%s", s.reason);
}

/* root -> mid -> {ok, bad}: bad calls exit(). */
static const struct ptm_xfacts yroot, ymid, yok, ybad;
static const struct ptm_xcall rootCalls[] = {{"mid", &ymid}};
static const struct ptm_xcall midCalls[] = {{"ok", &yok}, {"bad", &ybad}};
static const struct ptm_xfacts yroot = {"root", "r.c", 0, 1, NULL, 1, rootCalls, 0};
static const struct ptm_xfacts ymid = {"mid", "m.c", 0, 1, NULL, 2, midCalls, 0};
static const struct ptm_xfacts yok = {"ok", "o.c", 0, 1, NULL, 0, NULL, 0};
static const struct ptm_xfacts ybad = {"bad", "b.c", 0, 1,
                                       "calls unknown external 'exit' (b.c:3)", 0, NULL, 0};

Test(xtu, a_needs_fork_leaf_forks_and_names_the_path)
{
    struct ptm_xstate s = {0};
    ptmXtuWalk(&yroot, 0, &s);
    cr_assert_eq(s.inline_ok, 0);
    cr_expect_str_eq(s.reason,
                     "reaches 'bad' via root -> mid -> bad: calls unknown external 'exit' (b.c:3)");
}

/* a missing record: the callee's file was not built by ptmcc */
static const struct ptm_xcall missCalls[] = {{"mid", &ymid}, {"curl_easy_perform", NULL}};
static const struct ptm_xfacts zroot = {"fetch", "f.c", 0, 1, NULL, 2, missCalls, 0};

Test(xtu, a_missing_record_forks_and_names_the_callee)
{
    struct ptm_xstate s = {0};
    ptmXtuWalk(&zroot, 0, &s);
    cr_assert_eq(s.inline_ok, 0);
    /* the first problem met breadth first: the missing one, one call away */
    cr_expect(strstr(s.reason, "reaches 'curl_easy_perform' via fetch: no mirror clone"), "%s",
              s.reason);
}

/* a store through the buffer, read by a clone that is not buffered */
static const struct ptm_xfacts wroot, wstore, wread;
static const struct ptm_xcall wCalls[] = {{"store", &wstore}, {"read", &wread}};
static const struct ptm_xfacts wroot = {"tx", "t.c", 0, 1, NULL, 2, wCalls, 0};
static const struct ptm_xfacts wstore = {"store", "s.c", 1, 1, NULL, 0, NULL, 0};
static const struct ptm_xfacts wread = {"read", "r.c", 0, 0, NULL, 0, NULL, 0};
static const struct ptm_xfacts wread2 = {"read", "r.c", 0, 1, NULL, 0, NULL, 0};
static const struct ptm_xcall wCalls2[] = {{"store", &wstore}, {"read", &wread2}};
static const struct ptm_xfacts wroot2 = {"tx", "t.c", 0, 1, NULL, 2, wCalls2, 0};

Test(xtu, a_buffered_store_needs_every_reader_buffered)
{
    struct ptm_xstate s = {0};
    ptmXtuWalk(&wroot, 0, &s);
    cr_assert_eq(s.inline_ok, 0);
    cr_expect(strstr(s.reason, "'store' stores outside its locals (via tx -> store)"), "%s",
              s.reason);
    cr_expect(strstr(s.reason, "the clone of tx -> read reads memory without the write buffer"),
              "%s", s.reason);
    memset(&s, 0, sizeof s);
    ptmXtuWalk(&wroot2, 0, &s);
    cr_assert_eq(s.inline_ok, 1, "%s", s.reason);
    cr_expect_eq(s.redo, 1);
}

Test(xtu, more_functions_than_the_bound_fork)
{
    struct ptm_xstate s = {0};
    ptmXtuWalk(&xf, 3, &s);
    cr_assert_eq(s.inline_ok, 0);
    cr_expect(strstr(s.reason, "too many functions"), "%s", s.reason);
}

/* A long chain: the path in the reason is cut, the root kept. */
#define CHAIN 64
static struct ptm_xfacts chain[CHAIN];
static struct ptm_xcall chainCalls[CHAIN];
static char chainNames[CHAIN][8];

Test(xtu, a_long_path_is_cut_and_keeps_its_root)
{
    for (int i = 0; i < CHAIN; i++) {
        snprintf(chainNames[i], sizeof chainNames[i], "c%d", i);
        chain[i] = (struct ptm_xfacts){chainNames[i], "c.c", 0, 1, NULL, 0, NULL, 0};
        if (i + 1 < CHAIN) {
            chainCalls[i] = (struct ptm_xcall){chainNames[i + 1], &chain[i + 1]};
            chain[i].n_calls = 1;
            chain[i].calls = &chainCalls[i];
        }
    }
    chain[CHAIN - 1].fork = "calls through a function pointer (c.c:9)";
    struct ptm_xstate s = {0};
    ptmXtuWalk(&chain[0], 0, &s);
    cr_assert_eq(s.inline_ok, 0);
    cr_expect(strncmp(s.reason, "reaches 'c63' via c0 -> ", 24) == 0, "%s", s.reason);
    cr_expect_lt(strlen(s.reason), sizeof s.reason);
}

/* Threads resolving one transaction at once agree, and the walk is kept. */
static struct ptm_xstate shared;
static const struct ptm_tx_desc sharedDesc = {
    .abi = PTM_ABI_VERSION, .transaction_id = "xtu.threads", .xfacts = &yroot,
    .xstate = &shared};

static void *resolveOnce(void *arg)
{
    (void)arg;
    const struct ptm_xstate *s = ptmXtuResolve(&sharedDesc);
    return (void *)(intptr_t)(s && s->inline_ok == 0 && strstr(s->reason, "'bad'") ? 0 : 1);
}

Test(xtu, threads_resolve_at_once)
{
    pthread_t t[8];
    for (int i = 0; i < 8; i++)
        cr_assert_eq(pthread_create(&t[i], NULL, resolveOnce, NULL), 0);
    intptr_t bad = 0;
    for (int i = 0; i < 8; i++) {
        void *r;
        pthread_join(t[i], &r);
        bad += (intptr_t)r;
    }
    cr_expect_eq(bad, 0);
    cr_expect_eq(__atomic_load_n(&shared.done, __ATOMIC_ACQUIRE), 2);
    cr_expect_eq(ptmXtuResolve(&sharedDesc), &shared);
}

Test(xtu, a_descriptor_without_facts_is_not_resolved)
{
    struct ptm_tx_desc d = {.abi = PTM_ABI_VERSION, .transaction_id = "plain"};
    cr_expect_null(ptmXtuResolve(&d));
}
