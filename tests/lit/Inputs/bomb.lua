-- run-rules-bomb.c: calls 1 to 4 each set off a bomb that used to run inside
-- one C call for hours; call 5 diverts.
local calls = 0
local bombs = {
  function() return (("a"):rep(50000)):find(".-.-.-.-b") end,
  function() return table.move({}, 1, 1 << 40, 1, {}) end,
  function() local s = ("\1"):rep(1 << 20) while true do pcall(string.format, "%q", s) end end,
  function() return table.insert(setmetatable({}, {__len = function() return 1 << 40 end}), 1, 0) end,
}
return {
  analyze = function(m)
    calls = calls + 1
    if bombs[calls] then bombs[calls]() end
    return 0.9
  end,
}
