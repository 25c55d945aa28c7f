local rules = {}
function rules.analyze(m)
  return m.signals.validation and 1 or
end
return rules
