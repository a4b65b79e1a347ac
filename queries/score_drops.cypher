// name: score_drops
// question: Whose trust score fell most between the last two completed runs?
// param: limit int = 20 (1..1000) -- at most this many subjects
// columns: subject, name, previous, current, drop, previous_run, current_run
MATCH (r:Run {status: 'completed'})
WITH r ORDER BY r.started_at DESC LIMIT 2
WITH collect(r.id) AS runs
WHERE size(runs) = 2
MATCH (now:Score {run: runs[0]})
WHERE now.trust_score < 100
MATCH (before:Score {run: runs[1], subject: now.subject})
WITH runs, now, before, before.trust_score - now.trust_score AS drop
WHERE drop > 0
WITH runs, now, before, drop ORDER BY drop DESC, now.subject LIMIT $limit
MATCH (s:Subject {id: now.subject})
RETURN now.subject AS subject, s.name AS name, before.trust_score AS previous,
       now.trust_score AS current, drop, runs[1] AS previous_run, runs[0] AS current_run
ORDER BY drop DESC, subject
