-- Events reported by the most sources in articles published since a date (default: 7 days).
-- param since: date = days_ago(7)
SELECT v.id, v.actor, v.action, v.measure, v.elements, v.targets, recent.sources,
       recent.mentions, v.summary
FROM v_events AS v
JOIN (
    SELECT event_id, count(DISTINCT source) AS sources, count(*) AS mentions
    FROM v_mentions
    -- Through the articles' date index: the window's mentions only, not every mention.
    WHERE article_id IN (SELECT id FROM articles WHERE published_at >= :since)
    GROUP BY event_id
) AS recent ON recent.event_id = v.id
ORDER BY recent.sources DESC, recent.mentions DESC, v.id
