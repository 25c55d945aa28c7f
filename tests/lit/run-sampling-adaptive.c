// Adaptive mirroring (`.mirror_sampling = adaptive`, runtime/sampling.c):
// a transaction whose calls show nothing mirrors every call for 32 calls,
// then a share of them (down to 1 in 64); a failure of the primary, or a
// signal a sampled mirror sees, re-arms full mirroring at once.  A call
// left unmirrored runs its primary and says so in the trace
// (mirror_sampled false, mirror_reason) and in ptm-trace show.
// RUN: %ptmcc -Wall -Wextra -Werror %s -o %t
// RUN: rm -f %t.trace %t.out && env PTM_TRACE=%t.trace %t %t.out | FileCheck %s --check-prefix=OUT
// RUN: FileCheck %s < %t.trace
// RUN: %ptm_trace show %t.trace | FileCheck %s --check-prefix=SHOW
// ptm-rules test does not replay a call that was never judged.
// RUN: %ptm_rules test --quiet %S/../../lua-rules/default.lua %t.trace | FileCheck %s --check-prefix=REPLAY
// Observe mode samples alike; a mirrored call is observed as before.
// RUN: rm -f %t.obs && env PTM_MODE=observe PTM_TRACE=%t.obs %t %t.out | FileCheck %s --check-prefix=OUT
// RUN: FileCheck %s --check-prefix=OBS < %t.obs

#include <fcntl.h>
#include <ptm.h>
#include <stdio.h>
#include <unistd.h>

static int primaries;

/* The check is one the mirror sees (a validation signal); the record is
** written whatever it says when lenient, and refused otherwise. */
PTM_TRANSACTION(.transaction_id = "log.append", .mirror_sampling = adaptive,
                .success_criteria = return == 0)
int append(int fd, int suspicious, int lenient)
{
    primaries++;
    if (!ptm_validate(!suspicious, "suspicious record") && !lenient)
        return -1;
    return write(fd, "x\n", 2) == 2 ? 0 : -1;
}

static unsigned long mirrors(void)
{
    struct ptm_stats s;
    ptm_stats_get(&s);
    return (unsigned long)s.mirrors;
}

/* run: n calls; returns the mirrors they made. */
static unsigned long run(int fd, int n, int suspicious, int lenient)
{
    unsigned long m0 = mirrors();
    for (int i = 0; i < n; i++)
        append(fd, suspicious, lenient);
    return mirrors() - m0;
}

int main(int argc, char **argv)
{
    int fd = open(argc > 1 ? argv[1] : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        return 1;
    printf("first 32 calls: %lu mirrored\n", run(fd, 32, 0, 0));
    unsigned long m = run(fd, 3000, 0, 0);
    printf("3000 quiet calls: %s\n", m < 300 ? "fewer than 1 in 10 mirrored" : "too many mirrored");
    int before = primaries;
    printf("a refused record: returns %d\n", append(fd, 1, 0));
    printf("its primary ran: %d\n", primaries - before);
    printf("after a failure, 32 calls: %lu mirrored\n", run(fd, 32, 0, 0));
    run(fd, 3000, 0, 0);
    /* A lenient call's primary succeeds: only a mirror sees its signal. */
    int tries = 0;
    while (run(fd, 1, 1, 1) == 0)
        tries++;
    printf("a mirror saw a signal after %s\n", tries < 3000 ? "a few tries" : "too many tries");
    printf("after a signal, 32 calls: %lu mirrored\n", run(fd, 32, 0, 0));
    return 0;
}

// OUT: first 32 calls: 32 mirrored
// OUT-NEXT: 3000 quiet calls: fewer than 1 in 10 mirrored
// OUT-NEXT: a refused record: returns -1
// OUT-NEXT: its primary ran: 1
// OUT-NEXT: after a failure, 32 calls: 32 mirrored
// OUT-NEXT: a mirror saw a signal after a few tries
// OUT-NEXT: after a signal, 32 calls: 32 mirrored

// CHECK: "mirror":"inline",{{.*}}"mirror_sampled":true,"sampling_every":1,"explored":false}
// CHECK: "mirror":"off","mirror_reason":"adaptive sampling: quiet, 1 call in 2 mirrored",{{.*}}"mirror_sampled":false,"sampling_every":2,
// CHECK: "mirror":"off","mirror_reason":"adaptive sampling: quiet, 1 call in 64 mirrored",{{.*}}"decision":"primary","path":"append","attempts":1,"outcome":"success",{{.*}}"mirror_sampled":false,"sampling_every":64,"explored":false}

// SHOW: log.append (append) · mirror inline returned
// SHOW: log.append (append) · not mirrored (adaptive sampling: quiet, 1 call in 64 mirrored)
// SHOW-NEXT: not analyzed → primary · success after 1 attempt

// OBS: "mirror":"inline",{{.*}}"observe":true,"predicted":"primary",{{.*}}"mirror_sampled":true,"sampling_every":1,
// OBS: "mirror":"off",{{.*}}"observe":true,"predicted":null,{{.*}}"mirror_sampled":false,"sampling_every":64,

// REPLAY: calls: {{[0-9]+}} replayed, 0 malformed lines skipped, 0 rules errors
// REPLAY-NEXT: not mirrored (adaptive sampling): {{[0-9]+}}, not replayed
