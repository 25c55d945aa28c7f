// ptm-rules check: a good script passes; a syntax error, a runtime error, a
// table without analyze and a budget bomb are reported clang-style
// (file:line: error: ...) with a non-zero exit, through the PAM's own
// sandbox and budgets.  (A C file only because lit runs .c files.)
// RUN: %ptm_rules check %inputs/rules-good.lua | FileCheck %s --check-prefix=GOOD
// RUN: not %ptm_rules check %inputs/rules-syntax.lua | FileCheck %s --check-prefix=SYNTAX
// RUN: not %ptm_rules check %inputs/rules-runtime.lua | FileCheck %s --check-prefix=RUNTIME
// RUN: not %ptm_rules check %inputs/rules-noanalyze.lua | FileCheck %s --check-prefix=NOANALYZE
// RUN: not %ptm_rules check %inputs/rules-bomb.lua | FileCheck %s --check-prefix=BOMB
// RUN: not %ptm_rules check %inputs/does-not-exist.lua | FileCheck %s --check-prefix=MISSING
// RUN: not %ptm_rules check 2>&1 | FileCheck %s --check-prefix=USAGE

// GOOD: rules-good.lua: observation 'clean': probability 0.000
// GOOD: rules-good.lua: observation 'contention': probability 0.300 (contention)
// GOOD: rules-good.lua: observation 'validation': probability 0.600 (validation)
// GOOD: rules-good.lua: observation 'error_events': probability 0.600 (predicted errno)
// GOOD: rules-good.lua: ok

// SYNTAX: rules-syntax.lua:5: error: unexpected symbol near 'end'
// SYNTAX-NEXT: 1 error generated.

// RUNTIME: rules-runtime.lua: observation 'clean': probability 0.000
// RUNTIME: rules-runtime.lua:5: error: attempt to index a nil value (field 'no_such_signal') (in analyze, observation 'contention')
// RUNTIME: rules-runtime.lua: observation 'validation': probability 0.000
// RUNTIME: 1 error generated.

// NOANALYZE: rules-noanalyze.lua: error: load: the returned table has no function analyze(m) (analyze is nil)
// NOANALYZE-NEXT: 1 error generated.

// The endless loop meets the wall-clock budget first on a loaded machine.
// BOMB: rules-bomb.lua: error: analyze: {{(instruction budget of [0-9]+|time budget of [0-9]+ ms)}} exceeded (observation 'validation')
// BOMB: rules-bomb.lua: error: analyze: {{time budget|memory cap}} {{.*}} exceeded{{.*}} (observation 'predicted_timeout_ms')
// BOMB: rules-bomb.lua: observation 'pretended': probability 0.000
// BOMB: {{[0-9]+}} errors generated.

// MISSING: does-not-exist.lua: error: cannot read: No such file or directory
// USAGE: usage: ptm-rules check RULES.lua
