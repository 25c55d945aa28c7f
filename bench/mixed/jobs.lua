-- jobs.lua - the rules of bench/mixed/jobs.c: lua-rules/default.lua (the
-- seed's weights, the model, the circuit breaker), plus one term of this
-- workload's own, marked below.
--
local rules = {}

-- Every term below is conditioned on one of these signals: when none fired,
-- analyze() would return 0, and the PAM does not call it (the fast path of
-- a transaction whose mirror saw nothing wrong).
rules.when = { "contention", "validation", "timeout", "deviation" }

function rules.analyze(m)
  local s = m.signals
  local failure_probability = 0.0
  local reasons = {}

  -- Check for resource contention
  if s.contention then
    failure_probability = failure_probability + 0.2
    reasons[#reasons + 1] = "resource contention"
  end

  -- Check for data validation errors
  if s.validation then
    failure_probability = failure_probability + 0.4
    reasons[#reasons + 1] = "validation error"
  end

  -- Check for predicted timeouts
  if s.predicted_timeout_ms > s.acceptable_timeout_ms then
    failure_probability = failure_probability + 0.3
    reasons[#reasons + 1] = "predicted timeout"
  end

  -- Check deviation from expected behavior (learned baseline)
  if s.deviation > m.deviation_threshold then
    failure_probability = failure_probability + 0.1
    reasons[#reasons + 1] = "deviation from baseline"
  end

  -- The workload's own term: the mirror ran the job to its end and it
  -- failed on a resource someone else holds (a flock lock, an answer that
  -- did not come).  This program's alternative only defers the job, which
  -- costs little, so that is worth deferring at once rather than retrying.
  if s.criteria_failed and s.contention then
    failure_probability = failure_probability + 0.3
    reasons[#reasons + 1] = "the mirror's run failed on a held resource"
  end

  local model = m.model
  if model and model.enough then
    reasons[#reasons + 1] = string.format(
      "model: %.3f from %d outcomes (%d failed; seed %.1f)",
      model.probability, model.n, model.failures, failure_probability)
    failure_probability = model.probability
  end
  -- Not over a half-open probe: a receive whose peer timed out lets the
  -- primary find out whether it recovered, and only the primary's success
  -- can close the breaker.
  if model and model.breaker > failure_probability and not s.half_open then
    failure_probability = model.breaker
    reasons[#reasons + 1] = string.format(
      "circuit breaker: %d failures of the primary in a row", model.streak)
  end

  return { probability = failure_probability, reasons = reasons }
end

return rules
