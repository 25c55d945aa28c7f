-- rules-check.c, rules-test.c: a loop without end on a validation failure,
-- a memory bomb on a timeout; both must be stopped by the PAM's budget.
local rules = {}
function rules.analyze(m)
  if m.signals.validation then
    while true do end
  end
  if m.signals.predicted_timeout_ms > m.signals.acceptable_timeout_ms then
    local t = {}
    for i = 1, 1e9 do t[i] = ("x"):rep(4096) .. i end
  end
  return 0
end
return rules
