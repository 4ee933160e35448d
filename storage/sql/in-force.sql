-- Measures in force on a day (-p day=YYYY-MM-DD, default today), most reported first.
-- param day: date = days_ago(0)
SELECT measure_id, actor, actor_body, measure, elements, targets, starts_on AS in_force_since,
       ends_on AS no_longer_in_force_on, action AS by_action, event_id AS by_event, source_count, summary
FROM v_measure_periods
WHERE state = 'in_force' AND starts_on <= :day AND (ends_on IS NULL OR ends_on > :day)
ORDER BY source_count DESC, starts_on DESC, measure_id
