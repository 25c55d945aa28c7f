-- Writes files through io.write and f:write and renames them, printing
-- what each call returned; run by an annotated Lua and by a plain one, whose
-- outputs and files must be the same byte for byte (tests/e2e/test_lua.py).
-- Usage: lua writes.lua DIR [LOOP]
local dir = assert(arg[1], "usage: writes.lua DIR [LOOP]")
local loop = tonumber(arg[2] or "100")
local writes, renames = 0, 0

local function w(f, ...)
  writes = writes + 1
  local r, msg, code = f:write(...)
  return r == f, msg, code
end

local function iow(...)
  writes = writes + 1
  local r, msg, code = io.write(...)
  return r ~= nil, msg, code
end

local function mv(from, to)
  renames = renames + 1
  return os.rename(dir .. "/" .. from, dir .. "/" .. to)
end

local f = assert(io.open(dir .. "/a.txt", "w"))
print("strings", w(f, "hello, ", "world", "\n"))
print("numbers", w(f, 42, " ", -7, " ", 3.5, " ", 1e300, " ", math.maxinteger, " ", 0.1, "\n"))
print("binary", w(f, "\0\1\2\255", string.rep("x", 5000), "\n"))
print("empty", w(f))
writes = writes + 2
print("chained", f:write("a"):write("b\n") == f)
for i = 1, loop do
  w(f, i, ":", string.rep(string.char(65 + i % 26), i % 40), "\n")
end
-- A Lua error inside g_write (a table is no string): the primary and the
-- mirror both leave by longjmp; pcall catches the primary's.
print("error", pcall(w, f, "before error ", {}))
f:close()

f = assert(io.open(dir .. "/a.txt", "a"))
print("append", w(f, "appended\n"))
f:close()

-- Writing to a file opened for reading fails (EBADF): g_write's failure
-- path, luaL_fileresult's three results.
f = assert(io.open(dir .. "/a.txt", "r"))
print("read-only", w(f, "not written"))
f:close()

print("stdout", iow("to stdout ", 1, " ", 2.25, "\n"))
io.output(dir .. "/b.txt")
print("io.write", iow("via io.write ", 7, "\n"))
print("io.write more", iow(string.rep("yz", 3000), "\n"))
io.close()
io.output(io.stdout)

print("rename", mv("a.txt", "c.txt"))
print("rename missing", mv("missing.txt", "d.txt"))
print("rename over", mv("b.txt", "c.txt"))
print("rename to a directory that does not exist", mv("c.txt", "nodir/e.txt"))
print(string.format("writes=%d renames=%d", writes, renames))
