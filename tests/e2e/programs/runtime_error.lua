local rules = {}
function rules.analyze(m)
  return m.no_such_table.field
end
return rules
