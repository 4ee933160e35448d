-- Every event of one actor (-p actor=CN: a code, country, capital or body), latest first.
-- param actor: country = CN
SELECT id, actor_body, action, measure, status, elements, targets, announced_on, effective_on,
       source_count, last_seen, summary
FROM v_events
WHERE actor = :actor
ORDER BY last_seen DESC, id DESC
