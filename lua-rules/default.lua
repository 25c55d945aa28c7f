-- default.lua - the Predictive Analysis Module's default rules.
--
-- This is the seed's PAM pseudocode, literally: four signals, each adding a
-- fixed weight to the failure probability.
--
--   function analyze_mirror_execution(mirror_environment_state, transaction_id):
--     failure_probability = 0.0
--     if resource_contention_detected(...):      failure_probability += 0.2
--     if data_validation_error_detected(...):    failure_probability += 0.4
--     if predicted_timeout > acceptable_timeout: failure_probability += 0.3
--     if deviation_score > threshold:            failure_probability += 0.1
--     return failure_probability
--
-- The detectors themselves run in C (runtime/signals.c, runtime/history.c)
-- and arrive here as m.signals; README.md in this directory documents `m`.
-- libptm embeds this file at build time; PTM_RULES=path replaces it.

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

  return { probability = failure_probability, reasons = reasons }
end

return rules
