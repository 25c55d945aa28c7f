-- rules-check.c: a syntax error on line 4.
local rules = {}
function rules.analyze(m)
  return m.signals.validation and 1 or
end
return rules
