/*
** test_net_spells.c - the half-open cadence a peer learns from its slow
** spells (runtime/shims/net_peers.c): a peer with nothing learnt probes
** after PTM_NET_HALF_OPEN_FIRST replays; spells of 3, 5 and 8 calls are
** then probed near their end; a spell that never ends is probed at
** bounded intervals; clock jumps, many peers and hostile values keep every
** count in bounds.
*/
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "shims/shims_int.h"

#define MS 1000000ull

/* 127.0.0.1:port. */
static struct sockaddr_in portAddr(unsigned port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return a;
}

static struct ptmNetPeerView consultPort(unsigned port, uint64_t now)
{
    struct sockaddr_in a = portAddr(port);
    struct ptmNetPeerView v;
    ptmNetConsult((struct sockaddr *)&a, sizeof a, now, &v);
    return v;
}

static void timeoutAt(unsigned port, uint64_t wait_ns, uint64_t now)
{
    struct sockaddr_in a = portAddr(port);
    cr_assert_eq(ptmNetRecordTimeout((struct sockaddr *)&a, sizeof a, wait_ns, EAGAIN, now), PTM_OK);
}

static void answerOf(unsigned port)
{
    struct sockaddr_in a = portAddr(port);
    cr_assert_eq(ptmNetRecordResponse((struct sockaddr *)&a, sizeof a, "ok", 2, 1000), PTM_OK);
}

/* What one spell cost a caller that diverts on a replayed timeout. */
struct spellCost {
    unsigned probes;              /* half-open calls, the last one succeeded */
    unsigned failed;              /* probes that timed out */
    unsigned diverted;            /* replays after the spell had ended */
    unsigned ended_at;            /* the call whose probe succeeded */
};

/* spell: a spell of `doomed` calls after the call whose primary timed out
** (a burst of doomed + 1 slow calls), met by a busy caller (a call every
** step_ns from *now): each call replays the timeout (a divert) or probes;
** a probe within the spell times out, one after it is answered.  At most
** max_calls calls. */
static struct spellCost spell(unsigned port, unsigned doomed, uint64_t *now, uint64_t step_ns,
                              unsigned max_calls)
{
    struct spellCost c = {0};
    timeoutAt(port, 50 * MS, *now);
    for (unsigned call = 1; call <= max_calls; call++) {
        *now += step_ns;
        struct ptmNetPeerView v = consultPort(port, *now);
        if (v.replay == PTM_NET_REPLAY_TIMEOUT) {
            cr_assert_eq(v.replays, call, "the call's number in the spell");
            cr_assert_leq(v.replays, v.open_for);
            c.diverted += call > doomed;
            continue;
        }
        cr_assert(v.half_open, "call %u", call);
        cr_assert_eq(v.replay, PTM_NET_REPLAY_ANSWER, "the last answer, for the probe");
        c.probes++;
        if (call <= doomed) {
            c.failed++;
            timeoutAt(port, 50 * MS, *now);
        } else {
            answerOf(port);
            c.ended_at = call;
            return c;
        }
    }
    return c;
}

/* Four spells of doomed calls on a fresh peer: their total cost, and each
** one's. */
static struct spellCost fourSpells(unsigned port, unsigned doomed, struct spellCost each[4])
{
    struct spellCost t = {0};
    uint64_t now = 1000 * MS;
    answerOf(port);
    for (int i = 0; i < 4; i++) {
        each[i] = spell(port, doomed, &now, 1 * MS, 1000);
        cr_assert_eq(each[i].ended_at > doomed, 1, "spell %d ended", i);
        t.failed += each[i].failed;
        t.diverted += each[i].diverted;
        /* Good calls between bursts. */
        for (int g = 0; g < 20; g++) {
            now += MS;
            struct ptmNetPeerView v = consultPort(port, now);
            cr_assert_eq(v.replay, PTM_NET_REPLAY_ANSWER);
            cr_assert_not(v.half_open);
        }
    }
    return t;
}

Test(spells, a_peer_with_nothing_learnt_probes_after_the_default)
{
    struct spellCost each[4];
    uint64_t now = 1000 * MS;

    ptmNetForget();
    answerOf(1);
    each[0] = spell(1, 100, &now, MS, PTM_NET_HALF_OPEN_FIRST + 1);
    cr_assert_eq(each[0].probes, 1);
    cr_assert_eq(each[0].failed, 1, "the probe came after %u replays", PTM_NET_HALF_OPEN_FIRST);
    ptmNetForget();
    (void)each;
}

Test(spells, bursts_of_3_are_probed_near_their_end_without_a_failed_probe)
{
    struct spellCost each[4];
    ptmNetForget();
    /* A burst of 3: the call that timed out, then 2 doomed ones. */
    struct spellCost t = fourSpells(3, 2, each);
    cr_assert_eq(t.failed, 0);
    cr_assert_eq(each[0].diverted, PTM_NET_HALF_OPEN_FIRST - 2, "the default's cost");
    for (int i = 1; i < 4; i++)
        cr_assert_leq(each[i].diverted, 1, "spell %d: a quarter below its last end", i);
    cr_assert_leq(t.diverted, 5);
    ptmNetForget();
}

Test(spells, bursts_of_5_cost_at_most_one_failed_probe)
{
    struct spellCost each[4];
    ptmNetForget();
    struct spellCost t = fourSpells(5, 4, each);
    cr_assert_leq(t.failed, 1, "exploring below the first spell's end, once");
    cr_assert_eq(t.diverted, 0);
    cr_assert_eq(each[2].ended_at, 5, "then exactly at its end");
    cr_assert_eq(each[3].ended_at, 5);
    ptmNetForget();
}

Test(spells, bursts_of_8_cost_one_failed_probe_then_none)
{
    struct spellCost each[4];
    ptmNetForget();
    struct spellCost t = fourSpells(8, 7, each);
    cr_assert_eq(each[0].failed, 1, "the default probes too soon once");
    cr_assert_eq(t.failed, 1);
    cr_assert_leq(t.diverted, 1);
    for (int i = 1; i < 4; i++)
        cr_assert_leq(each[i].ended_at, 9, "spell %d: probed near its end", i);
    ptmNetForget();
}

Test(spells, a_spell_that_grows_is_followed)
{
    struct spellCost each[4];
    uint64_t now = 1000 * MS;
    ptmNetForget();
    answerOf(9);
    (void)fourSpells(9, 2, each);
    /* Now spells of 30: the probe fails, and the probes come later and
    ** later, then near the new length once it is learnt. */
    struct spellCost c = spell(9, 30, &now, MS, 1000);
    cr_assert_geq(c.failed, 1);
    cr_assert_leq(c.failed, 6, "x1.5 from the learnt length: %u failed", c.failed);
    cr_assert_leq(c.diverted, 15);
    for (int i = 0; i < 3; i++)
        c = spell(9, 30, &now, MS, 1000);
    cr_assert_leq(c.failed, 1);
    cr_assert_leq(c.diverted, 16);
    ptmNetForget();
}

Test(spells, a_spell_that_never_ends_is_probed_at_bounded_intervals)
{
    uint64_t now = 1000 * MS;
    unsigned last_probe = 0, gap_max = 0, probes = 0;

    ptmNetForget();
    answerOf(4);
    timeoutAt(4, 50 * MS, now);
    for (unsigned call = 1; call <= 20000; call++) {
        now += 1000; /* 1 us apart: time never opens it */
        struct ptmNetPeerView v = consultPort(4, now);
        if (v.replay == PTM_NET_REPLAY_TIMEOUT)
            continue;
        cr_assert(v.half_open);
        unsigned gap = call - last_probe - 1;
        cr_assert_leq(gap, PTM_NET_HALF_OPEN_MAX, "call %u: %u replays between probes", call, gap);
        if (gap > gap_max)
            gap_max = gap;
        last_probe = call;
        probes++;
        timeoutAt(4, 50 * MS, now);
    }
    cr_assert_eq(gap_max, PTM_NET_HALF_OPEN_MAX, "the gap grows to its bound");
    cr_assert_leq(probes, 20000 / PTM_NET_HALF_OPEN_MAX + 20);
    cr_assert_geq(probes, 20000 / (PTM_NET_HALF_OPEN_MAX + 1));
    /* A rare caller: the time bound, at most PTM_NET_HALF_OPEN_MAX_MS. */
    now += 1;
    timeoutAt(4, UINT64_MAX / 4, now);
    cr_assert_eq(consultPort(4, now + (uint64_t)PTM_NET_HALF_OPEN_MAX_MS * MS).replay,
                 PTM_NET_REPLAY_ANSWER);
    /* And once it ends, what is learnt is bounded too. */
    answerOf(4);
    timeoutAt(4, 50 * MS, now);
    struct ptmNetPeerView v = consultPort(4, now);
    cr_assert_leq(v.open_for, PTM_NET_HALF_OPEN_MAX);
    ptmNetForget();
}

Test(spells, clock_jumps_change_no_count)
{
    struct spellCost each[4];
    ptmNetForget();
    (void)fourSpells(11, 4, each);
    /* The clock goes back before the record: the count still probes at
    ** the learnt call. */
    uint64_t now = 5000 * MS;
    timeoutAt(11, 50 * MS, now);
    for (unsigned call = 1; call <= 4; call++)
        cr_assert_eq(consultPort(11, now - 4000 * MS).replay, PTM_NET_REPLAY_TIMEOUT);
    struct ptmNetPeerView v = consultPort(11, 0);
    cr_assert(v.half_open, "call 5 probes");
    answerOf(11);
    /* A jump far ahead: the time bound probes at once; what was learnt
    ** stays (counts, not times). */
    timeoutAt(11, 50 * MS, now);
    v = consultPort(11, UINT64_MAX);
    cr_assert(v.half_open);
    cr_assert_eq(v.open_for, 4);
    answerOf(11);
    timeoutAt(11, 50 * MS, now);
    /* That spell ended at its first call: the median keeps one such
    ** outlier from deciding (4, or 3 once the failed probe that held it
    ** there was forgotten). */
    cr_assert_geq(consultPort(11, now).open_for, 3);
    ptmNetForget();
}

Test(spells, each_peer_learns_its_own_and_the_table_stays_bounded)
{
    struct spellCost each[4];
    ptmNetForget();
    /* Peers with spells of 3 and of 8, interleaved. */
    for (unsigned p = 100; p < 100 + PTM_NET_ENDPOINTS / 2; p++)
        (void)fourSpells(p, p % 2 ? 2 : 7, each);
    uint64_t now = 90000 * MS;
    for (unsigned p = 100; p < 100 + PTM_NET_ENDPOINTS / 2; p++) {
        struct spellCost c = spell(p, p % 2 ? 2 : 7, &now, MS, 1000);
        cr_assert_eq(c.failed, 0, "peer %u", p);
        cr_assert_leq(c.diverted, 1, "peer %u", p);
    }
    /* Many more peers than entries: each new one starts from the
    ** default, and nothing grows. */
    for (unsigned p = 1000; p < 1400; p++) {
        answerOf(p);
        timeoutAt(p, 50 * MS, now);
        cr_assert_eq(consultPort(p, now).open_for, PTM_NET_HALF_OPEN_FIRST);
    }
    ptmNetForget();
}

Test(spells, hostile_values_stay_in_bounds)
{
    uint64_t now = 0;
    ptmNetForget();
    answerOf(21);
    /* Waits of 0 and of UINT64_MAX, a clock at 0 and at its end. */
    timeoutAt(21, 0, 0);
    struct ptmNetPeerView v = consultPort(21, 0);
    cr_assert_eq(v.replay, PTM_NET_REPLAY_TIMEOUT);
    cr_assert_eq(v.wait_ns, 1, "a wait of 0 is recorded as 1 ns");
    timeoutAt(21, UINT64_MAX, UINT64_MAX);
    v = consultPort(21, UINT64_MAX);
    cr_assert_leq(v.replays, v.open_for + 1);
    /* A spell longer than a spell's record holds (65535 calls). */
    answerOf(21);
    timeoutAt(21, MS, now);
    for (unsigned i = 0; i < 70000; i++) {
        v = consultPort(21, now);
        if (v.half_open)
            timeoutAt(21, MS, now);
    }
    answerOf(21);
    timeoutAt(21, MS, now);
    v = consultPort(21, now);
    cr_assert_eq(v.replay, PTM_NET_REPLAY_TIMEOUT);
    cr_assert_leq(v.open_for, PTM_NET_HALF_OPEN_MAX, "the next spell's probe is bounded");
    /* Answers and timeouts in any order, with no consult between. */
    for (int i = 0; i < 100; i++) {
        answerOf(22);
        answerOf(22);
        timeoutAt(22, MS, now);
        timeoutAt(22, MS, now);
    }
    /* Spells answered before any call: its timeouts are not replayed. */
    v = consultPort(22, now);
    cr_assert_leq(v.open_for, 1);
    ptmNetForget();
}

Test(spells, primaries_that_run_during_the_replays_bound_the_spell)
{
    const uint64_t now = 1000 * MS;
    ptmNetForget();
    answerOf(31);
    /* A caller with no alternative: its primaries run after each replay.
    ** One that times out says the spell lasted that long; the answer
    ** after the next ends it, and what a failed call bracketed is kept
    ** as it is, not explored below. */
    timeoutAt(31, 50 * MS, now);
    cr_assert_eq(consultPort(31, now).replay, PTM_NET_REPLAY_TIMEOUT);
    timeoutAt(31, 50 * MS, now);
    struct ptmNetPeerView v = consultPort(31, now);
    cr_assert_eq(v.replay, PTM_NET_REPLAY_TIMEOUT);
    cr_assert_eq(v.replays, 2, "the count goes on");
    cr_assert_eq(v.open_for, PTM_NET_HALF_OPEN_FIRST, "a primary that ran is no probe");
    answerOf(31);
    timeoutAt(31, 50 * MS, now);
    cr_assert_eq(consultPort(31, now).open_for, 2);
    ptmNetForget();
}

Test(spells, steady_spells_explore_again_once_the_failure_is_forgotten)
{
    uint64_t now = 1000 * MS;
    unsigned failed_at[10], nfailed = 0;
    ptmNetForget();
    answerOf(41);
    for (unsigned i = 0; i < 10; i++) {
        struct spellCost c = spell(41, 4, &now, MS, 1000);
        cr_assert_eq(c.diverted, 0, "spell %u", i);
        if (c.failed)
            failed_at[nfailed++] = i;
    }
    cr_assert_eq(nfailed, 2);
    cr_assert_eq(failed_at[0], 1, "the second spell explores below the first");
    cr_assert_eq(failed_at[1], 6, "five spells later, once it left the %u remembered",
                 PTM_NET_SPELLS);
    ptmNetForget();
}
