-- run-host-lua.c: diverts every call, and says which Lua runs the rules.
return {
  analyze = function(m)
    return { probability = 0.9, reasons = { "rules run on " .. _VERSION } }
  end,
}
