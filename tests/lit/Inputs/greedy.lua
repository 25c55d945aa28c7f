-- run-rules-clamp.c: asks for far more than the bounds allow.
return {
  analyze = function(m)
    return { probability = 0.1, retries = 2147483647, timeout_ms = 1e15 }
  end,
}
