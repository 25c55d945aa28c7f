-- run-host-fork-threads.c: every call's rules read the local and the UTC
-- time (glibc's localtime and gmtime take its tzset lock) and never divert.
return {
  analyze = function(m)
    local local_now = os.date("%Y-%m-%d %H:%M:%S")
    local utc = os.date("!*t")
    return (#local_now > 0 and utc.year > 0) and 0 or 0
  end,
}
