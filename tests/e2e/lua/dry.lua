-- Under PTM_DRY_RUN=1, writes to files that exist (opened for appending,
-- which changes nothing by itself) and renames them: nothing may change
-- (tests/e2e/test_lua.py).  Usage: lua dry.lua DIR
local dir = assert(arg[1], "usage: dry.lua DIR")
local writes, renames = 0, 0
local f = assert(io.open(dir .. "/keep.txt", "a"))
for i = 1, 50 do
  writes = writes + 1
  f:write("line ", i, " ", i / 3, "\n")
end
f:close()
io.output(assert(io.open(dir .. "/other.txt", "a")))
writes = writes + 1
io.write("more ", string.rep("z", 10000), "\n")
io.close()
io.output(io.stdout)
renames = renames + 2
os.rename(dir .. "/keep.txt", dir .. "/moved.txt")
os.rename(dir .. "/other.txt", dir .. "/keep.txt")
print(string.format("writes=%d renames=%d", writes, renames))
