-- rules-check.c: an error at run time, on line 5, only when contention fired.
local rules = {}
function rules.analyze(m)
  if m.signals.contention then
    return m.signals.no_such_signal.value
  end
  return 0
end
return rules
