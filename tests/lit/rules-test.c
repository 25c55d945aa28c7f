// ptm-rules test: a trace recorded from examples/ledger (9 calls: 6 that ran
// ledger_append, 3 diverted to ledger_reject by validation failures), with
// two malformed lines appended, replayed through the default rules, a
// stricter script and a script that runs out of its budget.
// RUN: not %ptm_rules test %S/../../lua-rules/default.lua %inputs/rules-ledger.jsonl | FileCheck %s --check-prefix=DEFAULT
// RUN: not %ptm_rules test %inputs/rules-good.lua %inputs/rules-ledger.jsonl | FileCheck %s --check-prefix=STRICT
// RUN: not %ptm_rules test --quiet %inputs/rules-bomb.lua %inputs/rules-ledger.jsonl | FileCheck %s --check-prefix=BOMB
// RUN: not %ptm_rules test %inputs/rules-good.lua %t.missing.jsonl 2>&1 | FileCheck %s --check-prefix=NOFILE

// DEFAULT: rules-ledger.jsonl:1: ledger.append: probability 0.000, primary (recorded: primary, success)
// DEFAULT: rules-ledger.jsonl:3: ledger.append: probability 0.400, divert (recorded: divert, success, primary did not run)
// DEFAULT: rules-ledger.jsonl:10: error: malformed record, skipped:
// DEFAULT: rules-ledger.jsonl:11: error: malformed record, skipped: no outcome
// DEFAULT: calls: 9 replayed, 2 malformed lines skipped, 0 rules errors
// DEFAULT-NEXT: would divert: 3 (of them, primary ran: 0, failed for real: 0)
// DEFAULT-NEXT: labelled: 6 (primary ran), failed: 0, Brier score: 0.0000

// The stricter script also diverts call 1, whose mirror predicted ENOENT
// (a first fopen of a ledger that did not exist yet) but which succeeded:
// one false diversion, (0.6 - 0)^2 / 6 = 0.06.
// STRICT: rules-ledger.jsonl:1: ledger.append: probability 0.600, divert (recorded: primary, success)
// STRICT: calls: 9 replayed, 2 malformed lines skipped, 0 rules errors
// STRICT-NEXT: would divert: 4 (of them, primary ran: 1, failed for real: 0)
// STRICT-NEXT: labelled: 6 (primary ran), failed: 0, Brier score: 0.0600

// On a loaded machine the endless loop can meet the wall-clock budget before
// the instruction budget; either one stops it.
// BOMB: rules-ledger.jsonl:3: ledger.append: rules error: rules {{.*}}rules-bomb.lua: analyze: {{(instruction budget of [0-9]+|time budget of [0-9]+ ms)}} exceeded
// BOMB: calls: 9 replayed, 2 malformed lines skipped, 3 rules errors
// BOMB-NEXT: would divert: 0

// NOFILE: ptm-rules: {{.*}}missing.jsonl: No such file or directory
// RUN: not %ptm_rules test %inputs/rules-good.lua %inputs 2>&1 | FileCheck %s --check-prefix=DIR
// DIR: ptm-rules: {{.*}}Inputs: cannot read: Is a directory

// Hand-written records: a transaction whose trace says it has no
// alternatives never diverts, however sure the rules are; one from a trace
// older than the "alternatives" field (no name seen) diverts by threshold.
// The Brier score: (0.6-1)^2, (0.6-1)^2, (0-0)^2 over 3 labelled calls.
// RUN: %ptm_rules test %inputs/rules-good.lua %inputs/rules-alts.jsonl | FileCheck %s --check-prefix=ALTS
// ALTS: rules-alts.jsonl:1: none.tx: probability 0.600, primary (recorded: primary, failure)
// ALTS: rules-alts.jsonl:2: old.tx: probability 0.600, divert (recorded: primary, failure)
// ALTS: rules-alts.jsonl:3: old.tx: probability 0.000, primary (recorded: primary, success)
// ALTS: would divert: 1 (of them, primary ran: 1, failed for real: 1)
// ALTS-NEXT: labelled: 3 (primary ran), failed: 2, Brier score: 0.1067
