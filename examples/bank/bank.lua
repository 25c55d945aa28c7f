-- bank.lua - the rules of examples/bank's transfer().
--
-- The default rules add the seed's weights, so that contention (+0.2) and a
-- predicted timeout (+0.3) together would divert a valid transfer that only
-- has to wait: neither alternative is right for it (the queue is for
-- transfers over the limit, a rejection loses a good payment).  Here:
--
--   * a constraint the mirror saw fail diverts, to the alternative that
--     fits it: the transfers log's CHECK(cents <= limit) to transfer_queued
--     (the money waits for review), anything else (the accounts'
--     CHECK(balance >= 0): an overdraft; a failed ptm_validate; a result
--     that fails success_criteria although every statement succeeded: no
--     such account) to transfer_reject;
--   * a failing result after an error of no class (SQLITE_IOERR, a corrupt
--     read) is the mirror's trouble, not the request's: the primary runs;
--   * contention (a write lock another writer holds, SQLITE_BUSY) never
--     diverts: the primary runs, with up to 10 retries (the metadata's
--     backoff between them) instead of the metadata's 3;
--   * a predicted timeout alone is noted, and does not divert either.

local rules = {}

rules.when = { "contention", "validation", "timeout" }

local function text(ev)
  return ((ev.target or "") .. " " .. (ev.detail or "")):lower()
end

-- The first event that predicts a failure of the primary's own making.
local function first_violation(m)
  for _, ev in ipairs(m.events) do
    if ev.kind == "validate" or (ev.kind == "call" and ev.class == "validation") then
      return ev
    end
  end
  return nil
end

-- The first contention event, for the trace's reasons.
local function first_contention(m)
  for _, ev in ipairs(m.events) do
    if ev.kind == "call" and ev.class == "contention" then
      return ev
    end
  end
  return nil
end

-- The first event with an error of no class (EIO, EPROTO: SQLITE_IOERR, a
-- corrupt read): the mirror's own trouble, which says nothing of the request.
local function first_other_error(m)
  for _, ev in ipairs(m.events) do
    if ev.kind == "call" and ev.errno ~= 0 and ev.class == nil then
      return ev
    end
  end
  return nil
end

function rules.analyze(m)
  local s = m.signals
  local reasons, p = {}, 0.0
  if s.validation then
    local ev = first_violation(m)
    if ev and text(ev):find("insert into transfers", 1, true) then
      return { probability = 0.9, divert = "transfer_queued",
               reasons = { "over the per-transfer limit: " .. (ev.detail or ev.errname or "?") } }
    end
    if ev and ev.kind == "validate" then
      return { probability = 0.9, divert = "transfer_reject",
               reasons = { "ptm_validate: " .. (ev.target or "?") } }
    end
    if ev then
      return { probability = 0.9, divert = "transfer_reject",
               reasons = { string.format("%s would fail: %s", ev.call,
                                         ev.detail or ev.errname or "?") } }
    end
    local other = first_other_error(m)
    if not other then
      -- Every statement succeeded, yet the result fails success_criteria:
      -- an UPDATE that changed no row (no such account).
      return { probability = 0.9, divert = "transfer_reject",
               reasons = { "the mirror's result fails success_criteria" } }
    end
    -- The mirror's failure was its own (an I/O error, a page that changed
    -- under it): no reason to turn a transfer away; the primary decides.
    reasons[1] = string.format("not diverted: the mirror's %s failed with %s", other.call,
                               other.detail or other.errname or "?")
    p = 0.3
  end
  if s.contention then
    local ev = first_contention(m)
    reasons[#reasons + 1] = "contention: " .. (ev and (ev.target or ev.call) or "a lock is held")
    p = 0.2
  end
  if s.predicted_timeout_ms > s.acceptable_timeout_ms then
    reasons[#reasons + 1] = "predicted timeout (not diverted: a valid transfer only waits)"
    p = math.max(p, 0.3)
  end
  local result = { probability = p, reasons = reasons }
  if s.contention then
    result.retries = 10
  end
  return result
end

return rules
