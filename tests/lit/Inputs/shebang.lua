#!/usr/bin/env lua5.4
-- A rules script as an editor may save it: a BOM and a shebang line.
local rules = {}
function rules.analyze(m)
    return 0.9, "always"
end
return rules
