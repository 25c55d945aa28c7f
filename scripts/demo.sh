#!/bin/sh
# The main demo: ptmcc compiles examples/ledger, then each call shows what the
# mirror saw, the failure probability, the decision, and that the mirror left
# every file as it was (a mirror-only run, PTM_DRY_RUN=1, with sha256 sums
# taken before and after), followed by the real call.  Then the bank
# (examples/bank): three processes make transfers in one SQLite database; the
# trace of one overdraft diverted before the primary ran, of one transfer that
# met another writer's lock (contention: retries and backoff), and the check
# that money was conserved.
set -eu

BUILD=${1:-build}
BUILD=$(cd "$BUILD" && pwd)
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PTMCC=$BUILD/bin/ptmcc
TRACE_TOOL=$BUILD/bin/ptm-trace
WORK=$(mktemp -d "${TMPDIR:-/tmp}/ptm-demo.XXXXXX")
trap 'rm -rf "$WORK"' EXIT INT TERM
cd "$WORK"
DATA=data
mkdir "$DATA"
unset PTM_CC PTM_TRACE PTM_RULES PTM_DISABLE PTM_DRY_RUN PTM_MODE 2>/dev/null || true
# The demo starts cold every time: its programs learn into a history file of
# its own, not the user's ~/.local/state/ptm.
export PTM_HISTORY="$WORK/history.db"

say() { printf '%s\n' "$*"; }
rule() { say ""; say "== $* =="; }

rule "1. The annotated function (examples/ledger/ledger.c)"
sed -n '/^PTM_TRANSACTION(/,/^int ledger_append/p' "$ROOT/examples/ledger/ledger.c"

rule "2. Build with ptmcc, warnings as errors"
say "\$ ptmcc -O2 -Wall -Wextra -Werror -c ledger.c -o ledger.o"
"$PTMCC" -O2 -Wall -Wextra -Werror -c "$ROOT/examples/ledger/ledger.c" -o "$WORK/ledger.o"
say "\$ ptmcc ledger.o -o ledger"
"$PTMCC" "$WORK/ledger.o" -o "$WORK/ledger"
"$PTMCC" --emit-source "$ROOT/examples/ledger/ledger.c" -o "$WORK/ledger.ptm.c"
say "ptmcc rewrote ledger_append into:"
grep -E '^static [a-z ]*(ledger_append|balance|valid_account|audit)__ptm_(primary|mirror)\(|^struct ledger_append__ptm_frame|^static const struct ptm_tx_desc|^int ledger_append\(' \
    "$WORK/ledger.ptm.c" | sed 's/(.*//; s/ {$//' | sort -u | sed 's/^/    /'
say "(ptmcc --emit-source shows all of it; the mirrors' fopen/fprintf/open/write/printf"
say " calls became ptm_shim_* calls, LOG()'s fprintf included.)"

sums() {
    for f in ledger.txt audit.log rejected.txt; do
        if [ -e "$DATA/$f" ]; then
            printf '%s=%s ' "$f" "$(sha256sum "$DATA/$f" | cut -c1-12)"
        else
            printf '%s=(none) ' "$f"
        fi
    done
}

call() {
    rule "ledger add $1 $2"
    before=$(sums)
    PTM_DRY_RUN=1 PTM_TRACE="$WORK/dry.jsonl" ./ledger "$DATA" add "$1" "$2" >/dev/null 2>&1 || true
    after=$(sums)
    say "mirror only:  $after"
    if [ "$before" = "$after" ]; then
        say "              -> every file exactly as before the mirror ran"
    else
        say "              -> FILES CHANGED BY THE MIRROR: $before"
        exit 1
    fi
    set +e
    out=$(PTM_TRACE="$WORK/trace.jsonl" ./ledger "$DATA" add "$1" "$2" 2>&1)
    rc=$?
    set -e
    say "real call:    $out (exit $rc)"
    tail -n 1 "$WORK/trace.jsonl" | "$TRACE_TOOL" show - | sed 's/^/  /'
}

rule "3. Calls"
say "Each call runs twice: first mirror-only (PTM_DRY_RUN=1) to show, with sha256"
say "sums, that the mirror writes nothing; then for real."
call alice 1000
call alice 250
call alice -5000
call Bob 10
call alice 0

rule "4. What is in the files"
for f in ledger.txt rejected.txt; do say "$f:"; sed 's/^/    /' "$DATA/$f"; done
say ""
say "The overdraft, the bad account name and the zero amount were predicted by"
say "their mirrors (ptm_validate failures, weight 0.4 in the seed's rules) and"
say "diverted to ledger_reject before ledger.txt was touched."

# ---------------------------------------------------------------------------
# The bank: transfers in SQLite, from three processes at once.
BANK_SRC=$ROOT/examples/bank/bank.c
BANK=$WORK/bank
DB=$WORK/bank.db

# last_record FILE PYTHON-CONDITION: the last trace record t that meets it
# (a late one: its process's overlay connection was open already).
last_record() {
    python3 -c 'import json, sys
for line in reversed(open(sys.argv[1]).readlines()):
    t = json.loads(line)
    if eval(sys.argv[2]):
        sys.stdout.write(line)
        break' "$1" "$2"
}

rule "5. The bank: transfers in SQLite (examples/bank/bank.c)"
sed -n '/^PTM_TRANSACTION(/,/^int transfer(/p' "$BANK_SRC"
say "Its body: BEGIN IMMEDIATE, UPDATE (the debit: CHECK(balance >= 0)), UPDATE (the"
say "credit), INSERT into the transfers log (CHECK(cents <= 100000)), COMMIT; ROLLBACK"
say "on error. Rules: examples/bank/bank.lua."
say ""
say "\$ ptmcc -O2 -Wall -Wextra -Werror -c bank.c -o bank.o && ptmcc bank.o -o bank -lsqlite3"
"$PTMCC" -O2 -Wall -Wextra -Werror -c "$BANK_SRC" -o "$WORK/bank.o"
"$PTMCC" "$WORK/bank.o" -o "$BANK" -lsqlite3
say "\$ clang-19 -O2 -Wall -Wextra -Werror bank.c -o bank-plain -lsqlite3   # without PTM"
clang-19 -O2 -Wall -Wextra -Werror -I "$BUILD/include" "$BANK_SRC" -o "$WORK/bank-plain" -lsqlite3

rule "6. Three writers, 100 transfers each, 10% overdrafts, 2% over the limit"
say "\$ bank run --db bank.db --procs 3 --transfers 100 --overdraft-share 0.10 --large-share 0.02"
PTM_TRACE="$WORK/bank.jsonl" "$BANK" run --db "$DB" --procs 3 --transfers 100 \
    --overdraft-share 0.10 --large-share 0.02 --seed 1 >"$WORK/run.out"
"$WORK/bank-plain" run --db "$WORK/plain.db" --procs 3 --transfers 100 \
    --overdraft-share 0.10 --large-share 0.02 --seed 1 >"$WORK/plain.out"
python3 -c 'import json, sys
for name, path in (("ptmcc", sys.argv[1]), ("plain", sys.argv[2])):
    for line in open(path):
        t = json.loads(line)
        if "procs" in t:
            t["name"] = name
            print("  %(name)s: %(ok)d of %(transfers)d made, %(diverted)d diverted by PTM "
                  "(%(rejected)d rejected, %(queued)d queued in all); "
                  "%(overdrafts_without_primary)d of %(overdrafts)d overdrafts never reached "
                  "the primary;" % t)
            print("  %(name)s: %(primary_failures)d failed primary attempts, %(rollbacks)d "
                  "rollbacks, p50 %(p50_us).0f us, p99 %(p99_us).0f us per call" % t)' \
    "$WORK/run.out" "$WORK/plain.out"

rule "An overdraft, diverted before the primary touched the database"
last_record "$WORK/bank.jsonl" 't["path"] == "transfer_reject"' | "$TRACE_TOOL" show - | sed 's/^/  /'

rule "A transfer that meets another writer holding the lock"
say "\$ bank hold --db bank.db --ms 150 &   # BEGIN IMMEDIATE, held for 150 ms"
"$BANK" hold --db "$DB" --ms 150 >"$WORK/hold.out" &
HOLDER=$!
n=0
until grep -q holding "$WORK/hold.out" 2>/dev/null; do
    n=$((n + 1))
    [ $n -lt 500 ] || { say "the holder did not start"; exit 1; }
    sleep 0.01
done
say "\$ bank transfer --db bank.db --busy-ms 10 1 2 100"
PTM_TRACE="$WORK/contention.jsonl" "$BANK" transfer --db "$DB" --busy-ms 10 1 2 100 | sed 's/^/  /'
wait $HOLDER
tail -n 1 "$WORK/contention.jsonl" | "$TRACE_TOOL" show - | sed 's/^/  /'

rule "Money is conserved: sum(balance) + sum(pending) = the starting total"
say "\$ bank check --db bank.db"
"$BANK" check --db "$DB" | sed 's/^/  /'
