-- Measures whose latest reported action leaves them in force, most reported first.
SELECT id, actor, actor_body, action, measure, elements, targets, announced_on, effective_on,
       expires_on, source_count, last_seen, summary
FROM v_events
WHERE status = 'in_force'
ORDER BY source_count DESC, last_seen DESC, id
