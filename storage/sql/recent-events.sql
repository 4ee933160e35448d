-- Events first reported since a date (default: the last 30 days), newest first.
-- param since: date = days_ago(30)
SELECT id, actor, action, measure, status, elements, targets, announced_on, effective_on,
       expires_on, article_count, source_count, first_seen, summary
FROM v_events
WHERE first_seen >= :since
ORDER BY first_seen DESC, id DESC
