-- run-net-timeout.c: this call may wait 50 ms for its service, and no more.
return {
  analyze = function(m)
    return { probability = 0, reasons = { "the service is slow today" }, timeout_ms = 50 }
  end,
}
