-- rules-check.c, rules-test.c: a stricter script than default.lua: any
-- predicted errno in the mirror counts, not only validation failures.
local rules = {}
function rules.analyze(m)
  local s = m.signals
  local p, reasons = 0, {}
  if s.validation then p = p + 0.6; reasons[#reasons + 1] = "validation" end
  if s.contention then p = p + 0.3; reasons[#reasons + 1] = "contention" end
  if s.error_events > 0 then p = p + 0.6; reasons[#reasons + 1] = "predicted errno" end
  if s.predicted_timeout_ms > s.acceptable_timeout_ms then p = p + 0.3 end
  return { probability = math.min(p, 1), reasons = reasons }
end
return rules
