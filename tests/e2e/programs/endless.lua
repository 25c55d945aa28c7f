local rules = {}
function rules.analyze(m)
  while true do end
end
return rules
