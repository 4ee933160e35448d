-- Every event on one element (-p element=dysprosium: a name or symbol), latest first.
-- param element: element = dysprosium
SELECT event_id, element, form, actor, action, measure, status, announced_on, effective_on,
       expires_on, source_count, last_seen
FROM v_event_elements
WHERE element = :element
ORDER BY last_seen DESC, event_id DESC
