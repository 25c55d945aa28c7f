// --dump-annotations prints each transaction's metadata, defaults applied
// and units converted, as JSON.
// RUN: %ptmcc --dump-annotations %s | FileCheck %s

#include <ptm.h>

int later(const char *what, long cents);

PTM_TRANSACTION(
    .transaction_id = "bank.transfer",
    .alternative_paths = { later },
    .resource_requirements = { .memory = 64 MiB, .cpu = 2 },
    .success_criteria = return == 0 && errno != EAGAIN,
    .retry = { .max = 3, .backoff = exponential(5 ms, 200 ms) },
    .timeout = 2 s,
    .mirror_deadline = 150 ms,
    .threshold = 0.5,
    .mirror = fork,
    .mirror_sampling = adaptive,
    .exploration = 0.01,
    .retry_budget = 0.25)
int transfer(const char *what, long cents) { return what[0] + (int)cents; }

PTM_TRANSACTION()
void defaults(void) {}

// CHECK:      "function": "transfer",
// CHECK:      "transaction_id": "bank.transfer",
// CHECK-NEXT: "failure_prediction_enabled": true,
// CHECK-NEXT: "alternative_paths": [
// CHECK-NEXT:   "later"
// CHECK-NEXT: ],
// CHECK-NEXT: "resource_requirements": {
// CHECK-NEXT:   "memory_bytes": 67108864,
// CHECK-NEXT:   "cpu": 2
// CHECK-NEXT: },
// CHECK-NEXT: "success_criteria": {
// CHECK-NEXT:   "source": "return == 0 && errno != EAGAIN",
// CHECK-NEXT:   "c": "{{.*}}frame->ret == 0{{.*}}frame->err != EAGAIN{{.*}}"
// CHECK:      "max": 3,
// CHECK-NEXT: "backoff": {
// CHECK-NEXT:   "kind": "exponential",
// CHECK-NEXT:   "base_us": 5000,
// CHECK-NEXT:   "cap_us": 200000
// CHECK:      "timeout_us": 2000000,
// CHECK-NEXT: "mirror_deadline_us": 150000,
// CHECK-NEXT: "threshold": 0.5,
// CHECK-NEXT: "mirror": "fork",
// CHECK:      "gate": false,
// CHECK-NEXT: "mirror_sampling": "adaptive",
// CHECK-NEXT: "exploration": 0.01,
// CHECK-NEXT: "retry_budget": 0.25,

// CHECK:      "function": "defaults",
// CHECK:      "transaction_id": "defaults",
// CHECK-NEXT: "failure_prediction_enabled": true,
// CHECK-NEXT: "alternative_paths": [],
// CHECK:      "success_criteria": null,
// CHECK:      "max": 0,
// CHECK:      "timeout_us": 0,
// CHECK-NEXT: "mirror_deadline_us": 0,
// CHECK-NEXT: "threshold": 0.40000000000000002,
// CHECK-NEXT: "mirror": "auto",
// CHECK:      "gate": false,
// CHECK-NEXT: "mirror_sampling": "always",
// CHECK-NEXT: "exploration": 0.0,
// CHECK-NEXT: "retry_budget": null,
