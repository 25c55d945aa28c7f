-- Rules for rules.c: every call is predicted to fail, so it diverts.
local rules = {}

function rules.analyze(m)
  return { probability = 1.0, reasons = { "always_divert.lua says so" } }
end

return rules
