-- strict.lua - an example rule set: trust nothing the mirror saw go wrong.
--
--   * any predicted I/O error (a shim call whose real counterpart would fail,
--     whatever the errno) or a failed ptm_validate diverts to the first
--     alternative, with probability 1;
--   * a crashed or timed-out mirror does the same;
--   * under contention, retries are lowered to at most one: hammering a
--     locked resource with the metadata's full retry budget makes it worse;
--   * otherwise the seed's weights (the default rules) decide.
--
-- Use it for one transaction with `.rules = "strict.lua"`, or for every
-- transaction of a process with PTM_RULES=lua-rules/strict.lua.

local rules = {}

-- The seed's sum, as in default.lua.
local function seed(m, reasons)
  local s, p = m.signals, 0.0
  if s.contention then p = p + 0.2; reasons[#reasons + 1] = "resource contention" end
  if s.validation then p = p + 0.4; reasons[#reasons + 1] = "validation error" end
  if s.predicted_timeout_ms > s.acceptable_timeout_ms then
    p = p + 0.3; reasons[#reasons + 1] = "predicted timeout"
  end
  if s.deviation > m.deviation_threshold then
    p = p + 0.1; reasons[#reasons + 1] = "deviation from baseline"
  end
  return p
end

-- The first event that predicts a failure, described for the trace.
local function first_failure(m)
  for _, ev in ipairs(m.events) do
    if ev.kind == "validate" then
      return "ptm_validate failed: " .. (ev.target or "?")
    elseif ev.kind == "call" and ev.errno ~= 0 then
      return string.format("%s(%s) would fail with %s", ev.call, ev.target or "",
                           ev.errname or tostring(ev.errno))
    end
  end
  local status = m.mirror and m.mirror.status
  if status == "crashed" then
    return "the mirror crashed (signal " .. m.mirror.signal .. ")"
  elseif status == "timeout" then
    return "the mirror timed out"
  end
  return nil
end

function rules.analyze(m)
  local reasons = {}
  local result = { probability = seed(m, reasons), reasons = reasons }

  local failure = first_failure(m)
  if failure then
    result.probability = 1.0
    table.insert(reasons, 1, failure)
    if #m.alternatives > 0 then
      result.divert = m.alternatives[1]
    end
  end

  if m.signals.contention then
    result.retries = math.min(m.retry_max, 1)
  end
  return result
end

return rules
