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
--
-- Then experience: m.model is the calibrated model (runtime/model.c), the
-- failure rate learnt from labelled outcomes of calls whose mirror saw the
-- same signals, with the seed's sum above as its prior.  Once it has
-- m.model.min_outcomes outcomes of this pattern, its probability replaces
-- the seed's sum, and a reason says so.  With no history it is not used:
-- the seed's pseudocode alone decides (a predicted timeout alone is 0.3,
-- under the default threshold of 0.4, so it never diverts by itself until
-- the model learns that it should).  A receive that replays a peer's
-- recorded timeout (runtime/shims/net.c) is more than a predicted
-- duration: the mirror's receive fails as the primary's did, so its result
-- fails too, and contention or validation fires with the timeout.  The
-- circuit breaker (repeated real failures of the primary) raises the
-- probability; it lapses after a quiet period, and a success of the
-- primary closes it.
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
