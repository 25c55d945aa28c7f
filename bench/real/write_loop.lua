-- bench/real/lua_write.py's workload: N f:write calls (each a transaction
-- in the annotated Lua) to one file.  Usage: lua write_loop.lua FILE N
local f = assert(io.open(assert(arg[1]), "w"))
for i = 1, tonumber(arg[2]) do
  f:write("line ", i, "\n")
end
f:close()
