-- driver-deps.c's rules: the script is compiled into the object, so the
-- object depends on it as on a header.
local rules = {}
function rules.analyze(m)
  return 0
end
return rules
